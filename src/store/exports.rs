//! Exports: which finished runs a completion bundle carried, and the site feed's chain.

use rusqlite::{params, OptionalExtension as _};

use super::{SqliteStore, StoreError};

/// A finished run not yet exported, with what the export carries of it.
#[derive(Clone, Debug)]
pub struct Unexported {
    pub seq: u64,
    pub run_id: String,
    pub position: u64,
    pub completion: Vec<u8>,
}

/// The last export of the site feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportHead {
    pub sequence: u64,
    pub bundle_id: String,
}

/// An export to record.
#[derive(Clone, Debug)]
pub struct NewExport<'a> {
    pub sequence: u64,
    pub bundle_id: &'a str,
    pub file: &'a str,
    pub created_at: &'a str,
    pub runs: &'a [u64],
}

impl SqliteStore {
    /// Finished runs with a completion event that no export carried yet, in run order.
    pub fn unexported(&self) -> Result<Vec<Unexported>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, run_id, position, completion FROM runs
             WHERE export_seq IS NULL AND completion IS NOT NULL
               AND state IN ('completed', 'failed')
             ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Unexported {
                seq: r.get::<_, i64>(0)? as u64,
                run_id: r.get(1)?,
                position: r.get::<_, i64>(2)? as u64,
                completion: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn export_head(&self) -> Result<Option<ExportHead>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT sequence, bundle_id FROM exports ORDER BY sequence DESC LIMIT 1",
                [],
                |r| {
                    Ok(ExportHead {
                        sequence: r.get::<_, i64>(0)? as u64,
                        bundle_id: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    /// Records an export and marks its runs as carried, in one transaction.
    pub fn record_export(&mut self, export: &NewExport<'_>) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO exports (sequence, bundle_id, file, runs, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                export.sequence as i64,
                export.bundle_id,
                export.file,
                export.runs.len() as i64,
                export.created_at
            ],
        )?;
        for seq in export.runs {
            tx.execute(
                "UPDATE runs SET export_seq = ?1 WHERE seq = ?2",
                params![export.sequence as i64, *seq as i64],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// One recorded export, as an offline-kit import carries it over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportRecord {
    pub sequence: u64,
    pub bundle_id: String,
    pub file: String,
    pub runs: u64,
    pub created_at: String,
}

impl SqliteStore {
    /// Every recorded export, in sequence order.
    pub fn exports(&self) -> Result<Vec<ExportRecord>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT sequence, bundle_id, file, runs, created_at FROM exports ORDER BY sequence",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ExportRecord {
                sequence: r.get::<_, i64>(0)? as u64,
                bundle_id: r.get(1)?,
                file: r.get(2)?,
                runs: r.get::<_, i64>(3)? as u64,
                created_at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records exports made by an earlier store of this site, so that the site feed's
    /// chain continues where it stood (an offline-kit import replaces the store).
    pub fn restore_exports(&mut self, exports: &[ExportRecord]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for e in exports {
            tx.execute(
                "INSERT INTO exports (sequence, bundle_id, file, runs, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    e.sequence as i64,
                    e.bundle_id,
                    e.file,
                    e.runs as i64,
                    e.created_at
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}
