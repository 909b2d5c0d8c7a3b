//! Applying one bundle on PostgreSQL: the twin of `ApplyTx` (store/sqlite.rs), with the
//! same calls, outcomes, counts and errors, and the same rows once committed.
//!
//! One server transaction spans every call from [`PgStore::begin_apply`] to
//! [`PgApplyTx::commit`]; dropping the value uncommitted rolls it back. New versions
//! and SBOM components are not inserted one statement each but buffered and written in
//! batches ([`BulkPath`]), since a round trip per document would cap ingest far below
//! what the server can take. A buffered row is written before anything that could read
//! or close it: a withdrawal, the close of a changed SBOM's components, the snapshot's
//! closing of what it lacks, and the commit.
//!
//! `put` on a feed that held documents before this bundle still asks the server for
//! the current version of each document (one round trip each), because its outcome
//! decides whether the caller indexes the SBOM's components; [`PgApplyTx::put_batch`]
//! asks once for a whole batch.
//!
//! Known gap: PostgreSQL refuses U+0000 in `text`, which SQLite stores; a document whose
//! id, path or subject name holds it fails the apply here with `StoreError::Postgres`.
//! Refusing it for both stores (in the parsers) would close the gap.

use std::collections::{HashMap, HashSet};

use sqlx::{Connection as _, PgConnection, Postgres, Transaction};

use super::{Fault, PgStore};
use crate::model::DocumentKind;
use crate::store::{ApplyHeader, ComponentRow, NewVersion, PutOutcome, StoreError};

mod bulk;
mod current;

pub use bulk::BulkPath;
use bulk::{PendingComponents, PendingDocuments};

/// Serialises the writers assigning change-log positions (MAX + 1, as SQLite's rowid),
/// held from the insert of the change-log row to the commit. Apart from `IDS_LOCK`, so
/// that creating runs does not wait for a long apply.
const POSITION_LOCK: i64 = 0x5354_454c_4c41_0002;

/// Buffered new versions are written once they reach either bound. Small batches keep
/// the server busy: while it writes one, ingest's parse workers fill their queues with
/// the next (a few MB), where a 16 MB batch left them stalled and the server idle in
/// turn; benches/ingest.rs went from 82 to 91 MB/s through the whole command.
const FLUSH_ROWS: usize = 512;
const FLUSH_BYTES: usize = 2 << 20;

/// One bundle being applied on PostgreSQL: all of it commits, or none of it.
pub struct PgApplyTx<'s> {
    rt: &'s tokio::runtime::Runtime,
    /// The store's lost-connection flag, set when a statement of this apply loses it.
    broken: &'s std::sync::atomic::AtomicBool,
    tx: Transaction<'s, Postgres>,
    /// The feed held no document before this bundle: nothing to compare or close.
    feed_empty: bool,
    header: ApplyHeader,
    position: i64,
    /// (kind, id) → member path, for duplicates within the bundle and snapshot closing.
    seen: HashMap<(DocumentKind, String), String>,
    counts: [u64; 3],
    closed: u64,
    path: BulkPath,
    documents: PendingDocuments,
    components: PendingComponents,
    /// Artifacts with rows in `components`, which a close must write first.
    pending_artifacts: HashSet<String>,
}

impl std::fmt::Debug for PgApplyTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgApplyTx")
            .field("header", &self.header)
            .field("position", &self.position)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Runs `call` on `rt`; a failed statement becomes [`StoreError::Postgres`] naming
/// `what` (as `PgStore::block_on`, for a value that holds the runtime but not the store),
/// and a lost connection is marked for the store to replace.
fn run<T>(
    rt: &tokio::runtime::Runtime,
    broken: &std::sync::atomic::AtomicBool,
    what: &'static str,
    call: impl std::future::Future<Output = Result<T, Fault>>,
) -> Result<T, StoreError> {
    super::fault_to_error(rt.block_on(call), what, broken)
}

