//! Connected mode over NATS JetStream (docs/transport.md): bundles arrive on
//! `<prefix>.<feed>` and completion events leave on the events subject.
//!
//! The rest of the process is synchronous, so the async client runs on a tokio runtime
//! of its own (one worker thread) and two plain threads drive it with `block_on`: the
//! bundle consumer (`consumer.rs`) and the event publisher (`publisher.rs`). Neither
//! applies anything: the consumer writes each bundle into the inbox and hands its path
//! to `run`'s loop, which processes it through the same [`crate::ingest::Ingestor`] as a
//! dropped file; a message is acked once its file has left the inbox, which the ingestor
//! does only after the outcome is durable.

mod connection;
mod consumer;
mod producer;
mod publisher;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub use connection::{backoff_delay, connect, ensure_bucket, ensure_bundle_stream};
pub use producer::{Producer, Published};

use crate::bundle::Limits;

/// The JetStream stream bundles are published to.
pub const DEFAULT_STREAM: &str = "STELLA_BUNDLES";
/// Bundles go to `<prefix>.<feed>`.
pub const DEFAULT_SUBJECT_PREFIX: &str = "stella.bundles";
/// The durable pull consumer `run` reads bundles through.
pub const DEFAULT_CONSUMER: &str = "stella-scheduler";
/// Where bundles too large for one message are put, named by a message header.
pub const DEFAULT_OBJECT_BUCKET: &str = "STELLA_BUNDLES_LARGE";
/// Where completion events are published.
pub const DEFAULT_EVENTS_SUBJECT: &str = "stella.events.completed";
/// The stream that keeps completion events (and deduplicates them by `Nats-Msg-Id`).
pub const DEFAULT_EVENTS_STREAM: &str = "STELLA_EVENTS";
/// Where an event larger than a message is put (a run over 10,000 artifacts signs about
/// 1.7 MB); its message names it as bundle messages do.
pub const DEFAULT_EVENTS_BUCKET: &str = "STELLA_EVENTS_LARGE";
/// The header naming a bundle's object in the object bucket.
pub const OBJECT_HEADER: &str = "Stella-Object";
/// The header carrying a completion event's run id.
pub const RUN_ID_HEADER: &str = "Stella-Run-Id";

/// Names on the server; every one has a flag, so tests and sites sharing a server
/// never collide.
#[derive(Clone, Debug)]
pub struct NatsConfig {
    pub url: String,
    pub stream: String,
    pub subject_prefix: String,
    pub consumer: String,
    pub object_bucket: String,
    pub events_subject: String,
    pub events_stream: String,
    pub events_bucket: String,
    /// Completion bundles of the outbox are also put into this object bucket.
    pub export_bucket: Option<String>,
}

impl NatsConfig {
    /// The subject a bundle of `feed` is published to.
    pub fn bundle_subject(&self, feed: &str) -> String {
        format!("{}.{feed}", self.subject_prefix)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot start the NATS runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot connect to {url}")]
    Connect {
        url: String,
        #[source]
        source: async_nats::ConnectError,
    },
    #[error("cannot create or open the stream {name}")]
    Stream {
        name: String,
        #[source]
        source: async_nats::Error,
    },
    #[error(
        "the stream {name} exists for subjects {subjects:?}, none of which covers {wanted}: \
         name another stream (--nats-stream, --nats-events-stream) or add the subject to it"
    )]
    StreamSubjects {
        name: String,
        subjects: Vec<String>,
        wanted: String,
    },
    #[error("cannot create or open the consumer {name} on {stream}")]
    Consumer {
        stream: String,
        name: String,
        #[source]
        source: async_nats::Error,
    },
    #[error("cannot create or open the object bucket {name}")]
    Bucket {
        name: String,
        #[source]
        source: async_nats::Error,
    },
    #[error("cannot fetch bundles from {stream}")]
    Fetch {
        stream: String,
        #[source]
        source: async_nats::Error,
    },
    #[error("cannot publish to {subject}")]
    Publish {
        subject: String,
        #[source]
        source: async_nats::Error,
    },
    #[error("cannot put {name} into the object bucket {bucket}")]
    Put {
        bucket: String,
        name: String,
        #[source]
        source: async_nats::Error,
    },
    #[error("no answer from NATS within {0:?}")]
    Timeout(Duration),
    #[error("cannot read or write {path}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the {0} thread")]
    Thread(&'static str, #[source] std::io::Error),
}

impl TransportError {
    /// A mistake in the setup that no retry mends (a stream of our name that takes
    /// other subjects): `run` stops with it instead of retrying.
    pub fn is_permanent(&self) -> bool {
        matches!(self, TransportError::StreamSubjects { .. })
    }
}

/// What the loop of `run` and the two NATS threads share.
#[derive(Debug)]
struct Shared {
    /// Bundle files the consumer wrote into the inbox, not yet taken by the loop.
    arrivals: Mutex<Vec<PathBuf>>,
    /// Wakes the loop of `run` (a bundle arrived, a thread caught up).
    wake: Mutex<Sender<()>>,
    /// Rung after each pass of the loop: acks are due, events may wait.
    pass: tokio::sync::Notify,
    publish: tokio::sync::Notify,
    /// Passes of the loop so far; each thread stores the pass it caught up with.
    passes: AtomicU64,
    consumer_caught_up: AtomicU64,
    publisher_caught_up: AtomicU64,
    /// With `--once`: why NATS cannot be used, which ends the run with an error.
    failure: Mutex<Option<String>>,
    stop: AtomicBool,
}

