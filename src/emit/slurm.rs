//! The Slurm environment of a hook → a start_job or stop_job payload.
//!
//! Which variables exist differs by hook and Slurm version; a missing one is simply absent
//! from the payload, never an error, because a failing prolog drains the node.

use crate::hostlist::HostList;
use serde_json::{json, Map, Value};

/// Which hook runs us, from `SLURM_SCRIPT_CONTEXT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    PrologSlurmctld,
    EpilogSlurmctld,
    /// Node prolog: runs on every node of the allocation.
    Prolog,
    /// Node epilog: runs on every node of the allocation.
    Epilog,
}

impl Context {
    pub(crate) fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Option<Context> {
        match env("SLURM_SCRIPT_CONTEXT")?.as_str() {
            "prolog_slurmctld" => Some(Context::PrologSlurmctld),
            "epilog_slurmctld" => Some(Context::EpilogSlurmctld),
            "prolog_slurmd" => Some(Context::Prolog),
            "epilog_slurmd" => Some(Context::Epilog),
            _ => None,
        }
    }

    pub(crate) fn is_start(self) -> bool {
        matches!(self, Context::PrologSlurmctld | Context::Prolog)
    }

    /// Node hooks run on every node; only the first node of the allocation publishes.
    pub(crate) fn runs_on_every_node(self) -> bool {
        matches!(self, Context::Prolog | Context::Epilog)
    }
}

fn int(env: &dyn Fn(&str) -> Option<String>, key: &str) -> Option<i64> {
    env(key).and_then(|v| v.trim().parse().ok())
}

fn text(env: &dyn Fn(&str) -> Option<String>, key: &str) -> Option<String> {
    env(key).filter(|v| !v.is_empty())
}

/// The hosts of `SLURM_JOB_NODELIST` (or `SLURM_NODELIST`), if present and well-formed.
pub(crate) fn nodes(env: &dyn Fn(&str) -> Option<String>) -> Option<Vec<String>> {
    let list = text(env, "SLURM_JOB_NODELIST").or_else(|| text(env, "SLURM_NODELIST"))?;
    match HostList::parse(&list) {
        Ok(l) => Some(l.expand()),
        Err(e) => {
            tracing::warn!(
                error = format!("{e:#}"),
                "SLURM_JOB_NODELIST is not a hostlist; resources left out"
            );
            None
        }
    }
}

/// Is this host the first node of the allocation (`SLURMD_NODENAME` or the host name)?
pub(crate) fn is_first_node(env: &dyn Fn(&str) -> Option<String>, hostname: &str) -> bool {
    let me = text(env, "SLURMD_NODENAME").unwrap_or_else(|| hostname.to_string());
    match nodes(env) {
        Some(n) => n.first().is_none_or(|first| *first == me),
        None => true,
    }
}

/// The start_job payload of this job; `now` stands in for a missing start time.
pub(crate) fn start_payload(env: &dyn Fn(&str) -> Option<String>, now: i64) -> Value {
    let mut p = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            p.insert(k.to_string(), v);
        }
    };
    put("jobId", int(env, "SLURM_JOB_ID").map(Value::from));
    put("cluster", text(env, "SLURM_CLUSTER_NAME").map(Value::from));
    put("user", text(env, "SLURM_JOB_USER").map(Value::from));
    put("project", text(env, "SLURM_JOB_ACCOUNT").map(Value::from));
    put(
        "partition",
        text(env, "SLURM_JOB_PARTITION").map(Value::from),
    );
    let hosts = nodes(env);
    let num_nodes = int(env, "SLURM_JOB_NUM_NODES").or(hosts.as_ref().map(|h| h.len() as i64));
    put("numNodes", num_nodes.map(Value::from));
    put(
        "resources",
        hosts.map(|h| h.into_iter().map(|n| json!({ "hostname": n })).collect()),
    );
    put(
        "arrayJobId",
        int(env, "SLURM_ARRAY_JOB_ID").map(Value::from),
    );
    put(
        "startTime",
        Some(int(env, "SLURM_JOB_START_TIME").unwrap_or(now).into()),
    );
    put(
        "metaData",
        text(env, "SLURM_JOB_NAME").map(|n| json!({ "jobName": n })),
    );
    Value::Object(p)
}

/// The stop_job payload of this job; `now` stands in for a missing end time.
pub(crate) fn stop_payload(env: &dyn Fn(&str) -> Option<String>, now: i64) -> Value {
    let mut p = Map::new();
    if let Some(id) = int(env, "SLURM_JOB_ID") {
        p.insert("jobId".into(), id.into());
    }
    if let Some(c) = text(env, "SLURM_CLUSTER_NAME") {
        p.insert("cluster".into(), c.into());
    }
    if let Some(t) = int(env, "SLURM_JOB_START_TIME") {
        p.insert("startTime".into(), t.into());
    }
    let stop = int(env, "SLURM_JOB_END_TIME")
        .filter(|t| *t > 0)
        .unwrap_or(now);
    p.insert("stopTime".into(), stop.into());
    p.insert("jobState".into(), job_state(env).into());
    Value::Object(p)
}

/// `completed` when the exit code is 0:0 (or absent), `failed` otherwise.
fn job_state(env: &dyn Fn(&str) -> Option<String>) -> &'static str {
    let code = text(env, "SLURM_JOB_EXIT_CODE2").or_else(|| text(env, "SLURM_JOB_DERIVED_EC"));
    let failed = code.is_some_and(|c| {
        c.split(':')
            .any(|part| part.trim().parse::<i64>().ok().is_none_or(|n| n != 0))
    });
    if failed {
        "failed"
    } else {
        "completed"
    }
}

#[cfg(test)]
mod tests;
