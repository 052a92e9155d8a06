//! Archive: stopped jobs with monitoringStatus 1 are written to a cc-backend job archive
//! (version 3) and marked 3, with where they went.
//!
//! Background work is a loop around `try_once`: claim a batch from the database (a lease),
//! write each job's files atomically, record the outcome. Nothing is kept only in memory:
//! after a crash, whatever was waiting or claimed is archived by the next pass.

pub(crate) mod admin;
pub mod backend;
pub(crate) mod bundle;
mod file;
pub(crate) mod import;
mod layout;
pub(crate) mod results;
pub mod retention;
pub(crate) mod running;

use crate::config::ArchiveConfig;
use crate::domain::change::{Change, ChangeKind};
use crate::domain::cluster::Clusters;
use crate::feed::Feed;
use crate::metrics::Metrics;
use crate::store::archive::Archived;
use crate::store::query::JobRecord;
use crate::store::Store;
use crate::tsdb::shape::{Scopes, Selection};
use crate::tsdb::Tsdb;
use backend::Backend;
use futures::StreamExt;
use results::Results;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Durable writes wait on the disk, not the CPU, so several run at once.
const WRITES_IN_FLIGHT: usize = 32;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub claimed: usize,
    pub archived: usize,
    pub failed: usize,
    pub gave_up: usize,
}

pub struct Archiver {
    store: Store,
    archive: Backend,
    cfg: ArchiveConfig,
    clusters: Clusters,
    metrics: Arc<Metrics>,
    feed: Arc<Feed>,
    /// Where the jobs' metrics are read for `data.json` and statistics; without it jobs are
    /// archived without metric data.
    tsdb: Option<Arc<Tsdb>>,
    /// Jobs whose metrics are read and shaped at once: that is CPU work and memory, while
    /// the writes around it wait on the disk.
    reading: tokio::sync::Semaphore,
    /// Clusters whose cluster.json exists, so it is checked once per process.
    known: Mutex<HashSet<String>>,
    passes: AtomicU64,
    /// Who holds this archiver's leases: the same for every run of one deployment (host
    /// and HTTP address), so a restarted process takes back what its killed predecessor
    /// had claimed at once instead of waiting out `lease_secs`.
    owner: String,
}

impl Archiver {
    pub fn new(
        store: Store,
        archive: Backend,
        cfg: ArchiveConfig,
        clusters: Clusters,
        metrics: Arc<Metrics>,
        feed: Arc<Feed>,
    ) -> Archiver {
        Archiver {
            store,
            archive,
            cfg,
            clusters,
            metrics,
            feed,
            tsdb: None,
            reading: tokio::sync::Semaphore::new(2),
            known: Mutex::new(HashSet::new()),
            passes: AtomicU64::new(0),
            owner: format!("{}#{}", crate::host::server_id(), std::process::id()),
        }
    }

    /// Name the deployment this archiver runs for (see the `owner` field). Two processes
    /// running at once must not share an owner: the HTTP address tells them apart.
    pub fn owned_by(mut self, owner: String) -> Archiver {
        self.owner = owner;
        self
    }

