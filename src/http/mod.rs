//! HTTP: cc-backend compatible job API (contract section 4), health and metrics.

mod error;
mod jobs;
mod params;
mod status;

pub use error::ApiError;

use crate::domain::cluster::Clusters;
use crate::ingest::IngestHealth;
use crate::metrics::Metrics;
use crate::store::Store;
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

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
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/jobs/", get(jobs::list))
        .route("/api/jobs/{id}", get(jobs::get_one))
        .route("/api/jobs/{id}/archive", get(jobs::archive_bundle))
        .route("/api/jobs/start_job/", post(jobs::start).put(jobs::start))
        .route(
            "/api/jobs/stop_job/",
            post(jobs::stop).put(jobs::stop).patch(jobs::stop),
        )
        .route(
            "/api/nodestate/",
            post(status::nodestate).put(status::nodestate),
        )
        .route("/api/nodes/", get(status::nodes))
        .route("/api/rejected/", get(status::rejected))
        .route("/api/version", get(status::version))
        .route("/healthz", get(status::healthz))
        .route("/metrics", get(status::metrics))
        .fallback(|| async { ApiError::not_found("no such route") })
        .with_state(state)
}
