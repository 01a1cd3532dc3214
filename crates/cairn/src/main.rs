//! `cairn`: `cairn serve` runs a node; every other subcommand is a client of
//! one, over the HTTP API (`cairn-client`). Exit codes: see `exit.rs`.

mod alloc;
mod bench;
mod cli;
mod commands;
mod exit;
mod folder;
mod render;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc, with redb's cached pages in a slab of their own (`alloc.rs`).
#[global_allocator]
static ALLOCATOR: alloc::NodeAllocator = alloc::NodeAllocator::new();

fn main() -> ExitCode {
    alloc::without_huge_pages();
    alloc::purge_soon();
    exit::finish(commands::run(cli::Cli::parse()))
}
