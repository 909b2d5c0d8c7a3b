//! Reads for impact analysis: what changed at a position, and which artifacts ship a
//! package as of a position (the `sbom_components` index).

use rusqlite::params;

use super::{SqliteStore, StoreError, StoredDocument};
use crate::model::DocumentKind;

/// Which side of a change a document version is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    /// The version that stopped holding at the position (changed or withdrawn).
    Old,
    /// The version that began holding at the position (added or changed).
    New,
}

/// A component of an artifact, as the impact index holds it under one package key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactComponent {
    pub artifact: String,
    /// The version this key's lookup compares.
    pub version: Option<String>,
    pub release: Option<String>,
    pub purl: String,
}

/// A component row borrowed from the store while a scan visits it.
#[derive(Clone, Copy, Debug)]
pub struct ComponentRef<'r> {
    pub artifact: &'r str,
    pub version: Option<&'r str>,
    pub release: Option<&'r str>,
    pub purl: &'r str,
}

/// An artifact described by an SBOM holding at some position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactRef {
    pub artifact: String,
    pub feed: String,
    /// The SBOM subject's name (an image reference), when the bundle gave one.
    pub name: Option<String>,
}

impl SqliteStore {
    /// The versions of `kind` that began or stopped holding at `position`, in
    /// (feed, id, side) order.
    pub fn changed_at(
        &self,
        kind: DocumentKind,
        position: u64,
    ) -> Result<Vec<(Side, StoredDocument)>, StoreError> {
        // Two index searches (documents_kind_span, documents_closed), not one scan of
        // every version of the kind, which an OR would make.
        let mut stmt = self.conn.prepare_cached(
            "SELECT feed, doc_id, format, path, subject_name, bytes, 1 AS is_new
             FROM documents WHERE kind = ?1 AND valid_from = ?2
             UNION ALL
             SELECT feed, doc_id, format, path, subject_name, bytes, 0 AS is_new
             FROM documents WHERE kind = ?1 AND valid_to = ?2
             ORDER BY 1, 2, 7",
        )?;
        let rows = stmt.query_map(params![kind.as_str(), position as i64], |r| {
            let side = match r.get::<_, bool>(6)? {
                true => Side::New,
                false => Side::Old,
            };
            Ok((side, super::sqlite::read_document(r)?))
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
            "SELECT artifact, version, release, purl FROM sbom_components
             WHERE package = ?1 AND valid_from <= ?2 AND (valid_to IS NULL OR valid_to > ?2)
             ORDER BY artifact, purl",
        )?;
        let rows = stmt.query_map(params![package, position as i64], |r| {
            Ok(ArtifactComponent {
                artifact: r.get(0)?,
                version: r.get(1)?,
                release: r.get(2)?,
                purl: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Visits the components filed under `package` as of `position`, in (artifact, purl)
    /// order, without copying them: the hot loop of impact analysis.
    pub fn scan_components(
        &self,
        package: &str,
        position: u64,
        mut visit: impl FnMut(ComponentRef<'_>),
    ) -> Result<(), StoreError> {
        // The span is checked here, not in SQL: a bound position in a range constraint
        // makes SQLite (built with STAT4) re-prepare the statement at every call, which
        // cost more than the scan itself.
        let mut stmt = self.conn.prepare_cached(
            "SELECT artifact, version, release, purl, valid_from, valid_to FROM sbom_components
             WHERE package = ?1 ORDER BY artifact, purl",
        )?;
        let mut rows = stmt.query([package])?;
        let corrupt = |e: rusqlite::types::FromSqlError| StoreError::Corrupt {
            what: format!("sbom_components row of {package}: {e}"),
        };
        let at = position as i64;
        while let Some(r) = rows.next()? {
            let from: i64 = r.get(4)?;
            let to: Option<i64> = r.get(5)?;
            if from > at || to.is_some_and(|t| t <= at) {
                continue;
            }
            visit(ComponentRef {
                artifact: r.get_ref(0)?.as_str().map_err(corrupt)?,
                version: r.get_ref(1)?.as_str_or_null().map_err(corrupt)?,
                release: r.get_ref(2)?.as_str_or_null().map_err(corrupt)?,
                purl: r.get_ref(3)?.as_str().map_err(corrupt)?,
            });
        }
        Ok(())
    }

    /// Visits every artifact an SBOM describes as of `position`, in digest order, with
    /// its subject name (the first feed's by name when several describe it), without
    /// copying: how an impact set names its artifacts.
    pub fn scan_artifacts(
        &self,
        position: u64,
        mut visit: impl FnMut(&str, Option<&str>),
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT doc_id, subject_name, valid_from, valid_to
             FROM documents INDEXED BY documents_subjects
             WHERE kind = 'sbom' ORDER BY doc_id, feed",
        )?;
        let mut rows = stmt.query([])?;
        let corrupt = |e: rusqlite::types::FromSqlError| StoreError::Corrupt {
            what: format!("sbom document row: {e}"),
        };
        let (at, mut last) = (position as i64, String::new());
        while let Some(r) = rows.next()? {
            let from: i64 = r.get(2)?;
            let to: Option<i64> = r.get(3)?;
            if from > at || to.is_some_and(|t| t <= at) {
                continue;
            }
            let artifact = r.get_ref(0)?.as_str().map_err(corrupt)?;
            if artifact == last {
                continue;
            }
            visit(artifact, r.get_ref(1)?.as_str_or_null().map_err(corrupt)?);
            artifact.clone_into(&mut last);
        }
        Ok(())
    }

    /// Every artifact an SBOM describes as of `position`, in digest order; when two
    /// feeds describe one artifact, the first feed in name order names it.
    pub fn artifacts_as_of(&self, position: u64) -> Result<Vec<ArtifactRef>, StoreError> {
        // Covered by documents_subjects, in its order: the SBOMs' bytes are never read.
        let mut stmt = self.conn.prepare_cached(
            "SELECT doc_id, feed, subject_name FROM documents INDEXED BY documents_subjects
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
