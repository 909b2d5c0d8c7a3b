//! One input file, start to finish: verify it, decide its place in the feed chain, and
//! apply it in one store transaction, or put it where it belongs.
//!
//! Verification (zstd, tar, SHA-256) runs on its own thread and hands over each member
//! only after its digest matched; parse workers turn members into rows, and this thread
//! writes them, so the stages overlap on every core. Nothing commits unless verification,
//! every parse and every write succeeded.
//!
//! Members travel in batches dealt round-robin to the parse workers, and this thread
//! takes the parsed batches back in the same rotation: documents are written in bundle
//! order, and the first bad document in that order is the one reported, however the
//! workers were scheduled.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread::Scope;
use std::time::{Duration, Instant};

use serde::Serialize;
use time::OffsetDateTime;

use super::chain::{decide, Decision, Link};
use super::placement;
use super::{IngestError, Ingestor, Outcome};
use crate::bundle::{
    error_chain, BundleId, DocumentEntry, Manifest, ManifestError, MemberSink, Mode, Reason,
    Report, TranscriptView, Verifier, VerifyError, Withdrawal,
};
use crate::formats::{self, FormatError, ParsedDocument};
use crate::matching::ecosystem::component_index_lookups;
use crate::model::DocumentKind;
use crate::store::{
    ApplyHeader, ApplyTx, ComponentRow, NewVersion, PutOutcome, StoreError, WalWriteback,
};
use crate::telemetry::metrics::{self, Refusal};

/// Parse workers. Parsing is the costliest stage (about as much CPU as verification
/// and SQLite together), so two workers let it use whatever core the others leave idle.
const PARSE_WORKERS: usize = 2;
/// Batches in flight on each channel between the stages; each batch holds up to
/// `BATCH_MEMBERS` members or `BATCH_BYTES` bytes, so a thread wakes once per batch, not
/// once per document.
const QUEUE_BATCHES: usize = 4;
const BATCH_MEMBERS: usize = 128;
const BATCH_BYTES: usize = 1 << 20;
/// Bundles with at least this many bytes of documents have their write-ahead log synced
/// while they are applied (`write_back`); below it, the page cache holds most of what
/// they write until the commit anyway.
const WRITEBACK_FROM_BYTES: u64 = 64 << 20;
const WRITEBACK_EVERY: Duration = Duration::from_millis(200);

type Member = (DocumentEntry, Vec<u8>);

/// A member that parsed, with the id it is stored under and, for an SBOM, its rows of
/// the impact index.
struct Parsed {
    entry: DocumentEntry,
    bytes: Vec<u8>,
    id: String,
    components: Vec<ComponentRow>,
}

/// What the verifier thread tells this one once the manifest is authenticated.
#[derive(Debug)]
struct Facts {
    id: BundleId,
    link: Link,
    created_at: String,
    expired: bool,
    withdrawn: Vec<Withdrawal>,
    /// Bytes of documents the manifest lists.
    bytes: u64,
}

impl Facts {
    fn of(manifest: &Manifest, id: &BundleId, now: OffsetDateTime) -> Self {
        Self {
            id: id.clone(),
            link: Link::of(manifest),
            created_at: manifest.created_at.clone(),
            expired: manifest.expires_at().is_some_and(|t| now > t),
            withdrawn: manifest.withdrawn.clone(),
            bytes: manifest.documents.iter().map(|d| d.size).sum(),
        }
    }
}

/// The verifier thread's end of the hand-over.
struct ChannelSink {
    now: OffsetDateTime,
    facts: Option<SyncSender<Facts>>,
    go: Receiver<bool>,
    /// One channel per parse worker; batch `n` goes to worker `n % PARSE_WORKERS`.
    members: Vec<SyncSender<Vec<Member>>>,
    sent: usize,
    batch: Vec<Member>,
    batch_bytes: usize,
    wants: bool,
}

impl ChannelSink {
    fn flush(&mut self) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.batch_bytes = 0;
        let batch = std::mem::take(&mut self.batch);
        let worker = &self.members[self.sent % self.members.len()];
        self.sent += 1;
        worker
            .send(batch)
            .map_err(|_| "ingest stopped reading members".into())
    }
}

