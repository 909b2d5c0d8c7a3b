//! Runs, exports and the job reads of documents and findings on PostgreSQL
//! (store/postgres/{runs_finish,exports}.rs), on a fresh database of a real server
//! (tests/pg_support): one script of calls against a SQLite `Store` and a `PgStore`,
//! whose every result must be equal. The script applies three small bundles (an SBOM in
//! two feeds, changed later), plans window and recheck runs, runs their jobs through
//! the real queue, finishes, emits, exports, fails, retries and re-exports them.
//! Store calls take explicit times; nothing reads the clock.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod pg_support;

use pg_support::TestDb;
use sha2::{Digest as _, Sha256};
use stella_scheduler::model::{DocumentFormat, DocumentKind};
use stella_scheduler::store::postgres::PgStore;
use stella_scheduler::store::{
    ApplyHeader, ExportRecord, JobResult, NewExport, NewJob, NewRun, NewVersion, Retry, RunOutcome,
    Store,
};

const LEASE: i64 = 60_000;
const T0: i64 = 1_000_000;

/// The artifact whose SBOM the bundles carry (in two feeds, changed in the third).
fn artifact_x() -> String {
    format!("sha256:{}", "aa".repeat(32))
}

fn artifact_y() -> String {
    format!("sha256:{}", "bb".repeat(32))
}

fn header(feed: &str, sequence: u64, created_at: &str) -> ApplyHeader {
    ApplyHeader {
        feed: feed.to_owned(),
        sequence,
        bundle_id: format!("{feed}-{sequence}"),
        snapshot: sequence == 1,
        created_at: created_at.to_owned(),
        applied_at: "2026-12-04T00:00:00Z".to_owned(),
        source_file: format!("{feed}-{sequence}.tar.zst"),
        expired_accepted: false,
    }
}

/// An SBOM document of `artifact` with `bytes`; the store does not parse what it keeps.
struct Sbom {
    id: String,
    path: String,
    sha256: String,
    bytes: Vec<u8>,
}

impl Sbom {
    fn new(artifact: &str, revision: u32) -> Self {
        let bytes =
            format!("{{\"bomFormat\":\"CycloneDX\",\"of\":\"{artifact}\",\"rev\":{revision}}}")
                .into_bytes();
        Self {
            id: artifact.to_owned(),
            path: format!("sboms/{}.json", &artifact[7..15]),
            sha256: hex::encode(Sha256::digest(&bytes)),
            bytes,
        }
    }

    fn version(&self) -> NewVersion<'_> {
        NewVersion {
            kind: DocumentKind::Sbom,
            doc_id: &self.id,
            format: DocumentFormat::Cyclonedx,
            path: &self.path,
            sha256: &self.sha256,
            subject_name: Some("registry.example/app:1"),
            bytes: &self.bytes,
        }
    }
}

