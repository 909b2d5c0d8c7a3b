//! What the scrape-time gauges of `/metrics` read, on PostgreSQL. Mirrors
//! store/metrics.rs: job counts come from `scheduler_counts`, which reads both `jobs`
//! and `jobs_finished`.

use super::PgStore;
use crate::store::{QueueGauges, StoreError};

impl PgStore {
    /// One read of everything [`QueueGauges`] holds; as `Store::queue_gauges`.
    pub fn queue_gauges(&self) -> Result<QueueGauges, StoreError> {
        let counts = self.scheduler_counts()?;
        let (runs_active, last_applied_at) = self.block_on("queue_gauges", async {
            let mut conn = self.conn.lock().await;
            let runs_active: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM scheduler.runs
                 WHERE state IN ('queued', 'planning', 'running')",
            )
            .fetch_one(&mut *conn)
            .await?;
            let last_applied_at: Option<String> = sqlx::query_scalar(
                "SELECT applied_at FROM scheduler.changelog ORDER BY position DESC LIMIT 1",
            )
            .fetch_optional(&mut *conn)
            .await?;
            Ok((runs_active as u64, last_applied_at))
        })?;
        Ok(QueueGauges {
            jobs: counts.jobs,
            runs_active,
            sla_breached: counts.sla_breached,
            paused: self.paused()?,
            last_applied_at,
        })
    }
}
