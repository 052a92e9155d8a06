//! `[[clusters]]`: the clusters jobledger accepts and their subclusters' nodes.

use crate::domain::cluster::{Cluster, Clusters, SubCluster};
use crate::hostlist::HostList;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCluster {
    name: String,
    #[serde(default)]
    subclusters: Vec<RawSubCluster>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubCluster {
    name: String,
    nodes: String,
}

pub(super) fn parse(raw: Vec<RawCluster>) -> Result<Clusters, (String, String)> {
    let mut clusters = Vec::new();
    for (i, c) in raw.into_iter().enumerate() {
        if c.name.trim().is_empty() {
            return Err((format!("clusters[{i}].name"), "must not be empty".into()));
        }
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
            });
        }
        clusters.push(Cluster {
            name: c.name,
            subclusters,
        });
    }
    Ok(Clusters::new(clusters))
}
