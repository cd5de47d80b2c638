//! The `pyward` binary: parses the command line and hands off to the library.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

/// Lets a worker report running out of memory instead of aborting (see `WorkerAllocator`).
#[global_allocator]
static ALLOCATOR: pyward_worker::sys::WorkerAllocator = pyward_worker::sys::WorkerAllocator;

fn main() -> ExitCode {
    let cli = pyward::cli::Cli::parse();
    pyward::commands::run(cli)
}
