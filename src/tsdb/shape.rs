//! Series in the archive's `data.json` shape:
//! `{metric: {scope: {unit, timestep, series: [{hostname, id?, statistics, data}]}}}`,
//! gaps as `null`. The one place that shape is built, for job and node queries alike.

use super::downsample::lttb;
use super::read::{Blocks, Grid, Stored};
use super::scope::{at_scope, statistics, Owned};
use super::Tsdb;
use crate::domain::metric::{MetricConfig, Scope};
use crate::store::Store;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::mpsc;
use utoipa::ToSchema;

/// What to read: one cluster's nodes over `[from, to]`.
pub(crate) struct Selection {
    pub cluster: String,
    /// Each node with the units the job owns there.
    pub hosts: Vec<(String, Owned)>,
    pub metrics: Vec<MetricConfig>,
    /// Scopes asked for; `None`: each metric's own scope and the node.
    pub scopes: Option<Vec<Scope>>,
    pub from: i64,
    pub to: i64,
    /// Seconds between points wanted (downsampled with LTTB when coarser than the
    /// metric's timestep).
    pub resolution: Option<i64>,
}

/// One metric's `{scope: …}`, written as JSON by `json_values::push_metric`.
pub type MetricScopes = BTreeMap<String, ScopeData>;

#[derive(Debug, ToSchema)]
pub struct ScopeData {
    /// cc-backend's unit object, such as `{"base": "B", "prefix": "G"}`.
    #[schema(value_type = Object)]
    pub unit: serde_json::Value,
    pub timestep: i64,
    pub series: Vec<SeriesData>,
}

#[derive(Debug, ToSchema)]
pub struct SeriesData {
    pub hostname: String,
    /// The unit's id (socket, core, hwthread, accelerator); absent for the node.
    pub id: Option<String>,
    /// Absent when the series has no sample at all.
    pub statistics: Option<Statistics>,
    /// One value per timestep from the first slot on; NaN (`null` in JSON) where there
    /// is none.
    #[schema(value_type = Vec<Option<f64>>)]
    pub data: Vec<f64>,
}

#[derive(Debug, ToSchema)]
pub struct Statistics {
    pub min: f64,
    pub avg: f64,
    pub max: f64,
}

/// A piece of a JSON answer, or why it ends short.
pub(crate) type Piece = Result<Vec<u8>, String>;

