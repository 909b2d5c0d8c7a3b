//! The `stella-scheduler` binary: parse arguments, set up logging, dispatch.

use std::process::ExitCode;

use clap::Parser as _;

/// Ingest parses hundreds of thousands of small JSON documents on two threads; glibc's
/// allocator spent a fifth of that time in malloc and free.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = stella_scheduler::cli::Cli::parse();
    stella_scheduler::telemetry::init(cli.verbose);
    stella_scheduler::cli::main(cli)
}
