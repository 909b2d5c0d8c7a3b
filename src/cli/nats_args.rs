//! The NATS flags `run` and `nats publish` share: the server and the names used on it
//! (docs/transport.md). Every name has a flag and an environment variable, so that
//! tests and sites sharing a server never touch each other's streams.

use crate::transport::{self, NatsConfig};

#[derive(Debug, clap::Args)]
pub struct NatsArgs {
    /// Connected mode: take bundles from and publish completion events to this NATS
    /// server (nats://HOST:PORT), JetStream on.
    #[arg(long, value_name = "URL", env = "STELLA_NATS_URL")]
    pub nats_url: Option<String>,
    /// The stream bundles are published to (created when absent).
    #[arg(long, value_name = "NAME", env = "STELLA_NATS_STREAM", default_value = transport::DEFAULT_STREAM)]
    pub nats_stream: String,
    /// Bundles are published to PREFIX.<feed>; the stream holds PREFIX.>.
    #[arg(long, value_name = "PREFIX", env = "STELLA_NATS_SUBJECT_PREFIX", default_value = transport::DEFAULT_SUBJECT_PREFIX)]
    pub nats_subject_prefix: String,
    /// The object bucket for bundles larger than the server's max payload.
    #[arg(long, value_name = "NAME", env = "STELLA_NATS_OBJECT_BUCKET", default_value = transport::DEFAULT_OBJECT_BUCKET)]
    pub nats_object_bucket: String,
}

/// Flags only `run` has: how it consumes and where it publishes.
#[derive(Debug, clap::Args)]
pub struct NatsRunArgs {
    #[command(flatten)]
    pub common: NatsArgs,
    /// The durable pull consumer's name.
    #[arg(long, value_name = "NAME", env = "STELLA_NATS_CONSUMER", default_value = transport::DEFAULT_CONSUMER)]
    pub nats_consumer: String,
    /// The subject completion events are published to.
    #[arg(long, value_name = "SUBJECT", env = "STELLA_NATS_EVENTS_SUBJECT", default_value = transport::DEFAULT_EVENTS_SUBJECT)]
    pub nats_events_subject: String,
    /// The stream that keeps completion events (created when absent, on the events
    /// subject's siblings: stella.events.>).
    #[arg(long, value_name = "NAME", env = "STELLA_NATS_EVENTS_STREAM", default_value = transport::DEFAULT_EVENTS_STREAM)]
    pub nats_events_stream: String,
    /// Events larger than the server's max payload are put into this object bucket,
    /// and their message names them (header Stella-Object).
    #[arg(long, value_name = "NAME", env = "STELLA_NATS_EVENTS_BUCKET", default_value = transport::DEFAULT_EVENTS_BUCKET)]
    pub nats_events_bucket: String,
    /// Also put completion bundles into this object bucket (created when absent).
    #[arg(long, value_name = "NAME", env = "STELLA_NATS_EXPORT_BUCKET")]
    pub nats_export_bucket: Option<String>,
}

impl NatsArgs {
    /// The configuration for `url`, with the names shared by both commands.
    pub fn config(&self, url: String) -> NatsConfig {
        NatsConfig {
            url,
            stream: self.nats_stream.clone(),
            subject_prefix: self.nats_subject_prefix.clone(),
            consumer: transport::DEFAULT_CONSUMER.to_owned(),
            object_bucket: self.nats_object_bucket.clone(),
            events_subject: transport::DEFAULT_EVENTS_SUBJECT.to_owned(),
            events_stream: transport::DEFAULT_EVENTS_STREAM.to_owned(),
            events_bucket: transport::DEFAULT_EVENTS_BUCKET.to_owned(),
            export_bucket: None,
        }
    }
}

impl NatsRunArgs {
    /// `None` without `--nats-url`: the drop folder alone.
    pub fn config(&self) -> Option<NatsConfig> {
        let url = self.common.nats_url.clone()?;
        Some(NatsConfig {
            consumer: self.nats_consumer.clone(),
            events_subject: self.nats_events_subject.clone(),
            events_stream: self.nats_events_stream.clone(),
            events_bucket: self.nats_events_bucket.clone(),
            export_bucket: self.nats_export_bucket.clone(),
            ..self.common.config(url)
        })
    }
}
