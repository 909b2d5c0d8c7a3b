//! Reads for impact analysis: what changed at a position, and which artifacts ship a
//! package as of a position (the `sbom_components` index).

use rusqlite::params;

use super::{Store, StoreError, StoredDocument};
use crate::model::DocumentKind;

/// Which side of a change a document version is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    /// The version that stopped holding at the position (changed or withdrawn).
    Old,
    /// The version that began holding at the position (added or changed).
    New,
}

/// A component of an artifact, as the impact index holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactComponent {
    pub artifact: String,
    pub version: Option<String>,
    pub purl: String,
}

/// An artifact described by an SBOM holding at some position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactRef {
    pub artifact: String,
    pub feed: String,
    /// The SBOM subject's name (an image reference), when the bundle gave one.
    pub name: Option<String>,
}

impl Store {
    /// The versions of `kind` that began or stopped holding at `position`, in
    /// (feed, id, side) order.
    pub fn changed_at(
        &self,
        kind: DocumentKind,
        position: u64,
    ) -> Result<Vec<(Side, StoredDocument)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.feed, d.doc_id, d.format, d.path, d.subject_name, d.bytes,
                    d.valid_from = ?2 AS is_new
             FROM documents d
             WHERE d.kind = ?1 AND (d.valid_from = ?2 OR d.valid_to = ?2)
             ORDER BY d.feed, d.doc_id, is_new",
        )?;
        let rows = stmt.query_map(params![kind.as_str(), position as i64], |r| {
            let side = match r.get::<_, bool>(6)? {
                true => Side::New,
                false => Side::Old,
            };
            let doc = StoredDocument {
                feed: r.get(0)?,
                doc_id: r.get(1)?,
                format: r.get(2)?,
                path: r.get(3)?,
                subject_name: r.get(4)?,
                bytes: r.get(5)?,
            };
            Ok((side, doc))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The components filed under `package` (a `PackageKey::text()`) in SBOMs holding
    /// at `position`, in (artifact, purl) order.
    pub fn components_of(
        &self,
        package: &str,
        position: u64,
    ) -> Result<Vec<ArtifactComponent>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT artifact, version, purl FROM sbom_components
             WHERE package = ?1 AND valid_from <= ?2 AND (valid_to IS NULL OR valid_to > ?2)
             ORDER BY artifact, purl",
        )?;
        let rows = stmt.query_map(params![package, position as i64], |r| {
            Ok(ArtifactComponent {
                artifact: r.get(0)?,
                version: r.get(1)?,
                purl: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every artifact an SBOM describes as of `position`, in digest order; when two
    /// feeds describe one artifact, the first feed in name order names it.
    pub fn artifacts_as_of(&self, position: u64) -> Result<Vec<ArtifactRef>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT doc_id, feed, subject_name FROM documents
             WHERE kind = 'sbom' AND valid_from <= ?1 AND (valid_to IS NULL OR valid_to > ?1)
             ORDER BY doc_id, feed",
        )?;
        let rows = stmt.query_map(params![position as i64], |r| {
            Ok(ArtifactRef {
                artifact: r.get(0)?,
                feed: r.get(1)?,
                name: r.get(2)?,
            })
        })?;
        let mut out: Vec<ArtifactRef> = Vec::new();
        for row in rows {
            let row = row?;
            if out.last().is_none_or(|last| last.artifact != row.artifact) {
                out.push(row);
            }
        }
        Ok(out)
    }
}
