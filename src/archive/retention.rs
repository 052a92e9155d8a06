//! Retention: a `try_once` loop that makes the database forget old node-state history and
//! old archived jobs. Off unless configured; the archive itself is never touched.

use crate::config::RetentionConfig;
use crate::store::Store;
use tokio_util::sync::CancellationToken;

/// Jobs removed per statement, so no transaction grows large.
const CHUNK: i64 = 10_000;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Forgotten {
    pub history_rows: u64,
    pub jobs: u64,
}

pub fn enabled(cfg: &RetentionConfig) -> bool {
    cfg.node_history_days > 0 || cfg.archived_jobs_days > 0
}

pub async fn run(store: Store, cfg: RetentionConfig, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(cfg.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        let now = chrono::Utc::now().timestamp();
        match try_once(&store, &cfg, now).await {
            Ok(f) if f != Forgotten::default() => {
                tracing::info!(
                    history_rows = f.history_rows,
                    jobs = f.jobs,
                    "retention: forgot old rows"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(
                error = format!("{e:#}"),
                "retention pass failed; will retry"
            ),
        }
    }
}

/// One pass at time `now` (unix s).
pub async fn try_once(
    store: &Store,
    cfg: &RetentionConfig,
    now: i64,
) -> Result<Forgotten, sqlx::Error> {
    let days = |d: u32| now - i64::from(d) * 86_400;
    let mut f = Forgotten::default();
    if cfg.node_history_days > 0 {
        f.history_rows = store
            .forget_node_history(days(cfg.node_history_days))
            .await?;
    }
    if cfg.archived_jobs_days > 0 {
        loop {
            let n = store
                .forget_archived_jobs(days(cfg.archived_jobs_days), CHUNK)
                .await?;
            f.jobs += n;
            if n < CHUNK as u64 {
                break;
            }
        }
    }
    Ok(f)
}
