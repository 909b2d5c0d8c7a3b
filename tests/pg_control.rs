//! The control plane's rows, schedules, queue gauges and the offline kit's reads on
//! PostgreSQL (store/postgres/{control,schedules,metrics,kit}.rs), each test on a fresh
//! database of a real server (tests/pg_support): one script of calls run against a
//! SQLite `Store` and a `PgStore` must give the same result at every step. Store calls
//! take explicit times; nothing reads the clock.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod pg_support;

use pg_support::TestDb;
use stella_scheduler::model::{DocumentFormat, DocumentKind};
use stella_scheduler::store::postgres::PgStore;
use stella_scheduler::store::{
    ApplyHeader, AuditRecord, JobResult, NewJob, NewRun, NewSchedule, NewVersion, RuntimeState,
    Store,
};

const LEASE: i64 = 60_000;
const T0: i64 = 1_000_000;
const A: &str = "sha256:aaaa";
const B: &str = "sha256:bbbb";

fn audit(at_ms: i64, tenant: &str, status: u16, key: Option<&str>) -> AuditRecord {
    AuditRecord {
        seq: 0,
        at_ms,
        token: "ops".to_owned(),
        tenant: tenant.to_owned(),
        method: "POST".to_owned(),
        path: "/v1/runs".to_owned(),
        status,
        idempotency_key: key.map(str::to_owned),
        body_sha256: format!("sha256:{at_ms:064x}"),
    }
}

fn runtime(artifact: &str, environment: &str, state: &str, updated_ms: i64) -> RuntimeState {
    RuntimeState {
        artifact: artifact.to_owned(),
        environment: environment.to_owned(),
        state: state.to_owned(),
        tenant: "default".to_owned(),
        updated_ms,
    }
}

fn header(feed: &str, sequence: u64, snapshot: bool) -> ApplyHeader {
    ApplyHeader {
        feed: feed.to_owned(),
        sequence,
        bundle_id: format!("{feed}-{sequence}"),
        snapshot,
        created_at: format!("2026-11-0{sequence}T00:00:00Z"),
        applied_at: format!("2026-12-0{sequence}T10:00:00Z"),
        source_file: format!("{feed}-{sequence}.tar"),
        expired_accepted: false,
    }
}

/// The SBOM of `artifact` as stored in a bundle (its id is the artifact digest).
fn sbom<'a>(artifact: &'a str, sha256: &'a str, bytes: &'a [u8]) -> NewVersion<'a> {
    NewVersion {
        kind: DocumentKind::Sbom,
        doc_id: artifact,
        format: DocumentFormat::Cyclonedx,
        path: "sboms/app.cdx.json",
        sha256,
        subject_name: Some("app"),
        bytes,
    }
}

fn new_run(position: u64, key: &str) -> NewRun {
    NewRun {
        trigger: "recheck".to_owned(),
        position,
        window_position: None,
        selector: None,
        idempotency_key: Some(key.to_owned()),
        tenant: "default".to_owned(),
        impact: b"{}".to_vec(),
        impact_digest: "sha256:00".to_owned(),
        created_ms: T0,
    }
}

fn job(artifact: &str, priority: i64, deadline_ms: i64) -> NewJob {
    NewJob {
        artifact: artifact.to_owned(),
        tenant: "default".to_owned(),
        severity: "high".to_owned(),
        priority,
        deadline_ms,
        max_attempts: 3,
    }
}

fn schedule(id: &str, tenant: &str, next_fire: &str) -> NewSchedule {
    NewSchedule {
        schedule_id: id.to_owned(),
        tenant: tenant.to_owned(),
        cron: "0 3 * * *".to_owned(),
        timezone: "Europe/Berlin".to_owned(),
        selector: r#"{"all":true}"#.to_owned(),
        created_ms: T0,
        next_fire: next_fire.to_owned(),
    }
}

