//! The web interface, served beside the API on the same port: server-rendered pages
//! (askama templates in `web/templates`, every value escaped) and a little script of our
//! own (`web/static/app.js`) that draws metric plots with uPlot and keeps the job list
//! live from `/api/events`. Pages read through the same queries and role rules as the API
//! (`crate::http`), so a page can never show more than the API would.
//!
//! request ─► [`session::Viewer`] (cookie or token; else the sign-in page)
//!         ─► page handler (jobs, job, usage, nodes) ─► template ─► [`page::Page`]
//!            with the security headers of [`security_headers`].

mod assets;
mod footprint;
mod job;
mod jobs;
mod nodes;
mod page;
mod session;
mod usage;

use crate::http::AppState;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

/// Every page and its form targets.
pub(crate) fn pages() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/jobs") }))
        .route("/login", get(session::form).post(session::login))
        .route("/logout", post(session::logout))
        .route("/jobs", get(jobs::list))
        .route("/jobs.csv", get(jobs::csv))
        .route("/jobs/{id}", get(job::view))
        .route("/jobs/{id}/tags", post(job::tags))
        .route("/users", get(usage::users))
        .route("/users/{name}", get(usage::user))
        .route("/projects", get(usage::projects))
        .route("/projects/{name}", get(usage::project))
        .route("/status", get(nodes::clusters))
        .route("/status/{cluster}", get(nodes::status))
        .route("/status/{cluster}/{host}", get(nodes::node))
        .route("/rejected", get(nodes::rejected))
        .route("/health", get(nodes::health_page))
        .route("/static/{file}", get(assets::serve))
        .layer(axum::middleware::from_fn(security_headers))
}

/// No script, style or connection to anything but this origin, and none inline: a value
/// that slipped through escaping still could not run. No framing (clickjacking).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
    form-action 'self'; base-uri 'none'; object-src 'none'";

async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}
