//! The bundle consumer: fetches bundle messages from the durable pull consumer, writes
//! each bundle into the inbox as `nats-<sha256 of its bytes>.tar.zst`, and acks the
//! message once that file has left the inbox.
//!
//! The ingestor moves a file out of the inbox (archive/, pending/ or quarantine/, by
//! rename and folder fsync) only after its outcome is durable, so "left the inbox" is
//! the moment to ack. A crash before the ack leaves the message to be delivered again;
//! its bytes then land under the same name and apply as a duplicate (archived), never
//! twice. Naming by digest also makes a redelivery while the first copy still waits
//! rewrite the same file rather than add one.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::PullConsumer, AckKind};
use futures_util::StreamExt as _;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncReadExt as _;

use super::connection::{self, ACK_WAIT, MAX_ACK_PENDING};
use super::{bounded, NatsConfig, Shared, TransportError, OBJECT_HEADER, ONCE_DEADLINE};
use crate::bundle::Limits;
use crate::telemetry::metrics::{bundle_received, Source};

/// A long poll waits this long for messages before asking again.
const LONG_POLL: Duration = Duration::from_secs(5);
/// Messages still held this long get an "in progress" ack, so that a large bundle being
/// applied is not delivered again meanwhile.
const PROGRESS_EVERY: Duration = Duration::from_secs(20);
/// Object bytes are copied in pieces of this size; nothing holds a whole object.
const CHUNK: usize = 256 * 1024;

pub(super) struct Setup {
    pub handle: tokio::runtime::Handle,
    pub client: async_nats::Client,
    pub config: NatsConfig,
    pub inbox: PathBuf,
    pub limits: Limits,
    pub once: bool,
}

/// A delivered message whose bundle file waits in the inbox.
struct Held {
    message: jetstream::Message,
    file: PathBuf,
    since: Instant,
}

/// What woke the consumer while it waited on a batch.
enum Next {
    Message(Result<Box<jetstream::Message>, async_nats::Error>),
    BatchEnded,
    Pass,
}

pub(super) fn run(setup: Setup, shared: &Shared) {
    remove_downloads(&setup.inbox);
    // Dropping the client's handles (a batch, a subscription) spawns tasks: the
    // thread stays in the runtime's context throughout.
    let _context = setup.handle.enter();
    let js = setup
        .handle
        .block_on(async { connection::context(&setup.client) });
    let started = Instant::now();
    let mut held: Vec<Held> = Vec::new();
    let mut consumer: Option<PullConsumer> = None;
    let mut failures = 0usize;
    while !shared.stopping() {
        let pass = shared.passes.load(Ordering::SeqCst);
        ack_settled(&setup.handle, &mut held);
        keep_alive(&setup.handle, &mut held);
        let result = match &consumer {
            None => open(&setup, &js).map(|c| {
                tracing::info!(stream = %setup.config.stream, consumer = %setup.config.consumer, "consuming bundles from NATS");
                consumer = Some(c);
                usize::MAX
            }),
            Some(c) => pull(&setup, &js, c, &mut held, shared),
        };
        match result {
            Ok(0) if setup.once => {
                failures = 0;
                // Nothing pending: caught up once every held file is acked too.
                if held.is_empty() {
                    shared.caught_up(&shared.consumer_caught_up, pass);
                }
                wait_for_pass(&setup.handle, shared, LONG_POLL);
            }
            Ok(_) => failures = 0,
            Err(error) if error.is_permanent() => {
                shared.fail(crate::bundle::error_chain(&error));
                return;
            }
            Err(error) => {
                let delay = connection::backoff_delay(failures);
                failures += 1;
                tracing::warn!(error = %crate::bundle::error_chain(&error), retry_in_ms = delay.as_millis() as u64, "NATS bundle consumer");
                if setup.once && started.elapsed() > ONCE_DEADLINE {
                    shared.fail(format!(
                        "NATS at {} did not serve the bundle consumer within {ONCE_DEADLINE:?}: {}",
                        setup.config.url,
                        crate::bundle::error_chain(&error)
                    ));
                    return;
                }
                consumer = None;
                wait_for_pass(&setup.handle, shared, delay);
            }
        }
    }
    // The loop's last pass may have moved files since; what is still held when the
    // process stops is delivered again after the ack wait, and counts as a duplicate.
    ack_settled(&setup.handle, &mut held);
}

