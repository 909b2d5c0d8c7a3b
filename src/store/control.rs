//! What the control plane keeps: the audit log of mutating API calls, what runtime
//! agents report about where artifacts run, and the lookups tenancy needs.

use rusqlite::{params, OptionalExtension as _};
use serde::Serialize;

use super::{SqliteStore, StoreError};

/// One mutating API call, as the audit log keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub seq: u64,
    pub at_ms: i64,
    /// The token's name, never the token.
    pub token: String,
    pub tenant: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub idempotency_key: Option<String>,
    pub body_sha256: String,
}

/// A runtime event: an artifact deployed, running or retired in an environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeState {
    pub artifact: String,
    pub environment: String,
    pub state: String,
    pub tenant: String,
    pub updated_ms: i64,
}

impl SqliteStore {
    /// Appends to the audit log (`seq` is assigned here).
    pub fn audit(&mut self, record: &AuditRecord) -> Result<u64, StoreError> {
        self.conn.execute(
            "INSERT INTO audit (at_ms, token, tenant, method, path, status, idempotency_key,
                 body_sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                record.at_ms,
                record.token,
                record.tenant,
                record.method,
                record.path,
                record.status,
                record.idempotency_key,
                record.body_sha256,
            ],
        )?;
        Ok(self.conn.last_insert_rowid() as u64)
    }

    /// The audit log, oldest first.
    pub fn audit_log(&self, limit: u64) -> Result<Vec<AuditRecord>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, at_ms, token, tenant, method, path, status, idempotency_key, body_sha256
             FROM audit ORDER BY seq LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok(AuditRecord {
                seq: r.get::<_, i64>(0)? as u64,
                at_ms: r.get(1)?,
                token: r.get(2)?,
                tenant: r.get(3)?,
                method: r.get(4)?,
                path: r.get(5)?,
                status: r.get(6)?,
                idempotency_key: r.get(7)?,
                body_sha256: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records the last runtime event of an artifact in an environment.
    pub fn set_runtime_state(&mut self, state: &RuntimeState) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO runtime_state (artifact, environment, state, tenant, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (artifact, environment) DO UPDATE SET
                 state = excluded.state, tenant = excluded.tenant,
                 updated_ms = excluded.updated_ms",
            params![
                state.artifact,
                state.environment,
                state.state,
                state.tenant,
                state.updated_ms
            ],
        )?;
        Ok(())
    }

    /// Whether the artifact runs in some environment now.
    pub fn is_running(&self, artifact: &str) -> Result<bool, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT 1 FROM runtime_state WHERE artifact = ?1 AND state = 'running' LIMIT 1",
        )?;
        Ok(stmt.exists([artifact])?)
    }

    /// Raises the queued jobs of an artifact to at least `priority` and pulls their
    /// deadline in to at most `deadline_ms`; the number of jobs changed.
    pub fn expedite_artifact(
        &mut self,
        artifact: &str,
        priority: i64,
        deadline_ms: i64,
    ) -> Result<u64, StoreError> {
        let n = self.conn.execute(
            "UPDATE jobs SET priority = MAX(priority, ?2), deadline_ms = MIN(deadline_ms, ?3)
             WHERE artifact = ?1 AND state = 'queued'
               AND (priority < ?2 OR deadline_ms > ?3)",
            params![artifact, priority, deadline_ms],
        )?;
        Ok(n as u64)
    }

    /// Whether any job ever evaluated the artifact.
    pub fn ever_evaluated(&self, artifact: &str) -> Result<bool, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM evaluations WHERE artifact = ?1 LIMIT 1")?;
        Ok(stmt.exists([artifact])?)
    }

    /// The feed of the SBOM that describes `artifact` as of `position`, if any; when
    /// several feeds carry it, the first by name, so the answer is stable.
    pub fn sbom_feed(&self, artifact: &str, position: u64) -> Result<Option<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT feed FROM documents
             WHERE kind = 'sbom' AND doc_id = ?1 AND valid_from <= ?2
               AND (valid_to IS NULL OR valid_to > ?2)
             ORDER BY feed LIMIT 1",
        )?;
        Ok(stmt
            .query_row(params![artifact, position as i64], |r| r.get(0))
            .optional()?)
    }
}
