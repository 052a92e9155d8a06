//! Series in the archive's `data.json` shape:
//! `{metric: {scope: {unit, timestep, series: [{hostname, id?, statistics, data}]}}}`,
//! gaps as `null`. The one place that shape is built, for job and node queries alike.

use super::downsample::lttb;
use super::read::{Grid, Rows, Stored};
use super::scope::{at_scope, Owned};
use super::{json_values, Tsdb};
use crate::domain::jobdata::{SeriesData, Statistics};
use crate::domain::metric::{MetricConfig, Scope, Topology};
use crate::store::query::JobRecord;
use crate::store::Store;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// What to read: one cluster's nodes over `[from, to]`.
pub(crate) struct Selection {
    pub cluster: String,
    /// Each node with the units the job owns there.
    pub hosts: Vec<(String, Owned)>,
    pub metrics: Vec<MetricConfig>,
    pub scopes: Scopes,
    pub from: i64,
    pub to: i64,
    /// Seconds between points wanted (downsampled with LTTB when coarser than the
    /// metric's timestep).
    pub resolution: Option<i64>,
}

impl Selection {
    /// A job's own nodes, hwthreads and accelerators (from its `resources`), from its
    /// start to its stop, or to `now` while it runs.
    pub(crate) fn of_job(
        job: &JobRecord,
        metrics: Vec<MetricConfig>,
        scopes: Scopes,
        now: i64,
    ) -> Selection {
        Selection {
            cluster: job.cluster.clone(),
            hosts: Owned::of_resources(&job.resources),
            metrics,
            scopes,
            from: job.start_time,
            to: job.stop_time.unwrap_or(now),
            resolution: None,
        }
    }
}

/// The scopes each metric is read at.
pub(crate) enum Scopes {
    /// The metric's own scope and the node.
    Native,
    /// These, for every metric.
    Asked(Vec<Scope>),
    /// What cc-backend archives: the node; for jobs of at most 8 nodes the core, or the
    /// metric's own scope where that is coarser; the accelerator for jobs that have some.
    Archive { num_nodes: i64, accelerators: bool },
}

impl Scopes {
    pub(crate) fn of(&self, m: &MetricConfig) -> Vec<Scope> {
        match self {
            Scopes::Native if m.scope == Scope::Node => vec![Scope::Node],
            Scopes::Native => vec![m.scope, Scope::Node],
            Scopes::Asked(s) => s.clone(),
            Scopes::Archive {
                num_nodes,
                accelerators,
            } => {
                let mut s = vec![Scope::Node];
                let finer = m.scope != Scope::Node && m.scope != Scope::Accelerator;
                if *num_nodes <= 8 && finer {
                    s.push(if m.scope.is_finer_than(Scope::Core) {
                        Scope::Core
                    } else {
                        m.scope
                    });
                }
                if *accelerators && m.scope == Scope::Accelerator {
                    s.push(Scope::Accelerator);
                }
                s
            }
        }
    }
}

/// `scopes` by index, in name order, each once.
pub(super) fn scope_order(scopes: &[Scope]) -> Vec<(usize, &'static str)> {
    let mut order: Vec<(usize, &str)> = scopes.iter().map(|s| s.name()).enumerate().collect();
    order.sort_by_key(|(_, name)| *name);
    order.dedup_by_key(|(_, name)| *name);
    order
}

/// A piece of a JSON answer, or why it ends short.
pub(crate) type Piece = Result<Vec<u8>, String>;

