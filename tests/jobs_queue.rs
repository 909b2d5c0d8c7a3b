//! The durable job queue through the library, on real SQLite files in temp dirs, with
//! the sample bundles ingested by the real `Ingestor`: fencing, leases and heartbeats,
//! rescue, dead letters and their revival, cancel, pause, deadline order, idempotent
//! rechecks, and retries that evaluate their run's pinned position whatever arrived
//! since. Store calls take explicit times; only `Worker::pass` reads the clock, and the
//! tests that use it retry at once (`base_ms: 0`) so that nothing waits.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ed25519_dalek::SigningKey;
use stella_scheduler::bundle::{keys, ExpiryPolicy, Limits};
use stella_scheduler::findings::{self, VexPolicy};
use stella_scheduler::impact::{self, Selector};
use stella_scheduler::ingest::{inbox, DataDir, Ingestor, InitOptions, Outcome};
use stella_scheduler::jobs::{
    self, delta, Finisher, JobsError, Policies, RetryPolicy, SlaPolicy, Worker,
};
use stella_scheduler::matching::Finding;
use stella_scheduler::model::{Digest, DocumentFormat, DocumentKind};
use stella_scheduler::store::{ClaimedJob, FenceLost, JobResult, Retry, RunRecord, Store};
use support::{bundle, doc, osv, Spec, ROOT};
use tempfile::TempDir;

const SITE: &str = "queue-site";
const SAMPLES: [&str; 3] = [
    "demo-osv-1-snapshot.tar.zst",
    "demo-vex-1-snapshot.tar.zst",
    "demo-sbom-1-snapshot.tar.zst",
];
/// An explicit clock for store calls: a lease, and a moment.
const LEASE: i64 = 60_000;
const T0: i64 = 1_000_000;

// ---------------------------------------------------------------- a site

fn sample(name: &str) -> PathBuf {
    Path::new(ROOT).join("bundles").join(name)
}

fn demo_key_path() -> PathBuf {
    Path::new(ROOT).join("bundles/demo-key/DEMO-ONLY-NOT-SECRET.key")
}

/// A data dir signing with the demo key, trusting it for the demo feeds, with the
/// sample advisories, VEX and SBOMs applied (positions 1 to 3).
struct Site {
    tmp: TempDir,
    dir: DataDir,
    store: Store,
}

impl Site {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(tmp.path().join("data"));
        let key = demo_key_path();
        let trust = sample("demo-trust.json");
        dir.init(&InitOptions {
            site_id: Some(SITE),
            site_key: Some(&key),
            trust: None,
            import_trust: Some(&trust),
        })
        .unwrap();
        let store = dir.open_store().unwrap();
        let site = Self { tmp, dir, store };
        site.ingest(&SAMPLES.map(sample));
        site
    }

    /// Applies `files` with the real ingestor; each must apply.
    fn ingest(&self, files: &[PathBuf]) {
        let mut ingestor = Ingestor::open(
            self.dir.clone(),
            None,
            Limits::default(),
            ExpiryPolicy::Enforce,
        )
        .unwrap();
        ingestor.enqueue(files).unwrap();
        let ready = inbox::bundles_in(&self.dir.inbox()).unwrap();
        let outcomes = ingestor.drain(ready, &mut |_| {}).unwrap();
        assert_eq!(outcomes.len(), files.len(), "{outcomes:?}");
        for outcome in &outcomes {
            assert!(matches!(outcome, Outcome::Applied { .. }), "{outcome:?}");
        }
    }

    /// Plans every window; returns the one run with jobs (the sample SBOMs' window).
    fn plan(&mut self, policies: &Policies, now_ms: i64) -> RunRecord {
        let planned = jobs::plan_windows(&mut self.store, policies, now_ms).unwrap();
        let mut with_jobs = planned.into_iter().filter(|r| r.artifacts > 0);
        let run = with_jobs.next().expect("the SBOM window impacts artifacts");
        assert!(with_jobs.next().is_none(), "one window with jobs");
        assert_eq!(run.artifacts, 6, "six sample SBOMs");
        run
    }

    fn worker(&self, policies: &Policies, owner: &str) -> Worker {
        let store = self.dir.open_store().unwrap();
        Worker::new(
            store,
            owner.to_owned(),
            policies.clone(),
            VexPolicy::default(),
        )
    }

    /// Finishes what can be finished, signed with the demo key as this site.
    fn finish(&mut self) -> Vec<RunRecord> {
        let key = site_key();
        let finisher = Finisher {
            site: SITE,
            key: &key,
        };
        jobs::finish_runs(&mut self.store, &finisher, T0).unwrap()
    }

    fn job_of(&self, run: &RunRecord, artifact: &str) -> stella_scheduler::store::JobRecord {
        let jobs = self.store.jobs(None, Some(&run.run_id), 100).unwrap();
        jobs.into_iter().find(|j| j.artifact == artifact).unwrap()
    }

    /// The current bytes of the SBOM describing `artifact`.
    fn sbom_bytes(&self, artifact: &str) -> Vec<u8> {
        let db = rusqlite::Connection::open(self.dir.database()).unwrap();
        db.query_row(
            "SELECT bytes FROM documents WHERE kind = 'sbom' AND doc_id = ?1",
            [artifact],
            |r| r.get(0),
        )
        .unwrap()
    }

    /// Overwrites the stored SBOM of `artifact` (to damage it, or to repair it).
    fn set_sbom_bytes(&self, artifact: &str, bytes: &[u8]) {
        let db = rusqlite::Connection::open(self.dir.database()).unwrap();
        let n = db
            .execute(
                "UPDATE documents SET bytes = ?1 WHERE kind = 'sbom' AND doc_id = ?2",
                rusqlite::params![bytes, artifact],
            )
            .unwrap();
        assert_eq!(n, 1, "one stored SBOM for {artifact}");
    }
}

