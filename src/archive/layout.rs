//! cc-backend job-archive version 3: where files go and what they hold (contract 5).

use super::results::Results;
use crate::domain::cluster::{default_metric_set, Cluster};
use crate::store::query::JobRecord;
use serde_json::{json, Value};

pub(super) const VERSION: &str = "3";

/// `<cluster>/<jobId / 1000>/<jobId % 1000, 3 digits>/<startTime>`.
pub(super) fn job_dir(cluster: &str, job_id: i64, start_time: i64) -> String {
    format!(
        "{cluster}/{}/{:03}/{start_time}",
        job_id / 1000,
        job_id % 1000
    )
}

/// `meta.json`: the job as the API returns it, final and archived, with what archiving
/// computed from its metrics. Nothing in it depends on when it is written, so writing a
/// job twice (from the same samples) gives the same bytes.
pub(super) fn meta_json(job: &JobRecord, results: Option<&Results>) -> Vec<u8> {
    let mut meta = job.clone();
    meta.monitoring_status = 3;
    meta.archive_location = None;
    meta.archived_at = None;
    meta.archive_error = None;
    // cc-backend leaves numAcc out of a job without accelerators; its schema wants it
    // above 0 when it is there.
    if meta.num_acc == Some(0) {
        meta.num_acc = None;
    }
    let Some(r) = results else {
        return serde_json::to_vec_pretty(&meta).unwrap_or_default();
    };
    meta.meta_data = Some(r.meta_data(job));
    // As the row keeps them (`Results::archived`).
    if !r.footprint.footprint.is_empty() {
        meta.footprint = json!(r.footprint.footprint);
    }
    if !r.footprint.energy_footprint.is_empty() {
        meta.energy_footprint = json!(r.footprint.energy_footprint);
    }
    meta.energy = r.footprint.energy.or(meta.energy);
    let mut doc = serde_json::to_value(&meta).unwrap_or_default();
    if let Some(o) = doc.as_object_mut() {
        if !r.statistics.is_empty() {
            o.insert("statistics".into(), json!(r.statistics));
        }
    }
    serde_json::to_vec_pretty(&doc).unwrap_or_default()
}

/// The cluster's `cluster.json` as configured (`cluster_json`), else a minimal one that
/// cc-backend's schema accepts: the metrics jobledger records for the cluster (the
/// built-in default), and a subcluster topology of one hwthread, since none is known.
pub(super) fn cluster_json(name: &str, known: Option<&Cluster>) -> Vec<u8> {
    if let Some(text) = known.and_then(|c| c.cluster_json.as_ref()) {
        return text.as_bytes().to_vec();
    }
    let metrics = known.map_or_else(default_metric_set, |c| c.metrics.clone());
    let metric_config: Vec<&Value> = metrics.all().into_iter().map(|m| &m.raw).collect();
    let subclusters: Vec<Value> = match known {
        Some(c) if !c.subclusters.is_empty() => c
            .subclusters
            .iter()
            .map(|s| subcluster(&s.name, &s.nodes_spec))
            .collect(),
        _ => vec![subcluster("main", "*")],
    };
    let doc = json!({ "name": name, "metricConfig": metric_config, "subClusters": subclusters });
    serde_json::to_vec_pretty(&doc).unwrap_or_default()
}

fn subcluster(name: &str, nodes: &str) -> Value {
    let zero = |base: &str| json!({ "unit": { "base": base, "prefix": "G" }, "value": 0 });
    json!({
        "name": name, "nodes": nodes, "processorType": "", "socketsPerNode": 1,
        "coresPerSocket": 1, "threadsPerCore": 1, "flopRateScalar": zero("F/s"),
        "flopRateSimd": zero("F/s"), "memoryBandwidth": zero("B/s"),
        "topology": { "node": [0], "socket": [[0]], "memoryDomain": [[0]], "core": [[0]] }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_example_path() {
        assert_eq!(
            job_dir("emmy", 1403244, 1608923076),
            "emmy/1403/244/1608923076"
        );
        assert_eq!(job_dir("c", 7, 1), "c/0/007/1");
    }

    #[test]
    fn a_generated_cluster_json_has_what_cc_backends_schema_requires() {
        let doc: Value = serde_json::from_slice(&cluster_json("c", None)).unwrap();
        let topology = &doc["subClusters"][0]["topology"];
        for level in ["node", "socket", "memoryDomain"] {
            assert!(topology[level].is_array(), "{level}");
        }
        let metrics = doc["metricConfig"].as_array().unwrap();
        assert_eq!(metrics.len(), default_metric_set().all().len());
        assert!(metrics.iter().all(|m| m["peak"].is_number()));
    }
}
