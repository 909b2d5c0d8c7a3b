//! `offline-kit import`: verify a kit, build the state it carries in a store file of its
//! own, and rename that file over the data dir's store.
//!
//! `load.rs` verifies and loads the kit into the new file; only once verification,
//! every parse and every write succeeded does this file replace the old one. Until then
//! the data dir is not touched (an empty dir gets its folders and loses them again).
//!
//! The check that no other process has the store open happens just before the rename; a
//! process that opens the store in between is not seen, hence the rule: stop `run` first.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::load::build;
use super::metadata::Kit;
use super::ImportError;
use crate::bundle::keys;
use crate::bundle::{Limits, TrustFile};
use crate::ingest::{DataDir, DataDirError, InitOptions, Initialized};
use crate::store::kit::{self, sidecar, Claim};
use crate::store::{DocumentCounts, Store};

/// The choices of one import.
#[derive(Clone, Copy, Debug)]
pub struct ImportOptions<'a> {
    /// The exporting site's public key (`keys/site.pub` there): the only key the kit
    /// is verified with.
    pub exporter_key: &'a Path,
    /// When the data dir is not initialized yet: its site key, instead of a new one.
    pub site_key: Option<&'a Path>,
    pub limits: Limits,
}

/// What an import did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Imported {
    pub data_dir: String,
    pub kit: String,
    pub bundle_id: String,
    /// The exporting site and its key.
    pub site_id: String,
    pub site_key_id: String,
    /// The exporting store's position the kit was read at.
    pub kit_position: u64,
    /// This store's last position after the import.
    pub position: u64,
    pub feeds: Vec<ImportedFeed>,
    pub documents: DocumentCounts,
    /// Set when the import initialized the data dir.
    pub initialized: Option<Initialized>,
    /// Feeds no key of this site's trust file may sign: their next bundle will be refused.
    pub untrusted_feeds: Vec<String>,
}

/// One feed as the import left it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportedFeed {
    pub feed: String,
    pub sequence: u64,
    pub bundle_id: String,
    pub position: u64,
}

/// Replaces `dir`'s state with the kit's, or leaves it as it was.
pub fn import(
    dir: &DataDir,
    kit_file: &Path,
    options: &ImportOptions<'_>,
) -> Result<Imported, ImportError> {
    let exporter = keys::read_public_key(options.exporter_key).map_err(ImportError::ExporterKey)?;
    let bootstrap = needs_init(dir, options.site_key)?;
    let mut scratch = Scratch::prepare(dir)?;
    let built = build(kit_file, &exporter, options.limits, &scratch.db)?;
    if !bootstrap {
        carry_exports(dir, &scratch.db)?;
    }
    kit::seal(&scratch.db)?;
    sync_file(&scratch.db)?;
    let trust = match bootstrap {
        true => built.kit.trust.clone(),
        false => site_trust(dir)?,
    };
    let initialized = match bootstrap {
        true => Some(initialize(dir, &built.kit, options.site_key, &scratch)?),
        false => None,
    };
    swap(dir, &scratch.db)?;
    scratch.keep_dirs = true;
    let untrusted_feeds = untrusted(&trust, &built.feeds);
    Ok(Imported {
        data_dir: dir.root().display().to_string(),
        kit: kit_file.display().to_string(),
        bundle_id: built.bundle_id.to_string(),
        site_id: built.kit.index.site_id.clone(),
        site_key_id: built.kit.index.site_key_id.clone(),
        kit_position: built.kit.index.position,
        position: built.feeds.iter().map(|f| f.position).max().unwrap_or(0),
        feeds: built.feeds,
        documents: built.counts,
        initialized,
        untrusted_feeds,
    })
}

/// Copies the site feed's export chain into the new store: the state is replaced, but
/// this site's next completion bundle still follows its last one. Runs and jobs are not
/// carried: the imported windows are planned afresh.
fn carry_exports(dir: &DataDir, scratch: &Path) -> Result<(), ImportError> {
    let live = dir.database();
    if !live.exists() {
        return Ok(());
    }
    let exports = Store::open(&live)?.exports()?;
    Store::open(scratch)?.restore_exports(&exports)?;
    Ok(())
}

