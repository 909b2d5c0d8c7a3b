//! Logging setup and the process's metrics. Diagnostics go to stderr; stdout carries
//! only command output.

pub mod metrics;

use tracing_subscriber::EnvFilter;

/// How log lines are written on stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per event, with the fields of its spans (`bundle_id`, `feed`,
    /// `run_id`, `job_id`), for log collectors.
    Json,
}

/// Installs a stderr logger in text format. `STELLA_LOG` (env-filter syntax) overrides
/// the level.
pub fn init(verbose: u8) {
    init_with_format(verbose, LogFormat::Text);
}

/// Installs a stderr logger in `format`. `STELLA_LOG` (env-filter syntax) overrides the
/// level.
pub fn init_with_format(verbose: u8, format: LogFormat) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_env("STELLA_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    // A second init (tests calling main twice) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
}
