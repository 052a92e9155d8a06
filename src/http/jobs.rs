//! Job routes. start_job and stop_job go through the same decoder and the same rules as
//! NATS events; they differ only in answering the caller instead of holding early stops.

use super::params::Params;
use super::{ApiError, AppState};
use crate::decode::{decode_event, Decoded, Kind};
use crate::domain::job::JobState;
use crate::domain::rules::{Origin, Outcome};
use crate::domain::RejectKind;
use crate::store::query::JobFilter;
use crate::store::Input;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

const LIST_PARAMS: &[&str] = &[
    "state",
    "cluster",
    "project",
    "user",
    "partition",
    "start-time",
    "page",
    "items-per-page",
    "with-metadata",
];

pub async fn list(
    State(app): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), LIST_PARAMS)?;
    let states = p
        .all("state")
        .map(|s| s.parse::<JobState>().map(|st| st.as_str().to_string()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::bad_request(format!("state: {e}")))?;
    let range = p.range("start-time")?;
    let filter = JobFilter {
        states,
        cluster: p.string("cluster")?,
        project: p.string("project")?,
        user: p.string("user")?,
        partition: p.string("partition")?,
        start_from: range.map(|r| r.0),
        start_to: range.map(|r| r.1),
    };
    let page = p.positive("page", 1)?;
    let per_page = p.positive("items-per-page", 25)?;
    let with_metadata = p.boolean("with-metadata", false)?;
    let (jobs, total) = app
        .store
        .list_jobs(&filter, page, per_page, with_metadata)
        .await?;
    let body = json!({ "jobs": jobs, "items": jobs.len(), "page": page, "total": total });
    Ok(Json(body).into_response())
}

pub async fn get_one(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("job id must be a number, got {id:?}")))?;
    match app.store.job_by_id(id).await? {
        Some(job) => Ok(Json(job).into_response()),
        None => Err(ApiError::not_found(format!("no job with id {id}"))),
    }
}

/// The archived job as one `.tar.zst` (meta.json and data.json, as stored).
pub async fn archive_bundle(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("job id must be a number, got {id:?}")))?;
    let job = app
        .store
        .job_by_id(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no job with id {id}")))?;
    let location = match (&job.archive_location, job.monitoring_status) {
        (Some(l), 3) => l.clone(),
        (_, status) => {
            return Err(ApiError::not_found(format!(
                "job {id} is not archived (monitoringStatus {status})"
            )))
        }
    };
    let bundle = crate::archive::bundle::tar_zst(&app.archive, &location)
        .await
        .map_err(|e| {
            tracing::error!(job = id, error = %e, "reading an archived job failed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the archived files of job {id} cannot be read"),
            )
        })?;
    let name = format!("{}-{}-{}.tar.zst", job.cluster, job.job_id, job.start_time);
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/zstd".to_string(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bundle,
    )
        .into_response())
}

pub async fn start(State(app): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let (outcome, ids) =
        apply_body(&app, Kind::StartJob, "http:/api/jobs/start_job/", body).await?;
    match outcome {
        Outcome::Created(key) => {
            let id = ids.get(&key).copied();
            Ok((
                StatusCode::CREATED,
                Json(json!({ "msg": "success", "id": id })),
            )
                .into_response())
        }
        // cc-backend answers a repeated start with 422, and cc-slurm-adapter relies on it.
        Outcome::Duplicate(key) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "duplicate: job {} on {} with startTime {} already exists",
                key.job_id, key.cluster, key.start_time
            ),
        )),
        other => Err(rejection(other)),
    }
}

pub async fn stop(State(app): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let (outcome, _) = apply_body(&app, Kind::StopJob, "http:/api/jobs/stop_job/", body).await?;
    match outcome {
        // A repeated identical stop is answered like the first: the job as it is.
        Outcome::Stopped(key) | Outcome::Duplicate(key) => {
            let id = app.store.job_id_by_key(&key).await?;
            let job = match id {
                Some(id) => app.store.job_by_id(id).await?,
                None => None,
            };
            job.map(|j| Json(j).into_response())
                .ok_or_else(|| ApiError::not_found("the job vanished while it was being stopped"))
        }
        other => Err(rejection(other)),
    }
}

/// Decode a request body exactly as a NATS line's `event` field and apply it. Invalid
/// bodies are stored as rejected events too, so `/api/rejected/` shows every failure.
pub(super) async fn apply_body(
    app: &AppState,
    kind: Kind,
    subject: &str,
    body: Bytes,
) -> Result<
    (
        Outcome,
        std::collections::HashMap<crate::domain::rules::InstanceKey, i64>,
    ),
    ApiError,
> {
    let origin = Origin {
        subject: subject.to_string(),
        raw: body.to_vec(),
        received_at: chrono::Utc::now().timestamp(),
        source_key: None,
    };
    let decoded = match std::str::from_utf8(&body) {
        Ok(text) => decode_event(kind, text, &app.clusters),
        Err(e) => Decoded::Invalid(
            RejectKind::Decode,
            format!("request body is not UTF-8 (byte {})", e.valid_up_to()),
        ),
    };
    let input = match decoded {
        Decoded::Event(ev) => Input::Event(ev, origin),
        Decoded::Invalid(k, why) => Input::Invalid(k, why, origin),
        Decoded::Metric => Input::Invalid(RejectKind::Decode, "not an event".into(), origin),
    };
    let mut applied = app.store.apply(std::slice::from_ref(&input), false).await?;
    let outcome = applied.outcomes.pop().ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the event produced no outcome",
        )
    })?;
    let label = match input {
        Input::Invalid(..) => "unknown",
        Input::Event(..) => kind.name(),
    };
    app.metrics.record(label, &outcome);
    Ok((outcome, applied.ids))
}

/// Status codes of contract section 4 for each reason an event is refused.
pub(super) fn rejection(outcome: Outcome) -> ApiError {
    match outcome {
        Outcome::Rejected(kind, why) => {
            let status = match kind {
                RejectKind::Decode | RejectKind::Json | RejectKind::Invalid => {
                    StatusCode::BAD_REQUEST
                }
                RejectKind::Conflict | RejectKind::AlreadyStopped => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                RejectKind::NoSuchJob => StatusCode::NOT_FOUND,
            };
            ApiError::new(status, why)
        }
        other => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("unexpected outcome {other:?}"),
        ),
    }
}
