//! Known clusters and subcluster assignment (contract 2.1 "Known clusters").

use crate::hostlist::HostList;

#[derive(Debug, Clone)]
pub struct SubCluster {
    pub name: String,
    pub nodes: HostList,
    /// The node list as written, for the archive's `cluster.json`.
    pub nodes_spec: String,
}

#[derive(Debug, Clone)]
pub struct Cluster {
    pub name: String,
    pub subclusters: Vec<SubCluster>,
}

/// The clusters this deployment accepts. Empty means "accept every cluster".
#[derive(Debug, Clone, Default)]
pub struct Clusters {
    clusters: Vec<Cluster>,
}

impl Clusters {
    pub fn new(clusters: Vec<Cluster>) -> Self {
        Clusters { clusters }
    }

    pub fn accepts_any(&self) -> bool {
        self.clusters.is_empty()
    }

    pub fn all(&self) -> &[Cluster] {
        &self.clusters
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
        Clusters::new(vec![Cluster {
            name: "fritz".into(),
            subclusters: vec![
                SubCluster {
                    name: "main".into(),
                    nodes: HostList::parse("f[0001-0944]").unwrap(),
                    nodes_spec: "f[0001-0944]".into(),
                },
                SubCluster {
                    name: "spr".into(),
                    nodes: HostList::parse("f[2001-2050]").unwrap(),
                    nodes_spec: "f[2001-2050]".into(),
                },
            ],
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
