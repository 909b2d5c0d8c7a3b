//! Planning: every applied window becomes a run, and a recheck becomes a run, each with
//! one job per impacted artifact.

use super::{JobsError, Policies};
use crate::impact::{self, ImpactSet, Selector};
use crate::store::{NewJob, NewRun, RunRecord, Store, StoreError};

/// Creates a window run for every change-log position that has none, in order. Called
/// after every ingest and before every recheck, so runs are planned in position order
/// and each job's base position is the previous window that touched its artifact.
pub fn plan_windows(
    store: &mut Store,
    policies: &Policies,
    now_ms: i64,
) -> Result<Vec<RunRecord>, JobsError> {
    let mut planned = Vec::new();
    for position in store.unplanned_windows()? {
        let set = impact::window(store, position)?;
        let run = NewRun {
            trigger: "window".to_owned(),
            position,
            window_position: Some(position),
            selector: None,
            idempotency_key: None,
            tenant: "default".to_owned(),
            impact: canonical(&set),
            impact_digest: set.digest.clone(),
            created_ms: now_ms,
        };
        planned.push(store.create_run(&run, &jobs_for(&set, policies, now_ms))?);
    }
    Ok(planned)
}

/// A recheck of what `selector` names, at the latest position. With an idempotency key,
/// the same key gives the same run (and a different selector under a used key is an
/// error); the bool says whether the run was created now.
pub fn recheck(
    store: &mut Store,
    selector: &Selector,
    idempotency_key: Option<&str>,
    policies: &Policies,
    now_ms: i64,
) -> Result<(RunRecord, bool), JobsError> {
    let canonical_selector = selector.canonical();
    if let Some(key) = idempotency_key {
        if let Some(run) = existing(store, key, &canonical_selector)? {
            return Ok((run, false));
        }
    }
    plan_windows(store, policies, now_ms)?;
    let position = store.position()?;
    let set = impact::select(store, selector, position)?;
    let run = NewRun {
        trigger: "recheck".to_owned(),
        position,
        window_position: None,
        selector: Some(canonical_selector.clone()),
        idempotency_key: idempotency_key.map(str::to_owned),
        tenant: "default".to_owned(),
        impact: canonical(&set),
        impact_digest: set.digest.clone(),
        created_ms: now_ms,
    };
    match store.create_run(&run, &jobs_for(&set, policies, now_ms)) {
        Ok(created) => Ok((created, true)),
        // Another recheck with the same key won the race: answer with its run.
        Err(StoreError::IdempotencyKeyTaken { key }) => existing(store, &key, &canonical_selector)?
            .map(|run| (run, false))
            .ok_or(JobsError::Store(StoreError::IdempotencyKeyTaken { key })),
        Err(e) => Err(e.into()),
    }
}

/// The run created with `key`, if any; an error when it was for another selector.
fn existing(store: &Store, key: &str, selector: &str) -> Result<Option<RunRecord>, JobsError> {
    let Some(run) = store.run_by_idempotency_key(key)? else {
        return Ok(None);
    };
    if run.selector.as_deref() != Some(selector) {
        return Err(JobsError::IdempotencyConflict {
            key: key.to_owned(),
            run_id: run.run_id,
        });
    }
    Ok(Some(run))
}

fn canonical(set: &ImpactSet) -> Vec<u8> {
    crate::canonical::to_vec(set).expect("an impact set always serializes")
}

fn jobs_for(set: &ImpactSet, policies: &Policies, created_ms: i64) -> Vec<NewJob> {
    let jobs = set.artifacts.iter().map(|a| NewJob {
        artifact: a.artifact.clone(),
        severity: a.severity.as_str().to_owned(),
        priority: 0,
        deadline_ms: policies.sla.deadline_ms(a.severity, created_ms),
        max_attempts: policies.retry.max_attempts,
    });
    jobs.collect()
}
