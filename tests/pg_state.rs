//! Versioned state on PostgreSQL (store/postgres/{state,apply,impact}.rs) against the
//! SQLite store: the same calls give the same outcomes, and the same reads the same
//! results, each test on a fresh database of a real server (tests/pg_support).
//!
//! The bundles are the committed samples and golden inputs, verified by the real
//! verifier and parsed by the real parsers, then applied with the calls ingest/apply.rs
//! makes (withdrawals, then `put` per document, `put_components` for a new or changed
//! SBOM, `commit`). ingest/apply.rs drives only the SQLite store, so this harness drives
//! both; that it is faithful is checked too: its state digest equals that of a data dir
//! built by the real `Ingestor`.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod pg_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pg_support::TestDb;
use sha2::{Digest as _, Sha256};
use stella_scheduler::bundle::{
    BundleId, DocumentEntry, ExpiryPolicy, Limits, Manifest, MemberSink, Mode, Trust, Verifier,
};
use stella_scheduler::formats::{self, ParsedDocument};
use stella_scheduler::ingest::{inbox, DataDir, Ingestor, InitOptions, Outcome};
use stella_scheduler::matching::ecosystem::component_index_lookups;
use stella_scheduler::model::{DocumentFormat, DocumentKind};
use stella_scheduler::store::postgres::{BulkPath, PgStore};
use stella_scheduler::store::{
    ApplyHeader, ComponentRow, NewVersion, PutOutcome, Store, StoreError,
};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// In chain order: what golden.rs ingests.
const BUNDLES: [&str; 6] = [
    "bundles/demo-osv-1-snapshot.tar.zst",
    "bundles/demo-sbom-1-snapshot.tar.zst",
    "bundles/demo-osv-2-delta.tar.zst",
    "bundles/demo-vex-1-snapshot.tar.zst",
    "golden-tests/inputs/demo-osv-3-delta.tar.zst",
    "golden-tests/inputs/demo-vex-2-delta.tar.zst",
];
/// Both stores get the same wall clock, so feed heads compare whole.
const APPLIED_AT: &str = "2026-12-04T00:00:00Z";
const KINDS: [DocumentKind; 3] = [
    DocumentKind::Advisory,
    DocumentKind::Vex,
    DocumentKind::Sbom,
];

/// One document as ingest/apply.rs stores it.
#[derive(Clone, Debug)]
struct Doc {
    kind: DocumentKind,
    format: DocumentFormat,
    id: String,
    path: String,
    sha256: String,
    subject_name: Option<String>,
    bytes: Vec<u8>,
    components: Vec<ComponentRow>,
}

impl Doc {
    fn version(&self) -> NewVersion<'_> {
        NewVersion {
            kind: self.kind,
            doc_id: &self.id,
            format: self.format,
            path: &self.path,
            sha256: &self.sha256,
            subject_name: self.subject_name.as_deref(),
            bytes: &self.bytes,
        }
    }
}

/// One bundle's calls.
#[derive(Clone, Debug)]
struct Bundle {
    header: ApplyHeader,
    withdrawn: Vec<(DocumentKind, String)>,
    docs: Vec<Doc>,
}

/// What the calls answered: each withdrawal's and put's result, and the position.
#[derive(Debug, PartialEq, Eq)]
struct Answers {
    withdrawn: Vec<bool>,
    puts: Vec<PutOutcome>,
    position: u64,
}

/// Applies `b` as ingest/apply.rs does, on either store; `$tx` names the transaction
/// inside `$setup`, which runs right after `begin_apply`.
macro_rules! apply {
    ($store:expr, $b:expr) => {
        apply!($store, $b, |_tx| {})
    };
    ($store:expr, $b:expr, |$tx:ident| $setup:expr) => {{
        let b: &Bundle = $b;
        let mut $tx = $store.begin_apply(b.header.clone()).unwrap();
        $setup;
        let withdrawn = b
            .withdrawn
            .iter()
            .map(|(kind, id)| $tx.withdraw(*kind, id).unwrap())
            .collect();
        let mut puts = Vec::new();
        for doc in &b.docs {
            let outcome = $tx.put(doc.version()).unwrap();
            if outcome != PutOutcome::Unchanged && doc.kind == DocumentKind::Sbom {
                $tx.put_components(&doc.id, &doc.components).unwrap();
            }
            puts.push(outcome);
        }
        let position = $tx.commit().unwrap();
        Answers {
            withdrawn,
            puts,
            position,
        }
    }};
}

