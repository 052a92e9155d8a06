//! Captured hook environments (trimmed to the variables that matter, plus some noise) and
//! the exact payloads they must give.

use super::*;
use serde_json::json;
use std::collections::HashMap;

const NOW: i64 = 1_763_709_999;

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

/// PrologSlurmctld, Slurm 23.11: the controller knows the whole job.
const PROLOG_SLURMCTLD_23_11: &[(&str, &str)] = &[
    ("SLURM_SCRIPT_CONTEXT", "prolog_slurmctld"),
    ("SLURM_JOB_ID", "4711"),
    ("SLURM_CLUSTER_NAME", "fritz"),
    ("SLURM_JOB_USER", "alice"),
    ("SLURM_JOB_UID", "1001"),
    ("SLURM_JOB_ACCOUNT", "proj1"),
    ("SLURM_JOB_PARTITION", "multinode"),
    ("SLURM_JOB_NODELIST", "f[0101-0102]"),
    ("SLURM_JOB_NUM_NODES", "2"),
    ("SLURM_JOB_START_TIME", "1763700000"),
    ("SLURM_JOB_END_TIME", "1763786400"),
    ("SLURM_JOB_NAME", "sim \"big\""),
    ("SLURM_JOB_CONSTRAINTS", "(null)"),
];

/// Node Prolog, Slurm 22.05: no start time, no node count, runs on each node.
const PROLOG_SLURMD_22_05: &[(&str, &str)] = &[
    ("SLURM_SCRIPT_CONTEXT", "prolog_slurmd"),
    ("SLURM_JOB_ID", "4712"),
    ("SLURM_CLUSTER_NAME", "fritz"),
    ("SLURM_JOB_USER", "bob"),
    ("SLURM_JOB_PARTITION", "singlenode"),
    ("SLURM_JOB_NODELIST", "f0203,f0205"),
    ("SLURMD_NODENAME", "f0205"),
    ("SLURM_ARRAY_JOB_ID", "4700"),
    ("SLURM_ARRAY_TASK_ID", "12"),
];

/// EpilogSlurmctld, Slurm 23.11, a job whose batch script exited 1.
const EPILOG_SLURMCTLD_23_11: &[(&str, &str)] = &[
    ("SLURM_SCRIPT_CONTEXT", "epilog_slurmctld"),
    ("SLURM_JOB_ID", "4711"),
    ("SLURM_CLUSTER_NAME", "fritz"),
    ("SLURM_JOB_START_TIME", "1763700000"),
    ("SLURM_JOB_END_TIME", "1763703600"),
    ("SLURM_JOB_EXIT_CODE2", "1:0"),
    ("SLURM_JOB_DERIVED_EC", "0"),
];

/// Node Epilog, Slurm 21.08: no end time, no exit codes.
const EPILOG_SLURMD_21_08: &[(&str, &str)] = &[
    ("SLURM_SCRIPT_CONTEXT", "epilog_slurmd"),
    ("SLURM_JOB_ID", "4712"),
    ("SLURM_CLUSTER_NAME", "fritz"),
    ("SLURM_JOB_NODELIST", "f0203,f0205"),
    ("SLURMD_NODENAME", "f0203"),
];

#[test]
fn prolog_slurmctld_gives_the_whole_start() {
    let e = env(PROLOG_SLURMCTLD_23_11);
    assert_eq!(Context::from_env(&e), Some(Context::PrologSlurmctld));
    assert_eq!(
        start_payload(&e, NOW),
        json!({"jobId": 4711, "cluster": "fritz", "user": "alice", "project": "proj1",
               "partition": "multinode", "numNodes": 2,
               "resources": [{"hostname": "f0101"}, {"hostname": "f0102"}],
               "startTime": 1763700000, "metaData": {"jobName": "sim \"big\""}})
    );
}

#[test]
fn node_prolog_counts_nodes_and_uses_now_for_a_missing_start_time() {
    let e = env(PROLOG_SLURMD_22_05);
    assert_eq!(
        start_payload(&e, NOW),
        json!({"jobId": 4712, "cluster": "fritz", "user": "bob", "partition": "singlenode",
               "numNodes": 2, "resources": [{"hostname": "f0203"}, {"hostname": "f0205"}],
               "arrayJobId": 4700, "startTime": NOW})
    );
    assert!(Context::Prolog.runs_on_every_node());
    assert!(!is_first_node(&e, "ignored"), "f0205 is the second node");
}

#[test]
fn epilog_slurmctld_maps_a_nonzero_exit_code_to_failed() {
    let e = env(EPILOG_SLURMCTLD_23_11);
    assert!(!Context::from_env(&e).unwrap().is_start());
    assert_eq!(
        stop_payload(&e, NOW),
        json!({"jobId": 4711, "cluster": "fritz", "startTime": 1763700000,
               "stopTime": 1763703600, "jobState": "failed"})
    );
}

#[test]
fn node_epilog_without_end_time_or_exit_codes_is_completed_now() {
    let e = env(EPILOG_SLURMD_21_08);
    assert_eq!(
        stop_payload(&e, NOW),
        json!({"jobId": 4712, "cluster": "fritz", "stopTime": NOW, "jobState": "completed"})
    );
    assert!(is_first_node(&e, "ignored"));
}

#[test]
fn signals_and_unparseable_codes_are_failures_zero_is_not() {
    for (code, state) in [
        ("0:0", "completed"),
        ("0:15", "failed"),
        ("2", "failed"),
        ("x", "failed"),
    ] {
        let e = env(&[("SLURM_JOB_EXIT_CODE2", code)]);
        assert_eq!(stop_payload(&e, NOW)["jobState"], state, "{code}");
    }
    let e = env(&[("SLURM_JOB_DERIVED_EC", "0:0")]);
    assert_eq!(stop_payload(&e, NOW)["jobState"], "completed");
}

#[test]
fn an_empty_environment_gives_a_payload_not_an_error() {
    let e = env(&[]);
    assert_eq!(start_payload(&e, NOW), json!({"startTime": NOW}));
    assert_eq!(Context::from_env(&e), None);
    assert!(is_first_node(&e, "anyhost"));
}

#[test]
fn a_malformed_nodelist_leaves_resources_out() {
    let e = env(&[("SLURM_JOB_NODELIST", "f[01-"), ("SLURM_JOB_ID", "1")]);
    assert_eq!(
        start_payload(&e, NOW),
        json!({"jobId": 1, "startTime": NOW})
    );
}
