//! Completion bundles: the signed events and findings deltas of finished runs, carried
//! out of the site as a bundle in format v1 whose feed is the site id.
//!
//! Each export takes every finished run no earlier export carried, chains on the last
//! export (sequence + 1, previous = its bundle id; the first is a snapshot), and takes its
//! `createdAt` from the inputs: the latest `createdAt` among the bundles whose positions
//! the runs read. The same state exported by two sites with the same key gives the same
//! bytes.

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use serde::Serialize;

use crate::bundle::{
    write_bundle, BundleId, BundleSpec, InMemory, MemberPath, Mode, NewDocument, WriteError,
};
use crate::jobs::delta::Delta;
use crate::model::{DocumentFormat, DocumentKind};
use crate::store::{NewExport, Store, StoreError, Unexported};

/// The site a completion bundle comes from.
#[derive(Debug)]
pub struct Site<'a> {
    pub id: &'a str,
    pub key: &'a SigningKey,
}

/// What an export wrote.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exported {
    pub file: PathBuf,
    pub feed: String,
    pub sequence: u64,
    pub bundle_id: String,
    pub runs: Vec<String>,
    pub created_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("run {run_id} reads position {position}, which has no change-log entry")]
    NoCreatedAt { run_id: String, position: u64 },
    #[error("stored delta of run {run_id} does not decode (the store is damaged)")]
    StoredDelta {
        run_id: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("run id {0:?} cannot name a bundle member")]
    MemberName(String),
    #[error("stored bundle id {0:?} of the previous export is invalid (the store is damaged)")]
    PreviousId(String),
    #[error("cannot write the completion bundle")]
    Write(#[from] WriteError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The findings document of one run: every job's delta, by artifact.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FindingsDocument {
    schema: &'static str,
    run_id: String,
    position: u64,
    deltas: Vec<Delta>,
}

/// Exports every finished run not exported yet to `out` (or, given a folder, to
/// `<folder>/<site>-<sequence>.tar.zst`); `None` when there is nothing new.
pub fn export(
    store: &mut Store,
    site: &Site<'_>,
    out: &Path,
) -> Result<Option<Exported>, ExportError> {
    let runs = store.unexported()?;
    if runs.is_empty() {
        return Ok(None);
    }
    let head = store.export_head()?;
    let sequence = head.as_ref().map_or(1, |h| h.sequence + 1);
    let previous = match &head {
        None => None,
        Some(h) => Some(
            h.bundle_id
                .parse::<BundleId>()
                .map_err(|_| ExportError::PreviousId(h.bundle_id.clone()))?,
        ),
    };
    let created_at = created_at(store, &runs)?;
    let mut docs = Vec::new();
    for run in &runs {
        docs.extend(run_documents(store, run)?);
    }
    let spec = BundleSpec {
        feed: site.id.to_owned(),
        sequence,
        previous,
        mode: if sequence == 1 {
            Mode::Snapshot
        } else {
            Mode::Delta
        },
        created_at: created_at.clone(),
        expires_at: None,
        withdrawn: Vec::new(),
    };
    let file = match out.is_dir() {
        true => out.join(format!("{}-{sequence:06}.tar.zst", site.id)),
        false => out.to_owned(),
    };
    let written = write_bundle(spec, docs, std::slice::from_ref(site.key), &file)?;
    let seqs: Vec<u64> = runs.iter().map(|r| r.seq).collect();
    let bundle_id = written.id.to_string();
    store.record_export(&NewExport {
        sequence,
        bundle_id: &bundle_id,
        file: &file.display().to_string(),
        created_at: &created_at,
        runs: &seqs,
    })?;
    crate::telemetry::metrics::export_written();
    Ok(Some(Exported {
        file,
        feed: site.id.to_owned(),
        sequence,
        bundle_id,
        runs: runs.into_iter().map(|r| r.run_id).collect(),
        created_at,
    }))
}

/// The latest `createdAt` of the bundles at the runs' positions (RFC 3339 UTC texts of
/// one shape compare as text).
fn created_at(store: &Store, runs: &[Unexported]) -> Result<String, ExportError> {
    let mut latest = String::new();
    for run in runs {
        let at = store
            .created_at(run.position)?
            .ok_or_else(|| ExportError::NoCreatedAt {
                run_id: run.run_id.clone(),
                position: run.position,
            })?;
        latest = latest.max(at);
    }
    Ok(latest)
}

fn run_documents(store: &Store, run: &Unexported) -> Result<Vec<NewDocument>, ExportError> {
    let mut deltas = Vec::new();
    for (_, bytes) in store.run_deltas(run.seq)? {
        let delta: Delta =
            serde_json::from_slice(&bytes).map_err(|source| ExportError::StoredDelta {
                run_id: run.run_id.clone(),
                source,
            })?;
        deltas.push(delta);
    }
    let findings = FindingsDocument {
        schema: "stella.findings.v1",
        run_id: run.run_id.clone(),
        position: run.position,
        deltas,
    };
    let findings =
        crate::canonical::to_vec(&findings).map_err(|source| ExportError::StoredDelta {
            run_id: run.run_id.clone(),
            source,
        })?;
    Ok(vec![
        document(
            &format!("events/{}.dsse.json", run.run_id),
            DocumentKind::Completion,
            DocumentFormat::Dsse,
            run.completion.clone(),
        )?,
        document(
            &format!("findings/{}.json", run.run_id),
            DocumentKind::Findings,
            DocumentFormat::StellaFindings,
            findings,
        )?,
    ])
}

fn document(
    path: &str,
    kind: DocumentKind,
    format: DocumentFormat,
    bytes: Vec<u8>,
) -> Result<NewDocument, ExportError> {
    let member =
        MemberPath::parse(path.as_bytes()).map_err(|_| ExportError::MemberName(path.to_owned()))?;
    Ok(NewDocument {
        path: member,
        kind,
        format,
        subject: None,
        source: Box::new(InMemory {
            name: path.to_owned(),
            bytes,
        }),
    })
}
