//! One batch: decode every message, apply in one transaction, then acknowledge.

use super::Ingest;
use crate::decode::{decode_message, Decoded};
use crate::domain::rules::Origin;
use crate::domain::Event;
use crate::store::Input;
use async_nats::jetstream::{AckKind, Message};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

impl Ingest {
    /// Apply and acknowledge `msgs`. Returns false if shutdown came while the database was
    /// unreachable: the batch is then left unacknowledged for redelivery.
    pub(super) async fn process(&self, msgs: &[Message], shutdown: &CancellationToken) -> bool {
        let started = Instant::now();
        let received_at = chrono::Utc::now().timestamp();
        let mut inputs = Vec::with_capacity(msgs.len());
        for m in msgs {
            self.metrics.received.inc();
            let position = m.info().ok().map(|i| {
                self.metrics.pending.set(i.pending as i64);
                format!(
                    "{}/{}/{}",
                    i.stream,
                    i.stream_sequence,
                    i.published.unix_timestamp_nanos()
                )
            });
            for line in decode_message(&m.payload, &self.clusters) {
                let origin = Origin {
                    subject: m.subject.to_string(),
                    raw: line.raw,
                    received_at,
                    source_key: position.as_ref().map(|p| format!("{p}/{}", line.index)),
                };
                match line.decoded {
                    Decoded::Event(e) => inputs.push(Input::Event(e, origin)),
                    Decoded::Invalid(kind, why) => inputs.push(Input::Invalid(kind, why, origin)),
                    Decoded::Metric => {
                        self.metrics.skipped_metrics.inc();
                    }
                }
            }
        }
        let decoded = started.elapsed();
        let Some(applied) = self.store.apply_durably(&inputs, shutdown).await else {
            return false;
        };
        for (input, outcome) in inputs.iter().zip(&applied.outcomes) {
            self.metrics.record(kind_of(input), outcome);
        }
        self.feed.publish(applied.changes);
        for m in msgs {
            if let Err(e) = m.ack().await {
                // Harmless: the message is redelivered and found to be a duplicate.
                tracing::warn!(error = format!("{e:#}"), "acknowledging a message failed");
            }
            if let Ok(i) = m.info() {
                let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as i128;
                let age_ns = (now_ns - i.published.unix_timestamp_nanos()).max(0);
                self.metrics
                    .publish_to_commit_seconds
                    .observe(age_ns as f64 / 1e9);
            }
        }
        tracing::debug!(
            messages = msgs.len(),
            decode_us = decoded.as_micros() as u64,
            total_us = started.elapsed().as_micros() as u64,
            "batch committed and acknowledged"
        );
        self.metrics.batches.inc();
        self.metrics
            .batch_seconds
            .observe(started.elapsed().as_secs_f64());
        true
    }
}

/// Tell JetStream that `msgs` are still being worked on, so it does not redeliver them
/// when `ack_wait` passes.
pub(super) async fn keep_alive(msgs: &[Message]) {
    for m in msgs {
        if let Err(e) = m.ack_with(AckKind::Progress).await {
            tracing::debug!(
                error = format!("{e:#}"),
                "in-progress acknowledgement failed"
            );
        }
    }
}

fn kind_of(input: &Input) -> &'static str {
    match input {
        Input::Event(Event::Start(_), _) => "start_job",
        Input::Event(Event::Stop(_), _) => "stop_job",
        Input::Event(Event::NodeState(_), _) => "nodestate",
        Input::Invalid(..) => "unknown",
    }
}