/// Keeps the manifest and every member the verifier hands over.
#[derive(Default)]
struct Collect {
    manifest: Option<(Manifest, BundleId)>,
    members: Vec<(DocumentEntry, Vec<u8>)>,
}

impl MemberSink for Collect {
    fn on_manifest(&mut self, manifest: &Manifest, id: &BundleId) {
        self.manifest = Some((manifest.clone(), id.clone()));
    }

    fn wants_bytes(&self) -> bool {
        true
    }

    fn accept(
        &mut self,
        entry: &DocumentEntry,
        bytes: Vec<u8>,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.members.push((entry.clone(), bytes));
        Ok(())
    }
}

fn path(rel: &str) -> PathBuf {
    Path::new(ROOT).join(rel)
}

/// Verifies and parses a bundle file into the calls ingest would make.
fn load(rel: &str) -> Bundle {
    let trust = Trust::load(&path("bundles/demo-trust.json")).unwrap();
    let mut sink = Collect::default();
    let report = Verifier::new(&trust, Limits::default()).verify(&path(rel), &mut sink);
    assert!(report.error.is_none(), "{rel}: {:?}", report.error);
    let (manifest, id) = sink.manifest.unwrap();
    let header = ApplyHeader {
        feed: manifest.feed.clone(),
        sequence: manifest.sequence,
        bundle_id: id.to_string(),
        snapshot: manifest.mode == Mode::Snapshot,
        created_at: manifest.created_at.clone(),
        applied_at: APPLIED_AT.to_owned(),
        source_file: Path::new(rel).file_name().unwrap().to_string_lossy().into(),
        expired_accepted: false,
    };
    let withdrawn = manifest
        .withdrawn
        .iter()
        .map(|w| (w.kind, w.id.clone()))
        .collect();
    let docs = sink.members.into_iter().map(parse).collect();
    Bundle {
        header,
        withdrawn,
        docs,
    }
}

/// What parse_member in ingest/apply.rs makes of a member.
fn parse((entry, bytes): (DocumentEntry, Vec<u8>)) -> Doc {
    let p = entry.path.as_str();
    let parsed = formats::parse(p, entry.kind, entry.format, &bytes).unwrap();
    let id = match &entry.subject {
        Some(subject) => subject.digest.to_string(),
        None => formats::document_id(p, &parsed, entry.format, &bytes).unwrap(),
    };
    let components = match &parsed {
        ParsedDocument::Sbom(sbom) => sbom
            .components
            .iter()
            .flat_map(|c| {
                let purl = c.purl.clone().unwrap_or_default();
                component_index_lookups(c)
                    .into_iter()
                    .map(move |l| ComponentRow {
                        package: l.key.text(),
                        version: l.version,
                        release: l.release,
                        purl: purl.clone(),
                    })
            })
            .collect(),
        _ => Vec::new(),
    };
    Doc {
        kind: entry.kind,
        format: entry.format,
        id,
        path: p.to_owned(),
        sha256: entry.sha256.to_hex(),
        subject_name: entry.subject.as_ref().map(|s| s.name.clone()),
        bytes,
        components,
    }
}

/// A second SBOM snapshot made from the first: its first SBOM dropped (the snapshot
/// closes it and its components), its second changed with one component fewer, the
/// rest unchanged.
fn sbom_snapshot_2(first: &Bundle) -> Bundle {
    let mut b = first.clone();
    b.header.sequence = 2;
    b.header.bundle_id = format!("{}-2", first.header.bundle_id);
    b.header.source_file = "demo-sbom-2-snapshot.tar.zst".to_owned();
    b.docs.remove(0);
    let changed = &mut b.docs[0];
    changed.bytes.extend_from_slice(b"\n");
    changed.sha256 = hex::encode(Sha256::digest(&changed.bytes));
    changed.components.pop();
    b
}

