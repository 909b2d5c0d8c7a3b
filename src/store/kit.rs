//! What offline kits need from the store beyond the per-bundle API: the feed heads as
//! they stood at a position, with the `createdAt` of their bundles; sealing a store file
//! built aside so that it can be renamed into place; and a check that no other process
//! has a store open before it is replaced.
//!
//! Sealing and the check work on a database path with a connection of their own: they
//! are about the file, which must not be open as a [`Store`] at the time.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, ErrorCode, OpenFlags};
use serde::Serialize;

use super::{SqliteStore, StoreError};

/// A feed's head as of some position: the last bundle of the feed applied by then.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeadAsOf {
    pub feed: String,
    pub sequence: u64,
    pub bundle_id: String,
    pub position: u64,
    /// The bundle manifest's `createdAt`, as it was written there.
    pub created_at: String,
}

/// Whether another process holds the store open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// No other connection: the file may be replaced now.
    Idle,
    /// Another connection holds it (a `run` watcher, an `ingest` in progress, ...).
    InUse,
}

impl SqliteStore {
    /// The head of every feed as of `position`, in feed-name order: for each feed, the
    /// last bundle applied at or before it.
    pub fn heads_as_of(&self, position: u64) -> Result<Vec<HeadAsOf>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT c.feed, c.sequence, c.bundle_id, c.position, c.created_at
             FROM changelog c
             WHERE c.position = (SELECT MAX(position) FROM changelog
                                 WHERE feed = c.feed AND position <= ?1)
             ORDER BY c.feed",
        )?;
        let rows = stmt.query_map(params![position as i64], |r| {
            Ok(HeadAsOf {
                feed: r.get(0)?,
                sequence: r.get::<_, i64>(1)? as u64,
                bundle_id: r.get(2)?,
                position: r.get::<_, i64>(3)? as u64,
                created_at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Makes a store file that was written and closed stand alone: switching it out of WAL
/// folds the write-ahead log into the file and removes it, so the file can be renamed
/// without a `-wal` that would not follow it. The next [`Store::open`] turns WAL back on.
///
pub fn seal(db: &Path) -> Result<(), StoreError> {
    let conn = open_existing(db)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(StoreError::Corrupt {
            what: format!("{} stayed in journal mode {mode}", db.display()),
        });
    }
    drop(conn);
    let wal = sidecar(db, "-wal");
    if wal.exists() {
        return Err(StoreError::Corrupt {
            what: format!("{} is still there after sealing", wal.display()),
        });
    }
    Ok(())
}

/// Takes an exclusive lock on the store for a moment, without waiting, and lets it go.
///
/// A process with the store open (even idle, once it has read) holds a shared lock, so
/// the lock is refused while one does. When it is granted, a write-ahead log left by a
/// process that crashed is folded into the file as the connection closes, which leaves
/// the state the same and the file standing alone. A process that opens the store right
/// after this returns is not seen: callers must still ask operators to stop `run`.
pub fn claim(db: &Path) -> Result<Claim, StoreError> {
    let conn = open_existing(db)?;
    conn.busy_timeout(std::time::Duration::ZERO)?;
    let taken = conn
        .query_row("PRAGMA locking_mode = EXCLUSIVE", [], |_| Ok(()))
        .and_then(|()| conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;"));
    match taken {
        Ok(()) => {}
        Err(e) if is_busy(&e) => return Ok(Claim::InUse),
        Err(e) => return Err(e.into()),
    }
    drop(conn);
    let wal = sidecar(db, "-wal");
    match std::fs::metadata(&wal) {
        Ok(meta) if meta.len() > 0 => Ok(Claim::InUse),
        _ => Ok(Claim::Idle),
    }
}

/// `DB-wal`, `DB-shm`, `DB-journal`: the files SQLite keeps beside a database.
pub fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Opens a database that must exist already; never creates one.
fn open_existing(db: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    Connection::open_with_flags(db, flags).map_err(|source| StoreError::Open {
        path: db.to_owned(),
        source,
    })
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ApplyHeader;

    fn header(feed: &str, sequence: u64, created_at: &str) -> ApplyHeader {
        ApplyHeader {
            feed: feed.to_owned(),
            sequence,
            bundle_id: format!("{feed}-{sequence}"),
            snapshot: false,
            created_at: created_at.to_owned(),
            applied_at: "2026-12-01T00:00:00Z".to_owned(),
            source_file: "test".to_owned(),
            expired_accepted: false,
        }
    }

    #[test]
    fn heads_as_of_a_position_ignore_what_came_later() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("state.sqlite");
        let mut store = crate::store::Store::open(&db).expect("store");
        for (feed, seq, at) in [("b", 1, "T1"), ("a", 1, "T2"), ("b", 2, "T3")] {
            store
                .begin_apply(header(feed, seq, at))
                .and_then(|tx| tx.commit())
                .expect("applied");
        }
        let at_2 = store.heads_as_of(2).expect("heads");
        let shown: Vec<_> = at_2
            .iter()
            .map(|h| {
                (
                    h.feed.as_str(),
                    h.sequence,
                    h.position,
                    h.created_at.as_str(),
                )
            })
            .collect();
        assert_eq!(shown, [("a", 1, 2, "T2"), ("b", 1, 1, "T1")]);
        let at_3 = store.heads_as_of(3).expect("heads");
        assert_eq!((at_3[1].sequence, at_3[1].bundle_id.as_str()), (2, "b-2"));
        assert!(store.heads_as_of(0).expect("heads").is_empty());
    }

    #[test]
    fn a_store_open_elsewhere_cannot_be_claimed_and_a_sealed_one_stands_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("state.sqlite");
        let store = crate::store::Store::open(&db).expect("store");
        // A second connection in this process stands in for another process: SQLite
        // tracks the locks of each connection of a process on the same file itself.
        assert_eq!(claim(&db).expect("probe"), Claim::InUse);
        drop(store);
        assert_eq!(claim(&db).expect("probe"), Claim::Idle);
        seal(&db).expect("sealed");
        assert!(!sidecar(&db, "-wal").exists());
        let reopened = crate::store::Store::open(&db).expect("reopens in WAL");
        assert_eq!(reopened.position().expect("position"), 0);
    }

    #[test]
    fn opening_a_missing_store_is_an_error_not_a_new_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("absent.sqlite");
        assert!(matches!(claim(&db), Err(StoreError::Open { .. })));
        assert!(!db.exists());
    }
}
