//! `cairn`: `cairn serve` runs a node; every other subcommand is a client of
//! one, over the HTTP API (`cairn-client`). Exit codes: see `exit.rs`.

mod bench;
mod cli;
mod commands;
mod exit;
mod folder;
mod render;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's malloc. A node allocates per request, per
/// proposal and per redb page copy from many threads; under CAS load from
/// 64 clients glibc's allocator (`_int_malloc`, `_int_free`,
/// `unlink_chunk`, `malloc_consolidate`) took ~15% of the nodes' CPU, and
/// its per-thread arenas grow resident memory. Only the binary sets it:
/// the libraries and the simulation keep the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    exit::finish(commands::run(cli::Cli::parse()))
}