fn site_key() -> SigningKey {
    keys::read_signing_key(&demo_key_path()).unwrap()
}

/// Retries without waiting, so that `Worker::pass` never has to sleep.
fn at_once(max_attempts: u32) -> Policies {
    Policies {
        sla: SlaPolicy::default(),
        retry: RetryPolicy {
            max_attempts,
            base_ms: 0,
            cap_ms: 0,
        },
        ..Policies::default()
    }
}

/// Passes until no job is queued or leased (bounded, so a stuck queue fails the test).
fn drain(worker: &mut Worker) {
    for _ in 0..20 {
        if worker.open_jobs().unwrap() == 0 {
            return;
        }
        worker.pass(16).unwrap();
    }
    panic!("jobs still open after 20 passes");
}

/// The artifact whose sample SBOM ships `pkg:npm/lodash@2.4.2`.
fn lodash_artifact(store: &Store) -> String {
    let selector = Selector::parse(r#"{"purl": "pkg:npm/lodash@2.4.2"}"#).unwrap();
    let set = impact::select(store, &selector, store.position().unwrap()).unwrap();
    assert_eq!(set.artifacts.len(), 1, "{set:?}");
    set.artifacts[0].artifact.clone()
}

/// The findings of `artifact` as of `position`, computed from the store now.
fn findings_at(store: &Store, artifact: &str, position: u64) -> Vec<Finding> {
    let digest: Digest = artifact.parse().unwrap();
    let snapshot = findings::knowledge_at(store, position, &VexPolicy::default()).unwrap();
    snapshot.artifact(store, &digest).unwrap()
}

/// A result for `job` as a worker would write it, from the findings at `as_of`.
fn result_bytes(store: &Store, job: &ClaimedJob, as_of: u64) -> (String, Vec<u8>, Vec<u8>) {
    let findings = findings_at(store, &job.artifact, as_of);
    let delta = delta::diff(
        &job.artifact,
        job.position,
        None,
        Vec::new(),
        findings.clone(),
    );
    let findings = stella_scheduler::canonical::to_vec(&findings).unwrap();
    let digest = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&findings))
    );
    let delta = stella_scheduler::canonical::to_vec(&delta).unwrap();
    (digest, findings, delta)
}

fn complete(
    store: &mut Store,
    job: &ClaimedJob,
    bytes: &(String, Vec<u8>, Vec<u8>),
    now_ms: i64,
) -> Result<(), FenceLost> {
    let result = JobResult {
        job_id: job.job_id,
        fence: job.fence,
        artifact: &job.artifact,
        position: job.position,
        findings: (&bytes.0, &bytes.1),
        delta: &bytes.2,
        now_ms,
    };
    store.complete_job(&result).unwrap()
}

/// The predicate of a completion envelope.
fn predicate(envelope: &[u8]) -> serde_json::Value {
    let envelope: serde_json::Value = serde_json::from_slice(envelope).unwrap();
    let payload = envelope["payload"].as_str().unwrap();
    let statement = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .unwrap();
    let statement: serde_json::Value = serde_json::from_slice(&statement).unwrap();
    statement["predicate"].clone()
}

// ---------------------------------------------------------------- fencing and leases

