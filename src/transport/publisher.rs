//! The event publisher: every completion event in `outbox/events/` is published to the
//! events subject, its payload the envelope's bytes as written, `Nats-Msg-Id` its event
//! id (`sha256:` of those bytes) and `Stella-Run-Id` its run.
//!
//! What the server acknowledged is recorded as an empty marker file
//! `outbox/events/.published/<hex>` (written with the crash-safe helpers, after the
//! ack). A crash between the ack and the marker publishes the event once more, with
//! the same id: the events stream drops it as a duplicate within its window (24 h).
//! A rewritten event (a run finished again after `jobs retry`) has other bytes, so
//! another id, and is published as a new event. Completion bundles go the same way to
//! the export bucket, with markers in `outbox/.published/<file name>`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use async_nats::HeaderMap;
use sha2::{Digest as _, Sha256};

use super::connection::{self, ensure_bucket, ensure_events_stream};
use super::{
    bounded, too_large_for_a_message, NatsConfig, Shared, TransportError, OBJECT_HEADER,
    ONCE_DEADLINE, RUN_ID_HEADER,
};

/// Without a pass of the loop, the outbox is looked at again this often (events an
/// earlier process wrote while NATS was down, a publish that failed).
const IDLE_LOOK: std::time::Duration = std::time::Duration::from_secs(5);

pub(super) struct Setup {
    pub handle: tokio::runtime::Handle,
    pub client: async_nats::Client,
    pub config: NatsConfig,
    pub outbox: PathBuf,
    pub once: bool,
}

pub(super) fn run(setup: Setup, shared: &Shared) {
    // Dropping the client's handles (a batch, a subscription) spawns tasks: the
    // thread stays in the runtime's context throughout.
    let _context = setup.handle.enter();
    let js = setup
        .handle
        .block_on(async { connection::context(&setup.client) });
    let mut publisher = Publisher {
        setup: &setup,
        js,
        done: HashSet::new(),
        stream_ready: false,
    };
    // A marker a stopped process was writing; never read as one (hidden name).
    let _ = crate::fsutil::remove_stale_temps(&setup.outbox.join("events/.published"));
    let started = Instant::now();
    let mut failures = 0usize;
    while !shared.stopping() {
        let pass = shared.passes.load(Ordering::SeqCst);
        let wait = match publisher.publish_all() {
            Ok(()) => {
                failures = 0;
                shared.caught_up(&shared.publisher_caught_up, pass);
                IDLE_LOOK
            }
            Err(error) if error.is_permanent() => {
                shared.fail(crate::bundle::error_chain(&error));
                return;
            }
            Err(error) => {
                let delay = connection::backoff_delay(failures);
                failures += 1;
                tracing::warn!(error = %crate::bundle::error_chain(&error), retry_in_ms = delay.as_millis() as u64, "NATS event publisher");
                if setup.once && started.elapsed() > ONCE_DEADLINE {
                    shared.fail(format!(
                        "NATS at {} did not take the completion events within {ONCE_DEADLINE:?}: {}",
                        setup.config.url,
                        crate::bundle::error_chain(&error)
                    ));
                    return;
                }
                delay
            }
        };
        if shared.stopping() {
            return;
        }
        setup.handle.block_on(async {
            let _ = tokio::time::timeout(wait, shared.publish.notified()).await;
        });
    }
}

struct Publisher<'a> {
    setup: &'a Setup,
    js: async_nats::jetstream::Context,
    /// Names (event ids, bundle files) known published, so each pass reads only new ones.
    done: HashSet<String>,
    stream_ready: bool,
}