impl Tsdb {
    /// The series of `sel` as JSON in the `data.json` shape, in pieces of one metric,
    /// in name order. The first piece is on its way while the next metric's blocks are
    /// read and the one after is laid out; the laying out runs off the async runtime
    /// and stops early if the receiver goes away. A database error before the first
    /// piece is this function's; after it, the last piece says so.
    pub(crate) async fn metric_data_json(
        self: &Arc<Self>,
        store: &Store,
        sel: Selection,
    ) -> anyhow::Result<mpsc::Receiver<Piece>> {
        let mut metrics = sel.metrics.clone();
        metrics.sort_by(|a, b| a.name.cmp(&b.name));
        metrics.dedup_by(|a, b| a.name == b.name);
        let hosts: Vec<String> = sel.hosts.iter().map(|(h, _)| h.clone()).collect();
        let names: Vec<String> = metrics.iter().map(|m| m.name.clone()).collect();
        let window = (sel.from, sel.to);
        let stored = self
            .stored(store, &sel.cluster, &hosts, &names, window)
            .await?;
        // Blocks are most of what is read: a few metrics at a time (one on many nodes,
        // several on a few), each read while the ones before are laid out.
        let per_read = (64 / hosts.len().max(1)).max(1);
        let batches: Vec<Vec<String>> = names.chunks(per_read).map(<[_]>::to_vec).collect();
        let first = match batches.first() {
            Some(b) => self.blocks(store, &sel.cluster, &hosts, b, window).await?,
            None => Blocks::new(),
        };
        let (blocks_tx, mut blocks_rx) = mpsc::channel(1);
        let (tsdb, store, cluster) = (Arc::clone(self), store.clone(), sel.cluster.clone());
        tokio::spawn(async move {
            let _ = blocks_tx.send(Ok(first)).await;
            for b in batches.iter().skip(1) {
                let blocks = tsdb.blocks(&store, &cluster, &hosts, b, window).await;
                if blocks_tx
                    .send(blocks.map_err(|e| format!("{e:#}")))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        let (tx, rx) = mpsc::channel(2);
        let tsdb = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut first = true;
            for batch in metrics.chunks(per_read) {
                let blocks = match blocks_rx.blocking_recv() {
                    Some(Ok(blocks)) => blocks,
                    Some(Err(e)) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                    None => {
                        let _ = tx.blocking_send(Err("reading blocks stopped".into()));
                        return;
                    }
                };
                for m in batch {
                    let Some(piece) = tsdb.metric_json(m, &sel, &stored, &blocks, &mut first)
                    else {
                        continue;
                    };
                    if tx.blocking_send(Ok(piece)).is_err() {
                        return;
                    }
                }
            }
            let _ = tx.blocking_send(Ok(if first { b"{}".to_vec() } else { b"}".to_vec() }));
        });
        Ok(rx)
    }

    /// `"metric":{scope: …}` after `{` (the first) or `,`; `None` if it has no series.
    fn metric_json(
        &self,
        m: &MetricConfig,
        sel: &Selection,
        stored: &Stored,
        blocks: &Blocks,
        first: &mut bool,
    ) -> Option<Vec<u8>> {
        let grids = stored.lay_out(&stored.parts(blocks, Some(&m.name)));
        let scopes = self.scopes_of(m, sel, &grids);
        if scopes.is_empty() {
            return None;
        }
        let mut piece = vec![if *first { b'{' } else { b',' }];
        *first = false;
        super::json_values::push_metric(&mut piece, &m.name, &scopes, self.config.decimals);
        Some(piece)
    }

    /// One metric's series at each scope asked for; `grids`: one node's series each.
    fn scopes_of(&self, m: &MetricConfig, sel: &Selection, grids: &[Vec<Grid>]) -> MetricScopes {
        let by: HashMap<&str, Vec<&Grid>> = grids
            .iter()
            .filter_map(|g| Some((g.first()?.key.host.as_str(), g.iter().collect())))
            .collect();
        let scopes = match &sel.scopes {
            Some(s) => s.clone(),
            None if m.scope == Scope::Node => vec![Scope::Node],
            None => vec![m.scope, Scope::Node],
        };
        // Each node's series at each scope: shared out over both cores.
        let mut items = Vec::new();
        for scope in scopes {
            for (host, owned) in &sel.hosts {
                if let Some(g) = by.get(host.as_str()) {
                    items.push((scope, host, owned, g));
                }
            }
        }
        let no_topology = crate::domain::metric::Topology::default();
        let shaped = super::on_two_threads(&items, |(scope, host, owned, g)| {
            let topology = self
                .clusters
                .subcluster_of(&sel.cluster, host)
                .map_or(&no_topology, |s| &s.topology);
            at_scope(g, m.aggregation, *scope, topology, owned)
                .into_iter()
                .map(|unit| self.series_data(host, unit.id, unit.values, m, sel))
                .collect::<Vec<_>>()
        });
        let mut out = MetricScopes::new();
        for ((scope, ..), series) in items.iter().zip(shaped) {
            if series.is_empty() {
                continue;
            }
            let timestep = sel.resolution.unwrap_or(m.timestep).max(m.timestep);
            out.entry(scope.name().to_string())
                .or_insert_with(|| ScopeData {
                    unit: m.unit.clone(),
                    timestep,
                    series: Vec::new(),
                })
                .series
                .extend(series);
        }
        out
    }

    fn series_data(
        &self,
        host: &str,
        id: Option<String>,
        values: Vec<f64>,
        m: &MetricConfig,
        sel: &Selection,
    ) -> SeriesData {
        // Statistics of every sample, not of the points kept by downsampling.
        let statistics = statistics(&values).map(|(min, avg, max)| Statistics { min, avg, max });
        let values = match sel.resolution {
            Some(r) if r > m.timestep => {
                let points = values.len() * usize::try_from(m.timestep).unwrap_or(1);
                lttb(&values, points.div_ceil(usize::try_from(r).unwrap_or(1)))
            }
            _ => values,
        };
        SeriesData {
            hostname: host.to_string(),
            id,
            statistics,
            data: values,
        }
    }
}