#[test]
fn a_worker_whose_lease_expired_cannot_complete_or_fail_after_another_claimed_the_job() {
    let mut site = Site::new();
    let run = site.plan(&Policies::default(), T0);
    let a = site
        .store
        .claim("worker-a", 1, T0, LEASE)
        .unwrap()
        .remove(0);
    assert_eq!((a.attempt, a.run_id.as_str()), (1, run.run_id.as_str()));

    // While A's lease holds, nobody else gets the job and rescue leaves it alone.
    let others = site.store.claim("worker-b", 100, T0 + 10, LEASE).unwrap();
    assert_eq!(others.len(), 5);
    assert!(others.iter().all(|j| j.job_id != a.job_id));
    assert_eq!(site.store.rescue_expired(T0 + LEASE).unwrap(), 0);

    // A stalls; its lease expires (B's, taken later, still hold) and B takes the job.
    assert_eq!(site.store.rescue_expired(T0 + LEASE + 1).unwrap(), 1);
    let b = site
        .store
        .claim("worker-b", 1, T0 + LEASE + 2, LEASE)
        .unwrap()
        .remove(0);
    assert_eq!(b.job_id, a.job_id);
    assert_eq!((b.fence, b.attempt), (a.fence + 1, 2));

    // A wakes with a stale result (the findings of another position): refused.
    let stale = result_bytes(&site.store, &a, 1);
    let fresh = result_bytes(&site.store, &b, b.position);
    assert!(
        stale.1 != fresh.1,
        "the two results differ, so the stored one tells"
    );
    let lost = complete(&mut site.store, &a, &stale, T0 + LEASE + 3).unwrap_err();
    assert_eq!((lost.job_id, lost.fence), (a.job_id, a.fence));
    let failed = site
        .store
        .fail_job(a.job_id, a.fence, "too late", Retry::At(T0), T0 + LEASE + 3)
        .unwrap();
    assert!(failed.is_err(), "a stale failure is refused too");
    assert!(!site.store.heartbeat(a.job_id, a.fence, T0 * 9).unwrap());

    complete(&mut site.store, &b, &fresh, T0 + LEASE + 4).unwrap();
    assert!(
        complete(&mut site.store, &a, &stale, T0 + LEASE + 5).is_err(),
        "and after B's success as well"
    );
    let stored = site.store.evaluation(&b.artifact, b.position).unwrap();
    assert!(
        stored.as_deref() == Some(&fresh.1[..]),
        "B's findings are stored"
    );
    let deltas: BTreeMap<_, _> = site
        .store
        .run_deltas(b.run_seq)
        .unwrap()
        .into_iter()
        .collect();
    assert!(
        deltas.get(&b.artifact) == Some(&fresh.2),
        "B's delta is stored"
    );
    let job = site.store.job(b.job_id).unwrap().unwrap();
    assert_eq!((job.state.as_str(), job.attempt), ("succeeded", 2));
    let attempts = site.store.job_attempts(b.job_id).unwrap();
    assert_eq!(
        attempts,
        vec![(1, "lease expired (worker stopped or stalled)".to_owned())]
    );
}

#[test]
fn heartbeats_extend_a_lease_so_that_rescue_leaves_it() {
    let mut site = Site::new();
    site.plan(&Policies::default(), T0);
    let a = site
        .store
        .claim("worker-a", 1, T0, LEASE)
        .unwrap()
        .remove(0);
    assert!(site
        .store
        .heartbeat(a.job_id, a.fence, T0 + 3 * LEASE)
        .unwrap());
    assert!(
        !site.store.heartbeat(a.job_id, a.fence + 1, T0 * 9).unwrap(),
        "a fence never handed out holds nothing"
    );

    // Past the first lease, the job is still A's.
    assert_eq!(site.store.rescue_expired(T0 + 2 * LEASE).unwrap(), 0);
    let b = site
        .store
        .claim("worker-b", 100, T0 + 2 * LEASE, LEASE)
        .unwrap();
    assert!(b.iter().all(|j| j.job_id != a.job_id));
    let held = site.store.job(a.job_id).unwrap().unwrap();
    assert_eq!(
        (held.state.as_str(), held.lease_owner.as_deref()),
        ("leased", Some("worker-a"))
    );
    assert_eq!(
        site.store
            .heartbeat_many(&[(a.job_id, a.fence), (a.job_id, 99)], T0 + 4 * LEASE)
            .unwrap(),
        1,
        "one of the two is held"
    );

    // Without more heartbeats it lapses like any other (B's with it).
    let rescued = site.store.rescue_expired(T0 + 4 * LEASE + 1).unwrap();
    assert_eq!(rescued, 1 + b.len() as u64);
    assert!(!site.store.heartbeat(a.job_id, a.fence, T0 * 9).unwrap());
    let job = site.store.job(a.job_id).unwrap().unwrap();
    assert_eq!((job.state.as_str(), job.lease_owner), ("queued", None));
}

