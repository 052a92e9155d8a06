//! A job's series whole, as typed `data.json` (for the archive), built by the same per-node
//! step as the streamed answers.

use super::shape::{scope_order, Selection};
use super::Tsdb;
use crate::domain::jobdata::{JobData, JobMetric, StatisticsSeries, STATISTICS_SERIES_FROM};
use crate::store::Store;
use std::collections::BTreeMap;
use std::sync::Arc;

impl Tsdb {
    /// Every metric of `sel` at its scopes. Series without a single sample are left out
    /// (cc-backend's schema wants statistics on every series), and so are metrics left
    /// without series; a scope of 8 or more series gets its statistics series.
    pub(crate) async fn job_data(
        self: &Arc<Self>,
        store: &Store,
        mut sel: Selection,
    ) -> anyhow::Result<JobData> {
        let hosts: Vec<String> = sel.hosts.iter().map(|(h, _)| h.clone()).collect();
        let mut metrics = sel.metrics.clone();
        metrics.sort_by(|a, b| a.name.cmp(&b.name));
        metrics.dedup_by(|a, b| a.name == b.name);
        let names: Vec<String> = metrics.iter().map(|m| m.name.clone()).collect();
        // A bogus start decades back must not size the grids: at most MAX_SLOTS slots.
        let step = metrics.iter().map(|m| m.timestep).min().unwrap_or(60);
        let from = sel.from.max(
            sel.to
                .saturating_sub(super::read::MAX_SLOTS.saturating_mul(step)),
        );
        let window = (from, sel.to);
        let stored = Arc::new(
            self.stored(store, &sel.cluster, &hosts, &names, window)
                .await?,
        );
        sel.from = from;
        let sel = Arc::new(sel);
        let per_read = (64 / hosts.len().max(1)).max(1);
        let mut data = JobData::new();
        for batch in metrics.chunks(per_read) {
            let names: Vec<String> = batch.iter().map(|m| m.name.clone()).collect();
            let rows = self
                .rows(store, &stored, &sel.cluster, &hosts, &names)
                .await?;
            let (tsdb, sel, stored, batch) = (
                Arc::clone(self),
                sel.clone(),
                stored.clone(),
                batch.to_vec(),
            );
            // Decompressing and shaping a day of many nodes is CPU work: off the runtime.
            let shaped = tokio::task::spawn_blocking(move || {
                let mut out = Vec::new();
                for m in &batch {
                    let scopes = sel.scopes.of(m);
                    let mut by_host = tsdb.per_node(m, &sel, &stored, &rows, &scopes, |s| s);
                    let mut at = BTreeMap::new();
                    for (i, name) in scope_order(&scopes) {
                        let mut series = Vec::new();
                        for (h, _) in &sel.hosts {
                            if let Some(s) = by_host.get_mut(h) {
                                series.extend(std::mem::take(&mut s[i]));
                            }
                        }
                        series.retain(|s| s.statistics.is_some());
                        if series.is_empty() {
                            continue;
                        }
                        let statistics_series = (series.len() >= STATISTICS_SERIES_FROM)
                            .then(|| StatisticsSeries::of(&series));
                        at.insert(
                            name.to_string(),
                            JobMetric {
                                unit: m.unit.clone(),
                                timestep: m.timestep,
                                series,
                                statistics_series,
                            },
                        );
                    }
                    if !at.is_empty() {
                        out.push((m.name.clone(), at));
                    }
                }
                out
            })
            .await?;
            data.extend(shaped);
        }
        Ok(data)
    }
}