fn new_run(
    trigger: &str,
    position: u64,
    window: Option<u64>,
    tenant: &str,
    impact: &str,
) -> NewRun {
    NewRun {
        trigger: trigger.to_owned(),
        position,
        window_position: window,
        selector: window
            .is_none()
            .then(|| r#"{"purl":"pkg:npm/x"}"#.to_owned()),
        idempotency_key: None,
        tenant: tenant.to_owned(),
        impact: impact.as_bytes().to_vec(),
        impact_digest: format!("sha256:{}", hex::encode(Sha256::digest(impact))),
        created_ms: T0,
    }
}

fn job(artifact: &str, tenant: &str, max_attempts: u32) -> NewJob {
    NewJob {
        artifact: artifact.to_owned(),
        tenant: tenant.to_owned(),
        severity: "high".to_owned(),
        priority: 0,
        deadline_ms: T0 + 1_000,
        max_attempts,
    }
}

fn outcome(state: &str, completion: Option<&str>, finished_ms: i64) -> RunOutcome {
    RunOutcome {
        state: state.to_owned(),
        summary: format!("{{\"state\":\"{state}\"}}").into_bytes(),
        delta_digest: format!("sha256:{state}"),
        completion: completion.map(|c| c.as_bytes().to_vec()),
        finished_ms,
    }
}

/// One script of calls, whose every result is recorded as text.
macro_rules! script {
    ($store:expr) => {{
        let store = &mut $store;
        let mut out: Vec<String> = Vec::new();
        let mut note = |what: &str, value: String| out.push(format!("{what}: {value}"));
        let (x, y) = (artifact_x(), artifact_y());

        // State: X in feed b at 1, in feed a at 2, changed in feed b at 3.
        let bundles = [
            (
                header("b-feed", 1, "2026-12-01T00:00:00Z"),
                vec![Sbom::new(&x, 1), Sbom::new(&y, 1)],
            ),
            (
                header("a-feed", 1, "2026-12-02T00:00:00Z"),
                vec![Sbom::new(&x, 2)],
            ),
            (
                header("b-feed", 2, "2026-12-03T00:00:00Z"),
                vec![Sbom::new(&x, 3)],
            ),
        ];
        for (h, docs) in &bundles {
            let mut tx = store.begin_apply(h.clone()).unwrap();
            for d in docs {
                note("put", format!("{:?}", tx.put(d.version()).unwrap()));
            }
            note("commit", format!("{:?}", tx.commit().unwrap()));
        }
        for position in 0..=4 {
            note("change_at", format!("{:?}", store.change_at(position)));
            note("created_at", format!("{:?}", store.created_at(position)));
            for artifact in [&x, &y, &"sha256:none".to_owned()] {
                note(
                    "sbom_as_of",
                    format!("{:?}", store.sbom_as_of(artifact, position)),
                );
            }
        }
        note("unplanned", format!("{:?}", store.unplanned_windows()));

        // Runs: a window run with two jobs, a recheck with one that will fail, an empty
        // window run.
        let r1 = store
            .create_run(
                &new_run("window", 1, Some(1), "t1", "{\"artifacts\":2}"),
                &[job(&x, "t1", 2), job(&y, "t1", 2)],
            )
            .unwrap();
        let r2 = store
            .create_run(
                &new_run("recheck", 3, None, "t2", "{\"artifacts\":1}"),
                &[job(&x, "t2", 1)],
            )
            .unwrap();
        let r3 = store
            .create_run(&new_run("window", 2, Some(2), "t1", "{}"), &[])
            .unwrap();
        note("unplanned", format!("{:?}", store.unplanned_windows()));

        let claimed = store.claim("site:1:w0", 10, T0, LEASE).unwrap();
        note("claim", format!("{claimed:?}"));
        let findings = |i: usize| format!("[{{\"n\":{i}}}]").into_bytes();
        let deltas = |i: usize| format!("{{\"added\":[{i}]}}").into_bytes();
        let (f0, f1) = (findings(0), findings(1));
        let (d0, d1) = (deltas(0), deltas(1));
        let results: Vec<JobResult<'_>> = claimed
            .iter()
            .filter(|j| j.run_seq == r1.seq)
            .zip([(&f0, &d0), (&f1, &d1)])
            .map(|(j, (f, d))| JobResult {
                job_id: j.job_id,
                fence: j.fence,
                artifact: &j.artifact,
                position: j.position,
                findings: ("sha256:f", f),
                delta: d,
                now_ms: T0 + 10,
            })
            .collect();
        note("complete", format!("{:?}", store.complete_jobs(&results)));
        for j in claimed.iter().filter(|j| j.run_seq == r2.seq) {
            note(
                "fail",
                format!(
                    "{:?}",
                    store
                        .fail_job(j.job_id, j.fence, "boom", Retry::DeadLetter, T0 + 11)
                        .unwrap()
                ),
            );
        }
        for seq in [r1.seq, r2.seq, r3.seq, 99] {
            note("deltas", format!("{:?}", store.run_deltas(seq)));
        }
        for (artifact, position) in [(&x, 1), (&y, 1), (&x, 3), (&x, 2)] {
            note(
                "evaluation",
                format!("{:?}", store.evaluation(artifact, position)),
            );
        }
        note("finishable", format!("{:?}", store.finishable_runs()));

        // Finishing, the outbox and exports.
        let finished = [
            (r1.seq, outcome("completed", Some("envelope-1"), T0 + 20)),
            (r2.seq, outcome("failed", Some("envelope-2"), T0 + 21)),
            (r3.seq, outcome("completed", None, T0 + 22)),
            (r1.seq, outcome("failed", Some("again"), T0 + 23)),
        ];
        for (seq, o) in &finished {
            note("finish", format!("{:?}", store.finish_run(*seq, o)));
        }
        for seq in [r1.seq, r2.seq, r3.seq] {
            note("impact", format!("{:?}", store.run_impact(seq)));
            note("output", format!("{:?}", store.run_output(seq)));
        }
        note(
            "failed runs",
            format!("{:?}", store.runs(Some("failed"), 10)),
        );
        note(
            "impact of none",
            format!("{}", store.run_impact(99).is_err()),
        );
        note(
            "output of none",
            format!("{}", store.run_output(99).is_err()),
        );
        note("unemitted", format!("{:?}", store.unemitted()));
        store.mark_emitted(&r1.run_id).unwrap();
        store.mark_emitted("run-99999999").unwrap();
        note("unemitted", format!("{:?}", store.unemitted()));
        note("unexported", format!("{:?}", store.unexported()));
        note("head", format!("{:?}", store.export_head()));
        let runs = [r1.seq];
        let first = NewExport {
            sequence: 1,
            bundle_id: "site-1",
            file: "exports/site-1.tar.zst",
            created_at: "2026-12-03T00:00:00Z",
            runs: &runs,
        };
        note("record", format!("{:?}", store.record_export(&first)));
        note("head", format!("{:?}", store.export_head()));
        note("unexported", format!("{:?}", store.unexported()));
        let both = [r1.seq, r2.seq];
        let again = NewExport {
            runs: &both,
            bundle_id: "site-1-again",
            ..first
        };
        note(
            "record a used sequence",
            format!("{}", store.record_export(&again).is_err()),
        );
        note("unexported", format!("{:?}", store.unexported()));

        // A failed run retried: its dead letter runs again, and its next completion is
        // emitted and exported like a first one.
        note(
            "retry completed",
            format!("{:?}", store.retry_run(&r1.run_id, T0 + 30)),
        );
        note(
            "retry unknown",
            format!("{:?}", store.retry_run("run-99", T0 + 30)),
        );
        note(
            "retry failed",
            format!("{:?}", store.retry_run(&r2.run_id, T0 + 30)),
        );
        note(
            "retry again",
            format!("{:?}", store.retry_run(&r2.run_id, T0 + 31)),
        );
        note("r2", format!("{:?}", store.run(&r2.run_id)));
        note(
            "r2 jobs",
            format!("{:?}", store.jobs(None, Some(&r2.run_id), 10)),
        );
        note("unemitted", format!("{:?}", store.unemitted()));
        note("unexported", format!("{:?}", store.unexported()));
        let claimed = store.claim("site:1:w1", 10, T0 + 30, LEASE).unwrap();
        note("claim", format!("{claimed:?}"));
        let results: Vec<JobResult<'_>> = claimed
            .iter()
            .map(|j| JobResult {
                job_id: j.job_id,
                fence: j.fence,
                artifact: &j.artifact,
                position: j.position,
                findings: ("sha256:g", b"[]"),
                delta: b"{\"added\":[]}",
                now_ms: T0 + 40,
            })
            .collect();
        note("complete", format!("{:?}", store.complete_jobs(&results)));
        note("counts", format!("{:?}", store.job_counts(r2.seq)));
        note("finishable", format!("{:?}", store.finishable_runs()));
        note(
            "finish",
            format!(
                "{:?}",
                store.finish_run(r2.seq, &outcome("completed", Some("envelope-3"), T0 + 41))
            ),
        );
        note("unemitted", format!("{:?}", store.unemitted()));
        note("unexported", format!("{:?}", store.unexported()));
        let runs = [r2.seq];
        let second = NewExport {
            sequence: 2,
            bundle_id: "site-2",
            file: "exports/site-2.tar.zst",
            created_at: "2026-12-03T00:00:00Z",
            runs: &runs,
        };
        note("record", format!("{:?}", store.record_export(&second)));
        note("record none", format!("{:?}", store.restore_exports(&[])));
        let earlier = [
            ExportRecord {
                sequence: 7,
                bundle_id: "old-7".to_owned(),
                file: "exports/old-7.tar.zst".to_owned(),
                runs: 3,
                created_at: "2026-11-01T00:00:00Z".to_owned(),
            },
            ExportRecord {
                sequence: 5,
                bundle_id: "old-5".to_owned(),
                file: "exports/old-5.tar.zst".to_owned(),
                runs: 0,
                created_at: "2026-10-01T00:00:00Z".to_owned(),
            },
        ];
        note("restore", format!("{:?}", store.restore_exports(&earlier)));
        note(
            "restore a used sequence",
            format!("{}", store.restore_exports(&earlier[1..]).is_err()),
        );
        note("exports", format!("{:?}", store.exports()));
        note("head", format!("{:?}", store.export_head()));

        // Listings.
        note("runs", format!("{:?}", store.runs(None, u64::MAX)));
        note(
            "completed",
            format!("{:?}", store.runs(Some("completed"), 1)),
        );
        note("failed", format!("{:?}", store.runs(Some("failed"), 10)));
        note(
            "t1",
            format!("{:?}", store.tenant_runs(Some("t1"), None, u64::MAX)),
        );
        note(
            "t2 completed",
            format!("{:?}", store.tenant_runs(Some("t2"), Some("completed"), 5)),
        );
        note(
            "t3",
            format!("{:?}", store.tenant_runs(Some("t3"), None, 5)),
        );
        out
    }};
}

#[test]
fn the_same_calls_give_the_same_results_as_the_sqlite_store() {
    let (db, mut pg) = pg!("runs_parity");
    let tmp = tempfile::tempdir().unwrap();
    let mut sqlite = Store::open(&tmp.path().join("state.db")).unwrap();
    let expected = script!(sqlite);
    let got = script!(pg);
    for (e, g) in expected.iter().zip(&got) {
        assert_eq!(g, e);
    }
    assert_eq!(got.len(), expected.len());
    // The script reached what it means to check (not only errors on both sides).
    for wanted in [
        "unplanned: Ok([1, 2, 3])",
        "unplanned: Ok([3])",
        "retry failed: Ok(Some(1))",
        "retry again: Ok(None)",
        "record a used sequence: true",
        "restore a used sequence: true",
        "impact of none: true",
    ] {
        assert!(expected.iter().any(|l| l == wanted), "{wanted}");
    }
    for prefix in [
        "change_at: Ok(Some(ChangeEntry { position: 3, feed: \"b-feed\", sequence: 2",
        "created_at: Ok(Some(\"2026-12-02T00:00:00Z\"))",
        "failed runs: Ok([RunRecord { seq: 2,",
    ] {
        assert!(expected.iter().any(|l| l.starts_with(prefix)), "{prefix}");
    }
    let sbom_feeds: Vec<&String> = expected
        .iter()
        .filter(|l| l.starts_with("sbom_as_of: Ok(Some("))
        .collect();
    assert!(sbom_feeds.iter().any(|l| l.contains("feed: \"a-feed\"")));
    assert!(sbom_feeds.iter().any(|l| l.contains("feed: \"b-feed\"")));
    assert!(expected
        .iter()
        .any(|l| l.starts_with("unexported: Ok([Unexported { seq: 2")));
    // The retried job finished where succeeded jobs live, the dead letter is gone.
    assert_eq!(
        db.column("SELECT state || ':' || run_seq FROM scheduler.jobs_finished ORDER BY job_id"),
        ["succeeded:1", "succeeded:1", "succeeded:2"]
    );
    assert!(db
        .column("SELECT job_id::text FROM scheduler.jobs")
        .is_empty());
}
