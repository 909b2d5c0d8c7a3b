//! Versioned state on PostgreSQL, read side: the change log, feed heads, document counts,
//! documents as of a position and the state digest. Mirrors store/sqlite.rs; the apply
//! transaction is in apply.rs.
//!
//! The SQLite store's write-ahead-log controls (`map_for_reading`, `defer_checkpoints`,
//! `checkpoint`, `wal_bytes`) exist here as documented no-ops, so that a caller written
//! for either store compiles against both; `wal_writeback` has no twin (PostgreSQL
//! writes its own log back, and there is no file of ours to sync).

use sha2::{Digest as _, Sha256};
use sqlx::postgres::PgRow;
use sqlx::Row as _;

use super::{Fault, PgStore};
use crate::model::DocumentKind;
use crate::store::{ChangeEntry, Checkpoint, DocumentCounts, FeedHead, StoreError, StoredDocument};

const HEAD_SELECT: &str = "SELECT f.feed, f.sequence, f.bundle_id, f.position, c.applied_at
     FROM scheduler.feeds f JOIN scheduler.changelog c ON c.position = f.position";

pub(super) const ENTRY_SELECT: &str =
    "SELECT position, feed, sequence, bundle_id, mode, advisories,
     vex, sboms, withdrawn, expired_accepted FROM scheduler.changelog";

/// The rows the digest covers, in the SQLite store's order and column order; integers
/// are cast to text by PostgreSQL exactly as SQLite's `i64::to_string` prints them.
const DIGEST_CHANGELOG: &str = "SELECT position::text, feed, sequence::text, bundle_id, mode,
     advisories::text, vex::text, sboms::text, withdrawn::text
     FROM scheduler.changelog ORDER BY position";

const DIGEST_DOCUMENTS: &str = "SELECT feed, kind, doc_id, format, path, sha256,
     subject_name, valid_from::text, valid_to::text
     FROM scheduler.documents ORDER BY feed, kind, doc_id, valid_from";

fn read_head(r: &PgRow) -> Result<FeedHead, sqlx::Error> {
    Ok(FeedHead {
        feed: r.try_get(0)?,
        sequence: r.try_get::<i64, _>(1)? as u64,
        bundle_id: r.try_get(2)?,
        position: r.try_get::<i64, _>(3)? as u64,
        applied_at: r.try_get(4)?,
    })
}

pub(super) fn read_entry(r: &PgRow) -> Result<ChangeEntry, sqlx::Error> {
    Ok(ChangeEntry {
        position: r.try_get::<i64, _>(0)? as u64,
        feed: r.try_get(1)?,
        sequence: r.try_get::<i64, _>(2)? as u64,
        bundle_id: r.try_get(3)?,
        mode: r.try_get(4)?,
        advisories: r.try_get::<i64, _>(5)? as u64,
        vex: r.try_get::<i64, _>(6)? as u64,
        sboms: r.try_get::<i64, _>(7)? as u64,
        withdrawn: r.try_get::<i64, _>(8)? as u64,
        expired_accepted: r.try_get::<i64, _>(9)? != 0,
    })
}

/// A `StoredDocument` from the first six columns of a row:
/// `feed, doc_id, format, path, subject_name, bytes`.
pub(super) fn read_document(r: &PgRow) -> Result<StoredDocument, sqlx::Error> {
    Ok(StoredDocument {
        feed: r.try_get(0)?,
        doc_id: r.try_get(1)?,
        format: r.try_get(2)?,
        path: r.try_get(3)?,
        subject_name: r.try_get(4)?,
        bytes: r.try_get(5)?,
    })
}

/// One digest line: `tag|` then the columns joined by `|`, NULL as `-`, as the SQLite
/// store writes it.
fn digest_line(tag: char, r: &PgRow) -> Result<String, sqlx::Error> {
    let mut line = String::with_capacity(128);
    line.push(tag);
    for i in 0..9 {
        line.push('|');
        let value: Option<String> = r.try_get(i)?;
        line.push_str(value.as_deref().unwrap_or("-"));
    }
    line.push('\n');
    Ok(line)
}

impl PgStore {
    /// No-op: PostgreSQL's server decides how it caches pages. Exists so that callers
    /// of `Store::map_for_reading` compile against this store too.
    pub fn map_for_reading(&self, _bytes: i64) -> Result<(), StoreError> {
        Ok(())
    }