/// `n` advisories of a synthetic feed: more than one bulk batch, so that flushing in
/// the middle of an apply is exercised. The store does not parse what it keeps.
fn synthetic(feed: &str, sequence: u64, snapshot: bool, ids: impl Iterator<Item = u64>) -> Bundle {
    let docs = ids
        .map(|i| {
            let bytes = format!("{{\"id\":\"SYN-{i}\",\"rev\":{sequence}}}").into_bytes();
            Doc {
                kind: DocumentKind::Advisory,
                format: DocumentFormat::Osv,
                id: format!("SYN-{i}"),
                path: format!("advisories/SYN-{i}.json"),
                sha256: hex::encode(Sha256::digest(&bytes)),
                subject_name: None,
                bytes,
                components: Vec::new(),
            }
        })
        .collect();
    Bundle {
        header: ApplyHeader {
            feed: feed.to_owned(),
            sequence,
            bundle_id: format!("{feed}-{sequence}"),
            snapshot,
            created_at: "2026-12-01T00:00:00Z".to_owned(),
            applied_at: APPLIED_AT.to_owned(),
            source_file: format!("{feed}-{sequence}.tar.zst"),
            expired_accepted: sequence % 2 == 0,
        },
        withdrawn: Vec::new(),
        docs,
    }
}

/// Checks every read of the state half that two stores answer alike, at every position.
fn assert_same_state(sqlite: &Store, pg: &PgStore, packages: &BTreeSet<String>) {
    let last = sqlite.position().unwrap();
    assert_eq!(pg.position().unwrap(), last);
    assert_eq!(pg.feeds().unwrap(), sqlite.feeds().unwrap());
    assert_eq!(pg.changelog().unwrap(), sqlite.changelog().unwrap());
    assert_eq!(
        pg.document_counts().unwrap(),
        sqlite.document_counts().unwrap()
    );
    assert_eq!(pg.state_digest().unwrap(), sqlite.state_digest().unwrap());
    for head in sqlite.feeds().unwrap() {
        assert_eq!(pg.feed_head(&head.feed).unwrap(), Some(head.clone()));
        assert_eq!(
            pg.applied(&head.bundle_id).unwrap(),
            sqlite.applied(&head.bundle_id).unwrap()
        );
    }
    assert_eq!(pg.feed_head("no-such-feed").unwrap(), None);
    assert_eq!(pg.applied("no-such-bundle").unwrap(), None);
    for at in 0..=last + 1 {
        for kind in KINDS {
            let docs = sqlite.documents_as_of(kind, at).unwrap();
            assert_eq!(
                pg.documents_as_of(kind, at).unwrap(),
                docs,
                "{kind} at {at}"
            );
            let changed = sqlite.changed_at(kind, at).unwrap();
            assert_eq!(pg.changed_at(kind, at).unwrap(), changed, "{kind} at {at}");
        }
        assert_eq!(
            pg.artifacts_as_of(at).unwrap(),
            sqlite.artifacts_as_of(at).unwrap()
        );
        let mut seen = (Vec::new(), Vec::new());
        sqlite
            .scan_artifacts(at, |a, n| seen.0.push((a.to_owned(), n.map(str::to_owned))))
            .unwrap();
        pg.scan_artifacts(at, |a, n| seen.1.push((a.to_owned(), n.map(str::to_owned))))
            .unwrap();
        assert_eq!(seen.1, seen.0);
        for package in packages {
            let rows = sqlite.components_of(package, at).unwrap();
            assert_eq!(pg.components_of(package, at).unwrap(), rows, "{package}");
            let mut scanned = Vec::new();
            pg.scan_components(package, at, |c| {
                scanned.push((c.artifact.to_owned(), c.purl.to_owned()))
            })
            .unwrap();
            let expected: Vec<_> = rows.into_iter().map(|c| (c.artifact, c.purl)).collect();
            assert_eq!(scanned, expected, "{package} at {at}");
        }
    }
}

fn packages(bundles: &[Bundle]) -> BTreeSet<String> {
    let docs = bundles.iter().flat_map(|b| &b.docs);
    let rows = docs.flat_map(|d| &d.components);
    rows.map(|r| r.package.clone()).collect()
}

