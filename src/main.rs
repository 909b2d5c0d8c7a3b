//! The `stella-scheduler` binary: parse arguments, set up logging, dispatch.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = stella_scheduler::cli::Cli::parse();
    stella_scheduler::telemetry::init(cli.verbose);
    stella_scheduler::cli::main(cli)
}