#[test]
fn rescue_requeues_expired_leases_and_dead_letters_the_last_attempt() {
    let mut site = Site::new();
    let policies = Policies {
        retry: RetryPolicy {
            max_attempts: 2,
            ..RetryPolicy::default()
        },
        ..Policies::default()
    };
    let run = site.plan(&policies, T0);
    let first = site.store.claim("w", 100, T0, LEASE).unwrap();
    assert_eq!(first.len(), 6);
    assert_eq!(site.store.rescue_expired(T0 + LEASE).unwrap(), 0, "not yet");
    assert_eq!(site.store.rescue_expired(T0 + LEASE + 1).unwrap(), 6);
    for job in site.store.jobs(None, Some(&run.run_id), 100).unwrap() {
        assert_eq!((job.state.as_str(), job.attempt), ("queued", 1));
        assert_eq!(
            job.last_error.as_deref(),
            Some("lease expired (worker stopped or stalled)")
        );
    }

    let second = site.store.claim("w", 100, T0 + 2 * LEASE, LEASE).unwrap();
    assert!(second.iter().all(|j| j.attempt == 2));
    assert_eq!(site.store.rescue_expired(T0 + 3 * LEASE + 1).unwrap(), 6);
    let counts = site.store.job_counts(run.seq).unwrap();
    assert_eq!((counts.dead, counts.open()), (6, 0));
    for job in &second {
        let attempts = site.store.job_attempts(job.job_id).unwrap();
        let numbers: Vec<u32> = attempts.iter().map(|a| a.0).collect();
        assert_eq!(numbers, vec![1, 2]);
    }
    let finished = site.finish();
    let failed = finished.iter().find(|r| r.run_id == run.run_id).unwrap();
    assert_eq!(failed.state, "failed");
}

#[test]
fn a_restarted_host_takes_back_only_its_stopped_predecessors_leases() {
    let mut site = Site::new();
    site.plan(&Policies::default(), T0);
    let old = site.store.claim("queue-site:111:w0", 2, T0, LEASE).unwrap();
    let live = site.store.claim("queue-site:222:w1", 2, T0, LEASE).unwrap();
    let other = site.store.claim("elsewhere:111:w0", 2, T0, LEASE).unwrap();
    assert_eq!((old.len(), live.len(), other.len()), (2, 2, 2));

    // Host 222 starts its workers: the leases of 111 (same site, no longer running) come
    // back long before they expire; its own and another site's stay. The takeover is not
    // charged as an attempt: the whole claimed batch died with its host.
    let taken = site
        .store
        .rescue_abandoned("queue-site:111:", T0 + 1)
        .unwrap();
    assert_eq!(taken, 2);
    for job in &old {
        let record = site.store.job(job.job_id).unwrap().unwrap();
        assert_eq!(record.state, "queued");
        assert_eq!(record.attempt, 0, "a takeover is not an attempt");
        assert_eq!(
            record.last_error.as_deref(),
            Some("lease abandoned (its host stopped)")
        );
        assert!(site.store.job_attempts(job.job_id).unwrap().is_empty());
    }
    for job in live.iter().chain(&other) {
        assert_eq!(site.store.job(job.job_id).unwrap().unwrap().state, "leased");
    }
    // Had 111 still been alive, its late result would be refused.
    let again = site
        .store
        .claim("queue-site:222:w1", 2, T0 + 2, LEASE)
        .unwrap();
    assert_eq!(again.len(), 2);
    let late = result_bytes(&site.store, &old[0], old[0].position);
    assert!(complete(&mut site.store, &old[0], &late, T0 + 3).is_err());
}

/// A job whose hosts keep stopping while they hold it is dead-lettered after
/// MAX_TAKEOVERS takeovers, with the reason recorded: it may be what stops them.
#[test]
fn a_job_taken_over_too_often_is_dead_lettered() {
    use stella_scheduler::store::MAX_TAKEOVERS;
    let mut site = Site::new();
    site.plan(&Policies::default(), T0);
    let first = site.store.claim("queue-site:1:w0", 1, T0, LEASE).unwrap();
    let job_id = first[0].job_id;
    site.store.rescue_abandoned("queue-site:1:", T0).unwrap();
    for host in 2..=MAX_TAKEOVERS {
        let owner = format!("queue-site:{host}:w0");
        let claimed = site.store.claim(&owner, 1, T0, LEASE).unwrap();
        assert_eq!(claimed[0].job_id, job_id, "the same job comes back first");
        assert_eq!(claimed[0].attempt, 1, "takeovers are not attempts");
        site.store
            .rescue_abandoned(&format!("queue-site:{host}:"), T0)
            .unwrap();
    }
    let record = site.store.job(job_id).unwrap().unwrap();
    assert_eq!(record.state, "dead");
    let attempts = site.store.job_attempts(job_id).unwrap();
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert!(
        attempts[0]
            .1
            .contains(&format!("taken over {MAX_TAKEOVERS} times")),
        "{attempts:?}"
    );
}

