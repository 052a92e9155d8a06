//! Reading the metric stream: an ordered consumer from the stored position (no
//! acknowledgements; the position committed with the chunks plays their part), so every
//! process reads every sample and holds the same open windows.

use super::Tsdb;
use crate::config::{write_subject, MetricsConfig, Subscription};
use crate::retry::Backoff;
use crate::store::Store;
use anyhow::Context;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::{self, stream};
use futures::StreamExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often samples for windows already stored are merged into their chunks.
const LATE_COMMIT_EVERY: Duration = Duration::from_secs(2);

/// Header of HTTP writes naming the cluster of lines without a `cluster` tag.
pub(crate) const CLUSTER_HEADER: &str = "Jobledger-Cluster";

/// The metric stream, created if missing, its subjects and limits brought up to date.
pub(crate) async fn stream(
    js: &jetstream::Context,
    cfg: &MetricsConfig,
    replicas: usize,
) -> anyhow::Result<stream::Stream> {
    let mut subjects: Vec<String> = cfg
        .subscriptions
        .iter()
        .map(|s| s.subject.clone())
        .collect();
    subjects.push(write_subject(&cfg.stream));
    subjects.sort();
    subjects.dedup();
    let config = stream::Config {
        name: cfg.stream.clone(),
        subjects,
        storage: stream::StorageType::File,
        // Keep the newest: a reader that fell this far behind has lost the oldest,
        // and `/metrics` counts them (jobledger_samples_skipped is not enough).
        discard: stream::DiscardPolicy::Old,
        max_bytes: cfg.stream_max_bytes,
        max_age: cfg.stream_max_age,
        num_replicas: replicas,
        ..Default::default()
    };
    let mut stream = js
        .get_or_create_stream(config.clone())
        .await
        .with_context(|| {
            format!(
                "creating or opening the metric stream {:?} (it reserves [metrics] \
                 stream_max_mib = {} MiB of the server's JetStream storage)",
                cfg.stream,
                cfg.stream_max_bytes >> 20
            )
        })?;
    let have = &stream.cached_info().config;
    let mut sorted = have.subjects.clone();
    sorted.sort();
    if sorted != config.subjects
        || have.max_bytes != config.max_bytes
        || have.max_age != config.max_age
    {
        let wanted = stream::Config {
            num_replicas: have.num_replicas,
            ..config
        };
        js.update_stream(&wanted)
            .await
            .with_context(|| format!("updating the metric stream {:?} to [metrics]", cfg.stream))?;
        stream = js.get_stream(&cfg.stream).await?;
        tracing::info!(stream = %cfg.stream, "metric stream updated to the configured subjects and limits");
    }
    Ok(stream)
}

/// Put an HTTP write on the metric stream; `Ok` once the stream has stored it.
pub(crate) async fn publish_write(
    nats: &async_nats::Client,
    cfg: &MetricsConfig,
    cluster: Option<&str>,
    body: axum::body::Bytes,
) -> anyhow::Result<()> {
    let js = jetstream::new(nats.clone());
    let mut headers = async_nats::HeaderMap::new();
    if let Some(c) = cluster {
        headers.insert(CLUSTER_HEADER, c);
    }
    let ack = js
        .publish_with_headers(write_subject(&cfg.stream), headers, body)
        .await?;
    tokio::time::timeout(Duration::from_secs(5), ack)
        .await
        .context("no acknowledgement from the metric stream within 5 s")??;
    Ok(())
}

/// The cluster of a message's lines without a `cluster` tag: the subscription's.
fn default_cluster<'a>(subs: &'a [Subscription], subject: &str) -> Option<&'a str> {
    subs.iter()
        .find(|s| subject_matches(&s.subject, subject))
        .and_then(|s| s.cluster.as_deref())
}

/// NATS subject matching: `*` is one token, `>` the rest.
pub(crate) fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

