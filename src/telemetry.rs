//! Logging setup. Diagnostics go to stderr; stdout carries only command output.

use tracing_subscriber::EnvFilter;

/// Installs a stderr logger. `STELLA_LOG` (env-filter syntax) overrides the level.
pub fn init(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_env("STELLA_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // A second init (tests calling main twice) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}
