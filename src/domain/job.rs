//! Validated job events. A `StartJob` or `StopJob` that exists has passed every rule of
//! contract section 2; the store never re-checks them.

use super::cluster::Clusters;
use crate::wire::{ResourceWire, StartJobWire, StopJobWire, TagWire};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The job states of contract section 2 (also their schema in the OpenAPI document).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum JobState {
    BootFail,
    Cancelled,
    Completed,
    Deadline,
    Failed,
    NodeFail,
    OutOfMemory,
    Pending,
    Preempted,
    Running,
    Suspended,
    Timeout,
}

const STATES: [(&str, JobState); 12] = [
    ("boot_fail", JobState::BootFail),
    ("cancelled", JobState::Cancelled),
    ("completed", JobState::Completed),
    ("deadline", JobState::Deadline),
    ("failed", JobState::Failed),
    ("node_fail", JobState::NodeFail),
    ("out_of_memory", JobState::OutOfMemory),
    ("pending", JobState::Pending),
    ("preempted", JobState::Preempted),
    ("running", JobState::Running),
    ("suspended", JobState::Suspended),
    ("timeout", JobState::Timeout),
];

impl JobState {
    /// Every state's name, as Slurm and the API write it.
    pub fn names() -> impl Iterator<Item = &'static str> {
        STATES.iter().map(|(n, _)| *n)
    }

    pub fn as_str(self) -> &'static str {
        STATES
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("", |(n, _)| n)
    }
}

impl FromStr for JobState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        STATES
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, st)| *st)
            .ok_or_else(|| format!("invalid jobState {s:?}"))
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    pub tag_type: String,
    pub name: String,
    /// `global` unless a user or admin scope is given.
    pub scope: String,
}

/// A valid start_job event.
#[derive(Debug, Clone, PartialEq)]
pub struct StartJob {
    pub job_id: i64,
    pub cluster: String,
    pub start_time: i64,
    pub sub_cluster: String,
    pub partition: String,
    pub project: String,
    pub user: String,
    pub shared: &'static str,
    pub tags: Vec<Tag>,
    pub resources: Vec<ResourceWire>,
    pub meta_data: BTreeMap<String, String>,
    pub footprint: BTreeMap<String, f64>,
    pub energy_footprint: BTreeMap<String, f64>,
    pub energy: Option<f64>,
    pub array_job_id: Option<i64>,
    pub walltime: Option<i64>,
    pub requested_memory: Option<i64>,
    pub submit_time: Option<i64>,
    pub smt: i64,
    pub monitoring_status: i64,
    pub num_nodes: i64,
    pub num_hwthreads: Option<i64>,
    pub num_acc: Option<i64>,
}

/// A valid stop_job event. `cluster` and `start_time` narrow which instance is meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopJob {
    pub job_id: i64,
    pub cluster: Option<String>,
    pub start_time: Option<i64>,
    pub state: JobState,
    pub stop_time: i64,
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

fn non_negative(key: &str, v: Option<i64>) -> Result<Option<i64>, String> {
    match v {
        Some(n) if n < 0 => Err(format!("{key} must be >= 0, got {n}")),
        _ => Ok(v),
    }
}

