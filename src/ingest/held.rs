//! The held-stop sweeper: a `try_once` loop over the database.
//!
//! A held stop is normally applied by the batch that brings its start. This loop covers
//! the rest: a start applied by another jobledger process at the same instant, and stops
//! whose start never comes, which become "no such job" rejections after the timeout.

use crate::config::IngestConfig;
use crate::feed::Feed;
use crate::store::{ApplyError, Store};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Most held stops looked at in one pass.
const PASS_LIMIT: i64 = 1000;

pub(crate) async fn run(
    store: Store,
    cfg: IngestConfig,
    feed: Arc<Feed>,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(cfg.held_stop_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        match try_once(&store, &cfg, &feed).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(resolved = n, "held stops applied or expired"),
            Err(e) => tracing::warn!(
                error = format!("{e:#}"),
                "held-stop sweep failed; will retry"
            ),
        }
    }
}

/// One pass; returns how many held stops were applied or expired.
pub(crate) async fn try_once(
    store: &Store,
    cfg: &IngestConfig,
    feed: &Feed,
) -> Result<usize, ApplyError> {
    let expire_before = chrono::Utc::now().timestamp() - cfg.held_stop_timeout.as_secs() as i64;
    let (resolved, changes) = store.sweep_held(expire_before, PASS_LIMIT).await?;
    feed.publish(changes);
    Ok(resolved)
}
