//! The job filters shared by `/api/jobs/`, `/api/stats/` and `/api/events`.
//!
//! [`FilterParams`] is their one definition: serde reads it from the query string (each
//! value parsed into its domain type), utoipa describes it in the OpenAPI document, and
//! its parameter names are the allow-list. A bad value is a 400 that names the parameter.

use super::auth::Caller;
use super::params::Params;
use super::ApiError;
use crate::domain::job::JobState;
use crate::domain::query::{FootprintRange, JobFilter, Range, TagRef, Text};
use serde::de::{Deserializer, Error as _};
use serde::Deserialize;
use std::fmt::Display;
use std::str::FromStr;
use std::sync::LazyLock;
use utoipa::openapi::path::ParameterIn;
use utoipa::IntoParams;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub(crate) struct FilterParams {
    /// Job state; repeat for several.
    #[param(value_type = Option<Vec<JobState>>)]
    #[serde(deserialize_with = "states")]
    state: Vec<JobState>,
    #[serde(deserialize_with = "parsed")]
    cluster: Option<String>,
    #[serde(deserialize_with = "parsed")]
    partition: Option<String>,
    #[serde(deserialize_with = "parsed")]
    subcluster: Option<String>,
    /// Exact, or a glob with `*` and `?` (case-sensitive).
    #[param(value_type = Option<String>)]
    #[serde(deserialize_with = "text")]
    user: Option<Text>,
    /// Exact, or a glob with `*` and `?` (case-sensitive).
    #[param(value_type = Option<String>)]
    #[serde(deserialize_with = "text")]
    project: Option<Text>,
    /// Substring, or a glob with `*` and `?`; case-insensitive.
    #[param(value_type = Option<String>)]
    #[serde(rename = "jobName", deserialize_with = "text")]
    job_name: Option<Text>,
    #[serde(rename = "arrayJobId", deserialize_with = "parsed")]
    array_job_id: Option<i64>,
    /// Jobs whose resources include this host name.
    #[serde(deserialize_with = "parsed")]
    node: Option<String>,
    /// `<type>:<name>`.
    #[param(value_type = Option<String>)]
    #[serde(deserialize_with = "parsed")]
    tag: Option<TagRef>,
    /// `<from>-<to>` in unix seconds, inclusive; either end may be left out.
    #[param(value_type = Option<String>, pattern = r"^[0-9]*-[0-9]*$")]
    #[serde(rename = "start-time", deserialize_with = "parsed")]
    start_time: Option<Range>,
    /// `<from>-<to>` in unix seconds.
    #[param(value_type = Option<String>, pattern = r"^[0-9]*-[0-9]*$")]
    #[serde(rename = "stop-time", deserialize_with = "parsed")]
    stop_time: Option<Range>,
    /// `<min>-<max>` seconds.
    #[param(value_type = Option<String>, pattern = r"^[0-9]*-[0-9]*$")]
    #[serde(deserialize_with = "parsed")]
    duration: Option<Range>,
    /// `<min>-<max>`.
    #[param(value_type = Option<String>, pattern = r"^[0-9]*-[0-9]*$")]
    #[serde(rename = "numNodes", deserialize_with = "parsed")]
    num_nodes: Option<Range>,
    /// `<from>-<to>` in unix seconds: jobs running at some moment of the window. In
    /// `/api/stats/` each job counts only with its part inside the window.
    #[param(value_type = Option<String>, pattern = r"^[0-9]*-[0-9]*$")]
    #[serde(deserialize_with = "parsed")]
    time: Option<Range>,
    /// `<name>:<min>-<max>` (`flops_any_avg:10-`): a footprint value in a range, either end
    /// open; repeat for several.
    #[param(value_type = Option<Vec<String>>)]
    #[serde(deserialize_with = "footprints")]
    footprint: Vec<FootprintRange>,
}

/// The parameters that may be repeated: two filters, and `/api/events`' own `kind`
/// (read by that route; here it only must not count as given twice).
const REPEATABLE: &[&str] = &["state", "footprint", "kind"];

/// The filter parameters' names, read once from their OpenAPI description.
static FILTER_NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
    FilterParams::into_params(|| Some(ParameterIn::Query))
        .into_iter()
        .map(|p| p.name)
        .collect()
});

/// The filter parameters' names plus a route's own `extra` ones: what a query may hold.
pub(crate) fn allowed(extra: &[&str]) -> Vec<String> {
    FILTER_NAMES
        .iter()
        .cloned()
        .chain(extra.iter().map(ToString::to_string))
        .collect()
}

/// The filter a query string asks for, narrowed to what the caller may read.
pub(crate) fn job_filter(p: &Params, caller: &Caller) -> Result<JobFilter, ApiError> {
    let f: FilterParams = p.deserialize(REPEATABLE)?;
    Ok(JobFilter {
        states: f.state,
        cluster: f.cluster,
        partition: f.partition,
        subcluster: f.subcluster,
        user: f.user,
        project: f.project,
        job_name: f.job_name,
        array_job_id: f.array_job_id,
        node: f.node,
        tag: f.tag,
        start_time: f.start_time,
        stop_time: f.stop_time,
        duration: f.duration,
        num_nodes: f.num_nodes,
        time: f.time,
        footprint: f.footprint,
        scope: caller.0.scope(),
    })
}

/// A value that must not be empty (an empty one is a mistake, not "no filter") nor hold
/// NUL (Postgres cannot, and both databases must answer alike).
fn checked<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = String::deserialize(d)?;
    if v.is_empty() {
        return Err(D::Error::custom("must not be empty"));
    }
    if v.contains('\0') {
        return Err(D::Error::custom("must not contain NUL"));
    }
    Ok(v)
}

fn parsed<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    checked(d)?.parse().map(Some).map_err(D::Error::custom)
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Text>, D::Error> {
    Ok(Some(Text::parse(&checked(d)?)))
}

/// Repeated values arrive joined by `,` (see [`Params::deserialize`]).
fn footprints<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<FootprintRange>, D::Error> {
    let joined = checked(d)?;
    joined
        .split(',')
        .map(|s| s.parse().map_err(D::Error::custom))
        .collect()
}

/// Repeated values arrive joined by `,` (see [`Params::deserialize`]).
fn states<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<JobState>, D::Error> {
    let joined = String::deserialize(d)?;
    joined
        .split(',')
        .map(|s| s.parse().map_err(D::Error::custom))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allow_list_is_the_documented_names() {
        let names = allowed(&["page"]);
        for n in ["state", "jobName", "start-time", "numNodes", "time", "page"] {
            assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
        }
        assert_eq!(names.len(), 17);
    }
}
