//! The durable job queue on PostgreSQL (store/postgres/), each test on a fresh database
//! of a real server (tests/pg_support): the queue behaviours tests/jobs_queue.rs checks
//! on SQLite (fencing, retries with backoff and dead letters, rescue, deadline order,
//! pause, cancel), the same results as the SQLite store for one script of calls, claims
//! from several connections at once, the claim's plan, and migrations.
//! Store calls take explicit times; nothing reads the clock.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod pg_support;

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

use pg_support::TestDb;
use stella_scheduler::store::postgres::PgStore;
use stella_scheduler::store::{
    ClaimedJob, FenceLost, JobResult, NewJob, NewRun, Retry, RunRecord, Store, StoreError,
    MAX_TAKEOVERS,
};

const LEASE: i64 = 60_000;
const T0: i64 = 1_000_000;

fn new_run(position: u64, key: Option<&str>) -> NewRun {
    NewRun {
        trigger: "recheck".to_owned(),
        position,
        window_position: None,
        selector: Some(r#"{"purl":"pkg:npm/x"}"#.to_owned()),
        idempotency_key: key.map(str::to_owned),
        tenant: "default".to_owned(),
        impact: b"{}".to_vec(),
        impact_digest: "sha256:00".to_owned(),
        created_ms: T0,
    }
}

fn job(artifact: &str, deadline_ms: i64, priority: i64, max_attempts: u32) -> NewJob {
    NewJob {
        artifact: artifact.to_owned(),
        tenant: "default".to_owned(),
        severity: "high".to_owned(),
        priority,
        deadline_ms,
        max_attempts,
    }
}

/// `n` jobs with distinct artifacts, all due at `T0 + 1000`.
fn jobs(n: usize, max_attempts: u32) -> Vec<NewJob> {
    (0..n)
        .map(|i| job(&format!("sha256:{i:064x}"), T0 + 1_000, 0, max_attempts))
        .collect()
}

fn result(job: &ClaimedJob, now_ms: i64) -> JobResult<'_> {
    JobResult {
        job_id: job.job_id,
        fence: job.fence,
        artifact: &job.artifact,
        position: job.position,
        findings: ("sha256:findings", b"[]"),
        delta: b"{\"added\":[]}",
        now_ms,
    }
}

fn state_of(store: &PgStore, job_id: u64) -> String {
    store.job(job_id).unwrap().unwrap().state
}

// ---------------------------------------------------------------- fencing

#[test]
fn a_worker_whose_lease_expired_cannot_complete_or_fail_after_another_claimed_the_job() {
    let (db, mut store) = pg!("fencing");
    store.create_run(&new_run(1, None), &jobs(3, 3)).unwrap();
    let a = store.claim("worker-a", 1, T0, LEASE).unwrap().remove(0);
    assert_eq!((a.job_id, a.fence, a.attempt), (1, 1, 1));
    let others = store.claim("worker-b", 100, T0 + 10, LEASE).unwrap();
    assert_eq!(others.len(), 2, "the other two jobs");

    assert_eq!(
        store.rescue_expired(T0 + LEASE).unwrap(),
        0,
        "not expired yet"
    );
    assert_eq!(store.rescue_expired(T0 + LEASE + 1).unwrap(), 1);
    let b = store
        .claim("worker-b", 1, T0 + LEASE + 2, LEASE)
        .unwrap()
        .remove(0);
    assert_eq!((b.job_id, b.fence, b.attempt), (a.job_id, a.fence + 1, 2));

    let late = store.complete_job(&result(&a, T0 + LEASE + 3)).unwrap();
    assert!(
        matches!(
            late,
            Err(FenceLost {
                job_id: 1,
                fence: 1
            })
        ),
        "{late:?}"
    );
    let late = store
        .fail_job(a.job_id, a.fence, "late", Retry::At(T0), T0 + LEASE + 3)
        .unwrap();
    assert!(late.is_err(), "a stale fence cannot fail the job either");
    assert!(!store.heartbeat(a.job_id, a.fence, T0 * 9).unwrap());
    assert_eq!(state_of(&store, a.job_id), "leased", "b still holds it");

    store
        .complete_job(&result(&b, T0 + LEASE + 4))
        .unwrap()
        .unwrap();
    let done = store.job(b.job_id).unwrap().unwrap();
    assert_eq!((done.state.as_str(), done.lease_owner), ("succeeded", None));
    let again = store.complete_job(&result(&b, T0 + LEASE + 5)).unwrap();
    assert!(again.is_err(), "a finished job completes once");

    // Succeeded jobs left the hot table with their results written beside them.
    assert_eq!(
        db.column("SELECT job_id::text FROM scheduler.jobs_finished"),
        ["1"]
    );
    assert_eq!(
        db.column("SELECT count(*)::text FROM scheduler.jobs WHERE job_id = 1"),
        ["0"]
    );
    assert_eq!(
        db.column("SELECT encode(delta, 'escape') FROM scheduler.deltas"),
        ["{\"added\":[]}"]
    );
    assert_eq!(
        db.column("SELECT digest FROM scheduler.evaluations"),
        ["sha256:findings"]
    );
}

