//! JSON payload shapes exactly as publishers send them (contract section 2).
//!
//! Every field is optional and `null`-tolerant here because Go publishers marshal empty
//! maps and slices as `null`; whether a field is *required* is a domain rule, checked when
//! these shapes are parsed into `domain` types. Unknown keys are refused by serde.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StartJobWire {
    pub id: Option<i64>,
    #[schema(required = true)]
    pub job_id: Option<i64>,
    #[schema(required = true)]
    pub cluster: Option<String>,
    pub sub_cluster: Option<String>,
    pub partition: Option<String>,
    pub project: Option<String>,
    #[schema(required = true)]
    pub user: Option<String>,
    pub shared: Option<String>,
    /// cc-backend before v1.5 sent `exclusive` (0 shared, 1 exclusive, 2 one user) instead of `shared`.
    pub exclusive: Option<i64>,
    pub job_state: Option<String>,
    pub tags: Option<Vec<TagWire>>,
    #[schema(required = true)]
    pub resources: Option<Vec<ResourceWire>>,
    pub meta_data: Option<BTreeMap<String, String>>,
    pub footprint: Option<BTreeMap<String, f64>>,
    pub energy_footprint: Option<BTreeMap<String, f64>>,
    pub energy: Option<f64>,
    pub statistics: Option<serde_json::Value>,
    pub concurrent_jobs: Option<serde_json::Value>,
    pub array_job_id: Option<i64>,
    pub walltime: Option<i64>,
    pub requested_memory: Option<i64>,
    pub submit_time: Option<i64>,
    #[schema(required = true)]
    pub start_time: Option<i64>,
    pub duration: Option<i64>,
    pub smt: Option<i64>,
    pub monitoring_status: Option<i64>,
    #[schema(required = true)]
    pub num_nodes: Option<i64>,
    pub num_hwthreads: Option<i64>,
    pub num_acc: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagWire {
    #[serde(default, skip_serializing)]
    pub id: Option<i64>,
    #[serde(rename = "type")]
    pub tag_type: String,
    pub name: String,
    #[serde(default)]
    pub scope: Option<String>,
}

/// Stored as JSON text and returned unchanged, so it round-trips through the API.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceWire {
    pub hostname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hwthreads: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerators: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StopJobWire {
    #[schema(required = true)]
    pub job_id: Option<i64>,
    pub cluster: Option<String>,
    pub start_time: Option<i64>,
    pub job_state: Option<String>,
    #[schema(required = true)]
    pub stop_time: Option<i64>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeStatesWire {
    #[schema(required = true)]
    pub cluster: Option<String>,
    /// cc-slurm-adapter names the list `node` in some versions.
    #[serde(alias = "node")]
    pub nodes: Option<Vec<NodeWire>>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeWire {
    pub hostname: Option<String>,
    pub states: Option<Vec<String>>,
    pub cpus_allocated: Option<i64>,
    pub memory_allocated: Option<i64>,
    pub gpus_allocated: Option<i64>,
    pub jobs_running: Option<i64>,
    pub cpus_total: Option<i64>,
    pub memory_total: Option<i64>,
    pub gpus_total: Option<i64>,
}
