//! What offline kits read from the store, on PostgreSQL: the feed heads as they stood
//! at a position. Mirrors `Store::heads_as_of` in store/kit.rs.
//!
//! The rest of store/kit.rs has no twin here, by design: `seal`, `claim` and `sidecar`
//! act on a SQLite database file (folding its write-ahead log, taking its file lock,
//! naming its `-wal`/`-shm` files) so that a kit can replace that file. A PostgreSQL
//! database is not a file a kit can copy or rename into place; importing a kit into
//! PostgreSQL would have to go through the store's calls instead (not built).

use sqlx::Row as _;

use super::PgStore;
use crate::store::kit::HeadAsOf;
use crate::store::StoreError;

impl PgStore {
    /// The head of every feed as of `position`, in feed-name order: for each feed, the
    /// last bundle applied at or before it.
    pub fn heads_as_of(&self, position: u64) -> Result<Vec<HeadAsOf>, StoreError> {
        self.block_on("heads_as_of", async {
            let mut conn = self.conn.lock().await;
            let rows = sqlx::query(
                "SELECT c.feed, c.sequence, c.bundle_id, c.position, c.created_at
                 FROM scheduler.changelog c
                 WHERE c.position = (SELECT MAX(position) FROM scheduler.changelog
                                     WHERE feed = c.feed AND position <= $1)
                 ORDER BY c.feed",
            )
            .bind(position as i64)
            .fetch_all(&mut *conn)
            .await?;
            let heads = rows
                .iter()
                .map(|r| {
                    Ok(HeadAsOf {
                        feed: r.try_get(0)?,
                        sequence: r.try_get::<i64, _>(1)? as u64,
                        bundle_id: r.try_get(2)?,
                        position: r.try_get::<i64, _>(3)? as u64,
                        created_at: r.try_get(4)?,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()?;
            Ok(heads)
        })
    }
}