#[test]
fn heartbeats_extend_a_lease_so_that_rescue_leaves_it() {
    let (_db, mut store) = pg!("heartbeats");
    store.create_run(&new_run(1, None), &jobs(2, 3)).unwrap();
    let held = store.claim("w", 2, T0, LEASE).unwrap();
    let pairs: Vec<(u64, u64)> = held.iter().map(|j| (j.job_id, j.fence)).collect();
    assert!(
        !store.heartbeat(1, held[0].fence + 1, T0 * 9).unwrap(),
        "wrong fence"
    );
    assert_eq!(store.heartbeat_many(&pairs, T0 + 3 * LEASE).unwrap(), 2);
    assert_eq!(
        store
            .heartbeat_many(&[pairs[0], pairs[0], (99, 1)], T0 + 3 * LEASE)
            .unwrap(),
        2,
        "a pair given twice counts twice, as on SQLite; an unknown job not at all"
    );
    assert_eq!(store.rescue_expired(T0 + 2 * LEASE).unwrap(), 0);
    assert_eq!(store.rescue_expired(T0 + 3 * LEASE + 1).unwrap(), 2);
    assert!(!store.heartbeat(pairs[0].0, pairs[0].1, T0 * 9).unwrap());
}

// ---------------------------------------------------------------- retries and dead letters

#[test]
fn a_job_failing_every_attempt_backs_off_then_is_dead_lettered_with_its_errors_and_revived() {
    let (db, mut store) = pg!("retries");
    let run = store.create_run(&new_run(1, None), &jobs(1, 3)).unwrap();
    let mut at = T0;
    for attempt in 1..=3u32 {
        assert_eq!(
            store.claim("w", 1, at - 1, LEASE).unwrap(),
            vec![],
            "backing off"
        );
        let job = store.claim("w", 1, at, LEASE).unwrap().remove(0);
        assert_eq!(job.attempt, attempt);
        let retry = match attempt {
            3 => Retry::DeadLetter,
            _ => Retry::At(at + 1_000 * i64::from(attempt)),
        };
        let error = format!("attempt {attempt}: boom");
        store
            .fail_job(job.job_id, job.fence, &error, retry, at)
            .unwrap()
            .unwrap();
        if let Retry::At(next) = retry {
            at = next;
        }
    }
    let dead = store.job(1).unwrap().unwrap();
    assert_eq!(dead.state, "dead");
    assert_eq!(dead.last_error.as_deref(), Some("attempt 3: boom"));
    assert!(
        dead.sla_breached,
        "the last attempt failed after the deadline"
    );
    assert_eq!(
        store.job_attempts(1).unwrap(),
        (1..=3)
            .map(|a| (a, format!("attempt {a}: boom")))
            .collect::<Vec<_>>()
    );
    assert_eq!(store.claim("w", 1, at + 99_999, LEASE).unwrap(), vec![]);
    assert_eq!(store.open_jobs().unwrap(), 0);

    db.exec("UPDATE scheduler.runs SET state = 'failed', finished_ms = 5");
    assert!(store.retry_job(1, T0 * 2).unwrap());
    assert!(!store.retry_job(1, T0 * 2).unwrap(), "no longer dead");
    let revived = store.job(1).unwrap().unwrap();
    assert_eq!((revived.state.as_str(), revived.attempt), ("queued", 0));
    let run = store.run(&run.run_id).unwrap().unwrap();
    assert_eq!((run.state.as_str(), run.finished_ms), ("running", None));
    let again = store.claim("w", 1, T0 * 2, LEASE).unwrap().remove(0);
    assert_eq!(again.attempt, 1, "fresh attempts");
}

