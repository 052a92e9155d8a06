//! Ingest: the JetStream consumer loop.
//!
//! Messages are taken in batches of whatever has arrived (up to `batch_size`), decoded,
//! applied in one transaction, and acknowledged only after the commit. A crash at any
//! instant therefore loses nothing (unacknowledged messages are redelivered) and applies
//! nothing twice (redelivered events are duplicates by the rules, and rejections carry
//! their stream position).

mod batch;
pub mod held;
pub mod nats;

use crate::config::{IngestConfig, NatsConfig};
use crate::domain::cluster::Clusters;
use crate::feed::Feed;
use crate::metrics::Metrics;
use crate::store::Store;
use async_nats::jetstream::consumer::pull::MessagesError;
use async_nats::jetstream::Message;
use futures::StreamExt;
use std::collections::VecDeque;
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

pub struct Ingest {
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
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(500);
        while !shutdown.is_cancelled() {
            match self.consume(&shutdown).await {
                Ok(()) => break,
                Err(e) => {
                    self.health.consuming.store(false, Ordering::Relaxed);
                    tracing::warn!(error = format!("{e:#}"), retry_in = ?backoff, "ingest interrupted");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(15));
                }
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
        // Whatever has arrived forms the next batch: small batches (low latency) when
        // traffic is light, large ones (high throughput) when it is heavy.
        let mut chunks = messages.ready_chunks(self.ingest.batch_size);
        self.health.consuming.store(true, Ordering::Relaxed);
        tracing::info!(stream = %self.nats.stream, consumer = %self.nats.consumer, "consuming");
        // Messages delivered while a batch is applied are read ahead and, like the batch
        // in hand, get in-progress acknowledgements: a slow batch (a database outage, a
        // locked SQLite file) outlasting `ack_wait` then has nothing redelivered. The
        // consumer's max_ack_pending bounds how many can wait here.
        let mut ahead: VecDeque<Message> = VecDeque::new();
        // One clock for the whole session, not one per batch: a backlog drained in many
        // short batches keeps the messages still waiting alive too.
        let every = (self.nats.ack_wait / 3).max(Duration::from_millis(300));
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failure: Option<MessagesError> = None;
        let mut ended = false;
        loop {
            if ahead.is_empty() {
                if let Some(e) = failure.take() {
                    return Err(e.into());
                }
                if ended {
                    anyhow::bail!("the JetStream message stream ended");
                }
                tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => return Ok(()),
                    // Outside tokio's cooperative budget: with it, the channel reports
                    // "empty" after ~128 operations per tick and batches shrink to a few
                    // dozen messages, each paying a full commit (measured: 72 on average
                    // instead of hundreds).
                    c = tokio::task::unconstrained(chunks.next()) => match c {
                        Some(c) => absorb(c, &mut ahead, &mut failure),
                        None => ended = true,
                    },
                }
                continue;
            }
            let n = ahead.len().min(self.ingest.batch_size);
            let msgs: Vec<Message> = ahead.drain(..n).collect();
            // The batch in hand is committed and acknowledged even if shutdown is asked
            // for meanwhile; only a database that stays down makes us leave it unacked.
            let span = tracing::info_span!("batch", messages = msgs.len());
            let work = self.process(&msgs, shutdown).instrument(span);
            tokio::pin!(work);
            let committed = loop {
                tokio::select! {
                    biased;
                    done = &mut work => break done,
                    _ = tick.tick() => {
                        batch::keep_alive(&msgs).await;
                        batch::keep_alive(ahead.make_contiguous()).await;
                    }
                    c = tokio::task::unconstrained(chunks.next()), if failure.is_none() && !ended => match c {
                        Some(c) => absorb(c, &mut ahead, &mut failure),
                        None => ended = true,
                    },
                }
            };
            if !committed {
                return Ok(());
            }
        }
    }
}

/// Keep the messages of one read of the stream, and its first error.
fn absorb(
    chunk: Vec<Result<Message, MessagesError>>,
    ahead: &mut VecDeque<Message>,
    failure: &mut Option<MessagesError>,
) {
    for m in chunk {
        match m {
            Ok(m) => ahead.push_back(m),
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
}