impl Tsdb {
    /// Read the metric stream until `shutdown`; trouble is logged and retried.
    pub(crate) async fn run(
        self: Arc<Self>,
        store: Store,
        js: jetstream::Context,
        replicas: usize,
        shutdown: CancellationToken,
    ) {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(15));
        while !shutdown.is_cancelled() {
            // Leaving a session at any await is safe: nothing is acknowledged, and a
            // commit cut short rolls back and is made again from the stream.
            let session = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = self.session(&store, &js, replicas, &shutdown) => r,
            };
            let Err(e) = session else {
                break;
            };
            self.consuming.store(false, Ordering::Relaxed);
            self.caught_up.store(false, Ordering::Relaxed);
            tracing::warn!(error = format!("{e:#}"), retry_in = ?backoff.next_wait(), "metric ingest interrupted");
            if !backoff.wait(&shutdown).await {
                break;
            }
        }
        self.consuming.store(false, Ordering::Relaxed);
        self.caught_up.store(false, Ordering::Relaxed);
    }

    /// Where to read from: after what this process holds, else the stored position.
    async fn start_at(&self, store: &Store, first_in_stream: u64) -> anyhow::Result<u64> {
        let held = self.read_buffer().next_seq;
        let start = if held > 0 {
            held
        } else {
            store
                .metric_position(&self.config.stream)
                .await
                .context("reading the metric stream position")?
                .unwrap_or(1)
        };
        if start < first_in_stream {
            tracing::error!(
                stream = %self.config.stream, position = start, first = first_in_stream,
                "the metric stream dropped messages that were not stored yet \
                 (stream_max_mib or stream_max_age_hours too small for the backlog)"
            );
        }
        Ok(start.max(1))
    }

    async fn session(
        &self,
        store: &Store,
        js: &jetstream::Context,
        replicas: usize,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let mut stream = stream(js, &self.config, replicas).await?;
        let (first, last) = {
            let state = &stream.info().await?.state;
            (state.first_sequence, state.last_sequence)
        };
        let start = self.start_at(store, first).await?;
        let consumer = stream
            .create_consumer(OrderedConfig {
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: start,
                },
                ..Default::default()
            })
            .await?;
        let mut messages = consumer.messages().await?;
        self.consuming.store(true, Ordering::Relaxed);
        tracing::info!(stream = %self.config.stream, from = start, "reading metrics");
        let write_subject = write_subject(&self.config.stream);
        let mut clock = i64::MIN;
        // Starting after the last message: no message will say `pending == 0`.
        let mut caught_up = start > last;
        self.caught_up.store(caught_up, Ordering::Relaxed);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut last_commit = tokio::time::Instant::now();
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(()),
                m = messages.next() => {
                    let m = m.context("the metric stream ended")??;
                    let info = m.info().map_err(|e| anyhow::anyhow!("{e}"))?;
                    let (seq, published, pending) = (info.stream_sequence, info.published.unix_timestamp(), info.pending);
                    let cluster = if m.subject.as_str() == write_subject {
                        m.headers.as_ref().and_then(|h| h.get(CLUSTER_HEADER)).map(async_nats::HeaderValue::as_str)
                    } else {
                        default_cluster(&self.config.subscriptions, &m.subject)
                    };
                    self.append_message(&m.payload, cluster, seq, published);
                    clock = clock.max(published);
                    caught_up = pending == 0;
                    self.caught_up.store(caught_up, Ordering::Relaxed);
                    self.metrics.metric_stream_pending.set(i64::try_from(pending).unwrap_or(i64::MAX));
                }
                _ = tick.tick() => {
                    // Nothing more to read: the stream's clock is the wall clock.
                    if caught_up {
                        clock = clock.max(chrono::Utc::now().timestamp());
                    }
                }
            }
            if self.commit_due(clock, last_commit.elapsed() >= LATE_COMMIT_EVERY) {
                self.commit_until_done(store, clock, shutdown).await;
                last_commit = tokio::time::Instant::now();
            }
        }
    }

    /// Commit, retrying a database that is away; give up only at shutdown (the stream
    /// still holds everything not stored).
    async fn commit_until_done(&self, store: &Store, clock: i64, shutdown: &CancellationToken) {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        loop {
            match self.commit(store, clock).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), retry_in = ?backoff.next_wait(), "storing metric chunks failed");
                    if !backoff.wait(shutdown).await {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::subject_matches;

    #[test]
    fn subjects_match_like_nats() {
        assert!(subject_matches("hpc-nats", "hpc-nats"));
        assert!(subject_matches("hpc.*.m", "hpc.fritz.m"));
        assert!(subject_matches("hpc.>", "hpc.fritz.m"));
        assert!(!subject_matches("hpc.>", "hpc"));
        assert!(!subject_matches("hpc.*", "hpc.a.b"));
        assert!(!subject_matches("a", "b"));
    }
}