// ---------------------------------------------------------------- rescue

#[test]
fn rescue_requeues_expired_leases_and_dead_letters_the_last_attempt() {
    let (_db, mut store) = pg!("rescue");
    store.create_run(&new_run(1, None), &jobs(4, 2)).unwrap();
    assert_eq!(store.claim("w", 100, T0, LEASE).unwrap().len(), 4);
    assert_eq!(store.rescue_expired(T0 + LEASE).unwrap(), 0, "not yet");
    assert_eq!(store.rescue_expired(T0 + LEASE + 1).unwrap(), 4);
    let all = store.jobs(None, None, u64::MAX).unwrap();
    assert!(all
        .iter()
        .all(|j| j.state == "queued" && j.lease_owner.is_none()));
    assert_eq!(
        store.claim("w", 100, T0 + 2 * LEASE, LEASE).unwrap().len(),
        4
    );
    assert_eq!(store.rescue_expired(T0 + 3 * LEASE + 1).unwrap(), 4);
    let dead = store.jobs(Some("dead"), None, u64::MAX).unwrap();
    assert_eq!(dead.len(), 4, "the second attempt was the last");
    let expired = "lease expired (worker stopped or stalled)".to_owned();
    assert_eq!(
        store.job_attempts(1).unwrap(),
        vec![(1, expired.clone()), (2, expired)]
    );
}

#[test]
fn a_restarted_host_takes_back_only_its_stopped_predecessors_leases() {
    let (_db, mut store) = pg!("abandoned");
    store.create_run(&new_run(1, None), &jobs(6, 3)).unwrap();
    let old = store.claim("site:111:w0", 2, T0, LEASE).unwrap();
    store.claim("site:222:w1", 2, T0, LEASE).unwrap();
    store.claim("elsewhere:111:w0", 2, T0, LEASE).unwrap();
    assert_eq!(
        store.lease_owners().unwrap(),
        ["elsewhere:111:w0", "site:111:w0", "site:222:w1"]
    );
    assert_eq!(store.rescue_abandoned("site:111:", T0 + 1).unwrap(), 2);
    for job in &old {
        let back = store.job(job.job_id).unwrap().unwrap();
        assert_eq!(
            (back.state.as_str(), back.attempt),
            ("queued", 0),
            "no attempt charged"
        );
        assert_eq!(
            back.last_error.as_deref(),
            Some("lease abandoned (its host stopped)")
        );
    }
    assert_eq!(
        store.lease_owners().unwrap(),
        ["elsewhere:111:w0", "site:222:w1"]
    );
}

#[test]
fn a_job_taken_over_too_often_is_dead_lettered() {
    let (_db, mut store) = pg!("takeovers");
    store.create_run(&new_run(1, None), &jobs(1, 3)).unwrap();
    for n in 1..=MAX_TAKEOVERS {
        let owner = format!("site:{n}:w0");
        assert_eq!(
            store.claim(&owner, 1, T0, LEASE).unwrap().len(),
            1,
            "take {n}"
        );
        assert_eq!(
            store.rescue_abandoned(&format!("site:{n}:"), T0).unwrap(),
            1
        );
    }
    let dead = store.job(1).unwrap().unwrap();
    assert_eq!((dead.state.as_str(), dead.attempt), ("dead", 1));
    assert_eq!(
        store.job_attempts(1).unwrap(),
        vec![(
            1,
            format!(
                "taken over {MAX_TAKEOVERS} times: the host running it stopped each time \
                 (the job may be what stops it)"
            )
        )]
    );
}

// ---------------------------------------------------------------- order, pause, cancel

#[test]
fn jobs_nearer_their_deadline_are_claimed_first_then_by_priority() {
    let (_db, mut store) = pg!("deadlines");
    let planned = [
        job("sha256:a", T0 + 300, 0, 3),
        job("sha256:b", T0 + 100, 0, 3),
        job("sha256:c", T0 + 200, 1, 3),
        job("sha256:d", T0 + 200, 5, 3),
        job("sha256:e", T0 + 100, 0, 3),
    ];
    store.create_run(&new_run(1, None), &planned).unwrap();
    let batch = store.claim("w", 3, T0, LEASE).unwrap();
    let ids: Vec<u64> = batch.iter().map(|j| j.job_id).collect();
    assert_eq!(ids, [2, 5, 4], "deadline, then priority, then job id");
    let mut rest = Vec::new();
    while let Some(job) = store.claim("w", 1, T0, LEASE).unwrap().pop() {
        rest.push(job.artifact);
    }
    assert_eq!(rest, ["sha256:c", "sha256:a"]);

    // Finishing past the deadline marks the breach.
    store
        .complete_job(&result(&batch[0], T0 + 101))
        .unwrap()
        .unwrap();
    store
        .complete_job(&result(&batch[2], T0 + 150))
        .unwrap()
        .unwrap();
    assert!(store.job(2).unwrap().unwrap().sla_breached);
    assert!(!store.job(4).unwrap().unwrap().sla_breached);
    assert_eq!(store.scheduler_counts().unwrap().sla_breached, 1);
}

