//! The control plane's rows on PostgreSQL: the audit log, runtime state, and the
//! lookups tenancy and expediting need. Mirrors store/control.rs.
//!
//! `audit.seq` is SQLite's rowid there; here it is assigned as MAX + 1 under
//! [`AUDIT_LOCK`], so that a rolled-back append leaves no gap, as on SQLite.

use sqlx::postgres::PgRow;
use sqlx::{Connection as _, Row as _};

use super::{limit, Fault, PgStore};
use crate::store::{AuditRecord, RuntimeState, StoreError};

/// The transaction-scoped advisory lock held from reading `MAX(audit.seq)` to the
/// commit of the new row. Its own lock, apart from `IDS_LOCK`, so that API calls being
/// audited never wait behind a large `create_run`.
const AUDIT_LOCK: i64 = 0x5354_454c_4c41_0010;

fn read_audit(r: &PgRow) -> Result<AuditRecord, Fault> {
    let status: i64 = r.try_get(6)?;
    let status = u16::try_from(status).map_err(|_| {
        Fault::Store(StoreError::Corrupt {
            what: format!("audit status {status} is not an HTTP status"),
        })
    })?;
    Ok(AuditRecord {
        seq: r.try_get::<i64, _>(0)? as u64,
        at_ms: r.try_get(1)?,
        token: r.try_get(2)?,
        tenant: r.try_get(3)?,
        method: r.try_get(4)?,
        path: r.try_get(5)?,
        status,
        idempotency_key: r.try_get(7)?,
        body_sha256: r.try_get(8)?,
    })
}

impl PgStore {
    /// Appends to the audit log (`seq` is assigned here); as `Store::audit`.
    pub fn audit(&mut self, record: &AuditRecord) -> Result<u64, StoreError> {
        self.block_on("audit", async {
            let mut conn = self.conn.lock().await;
            let mut tx = conn.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(AUDIT_LOCK)
                .execute(&mut *tx)
                .await?;
            let seq: i64 = sqlx::query_scalar(
                "INSERT INTO scheduler.audit (seq, at_ms, token, tenant, method, path, status,
                     idempotency_key, body_sha256)
                 SELECT COALESCE(MAX(seq), 0) + 1, $1, $2, $3, $4, $5, $6, $7, $8
                 FROM scheduler.audit
                 RETURNING seq",
            )
            .bind(record.at_ms)
            .bind(&record.token)
            .bind(&record.tenant)
            .bind(&record.method)
            .bind(&record.path)
            .bind(i64::from(record.status))
            .bind(&record.idempotency_key)
            .bind(&record.body_sha256)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(seq as u64)
        })
    }

    /// The audit log, oldest first.
    pub fn audit_log(&self, limit_to: u64) -> Result<Vec<AuditRecord>, StoreError> {
        self.block_on("audit_log", async {
            let mut conn = self.conn.lock().await;
            let rows = sqlx::query(
                "SELECT seq, at_ms, token, tenant, method, path, status, idempotency_key,
                     body_sha256
                 FROM scheduler.audit ORDER BY seq LIMIT $1",
            )
            .bind(limit(limit_to))
            .fetch_all(&mut *conn)
            .await?;
            rows.iter().map(read_audit).collect()
        })
    }

    /// Records the last runtime event of an artifact in an environment.
    pub fn set_runtime_state(&mut self, state: &RuntimeState) -> Result<(), StoreError> {
        self.block_on("set_runtime_state", async {
            let mut conn = self.conn.lock().await;
            sqlx::query(
                "INSERT INTO scheduler.runtime_state (artifact, environment, state, tenant,
                     updated_ms)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (artifact, environment) DO UPDATE SET
                     state = excluded.state, tenant = excluded.tenant,
                     updated_ms = excluded.updated_ms",
            )
            .bind(&state.artifact)
            .bind(&state.environment)
            .bind(&state.state)
            .bind(&state.tenant)
            .bind(state.updated_ms)
            .execute(&mut *conn)
            .await?;
            Ok(())
        })
    }

    /// Whether the artifact runs in some environment now.
    pub fn is_running(&self, artifact: &str) -> Result<bool, StoreError> {
        self.block_on("is_running", async {
            let mut conn = self.conn.lock().await;
            let found: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM scheduler.runtime_state
                 WHERE artifact = $1 AND state = 'running' LIMIT 1",
            )
            .bind(artifact)
            .fetch_optional(&mut *conn)
            .await?;
            Ok(found.is_some())
        })
    }

    /// Raises the queued jobs of an artifact to at least `priority` and pulls their
    /// deadline in to at most `deadline_ms`; the number of jobs changed. Queued jobs are
    /// all in `jobs` (`jobs_finished` holds succeeded and cancelled ones only).
    pub fn expedite_artifact(
        &mut self,
        artifact: &str,
        priority: i64,
        deadline_ms: i64,
    ) -> Result<u64, StoreError> {
        self.block_on("expedite_artifact", async {
            let mut conn = self.conn.lock().await;
            let n = sqlx::query(
                "UPDATE scheduler.jobs SET priority = GREATEST(priority, $2),
                     deadline_ms = LEAST(deadline_ms, $3)
                 WHERE artifact = $1 AND state = 'queued'
                   AND (priority < $2 OR deadline_ms > $3)",
            )
            .bind(artifact)
            .bind(priority)
            .bind(deadline_ms)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            Ok(n)
        })
    }

    /// Whether any job ever evaluated the artifact.
    pub fn ever_evaluated(&self, artifact: &str) -> Result<bool, StoreError> {
        self.block_on("ever_evaluated", async {
            let mut conn = self.conn.lock().await;
            let found: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM scheduler.evaluations WHERE artifact = $1 LIMIT 1",
            )
            .bind(artifact)
            .fetch_optional(&mut *conn)
            .await?;
            Ok(found.is_some())
        })
    }

    /// The feed of the SBOM that describes `artifact` as of `position`, if any; when
    /// several feeds carry it, the first by name (byte order, as on SQLite).
    pub fn sbom_feed(&self, artifact: &str, position: u64) -> Result<Option<String>, StoreError> {
        self.block_on("sbom_feed", async {
            let mut conn = self.conn.lock().await;
            let feed = sqlx::query_scalar(
                "SELECT feed FROM scheduler.documents
                 WHERE kind = 'sbom' AND doc_id = $1 AND valid_from <= $2
                   AND (valid_to IS NULL OR valid_to > $2)
                 ORDER BY feed LIMIT 1",
            )
            .bind(artifact)
            .bind(position as i64)
            .fetch_optional(&mut *conn)
            .await?;
            Ok(feed)
        })
    }
}
