//! Events over REST. start_job, stop_job and nodestate go through the same decoder and the
//! same rules as NATS events; they differ only in answering the caller instead of holding
//! early stops.

use super::auth::Caller;
use super::openapi::{Created, ErrorBody};
use super::{ApiError, AppState};
use crate::auth::Action;
use crate::decode::{decode_event, Decoded, Kind};
use crate::domain::rules::{InstanceKey, Origin, Outcome};
use crate::domain::RejectKind;
use crate::store::query::JobRecord;
use crate::store::Input;
use crate::wire::{StartJobWire, StopJobWire};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use std::collections::HashMap;

/// Start a job (cc-backend's start_job).
#[utoipa::path(method(post, put), path = "/api/jobs/start_job/", tag = "ingest",
    request_body = StartJobWire,
    responses(
        (status = 201, description = "Created", body = Created),
        (status = 400, description = "Invalid payload", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The role may not submit events", body = ErrorBody),
        (status = 422, description = "Conflicting or repeated start", body = ErrorBody),
    ))]
pub(super) async fn start(
    State(app): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    caller.require(Action::Ingest)?;
    let (outcome, ids) =
        apply_body(&app, Kind::StartJob, "http:/api/jobs/start_job/", body).await?;
    match outcome {
        Outcome::Created(key) => Ok((
            StatusCode::CREATED,
            Json(Created {
                msg: "success".into(),
                id: ids.get(&key).copied(),
            }),
        )),
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

/// Stop a job (cc-backend's stop_job); answers with the stopped job.
#[utoipa::path(method(post, put, patch), path = "/api/jobs/stop_job/", tag = "ingest",
    request_body = StopJobWire,
    responses(
        (status = 200, description = "The stopped job", body = JobRecord),
        (status = 400, description = "Invalid payload", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The role may not submit events", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 422, description = "Already stopped with other values", body = ErrorBody),
    ))]
pub(super) async fn stop(
    State(app): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<JobRecord>, ApiError> {
    caller.require(Action::Ingest)?;
    let (outcome, _) = apply_body(&app, Kind::StopJob, "http:/api/jobs/stop_job/", body).await?;
    match outcome {
        // A repeated identical stop is answered like the first: the job as it is.
        Outcome::Stopped(key) | Outcome::Duplicate(key) => {
            let id = app.store.job_id_by_key(&key).await?;
            let job = match id {
                Some(id) => app.store.job_by_id(id).await?,
                None => None,
            };
            job.map(Json)
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
) -> Result<(Outcome, HashMap<InstanceKey, i64>), ApiError> {
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
    let mut applied = app
        .store
        .apply_or_reject(std::slice::from_ref(&input), false)
        .await?;
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
    app.feed.publish(applied.changes);
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
