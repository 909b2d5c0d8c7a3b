//! `offline-kit import`: verify a kit with the exporting site's key and replace this
//! data dir's state with it, initializing the dir first if needed (docs/offline-kit.md).

use std::path::PathBuf;

use super::data_dir_args::DataDirArgs;
use super::limits_args::LimitsArgs;
use super::output::{self, CliError};
use super::progress::Working;
use crate::offline_kit::{self, ImportError, ImportOptions, Imported};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    /// The exporting site's public key (its keys/site.pub); the kit must be signed by it.
    #[arg(long = "key", value_name = "EXPORTER.pub")]
    key: PathBuf,
    /// When DIR is not initialized yet: use this PKCS#8 PEM key as the site key instead
    /// of generating one.
    #[arg(long, value_name = "NAME.key")]
    site_key: Option<PathBuf>,
    #[command(flatten)]
    limits: LimitsArgs,
    #[arg(long)]
    json: bool,
    /// The kit written by `offline-kit export`.
    #[arg(value_name = "KIT.tar.zst")]
    kit: PathBuf,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let options = ImportOptions {
        exporter_key: &args.key,
        site_key: args.site_key.as_deref(),
        limits: args.limits.limits(),
    };
    let dir = args.data_dir.dir();
    if dir.database_url().is_some() || dir.config().is_ok_and(|c| c.in_postgresql()) {
        // The import builds the new state in a scratch SQLite file and renames it into
        // place; PostgreSQL would need a transactional replace of the schema instead.
        return Err(CliError::usage(anyhow::anyhow!(
            "offline-kit import into PostgreSQL is not supported yet; import into a data dir \
             that keeps its state in SQLite, without --database-url (docs/postgres.md)"
        )));
    }
    let what = format!(
        "verifying and loading {} ({})",
        args.kit.display(),
        Working::size_of(&args.kit)
    );
    let working = Working::start("offline-kit import", what);
    let imported = offline_kit::import(&dir, &args.kit, &options);
    drop(working);
    let imported = imported.map_err(classify)?;
    for feed in &imported.untrusted_feeds {
        tracing::warn!(
            feed = %feed,
            "no key of this site's trust file may sign this feed; its next bundle will be refused"
        );
    }
    if args.json {
        return output::json_pretty(&imported);
    }
    output::text(&render(&imported))
}

fn classify(e: ImportError) -> CliError {
    match e.is_refusal() {
        true => CliError::refused(e),
        false => CliError::usage(e),
    }
}

fn render(i: &Imported) -> String {
    let mut lines = Vec::new();
    if let Some(made) = &i.initialized {
        lines.push(format!(
            "initialized {} (site id {}, keyid {})",
            made.data_dir, made.site_id, made.keyid
        ));
    }
    lines.push(format!(
        "imported kit {} of site {} (its position {}): position {}",
        i.bundle_id, i.site_id, i.kit_position, i.position
    ));
    for f in &i.feeds {
        lines.push(format!(
            "feed        {} at #{} (position {})",
            f.feed, f.sequence, f.position
        ));
    }
    let d = &i.documents;
    lines.push(format!(
        "documents   {} advisories, {} vex, {} sboms",
        d.advisory, d.vex, d.sbom
    ));
    lines.join("\n")
}
