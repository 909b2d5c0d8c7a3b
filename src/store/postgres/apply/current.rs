//! The current versions of documents, by key: looking them up and closing them.
//!
//! Lookups by key are LATERAL subqueries fenced with `OFFSET 0`, so that each is an
//! index probe: a table filled in this very transaction has no statistics yet, and a
//! plain join was planned as a hash join over a scan of every document, once per batch.

use sqlx::{Postgres, Transaction};

use super::{run, PgApplyTx, FLUSH_ROWS};
use crate::model::DocumentKind;
use crate::store::{NewVersion, StoreError};

impl PgApplyTx<'_> {
    /// The sha256 of the version of each of `versions` holding now, if any.
    pub(super) fn current_shas(
        &mut self,
        versions: &[NewVersion<'_>],
    ) -> Result<Vec<Option<String>>, StoreError> {
        let kinds: Vec<&str> = versions.iter().map(|v| v.kind.as_str()).collect();
        let ids: Vec<&str> = versions.iter().map(|v| v.doc_id).collect();
        let (feed, tx) = (&self.header.feed, &mut self.tx);
        run(self.rt, self.broken, "put", async {
            let shas: Vec<Option<String>> = sqlx::query_scalar(
                "SELECT d.sha256
                 FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS n(kind, doc_id, ord)
                 LEFT JOIN LATERAL (SELECT sha256 FROM scheduler.documents
                     WHERE feed = $1 AND kind = n.kind AND doc_id = n.doc_id
                       AND valid_to IS NULL OFFSET 0) d ON true
                 ORDER BY n.ord",
            )
            .bind(feed)
            .bind(&kinds)
            .bind(&ids)
            .fetch_all(&mut **tx)
            .await?;
            Ok(shas)
        })
    }

    /// Ends the current versions of `docs` (kind, id) and, for SBOMs, their components;
    /// returns how many versions it ended.
    pub(super) fn close_all(&mut self, docs: &[(DocumentKind, &str)]) -> Result<u64, StoreError> {
        if docs.is_empty() {
            return Ok(0);
        }
        let sbom = DocumentKind::Sbom;
        if docs
            .iter()
            .any(|(k, id)| *k == sbom && self.pending_artifacts.contains(*id))
        {
            self.flush_components()?;
        }
        let kinds: Vec<&str> = docs.iter().map(|(k, _)| k.as_str()).collect();
        let ids: Vec<&str> = docs.iter().map(|(_, id)| *id).collect();
        let (feed, position, tx) = (&self.header.feed, self.position, &mut self.tx);
        run(self.rt, self.broken, "close", async {
            let closed: Vec<(String, String)> = sqlx::query_as(
                "UPDATE scheduler.documents d SET valid_to = $2
                 WHERE d.ctid = ANY (ARRAY(
                     SELECT x.ctid
                     FROM unnest($3::text[], $4::text[]) AS n(kind, doc_id)
                     CROSS JOIN LATERAL (SELECT ctid FROM scheduler.documents
                         WHERE feed = $1 AND kind = n.kind AND doc_id = n.doc_id
                           AND valid_to IS NULL OFFSET 0) x))
                 RETURNING d.kind, d.doc_id",
            )
            .bind(feed)
            .bind(position)
            .bind(&kinds)
            .bind(&ids)
            .fetch_all(&mut **tx)
            .await?;
            close_components(tx, feed, position, &closed).await?;
            Ok(closed.len() as u64)
        })
    }

    /// Ends every version of this feed that held before this snapshot and is not in
    /// it. As in the SQLite store, the keys of the current versions are read and
    /// compared here: an anti-join in SQL against the snapshot's keys was planned as a
    /// nested loop (the table has no statistics mid-transaction), quadratic in the
    /// feed's size.
    pub(super) fn close_missing(&mut self) -> Result<(), StoreError> {
        let (feed, position, tx) = (&self.header.feed, self.position, &mut self.tx);
        let current: Vec<(String, String)> = run(self.rt, self.broken, "commit", async {
            let rows = sqlx::query_as(
                "SELECT kind, doc_id FROM scheduler.documents
                 WHERE feed = $1 AND valid_to IS NULL AND valid_from < $2",
            )
            .bind(feed)
            .bind(position)
            .fetch_all(&mut **tx)
            .await?;
            Ok(rows)
        })?;
        let mut missing = Vec::new();
        for (kind, id) in &current {
            let parsed: DocumentKind = kind.parse().map_err(|_| StoreError::Corrupt {
                what: format!("document kind {kind:?}"),
            })?;
            if !self.seen.contains_key(&(parsed, id.clone())) {
                missing.push((parsed, id.as_str()));
            }
        }
        for chunk in missing.chunks(FLUSH_ROWS) {
            self.closed += self.close_all(chunk)?;
        }
        Ok(())
    }
}

/// Ends the components of the SBOMs among `closed` (kind, id) as of `position`.
async fn close_components(
    tx: &mut Transaction<'_, Postgres>,
    feed: &str,
    position: i64,
    closed: &[(String, String)],
) -> Result<(), sqlx::Error> {
    let artifacts: Vec<&str> = closed
        .iter()
        .filter(|(kind, _)| kind == DocumentKind::Sbom.as_str())
        .map(|(_, id)| id.as_str())
        .collect();
    if artifacts.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE scheduler.sbom_components SET valid_to = $2
         WHERE feed = $1 AND artifact = ANY($3::text[]) AND valid_to IS NULL",
    )
    .bind(feed)
    .bind(position)
    .bind(&artifacts)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
