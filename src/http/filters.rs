//! The job filters shared by `/api/jobs/`, `/api/stats/` and `/api/events`, read from a
//! query string into a [`JobFilter`]. A bad value is a 400 that names the parameter.

use super::auth::Caller;
use super::params::Params;
use super::ApiError;
use crate::domain::job::JobState;
use crate::domain::query::{JobFilter, Range, Text};

/// Every filter parameter; routes add their own (paging, grouping) to this list.
pub(super) const FILTER_PARAMS: &[&str] = &[
    "state",
    "cluster",
    "partition",
    "subcluster",
    "user",
    "project",
    "jobName",
    "arrayJobId",
    "node",
    "tag",
    "start-time",
    "stop-time",
    "duration",
    "numNodes",
    "time",
];

/// `FILTER_PARAMS` plus `extra`.
pub(super) fn allowed(extra: &[&'static str]) -> Vec<&'static str> {
    FILTER_PARAMS.iter().chain(extra).copied().collect()
}

/// The filter a query string asks for, narrowed to what the caller may read.
pub(super) fn job_filter(p: &Params, caller: &Caller) -> Result<JobFilter, ApiError> {
    let states = p
        .all("state")
        .map(str::parse::<JobState>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::bad_request(format!("state: {e}")))?;
    let text = |key: &str| -> Result<Option<Text>, ApiError> { Ok(p.text(key)?.map(Text::parse)) };
    let string =
        |key: &str| -> Result<Option<String>, ApiError> { Ok(p.text(key)?.map(String::from)) };
    Ok(JobFilter {
        states,
        cluster: string("cluster")?,
        partition: string("partition")?,
        subcluster: string("subcluster")?,
        user: text("user")?,
        project: text("project")?,
        job_name: text("jobName")?,
        array_job_id: p.parsed("arrayJobId")?,
        node: string("node")?,
        tag: p.parsed("tag")?,
        start_time: p.parsed::<Range>("start-time")?,
        stop_time: p.parsed::<Range>("stop-time")?,
        duration: p.parsed::<Range>("duration")?,
        num_nodes: p.parsed::<Range>("numNodes")?,
        time: p.parsed::<Range>("time")?,
        scope: caller.0.scope(),
    })
}