fn open(setup: &Setup, js: &jetstream::Context) -> Result<PullConsumer, TransportError> {
    bounded(
        &setup.handle,
        connection::ensure_consumer(js, &setup.config),
    )?
}

/// One pull of up to the free room: with `--once` what is there now, else a long poll.
/// Acks what left the inbox whenever a pass of the loop ends meanwhile. Returns how
/// many messages came (`usize::MAX` when the room is full and nothing was asked).
fn pull(
    setup: &Setup,
    js: &jetstream::Context,
    consumer: &PullConsumer,
    held: &mut Vec<Held>,
    shared: &Shared,
) -> Result<usize, TransportError> {
    let room = (MAX_ACK_PENDING as usize).saturating_sub(held.len());
    if room == 0 {
        wait_for_pass(&setup.handle, shared, LONG_POLL);
        return Ok(usize::MAX);
    }
    let fetch_err = |source: async_nats::Error| TransportError::Fetch {
        stream: setup.config.stream.clone(),
        source,
    };
    let batch = match setup.once {
        true => bounded(
            &setup.handle,
            consumer.fetch().max_messages(room).messages(),
        )?,
        false => bounded(
            &setup.handle,
            consumer
                .batch()
                .max_messages(room)
                .expires(LONG_POLL)
                .messages(),
        )?,
    }
    .map_err(|e| fetch_err(e.into()))?;
    let mut batch = std::pin::pin!(batch);
    let mut came = 0;
    loop {
        let next = setup.handle.block_on(async {
            tokio::select! {
                m = batch.next() => m.map_or(Next::BatchEnded, |m| Next::Message(m.map(Box::new))),
                () = shared.pass.notified() => Next::Pass,
            }
        });
        match next {
            Next::BatchEnded => return Ok(came),
            Next::Pass => ack_settled(&setup.handle, held),
            Next::Message(Err(e)) => return Err(fetch_err(e)),
            Next::Message(Ok(message)) => {
                came += 1;
                if let Some(h) = take(setup, js, *message)? {
                    hand_over(shared, h, held);
                }
            }
        }
        if shared.stopping() {
            return Ok(came);
        }
    }
}

/// Gives the file to the loop of `run` and keeps the message until the file is gone.
/// The file is listed here only after it was written, so "not in the inbox" can never
/// mean "not written yet".
fn hand_over(shared: &Shared, h: Held, held: &mut Vec<Held>) {
    if let Ok(mut arrivals) = shared.arrivals.lock() {
        arrivals.push(h.file.clone());
    }
    held.push(h);
    shared.wake();
}

/// Writes the message's bundle into the inbox; `None` when there is none to write (the
/// message was terminated, with the reason logged).
fn take(
    setup: &Setup,
    js: &jetstream::Context,
    message: jetstream::Message,
) -> Result<Option<Held>, TransportError> {
    bundle_received(Source::Nats);
    let object = message
        .headers
        .as_ref()
        .and_then(|h| h.get(OBJECT_HEADER))
        .map(|v| v.as_str().to_owned());
    let file = match object {
        None => write_body(&setup.inbox, &message.payload)?,
        Some(name) => match download(setup, js, &name)? {
            Some(file) => file,
            None => {
                // Nothing to quarantine: the message only names an object that is
                // not there. Terminating stops redelivery; the log says why.
                tracing::error!(object = %name, bucket = %setup.config.object_bucket, subject = %message.subject, "a bundle message names an object the bucket does not hold; message terminated");
                let _ = bounded(&setup.handle, message.ack_with(AckKind::Term));
                return Ok(None);
            }
        },
    };
    tracing::debug!(file = %file.display(), subject = %message.subject, "bundle taken from NATS");
    Ok(Some(Held {
        message,
        file,
        since: Instant::now(),
    }))
}

/// The inbox name of a bundle: its bytes' digest, so equal bytes share one file.
fn inbox_name(inbox: &Path, digest: &[u8]) -> PathBuf {
    inbox.join(format!("nats-{}.tar.zst", hex::encode(digest)))
}

fn write_body(inbox: &Path, body: &[u8]) -> Result<PathBuf, TransportError> {
    let file = inbox_name(inbox, &Sha256::digest(body));
    crate::fsutil::write_atomic(&file, body).map_err(|source| TransportError::File {
        path: file.clone(),
        source,
    })?;
    Ok(file)
}