/// One script of calls covering every ported method, each result recorded as text.
macro_rules! script {
    ($store:expr) => {{
        let store = &mut $store;
        let mut out: Vec<String> = Vec::new();
        let mut note = |what: &str, value: String| out.push(format!("{what}: {value}"));

        // Audit log: seq assigned in order, limits, the unbounded limit.
        note("audit empty", format!("{:?}", store.audit_log(10)));
        for (i, rec) in [
            audit(T0, "default", 201, Some("k1")),
            audit(T0 + 1, "acme", 409, None),
            audit(T0 + 2, "acme", 200, Some("k2")),
        ]
        .iter()
        .enumerate()
        {
            note(&format!("audit {i}"), format!("{:?}", store.audit(rec)));
        }
        note("audit all", format!("{:?}", store.audit_log(u64::MAX)));
        note("audit 2", format!("{:?}", store.audit_log(2)));

        // Runtime state: the last event per (artifact, environment) wins.
        for state in [
            runtime(A, "prod", "deployed", T0),
            runtime(A, "prod", "running", T0 + 1),
            runtime(B, "staging", "running", T0 + 2),
            runtime(B, "staging", "retired", T0 + 3),
        ] {
            note("runtime", format!("{:?}", store.set_runtime_state(&state)));
        }
        for artifact in [A, B, "sha256:none"] {
            note("running", format!("{:?}", store.is_running(artifact)));
        }

        // Bundles: the same SBOM in two feeds, then withdrawn from one of them.
        note("gauges empty", format!("{:?}", store.queue_gauges()));
        let mut tx = store.begin_apply(header("zeta", 1, false)).unwrap();
        note(
            "put",
            format!("{:?}", tx.put(sbom(A, "sha256:s1", b"{\"z\":1}"))),
        );
        note("commit", format!("{:?}", tx.commit()));
        let mut tx = store.begin_apply(header("alpha", 1, false)).unwrap();
        note(
            "put",
            format!("{:?}", tx.put(sbom(A, "sha256:s2", b"{\"a\":1}"))),
        );
        note(
            "put",
            format!("{:?}", tx.put(sbom(B, "sha256:s3", b"{\"b\":1}"))),
        );
        note("commit", format!("{:?}", tx.commit()));
        let mut tx = store.begin_apply(header("alpha", 2, false)).unwrap();
        note(
            "withdraw",
            format!("{:?}", tx.withdraw(DocumentKind::Sbom, A)),
        );
        note("commit", format!("{:?}", tx.commit()));
        for position in 0..=4 {
            for artifact in [A, B] {
                note(
                    &format!("sbom_feed {artifact} @{position}"),
                    format!("{:?}", store.sbom_feed(artifact, position)),
                );
            }
            note(
                &format!("heads @{position}"),
                format!("{:?}", store.heads_as_of(position)),
            );
        }

        // Jobs: one evaluated (moves to jobs_finished), one leased, the rest queued;
        // then a run is cancelled: its job of A (now in jobs_finished) is not expedited.
        let r1 = store
            .create_run(
                &new_run(3, "r1"),
                &[job(A, 0, T0 + 500), job(B, 2, T0 + 100)],
            )
            .unwrap();
        let r2 = store
            .create_run(&new_run(3, "r2"), &[job(A, 1, T0 + 900)])
            .unwrap();
        let r3 = store
            .create_run(&new_run(3, "r3"), &[job(A, 9, T0 + 50)])
            .unwrap();
        note("r3", r3.run_id.clone());
        let claimed = store.claim("site:1:w0", 2, T0, LEASE).unwrap();
        note("claim", format!("{claimed:?}"));
        let done = JobResult {
            job_id: claimed[1].job_id,
            fence: claimed[1].fence,
            artifact: &claimed[1].artifact,
            position: claimed[1].position,
            findings: ("sha256:findings", b"[]"),
            delta: b"{\"added\":[]}",
            now_ms: T0 + 10,
        };
        note("complete", format!("{:?}", store.complete_job(&done)));
        for artifact in [A, B, "sha256:none"] {
            note("evaluated", format!("{:?}", store.ever_evaluated(artifact)));
        }
        note("gauges", format!("{:?}", store.queue_gauges()));
        note(
            "expedite",
            format!("{:?}", store.expedite_artifact(A, 5, T0 + 200)),
        );
        note(
            "expedite again",
            format!("{:?}", store.expedite_artifact(A, 5, T0 + 200)),
        );
        note(
            "expedite none",
            format!("{:?}", store.expedite_artifact("sha256:none", 5, 0)),
        );
        note("jobs", format!("{:?}", store.jobs(None, None, u64::MAX)));
        note(
            "cancel",
            format!("{:?}", store.cancel_run(&r2.run_id, T0 + 20)),
        );
        note(
            "expedite cancelled",
            format!("{:?}", store.expedite_artifact(A, 50, T0)),
        );
        note("jobs", format!("{:?}", store.jobs(None, None, u64::MAX)));
        note("paused", format!("{:?}", store.set_paused(true)));
        note("gauges paused", format!("{:?}", store.queue_gauges()));
        note("r1", r1.run_id.clone());

        // Schedules: fixed-width RFC 3339 fire times compared as text.
        for new in [
            schedule("nightly", "default", "2026-12-02T02:00:00Z"),
            schedule("hourly", "acme", "2026-12-01T10:00:00Z"),
            schedule("weekly", "acme", "2026-12-07T02:00:00Z"),
            schedule("a-early", "acme", "2026-12-01T10:00:00Z"),
        ] {
            note("create", format!("{:?}", store.create_schedule(&new)));
        }
        let taken = store.create_schedule(&schedule("hourly", "default", "2027-01-01T00:00:00Z"));
        note("taken", format!("{:?}", taken.map_err(|e| e.to_string())));
        note("all", format!("{:?}", store.schedules(None)));
        note("acme", format!("{:?}", store.schedules(Some("acme"))));
        note("none", format!("{:?}", store.schedules(Some("nobody"))));
        note("one", format!("{:?}", store.schedule("weekly")));
        note("missing", format!("{:?}", store.schedule("missing")));
        let now = "2026-12-02T02:00:00Z";
        note("due", format!("{:?}", store.due_schedules(now)));
        note(
            "pause",
            format!("{:?}", store.set_schedule_paused("hourly", true, None)),
        );
        note("due paused", format!("{:?}", store.due_schedules(now)));
        note(
            "resume",
            format!(
                "{:?}",
                store.set_schedule_paused("hourly", false, Some("2026-12-02T03:00:00Z"))
            ),
        );
        note(
            "pause missing",
            format!("{:?}", store.set_schedule_paused("missing", true, None)),
        );
        note(
            "fired",
            format!(
                "{:?}",
                store.mark_schedule_fired(
                    "nightly",
                    "2026-12-02T02:00:00Z",
                    "2026-12-03T02:00:00Z"
                )
            ),
        );
        note(
            "fired again",
            format!(
                "{:?}",
                store.mark_schedule_fired(
                    "nightly",
                    "2026-12-02T02:00:00Z",
                    "2026-12-03T02:00:00Z"
                )
            ),
        );
        note(
            "fired earlier",
            format!(
                "{:?}",
                store.mark_schedule_fired(
                    "nightly",
                    "2026-12-01T02:00:00Z",
                    "2026-12-02T02:00:00Z"
                )
            ),
        );
        note(
            "fired missing",
            format!("{:?}", store.mark_schedule_fired("missing", now, now)),
        );
        note(
            "due after",
            format!("{:?}", store.due_schedules("2026-12-03T02:00:00Z")),
        );
        note("delete", format!("{:?}", store.delete_schedule("weekly")));
        note(
            "delete again",
            format!("{:?}", store.delete_schedule("weekly")),
        );
        note("all after", format!("{:?}", store.schedules(None)));
        note(
            "audit last",
            format!("{:?}", store.audit(&audit(T0 + 9, "acme", 204, None))),
        );
        out
    }};
}

