//! Ingest: the JetStream consumer loop.
//!
//! Messages are taken in batches of whatever has arrived (up to `batch_size`), decoded,
//! applied in one transaction, and acknowledged only after the commit. A crash at any
//! instant therefore loses nothing (unacknowledged messages are redelivered) and applies
//! nothing twice (redelivered events are duplicates by the rules, and rejections carry
//! their stream position).

mod batch;
pub(crate) mod held;
pub(crate) mod nats;
mod reader;

use crate::config::{IngestConfig, NatsConfig};
use crate::domain::cluster::Clusters;
use crate::feed::Feed;
use crate::metrics::Metrics;
use crate::retry::Backoff;
use crate::store::Store;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Shared view of the ingest loop's health, for `/healthz`.
#[derive(Debug, Default)]
pub struct IngestHealth {
    consuming: AtomicBool,
}

impl IngestHealth {
    pub fn is_consuming(&self) -> bool {
        self.consuming.load(Ordering::Relaxed)
    }
}

pub(crate) struct Ingest {
    pub store: Store,
    pub js: async_nats::jetstream::Context,
    pub nats: NatsConfig,
    pub ingest: IngestConfig,
    pub clusters: Clusters,
    pub metrics: Arc<Metrics>,
    pub health: Arc<IngestHealth>,
    /// Committed changes go here for `GET /api/events`.
    pub feed: Arc<Feed>,
}

impl Ingest {
    /// Consume until `shutdown` is cancelled; NATS or database trouble is logged and retried.
    pub(crate) async fn run(self, shutdown: CancellationToken) {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(15));
        while !shutdown.is_cancelled() {
            let Err(e) = self.consume(&shutdown).await else {
                break;
            };
            self.health.consuming.store(false, Ordering::Relaxed);
            tracing::warn!(error = format!("{e:#}"), retry_in = ?backoff.next_wait(), "ingest interrupted");
            if !backoff.wait(&shutdown).await {
                break;
            }
        }
        self.health.consuming.store(false, Ordering::Relaxed);
        tracing::info!("ingest stopped");
    }

    /// One consuming session; `Ok` only when shutdown was asked for.
    async fn consume(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let consumer = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            c = nats::consumer(&self.js, &self.nats, self.ingest.batch_size) => c?,
        };
        let messages = consumer
            .stream()
            .max_messages_per_batch(self.ingest.batch_size)
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await?;
        let mut reader = reader::Reader::new(messages, self.ingest.batch_size, self.nats.ack_wait);
        self.health.consuming.store(true, Ordering::Relaxed);
        tracing::info!(stream = %self.nats.stream, consumer = %self.nats.consumer, "consuming");
        while let Some(batch) = reader.next_batch(shutdown).await? {
            // The batch in hand is committed and acknowledged even if shutdown is asked
            // for meanwhile; only a database that stays down makes us leave it unacked.
            let span = tracing::info_span!("batch", messages = batch.len());
            let work = self.process(&batch, shutdown).instrument(span);
            if !reader.while_applying(&batch, work).await {
                return Ok(());
            }
        }
        Ok(())
    }
}