/// Copies an object into the inbox, at most one byte past the size limit (enough for
/// the ingestor to refuse it with the limit as reason; the rest is never read). The
/// bytes go to a hidden download file first, since the name needs their digest.
fn download(
    setup: &Setup,
    js: &jetstream::Context,
    name: &str,
) -> Result<Option<PathBuf>, TransportError> {
    let bucket = &setup.config.object_bucket;
    let store = bounded(&setup.handle, js.get_object_store(bucket))?.map_err(|e| {
        TransportError::Bucket {
            name: bucket.clone(),
            source: e.into(),
        }
    })?;
    let mut object = match bounded(&setup.handle, store.get(name))? {
        Ok(object) => object,
        Err(e) if e.kind() == jetstream::object_store::GetErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(TransportError::Bucket {
                name: bucket.clone(),
                source: e.into(),
            })
        }
    };
    let cap = setup.limits.max_compressed_bytes.saturating_add(1);
    let temp = setup
        .inbox
        .join(format!(".nats-object-{}.download", std::process::id()));
    let io_err = |source| TransportError::File {
        path: temp.clone(),
        source,
    };
    let digest = crate::fsutil::write_atomic_with(&temp, |out| {
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        let mut copied = 0u64;
        while copied < cap {
            let want = (cap - copied).min(CHUNK as u64) as usize;
            let n = setup
                .handle
                .block_on(async {
                    tokio::time::timeout(super::REQUEST_TIMEOUT, object.read(&mut buf[..want]))
                        .await
                })
                .map_err(|_| {
                    std::io::Error::other("no object chunk within the request timeout")
                })??;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])?;
            copied += n as u64;
        }
        Ok(hasher.finalize())
    })
    .map_err(io_err)?;
    let file = inbox_name(&setup.inbox, &digest);
    std::fs::rename(&temp, &file).map_err(io_err)?;
    crate::fsutil::sync_parent(&file).map_err(io_err)?;
    Ok(Some(file))
}

/// Removes download files a stopped process left (hidden; the watcher never took them).
fn remove_downloads(inbox: &Path) {
    let Ok(entries) = std::fs::read_dir(inbox) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".nats-object-") && name.ends_with(".download") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Acks every held message whose file has left the inbox. An ack that fails is dropped:
/// the server delivers the message again and its bundle is then a duplicate.
fn ack_settled(handle: &tokio::runtime::Handle, held: &mut Vec<Held>) {
    held.retain(|h| {
        if h.file.exists() {
            return true;
        }
        match bounded(handle, h.message.double_ack()) {
            Ok(Ok(())) => tracing::debug!(file = %h.file.display(), "bundle message acked"),
            Ok(Err(error)) => tracing::warn!(file = %h.file.display(), %error, "ack failed; the bundle will come again and count as a duplicate"),
            Err(error) => tracing::warn!(file = %h.file.display(), %error, "ack failed; the bundle will come again and count as a duplicate"),
        }
        false
    });
}

/// Says "in progress" for messages held long, before the server's ack wait runs out.
fn keep_alive(handle: &tokio::runtime::Handle, held: &mut [Held]) {
    debug_assert!(PROGRESS_EVERY < ACK_WAIT);
    for h in held
        .iter_mut()
        .filter(|h| h.since.elapsed() >= PROGRESS_EVERY)
    {
        if let Ok(Ok(())) = bounded(handle, h.message.ack_with(AckKind::Progress)) {
            h.since = Instant::now();
        }
    }
}

fn wait_for_pass(handle: &tokio::runtime::Handle, shared: &Shared, at_most: Duration) {
    if shared.stopping() {
        return;
    }
    handle.block_on(async {
        let _ = tokio::time::timeout(at_most, shared.pass.notified()).await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_bytes_share_one_inbox_name_and_others_do_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = write_body(dir.path(), b"same bytes").expect("write");
        let b = write_body(dir.path(), b"same bytes").expect("write");
        let c = write_body(dir.path(), b"other bytes").expect("write");
        assert_eq!(a, b);
        assert_ne!(a, c);
        let name = a.file_name().expect("name").to_string_lossy().into_owned();
        assert!(
            name.starts_with("nats-") && name.ends_with(".tar.zst"),
            "{name}"
        );
        assert_eq!(std::fs::read(&a).expect("read"), b"same bytes");
    }
}