/// The state digest of a data dir into which the real ingestor applied `BUNDLES`.
fn ingested_digest() -> String {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path().join("data"));
    let trust = path("bundles/demo-trust.json");
    dir.init(&InitOptions {
        import_trust: Some(&trust),
        ..InitOptions::default()
    })
    .unwrap();
    let mut ingestor =
        Ingestor::open(dir.clone(), None, Limits::default(), ExpiryPolicy::Enforce).unwrap();
    for rel in BUNDLES {
        ingestor.enqueue(&[path(rel)]).unwrap();
        let ready = inbox::bundles_in(&dir.inbox()).unwrap();
        let outcomes = ingestor.drain(ready, &mut |_| {}).unwrap();
        assert!(
            matches!(outcomes.as_slice(), [Outcome::Applied { .. }]),
            "{outcomes:?}"
        );
    }
    ingestor.store().state_digest().unwrap()
}

#[test]
fn sample_bundles_give_the_same_state_on_both_stores() {
    let (_db, mut pg) = pg!("sample_bundles_give_the_same_state_on_both_stores");
    let tmp = tempfile::tempdir().unwrap();
    let mut sqlite = Store::open(&tmp.path().join("state.db")).unwrap();
    let empty = sqlite.state_digest().unwrap();
    assert_eq!(pg.state_digest().unwrap(), empty, "digest of nothing");
    let mut bundles: Vec<Bundle> = BUNDLES.iter().map(|rel| load(rel)).collect();
    for b in &bundles {
        let expected = apply!(sqlite, b);
        assert_eq!(apply!(pg, b), expected, "{}", b.header.bundle_id);
        assert_eq!(pg.state_digest().unwrap(), sqlite.state_digest().unwrap());
    }
    assert_eq!(
        pg.state_digest().unwrap(),
        ingested_digest(),
        "the real ingest"
    );
    let withdrawals: usize = bundles.iter().map(|b| b.withdrawn.len()).sum();
    assert!(withdrawals > 0, "the samples withdraw a document");
    bundles.push(sbom_snapshot_2(&bundles[1]));
    let last = bundles.last().unwrap();
    let expected = apply!(sqlite, last);
    assert!(expected.puts.contains(&PutOutcome::Changed), "{expected:?}");
    assert!(
        expected.puts.contains(&PutOutcome::Unchanged),
        "{expected:?}"
    );
    assert_eq!(apply!(pg, last), expected);
    assert_eq!(sqlite.changelog().unwrap().last().unwrap().withdrawn, 1);
    assert_eq!(
        pg.checkpoint().unwrap().frames,
        0,
        "checkpoints are the server's"
    );
    assert_same_state(&sqlite, &pg, &packages(&bundles));
}

#[test]
fn every_bulk_path_writes_what_sqlite_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut sqlite = Store::open(&tmp.path().join("state.db")).unwrap();
    let mut script = [
        synthetic("syn", 1, true, 0..5_000),
        // Keeps 600, changes every tenth, closes the 4,400 it lacks.
        synthetic("syn", 2, true, 0..600),
        synthetic("syn", 3, false, (0..600).step_by(10)),
    ];
    for (i, doc) in script[1].docs.iter_mut().enumerate() {
        if i % 10 != 0 {
            doc.bytes = format!("{{\"id\":\"SYN-{i}\",\"rev\":1}}").into_bytes();
            doc.sha256 = hex::encode(Sha256::digest(&doc.bytes));
        }
    }
    script[2].withdrawn = vec![
        (DocumentKind::Advisory, "SYN-599".to_owned()),
        (DocumentKind::Advisory, "SYN-4999".to_owned()),
    ];
    let expected: Vec<Answers> = script.iter().map(|b| apply!(sqlite, b)).collect();
    assert_eq!(
        expected[1]
            .puts
            .iter()
            .filter(|o| **o == PutOutcome::Changed)
            .count(),
        60
    );
    assert_eq!(expected[2].withdrawn, [true, false]);
    for path in [BulkPath::Copy, BulkPath::Unnest] {
        let (_db, mut pg) = pg!("every_bulk_path_writes_what_sqlite_writes");
        for (b, answers) in script.iter().zip(&expected) {
            let got = apply!(pg, b, |tx| tx.set_bulk_path(path).unwrap());
            assert_eq!(&got, answers, "{path:?} {}", b.header.bundle_id);
        }
        assert_same_state(&sqlite, &pg, &BTreeSet::new());
    }
}

