//! Connected-mode latency (issue 6): a one-advisory delta published to its subject
//! reaches a completion event on the events subject; p50 and p95 over 20 deltas, with
//! the 10,000-artifact estate of benches/scheduler.rs in the store.
//!
//! The estate is the one `cargo bench --bench scheduler` builds and caches under
//! target/bench-data (this bench builds it the same way when it is missing, by running
//! that bench with no phase). A scratch copy of it is served by a release `run
//! --nats-url` with fresh stream and subject names; each delta is published with the
//! library's producer (`nats publish`), and the clock stops when the event arrives on a
//! core subscription to the events subject. Needs a NATS server with JetStream at
//! `STELLA_BENCH_NATS_URL` (default nats://127.0.0.1:4222).
#![allow(clippy::print_stdout)]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use futures_util::StreamExt as _;
use serde_json::json;
use stella_scheduler::bundle::{
    keys, write_bundle, BundleId, BundleSpec, InMemory, MemberPath, Mode, NewDocument,
};
use stella_scheduler::model::{DocumentFormat, DocumentKind};
use stella_scheduler::transport::{NatsConfig, Producer};
use support::Rng;

const BINARY: &str = env!("CARGO_BIN_EXE_stella-scheduler");
/// The estate of benches/scheduler.rs this bench reads (its GENERATOR_VERSION and size).
const ESTATE: &str = "target/bench-data/scheduler-g3-a10000";
/// What benches/scheduler.rs draws each artifact's packages from; mirrored here to pick
/// packages the estate ships.
const ESTATE_PACKAGES: u64 = 50_000;
const COMPONENTS: usize = 500;
const DELTAS: usize = 20;
/// Advisory numbers above those the scheduler bench uses.
const FIRST_ADVISORY: u64 = 1_000_000;

fn main() -> ExitCode {
    support::finish("nats", run())
}

fn run() -> anyhow::Result<()> {
    let url = std::env::var("STELLA_BENCH_NATS_URL")
        .unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let estate = Path::new(env!("CARGO_MANIFEST_DIR")).join(ESTATE);
    if !estate.join("done.json").exists() {
        build_estate()?;
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(estate.join("done.json"))?)?;
    let head: BundleId = meta["head"].as_str().context("done.json head")?.parse()?;
    let key = keys::read_signing_key(&estate.join("feed.key"))?;
    let data = estate.with_file_name("nats-latency");
    let _ = std::fs::remove_dir_all(&data);
    let status = Command::new("cp")
        .arg("-a")
        .arg(estate.join("data"))
        .arg(&data)
        .status()?;
    if !status.success() {
        bail!("copying the estate failed");
    }
    let config = config(&url);
    let rt = tokio::runtime::Runtime::new()?;
    // Dropping the subscription spawns a task: stay in the runtime's context.
    let _context = rt.enter();
    let client = rt.block_on(async_nats::connect(url.as_str()))?;
    let mut events = rt.block_on(client.subscribe(config.events_subject.clone()))?;
    // The estate's own events (its first runs) are published when `run` starts; they
    // are not what is measured.
    let old: BTreeSet<String> = std::fs::read_dir(data.join("outbox/events"))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().replace(".dsse.json", "")))
        .collect::<Result<_, _>>()?;
    let mut server = spawn_run(&data, &config)?;
    let producer = Producer::connect(config.clone())?;
    let measured = (|| {
        let mut chain = (2u64, head);
        let mut rng = Rng::new(11);
        let (mut times, mut impacted) = (Vec::new(), 0usize);
        let scratch = data.join("bench-deltas");
        std::fs::create_dir_all(&scratch)?;
        std::thread::sleep(Duration::from_millis(1000));
        for n in 0..DELTAS {
            let about = shipped_package(&mut rng);
            let (sequence, previous) = chain.clone();
            let file = scratch.join(format!("osv-{sequence}.tar.zst"));
            let doc = advisory(FIRST_ADVISORY + n as u64, about)?;
            let id = write_bundle(
                spec(sequence, previous),
                vec![doc],
                std::slice::from_ref(&key),
                &file,
            )?
            .id;
            chain = (sequence + 1, id);
            let started = Instant::now();
            producer.publish(&file, "bench-osv")?;
            let event = rt
                .block_on(async {
                    tokio::time::timeout(Duration::from_secs(60), next_new(&mut events, &old)).await
                })
                .context("no completion event within 60 s")?
                .context("the events subscription ended")?;
            times.push(started.elapsed());
            impacted += subjects(&event.payload)?;
        }
        anyhow::Ok((times, impacted))
    })();
    let _ = server.kill();
    let _ = server.wait();
    rt.block_on(async {
        let js = async_nats::jetstream::new(client);
        let buckets = [&config.object_bucket, &config.events_bucket].map(|b| format!("OBJ_{b}"));
        for stream in [&config.stream, &config.events_stream]
            .into_iter()
            .chain(&buckets)
        {
            let _ = js.delete_stream(stream).await;
        }
    });
    let (times, impacted) = measured?;
    println!(
        "nats latency: one-advisory delta published to {} -> completion event on {}, \
         10,000 artifacts in the store, {:.0} impacted on average: p50 {:.0} ms, p95 {:.0} ms, \
         max {:.0} ms over {} deltas (target p50 <= 300 ms)",
        config.bundle_subject("bench-osv"),
        config.events_subject,
        impacted as f64 / times.len() as f64,
        ms(percentile(&times, 50)),
        ms(percentile(&times, 95)),
        ms(percentile(&times, 100)),
        times.len()
    );
    Ok(())
}

