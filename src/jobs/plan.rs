//! Planning: every applied window becomes a run, and a recheck becomes a run, each with
//! one job per impacted artifact.

use super::policy::{Tenants, ALL_TENANTS, DEFAULT_TENANT, RUNNING_PRIORITY};
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
        let span = tracing::info_span!("plan", position, run_id = tracing::field::Empty);
        let _entered = span.enter();
        let set = timed("window", || impact::window(store, position))?;
        let jobs = jobs_for(store, &set, policies, now_ms)?;
        let run = NewRun {
            trigger: "window".to_owned(),
            position,
            window_position: Some(position),
            selector: None,
            idempotency_key: None,
            tenant: run_tenant(&jobs),
            impact: canonical(&set),
            impact_digest: set.digest.clone(),
            created_ms: now_ms,
        };
        let created = store.create_run(&run, &jobs)?;
        span.record("run_id", created.run_id.as_str());
        tracing::info!(jobs = jobs.len(), "run planned");
        planned.push(created);
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
    let request = Request {
        trigger: "recheck",
        tenant: ALL_TENANTS,
    };
    recheck_as(store, selector, idempotency_key, &request, policies, now_ms)
}

/// Who asks for a run that is not a window, and why.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// `recheck`, `schedule` or `runtime`.
    pub trigger: &'a str,
    /// The asking tenant: the run covers only this tenant's artifacts and belongs to it;
    /// `*` covers every tenant's, and the run belongs to the tenant its jobs share.
    pub tenant: &'a str,
}

/// [`recheck`] on behalf of a tenant, with the given trigger.
pub fn recheck_as(
    store: &mut Store,
    selector: &Selector,
    idempotency_key: Option<&str>,
    request: &Request<'_>,
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
    let mut set = timed(request.trigger, || {
        impact::select(store, selector, position)
    })?;
    let mut jobs = jobs_for(store, &set, policies, now_ms)?;
    if request.tenant != ALL_TENANTS {
        (set, jobs) = keep_tenant(set, jobs, request.tenant);
    }
    let tenant = match request.tenant {
        ALL_TENANTS => run_tenant(&jobs),
        own => own.to_owned(),
    };
    let run = NewRun {
        trigger: request.trigger.to_owned(),
        position,
        window_position: None,
        selector: Some(canonical_selector.clone()),
        idempotency_key: idempotency_key.map(str::to_owned),
        tenant,
        impact: canonical(&set),
        impact_digest: set.digest.clone(),
        created_ms: now_ms,
    };
    match store.create_run(&run, &jobs) {
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

/// One job per impacted artifact, in the impact set's order: its tenant from the feed of
/// its SBOM, its deadline from the severity policy, and, when a runtime agent reports
/// it running, [`RUNNING_PRIORITY`] and half the deadline.
fn jobs_for(
    store: &Store,
    set: &ImpactSet,
    policies: &Policies,
    created_ms: i64,
) -> Result<Vec<NewJob>, JobsError> {
    let mut jobs = Vec::with_capacity(set.artifacts.len());
    for a in &set.artifacts {
        let feed = store.sbom_feed(&a.artifact, set.position)?;
        let deadline_ms = policies.sla.deadline_ms(a.severity, created_ms);
        let (priority, deadline_ms) = match store.is_running(&a.artifact)? {
            true => (
                RUNNING_PRIORITY,
                created_ms + (deadline_ms - created_ms) / 2,
            ),
            false => (0, deadline_ms),
        };
        jobs.push(NewJob {
            artifact: a.artifact.clone(),
            tenant: policies.tenants.of_feed(feed.as_deref()).to_owned(),
            severity: a.severity.as_str().to_owned(),
            priority,
            deadline_ms,
            max_attempts: policies.retry.max_attempts,
        });
    }
    Ok(jobs)
}

/// The tenant a run belongs to: the one all its jobs share, `*` (the site's) when they
/// belong to several, `default` when it has none.
fn run_tenant(jobs: &[NewJob]) -> String {
    let mut tenants = jobs.iter().map(|j| j.tenant.as_str());
    let Some(first) = tenants.next() else {
        return DEFAULT_TENANT.to_owned();
    };
    match tenants.all(|t| t == first) {
        true => first.to_owned(),
        false => ALL_TENANTS.to_owned(),
    }
}

/// Drops the artifacts (and their jobs) of other tenants from a tenant's recheck. The
/// impact digest is recomputed over what remains.
fn keep_tenant(set: ImpactSet, mut jobs: Vec<NewJob>, tenant: &str) -> (ImpactSet, Vec<NewJob>) {
    jobs.retain(|j| Tenants::may_see(tenant, &j.tenant));
    let kept: std::collections::BTreeSet<&str> = jobs.iter().map(|j| j.artifact.as_str()).collect();
    let set = set.only(|a| kept.contains(a.artifact.as_str()));
    (set, jobs)
}

/// Computes an impact set and counts its time in `stella_impact_duration_seconds`.
fn timed<T>(trigger: &str, compute: impl FnOnce() -> T) -> T {
    let started = std::time::Instant::now();
    let result = compute();
    crate::telemetry::metrics::impact_computed(trigger, started.elapsed());
    result
}