#[test]
fn the_same_calls_give_the_same_results_as_the_sqlite_store() {
    let (_db, mut pg) = pg!("control parity");
    let tmp = tempfile::tempdir().unwrap();
    let mut sqlite = Store::open(&tmp.path().join("state.db")).unwrap();
    let expected = script!(sqlite);
    let got = script!(pg);
    for (e, g) in expected.iter().zip(&got) {
        assert_eq!(g, e);
    }
    assert_eq!(got.len(), expected.len());
    // The script reaches the cases it is meant to: a lookup that finds the SBOM in the
    // first feed by name, an expedite that changes jobs, a refused duplicate schedule.
    let has = |prefix: &str, value: &str| {
        expected
            .iter()
            .any(|line| line.starts_with(prefix) && line.ends_with(value))
    };
    assert!(has("sbom_feed sha256:aaaa @2", "Ok(Some(\"alpha\"))"));
    assert!(has("sbom_feed sha256:aaaa @3", "Ok(Some(\"zeta\"))"));
    assert!(has("expedite: ", "Ok(2)"));
    assert!(has("expedite cancelled: ", "Ok(1)"));
    assert!(has("taken: ", "exists\")"));
    assert!(has("fired again: ", "Ok(false)"));
    assert!(has("audit last: ", "Ok(4)"));
    assert!(expected
        .iter()
        .any(|line| line.starts_with("gauges paused") && line.contains("paused: true")));
}

#[test]
fn an_audit_append_in_a_rolled_back_transaction_leaves_no_gap() {
    let (db, mut pg) = pg!("audit gap");
    assert_eq!(pg.audit(&audit(T0, "default", 200, None)).unwrap(), 1);
    // A failed append (a status column that refuses the row) must not consume seq 2.
    db.exec("ALTER TABLE scheduler.audit ADD CONSTRAINT no_teapots CHECK (status <> 418)");
    let refused = pg.audit(&audit(T0 + 1, "default", 418, None)).unwrap_err();
    assert!(refused.to_string().contains("audit"), "{refused}");
    assert_eq!(pg.audit(&audit(T0 + 2, "default", 200, None)).unwrap(), 2);
    let seqs: Vec<u64> = pg
        .audit_log(u64::MAX)
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(seqs, [1, 2]);
}
