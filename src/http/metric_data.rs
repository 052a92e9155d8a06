//! Node metrics over HTTP: a job's series, a node's series (both in the archive's
//! `data.json` shape) and cc-backend's `/api/write/` for line protocol.

use super::auth::Caller;
use super::jobs::readable_job;
use super::openapi::ErrorBody;
use super::params::Params;
use super::{ApiError, AppState};
use crate::auth::Action;
use crate::domain::metric::{MetricConfig, Scope};
use crate::tsdb::scope::Owned;
use crate::tsdb::shape::{Scopes, Selection};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// The series of a job's metrics on its own nodes (and hwthreads and accelerators) from
/// its start to its stop, or to now while it runs.
#[utoipa::path(get, path = "/api/jobs/{id}/metrics", tag = "metrics",
    params(
        ("id" = i64, Path, description = "Database id of the job"),
        ("metric" = Option<Vec<String>>, Query, description = "Metric (repeatable); default: every configured metric"),
        ("scope" = Option<Vec<String>>, Query, description = "Scope (repeatable): node, socket, memoryDomain, die, llc, core, hwthread, accelerator; default: the metric's own and node"),
        ("resolution" = Option<i64>, Query, description = "Seconds between points; coarser than the timestep is downsampled (LTTB)"),
    ),
    responses(
        (status = 200, description = "{metric: {scope: {unit, timestep, series}}}", body = Object),
        (status = 400, description = "A bad parameter or id", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such job (or not the caller's)", body = ErrorBody),
    ))]
pub(super) async fn job_metrics(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), &["metric", "scope", "resolution"])?;
    let job = readable_job(&app, &caller, &id).await?;
    let metrics = chosen_metrics(&app, &job.cluster, &job.sub_cluster, &p)?;
    let now = chrono::Utc::now().timestamp();
    let mut sel = Selection::of_job(&job, metrics, chosen_scopes(&p)?, now);
    sel.resolution = resolution(&p)?;
    read(&app, sel).await
}

/// The series of one node over a time window (default: the last hour).
#[utoipa::path(get, path = "/api/nodes/{cluster}/{host}/metrics", tag = "metrics",
    params(
        ("cluster" = String, Path, description = "Cluster"),
        ("host" = String, Path, description = "Node"),
        ("metric" = Option<Vec<String>>, Query, description = "Metric (repeatable); default: every configured metric"),
        ("scope" = Option<Vec<String>>, Query, description = "Scope (repeatable); default: the metric's own and node"),
        ("from" = Option<i64>, Query, description = "Unix seconds; default: an hour before `to`"),
        ("to" = Option<i64>, Query, description = "Unix seconds; default: now"),
        ("resolution" = Option<i64>, Query, description = "Seconds between points (LTTB)"),
    ),
    responses(
        (status = 200, description = "{metric: {scope: {unit, timestep, series}}}", body = Object),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The role may not read node metrics", body = ErrorBody),
    ))]
