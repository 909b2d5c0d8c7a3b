//! Finishing runs: once every job of a running run has succeeded or died, its deltas are
//! summed, digested and stated in a signed completion event; then events not yet in the
//! outbox are written there, each under its run id (rewriting one gives the same bytes).

use std::path::Path;

use ed25519_dalek::SigningKey;
use sha2::{Digest as _, Sha256};

use super::completion::{Completion, Subject, SubjectDigest};
use super::delta::{Delta, Summary};
use super::JobsError;
use crate::impact::ImpactSet;
use crate::store::{RunOutcome, RunRecord, Store};

/// The site identity finished runs are signed with.
#[derive(Debug)]
pub struct Finisher<'a> {
    pub site: &'a str,
    pub key: &'a SigningKey,
}

/// Finishes every run whose jobs are all done; returns the finished runs.
pub fn finish_runs(
    store: &mut Store,
    finisher: &Finisher<'_>,
    now_ms: i64,
) -> Result<Vec<RunRecord>, JobsError> {
    let mut finished = Vec::new();
    for seq in store.finishable_runs()? {
        let Some(run) = store.run_by_seq(seq)? else {
            continue;
        };
        // Logs only: the signed event's bytes never carry anything from the span.
        let _span = tracing::info_span!("finish", run_id = %run.run_id).entered();
        let outcome = outcome(store, &run, finisher, now_ms)?;
        if store.finish_run(seq, &outcome)? {
            tracing::info!(run_id = %run.run_id, state = %outcome.state, "run finished");
            finished.extend(store.run_by_seq(seq)?);
        }
    }
    Ok(finished)
}

fn outcome(
    store: &Store,
    run: &RunRecord,
    finisher: &Finisher<'_>,
    now_ms: i64,
) -> Result<RunOutcome, JobsError> {
    let counts = store.job_counts(run.seq)?;
    let state = if counts.dead > 0 {
        "failed"
    } else {
        "completed"
    };
    let mut summary = Summary {
        artifacts: run.artifacts,
        jobs_succeeded: counts.succeeded,
        jobs_dead: counts.dead,
        ..Summary::default()
    };
    let mut hasher = Sha256::new();
    for (_, bytes) in store.run_deltas(run.seq)? {
        let delta: Delta = decode(run, "delta", &bytes)?;
        summary.add(&delta);
        hasher.update(&bytes);
        hasher.update(b"\n");
    }
    let delta_digest = format!("sha256:{}", hex::encode(hasher.finalize()));
    let subjects = subjects(store, run)?;
    let window = match run.window_position {
        Some(p) => store.change_at(p)?,
        None => None,
    };
    // An in-toto statement needs at least one subject: a run that touched no artifact
    // finishes without an event (its summary stays in the store).
    let completion = (!subjects.is_empty()).then(|| {
        Completion {
            site: finisher.site,
            run,
            state,
            window: window.as_ref(),
            subjects: &subjects,
            summary: &summary,
            delta_digest: &delta_digest,
        }
        .sign(finisher.key)
    });
    Ok(RunOutcome {
        state: state.to_owned(),
        summary: crate::canonical::to_vec(&summary).map_err(JobsError::Encode)?,
        delta_digest,
        completion,
        finished_ms: now_ms,
    })
}

/// The run's impacted artifacts, named as their SBOM subjects name them.
fn subjects(store: &Store, run: &RunRecord) -> Result<Vec<Subject>, JobsError> {
    let impact: ImpactSet = decode(run, "impact set", &store.run_impact(run.seq)?)?;
    let subjects = impact.artifacts.into_iter().map(|a| Subject {
        digest: SubjectDigest {
            sha256: a.artifact.trim_start_matches("sha256:").to_owned(),
        },
        name: a.name.unwrap_or(a.artifact),
    });
    Ok(subjects.collect())
}

fn decode<T: serde::de::DeserializeOwned>(
    run: &RunRecord,
    what: &'static str,
    bytes: &[u8],
) -> Result<T, JobsError> {
    serde_json::from_slice(bytes).map_err(|source| JobsError::StoredRun {
        what,
        run_id: run.run_id.clone(),
        source,
    })
}

/// Writes every completion event not yet in `outbox/events/` there, as
/// `<run id>.dsse.json`; returns how many were written.
pub fn emit_events(store: &mut Store, outbox: &Path) -> Result<usize, JobsError> {
    let events = outbox.join("events");
    let pending = store.unemitted()?;
    if pending.is_empty() {
        return Ok(0);
    }
    std::fs::create_dir_all(&events).map_err(|source| JobsError::Outbox {
        path: events.clone(),
        source,
    })?;
    for (run_id, envelope) in &pending {
        let path = events.join(format!("{run_id}.dsse.json"));
        crate::fsutil::write_atomic(&path, envelope).map_err(|source| JobsError::Outbox {
            path: path.clone(),
            source,
        })?;
        store.mark_emitted(run_id)?;
    }
    Ok(pending.len())
}