#[test]
fn a_paused_queue_hands_out_nothing_until_resumed() {
    let (_db, mut store) = pg!("pause");
    store.create_run(&new_run(1, None), &jobs(6, 3)).unwrap();
    assert!(!store.paused().unwrap());
    store.set_paused(true).unwrap();
    assert!(store.paused().unwrap());
    assert_eq!(store.claim("w", 100, T0, LEASE).unwrap(), vec![]);
    store.set_paused(false).unwrap();
    assert_eq!(store.claim("w", 100, T0, LEASE).unwrap().len(), 6);
}

#[test]
fn cancelling_a_run_finishes_its_open_jobs_and_claims_skip_them() {
    let (db, mut store) = pg!("cancel");
    let run = store.create_run(&new_run(1, None), &jobs(4, 3)).unwrap();
    let held = store.claim("a", 2, T0, LEASE).unwrap();
    assert!(store.cancel_run(&run.run_id, T0 + 1).unwrap());
    assert!(!store.cancel_run(&run.run_id, T0 + 1).unwrap(), "once");
    assert_eq!(store.claim("b", 100, T0 + 2, LEASE).unwrap(), vec![]);
    assert!(store
        .complete_job(&result(&held[0], T0 + 3))
        .unwrap()
        .is_err());
    let counts = store.job_counts(run.seq).unwrap();
    assert_eq!((counts.cancelled, counts.open()), (4, 0));
    assert_eq!(
        db.column("SELECT count(*)::text FROM scheduler.jobs_finished WHERE state = 'cancelled'"),
        ["4"]
    );
    let listed = store
        .jobs(Some("cancelled"), Some(&run.run_id), u64::MAX)
        .unwrap();
    assert_eq!(
        listed.iter().map(|j| j.job_id).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(
        store.finishable_runs().unwrap(),
        Vec::<u64>::new(),
        "not running"
    );
}

// ---------------------------------------------------------------- same results as SQLite

/// One script of queue calls, whose every result is recorded as text.
macro_rules! script {
    ($store:expr) => {{
        let store = &mut $store;
        let mut out: Vec<String> = Vec::new();
        let mut note = |what: &str, value: String| out.push(format!("{what}: {value}"));
        let first = [
            job("sha256:b", T0 + 500, 1, 2),
            job("sha256:a", T0 + 100, 0, 2),
            job("sha256:c", T0 + 500, 3, 2),
        ];
        let r1 = store.create_run(&new_run(1, Some("k1")), &first).unwrap();
        note("r1", format!("{r1:?}"));
        let taken = store.create_run(&new_run(2, Some("k1")), &[]).unwrap_err();
        note("taken", taken.to_string());
        let second = [
            job("sha256:a", T0 + 50, 0, 2),
            job("sha256:d", T0 + 900, 0, 1),
        ];
        let r2 = store.create_run(&new_run(3, Some("k2")), &second).unwrap();
        note("r2", format!("{r2:?}"));
        let empty = store.create_run(&new_run(4, None), &[]).unwrap();
        note("empty", format!("{empty:?}"));
        let claimed = store.claim("site:1:w0", 2, T0, LEASE).unwrap();
        note("claim", format!("{claimed:?}"));
        let results = [result(&claimed[0], T0 + 200), result(&claimed[0], T0 + 201)];
        note(
            "complete",
            format!("{:?}", store.complete_jobs(&results).unwrap()),
        );
        let failed = store
            .fail_job(
                claimed[1].job_id,
                claimed[1].fence,
                "e1",
                Retry::At(T0 + 5),
                T0 + 1,
            )
            .unwrap();
        note("fail", format!("{failed:?}"));
        let claimed = store.claim("site:2:w0", 10, T0 + 5, LEASE).unwrap();
        note("claim", format!("{claimed:?}"));
        let held: Vec<(u64, u64)> = claimed.iter().map(|j| (j.job_id, j.fence)).collect();
        note(
            "beat",
            format!("{:?}", store.heartbeat_many(&held[..2], T0 + 9 * LEASE)),
        );
        note(
            "rescue",
            format!("{:?}", store.rescue_expired(T0 + LEASE + 6)),
        );
        note(
            "abandoned",
            format!("{:?}", store.rescue_abandoned("site:2:", T0 + 7)),
        );
        note(
            "cancel",
            format!("{:?}", store.cancel_run(&r2.run_id, T0 + 8)),
        );
        note("retry", format!("{:?}", store.retry_job(2, T0 + 9)));
        note("open", format!("{:?}", store.open_jobs()));
        note("jobs", format!("{:?}", store.jobs(None, None, u64::MAX)));
        note(
            "runs' jobs",
            format!("{:?}", store.jobs(None, Some(&r1.run_id), 2)),
        );
        for id in 1..=5 {
            note("attempts", format!("{:?}", store.job_attempts(id)));
        }
        note("counts", format!("{:?}", store.job_counts(r1.seq)));
        note("all counts", format!("{:?}", store.scheduler_counts()));
        note("finishable", format!("{:?}", store.finishable_runs()));
        note("owners", format!("{:?}", store.lease_owners()));
        // A run at a lower position than earlier ones: each job's base position is the
        // highest position of the earlier runs that planned its artifact, cancelled
        // (sha256:d) and finished (sha256:a) ones included.
        let third = [
            job("sha256:a", T0 + 10, 0, 2),
            job("sha256:d", T0 + 10, 0, 2),
            job("sha256:e", T0 + 10, 0, 2),
        ];
        let r3 = store.create_run(&new_run(2, None), &third).unwrap();
        let bases: Vec<_> = store
            .claim("site:3:w0", 50, T0 + 20 * LEASE, LEASE)
            .unwrap()
            .into_iter()
            .filter(|j| j.run_id == r3.run_id)
            .map(|j| (j.artifact, j.base_position))
            .collect();
        note("bases", format!("{bases:?}"));
        let twice = [job("sha256:f", T0, 0, 1), job("sha256:f", T0, 0, 1)];
        note(
            "twice",
            format!("{:?}", store.create_run(&new_run(5, None), &twice)),
        );
        note("runs after", format!("{:?}", store.scheduler_counts()));
        out
    }};
}

#[test]
fn the_same_calls_give_the_same_results_as_the_sqlite_store() {
    let (_db, mut pg) = pg!("parity");
    let tmp = tempfile::tempdir().unwrap();
    let mut sqlite = Store::open(&tmp.path().join("state.db")).unwrap();
    let expected = script!(sqlite);
    let got = script!(pg);
    for (e, g) in expected.iter().zip(&got) {
        assert_eq!(g, e);
    }
    assert_eq!(expected.len(), got.len());
    let line = |what: &str| {
        expected
            .iter()
            .find(|l| l.starts_with(what))
            .unwrap()
            .clone()
    };
    assert_eq!(
        line("bases: "),
        r#"bases: [("sha256:a", Some(3)), ("sha256:d", Some(3)), ("sha256:e", None)]"#
    );
    assert_eq!(
        line("twice: "),
        "twice: Err(ArtifactTwiceInRun { artifact: \"sha256:f\" })"
    );
    assert_eq!(got.len(), expected.len());
    assert!(expected
        .iter()
        .any(|line| line.contains("base_position: Some(1)")));
}

#[test]
fn a_used_idempotency_key_is_refused_without_consuming_a_run_number() {
    let (_db, mut store) = pg!("idempotency");
    store
        .create_run(&new_run(1, Some("k")), &jobs(1, 1))
        .unwrap();
    match store
        .create_run(&new_run(1, Some("k")), &jobs(1, 1))
        .unwrap_err()
    {
        StoreError::IdempotencyKeyTaken { key } => assert_eq!(key, "k"),
        other => panic!("{other:?}"),
    }
    let next: RunRecord = store.create_run(&new_run(2, None), &jobs(2, 1)).unwrap();
    assert_eq!((next.seq, next.run_id.as_str()), (2, "run-00000002"));
    let ids: Vec<u64> = store
        .jobs(None, Some("run-00000002"), 10)
        .unwrap()
        .iter()
        .map(|j| j.job_id)
        .collect();
    assert_eq!(ids, [2, 3], "no gap after the refused run");
}

// ---------------------------------------------------------------- concurrency

#[test]
fn workers_on_their_own_connections_never_claim_a_job_twice_and_finish_every_job_once() {
    const JOBS: usize = 600;
    const WORKERS: usize = 4;
    let (db, mut store) = pg!("concurrency");
    store.create_run(&new_run(1, None), &jobs(JOBS, 3)).unwrap();
    let start = Arc::new(Barrier::new(WORKERS));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (url, start) = (db.url.clone(), start.clone());
            std::thread::spawn(move || {
                let mut store = PgStore::connect(&url).unwrap();
                let owner = format!("w{w}");
                let mut mine = Vec::new();
                start.wait();
                loop {
                    let batch = store.claim(&owner, 16, T0, LEASE).unwrap();
                    if batch.is_empty() {
                        if store.open_jobs().unwrap() == 0 {
                            return mine;
                        }
                        std::thread::yield_now();
                        continue;
                    }
                    let results: Vec<JobResult<'_>> =
                        batch.iter().map(|j| result(j, T0 + 1)).collect();
                    let outcomes = store.complete_jobs(&results).unwrap();
                    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
                    mine.extend(batch.iter().map(|j| j.job_id));
                }
            })
        })
        .collect();
    let mut seen = BTreeSet::new();
    let mut claims = 0;
    for worker in workers {
        let mine = worker.join().unwrap();
        claims += mine.len();
        seen.extend(mine);
    }
    assert_eq!(claims, JOBS, "every job claimed exactly once");
    assert_eq!(seen, (1..=JOBS as u64).collect::<BTreeSet<_>>());
    let counts = store.job_counts(1).unwrap();
    assert_eq!((counts.succeeded, counts.open()), (JOBS as u64, 0));
    assert_eq!(
        db.column("SELECT count(*)::text FROM scheduler.jobs WHERE fence <> 1"),
        ["0"]
    );
    assert_eq!(
        db.column(
            "SELECT count(DISTINCT job_id)::text FROM scheduler.jobs_finished WHERE fence = 1"
        ),
        [JOBS.to_string()]
    );
}

