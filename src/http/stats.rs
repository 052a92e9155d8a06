//! `GET /api/stats/`: usage per user, project, cluster, partition, subcluster or state,
//! live from the ledger. A caller sees only the groups made of jobs it may read.

use super::auth::Caller;
use super::filters::{allowed, job_filter};
use super::openapi::ErrorBody;
use super::params::Params;
use super::{ApiError, AppState};
use crate::domain::query::{GroupBy, JobFilter};
use crate::store::stats::Stats;
use axum::extract::{RawQuery, State};
use axum::Json;

/// Jobs, node-hours, core-hours (numHwthreads), GPU-hours (numAcc) and average wait per
/// group. With `time=<from>-<to>`, jobs running in the window count with the part inside
/// it; running jobs count up to now.
#[utoipa::path(get, path = "/api/stats/", tag = "jobs",
    params(super::filters::FilterParams,
        ("group-by" = String, Query, description = "user, project, cluster, partition, subcluster or state")),
    responses(
        (status = 200, description = "Usage per group, largest node-hours first", body = Stats),
        (status = 400, description = "A bad or unknown parameter", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
    ))]
pub(super) async fn stats(
    State(app): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Json<Stats>, ApiError> {
    let (filter, by) = stats_query(q.as_deref(), &caller)?;
    let now = chrono::Utc::now().timestamp();
    Ok(Json(app.store.stats(&filter, by, now).await?))
}

/// The filter and grouping a statistics query string asks for (the API's and the pages').
pub(crate) fn stats_query(
    q: Option<&str>,
    caller: &Caller,
) -> Result<(JobFilter, GroupBy), ApiError> {
    let p = Params::parse(q, &allowed(&["group-by"]))?;
    let by: GroupBy = p
        .parsed("group-by")?
        .ok_or_else(|| ApiError::bad_request("group-by is required"))?;
    Ok((job_filter(&p, caller)?, by))
}
