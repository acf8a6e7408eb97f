//! Tail latency, one run: `cargo run --release --example tail [-- --quick]`.
//! Prints the tail-latency table (also part of `--example bench`): see
//! `examples/support/tail_table.rs`. Exits 1 when a target is missed.

#[path = "support/tail_table.rs"]
mod tail_table;

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    if !tail_table::print_table(quick) {
        std::process::exit(1);
    }
}
