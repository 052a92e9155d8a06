//! Series in the archive's `data.json` shape:
//! `{metric: {scope: {unit, timestep, series: [{hostname, id?, statistics, data}]}}}`,
//! gaps as `null`. The one place that shape is built, for job and node queries alike.

use super::downsample::lttb;
use super::read::Grid;
use super::scope::{at_scope, statistics, Owned};
use super::Tsdb;
use crate::domain::metric::{MetricConfig, Scope};
use crate::store::Store;
use std::collections::{BTreeMap, HashMap};
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

/// `{metric: {scope: …}}`, written as JSON by `json_values::to_json`.
pub type MetricData = BTreeMap<String, BTreeMap<String, ScopeData>>;

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

impl Tsdb {
    /// `metric_data` as JSON text, off the async runtime (it formats a million numbers
    /// for a day-long job).
    pub(crate) async fn metric_data_json(
        &self,
        store: &Store,
        sel: &Selection,
    ) -> anyhow::Result<Vec<u8>> {
        let data = self.metric_data(store, sel).await?;
        let decimals = self.config.decimals;
        Ok(
            tokio::task::spawn_blocking(move || super::json_values::to_json(&data, decimals))
                .await?,
        )
    }

    /// The series of `sel` in the `data.json` shape; metrics or scopes without any series
    /// are left out.
    pub(crate) async fn metric_data(
        &self,
        store: &Store,
        sel: &Selection,
    ) -> anyhow::Result<MetricData> {
        let hosts: Vec<String> = sel.hosts.iter().map(|(h, _)| h.clone()).collect();
        let names: Vec<String> = sel.metrics.iter().map(|m| m.name.clone()).collect();
        let grids = self
            .series(store, &sel.cluster, &hosts, &names, (sel.from, sel.to))
            .await?;
        let mut by: HashMap<(&str, &str), Vec<&Grid>> = HashMap::new();
        for g in &grids {
            by.entry((g.key.metric.as_str(), g.key.host.as_str()))
                .or_default()
                .push(g);
        }
        let mut out = MetricData::new();
        let no_topology = crate::domain::metric::Topology::default();
        for m in &sel.metrics {
            let scopes = match &sel.scopes {
                Some(s) => s.clone(),
                None if m.scope == Scope::Node => vec![Scope::Node],
                None => vec![m.scope, Scope::Node],
            };
            for scope in scopes {
                let mut series = Vec::new();
                for (host, owned) in &sel.hosts {
                    let Some(g) = by.get(&(m.name.as_str(), host.as_str())) else {
                        continue;
                    };
                    let topology = self
                        .clusters
                        .subcluster_of(&sel.cluster, host)
                        .map_or(&no_topology, |s| &s.topology);
                    for unit in at_scope(g, m.aggregation, scope, topology, owned) {
                        series.push(self.series_data(host, unit.id, unit.values, m, sel));
                    }
                }
                if series.is_empty() {
                    continue;
                }
                let timestep = sel.resolution.unwrap_or(m.timestep).max(m.timestep);
                out.entry(m.name.clone()).or_default().insert(
                    scope.name().to_string(),
                    ScopeData {
                        unit: m.unit.clone(),
                        timestep,
                        series,
                    },
                );
            }
        }
        Ok(out)
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
