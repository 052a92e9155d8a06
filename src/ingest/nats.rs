//! NATS connection and JetStream set-up.
//!
//! The connection is made in the background: jobledger starts and serves HTTP while NATS
//! is down, logs that it is, and catches up from the stream when NATS comes back.

use crate::config::NatsConfig;
use anyhow::Context;
use async_nats::jetstream::{self, consumer, stream};
use async_nats::{ConnectOptions, Event, ServerAddr};

pub async fn connect(cfg: &NatsConfig) -> anyhow::Result<async_nats::Client> {
    options(cfg)
        .await?
        .name("jobledger")
        .retry_on_initial_connect()
        .event_callback(|event| async move {
            match event {
                Event::Connected => tracing::info!("NATS connected"),
                Event::Disconnected => tracing::warn!("NATS disconnected; reconnecting"),
                Event::ClientError(e) => tracing::warn!(error = %e, "NATS client error"),
                Event::ServerError(e) => tracing::warn!(error = %e, "NATS server error"),
                other => tracing::debug!(event = %other, "NATS event"),
            }
        })
        .connect(servers(&cfg.url)?)
        .await
        .context("setting up the NATS connection")
}

/// Credentials and TLS from the configuration; shared by the daemon and `emit`.
pub async fn options(cfg: &NatsConfig) -> anyhow::Result<ConnectOptions> {
    let mut opts = ConnectOptions::new();
    if let (Some(user), Some(password)) = (&cfg.user, &cfg.password) {
        opts = opts.user_and_password(user.clone(), password.clone());
    }
    if let Some(token) = &cfg.token {
        opts = opts.token(token.clone());
    }
    if let Some(path) = &cfg.creds_file {
        opts = opts
            .credentials_file(path)
            .await
            .with_context(|| format!("reading NATS credentials file {}", path.display()))?;
    }
    if cfg.url.split(',').any(|u| u.trim().starts_with("tls://")) {
        opts = opts.require_tls(true);
    }
    Ok(opts)
}

/// `nats.url`: one or more comma-separated server addresses.
pub fn servers(url: &str) -> anyhow::Result<Vec<ServerAddr>> {
    url.split(',')
        .map(|u| u.trim().parse())
        .collect::<Result<_, _>>()
        .context("parsing nats.url")
}

/// The stream over both subjects and the durable consumer every jobledger process shares.
/// Both are created if missing; an existing one is used as it is.
pub async fn consumer(
    js: &jetstream::Context,
    cfg: &NatsConfig,
    batch_size: usize,
) -> anyhow::Result<consumer::PullConsumer> {
    let subjects = vec![cfg.job_subject.clone(), cfg.node_subject.clone()];
    let stream = js
        .get_or_create_stream(stream::Config {
            name: cfg.stream.clone(),
            subjects: subjects.clone(),
            storage: stream::StorageType::File,
            max_age: cfg.stream_max_age,
            num_replicas: cfg.stream_replicas,
            ..Default::default()
        })
        .await
        .with_context(|| format!("creating or opening JetStream stream {:?}", cfg.stream))?;
    let info = stream.cached_info();
    if info.config.num_replicas != cfg.stream_replicas {
        tracing::warn!(
            stream = %cfg.stream, replicas = info.config.num_replicas, configured = cfg.stream_replicas,
            "the existing stream keeps another number of copies than nats.stream_replicas; \
             change it with `nats stream edit`"
        );
    }
    let bound = &info.config.subjects;
    if let Some(missing) = subjects.iter().find(|s| !bound.contains(s)) {
        tracing::warn!(
            stream = %cfg.stream, subject = %missing,
            "the existing stream does not capture this subject; its events will not arrive"
        );
    }
    let consumer: consumer::PullConsumer = stream
        .get_or_create_consumer(
            &cfg.consumer,
            consumer::pull::Config {
                durable_name: Some(cfg.consumer.clone()),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: cfg.ack_wait,
                // Room for a few batches in flight per process.
                max_ack_pending: (batch_size * 8).max(10_000) as i64,
                ..Default::default()
            },
        )
        .await
        .with_context(|| format!("creating or opening JetStream consumer {:?}", cfg.consumer))?;
    let ack_wait = consumer.cached_info().config.ack_wait;
    if ack_wait != cfg.ack_wait {
        tracing::warn!(
            consumer = %cfg.consumer, ack_wait = ?ack_wait, configured = ?cfg.ack_wait,
            "the existing consumer has another ack_wait than nats.ack_wait_secs; \
             change it with `nats consumer edit`"
        );
    }
    Ok(consumer)
}
