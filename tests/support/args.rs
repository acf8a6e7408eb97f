//! The `[COUNT] [SEED]` arguments of the long-run examples (soak,
//! adversary, crash).

/// Seconds since the epoch: a fresh seed for each run.
pub fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs())
}

/// Reads `[COUNT] [SEED]` from the command line; `count_name` names the
/// first in error messages (e.g. `SAGAS`).
pub fn count_and_seed(
    count_name: &str,
    default_count: usize,
    default_seed: u64,
) -> Result<(usize, u64), String> {
    count_and_seed_after(0, count_name, default_count, default_seed)
}

/// As [`count_and_seed`], after `flags` leading arguments (a mode flag).
pub fn count_and_seed_after(
    flags: usize,
    count_name: &str,
    default_count: usize,
    default_seed: u64,
) -> Result<(usize, u64), String> {
    let mut args = std::env::args().skip(1 + flags);
    let count = match args.next() {
        Some(a) => a
            .parse()
            .map_err(|_| format!("{count_name} must be a number, got {a:?}"))?,
        None => default_count,
    };
    let seed = match args.next() {
        Some(a) => a
            .parse()
            .map_err(|_| format!("SEED must be a number, got {a:?}"))?,
        None => default_seed,
    };
    Ok((count, seed))
}