impl Tsdb {
    /// The series of `sel` as JSON in the `data.json` shape, in pieces of one metric,
    /// in name order. The first piece is on its way while the next metric's chunks and
    /// blocks are read and the one after is laid out; the laying out runs off the async runtime
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
        // The rows are most of what is read: a few metrics at a time (one on many nodes,
        // several on a few), each read while the ones before are laid out.
        let stored = Arc::new(stored);
        let per_read = (64 / hosts.len().max(1)).max(1);
        let batches: Vec<Vec<String>> = names.chunks(per_read).map(<[_]>::to_vec).collect();
        let first = match batches.first() {
            Some(b) => self.rows(store, &stored, &sel.cluster, &hosts, b).await?,
            None => Rows::default(),
        };
        let (rows_tx, mut rows_rx) = mpsc::channel(1);
        let (tsdb, store, cluster) = (Arc::clone(self), store.clone(), sel.cluster.clone());
        let reading = stored.clone();
        tokio::spawn(async move {
            let _ = rows_tx.send(Ok(first)).await;
            for b in batches.iter().skip(1) {
                let rows = tsdb.rows(&store, &reading, &cluster, &hosts, b).await;
                if rows_tx
                    .send(rows.map_err(|e| format!("{e:#}")))
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
                let rows = match rows_rx.blocking_recv() {
                    Some(Ok(rows)) => rows,
                    Some(Err(e)) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                    None => {
                        let _ = tx.blocking_send(Err("reading stored rows stopped".into()));
                        return;
                    }
                };
                for m in batch {
                    let Some(piece) = tsdb.metric_json(m, &sel, &stored, &rows, &mut first) else {
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
    /// Each node's series are laid out, shaped and written in one go, while they are in
    /// the cache, the nodes shared out over both cores.
    fn metric_json(
        &self,
        m: &MetricConfig,
        sel: &Selection,
        stored: &Stored,
        rows: &Rows,
        first: &mut bool,
    ) -> Option<Vec<u8>> {
        let scopes = sel.scopes.of(m);
        let decimals = self.config.decimals;
        let by_host = self.per_node(m, sel, stored, rows, &scopes, |s| {
            json_values::series_json(&s, decimals)
        });
        let timestep = sel.resolution.unwrap_or(m.timestep).max(m.timestep);
        let mut piece = vec![if *first { b'{' } else { b',' }];
        json_values::push_str(&mut piece, &m.name);
        piece.extend_from_slice(b":{");
        let mut any = false;
        for (i, name) in scope_order(&scopes) {
            let series: Vec<&[u8]> = sel
                .hosts
                .iter()
                .filter_map(|(h, _)| by_host.get(h))
                .flat_map(|s| s[i].iter().map(Vec::as_slice))
                .collect();
            if !series.is_empty() {
                json_values::push_scope(&mut piece, any, name, &m.unit, timestep, &series);
                any = true;
            }
        }
        piece.push(b'}');
        *first &= !any;
        any.then_some(piece)
    }

    /// Per node with series of `m`: for each of `scopes`, its units' series, each turned
    /// by `f`. A node's series are laid out, shaped and turned in one go, while they are
    /// in the cache, the nodes shared out over both cores.
    pub(super) fn per_node<T: Send>(
        &self,
        m: &MetricConfig,
        sel: &Selection,
        stored: &Stored,
        rows: &Rows,
        scopes: &[Scope],
        f: impl Fn(SeriesData) -> T + Sync,
    ) -> HashMap<String, Vec<Vec<T>>> {
        let owned: HashMap<&str, &Owned> = sel.hosts.iter().map(|(h, o)| (h.as_str(), o)).collect();
        let no_topology = Topology::default();
        let parts = stored.parts(rows, Some(&m.name));
        let nodes = super::on_two_threads(&parts, |p| {
            let grids = stored.lay(p);
            let host = grids.first()?.key.host.clone();
            let owned = owned.get(host.as_str())?;
            let topology = self
                .clusters
                .subcluster_of(&sel.cluster, &host)
                .map_or(&no_topology, |s| &s.topology);
            let refs: Vec<&Grid> = grids.iter().collect();
            let per_scope: Vec<Vec<T>> = scopes
                .iter()
                .map(|scope| {
                    at_scope(&refs, m.aggregation, *scope, topology, owned)
                        .into_iter()
                        .map(|u| f(self.series_data(&host, u.id, u.values, m, sel)))
                        .collect()
                })
                .collect();
            Some((host, per_scope))
        });
        nodes.into_iter().flatten().collect()
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
        let statistics = Statistics::of(&values);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::metric::default_metrics;

    fn scopes_of(name: &str, s: &Scopes) -> Vec<Scope> {
        let m = default_metrics()
            .into_iter()
            .find(|m| m.name == name)
            .unwrap();
        s.of(&m)
    }

    #[test]
    fn the_archive_keeps_cc_backends_scopes() {
        let small = Scopes::Archive {
            num_nodes: 8,
            accelerators: true,
        };
        let large = Scopes::Archive {
            num_nodes: 9,
            accelerators: false,
        };
        // hwthread metrics as cores, coarser ones at their own scope, node ones once.
        assert_eq!(
            scopes_of("cpu_user", &small),
            vec![Scope::Node, Scope::Core]
        );
        assert_eq!(
            scopes_of("mem_bw", &small),
            vec![Scope::Node, Scope::Socket]
        );
        assert_eq!(scopes_of("mem_used", &small), vec![Scope::Node]);
        assert_eq!(
            scopes_of("nv_util", &small),
            vec![Scope::Node, Scope::Accelerator]
        );
        // More than 8 nodes: the node alone; no accelerators: no GPU scope.
        assert_eq!(scopes_of("cpu_user", &large), vec![Scope::Node]);
        assert_eq!(scopes_of("nv_util", &large), vec![Scope::Node]);
    }
}