    /// Archive each job with its metrics from `tsdb`.
    pub fn with_metrics(mut self, tsdb: Arc<Tsdb>) -> Archiver {
        self.tsdb = Some(tsdb);
        self
    }

    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(archive = %self.archive.describe(), owner = %self.owner, "archiver running");
        match self.store.archive_release(&self.owner).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "took back the archive leases of this deployment's previous run"),
            Err(e) => tracing::warn!(error = format!("{e:#}"), "releasing this deployment's old archive leases failed; they expire after lease_secs"),
        }
        loop {
            let idle = match self.try_once().await {
                Ok(p) => p.claimed == 0,
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "archive pass failed; will retry");
                    true
                }
            };
            if shutdown.is_cancelled() {
                break;
            }
            if idle {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
        tracing::info!("archiver stopped");
    }

    /// Claim one batch, write it, record the outcome.
    pub async fn try_once(&self) -> Result<Pass, sqlx::Error> {
        // A job's samples may still be in the part of the metric stream not read again
        // since a restart (or an outage): archiving it now would leave them out for good.
        if self.tsdb.as_ref().is_some_and(|t| !t.is_caught_up()) {
            return Ok(Pass::default());
        }
        let now = chrono::Utc::now().timestamp();
        let n = self.passes.fetch_add(1, Ordering::Relaxed);
        let token = format!("{}/{}-{n}", self.owner, std::process::id());
        let lease_until = now + self.cfg.lease.as_secs() as i64;
        let t0 = Instant::now();
        // Samples of a job's last minutes may still be on their way: wait for them.
        let stopped_by = match self.tsdb {
            Some(_) => now - self.cfg.metrics_wait.as_secs() as i64,
            None => now,
        };
        let jobs = self
            .store
            .archive_claim(&token, now, stopped_by, lease_until, self.cfg.batch_size)
            .await?;
        let claimed_at = t0.elapsed();
        let mut pass = Pass {
            claimed: jobs.len(),
            ..Pass::default()
        };
        if jobs.is_empty() {
            return Ok(pass);
        }
        if let Err(e) = self.prepare(&jobs).await {
            tracing::warn!(
                error = format!("{e:#}"),
                "writing version.txt or cluster.json failed"
            );
        }
        // Durable writes wait on the disk, not the CPU: several at once.
        let results: Vec<(i64, Result<Archived, String>)> = futures::stream::iter(jobs)
            .map(|job| {
                let span = tracing::info_span!("archive", id = job.id, job_id = job.job_id, cluster = %job.cluster);
                async move { (job.id, self.write(job, now).await) }.instrument(span)
            })
            .buffer_unordered(WRITES_IN_FLIGHT)
            .collect()
            .await;
        let mut done = Vec::new();
        for (id, result) in results {
            match result {
                Ok(archived) => done.push(archived),
                Err(error) => {
                    pass.failed += 1;
                    let attempts = self.store.archive_attempts(id).await? + 1;
                    let delay = self
                        .cfg
                        .retry_base
                        .as_secs()
                        .saturating_mul(1 << (attempts - 1).min(12))
                        .min(3600);
                    let gave_up = self
                        .store
                        .archive_failed(
                            &token,
                            id,
                            &error,
                            now + delay as i64,
                            self.cfg.max_attempts,
                        )
                        .await?;
                    pass.gave_up += gave_up as usize;
                    tracing::warn!(job = id, attempts, %error, gave_up, "archiving failed");
                }
            }
        }
        let written_at = t0.elapsed();
        let recorded = self.store.archive_done(&token, &done, now).await?;
        pass.archived = recorded.len();
        self.feed.publish(
            recorded
                .into_iter()
                .map(|id| Change {
                    kind: ChangeKind::Archived,
                    id,
                })
                .collect(),
        );
        tracing::debug!(
            jobs = pass.claimed,
            claim_ms = claimed_at.as_millis() as u64,
            write_ms = (written_at - claimed_at).as_millis() as u64,
            record_ms = (t0.elapsed() - written_at).as_millis() as u64,
            "archive pass"
        );
        self.metrics.archived.inc_by(pass.archived as u64);
        self.metrics.archive_failures.inc_by(pass.failed as u64);
        Ok(pass)
    }

    /// Write one job's files; returns what the job row records.
    async fn write(&self, job: JobRecord, now: i64) -> Result<Archived, String> {
        let started = Instant::now();
        let dir = layout::job_dir(&job.cluster, job.job_id, job.start_time);
        let results = self.results(&job, now).await?;
        // Job-class tags go on the row first, so meta.json lists them with their ids.
        let job = match results.as_ref().map(Results::tags) {
            Some(tags) if !tags.is_empty() => {
                let reread = async {
                    self.store.add_tags(job.id, &tags).await?;
                    self.store.job_by_id(job.id).await
                };
                match reread.await {
                    Ok(Some(j)) => j,
                    Ok(None) => job,
                    Err(e) => return Err(format!("tagging the job: {e}")),
                }
            }
            _ => job,
        };
        // meta.json last: its presence means the job is complete.
        let files = vec![
            results
                .as_ref()
                .map_or(("data.json", b"{}".to_vec()), |r| r.data_file.clone()),
            ("meta.json", layout::meta_json(&job, results.as_ref())),
        ];
        self.archive
            .put_job(&dir, files)
            .await
            .map_err(|e| format!("writing {dir} below {}: {e}", self.archive.describe()))?;
        self.metrics
            .archive_seconds
            .observe(started.elapsed().as_secs_f64());
        Ok(match &results {
            Some(r) => r.archived(&job, dir),
            None => Archived::location(job.id, dir),
        })
    }

    /// The job's metric data and what follows from it; `None` without a metric store.
    async fn results(&self, job: &JobRecord, now: i64) -> Result<Option<Results>, String> {
        let Some(tsdb) = &self.tsdb else {
            return Ok(None);
        };
        let metrics = self.clusters.metrics_of(&job.cluster, &job.sub_cluster);
        let scopes = Scopes::Archive {
            num_nodes: job.num_nodes,
            accelerators: job.num_acc.unwrap_or(0) > 0,
        };
        let sel = Selection::of_job(job, metrics.clone(), scopes, now);
        let _turn = self.reading.acquire().await.map_err(|e| e.to_string())?;
        let data = tsdb
            .job_data(&self.store, sel)
            .await
            .map_err(|e| format!("reading the job's metrics: {e:#}"))?;
        Ok(Some(Results::of(
            job,
            &data,
            &metrics,
            self.clusters.taggers(),
        )))
    }

    /// `version.txt` and the `cluster.json` of clusters new to this process, once each,
    /// before a pass writes its jobs in parallel.
    async fn prepare(&self, jobs: &[JobRecord]) -> std::io::Result<()> {
        let mut new: Vec<String> = {
            let known = self
                .known
                .lock()
                .map_err(|_| std::io::Error::other("lock poisoned"))?;
            jobs.iter()
                .map(|j| j.cluster.clone())
                .filter(|c| !known.contains(c))
                .collect()
        };
        new.sort();
        new.dedup();
        if new.is_empty() {
            return Ok(());
        }
        let files: Vec<(String, Vec<u8>)> = new
            .iter()
            .map(|c| {
                let known = self.clusters.all().iter().find(|k| k.name == *c);
                (format!("{c}/cluster.json"), layout::cluster_json(c, known))
            })
            .collect();
        self.archive
            .put_if_missing("version.txt", layout::VERSION.as_bytes().to_vec())
            .await?;
        for (key, bytes) in files {
            self.archive.put_if_missing(&key, bytes).await?;
        }
        if let Ok(mut known) = self.known.lock() {
            known.extend(new);
        }
        Ok(())
    }
}
