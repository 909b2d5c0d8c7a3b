//! The connection and what it needs on the server: reconnects with capped exponential
//! backoff (logged), and streams, consumer and buckets created when absent.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, object_store, stream};
use async_nats::{Client, ConnectOptions, Event};

use super::{NatsConfig, TransportError};

/// The first retry waits this long; each next one twice as long, up to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(30);
/// How long a message may stay unacked before the server sends it again; the consumer
/// says "in progress" for files still being applied well before that.
pub(super) const ACK_WAIT: Duration = Duration::from_secs(60);
/// Messages delivered and not acked yet, at most: what the inbox may hold from NATS.
pub(super) const MAX_ACK_PENDING: i64 = 64;
/// Completion events published twice within this window are stored once; beyond it
/// the publisher's markers (publisher.rs) are what prevents a second publish.
const EVENTS_DUPLICATE_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// The delay before reconnect or retry number `attempt` (0 for the first).
pub fn backoff_delay(attempt: usize) -> Duration {
    let doublings = attempt.min(16) as u32;
    FIRST_DELAY.saturating_mul(1u32 << doublings).min(MAX_DELAY)
}

/// A client that connects in the background and reconnects forever, logging each
/// change of state. Only a malformed URL fails here.
pub async fn connect(url: &str) -> Result<Client, TransportError> {
    let logged_url = url.to_owned();
    ConnectOptions::new()
        .name("stella-scheduler")
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(5))
        .reconnect_delay_callback(backoff_delay)
        .event_callback(move |event| {
            let url = logged_url.clone();
            async move { log_event(&url, &event) }
        })
        .connect(url)
        .await
        .map_err(|source| TransportError::Connect {
            url: url.to_owned(),
            source,
        })
}

fn log_event(url: &str, event: &Event) {
    match event {
        Event::Connected => tracing::info!(url, "connected to NATS"),
        Event::Disconnected => {
            tracing::warn!(url, "disconnected from NATS; reconnecting with backoff")
        }
        Event::Closed => tracing::info!(url, "the NATS connection closed"),
        other => tracing::warn!(url, event = %other, "NATS"),
    }
}

/// The JetStream context, with requests bounded like every other call here. It spawns
/// a task, so it is made inside the runtime.
pub(super) fn context(client: &Client) -> jetstream::Context {
    let mut js = jetstream::new(client.clone());
    js.set_timeout(super::REQUEST_TIMEOUT);
    js
}

/// The bundle stream on `<prefix>.>`, created when absent (file storage, so bundles
/// survive a server restart); one that exists must already take those subjects.
pub async fn ensure_bundle_stream(
    js: &jetstream::Context,
    config: &NatsConfig,
) -> Result<stream::Stream, TransportError> {
    let subject = format!("{}.>", config.subject_prefix);
    let wanted = subject.clone();
    let config = stream::Config {
        name: config.stream.clone(),
        subjects: vec![subject],
        storage: stream::StorageType::File,
        ..Default::default()
    };
    ensure_stream(js, config, &wanted).await
}

/// The events stream on every sibling of the events subject (`stella.events.>` for
/// `stella.events.completed`), created when absent.
pub(super) async fn ensure_events_stream(
    js: &jetstream::Context,
    config: &NatsConfig,
) -> Result<stream::Stream, TransportError> {
    let subject = match config.events_subject.rsplit_once('.') {
        Some((parent, _)) => format!("{parent}.>"),
        None => config.events_subject.clone(),
    };
    let wanted = &config.events_subject;
    let config = stream::Config {
        name: config.events_stream.clone(),
        subjects: vec![subject],
        storage: stream::StorageType::File,
        duplicate_window: EVENTS_DUPLICATE_WINDOW,
        ..Default::default()
    };
    ensure_stream(js, config, wanted).await
}

