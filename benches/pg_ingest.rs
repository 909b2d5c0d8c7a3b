//! Bulk ingest into the PostgreSQL store (issue 6: at least 80 MB/s of uncompressed
//! documents): a snapshot of synthetic OSV advisories (benches/support, the generator
//! benches/ingest.rs uses) applied through `PgStore::begin_apply` / `put` / `commit`,
//! once with each `BulkPath`, each into a fresh database; then the same snapshot again
//! through `put_batch`, every document unchanged (the lookup path of a feed that holds
//! documents). Last, two other ways for the server to store the documents' bytes. The
//! SQLite store applies the same snapshot for scale.
//!
//! This times the store alone: documents are rendered and hashed before the clock
//! starts; benches/ingest.rs times the whole `ingest` command (verification and
//! parsing included) into PostgreSQL.
//!
//! `cargo bench --bench pg_ingest`; `BENCH_DOCS=N` (default 50,000). The server is
//! `STELLA_TEST_PG` (default `postgres://postgres@127.0.0.1:5432`), as for the tests.
//! Figures only: nothing here asserts a time.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

#[path = "../tests/pg_support/mod.rs"]
mod pg_support;
mod support;

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};
use stella_scheduler::model::{DocumentFormat, DocumentKind};
use stella_scheduler::store::postgres::{BulkPath, PgStore};
use stella_scheduler::store::{ApplyHeader, NewVersion, PutOutcome, Store};
use support::{render_advisory, Size};

const DEFAULT_DOCS: u64 = 50_000;
const BATCH: usize = 1024;
/// Each bulk path on the schema as migrated (documents' `bytes` compressed with lz4 where
/// the server has it, 0006), then the column stored uncompressed (0001's choice) and
/// compressed with pglz (PostgreSQL's default), to show what the migrations' choice is
/// worth.
const VARIANTS: [(BulkPath, Option<&str>); 4] = [
    (BulkPath::Copy, None),
    (BulkPath::Unnest, None),
    (BulkPath::Copy, Some("SET STORAGE EXTERNAL")),
    (
        BulkPath::Copy,
        Some("SET STORAGE EXTENDED, ALTER COLUMN bytes SET COMPRESSION pglz"),
    ),
];

fn main() -> ExitCode {
    support::finish("pg_ingest", run())
}

/// A rendered document with what the store is told about it.
struct Doc {
    id: String,
    path: String,
    sha256: String,
    bytes: Vec<u8>,
}

impl Doc {
    fn version(&self) -> NewVersion<'_> {
        NewVersion {
            kind: DocumentKind::Advisory,
            doc_id: &self.id,
            format: DocumentFormat::Osv,
            path: &self.path,
            sha256: &self.sha256,
            subject_name: None,
            bytes: &self.bytes,
        }
    }
}

fn run() -> anyhow::Result<()> {
    let n: u64 = std::env::var("BENCH_DOCS").map_or(Ok(DEFAULT_DOCS), |v| v.parse())?;
    let docs: Vec<Doc> = (0..n).map(doc).collect();
    let mb = docs.iter().map(|d| d.bytes.len()).sum::<usize>() as f64 / 1e6;
    println!("pg_ingest: {n} documents, {mb:.1} MB uncompressed");
    for (path, storage) in VARIANTS {
        let db = pg_support::TestDb::fresh("pg_ingest bench")
            .context("a PostgreSQL server is needed (STELLA_TEST_PG)")?;
        let mut store = PgStore::connect(&db.url)?;
        if let Some(alter) = storage {
            db.exec(&format!(
                "ALTER TABLE scheduler.documents ALTER COLUMN bytes {alter}"
            ));
        }
        let shown = storage.unwrap_or("as migrated");
        let secs = timed(|| apply_pg(&mut store, &docs, 1, path))?;
        println!(
            "  {path:?}, bytes {shown}: {secs:.2} s, {:.1} MB/s",
            mb / secs
        );
        if path == BulkPath::Copy && storage.is_none() {
            let secs = timed(|| reapply_pg(&mut store, &docs))?;
            println!(
                "  unchanged re-snapshot (put_batch of {BATCH}): {secs:.2} s, {:.1} MB/s",
                mb / secs
            );
        }
    }
    let tmp = tempfile::tempdir()?;
    let mut sqlite = Store::open(&tmp.path().join("state.db"))?;
    let secs = timed(|| apply_sqlite(&mut sqlite, &docs))?;
    println!(
        "  SQLite store, same calls: {secs:.2} s, {:.1} MB/s",
        mb / secs
    );
    println!("  load average {}", load_average());
    Ok(())
}

fn doc(i: u64) -> Doc {
    let bytes = render_advisory(i, Size::Compact);
    let id = format!("BENCH-{i:08}");
    Doc {
        path: format!("advisories/{id}.json"),
        sha256: hex::encode(Sha256::digest(&bytes)),
        id,
        bytes,
    }
}

fn header(sequence: u64) -> ApplyHeader {
    ApplyHeader {
        feed: "osv-bench".to_owned(),
        sequence,
        bundle_id: format!("bench-{sequence}"),
        snapshot: true,
        created_at: "2026-12-01T00:00:00Z".to_owned(),
        applied_at: "2026-12-01T00:00:00Z".to_owned(),
        source_file: format!("bench-{sequence}.tar.zst"),
        expired_accepted: false,
    }
}

fn timed(f: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let start = Instant::now();
    f()?;
    Ok(start.elapsed().as_secs_f64())
}

/// `put` per document, as ingest calls it.
fn apply_pg(store: &mut PgStore, docs: &[Doc], seq: u64, path: BulkPath) -> anyhow::Result<()> {
    let mut tx = store.begin_apply(header(seq))?;
    tx.set_bulk_path(path)?;
    for d in docs {
        tx.put(d.version())?;
    }
    tx.commit()?;
    Ok(())
}

fn reapply_pg(store: &mut PgStore, docs: &[Doc]) -> anyhow::Result<()> {
    let mut tx = store.begin_apply(header(2))?;
    for chunk in docs.chunks(BATCH) {
        let versions: Vec<_> = chunk.iter().map(Doc::version).collect();
        let outcomes = tx.put_batch(&versions)?;
        anyhow::ensure!(outcomes.iter().all(|o| *o == PutOutcome::Unchanged));
    }
    tx.commit()?;
    Ok(())
}

fn apply_sqlite(store: &mut Store, docs: &[Doc]) -> anyhow::Result<()> {
    let mut tx = store.begin_apply(header(1))?;
    for d in docs {
        tx.put(d.version())?;
    }
    tx.commit()?;
    Ok(())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}
