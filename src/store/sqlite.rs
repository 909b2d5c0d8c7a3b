//! The SQLite backend: WAL, one writer, FULL synchronous commits. The connection that
//! applies bundles leaves copying the log into the database file to idle time
//! ([`Store::defer_checkpoints`]).

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension as _, Transaction};
use sha2::{Digest as _, Sha256};

use super::{migrate, ChangeEntry, DocumentCounts, FeedHead, StoreError};
use crate::model::{DocumentFormat, DocumentKind};

const BUSY_TIMEOUT_MS: u32 = 10_000;
const PAGE_SIZE: i64 = 16 * 1024;
/// Negative: KiB rather than pages. Large applies stay in memory instead of spilling.
const CACHE_KIB: i64 = -64 * 1024;
/// Once the write-ahead log has been copied into the database and writing starts over at
/// its beginning, the file is cut back to this size rather than keeping the size one
/// large bundle gave it.
const WAL_KEEP_BYTES: i64 = 64 * 1024 * 1024;

/// The state store of one data dir.
#[derive(Debug)]
pub struct SqliteStore {
    pub(super) conn: Connection,
}

/// The change-log fields of a bundle about to be applied.
#[derive(Clone, Debug)]
pub struct ApplyHeader {
    pub feed: String,
    pub sequence: u64,
    pub bundle_id: String,
    pub snapshot: bool,
    pub created_at: String,
    pub applied_at: String,
    pub source_file: String,
    pub expired_accepted: bool,
}

/// One document version to record.
#[derive(Clone, Copy, Debug)]
pub struct NewVersion<'b> {
    pub kind: DocumentKind,
    pub doc_id: &'b str,
    pub format: DocumentFormat,
    pub path: &'b str,
    pub sha256: &'b str,
    pub subject_name: Option<&'b str>,
    pub bytes: &'b [u8],
}

/// A document version as read back from the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDocument {
    pub feed: String,
    pub doc_id: String,
    /// As written in the manifest: `osv`, `openvex`, ...
    pub format: String,
    pub path: String,
    pub subject_name: Option<String>,
    pub bytes: Vec<u8>,
}

/// One row of the impact index: a component of an SBOM, under one package key it is
/// looked up by, with the version and release that lookup compares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComponentRow {
    /// `PackageKey::text()`.
    pub package: String,
    pub version: Option<String>,
    pub release: Option<String>,
    pub purl: String,
}

/// A `StoredDocument` from the first six columns of a row:
/// `feed, doc_id, format, path, subject_name, bytes`.
pub(super) fn read_document(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredDocument> {
    Ok(StoredDocument {
        feed: r.get(0)?,
        doc_id: r.get(1)?,
        format: r.get(2)?,
        path: r.get(3)?,
        subject_name: r.get(4)?,
        bytes: r.get(5)?,
    })
}

/// What a checkpoint found in the write-ahead log and copied into the database file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub frames: u64,
    pub copied: u64,
}

/// Writes a large apply's write-ahead log back to disk while the apply is still
/// writing it, so that the commit's own sync finds little left to write.
///
/// Syncing frames of a transaction that has not committed changes nothing that a reader
/// or a recovery sees: both stop at the last commit frame. The log is only opened for
/// reading and synced; SQLite takes no locks on that file, so closing it releases none.
#[derive(Debug)]
pub struct WalWriteback {
    path: PathBuf,
    file: Option<File>,
}

impl WalWriteback {
    /// Syncs what has been written to the log so far.
    pub fn sync(&mut self) -> std::io::Result<()> {
        let file = match &mut self.file {
            Some(file) => file,
            empty => empty.insert(File::open(&self.path)?),
        };
        file.sync_data()
    }
}

