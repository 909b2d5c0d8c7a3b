//! Flags shared by every command that works on a data dir.

use std::path::PathBuf;

use anyhow::Context as _;
use ed25519_dalek::SigningKey;

use super::output::CliError;
use crate::bundle::ExpiryPolicy;
use crate::findings::VexPolicy;
use crate::ingest::{Config, DataDir, Ingestor};
use crate::jobs::{Policies, RetryPolicy, SlaPolicy, Tenants};

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
    /// Keep the state in this PostgreSQL database (`postgres://user@host:port/db`)
    /// instead of the data dir's SQLite file; keys, trust, inbox and outbox stay in DIR.
    #[arg(long, value_name = "URL", env = "STELLA_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DataDirArgs {
    pub fn dir(&self) -> DataDir {
        DataDir::new(&self.data_dir).with_database_url(self.database_url.clone())
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

/// What the scheduler needs of a site: its config, policies and signing key.
#[derive(Debug)]
pub struct Site {
    pub config: Config,
    pub policies: Policies,
    pub vex: VexPolicy,
    pub key: SigningKey,
}

impl Site {
    pub fn open(dir: &DataDir) -> Result<Self, CliError> {
        let config = dir.config().map_err(CliError::usage)?;
        let sla = SlaPolicy::from_config(&config.sla_seconds).map_err(CliError::usage)?;
        let key_path = dir.site_key();
        let key = crate::bundle::keys::read_signing_key(&key_path)
            .with_context(|| format!("cannot read the site key {}", key_path.display()))
            .map_err(CliError::usage)?;
        Ok(Self {
            vex: vex_policy(&config),
            policies: Policies {
                sla,
                retry: RetryPolicy::default(),
                tenants: Tenants::new(config.tenants.clone()),
            },
            config,
            key,
        })
    }
}

impl Site {
    /// The scheduler of `dir`, signing as this site.
    pub fn scheduler(
        self,
        dir: &DataDir,
        auto_export: bool,
    ) -> Result<crate::service::Scheduler, CliError> {
        crate::service::Scheduler::open(
            dir.clone(),
            self.config.site_id,
            self.key,
            self.policies,
            self.vex,
            auto_export,
        )
        .map_err(CliError::usage)
    }
}

/// config.json `vexIssuers` as the findings room reads it.
pub fn vex_policy(config: &Config) -> VexPolicy {
    let per_feed = config.vex_issuers.iter();
    VexPolicy {
        per_feed: per_feed
            .map(|(feed, issuers)| (feed.clone(), issuers.iter().cloned().collect()))
            .collect(),
    }
}