    /// No-op: the server checkpoints its own log; a commit is durable once the server
    /// has flushed it (synchronous_commit, the server's setting).
    pub fn defer_checkpoints(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// No-op that reports nothing copied: checkpoints are the server's business.
    pub fn checkpoint(&self) -> Result<Checkpoint, StoreError> {
        Ok(Checkpoint {
            frames: 0,
            copied: 0,
        })
    }

    /// Always 0: there is no write-ahead log file of this store's own to copy.
    pub fn wal_bytes(&self) -> u64 {
        0
    }

    /// The last change-log position, 0 before anything was applied.
    pub fn position(&self) -> Result<u64, StoreError> {
        self.block_on("position", async {
            let mut conn = self.conn.lock().await;
            let p: Option<i64> =
                sqlx::query_scalar("SELECT MAX(position) FROM scheduler.changelog")
                    .fetch_one(&mut *conn)
                    .await?;
            Ok(p.unwrap_or(0) as u64)
        })
    }

    pub fn feed_head(&self, feed: &str) -> Result<Option<FeedHead>, StoreError> {
        self.block_on("feed_head", async {
            let mut conn = self.conn.lock().await;
            let sql = format!("{HEAD_SELECT} WHERE f.feed = $1");
            let row = sqlx::query(&sql)
                .bind(feed)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(row.as_ref().map(read_head).transpose()?)
        })
    }

    /// Every feed head, in feed (byte) order.
    pub fn feeds(&self) -> Result<Vec<FeedHead>, StoreError> {
        self.block_on("feeds", async {
            let mut conn = self.conn.lock().await;
            let sql = format!("{HEAD_SELECT} ORDER BY f.feed");
            let rows = sqlx::query(&sql).fetch_all(&mut *conn).await?;
            Ok(rows.iter().map(read_head).collect::<Result<_, _>>()?)
        })
    }

    /// The change-log entry of an applied bundle, if it was applied.
    pub fn applied(&self, bundle_id: &str) -> Result<Option<ChangeEntry>, StoreError> {
        self.block_on("applied", async {
            let mut conn = self.conn.lock().await;
            let sql = format!("{ENTRY_SELECT} WHERE bundle_id = $1");
            let row = sqlx::query(&sql)
                .bind(bundle_id)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(row.as_ref().map(read_entry).transpose()?)
        })
    }

    pub fn changelog(&self) -> Result<Vec<ChangeEntry>, StoreError> {
        self.block_on("changelog", async {
            let mut conn = self.conn.lock().await;
            let sql = format!("{ENTRY_SELECT} ORDER BY position");
            let rows = sqlx::query(&sql).fetch_all(&mut *conn).await?;
            Ok(rows.iter().map(read_entry).collect::<Result<_, _>>()?)
        })
    }

    /// Documents holding now, by kind.
    pub fn document_counts(&self) -> Result<DocumentCounts, StoreError> {
        self.block_on("document_counts", async {
            let mut conn = self.conn.lock().await;
            let rows: Vec<(String, i64)> = sqlx::query_as(
                "SELECT kind, COUNT(*) FROM scheduler.documents
                 WHERE valid_to IS NULL GROUP BY kind",
            )
            .fetch_all(&mut *conn)
            .await?;
            let mut counts = DocumentCounts::default();
            for (kind, n) in rows {
                match kind.as_str() {
                    "advisory" => counts.advisory = n as u64,
                    "vex" => counts.vex = n as u64,
                    _ => counts.sbom = n as u64,
                }
            }
            Ok(counts)
        })
    }

    /// Every document of `kind` that held at `position`, in (feed, id) order, with its
    /// raw bytes: exactly what a window pinned to `position` saw.
    pub fn documents_as_of(
        &self,
        kind: DocumentKind,
        position: u64,
    ) -> Result<Vec<StoredDocument>, StoreError> {
        self.block_on("documents_as_of", async {
            let mut conn = self.conn.lock().await;
            let rows = sqlx::query(
                "SELECT feed, doc_id, format, path, subject_name, bytes
                 FROM scheduler.documents
                 WHERE kind = $1 AND valid_from <= $2 AND (valid_to IS NULL OR valid_to > $2)
                 ORDER BY feed, doc_id",
            )
            .bind(kind.as_str())
            .bind(position as i64)
            .fetch_all(&mut *conn)
            .await?;
            Ok(rows.iter().map(read_document).collect::<Result<_, _>>()?)
        })
    }

    /// SHA-256 over the change log and every document version, without wall-clock
    /// fields: the same bytes in the same order as `Store::state_digest`, so that equal
    /// state gives an equal digest on either store. Rows stream; the documents' bytes
    /// are not read.
    pub fn state_digest(&self) -> Result<String, StoreError> {
        self.block_on("state_digest", async {
            let mut conn = self.conn.lock().await;
            let mut hasher = Sha256::new();
            for (tag, sql) in [('c', DIGEST_CHANGELOG), ('d', DIGEST_DOCUMENTS)] {
                let mut rows = sqlx::query(sql).fetch(&mut *conn);
                while let Some(row) = futures_util::TryStreamExt::try_next(&mut rows).await? {
                    hasher.update(digest_line(tag, &row)?);
                }
            }
            Ok::<_, Fault>(hex::encode(hasher.finalize()))
        })
    }
}
