//! The process's Prometheus metrics: one registry, typed handles, and the render that
//! `/metrics` serves.
//!
//! Two kinds live here. Counters and histograms count events where they happen (a
//! bundle applied, a job finished, an export written) and exist only in the process that
//! saw them: a restart starts them at zero, which Prometheus' `rate()` expects. Gauges
//! that describe the site (jobs by state, the backlog, feed ages) are not kept up to
//! date as things change; [`render`] reads them from the store and the data dir at
//! scrape time, so every process that renders shows the same site, whoever did the work.
//!
//! The names are a contract with docs/metrics.md and the dashboards and alerts in
//! operations/: change one only together with them.

use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::ingest::{inbox, DataDir, DataDirError, IngestError};
use crate::staleness::{self, FeedStaleness};
use crate::store::{QueueGauges, Store, StoreError};

/// The `Content-Type` of what [`render`] returns: the Prometheus text format 0.0.4,
/// which Prometheus and `promtool check metrics` both read.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Every job state the store knows; each is rendered, with 0 when no job is in it, so
/// that a dashboard's series do not appear and vanish.
const JOB_STATES: [&str; 5] = ["queued", "leased", "succeeded", "dead", "cancelled"];

/// Where a bundle came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A file taken from the inbox by a drain (`ingest`, `run`).
    Inbox,
    /// A message taken from NATS by the consumer.
    Nats,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Self::Inbox => "inbox",
            Self::Nats => "nats",
        }
    }
}

/// Why a bundle was quarantined, in the few classes an alert can tell apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Signature, digest, envelope, manifest or archive structure.
    Verify,
    /// The feed chain refused it (a fork, a gap that cannot close, a replay).
    Chain,
    /// A document that verified but does not parse.
    Parse,
    /// Past its `expiresAt`.
    Expired,
    /// Over a size or count limit (compressed, decompressed, entries, manifest).
    Limits,
    /// Anything else (an unreadable file).
    Other,
}

impl Refusal {
    const ALL: [Refusal; 6] = [
        Self::Verify,
        Self::Chain,
        Self::Parse,
        Self::Expired,
        Self::Limits,
        Self::Other,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Chain => "chain",
            Self::Parse => "parse",
            Self::Expired => "expired",
            Self::Limits => "limits",
            Self::Other => "other",
        }
    }
}

/// How one attempt at a job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    Succeeded,
    Failed,
}

impl JobOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

/// Failures of [`render`].
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot read the data dir's config")]
    Config(#[source] DataDirError),
    #[error("cannot read the store")]
    Store(#[from] StoreError),
    #[error("cannot count the bundles of a data dir folder")]
    Folder(#[source] IngestError),
    #[error("cannot encode the metrics as text")]
    Encode(#[from] std::fmt::Error),
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FeedLabel {
    feed: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TriggerLabel {
    trigger: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: &'static str,
}

type Seconds = Gauge<f64, AtomicU64>;
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// The registry and a handle on each metric in it (handles share their values with the
/// registry's copies).
struct Metrics {
    registry: Registry,
    /// Held while scrape-time gauges are set and encoded, so two scrapes do not mix.
    rendering: Mutex<()>,
    received: Family<SourceLabel, Counter>,
    applied: Family<FeedLabel, Counter>,
    duplicate: Family<FeedLabel, Counter>,
    refused: Family<ReasonLabel, Counter>,
    ingest_bytes: Counter,
    impact_duration: Histograms<TriggerLabel>,
    job_duration: Histograms<OutcomeLabel>,
    job_retries: Counter,
    dead_lettered: Counter,
    exports: Counter,
    http_requests: Family<RequestLabels, Counter>,
    site: SiteGauges,
}

/// The gauges [`render`] sets from the store and the data dir.
#[derive(Default)]
struct SiteGauges {
    pending: Gauge,
    quarantined: Gauge,
    last_applied: Seconds,
    runs_active: Gauge,
    jobs: Family<StateLabel, Gauge>,
    backlog: Gauge,
    paused: Gauge,
    sla_breaches: Gauge,
    feed_age: Family<FeedLabel, Seconds>,
    warn: Family<FeedLabel, Seconds>,
    fail: Family<FeedLabel, Seconds>,
}

/// Impact sets take milliseconds for one artifact and minutes for a large snapshot.
fn impact_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.5, 12))
}

/// One job's evaluation: about a millisecond with warm caches, minutes when a new
/// position's knowledge is built.
fn job_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 3.0, 12))
}