/// What `put` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    New,
    Changed,
    Unchanged,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        // Only takes effect on a new, empty database; documents are a few KB each.
        conn.pragma_update(None, "page_size", PAGE_SIZE)
            .map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "cache_size", CACHE_KIB)
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.pragma_update(None, "journal_size_limit", WAL_KEEP_BYTES)
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS.into()))
            .map_err(open_err)?;
        // Plans must not depend on bound values: otherwise SQLite re-prepares a cached
        // statement whenever a parameter of an indexed constraint is bound again, which
        // cost more than the impact index's scans themselves.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )
        .map_err(open_err)?;
        migrate::apply(&mut conn)?;
        Ok(Self { conn })
    }

    /// Reads the database through a memory map of up to `bytes` instead of copying
    /// pages: for connections that read much (impact, workers). Ingest keeps the default,
    /// so that mapped pages do not count against its memory budget.
    pub fn map_for_reading(&self, bytes: i64) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "mmap_size", bytes)?;
        Ok(())
    }

    /// For the connection that applies bundles: neither its commits nor its closing
    /// copy the write-ahead log into the database file. A commit is durable once it is
    /// in the log (synchronous=FULL syncs it); the copy, which for a large snapshot
    /// costs as much as writing the log did, is left to [`Store::checkpoint`] when the
    /// caller is idle, or to the next connection that closes last.
    pub fn defer_checkpoints(&self) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        self.conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )?;
        Ok(())
    }

    /// Copies the committed contents of the write-ahead log into the database file, as
    /// far as the snapshots other connections are reading allow, without waiting for
    /// any of them (SQLite's PASSIVE mode).
    pub fn checkpoint(&self) -> Result<Checkpoint, StoreError> {
        let (frames, copied): (i64, i64) =
            self.conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                    Ok((r.get(1)?, r.get(2)?))
                })?;
        // -1 for both when the database is not in WAL mode.
        Ok(Checkpoint {
            frames: frames.max(0) as u64,
            copied: copied.max(0) as u64,
        })
    }

    /// The size of the write-ahead log file: an upper bound of what a checkpoint would
    /// copy (after a checkpoint the file keeps its size until writing starts over).
    /// 0 when there is none.
    pub fn wal_bytes(&self) -> u64 {
        self.wal_writeback()
            .and_then(|w| std::fs::metadata(&w.path).ok())
            .map_or(0, |m| m.len())
    }

    /// What syncs this store's write-ahead log ahead of a large commit; `None` for a
    /// database without a file.
    pub fn wal_writeback(&self) -> Option<WalWriteback> {
        let db = self.conn.path().filter(|p| !p.is_empty())?;
        Some(WalWriteback {
            path: super::kit::sidecar(Path::new(db), "-wal"),
            file: None,
        })
    }

    /// The last change-log position, 0 before anything was applied.
    pub fn position(&self) -> Result<u64, StoreError> {
        let p: Option<i64> =
            self.conn
                .query_row("SELECT MAX(position) FROM changelog", [], |r| r.get(0))?;
        Ok(p.unwrap_or(0) as u64)
    }

    pub fn feed_head(&self, feed: &str) -> Result<Option<FeedHead>, StoreError> {
        let sql = format!("{HEAD_SELECT} WHERE f.feed = ?1");
        Ok(self.conn.query_row(&sql, [feed], read_head).optional()?)
    }

    pub fn feeds(&self) -> Result<Vec<FeedHead>, StoreError> {
        let sql = format!("{HEAD_SELECT} ORDER BY f.feed");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], read_head)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The change-log entry of an applied bundle, if it was applied.
    pub fn applied(&self, bundle_id: &str) -> Result<Option<ChangeEntry>, StoreError> {
        let sql = format!("{ENTRY_SELECT} WHERE bundle_id = ?1");
        Ok(self
            .conn
            .query_row(&sql, [bundle_id], read_entry)
            .optional()?)
    }

    pub fn changelog(&self) -> Result<Vec<ChangeEntry>, StoreError> {
        let sql = format!("{ENTRY_SELECT} ORDER BY position");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], read_entry)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Documents holding now, by kind.
    pub fn document_counts(&self) -> Result<DocumentCounts, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind, COUNT(*) FROM documents WHERE valid_to IS NULL GROUP BY kind")?;
        let mut counts = DocumentCounts::default();
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (kind, n) = row?;
            match kind.as_str() {
                "advisory" => counts.advisory = n as u64,
                "vex" => counts.vex = n as u64,
                _ => counts.sbom = n as u64,
            }
        }
        Ok(counts)
    }

    /// Every document of `kind` that held at `position`, in (feed, id) order, with its
    /// raw bytes: exactly what a window pinned to `position` saw.
    pub fn documents_as_of(
        &self,
        kind: DocumentKind,
        position: u64,
    ) -> Result<Vec<StoredDocument>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.feed, d.doc_id, d.format, d.path, d.subject_name, d.bytes
             FROM documents d
             WHERE d.kind = ?1 AND d.valid_from <= ?2
               AND (d.valid_to IS NULL OR d.valid_to > ?2)
             ORDER BY d.feed, d.doc_id",
        )?;
        let rows = stmt.query_map(params![kind.as_str(), position as i64], read_document)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// SHA-256 over the change log and every document version, in a fixed order and
    /// without wall-clock fields: equal digests mean equal versioned state.
    pub fn state_digest(&self) -> Result<String, StoreError> {
        let mut hasher = Sha256::new();
        let mut stmt = self.conn.prepare(
            "SELECT position, feed, sequence, bundle_id, mode, advisories, vex, sboms, withdrawn
             FROM changelog ORDER BY position",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let line = (0..9)
                .map(|i| r.get_ref(i).map(value_text))
                .collect::<Result<Vec<_>, _>>()?;
            hasher.update(format!("c|{}\n", line.join("|")));
        }
        let mut stmt = self.conn.prepare(
            "SELECT feed, kind, doc_id, format, path, sha256, subject_name, valid_from, valid_to
             FROM documents ORDER BY feed, kind, doc_id, valid_from",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let line = (0..9)
                .map(|i| r.get_ref(i).map(value_text))
                .collect::<Result<Vec<_>, _>>()?;
            hasher.update(format!("d|{}\n", line.join("|")));
        }
        Ok(hex::encode(hasher.finalize()))
    }

    /// Starts applying one bundle; nothing is visible until [`ApplyTx::commit`].
    pub fn begin_apply(&mut self, header: ApplyHeader) -> Result<SqliteApplyTx<'_>, StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO changelog (feed, sequence, bundle_id, mode, created_at, applied_at,
                 source_file, advisories, vex, sboms, withdrawn, expired_accepted)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, 0, 0, ?8)",
            params![
                header.feed,
                header.sequence as i64,
                header.bundle_id,
                if header.snapshot { "snapshot" } else { "delta" },
                header.created_at,
                header.applied_at,
                header.source_file,
                header.expired_accepted,
            ],
        )?;
        let position = tx.last_insert_rowid();
        let feed_empty = tx
            .query_row(
                "SELECT 1 FROM documents WHERE feed = ?1 LIMIT 1",
                [&header.feed],
                |_| Ok(()),
            )
            .optional()?
            .is_none();
        Ok(SqliteApplyTx {
            tx,
            feed_empty,
            header,
            position,
            seen: HashMap::new(),
            counts: [0; 3],
            closed: 0,
        })
    }
}

