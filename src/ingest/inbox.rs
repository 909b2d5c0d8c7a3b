//! The drop folder's rules: which files are taken, when, and in what order.
//!
//! Producers write `.NAME.partial` and rename it to `NAME.tar.zst` when done; names
//! starting with `.` are never taken. Because some producers copy in place anyway, a file
//! is also only taken once its size and mtime have stayed the same across a settle
//! interval.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::IngestError;
use crate::bundle::{inspect, Limits};

/// `*.tar.zst` regular files not starting with `.`, sorted by name.
pub fn bundles_in(folder: &Path) -> Result<Vec<PathBuf>, IngestError> {
    let list_err = |source| IngestError::List {
        path: folder.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder).map_err(list_err)? {
        let entry = entry.map_err(list_err)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().map_err(list_err)?.is_file();
        if is_file && !name.starts_with('.') && name.ends_with(".tar.zst") {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Orders files so each feed's chain can apply in one pass: by feed, then snapshots
/// before deltas of the same sequence, then sequence. Files whose manifest cannot be
/// read come first; they will be quarantined with the reason. A single file needs no
/// order, and its manifest is not read here (for a large snapshot that read costs as
/// much as verifying the manifest itself).
pub fn chain_order(files: Vec<PathBuf>, limits: &Limits) -> Vec<PathBuf> {
    if files.len() < 2 {
        return files;
    }
    let mut keyed: Vec<(Option<(String, u64)>, PathBuf)> = files
        .into_iter()
        .map(|f| {
            let key = inspect(&f, limits)
                .ok()
                .map(|i| (i.manifest.feed, i.manifest.sequence));
            (key, f)
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, f)| f).collect()
}

/// Copies `from` into `inbox` under its own name, invisible until complete.
pub fn copy_in(from: &Path, inbox: &Path) -> io::Result<PathBuf> {
    let name = from
        .file_name()
        .ok_or_else(|| io::Error::other(format!("{} has no file name", from.display())))?;
    let target = inbox.join(name);
    crate::fsutil::write_atomic_with(&target, |out| {
        let mut input = std::fs::File::open(from)?;
        io::copy(&mut input, out).map(|_| ())
    })?;
    Ok(target)
}

/// Tracks files between scans so that only settled ones are taken.
#[derive(Debug)]
pub struct Settler {
    settle: Duration,
    seen: HashMap<PathBuf, (u64, Option<SystemTime>, std::time::Instant)>,
}

impl Settler {
    pub fn new(settle: Duration) -> Self {
        Self {
            settle,
            seen: HashMap::new(),
        }
    }

    /// The files of `candidates` whose size and mtime held still for the settle time.
    pub fn ready(&mut self, candidates: Vec<PathBuf>) -> Vec<PathBuf> {
        let now = std::time::Instant::now();
        let mut ready = Vec::new();
        let mut next = HashMap::new();
        for file in candidates {
            let Ok(meta) = std::fs::metadata(&file) else {
                continue;
            };
            let stamp = (meta.len(), meta.modified().ok());
            let since = match self.seen.get(&file) {
                Some((len, mtime, since)) if (*len, *mtime) == stamp => *since,
                _ => now,
            };
            if now.duration_since(since) >= self.settle {
                ready.push(file);
            } else {
                next.insert(file, (stamp.0, stamp.1, since));
            }
        }
        self.seen = next;
        ready
    }

    /// How long until a file seen now could be ready.
    pub fn settle(&self) -> Duration {
        self.settle
    }
}