/// Whether the import must initialize `dir`; checks `--site-key` either way.
fn needs_init(dir: &DataDir, site_key: Option<&Path>) -> Result<bool, ImportError> {
    match dir.config() {
        Ok(_) if site_key.is_some() => Err(ImportError::SiteKeyOnInitialized {
            path: dir.root().to_owned(),
        }),
        Ok(_) => Ok(false),
        Err(DataDirError::NotInitialized { .. }) => {
            if let Some(path) = site_key {
                keys::read_signing_key(path).map_err(ImportError::SiteKey)?;
            }
            Ok(true)
        }
        Err(e) => Err(e.into()),
    }
}

// ------------------------------------------------------------------ files

/// The files an import makes before it knows it will succeed. Dropping it removes them,
/// and the folders it had to create unless the import succeeded.
#[derive(Debug)]
struct Scratch {
    db: PathBuf,
    trust: PathBuf,
    made: Vec<PathBuf>,
    keep_dirs: bool,
}

impl Scratch {
    fn prepare(dir: &DataDir) -> Result<Self, ImportError> {
        let live = dir.database();
        let folder = live.parent().unwrap_or(dir.root()).to_owned();
        let mut made = Vec::new();
        for path in [dir.root(), folder.as_path()] {
            if !path.exists() {
                std::fs::create_dir_all(path).map_err(io_err("create", path))?;
                made.push(path.to_owned());
            }
        }
        let pid = std::process::id();
        let scratch = Self {
            db: folder.join(format!(".state.sqlite.import-{pid}")),
            trust: folder.join(format!(".trust.import-{pid}.json")),
            made,
            keep_dirs: false,
        };
        scratch.remove_files();
        Ok(scratch)
    }

    fn remove_files(&self) {
        let db = &self.db;
        let files = [
            db.clone(),
            sidecar(db, "-wal"),
            sidecar(db, "-shm"),
            sidecar(db, "-journal"),
            self.trust.clone(),
        ];
        for file in files {
            // Absent is the usual case; anything else leaves a hidden file behind.
            let _ = std::fs::remove_file(file);
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.remove_files();
        if !self.keep_dirs {
            for folder in self.made.iter().rev() {
                // Only ever removes a folder that is empty again.
                let _ = std::fs::remove_dir(folder);
            }
        }
    }
}

fn sync_file(path: &Path) -> Result<(), ImportError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_err("sync", path))
}

/// Renames the sealed store over the live one, once no other process holds that open.
/// A write-ahead log left beside the live store would be replayed into the new file, so
/// [`kit::claim`] folds it back first and reports the store in use if it stays.
fn swap(dir: &DataDir, sealed: &Path) -> Result<(), ImportError> {
    let live = dir.database();
    if live.exists() && kit::claim(&live)? == Claim::InUse {
        return Err(ImportError::InUse { path: live });
    }
    std::fs::rename(sealed, &live).map_err(io_err("rename the new store to", &live))?;
    crate::fsutil::sync_parent(&live).map_err(io_err("sync the folder of", &live))
}

fn io_err<'p>(action: &'static str, path: &'p Path) -> impl Fn(std::io::Error) -> ImportError + 'p {
    move |source| ImportError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// `init` for a data dir that had none: the kit's trust file, a new or given site key.
fn initialize(
    dir: &DataDir,
    kit: &Kit,
    site_key: Option<&Path>,
    scratch: &Scratch,
) -> Result<Initialized, ImportError> {
    std::fs::write(&scratch.trust, &kit.trust_bytes).map_err(io_err("write", &scratch.trust))?;
    let options = InitOptions {
        site_key,
        import_trust: Some(&scratch.trust),
        ..InitOptions::default()
    };
    Ok(dir.init(&options)?)
}

fn site_trust(dir: &DataDir) -> Result<TrustFile, ImportError> {
    let config = dir.config()?;
    let path = dir.trust_path(&config, None);
    TrustFile::read(&path).map_err(|e| ImportError::DataDir(e.into()))
}

/// The kit's feeds that no unrevoked key of `trust` may sign.
fn untrusted(trust: &TrustFile, feeds: &[ImportedFeed]) -> Vec<String> {
    let allowed = |feed: &str| {
        trust.keys.iter().any(|k| {
            !k.revoked
                && k.feeds
                    .iter()
                    .any(|f| f.as_str() == "*" || f.as_str() == feed)
        })
    };
    feeds
        .iter()
        .filter(|f| !allowed(&f.feed))
        .map(|f| f.feed.clone())
        .collect()
}
