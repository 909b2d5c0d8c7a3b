//! The `stella-scheduler` binary: parse arguments, set up logging, dispatch.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = stella_scheduler::cli::Cli::parse();
    stella_scheduler::telemetry::init_with_format(cli.verbose, cli.log_format);
    stella_scheduler::cli::main(cli)
}
