//! Reading jobs: the filtered list, one job, its archived bundle. Every read is narrowed
//! to what the caller may see; a job outside it is answered like a missing one.

use super::auth::Caller;
use super::filters::{allowed, job_filter};
use super::openapi::ErrorBody;
use super::params::Params;
use super::{ApiError, AppState};
use crate::store::query::{JobQuery, JobRecord};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct JobList {
    pub jobs: Vec<JobRecord>,
    /// Jobs on this page.
    pub items: usize,
    pub page: i64,
    /// Jobs matching the filters on all pages.
    pub total: i64,
}

/// Most jobs one page may hold; more is a 400, not a server that runs out of memory.
pub(super) const MAX_PER_PAGE: i64 = 100_000;

/// Jobs matching every filter given (AND), one page at a time.
#[utoipa::path(get, path = "/api/jobs/", tag = "jobs",
    params(super::filters::FilterParams, super::openapi::PageParams),
    responses(
        (status = 200, description = "One page of jobs", body = JobList),
        (status = 400, description = "A bad or unknown parameter", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
    ))]
pub(super) async fn list(
    State(app): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Json<JobList>, ApiError> {
    let query = list_query(q.as_deref(), &caller)?;
    let (jobs, total) = app.store.list_jobs(&query).await?;
    Ok(Json(JobList {
        items: jobs.len(),
        jobs,
        page: query.page,
        total,
    }))
}

/// The query a job list's query string asks for (the API's and the web page's).
pub(crate) fn list_query(q: Option<&str>, caller: &Caller) -> Result<JobQuery, ApiError> {
    let p = Params::parse(
        q,
        &allowed(&["page", "items-per-page", "with-metadata", "sort"]),
    )?;
    Ok(JobQuery {
        filter: job_filter(&p, caller)?,
        sort: p.parsed("sort")?.unwrap_or_default(),
        page: p.positive("page", 1)?,
        per_page: p.positive("items-per-page", 25)?.min(MAX_PER_PAGE),
        with_metadata: p.boolean("with-metadata", false)?,
    })
}

/// One job by database id, with its archive status.
#[utoipa::path(get, path = "/api/jobs/{id}", tag = "jobs",
    params(("id" = i64, Path, description = "Database id of the job")),
    responses(
        (status = 200, description = "The job", body = JobRecord),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such job (or not the caller's)", body = ErrorBody),
    ))]
pub(super) async fn get_one(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<JobRecord>, ApiError> {
    Ok(Json(readable_job(&app, &caller, &id).await?))
}

/// The job `id` names, if the caller may read it; 400 for a bad id, 404 otherwise.
pub(crate) async fn readable_job(
    app: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<JobRecord, ApiError> {
    let id = parse_id(id)?;
    match app.store.job_by_id(id).await? {
        Some(job) if caller.may_read(&job.user, &job.project) => Ok(job),
        _ => Err(ApiError::not_found(format!("no job with id {id}"))),
    }
}

pub(super) fn parse_id(id: &str) -> Result<i64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::bad_request(format!("job id must be a number, got {id:?}")))
}

/// The archived job as one `.tar.zst` (meta.json and data.json, as stored).
#[utoipa::path(get, path = "/api/jobs/{id}/archive", tag = "jobs",
    params(("id" = i64, Path, description = "Database id of the job")),
    responses(
        (status = 200, description = "meta.json and data.json", content_type = "application/zstd", body = Vec<u8>),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such job, or not archived yet", body = ErrorBody),
        (status = 500, description = "The archive cannot be read", body = ErrorBody),
    ))]
pub(super) async fn archive_bundle(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = readable_job(&app, &caller, &id).await?;
    let location = match (&job.archive_location, job.monitoring_status) {
        (Some(l), 3) => l.clone(),
        (_, status) => {
            return Err(ApiError::not_found(format!(
                "job {} is not archived (monitoringStatus {status})",
                job.id
            )))
        }
    };
    let bundle = crate::archive::bundle::tar_zst(&app.archive, &location)
        .await
        .map_err(|e| {
            tracing::error!(
                job = job.id,
                error = format!("{e:#}"),
                "reading an archived job failed"
            );
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the archived files of job {} cannot be read", job.id),
            )
        })?;
    let name = format!("{}-{}-{}.tar.zst", job.cluster, job.job_id, job.start_time);
    Ok((
        [
            (header::CONTENT_TYPE, "application/zstd".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bundle,
    )
        .into_response())
}
