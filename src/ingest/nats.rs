//! JetStream set-up: the stream and the durable consumer every process shares.

use crate::config::NatsConfig;
use anyhow::Context;
use async_nats::jetstream::{self, consumer, stream};

/// The stream over both subjects and the durable consumer every jobledger process shares.
/// Both are created if missing; an existing one is used as it is.
pub(crate) async fn consumer(
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
