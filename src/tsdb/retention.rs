//! Metric upkeep: a `try_once` loop that drops chunks older than `retention_hours`,
//! except on the nodes of jobs that run or wait for the archive, then compacts the days
//! that are over (`compact.rs`).

use super::Tsdb;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

impl Tsdb {
    pub(crate) async fn run_retention(self: Arc<Self>, store: Store, shutdown: CancellationToken) {
        // At once, then every 10 minutes; 30 s after a pass that failed.
        let mut wait = Duration::ZERO;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
            // A pass waiting on a database that is away must not hold up shutdown; each
            // step is one transaction, so leaving between or inside them is safe.
            tokio::select! {
                _ = shutdown.cancelled() => break,
                ok = self.upkeep_once(&store) => {
                    wait = Duration::from_secs(if ok { 600 } else { 30 });
                }
            }
        }
    }

    /// Retention, the counts `/metrics` shows, then compaction; failures are logged and
    /// tried again at the next pass. Whether every step succeeded.
    async fn upkeep_once(&self, store: &Store) -> bool {
        let now = chrono::Utc::now().timestamp();
        let mut ok = true;
        match self.retention_once(store, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(chunks = n, "metric retention: dropped old chunks"),
            Err(e) => {
                ok = false;
                tracing::warn!(
                    error = format!("{e:#}"),
                    "metric retention failed; will retry"
                );
            }
        }
        match store.metric_chunks_held().await {
            Ok((chunks, bytes)) => {
                self.metrics.metric_chunks_held.set(chunks);
                self.metrics.metric_chunk_bytes_held.set(bytes);
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), "counting metric chunks failed"),
        }
        match self.compact_once(store, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(series = n, "metric compaction: days stored as blocks"),
            Err(e) => {
                ok = false;
                tracing::warn!(
                    error = format!("{e:#}"),
                    "metric compaction failed; will retry"
                );
            }
        }
        ok
    }

    /// One pass at `now` (Unix seconds): how many chunks were dropped.
    pub async fn retention_once(&self, store: &Store, now: i64) -> Result<u64, sqlx::Error> {
        let keep = i64::try_from(self.config.retention.as_secs()).unwrap_or(i64::MAX / 2);
        // The longest a chunk can span: a compacted day and one window past midnight.
        let span = super::compact::DAY + self.chunk_secs();
        store.metric_retention(now - keep, span).await
    }

    /// Nodes of `cluster` with series, stored or in memory.
    pub(crate) async fn hosts(
        &self,
        store: &Store,
        cluster: &str,
    ) -> Result<Vec<String>, sqlx::Error> {
        let mut hosts = store.metric_hosts(cluster).await?;
        hosts.extend(self.read_buffer().hosts(cluster));
        hosts.sort();
        hosts.dedup();
        Ok(hosts)
    }
}
