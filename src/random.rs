//! Random numbers for jitter, random node choice, request and saga ids
//! (not for secrets): the thread-local generator of `rand`, already in the
//! tree through `retry`.

/// A random `u64`.
pub(crate) fn random_u64() -> u64 {
    rand::random()
}