/// The stream `config` names, created as `config` says when absent; one that exists
/// must already take `wanted`.
async fn ensure_stream(
    js: &jetstream::Context,
    config: stream::Config,
    wanted: &str,
) -> Result<stream::Stream, TransportError> {
    let name = config.name.clone();
    let stream = js
        .get_or_create_stream(config)
        .await
        .map_err(|e| TransportError::Stream {
            name,
            source: e.into(),
        })?;
    takes_subjects(stream, wanted)
}

/// `stream`, if one of its subject filters covers `wanted`. A stream of that name made
/// earlier for other subjects would neither store what is published here nor hold what
/// is consumed here, and no retry mends that.
fn takes_subjects(stream: stream::Stream, wanted: &str) -> Result<stream::Stream, TransportError> {
    let config = &stream.cached_info().config;
    if config.subjects.iter().any(|filter| covers(filter, wanted)) {
        return Ok(stream);
    }
    Err(TransportError::StreamSubjects {
        name: config.name.clone(),
        subjects: config.subjects.clone(),
        wanted: wanted.to_owned(),
    })
}

/// Whether every subject that `wanted` matches is matched by `filter` (NATS tokens are
/// split on `.`; `*` is one token, a final `>` one or more).
fn covers(filter: &str, wanted: &str) -> bool {
    let (mut filter, mut wanted) = (filter.split('.'), wanted.split('.'));
    loop {
        match (filter.next(), wanted.next()) {
            (None, None) | (Some(">"), Some(_)) => return true,
            (Some("*"), Some(token)) if token != ">" => {}
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

/// The durable pull consumer with explicit acks that `run` reads bundles through.
pub(super) async fn ensure_consumer(
    js: &jetstream::Context,
    config: &NatsConfig,
) -> Result<jetstream::consumer::PullConsumer, TransportError> {
    let stream = ensure_bundle_stream(js, config).await?;
    stream
        .get_or_create_consumer(
            &config.consumer,
            pull::Config {
                durable_name: Some(config.consumer.clone()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                max_ack_pending: MAX_ACK_PENDING,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| TransportError::Consumer {
            stream: config.stream.clone(),
            name: config.consumer.clone(),
            source: e.into(),
        })
}

/// An object bucket, created when absent (file storage).
pub async fn ensure_bucket(
    js: &jetstream::Context,
    bucket: &str,
) -> Result<object_store::ObjectStore, TransportError> {
    if let Ok(store) = js.get_object_store(bucket).await {
        return Ok(store);
    }
    js.create_object_store(object_store::Config {
        bucket: bucket.to_owned(),
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(|e| TransportError::Bucket {
        name: bucket.to_owned(),
        source: e.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_quarter_second_and_caps_at_thirty() {
        let delays: Vec<u128> = (0..10).map(|a| backoff_delay(a).as_millis()).collect();
        assert_eq!(
            delays,
            [250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert_eq!(backoff_delay(usize::MAX), MAX_DELAY);
    }

    #[test]
    fn a_subject_filter_covers_what_it_matches_and_nothing_wider() {
        for (filter, wanted) in [
            ("stella.bundles.>", "stella.bundles.>"),
            ("stella.>", "stella.bundles.>"),
            (">", "stella.events.completed"),
            ("stella.*.completed", "stella.events.completed"),
            ("stella.events.*", "stella.events.completed"),
            ("stella.events.completed", "stella.events.completed"),
        ] {
            assert!(covers(filter, wanted), "{filter} covers {wanted}");
        }
        for (filter, wanted) in [
            ("acc.events.>", "stella.events.completed"),
            ("stella.bundles.*", "stella.bundles.>"),
            ("stella.bundles", "stella.bundles.>"),
            ("stella.events.completed.>", "stella.events.completed"),
            ("stella.*", "stella.events.completed"),
            ("stella.events.completed", "stella.events.*"),
        ] {
            assert!(!covers(filter, wanted), "{filter} does not cover {wanted}");
        }
    }
}