// ---------------------------------------------------------------- failures

#[test]
fn a_job_failing_every_attempt_is_dead_lettered_with_its_error_chain_and_revived() {
    let mut site = Site::new();
    let policies = at_once(3);
    let run = site.plan(&policies, jobs::now_ms());
    let artifact = lodash_artifact(&site.store);
    let sbom = site.sbom_bytes(&artifact);
    site.set_sbom_bytes(&artifact, b"{ not json");

    let mut worker = site.worker(&policies, "w");
    drain(&mut worker);
    let job = site.job_of(&run, &artifact);
    assert_eq!((job.state.as_str(), job.attempt), ("dead", 3));
    let attempts = site.store.job_attempts(job.job_id).unwrap();
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    let top =
        format!("stored document demo-sbom/{artifact} no longer parses (the store is damaged): ");
    for (n, (attempt, chain)) in attempts.iter().enumerate() {
        assert_eq!(*attempt, n as u32 + 1);
        assert!(chain.starts_with(&top), "{chain}");
        assert!(chain.len() > top.len(), "the cause follows: {chain}");
    }
    assert_eq!(job.last_error.as_ref(), Some(&attempts[2].1));
    let counts = site.store.job_counts(run.seq).unwrap();
    assert_eq!((counts.succeeded, counts.dead), (5, 1));
    let finished = site.finish();
    assert_eq!(finished.len(), 3, "every window run");
    let failed = site.store.run(&run.run_id).unwrap().unwrap();
    assert_eq!(failed.state, "failed");

    // Only a dead job can be revived; reviving it reopens its run.
    let alive = site
        .store
        .jobs(Some("succeeded"), None, 1)
        .unwrap()
        .remove(0);
    assert!(!site.store.retry_job(alive.job_id, T0).unwrap());
    site.set_sbom_bytes(&artifact, &sbom);
    assert!(site.store.retry_job(job.job_id, jobs::now_ms()).unwrap());
    let revived = site.store.job(job.job_id).unwrap().unwrap();
    assert_eq!((revived.state.as_str(), revived.attempt), ("queued", 0));
    assert_eq!(
        site.store.run(&run.run_id).unwrap().unwrap().state,
        "running"
    );
    drain(&mut worker);
    site.finish();
    let done = site.store.run(&run.run_id).unwrap().unwrap();
    assert_eq!(done.state, "completed");
    let output = site.store.run_output(run.seq).unwrap();
    assert_eq!(
        predicate(&output.completion.unwrap())["summary"]["jobsDead"],
        0
    );
}

/// A run that failed, was emitted and exported, then revived: its new completion must
/// leave the site too, by `retry_job` or by `retry_run`.
#[test]
fn a_revived_run_emits_and_exports_its_new_completion() {
    for by_run in [false, true] {
        let mut site = Site::new();
        let policies = at_once(1);
        let run = site.plan(&policies, jobs::now_ms());
        let artifact = lodash_artifact(&site.store);
        let sbom = site.sbom_bytes(&artifact);
        site.set_sbom_bytes(&artifact, b"{ not json");
        let mut worker = site.worker(&policies, "w");
        drain(&mut worker);
        site.finish();
        let outbox = site.dir.outbox();
        assert_eq!(jobs::emit_events(&mut site.store, &outbox).unwrap(), 1);
        let event = outbox.join(format!("events/{}.dsse.json", run.run_id));
        assert_eq!(
            predicate(&std::fs::read(&event).unwrap())["state"],
            "failed"
        );
        let key = site_key();
        let export_site = stella_scheduler::export::Site {
            id: SITE,
            key: &key,
        };
        let first = stella_scheduler::export::export(&mut site.store, &export_site, &outbox);
        assert_eq!(first.unwrap().unwrap().runs, vec![run.run_id.clone()]);

        site.set_sbom_bytes(&artifact, &sbom);
        match by_run {
            false => {
                let job = site.job_of(&run, &artifact);
                assert!(site.store.retry_job(job.job_id, jobs::now_ms()).unwrap());
            }
            true => {
                let revived = site.store.retry_run(&run.run_id, jobs::now_ms()).unwrap();
                assert_eq!(revived, Some(1));
            }
        }
        drain(&mut worker);
        site.finish();
        assert_eq!(
            jobs::emit_events(&mut site.store, &outbox).unwrap(),
            1,
            "the new event is written (by_run {by_run})"
        );
        assert_eq!(
            predicate(&std::fs::read(&event).unwrap())["state"],
            "completed"
        );
        let second = stella_scheduler::export::export(&mut site.store, &export_site, &outbox);
        let second = second.unwrap().expect("a second export carries the run");
        assert_eq!(
            (second.sequence, second.runs),
            (2, vec![run.run_id.clone()])
        );
    }
}

