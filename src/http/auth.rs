//! The caller of a request. Every `/api/` handler takes a [`Caller`]; without `[auth]`
//! it is the trusted local admin, with it the verified token's principal or a 401.
//!
//! A token comes in a header, or for reads in the web interface's session cookie: the
//! pages' scripts fetch metrics and open the event stream with it. Writes never take the
//! cookie, so a page of another site cannot make a browser change anything through the
//! API (the web forms have their own cross-site check).

use super::{ApiError, AppState};
use crate::auth::jwt::TokenError;
use crate::auth::{Action, Principal};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};

pub(crate) struct Caller(pub Principal);

/// The web interface's session cookie: the token itself, HttpOnly and SameSite=Strict.
pub(crate) const SESSION_COOKIE: &str = "jobledger_session";

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Caller, ApiError> {
        let Some(verifier) = &app.auth else {
            return Ok(Caller(Principal::local()));
        };
        let reads = parts.method == Method::GET || parts.method == Method::HEAD;
        let verified = token(parts)
            .or_else(|| reads.then(|| session_cookie(parts)).flatten())
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
pub(crate) fn token(parts: &Parts) -> Option<&str> {
    if let Some(t) = parts.headers.get("x-auth-token") {
        return t.to_str().ok().map(str::trim);
    }
    let auth = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = auth.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The session cookie's token, if the request carries one.
pub(crate) fn session_cookie(parts: &Parts) -> Option<&str> {
    cookie_value(parts, SESSION_COOKIE)
}

/// A cookie's value by name, from every `Cookie` header of the request.
pub(crate) fn cookie_value<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .and_then(|c| c.name_raw().zip(c.value_raw()).map(|(_, v)| v))
}

impl Caller {
    /// 403 unless the caller's role allows `action`.
    pub(crate) fn require(&self, action: Action) -> Result<(), ApiError> {
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
    pub(crate) fn may_read(&self, user: &str, project: &str) -> bool {
        self.0.may_read(user, project)
    }
}