impl Shared {
    fn wake(&self) {
        if let Ok(wake) = self.wake.lock() {
            let _ = wake.send(());
        }
    }

    /// Records that a thread caught up with `pass`; wakes the loop only when that is
    /// news, so that a loop pass and a thread never wake each other in turn.
    fn caught_up(&self, thread: &AtomicU64, pass: u64) {
        if thread.fetch_max(pass, Ordering::SeqCst) < pass {
            self.wake();
        }
    }

    fn fail(&self, why: String) {
        if let Ok(mut failure) = self.failure.lock() {
            failure.get_or_insert(why);
        }
        self.wake();
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// Where the consumer and the publisher read and write.
#[derive(Clone, Debug)]
pub struct Paths {
    pub inbox: PathBuf,
    pub outbox: PathBuf,
}

/// The NATS side of a running `run`: started by [`Nats::start`], stopped on drop.
#[derive(Debug)]
pub struct Nats {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Nats {
    /// Connects (in the background: a server that is down is retried with backoff, and
    /// the drop folder keeps working meanwhile) and starts the consumer and publisher.
    ///
    /// With `once`, the consumer takes what is pending without waiting for more, and a
    /// server not reached within [`ONCE_DEADLINE`] is reported by [`Nats::failure`].
    pub fn start(
        config: NatsConfig,
        paths: Paths,
        limits: Limits,
        once: bool,
        wake: Sender<()>,
    ) -> Result<Self, TransportError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("stella-nats")
            .enable_all()
            .build()
            .map_err(TransportError::Runtime)?;
        let client = runtime.block_on(connect(&config.url))?;
        let shared = Arc::new(Shared {
            arrivals: Mutex::default(),
            wake: Mutex::new(wake),
            pass: tokio::sync::Notify::new(),
            publish: tokio::sync::Notify::new(),
            passes: AtomicU64::new(1),
            consumer_caught_up: AtomicU64::new(0),
            publisher_caught_up: AtomicU64::new(0),
            failure: Mutex::default(),
            stop: AtomicBool::new(false),
        });
        let setup = consumer::Setup {
            handle: runtime.handle().clone(),
            client: client.clone(),
            config: config.clone(),
            inbox: paths.inbox.clone(),
            limits,
            once,
        };
        let consuming = shared.clone();
        let consumer = std::thread::Builder::new()
            .name("stella-nats-in".to_owned())
            .spawn(move || consumer::run(setup, &consuming))
            .map_err(|e| TransportError::Thread("NATS consumer", e))?;
        let setup = publisher::Setup {
            handle: runtime.handle().clone(),
            client,
            config,
            outbox: paths.outbox,
            once,
        };
        let publishing = shared.clone();
        let publisher = std::thread::Builder::new()
            .name("stella-nats-out".to_owned())
            .spawn(move || publisher::run(setup, &publishing))
            .map_err(|e| TransportError::Thread("NATS publisher", e))?;
        Ok(Self {
            shared,
            threads: vec![consumer, publisher],
            runtime: Some(runtime),
        })
    }

    /// Bundle files written since the last call, to process in this pass.
    pub fn take_arrivals(&self) -> Vec<PathBuf> {
        self.shared
            .arrivals
            .lock()
            .map(|mut a| std::mem::take(&mut *a))
            .unwrap_or_default()
    }

    /// Called after each pass of the loop (files processed, events written): acks
    /// what left the inbox and publishes new events.
    pub fn pass_done(&self) {
        self.shared.passes.fetch_add(1, Ordering::SeqCst);
        self.shared.pass.notify_one();
        self.shared.publish.notify_one();
    }

    /// Whether both threads caught up with the latest pass: nothing pending on the
    /// consumer, nothing waiting for an ack, every event in the outbox published.
    pub fn caught_up(&self) -> bool {
        let passes = self.shared.passes.load(Ordering::SeqCst);
        self.shared.consumer_caught_up.load(Ordering::SeqCst) >= passes
            && self.shared.publisher_caught_up.load(Ordering::SeqCst) >= passes
    }

    /// With `--once`: why NATS could not be used.
    pub fn failure(&self) -> Option<String> {
        self.shared.failure.lock().ok().and_then(|f| f.clone())
    }

    /// Stops both threads after what they hold (an ack, a publish) and the runtime.
    pub fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.pass.notify_one();
        self.shared.publish.notify_one();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.shut();
    }
}

/// With `--once`, how long NATS may stay unreachable before the run gives up.
pub const ONCE_DEADLINE: Duration = Duration::from_secs(15);

/// The largest message when the server has not said yet (its default).
const DEFAULT_MAX_PAYLOAD: u64 = 1 << 20;

/// Room left in a message for its subject and headers.
const HEADER_ROOM: u64 = 1024;

/// Whether `len` bytes must go through an object bucket on this connection.
fn too_large_for_a_message(client: &async_nats::Client, len: u64) -> bool {
    let max = match client.server_info().max_payload as u64 {
        0 => DEFAULT_MAX_PAYLOAD,
        max => max,
    };
    len + HEADER_ROOM > max
}

/// How long one request to the server (a publish, an ack, a stream lookup) may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `fut` on `handle` from a plain thread, bounded by [`REQUEST_TIMEOUT`].
fn bounded<T>(
    handle: &tokio::runtime::Handle,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, TransportError> {
    handle
        .block_on(async { tokio::time::timeout(REQUEST_TIMEOUT, fut).await })
        .map_err(|_| TransportError::Timeout(REQUEST_TIMEOUT))
}