// ---------------------------------------------------------------- cancel, pause, order

#[test]
fn cancelling_a_run_cancels_its_open_jobs_and_claims_skip_them() {
    let mut site = Site::new();
    let run = site.plan(&Policies::default(), T0);
    let all = Selector::parse(r#"{"all": true}"#).unwrap();
    let (other, _) = jobs::recheck(&mut site.store, &all, None, &Policies::default(), T0).unwrap();
    // The window's jobs have the nearer deadline (medium, against the recheck's low).
    let held = site.store.claim("a", 2, T0, LEASE).unwrap();
    assert!(held.iter().all(|j| j.run_id == run.run_id));

    assert!(site.store.cancel_run(&run.run_id, T0 + 1).unwrap());
    let counts = site.store.job_counts(run.seq).unwrap();
    assert_eq!((counts.cancelled, counts.open()), (6, 0));
    assert_eq!(
        site.store.run(&run.run_id).unwrap().unwrap().state,
        "cancelled"
    );
    let claimed = site.store.claim("b", 100, T0 + 2, LEASE).unwrap();
    assert_eq!(claimed.len(), 6);
    assert!(claimed.iter().all(|j| j.run_id == other.run_id));

    // The holders of cancelled jobs change nothing.
    let bytes = result_bytes(&site.store, &held[0], held[0].position);
    assert!(complete(&mut site.store, &held[0], &bytes, T0 + 3).is_err());
    assert!(!site
        .store
        .heartbeat(held[1].job_id, held[1].fence, T0 * 9)
        .unwrap());
    assert_eq!(
        site.store.rescue_expired(T0 + 9 * LEASE).unwrap(),
        6,
        "the recheck's"
    );
    assert_eq!(site.store.job_counts(run.seq).unwrap().cancelled, 6);
    assert!(!site.store.cancel_run(&run.run_id, T0 + 4).unwrap(), "once");
    site.finish();
    assert_eq!(
        site.store.run(&run.run_id).unwrap().unwrap().state,
        "cancelled"
    );
}

#[test]
fn a_paused_queue_hands_out_nothing_until_resumed() {
    let mut site = Site::new();
    site.plan(&Policies::default(), T0);
    site.store.set_paused(true).unwrap();
    assert!(site.store.paused().unwrap());
    assert_eq!(site.store.claim("w", 100, T0, LEASE).unwrap(), vec![]);
    assert_eq!(
        site.store.open_jobs().unwrap(),
        6,
        "nothing was lost meanwhile"
    );
    site.store.set_paused(false).unwrap();
    assert!(!site.store.paused().unwrap());
    assert_eq!(site.store.claim("w", 100, T0, LEASE).unwrap().len(), 6);
}

#[test]
fn jobs_nearer_their_deadline_are_claimed_first() {
    let mut site = Site::new();
    // The window's jobs (medium: 24 h) are planned first, the recheck's later with a
    // one-second SLA for `low`: later job ids, earlier deadlines.
    let window = site.plan(&Policies::default(), T0);
    let urgent = Policies {
        sla: SlaPolicy::from_config(&BTreeMap::from([("low".to_owned(), 1)])).unwrap(),
        ..Policies::default()
    };
    let all = Selector::parse(r#"{"all": true}"#).unwrap();
    let (recheck, _) = jobs::recheck(&mut site.store, &all, None, &urgent, T0 + 5_000).unwrap();
    let first = site
        .store
        .claim("w", 1, T0 + 5_000, LEASE)
        .unwrap()
        .remove(0);
    assert_eq!(first.run_id, recheck.run_id);
    assert_eq!(first.deadline_ms, T0 + 6_000);

    let mut order = vec![first];
    while let Some(job) = site.store.claim("w", 1, T0 + 5_000, LEASE).unwrap().pop() {
        order.push(job);
    }
    assert_eq!(order.len(), 12);
    let mut sorted = order.clone();
    sorted.sort_by_key(|j| (j.deadline_ms, j.job_id));
    assert_eq!(order, sorted, "deadline first, then job id");
    let runs: Vec<&str> = order.iter().map(|j| j.run_id.as_str()).collect();
    assert_eq!(runs[..6], [recheck.run_id.as_str(); 6]);
    assert_eq!(runs[6..], [window.run_id.as_str(); 6]);
}

#[test]
fn a_recheck_with_a_used_key_returns_its_run_and_refuses_another_selector() {
    let mut site = Site::new();
    site.plan(&Policies::default(), T0);
    let policies = Policies::default();
    let all = Selector::parse(r#"{"all": true}"#).unwrap();
    let (run, created) =
        jobs::recheck(&mut site.store, &all, Some("nightly"), &policies, T0).unwrap();
    assert!(created);
    assert_eq!(run.artifacts, 6);
    let runs_before = site.store.runs(None, 100).unwrap().len();
    let jobs_before = site.store.jobs(None, None, 1000).unwrap().len();

    let spaced = Selector::parse(r#"{ "all" : true }"#).unwrap();
    let (again, created) =
        jobs::recheck(&mut site.store, &spaced, Some("nightly"), &policies, T0 + 1).unwrap();
    assert!(!created);
    assert_eq!(again, run);
    assert_eq!(site.store.runs(None, 100).unwrap().len(), runs_before);
    assert_eq!(
        site.store.jobs(None, None, 1000).unwrap().len(),
        jobs_before
    );

    let lodash = Selector::parse(r#"{"purl": "pkg:npm/lodash"}"#).unwrap();
    let err =
        jobs::recheck(&mut site.store, &lodash, Some("nightly"), &policies, T0 + 2).unwrap_err();
    match err {
        JobsError::IdempotencyConflict { key, run_id } => {
            assert_eq!((key.as_str(), run_id), ("nightly", run.run_id.clone()));
        }
        other => panic!("expected an idempotency conflict, got {other}"),
    }
    assert_eq!(site.store.runs(None, 100).unwrap().len(), runs_before);
    let (fresh, created) =
        jobs::recheck(&mut site.store, &lodash, Some("weekly"), &policies, T0 + 3).unwrap();
    assert!(created && fresh.run_id != run.run_id);

    // Two rechecks racing with one new key: the store refuses the second insert with a
    // typed error (which recheck answers with the winner's run), not a raw constraint.
    let racing = stella_scheduler::store::NewRun {
        trigger: "recheck".to_owned(),
        position: fresh.position,
        window_position: None,
        selector: fresh.selector.clone(),
        idempotency_key: Some("weekly".to_owned()),
        tenant: "default".to_owned(),
        impact: b"{}".to_vec(),
        impact_digest: String::new(),
        created_ms: T0 + 4,
    };
    match site.store.create_run(&racing, &[]).unwrap_err() {
        stella_scheduler::store::StoreError::IdempotencyKeyTaken { key } => {
            assert_eq!(key, "weekly")
        }
        other => panic!("expected IdempotencyKeyTaken, got {other}"),
    }
}

// ---------------------------------------------------------------- retry determinism

/// A newer delta in the demo-osv chain: an advisory for the lodash that one sample
/// SBOM ships, so the latest findings of that artifact differ from its pinned ones.
fn newer_advisory(site: &Site, out: &Path) -> PathBuf {
    let head = site.store.feed_head("demo-osv").unwrap().unwrap();
    let file = out.join("demo-osv-3-delta.tar.zst");
    let advisory = doc(
        "advisories/DEMO-RETRY-1.json",
        DocumentKind::Advisory,
        DocumentFormat::Osv,
        osv("DEMO-RETRY-1", "lodash", "4.17.22"),
    );
    let spec = Spec::delta("demo-osv", head.sequence + 1, Some(&head.bundle_id));
    bundle(&file, spec, vec![advisory]);
    file
}

#[test]
fn a_retried_job_evaluates_its_runs_position_whatever_arrived_since() {
    let policies = at_once(5);

    // The reference: the run's jobs succeed before anything newer arrives.
    let mut reference = Site::new();
    let run = reference.plan(&policies, jobs::now_ms());
    drain(&mut reference.worker(&policies, "ref"));
    reference.finish();
    let artifact = lodash_artifact(&reference.store);
    let pinned = reference
        .store
        .evaluation(&artifact, run.position)
        .unwrap()
        .unwrap();
    let deltas = reference.store.run_deltas(run.seq).unwrap();
    let output = reference.store.run_output(run.seq).unwrap();

    // The same run elsewhere: the artifact's first attempt fails for real (its stored
    // SBOM is damaged); then the demo-osv delta and a newer advisory arrive, their
    // windows are planned, the SBOM is repaired and the job retried.
    let mut site = Site::new();
    let same = site.plan(&policies, jobs::now_ms());
    assert_eq!(
        (&same.run_id, same.position, &same.impact_digest),
        (&run.run_id, run.position, &run.impact_digest)
    );
    let sbom = site.sbom_bytes(&artifact);
    site.set_sbom_bytes(&artifact, b"[]");
    let mut worker = site.worker(&policies, "w");
    worker.pass(16).unwrap();
    let job = site.job_of(&run, &artifact);
    assert_eq!((job.state.as_str(), job.attempt), ("queued", 1));
    assert!(job.last_error.unwrap().contains("no longer parses"));

    site.ingest(&[sample("demo-osv-2-delta.tar.zst")]);
    site.ingest(&[newer_advisory(&site, site.tmp.path())]);
    let latest = site.store.position().unwrap();
    assert_eq!(latest, run.position + 3);
    let later = jobs::plan_windows(&mut site.store, &policies, jobs::now_ms()).unwrap();
    assert_eq!(later.len(), 2);
    site.set_sbom_bytes(&artifact, &sbom);
    drain(&mut worker);
    site.finish();

    let job = site.job_of(&run, &artifact);
    assert_eq!((job.state.as_str(), job.attempt), ("succeeded", 2));
    let retried = site.store.evaluation(&artifact, run.position).unwrap();
    assert!(
        retried.as_ref() == Some(&pinned),
        "the retry computed the findings of its run's position"
    );
    assert!(
        site.store.run_deltas(run.seq).unwrap() == deltas,
        "the same deltas"
    );
    assert!(
        site.store.run_output(run.seq).unwrap() == output,
        "the same summary and the same signed completion event"
    );

    // Had it read the latest state instead, it would have found something else.
    let now: Vec<Finding> = findings_at(&site.store, &artifact, latest);
    let then: Vec<Finding> = serde_json::from_slice(&pinned).unwrap();
    assert_ne!(
        now, then,
        "the newer advisory changes this artifact's findings"
    );
    let newest = later.iter().find(|r| r.position == latest).unwrap();
    let newest_deltas: BTreeMap<_, _> = site
        .store
        .run_deltas(newest.seq)
        .unwrap()
        .into_iter()
        .collect();
    let delta: delta::Delta = serde_json::from_slice(&newest_deltas[&artifact]).unwrap();
    assert_eq!(delta.base_position, Some(run.position));
    assert!(
        !delta.new.is_empty(),
        "the newer window's job sees the advisory"
    );
    for finding in &delta.new {
        assert_eq!(finding.vulnerability, "DEMO-RETRY-1");
        assert!(
            finding.component.starts_with("pkg:npm/lodash@"),
            "{finding:?}"
        );
    }
    assert!(
        delta.resolved.is_empty() && delta.changed.is_empty(),
        "{delta:?}"
    );
}

#[test]
fn the_backoff_schedule_replays_to_the_same_times() {
    let policy = RetryPolicy {
        max_attempts: 4,
        base_ms: 1_000,
        cap_ms: 60_000,
    };
    let policies = Policies {
        retry: policy,
        ..Policies::default()
    };
    let schedule = |site: &mut Site| -> (u64, Vec<i64>) {
        site.plan(&policies, T0);
        // Every other job is held for good, so that each claim below is the failing one.
        let mut claimed = site.store.claim("holder", 100, T0, i64::MAX / 4).unwrap();
        let mut job = claimed.remove(0);
        let mut times = Vec::new();
        let mut now = T0;
        loop {
            let retry = match policy.next_attempt(job.job_id, job.attempt, now, job.deadline_ms) {
                Some(at) => Retry::At(at),
                None => Retry::DeadLetter,
            };
            let error = format!("attempt {} failed", job.attempt);
            site.store
                .fail_job(job.job_id, job.fence, &error, retry, now)
                .unwrap()
                .unwrap();
            let Retry::At(at) = retry else { break };
            let record = site.store.job(job.job_id).unwrap().unwrap();
            assert_eq!(record.not_before_ms, at);
            times.push(at);
            assert_eq!(
                site.store.claim("w", 1, at - 1, LEASE).unwrap(),
                vec![],
                "not before"
            );
            job = site.store.claim("w", 1, at, LEASE).unwrap().remove(0);
            now = at + 7;
        }
        let record = site.store.job(job.job_id).unwrap().unwrap();
        assert_eq!((record.state.as_str(), record.attempt), ("dead", 4));
        assert_eq!(site.store.job_attempts(job.job_id).unwrap().len(), 4);
        (job.job_id, times)
    };
    let (job_id, first) = schedule(&mut Site::new());
    let (again_id, second) = schedule(&mut Site::new());
    assert_eq!(
        (job_id, &first),
        (again_id, &second),
        "a replay gives the same times"
    );
    assert_eq!(first.len(), 3);
    let mut at = T0;
    for (n, next) in first.iter().enumerate() {
        let raw = 1_000i64 << n;
        let delay = next - at;
        assert!(
            (raw / 2..raw).contains(&delay),
            "retry {}: {delay} ms",
            n + 1
        );
        at = next + 7;
    }
}
