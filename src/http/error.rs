//! One error type for every handler: `{"status": "<HTTP status text>", "error": "<message>"}`.
//! Server-side failures are logged in full and shown to clients without internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(
            error = format!("{e:#}"),
            "database error while serving a request"
        );
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database is unavailable",
        )
    }
}

impl From<crate::store::ApplyError> for ApiError {
    fn from(e: crate::store::ApplyError) -> Self {
        tracing::error!(
            error = format!("{e:#}"),
            "applying an event from HTTP failed"
        );
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database is unavailable",
        )
    }
}

impl From<crate::store::EditError> for ApiError {
    fn from(e: crate::store::EditError) -> Self {
        use crate::store::EditError;
        match e {
            EditError::Db(e) => e.into(),
            EditError::Unreadable { .. } => {
                tracing::error!(
                    error = format!("{e:#}"),
                    "a metadata edit found unreadable stored metadata"
                );
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
            EditError::Busy(_) => ApiError::new(StatusCode::CONFLICT, e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "status": self.status.canonical_reason().unwrap_or(""),
            "error": self.message,
        });
        (self.status, Json(body)).into_response()
    }
}