impl PgStore {
    /// Starts applying one bundle; nothing is visible until [`PgApplyTx::commit`]. The
    /// change-log row takes the next position, as SQLite's rowid would.
    pub fn begin_apply(&mut self, header: ApplyHeader) -> Result<PgApplyTx<'_>, StoreError> {
        self.reconnect_if_lost()?;
        let rt = &*self.rt;
        let broken = &self.broken;
        let conn = self.conn.get_mut();
        let (tx, position, feed_empty) = run(rt, broken, "begin_apply", begin(conn, &header))?;
        Ok(PgApplyTx {
            rt,
            broken,
            tx,
            feed_empty,
            header,
            position,
            seen: HashMap::new(),
            counts: [0; 3],
            closed: 0,
            path: BulkPath::default(),
            documents: PendingDocuments::default(),
            components: PendingComponents::default(),
            pending_artifacts: HashSet::new(),
        })
    }
}

async fn begin<'c>(
    conn: &'c mut PgConnection,
    header: &ApplyHeader,
) -> Result<(Transaction<'c, Postgres>, i64, bool), Fault> {
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(POSITION_LOCK)
        .execute(&mut *tx)
        .await?;
    let position: i64 = sqlx::query_scalar(
        "INSERT INTO scheduler.changelog (position, feed, sequence, bundle_id, mode,
             created_at, applied_at, source_file, advisories, vex, sboms, withdrawn,
             expired_accepted)
         SELECT COALESCE(MAX(position), 0) + 1, $1, $2, $3, $4, $5, $6, $7, 0, 0, 0, 0, $8
         FROM scheduler.changelog
         RETURNING position",
    )
    .bind(&header.feed)
    .bind(header.sequence as i64)
    .bind(&header.bundle_id)
    .bind(if header.snapshot { "snapshot" } else { "delta" })
    .bind(&header.created_at)
    .bind(&header.applied_at)
    .bind(&header.source_file)
    .bind(i64::from(header.expired_accepted))
    .fetch_one(&mut *tx)
    .await?;
    let held: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM scheduler.documents WHERE feed = $1 LIMIT 1")
            .bind(&header.feed)
            .fetch_optional(&mut *tx)
            .await?;
    Ok((tx, position, held.is_none()))
}

