//! The caller of a request. Every `/api/` handler takes a [`Caller`]; without `[auth]`
//! it is the trusted local admin, with it the verified token's principal or a 401.

use super::{ApiError, AppState};
use crate::auth::jwt::TokenError;
use crate::auth::{Action, Principal};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};

pub(super) struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Caller, ApiError> {
        let Some(verifier) = &app.auth else {
            return Ok(Caller(Principal::local()));
        };
        let verified = token(parts)
            .ok_or(TokenError::Missing)
            .and_then(|t| verifier.verify(t));
        match verified {
            Ok(p) => Ok(Caller(p)),
            Err(e) => {
                // Never the token itself: logs are read by more people than tokens are.
                tracing::warn!(
                    method = %parts.method,
                    path = %parts.uri.path(),
                    reason = %e,
                    "authentication failed"
                );
                Err(ApiError::new(StatusCode::UNAUTHORIZED, e.to_string()))
            }
        }
    }
}

/// `X-Auth-Token: <jwt>` (cc-backend's header) or `Authorization: Bearer <jwt>`.
fn token(parts: &Parts) -> Option<&str> {
    if let Some(t) = parts.headers.get("x-auth-token") {
        return t.to_str().ok().map(str::trim);
    }
    let auth = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = auth.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl Caller {
    /// 403 unless the caller's role allows `action`.
    pub(super) fn require(&self, action: Action) -> Result<(), ApiError> {
        if self.0.may(action) {
            return Ok(());
        }
        let what = match action {
            Action::Ingest => "submit events",
            Action::Edit => "edit jobs",
            Action::ReadRejected => "read rejected events",
            Action::ReadNodeMetrics => "read node metrics",
        };
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("the role {} may not {what}", self.0.role.as_str()),
        ))
    }

    /// A job the caller may not read is answered exactly like a job that does not exist.
    pub(super) fn may_read(&self, user: &str, project: &str) -> bool {
        self.0.may_read(user, project)
    }
}
