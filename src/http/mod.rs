//! HTTP: the cc-backend compatible job API (contract section 4), queries, statistics,
//! live events, health and metrics. Every `/api/` route takes a [`auth::Caller`].

pub(crate) mod auth;
mod edit;
mod efficiency;
mod error;
mod events;
mod filters;
mod ingest;
mod jobs;
mod metric_data;
mod metric_query;
mod openapi;
mod params;
mod stats;
mod status;

pub(crate) use edit::apply_tags;
pub use error::ApiError;
pub(crate) use filters::allowed;
pub(crate) use jobs::{list_query, readable_job};
pub(crate) use stats::stats_query;
pub(crate) use status::health;

use crate::auth::jwt::Verifier;
use crate::domain::cluster::Clusters;
use crate::feed::Feed;
use crate::ingest::IngestHealth;
use crate::metrics::Metrics;
use crate::store::Store;
use axum::http::header;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// What every handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub clusters: Clusters,
    pub metrics: Arc<Metrics>,
    /// `None` in a process that does not talk to NATS.
    pub nats: Option<async_nats::Client>,
    pub ingest: Arc<IngestHealth>,
    pub server_id: String,
    /// The archive, for `GET /api/jobs/{id}/archive`.
    pub archive: crate::archive::backend::Backend,
    /// `None`: no `[auth]`, loopback only, every caller trusted.
    pub auth: Option<Arc<Verifier>>,
    /// Committed changes, for `GET /api/events`.
    pub feed: Arc<Feed>,
    /// The metric store: open windows of this process, stored chunks through `store`.
    pub tsdb: Arc<crate::tsdb::Tsdb>,
    /// Below which an efficiency report's figures get a note (`[efficiency]`).
    pub efficiency: crate::domain::efficiency::Thresholds,
    /// The process's shutdown token: event streams end with it, so shutdown never waits
    /// for a dashboard to hang up.
    pub shutdown: CancellationToken,
}

/// The routes and the OpenAPI document they make up.
fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(jobs::list))
        .routes(routes!(jobs::get_one))
        .routes(routes!(jobs::archive_bundle))
        .routes(routes!(ingest::start))
        .routes(routes!(ingest::stop))
        .routes(routes!(edit::add_tags, edit::remove_tags))
        .routes(routes!(edit::edit_meta))
        .routes(routes!(edit::get_meta, edit::put_meta, edit::delete_meta))
        .routes(routes!(metric_data::job_metrics))
        .routes(routes!(efficiency::efficiency))
        .routes(routes!(metric_data::node_metrics))
        .routes(routes!(metric_data::write))
        .routes(routes!(metric_query::query))
        .routes(routes!(stats::stats))
        .routes(routes!(events::events))
        .routes(routes!(status::nodestate))
        .routes(routes!(status::nodes))
        .routes(routes!(status::rejected))
        .routes(routes!(status::version))
        .routes(routes!(status::healthz))
        .routes(routes!(status::metrics))
        .split_for_parts()
}

/// The OpenAPI document of every route, as served at `/api/openapi.json`.
pub fn openapi_document() -> serde_json::Value {
    openapi::finish(api().1)
}

/// The API, and `pages` (the web interface) beside it on the same port.
pub(crate) fn router(state: AppState, pages: Router<AppState>) -> Router {
    let (routes, doc) = api();
    let json = Arc::new(openapi::finish(doc).to_string());
    routes
        .merge(pages)
        .route(
            "/api/openapi.json",
            get(move || {
                let json = json.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        (*json).clone(),
                    )
                }
            }),
        )
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(axum::middleware::from_fn(in_span))
        .with_state(state)
}

/// Every request runs in a span naming its method and path, so what it logs (a database
/// error, a refused event) can be told apart from the lines of other requests.
async fn in_span(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use tracing::Instrument;
    let span = tracing::info_span!("http", method = %req.method(), path = %req.uri().path());
    next.run(req).instrument(span).await
}