const HEAD_SELECT: &str = "SELECT f.feed, f.sequence, f.bundle_id, f.position, c.applied_at
     FROM feeds f JOIN changelog c ON c.position = f.position";

pub(super) const ENTRY_SELECT: &str =
    "SELECT position, feed, sequence, bundle_id, mode, advisories, vex,
     sboms, withdrawn, expired_accepted FROM changelog";

fn read_head(r: &rusqlite::Row<'_>) -> rusqlite::Result<FeedHead> {
    Ok(FeedHead {
        feed: r.get(0)?,
        sequence: r.get::<_, i64>(1)? as u64,
        bundle_id: r.get(2)?,
        position: r.get::<_, i64>(3)? as u64,
        applied_at: r.get(4)?,
    })
}

pub(super) fn read_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<ChangeEntry> {
    Ok(ChangeEntry {
        position: r.get::<_, i64>(0)? as u64,
        feed: r.get(1)?,
        sequence: r.get::<_, i64>(2)? as u64,
        bundle_id: r.get(3)?,
        mode: r.get(4)?,
        advisories: r.get::<_, i64>(5)? as u64,
        vex: r.get::<_, i64>(6)? as u64,
        sboms: r.get::<_, i64>(7)? as u64,
        withdrawn: r.get::<_, i64>(8)? as u64,
        expired_accepted: r.get(9)?,
    })
}

fn value_text(v: rusqlite::types::ValueRef<'_>) -> String {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => "-".to_owned(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
    }
}

/// One bundle being applied: all of it commits, or none of it.
#[derive(Debug)]
pub struct SqliteApplyTx<'c> {
    tx: Transaction<'c>,
    /// The feed held no document before this bundle: nothing to compare or close.
    feed_empty: bool,
    header: ApplyHeader,
    position: i64,
    /// (kind, id) → member path, for duplicates within the bundle and snapshot closing.
    seen: HashMap<(DocumentKind, String), String>,
    counts: [u64; 3],
    closed: u64,
}

