//! What the library hands out and how it is freed: strings, string lists,
//! byte buffers.

use std::ffi::{c_char, CString};
use std::ptr;

/// An owned list of strings (host addresses). `items` is `NULL` when `len`
/// is 0. A list returned through a `CcStringList **` is freed with
/// [`cc_string_list_free`]; a list inside another struct is freed with it.
#[repr(C)]
#[derive(Debug)]
pub struct CcStringList {
    /// `len` NUL-terminated UTF-8 strings.
    pub items: *mut *mut c_char,
    /// The number of strings.
    pub len: usize,
}

impl CcStringList {
    /// A list owning copies of `items`.
    pub(super) fn new<I: IntoIterator<Item = String>>(items: I) -> CcStringList {
        let raw: Vec<*mut c_char> = items.into_iter().map(|s| c_string(&s)).collect();
        let len = raw.len();
        let items = if len == 0 {
            ptr::null_mut()
        } else {
            Box::into_raw(raw.into_boxed_slice()).cast::<*mut c_char>()
        };
        CcStringList { items, len }
    }

    /// Frees the strings and the array (not `self`'s own memory).
    ///
    /// # Safety
    ///
    /// `self` was made by [`CcStringList::new`], unchanged, freed once.
    pub(super) unsafe fn free_items(&self) {
        if self.items.is_null() {
            return;
        }
        // SAFETY: `items` is a boxed slice of `len` strings from `new`.
        let items = unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(self.items, self.len)) };
        for &s in items.iter() {
            // SAFETY: each item is a string from `c_string`.
            unsafe { cc_string_free(s) };
        }
    }
}

/// A new heap list owning copies of `items`.
pub(super) fn string_list<I: IntoIterator<Item = String>>(items: I) -> *mut CcStringList {
    Box::into_raw(Box::new(CcStringList::new(items)))
}

/// A new C string; interior NUL bytes (possible in a node's answer quoted in
/// a message) are replaced, so this never fails.
pub(super) fn c_string(s: &str) -> *mut c_char {
    let cleaned: Vec<u8> = s.bytes().map(|b| if b == 0 { b'?' } else { b }).collect();
    match CString::new(cleaned) {
        Ok(c) => c.into_raw(),
        // Unreachable: every NUL was replaced above.
        Err(_) => CString::default().into_raw(),
    }
}

/// A byte buffer handed out: `NULL` when empty.
pub(super) fn bytes_into_raw(bytes: Vec<u8>) -> (*mut u8, usize) {
    let len = bytes.len();
    if len == 0 {
        (ptr::null_mut(), 0)
    } else {
        (Box::into_raw(bytes.into_boxed_slice()).cast::<u8>(), len)
    }
}

/// Frees a buffer from [`bytes_into_raw`].
///
/// # Safety
///
/// `(p, len)` came from `bytes_into_raw`, freed once.
pub(super) unsafe fn free_bytes(p: *mut u8, len: usize) {
    if !p.is_null() {
        // SAFETY: a boxed slice of `len` bytes per the caller's contract.
        drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(p, len)) });
    }
}

/// Frees a string from this library. A no-op on `NULL`.
///
/// # Safety
///
/// `s` is `NULL` or a string this library returned, not yet freed.
#[no_mangle]
pub unsafe extern "C" fn cc_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: made by `CString::into_raw` in this module, freed once.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// Frees a string list and every string in it. A no-op on `NULL`.
///
/// # Safety
///
/// `list` is `NULL` or a list this library returned through a
/// `CcStringList **`, not yet freed, with its `items` and `len` unchanged.
#[no_mangle]
pub unsafe extern "C" fn cc_string_list_free(list: *mut CcStringList) {
    if list.is_null() {
        return;
    }
    // SAFETY: made by `string_list` (a `Box`), freed once.
    let list = unsafe { Box::from_raw(list) };
    // SAFETY: its items were made by `CcStringList::new`.
    unsafe { list.free_items() };
}
