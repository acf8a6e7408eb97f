//! The C ABI (feature `ffi`): an opaque client handle and the group,
//! request, health and metrics calls, for programs in other languages.
//!
//! The header `examples/ffi/cluster_client.h` is generated from this module
//! by cbindgen (`cbindgen.toml`; `tests/ffi.rs` fails when the committed
//! header differs); `examples/ffi/demo.c` shows every call in use, and
//! `bindings/python` wraps it for Python. Build the library on demand, so
//! that everyday builds do not link it:
//!
//! ```sh
//! cargo rustc --lib --release --features ffi --crate-type cdylib   # or staticlib
//! ```
//!
//! One file per concern: `errors.rs` (codes, [`CcError`], the guard),
//! `cancel.rs` (cancel tokens, [`cc_client_with_cancel`] and
//! [`cc_client_with_options`]),
//! `memory.rs` (strings, lists and their free functions), `client.rs` (the
//! handle, its constructors, shutdown, version, [`cc_request`]), `groups.rs`
//! (group operations), `management.rs` (nodes, health, metrics),
//! `members.rs` (adding, removing and replacing nodes at run time).
//!
//! Conventions every function follows:
//!
//! - Every function that can fail returns an error code ([`CC_OK`] and the
//!   other `CC_*` constants) or, for the `cc_client_new*` constructors,
//!   `NULL`; when its `err` argument is not `NULL`, `*err` is set to a new
//!   [`CcError`] on failure (free it with [`cc_error_free`]) and to `NULL`
//!   on success. `err` itself may be `NULL` when the caller only wants the
//!   code. A group failure's [`CcError`] names the failed, rollback-failed
//!   and possibly orphaned nodes in three lists.
//! - Every other pointer argument is required: `NULL` is
//!   [`CC_NULL_POINTER`]. Strings are NUL-terminated UTF-8; anything else is
//!   [`CC_INVALID_UTF8`]. An out pointer of a failed call is set to `NULL`.
//! - Every allocation handed out has its free function ([`cc_client_free`],
//!   [`cc_cancel_free`],
//!   [`cc_error_free`], [`cc_string_free`], [`cc_string_list_free`],
//!   [`cc_response_free`], [`cc_presence_list_free`]); each is a no-op on
//!   `NULL`.
//! - No panic crosses the boundary: each entry point runs under
//!   [`std::panic::catch_unwind`] and reports a panic as [`CC_PANIC`].
//! - A [`CcClient`] may be used from several threads at once (the Rust
//!   client is `Send + Sync`); [`cc_client_shutdown`] may be called while
//!   other threads are in calls (they return [`CC_SHUT_DOWN`] promptly), but
//!   [`cc_client_free`] only once no other call is in flight.
//! - Per-call cancellation: a handle from [`cc_client_with_cancel`] shares
//!   its client and observes a [`CcCancel`] token; [`cc_cancel`] (from any
//!   thread) makes its calls return [`CC_CANCELLED`] promptly. A create
//!   stopped by a shutdown or a cancel rolls back what it made first (within
//!   5 s) and returns [`CC_SHUT_DOWN`] or [`CC_CANCELLED`] with its host
//!   lists.
//! - Per-handle call settings: a handle from [`cc_client_with_options`]
//!   shares its client and uses its own timeouts, attempts and hedging.
//! - [`CC_ABI_VERSION`] names this ABI; [`cc_abi_version`] tells which one
//!   the loaded library implements.

mod cancel;
mod client;
mod errors;
mod groups;
mod management;
mod members;
mod memory;

pub use cancel::{
    cc_cancel, cc_cancel_free, cc_cancel_new, cc_client_with_cancel, cc_client_with_options,
    CcCancel,
};
pub use client::{
    cc_abi_version, cc_client_free, cc_client_new, cc_client_new_from_config,
    cc_client_new_from_toml, cc_client_shutdown, cc_request, cc_response_free, cc_version,
    CcClient, CcResponse, CC_ABI_VERSION,
};
pub use errors::{
    cc_error_free, CcError, CC_CANCELLED, CC_INVALID_INPUT, CC_INVALID_UTF8, CC_NULL_POINTER,
    CC_OK, CC_OPERATION_FAILED, CC_OTHER, CC_PANIC, CC_SHUT_DOWN,
};
pub use groups::{
    cc_create_group, cc_delete_group, cc_presence_list_free, cc_verify_group,
    cc_verify_group_everywhere, CcPresence, CcPresenceList, CC_MISSING, CC_PRESENT, CC_UNKNOWN,
};
pub use management::{
    cc_healthy_nodes, cc_metrics_json, cc_nodes, cc_prometheus, cc_unhealthy_nodes,
};
pub use members::{cc_client_add_node, cc_client_remove_node, cc_client_set_nodes};
pub use memory::{cc_string_free, cc_string_list_free, CcStringList};

#[cfg(test)]
mod tests;
