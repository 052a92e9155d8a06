//! `sinfo --json` (Slurm ≥ 23) → a nodestate payload.
//!
//! Read leniently: fields moved between Slurm releases, and newer ones wrap numbers as
//! `{"set": true, "number": N}`. A node listed in several partitions is reported once.

use crate::hostlist::HostList;
use serde_json::{json, Value};
use std::collections::HashSet;

pub(crate) fn nodestates(cluster: &str, sinfo_json: &str) -> Result<Value, String> {
    let doc: Value = serde_json::from_str(sinfo_json)
        .map_err(|e| format!("sinfo --json printed no JSON: {e}"))?;
    let entries = doc["sinfo"]
        .as_array()
        .ok_or("sinfo --json has no `sinfo` list (Slurm 23.02 or newer is needed)")?;
    let mut seen = HashSet::new();
    let mut nodes = Vec::new();
    for e in entries {
        let names = names(&e["nodes"]);
        let count = names.len().max(1) as i64;
        let states: Vec<Value> = match &e["node"]["state"] {
            Value::Array(a) => a.clone(),
            Value::String(s) => vec![Value::String(s.clone())],
            _ => Vec::new(),
        };
        for host in names {
            if !seen.insert(host.clone()) {
                continue;
            }
            let mut n = json!({ "hostname": host, "states": states });
            let mut put = |k: &str, v: Option<i64>| {
                if let Some(v) = v {
                    n[k] = v.into();
                }
            };
            put(
                "cpusAllocated",
                number(&e["cpus"]["allocated"]).map(|c| c / count),
            );
            put("cpusTotal", number(&e["cpus"]["total"]).map(|c| c / count));
            put("memoryAllocated", number(&e["memory"]["allocated"]));
            put("memoryTotal", number(&e["memory"]["maximum"]));
            put("gpusAllocated", e["gres"]["used"].as_str().map(gpu_count));
            put("gpusTotal", e["gres"]["total"].as_str().map(gpu_count));
            nodes.push(n);
        }
    }
    Ok(json!({ "cluster": cluster, "nodes": nodes }))
}

/// Host names of an entry; each listed name may itself be a hostlist expression.
fn names(nodes: &Value) -> Vec<String> {
    let list = ["nodes", "names", "hostnames"]
        .iter()
        .find_map(|k| nodes[k].as_array().filter(|a| !a.is_empty()));
    list.into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .flat_map(|s| {
            HostList::parse(s)
                .map(|l| l.expand())
                .unwrap_or_else(|_| vec![s.to_string()])
        })
        .collect()
}

fn number(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v["number"].as_i64())
}

/// GPUs in a GRES string such as `gpu:a100:4(S:0-1),shard:8`.
fn gpu_count(gres: &str) -> i64 {
    gres.split(',')
        .filter(|g| g.trim_start().starts_with("gpu"))
        .filter_map(|g| g.split('(').next()?.rsplit(':').next()?.parse::<i64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trimmed from `sinfo --json` of Slurm 23.11: two partitions sharing node f0002.
    const SINFO_23_11: &str = r#"{"sinfo": [
      {"node": {"state": ["IDLE"]},
       "nodes": {"allocated": 0, "idle": 2, "total": 2, "nodes": ["f[0001-0002]"]},
       "cpus": {"allocated": 0, "idle": 256, "total": 256},
       "memory": {"minimum": 512000, "maximum": {"set": true, "number": 512000}, "allocated": 0},
       "gres": {"total": "gpu:a100:4(S:0-1)", "used": "gpu:a100:0(IDX:N/A)"}},
      {"node": {"state": ["MIXED", "DRAIN"]},
       "nodes": {"nodes": ["f0002", "f0003"]},
       "cpus": {"allocated": 64, "total": 256},
       "memory": {"maximum": 512000, "allocated": 2048},
       "gres": {"total": "", "used": ""}}
    ], "meta": {}}"#;

    #[test]
    fn entries_become_one_report_per_node() {
        let v = nodestates("fritz", SINFO_23_11).unwrap();
        assert_eq!(
            v,
            json!({"cluster": "fritz", "nodes": [
                {"hostname": "f0001", "states": ["IDLE"], "cpusAllocated": 0, "cpusTotal": 128,
                 "memoryAllocated": 0, "memoryTotal": 512000, "gpusAllocated": 0, "gpusTotal": 4},
                {"hostname": "f0002", "states": ["IDLE"], "cpusAllocated": 0, "cpusTotal": 128,
                 "memoryAllocated": 0, "memoryTotal": 512000, "gpusAllocated": 0, "gpusTotal": 4},
                {"hostname": "f0003", "states": ["MIXED", "DRAIN"], "cpusAllocated": 32, "cpusTotal": 128,
                 "memoryAllocated": 2048, "memoryTotal": 512000, "gpusAllocated": 0, "gpusTotal": 0}
            ]})
        );
    }

    #[test]
    fn old_or_broken_output_is_a_clear_error() {
        assert!(nodestates("c", "not json").unwrap_err().contains("no JSON"));
        assert!(nodestates("c", r#"{"nodes": []}"#)
            .unwrap_err()
            .contains("23.02"));
    }

    #[test]
    fn gpu_counts_ignore_other_gres() {
        assert_eq!(gpu_count("gpu:a100:4(S:0-1),shard:8"), 4);
        assert_eq!(gpu_count("gpu:2,gpu:v100:1"), 3);
        assert_eq!(gpu_count(""), 0);
    }
}