/// Fresh names, so the bench never meets a site's STELLA_BUNDLES.
fn config(url: &str) -> NatsConfig {
    let tag = format!("bench{}", std::process::id());
    NatsConfig {
        url: url.to_owned(),
        stream: format!("{}_B", tag.to_uppercase()),
        subject_prefix: format!("{tag}.bundles"),
        consumer: "bench".to_owned(),
        object_bucket: format!("{tag}_L"),
        events_subject: format!("{tag}.events.completed"),
        events_stream: format!("{}_E", tag.to_uppercase()),
        events_bucket: format!("{tag}_EL"),
        export_bucket: None,
    }
}

fn build_estate() -> anyhow::Result<()> {
    println!("building the scheduler bench's estate first (once)");
    let status = Command::new(env!("CARGO"))
        .args(["bench", "--bench", "scheduler"])
        .env("STELLA_BENCH_ONLY", "none")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()?;
    if !status.success() {
        bail!("building the estate failed");
    }
    Ok(())
}

fn spawn_run(data: &Path, config: &NatsConfig) -> anyhow::Result<std::process::Child> {
    let data: PathBuf = data.to_owned();
    Ok(Command::new(BINARY)
        .args([
            "run",
            "--settle-ms",
            "0",
            "--workers",
            "2",
            "--no-export",
            "--data-dir",
        ])
        .arg(&data)
        .args(["--nats-url", &config.url, "--nats-stream", &config.stream])
        .args(["--nats-subject-prefix", &config.subject_prefix])
        .args(["--nats-consumer", &config.consumer])
        .args(["--nats-events-subject", &config.events_subject])
        .args(["--nats-events-stream", &config.events_stream])
        .args(["--nats-events-bucket", &config.events_bucket])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(data.join("run.log"))?)
        .spawn()?)
}

/// A package some artifact ships: one component of a random artifact, drawn as
/// benches/scheduler.rs draws them (power-law over 50,000 packages, seed per artifact).
fn shipped_package(rng: &mut Rng) -> u64 {
    let artifact = rng.range(0, 10_000);
    let mut draw = Rng::new(artifact ^ 0xb0b);
    let mut chosen = BTreeSet::new();
    while chosen.len() < COMPONENTS {
        chosen.insert((ESTATE_PACKAGES as f64 * draw.unit().powf(2.5)) as u64);
    }
    let pick = rng.below(chosen.len());
    chosen.into_iter().nth(pick).unwrap_or(0)
}

/// An advisory about every version below 99 of package `i`, named as the estate's
/// SBOMs name it.
fn advisory(n: u64, i: u64) -> anyhow::Result<NewDocument> {
    let (ecosystem, name, kind) = match i % 3 {
        0 => ("npm", format!("bench-pkg-{i}"), "SEMVER"),
        1 => ("PyPI", format!("bench-pkg-{i}"), "SEMVER"),
        _ => ("Maven", format!("org.bench:pkg-{i}"), "ECOSYSTEM"),
    };
    let doc = json!({
        "schema_version": "1.6.0", "id": format!("BENCH-{n}"), "modified": "2026-11-01T00:00:00Z",
        "summary": "generated advisory for the NATS latency benchmark",
        "affected": [{"package": {"ecosystem": ecosystem, "name": name},
            "ranges": [{"type": kind, "events": [{"introduced": "0"}, {"fixed": "99.0.0"}]}]}],
    });
    let path = format!("advisories/BENCH-{n}.json");
    Ok(NewDocument {
        path: MemberPath::parse(path.as_bytes())?,
        kind: DocumentKind::Advisory,
        format: DocumentFormat::Osv,
        subject: None,
        source: Box::new(InMemory {
            name: path,
            bytes: serde_json::to_vec(&doc)?,
        }),
    })
}

fn spec(sequence: u64, previous: BundleId) -> BundleSpec {
    BundleSpec {
        feed: "bench-osv".to_owned(),
        sequence,
        previous: Some(previous),
        mode: Mode::Delta,
        created_at: format!("2026-11-{:02}T00:00:00Z", 1 + sequence % 28),
        expires_at: None,
        withdrawn: Vec::new(),
    }
}

/// The next event of a run not in `old`.
async fn next_new(
    events: &mut async_nats::Subscriber,
    old: &BTreeSet<String>,
) -> Option<async_nats::Message> {
    while let Some(message) = events.next().await {
        let run = message
            .headers
            .as_ref()
            .and_then(|h| h.get("Stella-Run-Id"))
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default();
        if !old.contains(&run) {
            return Some(message);
        }
    }
    None
}

fn subjects(envelope: &[u8]) -> anyhow::Result<usize> {
    use base64::Engine as _;
    let envelope: serde_json::Value = serde_json::from_slice(envelope)?;
    let payload = envelope["payload"].as_str().context("payload")?;
    let statement: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(payload)?)?;
    Ok(statement["subject"].as_array().map_or(0, Vec::len))
}

fn percentile(times: &[Duration], p: usize) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    let rank = (p * sorted.len()).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
