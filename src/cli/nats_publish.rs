//! `nats publish`: sends bundle files to `<prefix>.<feed>` on a NATS server, through
//! the object bucket when a file is larger than the server's max payload. For
//! operators and tests; one JSON line per file on stdout.
//!
//! The feed comes from `--feed` or from the bundle's own manifest, read without
//! checking signatures: it only picks the subject, and the consuming site verifies
//! every bundle before it applies anything.

use std::path::PathBuf;

use anyhow::Context as _;

use super::limits_args::LimitsArgs;
use super::nats_args::NatsArgs;
use super::output::{self, CliError};
use crate::bundle::inspect;
use crate::bundle::manifest::check_feed_name;
use crate::transport::Producer;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    nats: NatsArgs,
    /// Publish every file to this feed's subject instead of the one its manifest names.
    #[arg(long, value_name = "FEED")]
    feed: Option<String>,
    #[command(flatten)]
    limits: LimitsArgs,
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let url = args
        .nats
        .nats_url
        .clone()
        .context("--nats-url (or STELLA_NATS_URL) is required")
        .map_err(CliError::usage)?;
    if let Some(feed) = &args.feed {
        check_feed_name(feed).map_err(CliError::usage)?;
    }
    let producer = Producer::connect(args.nats.config(url)).map_err(CliError::usage)?;
    for file in &args.files {
        let feed = match &args.feed {
            Some(feed) => feed.clone(),
            None => {
                inspect(file, &args.limits.limits())
                    .with_context(|| {
                        format!(
                            "{}: cannot read the feed from its manifest (give --feed)",
                            file.display()
                        )
                    })
                    .map_err(CliError::refused)?
                    .manifest
                    .feed
            }
        };
        let published = producer.publish(file, &feed).map_err(CliError::usage)?;
        output::json(&published)?;
    }
    Ok(())
}