#[test]
fn batched_puts_answer_as_single_puts() {
    let (_db, mut pg) = pg!("batched_puts_answer_as_single_puts");
    let tmp = tempfile::tempdir().unwrap();
    let mut sqlite = Store::open(&tmp.path().join("state.db")).unwrap();
    let first = synthetic("syn", 1, true, 0..300);
    let mut second = synthetic("syn", 2, false, 200..400);
    second.docs[0].bytes.push(b' ');
    second.docs[0].sha256 = hex::encode(Sha256::digest(&second.docs[0].bytes));
    for b in [&first, &second] {
        let expected = apply!(sqlite, b);
        let mut tx = pg.begin_apply(b.header.clone()).unwrap();
        let versions: Vec<NewVersion<'_>> = b.docs.iter().map(Doc::version).collect();
        let mut puts = Vec::new();
        for chunk in versions.chunks(64) {
            puts.extend(tx.put_batch(chunk).unwrap());
        }
        assert_eq!(puts, expected.puts);
        assert_eq!(tx.commit().unwrap(), expected.position);
    }
    assert_same_state(&sqlite, &pg, &BTreeSet::new());
}

#[test]
fn refusals_match_and_leave_nothing_behind() {
    let (_db, mut pg) = pg!("refusals_match_and_leave_nothing_behind");
    let tmp = tempfile::tempdir().unwrap();
    let mut sqlite = Store::open(&tmp.path().join("state.db")).unwrap();
    let b = synthetic("syn", 1, true, 0..3);
    let mut twice = b.docs[1].clone();
    twice.path = "advisories/again.json".to_owned();
    let mut finding = b.docs[2].clone();
    finding.kind = DocumentKind::Findings;
    finding.id = "finding-1".to_owned();
    for bad in [&twice, &finding] {
        let mut tx = sqlite.begin_apply(b.header.clone()).unwrap();
        let mut ptx = pg.begin_apply(b.header.clone()).unwrap();
        for doc in &b.docs[..2] {
            assert_eq!(
                ptx.put(doc.version()).unwrap(),
                tx.put(doc.version()).unwrap()
            );
        }
        let expected = tx.put(bad.version()).unwrap_err().to_string();
        assert_eq!(ptx.put(bad.version()).unwrap_err().to_string(), expected);
        // Dropped uncommitted, as ingest drops a refused bundle's transaction.
    }
    let mut ptx = pg.begin_apply(b.header.clone()).unwrap();
    let batch: Vec<_> = [&b.docs[0], &b.docs[1], &twice, &b.docs[2]]
        .map(Doc::version)
        .to_vec();
    let refused = ptx.put_batch(&batch).unwrap_err();
    assert!(
        matches!(refused, StoreError::DuplicateInBundle { .. }),
        "{refused}"
    );
    drop(ptx);
    assert_eq!(pg.position().unwrap(), 0);
    assert_eq!(pg.state_digest().unwrap(), sqlite.state_digest().unwrap());
    // The store is usable after the rollbacks, and positions have no gap.
    assert_eq!(apply!(pg, &b), apply!(sqlite, &b));
    assert_eq!(pg.position().unwrap(), 1);
    assert_same_state(&sqlite, &pg, &BTreeSet::new());
}