impl StartJob {
    pub fn parse(w: StartJobWire, clusters: &Clusters) -> Result<StartJob, String> {
        let job_id = w.job_id.ok_or("jobId is required")?;
        if job_id <= 0 {
            return Err(format!("jobId must be > 0, got {job_id}"));
        }
        let cluster = non_empty(w.cluster).ok_or("cluster is required")?;
        let user = non_empty(w.user).ok_or("user is required")?;
        let start_time = w.start_time.ok_or("startTime is required")?;
        if start_time <= 0 {
            return Err(format!("startTime must be > 0, got {start_time}"));
        }
        let num_nodes = w.num_nodes.ok_or("numNodes is required")?;
        if num_nodes < 1 {
            return Err(format!("numNodes must be >= 1, got {num_nodes}"));
        }
        let resources = w.resources.unwrap_or_default();
        if resources.is_empty() {
            return Err("resources is required and must not be empty".into());
        }
        if resources.len() as i64 != num_nodes {
            return Err(format!(
                "resources has {} entries but numNodes is {num_nodes}",
                resources.len()
            ));
        }
        if let Some(i) = resources.iter().position(|r| r.hostname.trim().is_empty()) {
            return Err(format!("resources[{i}].hostname is empty"));
        }
        let shared = parse_shared(w.shared.as_deref(), w.exclusive)?;
        let monitoring_status = w.monitoring_status.unwrap_or(1);
        if !(0..=1).contains(&monitoring_status) {
            return Err(format!(
                "monitoringStatus must be 0 or 1 on start (2 and 3 are set by jobledger), got {monitoring_status}"
            ));
        }
        if let Some(s) = w.job_state.as_deref().filter(|s| !s.is_empty()) {
            s.parse::<JobState>()?; // ignored on start, but must be a real state
        }
        let sub_cluster = clusters.resolve_subcluster(
            &cluster,
            w.sub_cluster.as_deref().unwrap_or(""),
            &resources[0].hostname,
        )?;
        let meta_data = w.meta_data.unwrap_or_default();
        let mut tags = parse_tags(w.tags.unwrap_or_default())?;
        // The applications its script shows (cc-backend's app tagger, `[tagging]`).
        if let Some(script) = meta_data.get("jobScript") {
            for app in clusters.taggers().apps_of(script) {
                let tag = Tag {
                    tag_type: crate::tagging::APP.into(),
                    name: app,
                    scope: "global".into(),
                };
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
        }
        // Older publishers only put submitTime into metaData.
        let submit_time = w
            .submit_time
            .or_else(|| meta_data.get("submitTime").and_then(|s| s.parse().ok()));
        Ok(StartJob {
            job_id,
            cluster,
            start_time,
            sub_cluster,
            partition: w.partition.unwrap_or_default(),
            project: w.project.unwrap_or_default(),
            user,
            shared,
            tags,
            resources,
            meta_data,
            footprint: w.footprint.unwrap_or_default(),
            energy_footprint: w.energy_footprint.unwrap_or_default(),
            energy: w.energy,
            array_job_id: w.array_job_id,
            walltime: non_negative("walltime", w.walltime)?,
            requested_memory: non_negative("requestedMemory", w.requested_memory)?,
            submit_time: non_negative("submitTime", submit_time)?,
            smt: w.smt.filter(|s| *s > 0).unwrap_or(1),
            monitoring_status,
            num_nodes,
            num_hwthreads: non_negative("numHwthreads", w.num_hwthreads)?,
            num_acc: non_negative("numAcc", w.num_acc)?,
        })
    }
}

fn parse_shared(shared: Option<&str>, exclusive: Option<i64>) -> Result<&'static str, String> {
    match (shared.filter(|s| !s.is_empty()), exclusive) {
        (Some("none"), _) | (None, None | Some(1)) => Ok("none"),
        (Some("single_user"), _) | (None, Some(2)) => Ok("single_user"),
        (Some("multi_user"), _) | (None, Some(0)) => Ok("multi_user"),
        (Some(other), _) => Err(format!(
            "shared must be none, single_user or multi_user, got {other:?}"
        )),
        (None, Some(e)) => Err(format!("exclusive must be 0, 1 or 2, got {e}")),
    }
}