impl PgApplyTx<'_> {
    pub fn position(&self) -> u64 {
        self.position as u64
    }

    /// How buffered versions reach the server; the default is [`BulkPath::Copy`].
    pub fn set_bulk_path(&mut self, path: BulkPath) -> Result<(), StoreError> {
        self.flush()?;
        self.path = path;
        Ok(())
    }

    /// Records a document version unless the current one has the same bytes; as
    /// `ApplyTx::put`.
    pub fn put(&mut self, v: NewVersion<'_>) -> Result<PutOutcome, StoreError> {
        Ok(self.put_batch(std::slice::from_ref(&v))?[0])
    }

    /// [`PgApplyTx::put`] for each of `versions` in order, with one lookup of their
    /// current versions and one close of the changed ones. At the first version `put`
    /// would refuse (a duplicate in the bundle, a kind the store does not version), the
    /// ones before it are recorded and the refusal returned, as `put` one by one would.
    pub fn put_batch(
        &mut self,
        versions: &[NewVersion<'_>],
    ) -> Result<Vec<PutOutcome>, StoreError> {
        // As `put` one by one: the versions before the first refused one are recorded.
        for (i, v) in versions.iter().enumerate() {
            if let Err(refused) = self.note_seen(v).and_then(|()| kind_slot(v.kind)) {
                self.record(&versions[..i])?;
                return Err(refused);
            }
        }
        self.record(versions)
    }

    /// Records `versions`, already noted as seen and of versioned kinds.
    fn record(&mut self, versions: &[NewVersion<'_>]) -> Result<Vec<PutOutcome>, StoreError> {
        if versions.is_empty() {
            return Ok(Vec::new());
        }
        for v in versions {
            self.counts[kind_slot(v.kind)?] += 1;
        }
        let current = match self.feed_empty {
            true => vec![None; versions.len()],
            false => self.current_shas(versions)?,
        };
        let mut outcomes = Vec::with_capacity(versions.len());
        let mut changed = Vec::new();
        for (v, sha) in versions.iter().zip(current) {
            let outcome = match sha {
                Some(sha) if sha == v.sha256 => PutOutcome::Unchanged,
                Some(_) => PutOutcome::Changed,
                None => PutOutcome::New,
            };
            if outcome == PutOutcome::Changed {
                changed.push((v.kind, v.doc_id));
            }
            outcomes.push(outcome);
        }
        self.close_all(&changed)?;
        for (v, outcome) in versions.iter().zip(&outcomes) {
            if *outcome != PutOutcome::Unchanged {
                self.documents.push(v);
            }
        }
        if self.documents.rows() >= FLUSH_ROWS || self.documents.bytes() >= FLUSH_BYTES {
            self.flush_documents()?;
        }
        Ok(outcomes)
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
        self.flush()?;
        let closed = self.close_all(&[(kind, id)])? > 0;
        self.closed += u64::from(closed);
        Ok(closed)
    }

    /// Indexes the components of an SBOM version just put (`put` returned New or
    /// Changed), under the same span as the document. A component listed twice (same
    /// package key and purl) is one row, the first, as SQLite's OR IGNORE keeps it.
    pub fn put_components(
        &mut self,
        artifact: &str,
        rows: &[ComponentRow],
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.components.push(artifact, rows);
        self.pending_artifacts.insert(artifact.to_owned());
        if self.components.rows() >= FLUSH_ROWS {
            self.flush_components()?;
        }
        Ok(())
    }

    /// Closes what a snapshot lacks, moves the feed head, and commits.
    pub fn commit(mut self) -> Result<u64, StoreError> {
        self.flush()?;
        if self.header.snapshot && !self.feed_empty {
            self.close_missing()?;
        }
        let [advisories, vex, sboms] = self.counts.map(|c| c as i64);
        let closed = self.closed as i64;
        let (header, position, mut tx) = (self.header, self.position, self.tx);
        run(self.rt, self.broken, "commit", async move {
            sqlx::query(
                "UPDATE scheduler.changelog SET advisories = $1, vex = $2, sboms = $3,
                     withdrawn = $4
                 WHERE position = $5",
            )
            .bind(advisories)
            .bind(vex)
            .bind(sboms)
            .bind(closed)
            .bind(position)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO scheduler.feeds (feed, sequence, bundle_id, position)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (feed) DO UPDATE SET sequence = excluded.sequence,
                     bundle_id = excluded.bundle_id, position = excluded.position",
            )
            .bind(&header.feed)
            .bind(header.sequence as i64)
            .bind(&header.bundle_id)
            .bind(position)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(position as u64)
        })
    }

    /// Writes every buffered row.
    fn flush(&mut self) -> Result<(), StoreError> {
        self.flush_documents()?;
        self.flush_components()
    }

    fn flush_documents(&mut self) -> Result<(), StoreError> {
        if self.documents.rows() == 0 {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.documents);
        let (feed, position, path, tx) =
            (&self.header.feed, self.position, self.path, &mut self.tx);
        run(self.rt, self.broken, "put", async {
            Ok(pending.write(tx, path, feed, position).await?)
        })
    }

    fn flush_components(&mut self) -> Result<(), StoreError> {
        if self.components.rows() == 0 {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.components);
        self.pending_artifacts.clear();
        let (feed, position, tx) = (&self.header.feed, self.position, &mut self.tx);
        run(self.rt, self.broken, "put_components", async {
            Ok(pending.write(tx, feed, position).await?)
        })
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
