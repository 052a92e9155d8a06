//! Editing jobs: tags (`tag_job`), metadata (`edit_meta`) and per-key metadata
//! (`/api/jobs/{id}/metadata/{key}`). Reading a key needs only read access to the job;
//! changing anything needs an admin or api token.

use super::auth::Caller;
use super::jobs::{parse_id, readable_job};
use super::openapi::{ErrorBody, MetaEdit, MetaEntry, MetaValue};
use super::{ApiError, AppState};
use crate::auth::Action;
use crate::domain::job::parse_tags;
use crate::store::query::JobRecord;
use crate::wire::TagWire;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::de::DeserializeOwned;

/// Add tags to a job (created if new).
#[utoipa::path(method(post, patch), path = "/api/jobs/tag_job/{id}", tag = "edit",
    params(("id" = i64, Path, description = "Database id of the job")),
    request_body = Vec<TagWire>,
    responses(
        (status = 200, description = "The job with its tags", body = JobRecord),
        (status = 400, description = "Invalid tags", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The role may not edit jobs", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
    ))]
pub(super) async fn add_tags(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<JobRecord>, ApiError> {
    edit_tags(app, caller, id, body, true).await
}

/// Remove tags from a job; tags it does not carry are ignored.
#[utoipa::path(delete, path = "/api/jobs/tag_job/{id}", tag = "edit",
    params(("id" = i64, Path, description = "Database id of the job")),
    request_body = Vec<TagWire>,
    responses(
        (status = 200, description = "The job with its remaining tags", body = JobRecord),
        (status = 400, description = "Invalid tags", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The role may not edit jobs", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
    ))]
pub(super) async fn remove_tags(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<JobRecord>, ApiError> {
    edit_tags(app, caller, id, body, false).await
}

async fn edit_tags(
    app: AppState,
    caller: Caller,
    id: String,
    body: Bytes,
    add: bool,
) -> Result<Json<JobRecord>, ApiError> {
    let id = parse_id(&id)?;
    let wire: Vec<TagWire> = json_body(&body)?;
    Ok(Json(apply_tags(&app, &caller, id, wire, add).await?))
}

/// Add (or remove) tags of job `id` for `caller`: the API's and the job page's forms.
pub(crate) async fn apply_tags(
    app: &AppState,
    caller: &Caller,
    id: i64,
    wire: Vec<TagWire>,
    add: bool,
) -> Result<JobRecord, ApiError> {
    caller.require(Action::Edit)?;
    for t in &wire {
        no_nul(&t.tag_type, "type")?;
        no_nul(&t.name, "name")?;
        no_nul(t.scope.as_deref().unwrap_or(""), "scope")?;
    }
    let tags = parse_tags(wire).map_err(ApiError::bad_request)?;
    let found = if add {
        app.store.add_tags(id, &tags).await?
    } else {
        app.store.remove_tags(id, &tags).await?
    };
    if !found {
        return Err(ApiError::not_found(format!("no job with id {id}")));
    }
    Ok(job(app, id).await?.0)
}

/// Set one metadata key (cc-backend's edit_meta).
#[utoipa::path(patch, path = "/api/jobs/edit_meta/{id}", tag = "edit",
    params(("id" = i64, Path, description = "Database id of the job")),
    request_body = MetaEdit,
    responses(
        (status = 200, description = "The job with its metadata", body = JobRecord),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The role may not edit jobs", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
    ))]
pub(super) async fn edit_meta(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<JobRecord>, ApiError> {
    caller.require(Action::Edit)?;
    let id = parse_id(&id)?;
    let edit: MetaEdit = json_body(&body)?;
    set(&app, id, &edit.key, Some(&edit.value)).await?;
    job(&app, id).await
}

/// One metadata value of a job.
#[utoipa::path(get, path = "/api/jobs/{id}/metadata/{key}", tag = "edit",
    params(("id" = i64, Path, description = "Database id of the job"),
           ("key" = String, Path, description = "Metadata key")),
    responses(
        (status = 200, description = "The value", body = MetaEntry),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such job or key", body = ErrorBody),
    ))]
pub(super) async fn get_meta(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, key)): Path<(String, String)>,
) -> Result<Json<MetaEntry>, ApiError> {
    let job = readable_job(&app, &caller, &id).await?;
    let value = job
        .meta_data
        .as_ref()
        .and_then(|m| m.get(&key))
        .and_then(|v| v.as_str())
        .ok_or_else(|| ApiError::not_found(format!("job {} has no metadata {key:?}", job.id)))?;
    Ok(Json(MetaEntry {
        key,
        value: value.to_string(),
    }))
}

/// Set one metadata value; the body is `{"value": "..."}`.
#[utoipa::path(put, path = "/api/jobs/{id}/metadata/{key}", tag = "edit",
    params(("id" = i64, Path, description = "Database id of the job"),
           ("key" = String, Path, description = "Metadata key")),
    request_body = MetaValue,
    responses(
        (status = 200, description = "The value as stored", body = MetaEntry),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The role may not edit jobs", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "The metadata kept changing under concurrent edits", body = ErrorBody),
    ))]
pub(super) async fn put_meta(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, key)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<MetaEntry>, ApiError> {
    caller.require(Action::Edit)?;
    let id = parse_id(&id)?;
    let v: MetaValue = json_body(&body)?;
    set(&app, id, &key, Some(&v.value)).await?;
    Ok(Json(MetaEntry {
        key,
        value: v.value,
    }))
}

/// Delete one metadata key.
#[utoipa::path(delete, path = "/api/jobs/{id}/metadata/{key}", tag = "edit",
    params(("id" = i64, Path, description = "Database id of the job"),
           ("key" = String, Path, description = "Metadata key")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The role may not edit jobs", body = ErrorBody),
        (status = 404, description = "No such job or key", body = ErrorBody),
        (status = 409, description = "The metadata kept changing under concurrent edits", body = ErrorBody),
    ))]
pub(super) async fn delete_meta(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, key)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.require(Action::Edit)?;
    let id = parse_id(&id)?;
    match set(&app, id, &key, None).await? {
        Some(_) => Ok(StatusCode::NO_CONTENT),
        None => Err(ApiError::not_found(format!(
            "job {id} has no metadata {key:?}"
        ))),
    }
}

/// Set or delete a key; 404 for no such job. Returns the previous value.
async fn set(
    app: &AppState,
    id: i64,
    key: &str,
    value: Option<&str>,
) -> Result<Option<String>, ApiError> {
    if key.is_empty() {
        return Err(ApiError::bad_request("the metadata key must not be empty"));
    }
    no_nul(key, "key")?;
    no_nul(value.unwrap_or(""), "value")?;
    app.store
        .set_meta(id, key, value)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no job with id {id}")))
}

async fn job(app: &AppState, id: i64) -> Result<Json<JobRecord>, ApiError> {
    app.store
        .job_by_id(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no job with id {id}")))
}

fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))
}

/// Postgres cannot store NUL in text; both databases refuse it alike.
fn no_nul(v: &str, what: &str) -> Result<(), ApiError> {
    if v.contains('\0') {
        return Err(ApiError::bad_request(format!(
            "{what} must not contain NUL"
        )));
    }
    Ok(())
}