impl Publisher<'_> {
    fn publish_all(&mut self) -> Result<(), TransportError> {
        self.publish_events()?;
        if let Some(bucket) = self.setup.config.export_bucket.clone() {
            self.put_exports(&bucket)?;
        }
        Ok(())
    }

    fn publish_events(&mut self) -> Result<(), TransportError> {
        let folder = self.setup.outbox.join("events");
        let markers = folder.join(".published");
        for file in files_ending(&folder, ".dsse.json")? {
            let bytes = read(&file)?;
            let hex = hex::encode(Sha256::digest(&bytes));
            if self.done.contains(&hex) || markers.join(&hex).exists() {
                self.done.insert(hex);
                continue;
            }
            if !self.stream_ready {
                bounded(
                    &self.setup.handle,
                    ensure_events_stream(&self.js, &self.setup.config),
                )??;
                self.stream_ready = true;
            }
            let run_id = file_name(&file).trim_end_matches(".dsse.json").to_owned();
            self.publish_event(&run_id, &hex, bytes)?;
            mark(&markers, &hex)?;
            self.done.insert(hex);
        }
        Ok(())
    }

    /// Publishes one event and waits for the stream's ack (a duplicate ack counts). An
    /// event larger than a message goes into the events bucket first, and its message,
    /// with an empty body, names it in `Stella-Object`.
    fn publish_event(&self, run_id: &str, hex: &str, bytes: Vec<u8>) -> Result<(), TransportError> {
        let subject = self.setup.config.events_subject.clone();
        let mut headers = HeaderMap::new();
        headers.insert(
            async_nats::header::NATS_MESSAGE_ID,
            format!("sha256:{hex}").as_str(),
        );
        headers.insert(RUN_ID_HEADER, run_id);
        let bytes = match too_large_for_a_message(&self.setup.client, bytes.len() as u64) {
            false => bytes,
            true => {
                let name = format!("sha256-{hex}.dsse.json");
                self.put_event(&name, &bytes)?;
                headers.insert(OBJECT_HEADER, name.as_str());
                Vec::new()
            }
        };
        let publish_err = |source: async_nats::Error| TransportError::Publish {
            subject: subject.clone(),
            source,
        };
        let ack = bounded(&self.setup.handle, async {
            let future = self
                .js
                .publish_with_headers(subject.clone(), headers, bytes.into())
                .await
                .map_err(|e| publish_err(e.into()))?;
            future.await.map_err(|e| publish_err(e.into()))
        })??;
        tracing::info!(run_id, event_id = %format!("sha256:{hex}"), stream = %ack.stream, sequence = ack.sequence, duplicate = ack.duplicate, "completion event published");
        Ok(())
    }

    fn put_event(&self, name: &str, bytes: &[u8]) -> Result<(), TransportError> {
        let bucket = &self.setup.config.events_bucket;
        self.setup.handle.block_on(async {
            let store = ensure_bucket(&self.js, bucket).await?;
            let mut reader = bytes;
            store
                .put(name, &mut reader)
                .await
                .map(|_| ())
                .map_err(|e| TransportError::Put {
                    bucket: bucket.clone(),
                    name: name.to_owned(),
                    source: e.into(),
                })
        })
    }

    /// Puts the outbox's completion bundles into the export bucket, each under its file
    /// name, streamed from the file.
    fn put_exports(&mut self, bucket: &str) -> Result<(), TransportError> {
        let markers = self.setup.outbox.join(".published");
        let mut store = None;
        for file in files_ending(&self.setup.outbox, ".tar.zst")? {
            let name = file_name(&file);
            if self.done.contains(&name) || markers.join(&name).exists() {
                self.done.insert(name);
                continue;
            }
            let store = match &store {
                Some(s) => s,
                None => store.insert(bounded(
                    &self.setup.handle,
                    ensure_bucket(&self.js, bucket),
                )??),
            };
            let put_err = |source: async_nats::Error| TransportError::Put {
                bucket: bucket.to_owned(),
                name: name.clone(),
                source,
            };
            self.setup.handle.block_on(async {
                let mut reader =
                    tokio::fs::File::open(&file)
                        .await
                        .map_err(|source| TransportError::File {
                            path: file.clone(),
                            source,
                        })?;
                store
                    .put(name.as_str(), &mut reader)
                    .await
                    .map_err(|e| put_err(e.into()))
            })?;
            tracing::info!(file = %file.display(), bucket, "completion bundle put into the export bucket");
            mark(&markers, &name)?;
            self.done.insert(name);
        }
        Ok(())
    }
}

/// Regular files of `folder` whose names end with `suffix` and do not start with `.`,
/// sorted (run ids sort in planning order). A missing folder holds none.
fn files_ending(folder: &Path, suffix: &str) -> Result<Vec<PathBuf>, TransportError> {
    let io_err = |source| TransportError::File {
        path: folder.to_owned(),
        source,
    };
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && name.ends_with(suffix) && entry.path().is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read(path: &Path) -> Result<Vec<u8>, TransportError> {
    std::fs::read(path).map_err(|source| TransportError::File {
        path: path.to_owned(),
        source,
    })
}

/// Records durably that `name` was published.
fn mark(markers: &Path, name: &str) -> Result<(), TransportError> {
    let io_err = |source| TransportError::File {
        path: markers.join(name),
        source,
    };
    std::fs::create_dir_all(markers).map_err(io_err)?;
    crate::fsutil::write_atomic(&markers.join(name), b"").map_err(io_err)
}
