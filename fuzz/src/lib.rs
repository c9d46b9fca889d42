//! Fuzzing for Apex on stable Rust, natively (no wasm): every client surface's request parsing and
//! every adapter's response parser and stream decoder, under a seeded structure-aware mutator
//! ([`mutate`]), with panics caught per execution and each execution's peak allocation checked
//! ([`alloc`]).
//!
//! - [`targets`]: the targets (functions of one input's bytes) and the properties they check
//! - [`seeds`]: seed corpora (the adapters' fixtures, `fuzz/seeds/<target>/`)
//! - [`runner`]: the loop, crash files, reports
//!
//! `cargo test -p apex-fuzz` runs every target for a bounded number of executions;
//! `cargo run --release -p apex-fuzz -- --execs 1000000` is the long run (see `src/main.rs`).

pub mod alloc;
pub mod mutate;
pub mod rng;
pub mod runner;
pub mod seeds;
pub mod targets;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;
