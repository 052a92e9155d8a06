//! `[[clusters]]`: the clusters jobledger accepts, their subclusters' nodes and, from
//! cc-backend's `cluster.json` (`cluster_json = "PATH"`), their metrics and topology.

use crate::domain::cluster::{default_metric_set, Cluster, Clusters, SubCluster};
use crate::domain::metric::{parse_metric, MetricSet, Topology};
use crate::hostlist::HostList;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCluster {
    name: String,
    #[serde(default)]
    subclusters: Vec<RawSubCluster>,
    /// cc-backend's cluster file; relative to the configuration file's folder.
    cluster_json: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubCluster {
    name: String,
    nodes: String,
}

/// `base`: the folder relative `cluster_json` paths start from.
pub(super) fn parse(raw: Vec<RawCluster>, base: &Path) -> Result<Clusters, (String, String)> {
    let mut clusters = Vec::new();
    for (i, c) in raw.into_iter().enumerate() {
        if c.name.trim().is_empty() {
            return Err((format!("clusters[{i}].name"), "must not be empty".into()));
        }
        let cluster = match &c.cluster_json {
            Some(path) => {
                let path = base.join(path);
                from_cluster_json(&c.name, &path).map_err(|m| {
                    let shown = path.display();
                    (
                        format!("clusters[{i}].cluster_json"),
                        format!("{shown}: {m}"),
                    )
                })?
            }
            None => inline(i, c)?,
        };
        clusters.push(cluster);
    }
    Ok(Clusters::new(clusters))
}

fn inline(i: usize, c: RawCluster) -> Result<Cluster, (String, String)> {
    let mut subclusters = Vec::new();
    for (j, s) in c.subclusters.into_iter().enumerate() {
        let nodes = HostList::parse(&s.nodes).map_err(|e| {
            (
                format!("clusters[{i}].subclusters[{j}].nodes"),
                e.to_string(),
            )
        })?;
        subclusters.push(SubCluster {
            name: s.name,
            nodes,
            nodes_spec: s.nodes,
            topology: Topology::default(),
            removed: Vec::new(),
        });
    }
    Ok(Cluster {
        name: c.name,
        subclusters,
        metrics: default_metric_set(),
        cluster_json: None,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonSubCluster {
    name: String,
    nodes: String,
    #[serde(default)]
    topology: Topology,
}

/// A cluster from cc-backend's `cluster.json`: its subclusters replace inline ones, its
/// `metricConfig` is the cluster's metric set. Errors name the field in that file.
pub(crate) fn from_cluster_json(name: &str, path: &Path) -> Result<Cluster, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    if doc["name"].as_str() != Some(name) {
        return Err(format!("`name` is {}, not {name:?}", doc["name"]));
    }
    let mut metrics = Vec::new();
    let raw_metrics = doc["metricConfig"].as_array().cloned().unwrap_or_default();
    if raw_metrics.is_empty() {
        return Err("`metricConfig` must list at least one metric".into());
    }
    for (k, m) in raw_metrics.iter().enumerate() {
        metrics.push(parse_metric(m.clone()).map_err(|e| format!("metricConfig[{k}]: {e}"))?);
    }
    let raw_subs = doc["subClusters"].as_array().cloned().unwrap_or_default();
    let mut subclusters = Vec::new();
    for (k, s) in raw_subs.into_iter().enumerate() {
        let s: JsonSubCluster =
            serde_json::from_value(s).map_err(|e| format!("subClusters[{k}]: {e}"))?;
        let nodes =
            HostList::parse(&s.nodes).map_err(|e| format!("subClusters[{k}].nodes: {e}"))?;
        // `"remove": true` in a metric's per-subcluster overrides.
        let removed = raw_metrics
            .iter()
            .filter(|m| {
                m["subClusters"].as_array().is_some_and(|subs| {
                    subs.iter()
                        .any(|o| o["name"] == s.name.as_str() && o["remove"] == true)
                })
            })
            .filter_map(|m| m["name"].as_str().map(String::from))
            .collect();
        subclusters.push(SubCluster {
            name: s.name,
            nodes,
            nodes_spec: s.nodes,
            topology: s.topology,
            removed,
        });
    }
    Ok(Cluster {
        name: name.to_string(),
        subclusters,
        metrics: Arc::new(MetricSet::new(metrics)),
        cluster_json: Some(Arc::new(text)),
    })
}
