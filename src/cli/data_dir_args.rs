//! Flags shared by every command that works on a data dir.

use std::path::PathBuf;

use super::output::CliError;
use crate::bundle::ExpiryPolicy;
use crate::ingest::{DataDir, Ingestor};

#[derive(Debug, Clone, clap::Args)]
pub struct DataDirArgs {
    /// The site's data dir.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "./stella-data",
        env = "STELLA_DATA_DIR"
    )]
    pub data_dir: PathBuf,
}

impl DataDirArgs {
    pub fn dir(&self) -> DataDir {
        DataDir::new(&self.data_dir)
    }
}

/// Flags of commands that apply bundles.
#[derive(Debug, Clone, clap::Args)]
pub struct ApplyArgs {
    /// Trust file to verify with, instead of the one in config.json.
    #[arg(long, value_name = "FILE")]
    pub trust: Option<PathBuf>,
    /// Apply bundles whose expiresAt has passed. Logged, and recorded in the change log.
    #[arg(long)]
    pub dangerously_accept_expired: bool,
    #[command(flatten)]
    pub limits: super::limits_args::LimitsArgs,
}

impl ApplyArgs {
    /// The ingestor for `dir` with these flags; failures are the environment's.
    pub fn open_ingestor(&self, dir: &DataDir) -> Result<Ingestor, CliError> {
        let trust = self.trust.as_deref();
        Ingestor::open(dir.clone(), trust, self.limits.limits(), self.expiry())
            .map_err(CliError::usage)
    }

    pub fn expiry(&self) -> ExpiryPolicy {
        match self.dangerously_accept_expired {
            true => ExpiryPolicy::DangerouslyAcceptExpired,
            false => ExpiryPolicy::Enforce,
        }
    }
}