pub fn parse_tags(tags: Vec<TagWire>) -> Result<Vec<Tag>, String> {
    let mut out: Vec<Tag> = Vec::with_capacity(tags.len());
    for (i, t) in tags.into_iter().enumerate() {
        if t.tag_type.trim().is_empty() || t.name.trim().is_empty() {
            return Err(format!("tags[{i}] needs a non-empty type and name"));
        }
        let scope = non_empty(t.scope).unwrap_or_else(|| "global".into());
        let tag = Tag {
            tag_type: t.tag_type,
            name: t.name,
            scope,
        };
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

impl StopJob {
    pub fn parse(w: StopJobWire) -> Result<StopJob, String> {
        let job_id = w.job_id.ok_or("jobId is required")?;
        if job_id <= 0 {
            return Err(format!("jobId must be > 0, got {job_id}"));
        }
        let stop_time = w.stop_time.ok_or("stopTime is required")?;
        if stop_time <= 0 {
            return Err(format!("stopTime must be > 0, got {stop_time}"));
        }
        let state = match w.job_state.as_deref() {
            None | Some("") => JobState::Completed,
            Some(s) => s.parse()?,
        };
        if state == JobState::Running {
            return Err("jobState of a stop must not be running".into());
        }
        Ok(StopJob {
            job_id,
            cluster: non_empty(w.cluster),
            // Go publishers send 0 for "not given".
            start_time: w.start_time.filter(|t| *t > 0),
            state,
            stop_time,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_states_are_the_parsed_ones() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(JobState::schema()).unwrap();
        let names: Vec<&str> = STATES.iter().map(|(n, _)| *n).collect();
        assert_eq!(schema["enum"], serde_json::json!(names));
    }

    fn wire(json: &str) -> StartJobWire {
        serde_json::from_str(json).unwrap()
    }

    const OK: &str = r#"{"jobId":1,"cluster":"c","user":"u","startTime":10,"numNodes":1,
        "resources":[{"hostname":"h1"}]}"#;

    #[test]
    fn minimal_start_gets_the_documented_defaults() {
        let j = StartJob::parse(wire(OK), &Clusters::default()).unwrap();
        assert_eq!((j.shared, j.smt, j.monitoring_status), ("none", 1, 1));
    }

    #[test]
    fn each_start_rule_is_enforced() {
        let cases = [
            (r#""jobId":0"#, "jobId"),
            (r#""cluster":"""#, "cluster"),
            (r#""user":null"#, "user"),
            (r#""startTime":-1"#, "startTime"),
            (r#""numNodes":2"#, "numNodes"),
            (r#""resources":[{"hostname":""}]"#, "hostname"),
            (r#""resources":null"#, "resources"),
            (r#""shared":"maybe""#, "shared"),
            (r#""monitoringStatus":3"#, "monitoringStatus"),
            (r#""walltime":-5"#, "walltime"),
            (r#""jobState":"sleeping""#, "jobState"),
            (r#""tags":[{"type":"","name":"x"}]"#, "tags[0]"),
        ];
        for (field, expect) in cases {
            let key = &field[1..field[1..].find('"').unwrap() + 1];
            let mut v: serde_json::Value = serde_json::from_str(OK).unwrap();
            let patch: serde_json::Value = serde_json::from_str(&format!("{{{field}}}")).unwrap();
            v[key] = patch[key].clone();
            let w: StartJobWire = serde_json::from_value(v).unwrap();
            let e = StartJob::parse(w, &Clusters::default()).unwrap_err();
            assert!(e.contains(expect), "{field}: {e}");
        }
    }

    #[test]
    fn legacy_exclusive_maps_to_shared() {
        let mut w = wire(OK);
        w.exclusive = Some(0);
        assert_eq!(
            StartJob::parse(w, &Clusters::default()).unwrap().shared,
            "multi_user"
        );
    }

    #[test]
    fn stop_defaults_to_completed_and_refuses_running() {
        let w: StopJobWire =
            serde_json::from_str(r#"{"jobId":1,"stopTime":5,"jobState":""}"#).unwrap();
        let s = StopJob::parse(w).unwrap();
        assert_eq!(
            (s.state, s.cluster, s.start_time),
            (JobState::Completed, None, None)
        );
        let w: StopJobWire =
            serde_json::from_str(r#"{"jobId":1,"stopTime":5,"jobState":"running"}"#).unwrap();
        assert!(StopJob::parse(w).is_err());
    }
}