/// Regression: buffered rows are written before a withdrawal could close them. A
/// version put and withdrawn in one bundle holds for no position on SQLite, and its
/// components (a component listed twice is one row) close with it.
#[test]
fn a_withdrawal_closes_what_the_same_bundle_put() {
    let (_db, mut pg) = pg!("a_withdrawal_closes_what_the_same_bundle_put");
    let tmp = tempfile::tempdir().unwrap();
    let mut sqlite = Store::open(&tmp.path().join("state.db")).unwrap();
    let bytes = b"{\"bomFormat\":\"CycloneDX\"}".to_vec();
    let sbom = Doc {
        kind: DocumentKind::Sbom,
        format: DocumentFormat::Cyclonedx,
        id: format!("sha256:{}", "ab".repeat(32)),
        path: "sboms/app.json".to_owned(),
        sha256: hex::encode(Sha256::digest(&bytes)),
        subject_name: Some("registry.example/app:1".to_owned()),
        bytes,
        components: Vec::new(),
    };
    let row = ComponentRow {
        package: "npm//left-pad".to_owned(),
        version: Some("1.3.0".to_owned()),
        release: None,
        purl: "pkg:npm/left-pad@1.3.0".to_owned(),
    };
    let b = synthetic("sbom-syn", 1, false, 0..2);
    macro_rules! put_then_withdraw {
        ($store:expr) => {{
            let mut tx = $store.begin_apply(b.header.clone()).unwrap();
            let put = tx.put(sbom.version()).unwrap();
            tx.put_components(&sbom.id, &[row.clone(), row.clone()])
                .unwrap();
            let put_other = tx.put(b.docs[0].version()).unwrap();
            let withdrawn = tx.withdraw(DocumentKind::Sbom, &sbom.id).unwrap();
            (put, put_other, withdrawn, tx.commit().unwrap())
        }};
    }
    let expected = put_then_withdraw!(sqlite);
    assert_eq!(put_then_withdraw!(pg), expected);
    assert!(expected.2, "the withdrawal found the version just put");
    assert!(sqlite.components_of("npm//left-pad", 1).unwrap().is_empty());
    let packages = BTreeSet::from(["npm//left-pad".to_owned()]);
    assert_same_state(&sqlite, &pg, &packages);
    assert_eq!(
        pg.changed_at(DocumentKind::Sbom, 1).unwrap().len(),
        2,
        "one version, begun and ended at 1"
    );
}

/// 0006_lz4_documents: where the server has lz4, a document large enough to be
/// compressed is stored with lz4 (not pglz, not uncompressed), and every document reads
/// back byte for byte, on both bulk paths.
#[test]
fn documents_are_stored_with_lz4_where_the_server_has_it_and_read_back_whole() {
    for path in [BulkPath::Copy, BulkPath::Unnest] {
        let (db, mut pg) = pg!("documents_are_stored_with_lz4");
        let has_lz4 = db.column(
            "SELECT name FROM pg_settings
             WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)",
        ) == ["default_toast_compression"];
        let mut bundle = synthetic("lz4", 1, true, 0..3);
        // 20 KB of JSON that compresses well, past the 2 KB at which the server tries.
        let large = format!(
            "{{\"id\":\"SYN-0\",\"details\":\"{}\"}}",
            "abc ".repeat(5_000)
        );
        bundle.docs[0].bytes = large.into_bytes();
        bundle.docs[0].sha256 = hex::encode(Sha256::digest(&bundle.docs[0].bytes));
        apply!(pg, &bundle, |tx| tx.set_bulk_path(path).unwrap());
        let methods = db.column(
            "SELECT coalesce(pg_column_compression(bytes)::text, 'none') FROM scheduler.documents
             ORDER BY doc_id",
        );
        let first = if has_lz4 { "lz4" } else { "none" };
        assert_eq!(methods, [first, "none", "none"], "{path:?}");
        let read = pg.documents_as_of(DocumentKind::Advisory, 1).unwrap();
        let bytes: Vec<&[u8]> = read.iter().map(|d| d.bytes.as_slice()).collect();
        let written: Vec<&[u8]> = bundle.docs.iter().map(|d| d.bytes.as_slice()).collect();
        assert_eq!(bytes, written, "{path:?}");
    }
}

/// A store can end inside another runtime's async context (the API's idle stores live
/// in state its server owns, and go when the server stops). Dropping it there does not
/// panic, and the database serves the next store.
#[test]
fn a_store_dropped_inside_an_async_context_closes_quietly() {
    let (db, pg) = pg!("a_store_dropped_inside_an_async_context_closes_quietly");
    let outer = tokio::runtime::Runtime::new().unwrap();
    outer.block_on(async move { drop(pg) });
    let again = PgStore::connect(&db.url).unwrap();
    assert_eq!(again.position().unwrap(), 0);
}
