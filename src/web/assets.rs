//! The static files, embedded in the binary: ours from `web/static`, uPlot from the npm
//! install build.rs made (`web/package-lock.json`).

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

macro_rules! npm {
    ($path:literal) => {
        include_bytes!(concat!(env!("JOBLEDGER_NPM_DIR"), "/", $path))
    };
}

/// Name → (content type, bytes).
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "app.js",
        "text/javascript",
        include_bytes!("../../web/static/app.js"),
    ),
    (
        "style.css",
        "text/css",
        include_bytes!("../../web/static/style.css"),
    ),
    (
        "uPlot.js",
        "text/javascript",
        npm!("uplot/dist/uPlot.iife.min.js"),
    ),
    ("uPlot.css", "text/css", npm!("uplot/dist/uPlot.min.css")),
];

pub(super) async fn serve(Path(file): Path<String>) -> Response {
    match FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, kind, bytes)) => (
            [
                (header::CONTENT_TYPE, *kind),
                // The build's files never change while it runs; an hour spares refetching
                // on every page without keeping a new version away for long.
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