// ---------------------------------------------------------------- the claim's plan

#[test]
fn the_claim_reads_the_ready_index_not_the_whole_table() {
    let (db, mut store) = pg!("plan");
    let many: Vec<NewJob> = (0..20_000)
        .map(|i| job(&format!("sha256:{i:064x}"), T0 + (i % 977), i % 7, 3))
        .collect();
    store.create_run(&new_run(1, None), &many).unwrap();
    // Some history, as a live queue has: finished jobs leave, leased ones stay.
    let claimed = store.claim("w", 500, T0, LEASE).unwrap();
    let results: Vec<JobResult<'_>> = claimed[..400].iter().map(|j| result(j, T0)).collect();
    store.complete_jobs(&results).unwrap();
    db.exec("ANALYZE");
    // A worker's batch (the bench claims 500): large enough that a plan joining the
    // picked ids back to `jobs` by hash would scan the table.
    let plan = store.claim_plan(500, T0).unwrap();
    assert!(plan.contains("jobs_ready"), "{plan}");
    assert!(!plan.contains("Seq Scan on jobs "), "{plan}");
    assert!(
        !plan.contains("Sort"),
        "the index gives the claim order: {plan}"
    );
}

// ---------------------------------------------------------------- migrations

#[test]
fn migrations_apply_once_even_when_stores_connect_at_once_and_an_edited_one_is_refused() {
    let Some(db) = TestDb::fresh("migrations") else {
        return;
    };
    let start = Arc::new(Barrier::new(4));
    let connects: Vec<_> = (0..4)
        .map(|_| {
            let (url, start) = (db.url.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                PgStore::connect(&url).map(drop)
            })
        })
        .collect();
    for connect in connects {
        connect.join().unwrap().unwrap();
    }
    assert_eq!(
        db.column("SELECT name FROM scheduler.schema_migrations ORDER BY name"),
        [
            "0001_state",
            "0002_scheduler",
            "0003_control",
            "0004_schedules",
            "0005_lean_queue",
            "0006_lz4_documents",
            "0007_ingest_without_fk"
        ]
    );
    PgStore::connect(&db.url).unwrap();
    db.exec("UPDATE scheduler.schema_migrations SET sha256 = 'abc' WHERE name = '0002_scheduler'");
    match PgStore::connect(&db.url).unwrap_err() {
        StoreError::MigrationEdited { name, recorded, .. } => {
            assert_eq!(
                (name.as_str(), recorded.as_str()),
                ("0002_scheduler", "abc")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unreachable_server_is_a_clear_error_without_the_password() {
    let err = PgStore::connect("postgres://u:hunter2@127.0.0.1:1/none").unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::PgOpen { .. }), "{err:?}");
    assert!(
        text.contains("127.0.0.1:1") && !text.contains("hunter2"),
        "{text}"
    );
}

/// A database made before 0005_lean_queue: the migration fills `artifact_plans` from
/// the jobs already there, so jobs planned after the upgrade get the base positions
/// they would have had without it.
#[test]
fn the_lean_queue_migration_carries_base_positions_over() {
    use sha2::{Digest as _, Sha256};
    let Some(db) = TestDb::fresh("lean_queue_upgrade") else {
        return;
    };
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres");
    db.exec(
        "CREATE SCHEMA scheduler;
         CREATE TABLE scheduler.schema_migrations (name TEXT PRIMARY KEY, sha256 TEXT NOT NULL)",
    );
    for name in [
        "0001_state",
        "0002_scheduler",
        "0003_control",
        "0004_schedules",
    ] {
        let sql = std::fs::read_to_string(format!("{dir}/{name}.sql")).unwrap();
        db.exec(&sql);
        let digest = hex::encode(Sha256::digest(sql.as_bytes()));
        db.exec(&format!(
            "INSERT INTO scheduler.schema_migrations VALUES ('{name}', '{digest}')"
        ));
    }
    // Run 1 (position 3): a finished, c finished; run 2 (position 7): a queued; run 3
    // (position 5): b and c queued.
    db.exec(
        "INSERT INTO scheduler.runs (seq, run_id, trigger, position, state, created_ms) VALUES
             (1, 'run-00000001', 'recheck', 3, 'completed', 0),
             (2, 'run-00000002', 'recheck', 7, 'running', 0),
             (3, 'run-00000003', 'recheck', 5, 'running', 0);
         INSERT INTO scheduler.jobs_finished (job_id, run_seq, artifact, idempotency_key, state,
             severity, max_attempts, not_before_ms, deadline_ms) VALUES
             (1, 1, 'sha256:a', 'run-00000001/sha256:a', 'succeeded', 'low', 1, 0, 0),
             (2, 1, 'sha256:c', 'run-00000001/sha256:c', 'succeeded', 'low', 1, 0, 0);
         INSERT INTO scheduler.jobs (job_id, run_seq, artifact, idempotency_key, state,
             severity, max_attempts, not_before_ms, deadline_ms) VALUES
             (3, 2, 'sha256:a', 'run-00000002/sha256:a', 'queued', 'low', 1, 0, 0),
             (4, 3, 'sha256:b', 'run-00000003/sha256:b', 'queued', 'low', 1, 0, 0),
             (5, 3, 'sha256:c', 'run-00000003/sha256:c', 'queued', 'low', 1, 0, 0)",
    );
    let mut store = PgStore::connect(&db.url).unwrap();
    assert_eq!(
        db.column("SELECT artifact || '=' || position FROM scheduler.artifact_plans ORDER BY 1"),
        ["sha256:a=7", "sha256:b=5", "sha256:c=5"]
    );
    let planned: Vec<_> = ["a", "b", "c", "d"]
        .iter()
        .map(|a| job(&format!("sha256:{a}"), T0, 0, 1))
        .collect();
    let run = store.create_run(&new_run(9, None), &planned).unwrap();
    let bases: Vec<_> = store
        .claim("w", 10, T0, LEASE)
        .unwrap()
        .into_iter()
        .filter(|j| j.run_id == run.run_id)
        .map(|j| (j.artifact, j.base_position))
        .collect();
    assert_eq!(
        bases,
        [
            ("sha256:a".to_owned(), Some(7)),
            ("sha256:b".to_owned(), Some(5)),
            ("sha256:c".to_owned(), Some(5)),
            ("sha256:d".to_owned(), None),
        ]
    );
}
