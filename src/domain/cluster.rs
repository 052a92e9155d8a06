//! Known clusters and subcluster assignment (contract 2.1 "Known clusters").

use super::metric::{default_metrics, MetricSet, Topology};
use crate::hostlist::HostList;
use crate::tagging::Taggers;
use std::sync::{Arc, LazyLock};

#[derive(Debug, Clone)]
pub struct SubCluster {
    pub name: String,
    pub nodes: HostList,
    /// The node list as written, for the archive's `cluster.json`.
    pub nodes_spec: String,
    /// From `cluster_json`; empty for inline subclusters.
    pub topology: Topology,
    /// Metrics this subcluster does not have (`"remove": true` in `cluster.json`).
    pub removed: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Cluster {
    pub name: String,
    pub subclusters: Vec<SubCluster>,
    /// The cluster's metrics: from `cluster_json`, else the built-in default.
    pub metrics: Arc<MetricSet>,
    /// The text of the `cluster.json` given with `cluster_json`, written to the archive
    /// as it is.
    pub cluster_json: Option<Arc<String>>,
}

static DEFAULT_METRICS: LazyLock<Arc<MetricSet>> =
    LazyLock::new(|| Arc::new(MetricSet::new(default_metrics())));

/// The built-in metrics of a cluster without a metric configuration.
pub fn default_metric_set() -> Arc<MetricSet> {
    DEFAULT_METRICS.clone()
}

/// The clusters this deployment accepts. Empty means "accept every cluster".
#[derive(Debug, Clone, Default)]
pub struct Clusters {
    clusters: Vec<Cluster>,
    /// cc-backend's taggers (`[tagging]`): what a job's script and statistics say of it.
    taggers: Arc<Taggers>,
}

impl Clusters {
    pub fn new(clusters: Vec<Cluster>) -> Self {
        Clusters {
            clusters,
            taggers: Arc::default(),
        }
    }

    pub fn with_taggers(mut self, taggers: Arc<Taggers>) -> Self {
        self.taggers = taggers;
        self
    }

    pub fn taggers(&self) -> &Taggers {
        &self.taggers
    }

    pub fn accepts_any(&self) -> bool {
        self.clusters.is_empty()
    }

    pub fn all(&self) -> &[Cluster] {
        &self.clusters
    }

    pub fn get(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// The metrics of `cluster`; the built-in default for a cluster not configured.
    pub fn metrics(&self, cluster: &str) -> Arc<MetricSet> {
        self.get(cluster)
            .map_or_else(default_metric_set, |c| c.metrics.clone())
    }

    /// The metrics a subcluster of `cluster` has (those it does not remove), by name.
    pub fn metrics_of(&self, cluster: &str, sub_cluster: &str) -> Vec<super::metric::MetricConfig> {
        let removed: &[String] = self
            .get(cluster)
            .and_then(|c| c.subclusters.iter().find(|s| s.name == sub_cluster))
            .map_or(&[], |s| s.removed.as_slice());
        self.metrics(cluster)
            .all()
            .into_iter()
            .filter(|m| !removed.contains(&m.name))
            .cloned()
            .collect()
    }

    /// The subcluster whose node list holds `host`.
    pub fn subcluster_of(&self, cluster: &str, host: &str) -> Option<&SubCluster> {
        self.get(cluster)?
            .subclusters
            .iter()
            .find(|s| s.nodes.contains(host))
    }

    /// The subcluster for a job: the given one if it exists, else the one whose node list
    /// holds `first_host`. An unknown cluster or subcluster is an error message.
    pub fn resolve_subcluster(
        &self,
        cluster: &str,
        given: &str,
        first_host: &str,
    ) -> Result<String, String> {
        if self.accepts_any() {
            return Ok(given.to_string());
        }
        let Some(c) = self.clusters.iter().find(|c| c.name == cluster) else {
            let known: Vec<&str> = self.clusters.iter().map(|c| c.name.as_str()).collect();
            return Err(format!(
                "unknown cluster {cluster:?} (known: {})",
                known.join(", ")
            ));
        };
        if !given.is_empty() {
            return if c.subclusters.is_empty() || c.subclusters.iter().any(|s| s.name == given) {
                Ok(given.to_string())
            } else {
                Err(format!(
                    "unknown subCluster {given:?} of cluster {cluster:?}"
                ))
            };
        }
        if c.subclusters.is_empty() {
            return Ok(String::new());
        }
        c.subclusters
            .iter()
            .find(|s| s.nodes.contains(first_host))
            .map(|s| s.name.clone())
            .ok_or_else(|| {
                format!("host {first_host:?} is in no subcluster of cluster {cluster:?}")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fritz() -> Clusters {
        let sub = |name: &str, nodes: &str| SubCluster {
            name: name.into(),
            nodes: HostList::parse(nodes).unwrap(),
            nodes_spec: nodes.into(),
            topology: Topology::default(),
            removed: Vec::new(),
        };
        Clusters::new(vec![Cluster {
            name: "fritz".into(),
            subclusters: vec![sub("main", "f[0001-0944]"), sub("spr", "f[2001-2050]")],
            metrics: default_metric_set(),
            cluster_json: None,
        }])
    }

    #[test]
    fn subcluster_is_taken_from_the_first_host() {
        assert_eq!(
            fritz().resolve_subcluster("fritz", "", "f2003").unwrap(),
            "spr"
        );
        assert_eq!(
            fritz().resolve_subcluster("fritz", "", "f0001").unwrap(),
            "main"
        );
    }

    #[test]
    fn unknown_cluster_subcluster_or_host_is_an_error() {
        assert!(fritz().resolve_subcluster("alex", "", "a1").is_err());
        assert!(fritz().resolve_subcluster("fritz", "gpu", "f0001").is_err());
        assert!(fritz().resolve_subcluster("fritz", "", "x1").is_err());
    }

    #[test]
    fn no_configured_clusters_accepts_everything() {
        let any = Clusters::default();
        assert_eq!(any.resolve_subcluster("x", "", "h").unwrap(), "");
        assert_eq!(any.resolve_subcluster("x", "s", "h").unwrap(), "s");
    }
}