impl Drop for ChannelSink {
    /// The last partial batch; whether it is used is decided by the verdict.
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

impl MemberSink for ChannelSink {
    fn on_manifest(&mut self, manifest: &Manifest, id: &BundleId) {
        if let Some(tx) = self.facts.take() {
            if tx.send(Facts::of(manifest, id, self.now)).is_ok() {
                self.wants = self.go.recv().unwrap_or(false);
            }
        }
    }

    fn wants_bytes(&self) -> bool {
        self.wants
    }

    fn accept(
        &mut self,
        entry: &DocumentEntry,
        bytes: Vec<u8>,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.batch_bytes += bytes.len();
        self.batch.push((entry.clone(), bytes));
        if self.batch.len() >= BATCH_MEMBERS || self.batch_bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }
}

/// Why a verified bundle could not be loaded.
#[derive(Debug, thiserror::Error)]
enum LoadFault {
    #[error("document {path} does not parse")]
    Parse {
        path: String,
        #[source]
        source: Box<FormatError>,
    },
    #[error("document {path}: an sbom entry without subject reached ingest")]
    NoSubject { path: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LoadFault {
    /// A bad document refuses the bundle; a store failure is the environment's.
    fn into_outcome_error(self) -> Result<LoadFault, IngestError> {
        match self {
            LoadFault::Store(StoreError::DuplicateInBundle { .. }) => Ok(self),
            LoadFault::Store(e) => Err(IngestError::Store(e)),
            other => Ok(other),
        }
    }
}

impl Ingestor {
    /// Processes one file that sits in inbox/ or pending/. Its log lines carry the
    /// bundle id and feed once the manifest is authenticated.
    pub fn process(&mut self, file: &Path) -> Result<Outcome, IngestError> {
        let span = tracing::info_span!(
            "bundle",
            file = %file.display(),
            bundle_id = tracing::field::Empty,
            feed = tracing::field::Empty,
        );
        let _entered = span.enter();
        self.checkpoint_if_log_is_large()?;
        let now = OffsetDateTime::now_utc();
        let verifier = Verifier::new(&self.trust, self.limits)
            .at(now)
            .expiry_policy(self.expiry);
        let expiry_opt_out = self.expiry == crate::bundle::ExpiryPolicy::DangerouslyAcceptExpired;
        let (store, dir) = (&mut self.store, &self.dir);
        let source_file = file_name(file);
        std::thread::scope(|scope| {
            // Channels live in this closure: an early return drops them, which releases
            // the verifier thread before the scope joins it.
            let (fact_tx, fact_rx) = mpsc::sync_channel(1);
            let (go_tx, go_rx) = mpsc::sync_channel(1);
            let (member_txs, member_rxs) = channels(PARSE_WORKERS);
            let verifying = scope.spawn(move || {
                let mut sink = ChannelSink {
                    now,
                    facts: Some(fact_tx),
                    go: go_rx,
                    members: member_txs,
                    sent: 0,
                    batch: Vec::with_capacity(BATCH_MEMBERS),
                    batch_bytes: 0,
                    wants: false,
                };
                verifier.verify(file, &mut sink)
            });
            let judged = match fact_rx.recv() {
                Err(_) => None,
                Ok(facts) => {
                    span.record("bundle_id", facts.id.as_str());
                    span.record("feed", facts.link.feed.as_str());
                    let decision = chain_decision(store, &facts)?;
                    // The verifier may have finished already; then no one listens.
                    let _ = go_tx.send(decision == Decision::Apply);
                    Some((facts, decision))
                }
            };
            let mut loaded = None;
            if let Some((facts, Decision::Apply)) = &judged {
                let header = header(facts, &source_file, facts.expired && expiry_opt_out, now);
                let writeback = match facts.bytes >= WRITEBACK_FROM_BYTES {
                    true => store.wal_writeback(),
                    false => None,
                };
                let tx = store.begin_apply(header)?;
                loaded = Some(load_in_parallel(scope, tx, facts, member_rxs, writeback));
            } else {
                drop(member_rxs);
            }
            let report = verifying
                .join()
                .expect("the verifier thread does not panic");
            settle(dir, file, report, judged, loaded)
        })
    }
}

/// Runs the parse workers and, for a large bundle, the write-back of the log while this
/// thread writes what they parsed into `tx`.
fn load_in_parallel<'scope, 'c>(
    scope: &'scope Scope<'scope, '_>,
    tx: ApplyTx<'c>,
    facts: &Facts,
    members: Vec<Receiver<Vec<Member>>>,
    writeback: Option<WalWriteback>,
) -> Result<ApplyTx<'c>, LoadFault> {
    let (parsed_txs, parsed_rxs) = channels(PARSE_WORKERS);
    let workers: Vec<_> = members
        .into_iter()
        .zip(parsed_txs)
        .map(|(rx, tx)| scope.spawn(move || parse_stage(rx, tx)))
        .collect();
    // Dropping `stop` ends the write-back; it runs until the commit at the latest.
    let (stop, stopped) = mpsc::channel::<()>();
    if let Some(wal) = writeback {
        scope.spawn(move || write_back(wal, stopped));
    }
    let loaded = load(tx, facts, parsed_rxs);
    drop(stop);
    let parse_time: Duration = workers
        .into_iter()
        .map(|w| w.join().expect("a parse worker does not panic"))
        .sum();
    tracing::debug!(parse_ms = parse_time.as_millis() as u64, "documents parsed");
    loaded
}

/// Syncs the write-ahead log every `WRITEBACK_EVERY` until `stop` closes, so that the
/// disk writes of a large apply overlap its parsing instead of all waiting for the
/// commit. The first failure ends it: the commit's own sync is the one that counts, and
/// it reports any error.
fn write_back(mut wal: WalWriteback, stop: Receiver<()>) {
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(WRITEBACK_EVERY) {
        if let Err(error) = wal.sync() {
            tracing::debug!(%error, "the write-ahead log was not synced ahead of the commit");
            return;
        }
    }
}

/// `n` bounded channels, their senders and receivers apart.
fn channels<T>(n: usize) -> (Vec<SyncSender<T>>, Vec<Receiver<T>>) {
    (0..n).map(|_| mpsc::sync_channel(QUEUE_BATCHES)).unzip()
}

fn chain_decision(store: &crate::store::Store, facts: &Facts) -> Result<Decision, IngestError> {
    let applied = store.applied(facts.id.as_str())?.map(|e| e.position);
    let head = store.feed_head(&facts.link.feed)?;
    Ok(decide(head.as_ref(), applied, &facts.link))
}

fn header(facts: &Facts, source: &str, expired_accepted: bool, now: OffsetDateTime) -> ApplyHeader {
    let applied_at = now
        .format(&time::format_description::well_known::Rfc3339)
        .expect("now formats as RFC 3339");
    ApplyHeader {
        feed: facts.link.feed.clone(),
        sequence: facts.link.sequence,
        bundle_id: facts.id.to_string(),
        snapshot: facts.link.mode == Mode::Snapshot,
        created_at: facts.created_at.clone(),
        applied_at,
        source_file: source.to_owned(),
        expired_accepted,
    }
}

/// One parse worker: members in, parsed members out, stopping at the first bad one.
/// Returns the time spent parsing.
fn parse_stage(
    members: Receiver<Vec<Member>>,
    parsed: SyncSender<Result<Vec<Parsed>, LoadFault>>,
) -> Duration {
    let mut spent = Duration::ZERO;
    for batch in members {
        let started = Instant::now();
        let out: Result<Vec<Parsed>, LoadFault> = batch.into_iter().map(parse_member).collect();
        spent += started.elapsed();
        let failed = out.is_err();
        if parsed.send(out).is_err() || failed {
            break;
        }
    }
    spent
}

fn parse_member((entry, bytes): Member) -> Result<Parsed, LoadFault> {
    let path = entry.path.as_str();
    let parse_err = |source| LoadFault::Parse {
        path: path.to_owned(),
        source: Box::new(source),
    };
    let parsed = formats::parse(path, entry.kind, entry.format, &bytes).map_err(parse_err)?;
    let id = match (&entry.subject, entry.kind) {
        (Some(subject), DocumentKind::Sbom) => subject.digest.to_string(),
        (None, DocumentKind::Sbom) => return Err(LoadFault::NoSubject { path: path.into() }),
        _ => formats::document_id(path, &parsed, entry.format, &bytes).map_err(parse_err)?,
    };
    let components = match &parsed {
        ParsedDocument::Sbom(sbom) => component_rows(sbom),
        _ => Vec::new(),
    };
    Ok(Parsed {
        entry,
        bytes,
        id,
        components,
    })
}

/// An SBOM's rows of the impact index: one per package key of each component. Ingest
/// and offline-kit import both index SBOMs through it.
pub(crate) fn component_rows(sbom: &crate::model::Sbom) -> Vec<ComponentRow> {
    let rows = sbom.components.iter().flat_map(|c| {
        let purl = c.purl.clone().unwrap_or_default();
        component_index_lookups(c)
            .into_iter()
            .map(move |l| ComponentRow {
                package: l.key.text(),
                version: l.version,
                release: l.release,
                purl: purl.clone(),
            })
    });
    rows.collect()
}

/// Withdrawals first, then every parsed batch in bundle order, taking the workers'
/// outputs in the rotation the batches were dealt in; the transaction is returned
/// uncommitted so the caller commits only if verification also succeeded.
fn load<'c>(
    mut tx: ApplyTx<'c>,
    facts: &Facts,
    parsed: Vec<Receiver<Result<Vec<Parsed>, LoadFault>>>,
) -> Result<ApplyTx<'c>, LoadFault> {
    for w in &facts.withdrawn {
        tx.withdraw(w.kind, &w.id)?;
    }
    let (mut documents, mut storing) = (0u64, Duration::ZERO);
    // Batch n comes from worker n % len; the first worker with nothing more to give
    // marks the end, since the batches after it were dealt after it.
    let in_order = parsed.iter().cycle().map_while(|rx| rx.recv().ok());
    for batch in in_order {
        let started = Instant::now();
        let batch = batch?;
        store_batch(&mut tx, &batch)?;
        documents += batch.len() as u64;
        storing += started.elapsed();
    }
    tracing::debug!(
        documents,
        store_ms = storing.as_millis() as u64,
        "documents stored"
    );
    Ok(tx)
}

