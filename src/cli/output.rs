//! Writing command output and reporting failures with the documented exit codes.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

/// The exit-code policy, in one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    /// The input was refused or is invalid.
    Refused = 1,
    /// Bad usage, or the environment (files, permissions) is at fault.
    Usage = 2,
}

/// A failed command: its exit code and, unless already reported, its error.
#[derive(Debug)]
pub struct CliError {
    exit: Exit,
    error: Option<anyhow::Error>,
}

impl CliError {
    /// Whether the failure was a lost or refused PostgreSQL connection, which a
    /// long-running command waits out instead of exiting (store::is_transient).
    pub fn is_transient(&self) -> bool {
        self.error
            .as_ref()
            .is_some_and(|e| e.chain().any(crate::store::is_transient))
    }

    pub fn refused(error: impl Into<anyhow::Error>) -> Self {
        Self {
            exit: Exit::Refused,
            error: Some(error.into()),
        }
    }

    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self {
            exit: Exit::Usage,
            error: Some(error.into()),
        }
    }

    /// The command already printed what went wrong; only the exit code remains.
    pub fn reported(exit: Exit) -> Self {
        Self { exit, error: None }
    }

    /// Prints the error chain once on stderr and returns the exit code. A reader that
    /// closed our stdout early (`| head`) is not an error worth a message.
    pub fn report(self) -> ExitCode {
        if let Some(error) = &self.error {
            let broken_pipe = error
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe);
            if broken_pipe {
                return ExitCode::from(self.exit as u8);
            }
            let mut stderr = std::io::stderr().lock();
            // Nothing better to do if stderr itself is gone.
            let _ = writeln!(stderr, "error: {error:#}");
        }
        ExitCode::from(self.exit as u8)
    }
}

/// Writes one JSON document and a newline to stdout.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer(&mut stdout, value).map_err(CliError::usage)?;
    writeln!(stdout).map_err(CliError::usage)
}

/// Writes sorted, indented JSON to stdout (small documents meant for people too).
pub fn json_pretty<T: Serialize + ?Sized>(value: &T) -> Result<(), CliError> {
    let bytes = crate::canonical::to_vec_pretty(value).map_err(CliError::usage)?;
    std::io::stdout()
        .lock()
        .write_all(&bytes)
        .map_err(CliError::usage)
}

/// Writes lines of text to stdout.
pub fn text(lines: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{lines}").map_err(CliError::usage)
}