impl Metrics {
    fn new() -> Self {
        let m = Metrics {
            registry: Registry::default(),
            rendering: Mutex::new(()),
            received: Family::default(),
            applied: Family::default(),
            duplicate: Family::default(),
            refused: Family::default(),
            ingest_bytes: Counter::default(),
            impact_duration: Family::new_with_constructor(impact_histogram),
            job_duration: Family::new_with_constructor(job_histogram),
            job_retries: Counter::default(),
            dead_lettered: Counter::default(),
            exports: Counter::default(),
            http_requests: Family::default(),
            site: SiteGauges::default(),
        };
        m.with_known_series().registered()
    }

    /// Label values known in advance start at zero, so that `rate()` and alerts see a
    /// series before its first event.
    fn with_known_series(self) -> Self {
        for source in [Source::Inbox, Source::Nats] {
            self.received.get_or_create_owned(&SourceLabel {
                source: source.as_str(),
            });
        }
        for reason in Refusal::ALL {
            self.refused.get_or_create_owned(&ReasonLabel {
                reason: reason.as_str(),
            });
        }
        for outcome in [JobOutcome::Succeeded, JobOutcome::Failed] {
            self.job_duration.get_or_create_owned(&OutcomeLabel {
                outcome: outcome.as_str(),
            });
        }
        self
    }

