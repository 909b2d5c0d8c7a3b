//! What the scrape-time gauges of `/metrics` read: jobs by state, active runs, SLA
//! breaches, the paused flag and when the latest bundle was applied.

use std::collections::BTreeMap;

use rusqlite::OptionalExtension as _;

use super::{SqliteStore, StoreError};

/// The queue and the change log as a scrape sees them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueGauges {
    /// Jobs by state (states with none are absent).
    pub jobs: BTreeMap<String, u64>,
    /// Runs queued, planning or running.
    pub runs_active: u64,
    /// Jobs finished, failed or rescued past their SLA deadline.
    pub sla_breached: u64,
    pub paused: bool,
    /// `applied_at` (RFC 3339) of the highest change-log position; `None` before the
    /// first bundle.
    pub last_applied_at: Option<String>,
}

impl QueueGauges {
    /// Jobs queued or leased: the work not done yet.
    pub fn backlog(&self) -> u64 {
        ["queued", "leased"]
            .iter()
            .filter_map(|s| self.jobs.get(*s))
            .sum()
    }
}

impl SqliteStore {
    /// One read of everything [`QueueGauges`] holds.
    pub fn queue_gauges(&self) -> Result<QueueGauges, StoreError> {
        let counts = self.scheduler_counts()?;
        let runs_active = self.conn.query_row(
            "SELECT COUNT(*) FROM runs WHERE state IN ('queued', 'planning', 'running')",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64;
        let last_applied_at = self
            .conn
            .query_row(
                "SELECT applied_at FROM changelog ORDER BY position DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        Ok(QueueGauges {
            jobs: counts.jobs,
            runs_active,
            sla_breached: counts.sla_breached,
            paused: self.paused()?,
            last_applied_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backlog_adds_queued_and_leased_only() {
        let gauges = QueueGauges {
            jobs: BTreeMap::from([
                ("queued".to_owned(), 3),
                ("leased".to_owned(), 2),
                ("succeeded".to_owned(), 40),
            ]),
            ..QueueGauges::default()
        };
        assert_eq!(gauges.backlog(), 5);
    }

    #[test]
    fn an_empty_store_has_no_applied_time_and_no_jobs() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = crate::store::Store::open(&dir.path().join("state.sqlite")).expect("store");
        let gauges = store.queue_gauges().expect("gauges");
        assert_eq!(gauges, QueueGauges::default());
    }
}
