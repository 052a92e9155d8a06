//! Nodes, rejected events, version, health and metrics.

use super::jobs::{apply_body, rejection};
use super::params::Params;
use super::{ApiError, AppState};
use crate::decode::Kind;
use crate::domain::rules::Outcome;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Version of the REST API's shape; raised when a response changes incompatibly.
pub const API_VERSION: i64 = 1;

pub async fn nodestate(State(app): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    match apply_body(&app, Kind::NodeState, "http:/api/nodestate/", body)
        .await?
        .0
    {
        Outcome::Recorded => Ok(Json(json!({ "msg": "success" })).into_response()),
        other => Err(rejection(other)),
    }
}

pub async fn nodes(
    State(app): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), &["cluster", "state"])?;
    let nodes = app
        .store
        .list_nodes(p.one("cluster")?, p.one("state")?)
        .await?;
    Ok(Json(json!({ "nodes": nodes, "items": nodes.len() })).into_response())
}

pub async fn rejected(
    State(app): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), &["page", "items-per-page"])?;
    let page = p.positive("page", 1)?;
    let per_page = p.positive("items-per-page", 100)?;
    let (events, total) = app.store.list_rejected(page, per_page).await?;
    let body = json!({ "events": events, "items": events.len(), "page": page, "total": total });
    Ok(Json(body).into_response())
}

pub async fn version(State(app): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({
        "version": API_VERSION,
        "build": env!("CARGO_PKG_VERSION"),
        "serverId": app.server_id,
    }))
}

/// 200 when the database answers and NATS is connected and consumed; 503 naming the
/// failing part otherwise.
pub async fn healthz(State(app): State<AppState>) -> Response {
    let database = match app.store.ping().await {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("unreachable: {e}"),
    };
    let nats = match &app.nats {
        None => "not configured".to_string(),
        Some(c) if c.connection_state() != async_nats::connection::State::Connected => {
            format!("unreachable ({})", c.connection_state())
        }
        Some(_) if !app.ingest.is_consuming() => "connected, consumer not ready".to_string(),
        Some(_) => "ok".to_string(),
    };
    let failing: Vec<String> = [("database", &database), ("nats", &nats)]
        .iter()
        .filter(|(_, v)| v.as_str() != "ok")
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    if failing.is_empty() {
        Json(json!({ "status": "ok", "database": database, "nats": nats })).into_response()
    } else {
        let body = json!({
            "status": "Service Unavailable",
            "error": failing.join("; "),
            "database": database,
            "nats": nats,
        });
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}

pub async fn metrics(State(app): State<AppState>) -> Response {
    let gauges = match app.store.gauges().await {
        Ok(g) => Some(g),
        Err(e) => {
            tracing::warn!(error = %e, "reading database gauges for /metrics failed");
            None
        }
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.encode(gauges),
    )
        .into_response()
}
