//! Footprints of running jobs, refreshed every `[metrics] footprint_interval_secs`, so job
//! lists can sort and filter running jobs by load. The archiver writes the final ones.
//!
//! A `try_once` loop over the database: read the running jobs, read their node series of
//! the metrics that make a footprint or an energy, write the values back. Every process
//! may run it; they compute the same values from the same samples.

use crate::domain::cluster::Clusters;
use crate::domain::footprint::footprint;
use crate::domain::job::JobState;
use crate::domain::jobdata::job_statistics;
use crate::domain::metric::Scope;
use crate::domain::query::{JobFilter, Sort};
use crate::store::query::JobQuery;
use crate::store::Store;
use crate::tsdb::shape::{Scopes, Selection};
use crate::tsdb::Tsdb;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Running jobs read per page.
const PAGE: i64 = 500;

pub(crate) async fn run(
    store: Store,
    tsdb: Arc<Tsdb>,
    clusters: Clusters,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        let now = chrono::Utc::now().timestamp();
        match try_once(&store, &tsdb, &clusters, now).await {
            Ok(n) => tracing::debug!(jobs = n, "running jobs' footprints refreshed"),
            Err(e) => tracing::warn!(
                error = format!("{e:#}"),
                "refreshing running jobs' footprints failed; will retry"
            ),
        }
    }
}

/// Refresh every running job's footprint and energy so far; returns how many changed.
pub(crate) async fn try_once(
    store: &Store,
    tsdb: &Arc<Tsdb>,
    clusters: &Clusters,
    now: i64,
) -> anyhow::Result<usize> {
    let mut changed = 0;
    let mut q = JobQuery {
        filter: JobFilter {
            states: vec![JobState::Running],
            ..JobFilter::default()
        },
        sort: Sort::default(),
        page: 1,
        per_page: PAGE,
        with_metadata: false,
    };
    loop {
        let (jobs, _) = store.list_jobs(&q).await?;
        for job in &jobs {
            let metrics: Vec<_> = clusters
                .metrics_of(&job.cluster, &job.sub_cluster)
                .into_iter()
                .filter(|m| {
                    let s = m.settings.on(&job.sub_cluster);
                    s.footprint.is_some() || s.energy.is_some()
                })
                .collect();
            if metrics.is_empty() {
                continue;
            }
            let sel =
                Selection::of_job(job, metrics.clone(), Scopes::Asked(vec![Scope::Node]), now);
            let data = tsdb.job_data(store, sel).await?;
            let stats = job_statistics(&data);
            let settings = metrics
                .iter()
                .map(|m| (m.name.as_str(), m.settings.on(&job.sub_cluster)));
            let running_for = now.saturating_sub(job.start_time).max(0);
            let f = footprint(settings, &stats, job.num_nodes, running_for);
            if f.footprint.is_empty() && f.energy_footprint.is_empty() {
                continue;
            }
            changed += usize::from(store.set_running_footprint(job.id, &f).await?);
        }
        if (jobs.len() as i64) < PAGE {
            return Ok(changed);
        }
        q.page += 1;
    }
}
