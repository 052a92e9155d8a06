//! Nodes, rejected events, version, health and metrics.

use super::auth::Caller;
use super::ingest::{apply_body, rejection};
use super::openapi::ErrorBody;
use super::params::Params;
use super::{ApiError, AppState};
use crate::auth::Action;
use crate::decode::Kind;
use crate::domain::rules::Outcome;
use crate::store::status::{NodeRecord, RejectedRecord};
use crate::wire::NodeStatesWire;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub(super) struct Msg {
    pub msg: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct NodeList {
    pub nodes: Vec<NodeRecord>,
    pub items: usize,
}

#[derive(Serialize, ToSchema)]
pub(super) struct RejectedList {
    pub events: Vec<RejectedRecord>,
    pub items: usize,
    pub page: i64,
    pub total: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct Version {
    pub version: i64,
    pub build: String,
    pub server_id: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Health {
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub database: String,
    pub nats: String,
    pub metric_store: MetricStoreHealth,
}

/// The metric store's part of `/healthz`: detail, not a reason to answer 503 (a node that
/// is down makes its metrics stale, and the service is still healthy).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MetricStoreHealth {
    pub consuming: bool,
    /// Every message the metric stream held has been read: the archiver waits for this.
    pub caught_up: bool,
    /// Metrics with no sample for 5 timesteps.
    pub stale: Vec<StaleMetric>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StaleMetric {
    pub cluster: String,
    pub metric: String,
    pub seconds_since_last_sample: i64,
}

/// Version of the REST API's shape; raised when a response changes incompatibly.
pub(super) const API_VERSION: i64 = 1;

/// Node states of one cluster (cc-backend's nodestate).
#[utoipa::path(method(post, put), path = "/api/nodestate/", tag = "ingest",
    request_body = NodeStatesWire,
    responses(
        (status = 200, description = "Recorded", body = Msg),
        (status = 400, description = "Invalid payload", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The role may not submit events", body = ErrorBody),
    ))]
pub(super) async fn nodestate(
    State(app): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Msg>, ApiError> {
    caller.require(Action::Ingest)?;
    match apply_body(&app, Kind::NodeState, "http:/api/nodestate/", body)
        .await?
        .0
    {
        Outcome::Recorded => Ok(Json(Msg {
            msg: "success".into(),
        })),
        other => Err(rejection(other)),
    }
}

/// Current state and Slurm flags per node.
#[utoipa::path(get, path = "/api/nodes/", tag = "status",
    params(("cluster" = Option<String>, Query), ("state" = Option<String>, Query, description = "cc-backend's summary state")),
    responses(
        (status = 200, description = "Nodes", body = NodeList),
        (status = 400, description = "A bad or unknown parameter", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
    ))]
pub(super) async fn nodes(
    State(app): State<AppState>,
    _caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Json<NodeList>, ApiError> {
    let p = Params::parse(q.as_deref(), &["cluster", "state"])?;
    let nodes = app
        .store
        .list_nodes(p.text("cluster")?, p.text("state")?)
        .await?;
    Ok(Json(NodeList {
        items: nodes.len(),
        nodes,
    }))
}

/// Events that could not be applied, newest first, with reason and raw bytes.
#[utoipa::path(get, path = "/api/rejected/", tag = "status",
    params(super::openapi::PlainPageParams),
    responses(
        (status = 200, description = "Rejected events", body = RejectedList),
        (status = 400, description = "A bad or unknown parameter", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The role may not read rejected events", body = ErrorBody),
    ))]
pub(super) async fn rejected(
    State(app): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Json<RejectedList>, ApiError> {
    caller.require(Action::ReadRejected)?;
    let p = Params::parse(q.as_deref(), &["page", "items-per-page"])?;
    let page = p.positive("page", 1)?;
    let per_page = p
        .positive("items-per-page", 100)?
        .min(super::jobs::MAX_PER_PAGE);
    let (events, total) = app.store.list_rejected(page, per_page).await?;
    Ok(Json(RejectedList {
        items: events.len(),
        events,
        page,
        total,
    }))
}

#[utoipa::path(get, path = "/api/version", tag = "status",
    responses(
        (status = 200, description = "API version, build and server", body = Version),
        (status = 401, description = "No valid token", body = ErrorBody),
    ))]
pub(super) async fn version(State(app): State<AppState>, _caller: Caller) -> Json<Version> {
    Json(Version {
        version: API_VERSION,
        build: env!("CARGO_PKG_VERSION").into(),
        server_id: app.server_id.clone(),
    })
}

/// 200 when the database answers and NATS is connected and consumed; 503 naming the
/// failing part otherwise. No token needed: load balancers and monitors ask.
const HEALTH_DEADLINE: std::time::Duration = std::time::Duration::from_millis(500);

#[utoipa::path(get, path = "/healthz", tag = "status", security(()),
    responses(
        (status = 200, description = "Healthy", body = Health),
        (status = 503, description = "The database or NATS fails", body = Health),
    ))]
pub(super) async fn healthz(State(app): State<AppState>) -> Response {
    let (status, body) = health(&app).await;
    (status, Json(body)).into_response()
}

/// What `/healthz` answers (and the web interface's health page shows).
pub(crate) async fn health(app: &AppState) -> (StatusCode, Health) {
    // A health check must answer while the database is down, not wait for the pool's
    // acquire timeout: a load balancer or systemd gives up long before.
    let database = match tokio::time::timeout(HEALTH_DEADLINE, app.store.ping()).await {
        Ok(Ok(())) => "ok".to_string(),
        Ok(Err(e)) => format!("unreachable: {e}"),
        Err(_) => format!("no answer within {} ms", HEALTH_DEADLINE.as_millis()),
    };
    let nats = match &app.nats {
        None => "not configured".to_string(),
        Some(c) if c.connection_state() != async_nats::connection::State::Connected => {
            format!("unreachable ({})", c.connection_state())
        }
        Some(_) if !app.ingest.is_consuming() => "connected, consumer not ready".to_string(),
        Some(_) => "ok".to_string(),
    };
    let metric_store = MetricStoreHealth {
        consuming: app.tsdb.is_consuming(),
        caught_up: app.tsdb.is_caught_up(),
        stale: app
            .tsdb
            .stale(chrono::Utc::now().timestamp())
            .into_iter()
            .map(|(cluster, metric, age)| StaleMetric {
                cluster,
                metric,
                seconds_since_last_sample: age,
            })
            .collect(),
    };
    let failing: Vec<String> = [("database", &database), ("nats", &nats)]
        .iter()
        .filter(|(_, v)| v.as_str() != "ok")
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    if failing.is_empty() {
        let body = Health {
            status: "ok".into(),
            error: None,
            database,
            nats,
            metric_store,
        };
        (StatusCode::OK, body)
    } else {
        let body = Health {
            status: "Service Unavailable".into(),
            error: Some(failing.join("; ")),
            database,
            nats,
            metric_store,
        };
        (StatusCode::SERVICE_UNAVAILABLE, body)
    }
}

/// Prometheus text. No token needed: scrapers ask.
#[utoipa::path(get, path = "/metrics", tag = "status", security(()),
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
pub(super) async fn metrics(State(app): State<AppState>) -> Response {
    let gauges = match app.store.gauges().await {
        Ok(g) => Some(g),
        Err(e) => {
            tracing::warn!(
                error = format!("{e:#}"),
                "reading database gauges for /metrics failed"
            );
            None
        }
    };
    app.tsdb.update_gauges(chrono::Utc::now().timestamp());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.encode(gauges),
    )
        .into_response()
}
