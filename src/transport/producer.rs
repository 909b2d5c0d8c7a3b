//! The producer side, for operators and tests (`nats publish`): bundle files go to
//! `<prefix>.<feed>`; one too large for a message (the server's `max_payload`) goes to
//! the object bucket and its message carries only the `Stella-Object` header.
//!
//! Every message has `Nats-Msg-Id` = `sha256:` of the file, so publishing the same file
//! twice within the stream's duplicate window stores it once.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::HeaderMap;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::connection::{context, ensure_bucket, ensure_bundle_stream};
use super::{NatsConfig, TransportError, HEADER_ROOM, OBJECT_HEADER, REQUEST_TIMEOUT};

/// What one publish did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    pub file: PathBuf,
    pub subject: String,
    pub stream: String,
    pub sequence: u64,
    pub duplicate: bool,
    /// The object the message names, when the bundle went through the bucket.
    pub object: Option<String>,
}

/// A connection for publishing bundles; unlike `run`'s, it fails at once when the
/// server cannot be reached.
#[derive(Debug)]
pub struct Producer {
    runtime: tokio::runtime::Runtime,
    js: async_nats::jetstream::Context,
    config: NatsConfig,
    max_payload: u64,
}

impl Producer {
    pub fn connect(config: NatsConfig) -> Result<Self, TransportError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(TransportError::Runtime)?;
        let client = runtime
            .block_on(
                async_nats::ConnectOptions::new()
                    .name("stella-scheduler nats publish")
                    .connection_timeout(Duration::from_secs(5))
                    .connect(config.url.as_str()),
            )
            .map_err(|source| TransportError::Connect {
                url: config.url.clone(),
                source,
            })?;
        let max_payload = client.server_info().max_payload as u64;
        let js = runtime.block_on(async { context(&client) });
        runtime.block_on(ensure_bundle_stream(&js, &config))?;
        Ok(Self {
            runtime,
            js,
            config,
            max_payload,
        })
    }

    /// The server's largest message.
    pub fn max_payload(&self) -> u64 {
        self.max_payload
    }

    /// Publishes one bundle file to the subject of `feed` and waits for the stream's ack.
    pub fn publish(&self, file: &Path, feed: &str) -> Result<Published, TransportError> {
        let io_err = |source| TransportError::File {
            path: file.to_owned(),
            source,
        };
        let size = std::fs::metadata(file).map_err(io_err)?.len();
        let digest = hex::encode(file_digest(file).map_err(io_err)?);
        let subject = self.config.bundle_subject(feed);
        let mut headers = HeaderMap::new();
        headers.insert(
            async_nats::header::NATS_MESSAGE_ID,
            format!("sha256:{digest}").as_str(),
        );
        let (body, object) = match size + HEADER_ROOM > self.max_payload {
            false => (std::fs::read(file).map_err(io_err)?, None),
            true => {
                let name = format!("sha256-{digest}.tar.zst");
                self.put_object(file, &name)?;
                headers.insert(OBJECT_HEADER, name.as_str());
                (Vec::new(), Some(name))
            }
        };
        let publish_err = |source: async_nats::Error| TransportError::Publish {
            subject: subject.clone(),
            source,
        };
        let ack = self.runtime.block_on(async {
            let future = self
                .js
                .publish_with_headers(subject.clone(), headers, body.into())
                .await
                .map_err(|e| publish_err(e.into()))?;
            tokio::time::timeout(REQUEST_TIMEOUT, future)
                .await
                .map_err(|_| TransportError::Timeout(REQUEST_TIMEOUT))?
                .map_err(|e| publish_err(e.into()))
        })?;
        Ok(Published {
            file: file.to_owned(),
            subject,
            stream: ack.stream,
            sequence: ack.sequence,
            duplicate: ack.duplicate,
            object,
        })
    }

    /// Streams the file into the object bucket (created when absent).
    fn put_object(&self, file: &Path, name: &str) -> Result<(), TransportError> {
        let bucket = &self.config.object_bucket;
        self.runtime.block_on(async {
            let store = ensure_bucket(&self.js, bucket).await?;
            let mut reader =
                tokio::fs::File::open(file)
                    .await
                    .map_err(|source| TransportError::File {
                        path: file.to_owned(),
                        source,
                    })?;
            store
                .put(name, &mut reader)
                .await
                .map_err(|e| TransportError::Put {
                    bucket: bucket.clone(),
                    name: name.to_owned(),
                    source: e.into(),
                })
                .map(|_| ())
        })
    }
}

fn file_digest(file: &Path) -> std::io::Result<[u8; 32]> {
    let mut input = std::fs::File::open(file)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher.finalize().into());
        }
        hasher.update(&buf[..n]);
    }
}