pub(super) async fn node_metrics(
    State(app): State<AppState>,
    caller: Caller,
    Path((cluster, host)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    caller.require(Action::ReadNodeMetrics)?;
    let p = Params::parse(
        q.as_deref(),
        &["metric", "scope", "from", "to", "resolution"],
    )?;
    let to = p
        .parsed::<i64>("to")?
        .unwrap_or_else(|| chrono::Utc::now().timestamp());
    let from = p.parsed::<i64>("from")?.unwrap_or(to.saturating_sub(3600));
    if from > to {
        return Err(ApiError::bad_request("`from` must not be after `to`"));
    }
    let sub = app
        .clusters
        .subcluster_of(&cluster, &host)
        .map(|s| s.name.clone())
        .unwrap_or_default();
    let sel = Selection {
        metrics: chosen_metrics(&app, &cluster, &sub, &p)?,
        cluster,
        hosts: vec![(host, Owned::default())],
        scopes: chosen_scopes(&p)?,
        from,
        to,
        resolution: resolution(&p)?,
    };
    read(&app, sel).await
}

async fn read(app: &AppState, sel: Selection) -> Result<Response, ApiError> {
    let span = sel.to.saturating_sub(sel.from)
        / sel.metrics.iter().map(|m| m.timestep).min().unwrap_or(60);
    if span > crate::tsdb::read::MAX_SLOTS {
        return Err(ApiError::bad_request(format!(
            "the time window holds {span} samples per series; at most {} are served",
            crate::tsdb::read::MAX_SLOTS
        )));
    }
    let pieces = app
        .tsdb
        .metric_data_json(&app.store, sel)
        .await
        .map_err(|e| {
            tracing::warn!(error = format!("{e:#}"), "reading metrics failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the metric store cannot be read now; try again",
            )
        })?;
    // Sent as it is written: a day-long job's answer is megabytes.
    // A database error halfway through cuts the answer short: the client sees the
    // transfer fail rather than a whole-looking answer with metrics missing.
    let body = futures::stream::unfold(pieces, |mut rx| async move {
        let piece = rx.recv().await?.map(Bytes::from).map_err(|e| {
            tracing::warn!(
                error = e,
                "reading metrics failed halfway through an answer"
            );
            std::io::Error::other("the metric store could not be read to the end")
        });
        Some((piece, rx))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

/// The metrics asked for (`metric=`), else every metric of the cluster that the
/// subcluster does not remove.
fn chosen_metrics(
    app: &AppState,
    cluster: &str,
    sub_cluster: &str,
    p: &Params,
) -> Result<Vec<MetricConfig>, ApiError> {
    let set = app.clusters.metrics(cluster);
    let asked: Vec<&str> = p.all("metric").collect();
    if asked.is_empty() {
        return Ok(app.clusters.metrics_of(cluster, sub_cluster));
    }
    asked
        .into_iter()
        .map(|name| {
            set.get(name).cloned().ok_or_else(|| {
                let known: Vec<&str> = set.all().iter().map(|m| m.name.as_str()).collect();
                ApiError::bad_request(format!(
                    "unknown metric {name:?} for cluster {cluster:?} (known: {})",
                    known.join(", ")
                ))
            })
        })
        .collect()
}

fn chosen_scopes(p: &Params) -> Result<Scopes, ApiError> {
    let asked: Vec<&str> = p.all("scope").collect();
    if asked.is_empty() {
        return Ok(Scopes::Native);
    }
    asked
        .into_iter()
        .map(|s| {
            Scope::parse(s).ok_or_else(|| {
                let known: Vec<&str> = Scope::ALL.iter().map(|s| s.name()).collect();
                ApiError::bad_request(format!("unknown scope {s:?} (known: {})", known.join(", ")))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Scopes::Asked)
}

fn resolution(p: &Params) -> Result<Option<i64>, ApiError> {
    match p.parsed::<i64>("resolution")? {
        Some(r) if r <= 0 => Err(ApiError::bad_request(
            "`resolution` must be a positive number of seconds",
        )),
        r => Ok(r),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Written {
    /// Samples in the body that will be stored.
    pub samples: usize,
    /// Lines not stored, by reason (unknown_metric, bad_line, …).
    pub skipped: std::collections::BTreeMap<String, usize>,
}

/// Line protocol from a collector (cc-backend's `/api/write/`). The body is put on the
/// metric stream before the answer, so a 200 means it survives any crash; it is decoded
/// there like the collectors' NATS messages.
#[utoipa::path(post, path = "/api/write/", tag = "metrics",
    params(("cluster" = Option<String>, Query, description = "Cluster of lines without a cluster tag")),
    request_body(content = String, content_type = "text/plain"),
    responses(
        (status = 200, description = "Stored on the metric stream", body = Written),
        (status = 400, description = "No line of the body is a sample", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The role may not write metrics", body = ErrorBody),
        (status = 503, description = "NATS cannot take it now; try again", body = ErrorBody),
    ))]
pub(super) async fn write(
    State(app): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Json<Written>, ApiError> {
    caller.require(Action::Ingest)?;
    let p = Params::parse(q.as_deref(), &["cluster"])?;
    let cluster: Option<String> = p.parsed("cluster")?.filter(|c: &String| !c.is_empty());
    let preview = app.tsdb.preview(&body, cluster.as_deref());
    if preview.samples == 0 && !preview.skipped.is_empty() {
        return Err(ApiError::bad_request(format!(
            "no line is a sample of a known metric: {:?}",
            preview.skipped
        )));
    }
    let Some(nats) = &app.nats else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no NATS connection",
        ));
    };
    crate::tsdb::consume::publish_write(nats, app.tsdb.config(), cluster.as_deref(), body)
        .await
        .map_err(|e| {
            tracing::warn!(error = format!("{e:#}"), "publishing a metric write failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "NATS did not take the samples; try again",
            )
        })?;
    Ok(Json(Written {
        samples: preview.samples,
        skipped: preview.skipped,
    }))
}