impl SqliteApplyTx<'_> {
    pub fn position(&self) -> u64 {
        self.position as u64
    }

    /// Records a document version unless the current one has the same bytes.
    pub fn put(&mut self, v: NewVersion<'_>) -> Result<PutOutcome, StoreError> {
        self.note_seen(&v)?;
        self.counts[kind_slot(v.kind)?] += 1;
        let kind = v.kind.as_str();
        let current: Option<String> = match self.feed_empty {
            true => None,
            false => self.current_sha(kind, v.doc_id)?,
        };
        let outcome = match current {
            Some(sha) if sha == v.sha256 => return Ok(PutOutcome::Unchanged),
            Some(_) => {
                self.close(kind, v.doc_id)?;
                PutOutcome::Changed
            }
            None => PutOutcome::New,
        };
        self.tx
            .prepare_cached(
                "INSERT INTO documents (feed, kind, doc_id, format, path, sha256,
                     subject_name, valid_from, valid_to, bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9)",
            )?
            .execute(params![
                self.header.feed,
                kind,
                v.doc_id,
                v.format.as_str(),
                v.path,
                v.sha256,
                v.subject_name,
                self.position,
                v.bytes,
            ])?;
        Ok(outcome)
    }

    fn current_sha(&self, kind: &str, id: &str) -> Result<Option<String>, StoreError> {
        let sha = self
            .tx
            .prepare_cached(
                "SELECT sha256 FROM documents
                 WHERE feed = ?1 AND kind = ?2 AND doc_id = ?3 AND valid_to IS NULL",
            )?
            .query_row(params![self.header.feed, kind, id], |r| r.get(0))
            .optional()?;
        Ok(sha)
    }

    fn note_seen(&mut self, v: &NewVersion<'_>) -> Result<(), StoreError> {
        let key = (v.kind, v.doc_id.to_owned());
        if let Some(first) = self.seen.insert(key, v.path.to_owned()) {
            return Err(StoreError::DuplicateInBundle {
                kind: v.kind.to_string(),
                id: v.doc_id.to_owned(),
                first,
                second: v.path.to_owned(),
            });
        }
        Ok(())
    }

    /// Ends the current version of a document as of this position; false if none held.
    pub fn withdraw(&mut self, kind: DocumentKind, id: &str) -> Result<bool, StoreError> {
        let closed = self.close(kind.as_str(), id)?;
        self.closed += closed as u64;
        Ok(closed)
    }

    /// Indexes the components of an SBOM version just put (`put` returned New or
    /// Changed), under the same span as the document.
    pub fn put_components(
        &mut self,
        artifact: &str,
        rows: &[ComponentRow],
    ) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO sbom_components (feed, artifact, valid_from, valid_to,
                 package, version, release, purl)
             VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6, ?7)",
        )?;
        // A component listed twice (same purl) is one row: OR IGNORE.
        for row in rows {
            stmt.execute(params![
                self.header.feed,
                artifact,
                self.position,
                row.package,
                row.version,
                row.release,
                row.purl
            ])?;
        }
        Ok(())
    }

    fn close(&mut self, kind: &str, id: &str) -> Result<bool, StoreError> {
        let n = self
            .tx
            .prepare_cached(
                "UPDATE documents SET valid_to = ?1
                 WHERE feed = ?2 AND kind = ?3 AND doc_id = ?4 AND valid_to IS NULL",
            )?
            .execute(params![self.position, self.header.feed, kind, id])?;
        if n > 0 && kind == DocumentKind::Sbom.as_str() {
            self.tx
                .prepare_cached(
                    "UPDATE sbom_components SET valid_to = ?1
                     WHERE feed = ?2 AND artifact = ?3 AND valid_to IS NULL",
                )?
                .execute(params![self.position, self.header.feed, id])?;
        }
        Ok(n > 0)
    }

    /// Closes what a snapshot lacks, moves the feed head, and commits.
    pub fn commit(mut self) -> Result<u64, StoreError> {
        if self.header.snapshot {
            self.close_missing()?;
        }
        let [advisories, vex, sboms] = self.counts.map(|c| c as i64);
        self.tx.execute(
            "UPDATE changelog SET advisories = ?1, vex = ?2, sboms = ?3, withdrawn = ?4
             WHERE position = ?5",
            params![advisories, vex, sboms, self.closed as i64, self.position],
        )?;
        self.tx.execute(
            "INSERT INTO feeds (feed, sequence, bundle_id, position) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (feed) DO UPDATE SET sequence = excluded.sequence,
                 bundle_id = excluded.bundle_id, position = excluded.position",
            params![
                self.header.feed,
                self.header.sequence as i64,
                self.header.bundle_id,
                self.position
            ],
        )?;
        self.tx.commit()?;
        Ok(self.position as u64)
    }

    fn close_missing(&mut self) -> Result<(), StoreError> {
        let current: Vec<(String, String)> = {
            let mut stmt = self.tx.prepare(
                "SELECT kind, doc_id FROM documents
                 WHERE feed = ?1 AND valid_to IS NULL AND valid_from < ?2",
            )?;
            let rows = stmt.query_map(params![self.header.feed, self.position], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        for (kind, id) in current {
            let parsed: DocumentKind = kind.parse().map_err(|_| StoreError::Corrupt {
                what: format!("document kind {kind:?}"),
            })?;
            if !self.seen.contains_key(&(parsed, id.clone())) {
                self.close(&kind, &id)?;
                self.closed += 1;
            }
        }
        Ok(())
    }
}

/// Where `kind` is counted; only feed documents are versioned in the store.
fn kind_slot(kind: DocumentKind) -> Result<usize, StoreError> {
    Ok(match kind {
        DocumentKind::Advisory => 0,
        DocumentKind::Vex => 1,
        DocumentKind::Sbom => 2,
        other => return Err(StoreError::NotVersioned { kind: other }),
    })
}