    fn registered(mut self) -> Self {
        let r = &mut self.registry;
        // Counters are registered without `_total`; the encoder appends it.
        r.register(
            "stella_bundles_received",
            "Bundles taken for processing, by where they came from",
            self.received.clone(),
        );
        r.register(
            "stella_bundles_applied",
            "Bundles applied to the store, by feed",
            self.applied.clone(),
        );
        r.register(
            "stella_bundles_duplicate",
            "Bundles already applied that arrived again, by feed",
            self.duplicate.clone(),
        );
        r.register(
            "stella_bundles_refused",
            "Bundles quarantined, by class of reason",
            self.refused.clone(),
        );
        r.register(
            "stella_ingest_bytes",
            "Uncompressed document bytes of the bundles applied",
            self.ingest_bytes.clone(),
        );
        r.register(
            "stella_impact_duration_seconds",
            "Time to compute one impact set, by run trigger",
            self.impact_duration.clone(),
        );
        r.register(
            "stella_job_duration_seconds",
            "Time to evaluate one job attempt, by outcome",
            self.job_duration.clone(),
        );
        r.register(
            "stella_job_retries",
            "Failed job attempts scheduled for another try",
            self.job_retries.clone(),
        );
        r.register(
            "stella_jobs_dead_lettered",
            "Jobs that failed their last attempt",
            self.dead_lettered.clone(),
        );
        r.register(
            "stella_exports",
            "Completion bundles written",
            self.exports.clone(),
        );
        r.register(
            "stella_http_requests",
            "HTTP requests answered, by route and status",
            self.http_requests.clone(),
        );
        let build = Family::<VersionLabel, Gauge>::default();
        build
            .get_or_create(&VersionLabel {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        r.register(
            "stella_build_info",
            "Always 1; the version label names the build",
            build,
        );
        self.site.register(r);
        self
    }
}

impl SiteGauges {
    fn register(&self, r: &mut Registry) {
        r.register(
            "stella_bundles_pending",
            "Bundles in pending/ waiting for an earlier sequence of their feed",
            self.pending.clone(),
        );
        r.register(
            "stella_quarantined_files",
            "Bundles in quarantine/",
            self.quarantined.clone(),
        );
        r.register(
            "stella_last_bundle_applied_timestamp_seconds",
            "Unix time the latest bundle was applied (0: none yet)",
            self.last_applied.clone(),
        );
        r.register(
            "stella_runs_active",
            "Runs queued, planning or running",
            self.runs_active.clone(),
        );
        r.register("stella_jobs", "Jobs by state", self.jobs.clone());
        r.register(
            "stella_queue_backlog",
            "Jobs queued or leased",
            self.backlog.clone(),
        );
        r.register(
            "stella_queue_paused",
            "1 while job claims are paused",
            self.paused.clone(),
        );
        r.register(
            "stella_sla_breaches",
            "Jobs that finished, failed or were rescued past their SLA deadline",
            self.sla_breaches.clone(),
        );
        r.register(
            "stella_feed_age_seconds",
            "Seconds since the feed's last bundle was applied",
            self.feed_age.clone(),
        );
        r.register(
            "stella_feed_staleness_warn_seconds",
            "The feed's staleness budget: age at which it warns",
            self.warn.clone(),
        );
        r.register(
            "stella_feed_staleness_fail_seconds",
            "The feed's staleness budget: age at which it fails",
            self.fail.clone(),
        );
    }

    fn set(&self, s: &SiteSnapshot) {
        self.pending.set(s.pending as i64);
        self.quarantined.set(s.quarantined as i64);
        self.last_applied.set(s.last_applied.unwrap_or(0.0));
        let q = &s.queue;
        self.runs_active.set(q.runs_active as i64);
        self.jobs.clear();
        for state in JOB_STATES {
            self.jobs.get_or_create(&state_label(state)).set(0);
        }
        for (state, n) in &q.jobs {
            self.jobs.get_or_create(&state_label(state)).set(*n as i64);
        }
        self.backlog.set(q.backlog() as i64);
        self.paused.set(i64::from(q.paused));
        self.sla_breaches.set(q.sla_breached as i64);
        self.set_feeds(s);
    }

    /// Feeds are set afresh each time, so a feed gone from the store (an offline-kit
    /// import) or from the budgets leaves no stale series behind.
    fn set_feeds(&self, s: &SiteSnapshot) {
        for family in [&self.feed_age, &self.warn, &self.fail] {
            family.clear();
        }
        for (feed, age) in &s.feed_ages {
            self.feed_age.get_or_create(&feed_label(feed)).set(*age);
        }
        for f in &s.staleness {
            let label = feed_label(&f.feed);
            self.warn.get_or_create(&label).set(f.warn_seconds as f64);
            self.fail.get_or_create(&label).set(f.fail_seconds as f64);
        }
    }
}

fn state_label(state: &str) -> StateLabel {
    StateLabel {
        state: state.to_owned(),
    }
}

fn feed_label(feed: &str) -> FeedLabel {
    FeedLabel {
        feed: feed.to_owned(),
    }
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// A bundle was taken for processing.
pub fn bundle_received(source: Source) {
    let label = SourceLabel {
        source: source.as_str(),
    };
    metrics().received.get_or_create(&label).inc();
}

/// A bundle of `feed` was applied; `document_bytes` is the uncompressed size of the
/// documents its manifest lists.
pub fn bundle_applied(feed: &str, document_bytes: u64) {
    let m = metrics();
    m.applied.get_or_create(&feed_label(feed)).inc();
    m.ingest_bytes.inc_by(document_bytes);
}

/// A bundle of `feed` that was applied before arrived again.
pub fn bundle_duplicate(feed: &str) {
    metrics().duplicate.get_or_create(&feed_label(feed)).inc();
}

/// A bundle was quarantined.
pub fn bundle_refused(reason: Refusal) {
    let label = ReasonLabel {
        reason: reason.as_str(),
    };
    metrics().refused.get_or_create(&label).inc();
}

/// An impact set was computed for a run of `trigger` (`window`, `recheck`).
pub fn impact_computed(trigger: &str, took: Duration) {
    let label = TriggerLabel {
        trigger: trigger.to_owned(),
    };
    let histogram = metrics().impact_duration.get_or_create(&label);
    histogram.observe(took.as_secs_f64());
}

/// One attempt at a job ended.
pub fn job_attempt(outcome: JobOutcome, took: Duration) {
    let label = OutcomeLabel {
        outcome: outcome.as_str(),
    };
    let histogram = metrics().job_duration.get_or_create(&label);
    histogram.observe(took.as_secs_f64());
}

/// A failed job attempt was scheduled for another try.
pub fn job_retry() {
    metrics().job_retries.inc();
}

/// A job failed its last attempt and went to the dead letters.
pub fn job_dead_lettered() {
    metrics().dead_lettered.inc();
}

/// A completion bundle was written.
pub fn export_written() {
    metrics().exports.inc();
}

/// The HTTP API answered a request on `route` (the route's pattern, not the path, so
/// that ids do not make new series) with `status`.
pub fn http_request(route: &str, status: u16) {
    let labels = RequestLabels {
        route: route.to_owned(),
        status,
    };
    metrics().http_requests.get_or_create(&labels).inc();
}

/// What the scrape-time gauges are set from, read before any gauge is touched.
#[derive(Debug)]
struct SiteSnapshot {
    pending: usize,
    quarantined: usize,
    last_applied: Option<f64>,
    queue: QueueGauges,
    /// Feeds whose last applied time could be read, with their age.
    feed_ages: Vec<(String, f64)>,
    staleness: Vec<FeedStaleness>,
}

impl SiteSnapshot {
    fn read(dir: &DataDir, store: &Store, now: SystemTime) -> Result<Self, MetricsError> {
        let config = dir.config().map_err(MetricsError::Config)?;
        let count = |folder: std::path::PathBuf| {
            inbox::bundles_in(&folder)
                .map(|files| files.len())
                .map_err(MetricsError::Folder)
        };
        let feeds = store.feeds()?;
        let staleness = staleness::assess(&feeds, &config.staleness, now);
        let queue = store.queue_gauges()?;
        let now_secs = unix_seconds(now);
        let feed_ages = feeds
            .iter()
            .filter_map(|f| {
                let at = rfc3339_seconds(&f.applied_at)?;
                Some((f.feed.clone(), (now_secs - at).max(0.0)))
            })
            .collect();
        Ok(Self {
            pending: count(dir.pending())?,
            quarantined: count(dir.quarantine())?,
            last_applied: queue.last_applied_at.as_deref().and_then(rfc3339_seconds),
            queue,
            feed_ages,
            staleness,
        })
    }
}

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs() as f64)
}

/// Whole seconds since the Unix epoch of an RFC 3339 time; `None` if it does not parse.
fn rfc3339_seconds(text: &str) -> Option<f64> {
    let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    Some(at.unix_timestamp() as f64)
}

/// The metrics in the Prometheus text format ([`CONTENT_TYPE`]): the process's
/// counters and histograms, and the site gauges read now from `dir` and `store`.
pub fn render(dir: &DataDir, store: &Store, now: SystemTime) -> Result<String, MetricsError> {
    let snapshot = SiteSnapshot::read(dir, store, now)?;
    let m = metrics();
    let _rendering = m.rendering.lock().unwrap_or_else(PoisonError::into_inner);
    m.site.set(&snapshot);
    let mut text = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut text, &m.registry)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample lines of `name` (with labels) in `text`, as (labels, value).
    fn samples<'t>(text: &'t str, name: &str) -> Vec<(&'t str, &'t str)> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                let (metric, labels) = match series.split_once('{') {
                    Some((m, rest)) => (m, rest.trim_end_matches('}')),
                    None => (series, ""),
                };
                (metric == name).then_some((labels, value))
            })
            .collect()
    }

    fn encoded() -> String {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &metrics().registry)
            .expect("encodes");
        text
    }

    #[test]
    fn counters_carry_total_and_their_labels() {
        bundle_applied("unit-feed-a", 100);
        bundle_applied("unit-feed-a", 50);
        bundle_duplicate("unit-feed-a");
        bundle_refused(Refusal::Limits);
        http_request("/api/v1/status", 200);
        let text = encoded();
        assert!(text.contains("# TYPE stella_bundles_applied_total counter"));
        assert_eq!(
            samples(&text, "stella_bundles_applied_total")
                .into_iter()
                .find(|(l, _)| *l == "feed=\"unit-feed-a\""),
            Some(("feed=\"unit-feed-a\"", "2"))
        );
        let refused = samples(&text, "stella_bundles_refused_total");
        assert_eq!(refused.len(), 6, "every reason is a series: {refused:?}");
        assert!(samples(&text, "stella_http_requests_total")
            .contains(&("route=\"/api/v1/status\",status=\"200\"", "1")));
        assert!(samples(&text, "stella_build_info")
            .contains(&(concat!("version=\"", env!("CARGO_PKG_VERSION"), "\""), "1")));
    }

    #[test]
    fn job_histogram_counts_attempts_by_outcome() {
        job_attempt(JobOutcome::Failed, Duration::from_millis(2));
        let text = encoded();
        let count = samples(&text, "stella_job_duration_seconds_count");
        let failed = count
            .iter()
            .find(|(l, _)| *l == "outcome=\"failed\"")
            .expect("a failed series");
        assert_ne!(failed.1, "0");
        assert!(text.contains("# TYPE stella_job_duration_seconds histogram"));
    }

    #[test]
    fn rfc3339_times_become_unix_seconds() {
        assert_eq!(rfc3339_seconds("1970-01-01T00:01:40Z"), Some(100.0));
        assert_eq!(
            rfc3339_seconds("2026-12-04T16:40:51.123456Z"),
            Some(1_796_402_451.0)
        );
        assert_eq!(rfc3339_seconds("yesterday"), None);
    }
}