/// One parsed batch, in bundle order, with one lookup of current versions (see
/// [`ApplyTx::put_batch`]); then the impact-index rows of each SBOM that is new or changed.
fn store_batch(tx: &mut ApplyTx<'_>, docs: &[Parsed]) -> Result<(), LoadFault> {
    let shas: Vec<String> = docs.iter().map(|d| d.entry.sha256.to_hex()).collect();
    let versions: Vec<NewVersion<'_>> = docs
        .iter()
        .zip(&shas)
        .map(|(doc, sha256)| NewVersion {
            kind: doc.entry.kind,
            doc_id: &doc.id,
            format: doc.entry.format,
            path: doc.entry.path.as_str(),
            sha256,
            subject_name: doc.entry.subject.as_ref().map(|s| s.name.as_str()),
            bytes: &doc.bytes,
        })
        .collect();
    let outcomes = tx.put_batch(&versions)?;
    for (doc, outcome) in docs.iter().zip(outcomes) {
        if outcome != PutOutcome::Unchanged && doc.entry.kind == DocumentKind::Sbom {
            tx.put_components(&doc.id, &doc.components)?;
        }
    }
    Ok(())
}

/// Commits or rolls back, then moves the file to where its outcome says.
fn settle(
    dir: &super::DataDir,
    file: &Path,
    report: Report,
    judged: Option<(Facts, Decision)>,
    loaded: Option<Result<ApplyTx<'_>, LoadFault>>,
) -> Result<Outcome, IngestError> {
    if let Some(err) = &report.error {
        if let Some(Err(fault)) = loaded {
            // The verifier stopped because loading failed: the fault is the real reason.
            let fault = fault.into_outcome_error()?;
            return quarantine(
                dir,
                file,
                &report,
                "load",
                &error_chain(&fault),
                Refusal::Parse,
            );
        }
        let refusal = refusal_of(err);
        return quarantine(
            dir,
            file,
            &report,
            err.step.name(),
            &error_chain(err),
            refusal,
        );
    }
    let (facts, decision) = judged.expect("a valid report has passed the manifest hook");
    match (decision, loaded) {
        (Decision::Apply, Some(Ok(tx))) => {
            let started = Instant::now();
            let position = tx.commit()?;
            tracing::debug!(
                commit_ms = started.elapsed().as_millis() as u64,
                "committed"
            );
            let moved = placement::move_into(file, &dir.archive()).map_err(io_err(file))?;
            metrics::bundle_applied(&facts.link.feed, facts.bytes);
            Ok(Outcome::Applied {
                position,
                feed: facts.link.feed,
                sequence: facts.link.sequence,
                bundle_id: facts.id.to_string(),
                file: moved,
            })
        }
        (Decision::Apply, Some(Err(fault))) => {
            let fault = fault.into_outcome_error()?;
            quarantine(
                dir,
                file,
                &report,
                "load",
                &error_chain(&fault),
                Refusal::Parse,
            )
        }
        (Decision::Duplicate { position }, _) => {
            let moved = placement::move_into(file, &dir.archive()).map_err(io_err(file))?;
            metrics::bundle_duplicate(&facts.link.feed);
            Ok(Outcome::Duplicate {
                position,
                bundle_id: facts.id.to_string(),
                file: moved,
            })
        }
        (Decision::Pending { waiting_for }, _) => {
            let moved = match file.parent() == Some(dir.pending().as_path()) {
                true => file.to_owned(),
                false => placement::move_into(file, &dir.pending()).map_err(io_err(file))?,
            };
            Ok(Outcome::Pending {
                feed: facts.link.feed,
                sequence: facts.link.sequence,
                waiting_for,
                file: moved,
            })
        }
        (Decision::Refuse(chain), _) => quarantine(
            dir,
            file,
            &report,
            "chain",
            &chain.to_string(),
            Refusal::Chain,
        ),
        (Decision::Apply, None) => unreachable!("an applied bundle always has a load result"),
    }
}

