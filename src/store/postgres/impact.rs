//! Reads for impact analysis on PostgreSQL: what changed at a position, and which
//! artifacts ship a package as of a position. Mirrors store/impact.rs, in the same
//! orders (text compares by bytes: `PgStore::connect` refuses other collations).
//!
//! The SQLite store checks a row's span in Rust to keep its plans stable; here the span
//! is in the SQL. The `scan_*` visitors read the rows of one call before visiting them
//! rather than streaming, so a visitor never runs while the connection is busy.

use sqlx::Row as _;

use super::state::read_document;
use super::PgStore;
use crate::model::DocumentKind;
use crate::store::{
    ArtifactComponent, ArtifactRef, ComponentRef, Side, StoreError, StoredDocument,
};

/// Every SBOM document holding at `$1`, by artifact and then feed.
const SBOMS_AS_OF: &str = "SELECT doc_id, feed, subject_name FROM scheduler.documents
     WHERE kind = 'sbom' AND valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1)
     ORDER BY doc_id, feed";

impl PgStore {
    /// The versions of `kind` that began or stopped holding at `position`, in
    /// (feed, id, side) order.
    pub fn changed_at(
        &self,
        kind: DocumentKind,
        position: u64,
    ) -> Result<Vec<(Side, StoredDocument)>, StoreError> {
        self.block_on("changed_at", async {
            let mut conn = self.conn.lock().await;
            let rows = sqlx::query(
                "SELECT feed, doc_id, format, path, subject_name, bytes, 1 AS is_new
                 FROM scheduler.documents WHERE kind = $1 AND valid_from = $2
                 UNION ALL
                 SELECT feed, doc_id, format, path, subject_name, bytes, 0 AS is_new
                 FROM scheduler.documents WHERE kind = $1 AND valid_to = $2
                 ORDER BY 1, 2, 7",
            )
            .bind(kind.as_str())
            .bind(position as i64)
            .fetch_all(&mut *conn)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let side = match r.try_get::<i32, _>(6)? {
                    0 => Side::Old,
                    _ => Side::New,
                };
                out.push((side, read_document(r)?));
            }
            Ok(out)
        })
    }

    /// The components filed under `package` (a `PackageKey::text()`) in SBOMs holding
    /// at `position`, in (artifact, purl) order.
    pub fn components_of(
        &self,
        package: &str,
        position: u64,
    ) -> Result<Vec<ArtifactComponent>, StoreError> {
        self.block_on("components_of", async {
            let mut conn = self.conn.lock().await;
            let rows: Vec<(String, Option<String>, Option<String>, String)> = sqlx::query_as(
                "SELECT artifact, version, release, purl FROM scheduler.sbom_components
                 WHERE package = $1 AND valid_from <= $2
                   AND (valid_to IS NULL OR valid_to > $2)
                 ORDER BY artifact, purl",
            )
            .bind(package)
            .bind(position as i64)
            .fetch_all(&mut *conn)
            .await?;
            Ok(rows
                .into_iter()
                .map(|(artifact, version, release, purl)| ArtifactComponent {
                    artifact,
                    version,
                    release,
                    purl,
                })
                .collect())
        })
    }

    /// Visits the components filed under `package` as of `position`, in (artifact, purl)
    /// order: `components_of` for callers written against `Store::scan_components`.
    pub fn scan_components(
        &self,
        package: &str,
        position: u64,
        mut visit: impl FnMut(ComponentRef<'_>),
    ) -> Result<(), StoreError> {
        for c in self.components_of(package, position)? {
            visit(ComponentRef {
                artifact: &c.artifact,
                version: c.version.as_deref(),
                release: c.release.as_deref(),
                purl: &c.purl,
            });
        }
        Ok(())
    }

    /// Visits every artifact an SBOM describes as of `position`, in digest order, with
    /// its subject name (the first feed's by name when several describe it).
    pub fn scan_artifacts(
        &self,
        position: u64,
        mut visit: impl FnMut(&str, Option<&str>),
    ) -> Result<(), StoreError> {
        for a in self.artifacts_as_of(position)? {
            visit(&a.artifact, a.name.as_deref());
        }
        Ok(())
    }

    /// Every artifact an SBOM describes as of `position`, in digest order; when two
    /// feeds describe one artifact, the first feed in name order names it.
    pub fn artifacts_as_of(&self, position: u64) -> Result<Vec<ArtifactRef>, StoreError> {
        self.block_on("artifacts_as_of", async {
            let mut conn = self.conn.lock().await;
            let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(SBOMS_AS_OF)
                .bind(position as i64)
                .fetch_all(&mut *conn)
                .await?;
            let mut out: Vec<ArtifactRef> = Vec::new();
            for (artifact, feed, name) in rows {
                if out.last().is_none_or(|last| last.artifact != artifact) {
                    out.push(ArtifactRef {
                        artifact,
                        feed,
                        name,
                    });
                }
            }
            Ok(out)
        })
    }
}