/// What `quarantine/NAME.reason.json` holds.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QuarantineRecord<'a> {
    schema: &'static str,
    file: String,
    failed_step: &'a str,
    error: &'a str,
    transcript: TranscriptView<'a>,
    quarantined_at: String,
}

/// The class of a verification failure, for `stella_bundles_refused_total`.
fn refusal_of(err: &VerifyError) -> Refusal {
    match &err.reason {
        Reason::Expired { .. } => Refusal::Expired,
        Reason::CompressedTooLarge { .. }
        | Reason::TotalTooLarge { .. }
        | Reason::ExtensionTooLarge { .. }
        | Reason::TooManyEntries { .. }
        | Reason::ManifestTooLarge { .. } => Refusal::Limits,
        Reason::Manifest(
            ManifestError::MemberTooLarge { .. }
            | ManifestError::TooManyDocuments { .. }
            | ManifestError::TotalTooLarge { .. },
        ) => Refusal::Limits,
        Reason::Open(_) => Refusal::Other,
        _ => Refusal::Verify,
    }
}

fn quarantine(
    dir: &super::DataDir,
    file: &Path,
    report: &Report,
    failed_step: &str,
    error: &str,
    refusal: Refusal,
) -> Result<Outcome, IngestError> {
    tracing::warn!(file = %file.display(), step = failed_step, error, "bundle quarantined");
    let record = QuarantineRecord {
        schema: "stella.quarantine.v1",
        file: file_name(file),
        failed_step,
        error,
        transcript: TranscriptView::new(&report.transcript, report.manifest.as_ref()),
        quarantined_at: OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .expect("now formats as RFC 3339"),
    };
    let moved = placement::quarantine(file, &dir.quarantine(), &record).map_err(io_err(file))?;
    metrics::bundle_refused(refusal);
    Ok(Outcome::Quarantined {
        file: moved,
        step: failed_step.to_owned(),
        error: error.to_owned(),
    })
}

fn file_name(file: &Path) -> String {
    file.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn io_err(file: &Path) -> impl Fn(std::io::Error) -> IngestError + '_ {
    move |source| IngestError::Move {
        path: PathBuf::from(file),
        source,
    }
}
