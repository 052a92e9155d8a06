//! Who is looking, and the sign-in that makes a session. With `[auth]` the session is the
//! token itself in an HttpOnly, SameSite=Strict cookie (a token already says who and what
//! role, and expires by itself; the server keeps nothing). Without `[auth]` every caller
//! is the trusted local admin, as for the API (the server then listens on loopback only).
//!
//! Forms that change something carry a token that must equal a cookie only this origin
//! can read or set (double submit), and are refused when the browser says the request
//! came from another site (`Sec-Fetch-Site`, `Origin`).

use super::page::{self, Nav};
use crate::auth::{Action, Principal};
use crate::http::auth::{cookie_value, session_cookie, token, Caller, SESSION_COOKIE};
use crate::http::AppState;
use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use cookie::{Cookie, SameSite};
use serde::Deserialize;

const CSRF_COOKIE: &str = "jobledger_csrf";
const FORGED: &str = "This form did not come from this site. Reload the page and try again.";

/// The caller of a page, and its cross-site token.
pub(super) struct Viewer {
    pub(super) caller: Caller,
    pub(super) csrf: String,
    /// The token is new: the answer must set its cookie.
    pub(super) fresh_csrf: bool,
    /// `[auth]` is on (the page offers to sign out).
    pub(super) signed_in: bool,
    /// The browser said this request came from another site.
    cross_site: bool,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Viewer, Response> {
        let (csrf, fresh_csrf) = match cookie_value(parts, CSRF_COOKIE) {
            Some(v) if v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
                (v.to_string(), false)
            }
            _ => (random_hex(), true),
        };
        let cross_site = cross_site(&parts.headers);
        let Some(verifier) = &app.auth else {
            return Ok(Viewer {
                caller: Caller(Principal::local()),
                csrf,
                fresh_csrf,
                signed_in: false,
                cross_site,
            });
        };
        let presented = token(parts).or_else(|| session_cookie(parts));
        match presented.map(|t| verifier.verify(t)) {
            Some(Ok(p)) => Ok(Viewer {
                caller: Caller(p),
                csrf,
                fresh_csrf,
                signed_in: true,
                cross_site,
            }),
            failed => {
                if let Some(Err(e)) = failed {
                    // Never the token: logs are read by more people than tokens are.
                    tracing::info!(path = %parts.uri.path(), reason = %e, "web session refused");
                }
                if parts.method == Method::GET || parts.method == Method::HEAD {
                    let next = parts.uri.path_and_query().map_or("/jobs", |p| p.as_str());
                    let to = format!(
                        "/login?{}",
                        serde_urlencoded::to_string([("next", next)]).unwrap_or_default()
                    );
                    Err(Redirect::to(&to).into_response())
                } else {
                    Err((StatusCode::UNAUTHORIZED, "sign in first").into_response())
                }
            }
        }
    }
}

impl Viewer {
    pub(super) fn principal(&self) -> &Principal {
        &self.caller.0
    }

    pub(super) fn may(&self, action: Action) -> bool {
        self.caller.0.may(action)
    }

    pub(super) fn nav(&self, section: &'static str) -> Nav {
        Nav {
            who: self.caller.0.sub.clone(),
            role: self.caller.0.role.as_str(),
            admin: self.may(Action::ReadRejected),
            signed_in: self.signed_in,
            csrf: self.csrf.clone(),
            section,
        }
    }

    /// The refusal of a form post that came from another site or lacks this browser's
    /// token; `None` for a post of this site's own form.
    pub(super) fn refuses(&self, field: &str) -> Option<Response> {
        if self.cross_site || self.fresh_csrf || field != self.csrf {
            tracing::warn!("a form post without this site's token was refused");
            return Some(page::refused(FORGED));
        }
        None
    }

    /// The `Set-Cookie` of a new cross-site token, if this answer must carry one.
    pub(super) fn csrf_cookie(&self) -> Option<String> {
        self.fresh_csrf.then(|| {
            Cookie::build((CSRF_COOKIE, self.csrf.clone()))
                .http_only(true)
                .same_site(SameSite::Strict)
                .path("/")
                .build()
                .to_string()
        })
    }
}

/// What the browser says of where a request came from. Browsers send `Sec-Fetch-Site` on
/// every request (and `Origin` on posts); tools like curl send neither, and are held to
/// the token alone.
fn cross_site(h: &HeaderMap) -> bool {
    if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site != "same-origin" && site != "none" {
            return true;
        }
    }
    match (h.get(header::ORIGIN), h.get(header::HOST)) {
        (Some(origin), Some(host)) => {
            let origin = origin.to_str().unwrap_or("null");
            let bare = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            bare != host.to_str().unwrap_or("")
        }
        (Some(_), None) => true,
        _ => false,
    }
}

fn random_hex() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .expect("the system's random source works");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    next: String,
    error: String,
}

#[derive(Deserialize)]
pub(super) struct Next {
    #[serde(default)]
    next: String,
}

/// Only a path of this site: a sign-in link must not send anyone elsewhere.
fn local_path(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_string()
    } else {
        "/jobs".to_string()
    }
}

fn login_page(parts_csrf: (String, bool), next: &str, error: &str, status: StatusCode) -> Response {
    let (csrf, fresh) = parts_csrf;
    let viewer = Viewer {
        caller: Caller(Principal::local()),
        csrf,
        fresh_csrf: fresh,
        signed_in: false,
        cross_site: false,
    };
    let mut nav = viewer.nav("login");
    nav.who.clear();
    let t = LoginPage {
        nav,
        next: local_path(next),
        error: error.to_string(),
    };
    let mut res = page::render(&viewer, &t);
    *res.status_mut() = status;
    res
}

pub(super) async fn form(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: axum::extract::Query<Next>,
) -> Response {
    if app.auth.is_none() {
        return Redirect::to(&local_path(&q.next)).into_response();
    }
    login_page(csrf_of(&headers), &q.next, "", StatusCode::OK)
}

fn csrf_of(h: &HeaderMap) -> (String, bool) {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == CSRF_COOKIE && c.value().len() == 32)
        .map_or_else(|| (random_hex(), true), |c| (c.value().to_string(), false))
}

#[derive(Deserialize)]
pub(super) struct Login {
    token: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    csrf: String,
}

/// Checks the token and keeps it in the session cookie.
pub(super) async fn login(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<Login>,
) -> Response {
    let Some(verifier) = &app.auth else {
        return Redirect::to(&local_path(&f.next)).into_response();
    };
    let (csrf, fresh) = csrf_of(&headers);
    if cross_site(&headers) || fresh || f.csrf != csrf {
        return page::refused(FORGED);
    }
    let token = f.token.trim();
    match verifier.verify(token) {
        Ok(p) => {
            tracing::info!(user = %p.sub, role = p.role.as_str(), "signed in to the web interface");
            let secure = headers
                .get("x-forwarded-proto")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
            let cookie = Cookie::build((SESSION_COOKIE, token.to_string()))
                .http_only(true)
                .same_site(SameSite::Strict)
                .secure(secure)
                .path("/")
                .build()
                .to_string();
            (
                [(header::SET_COOKIE, cookie)],
                Redirect::to(&local_path(&f.next)),
            )
                .into_response()
        }
        Err(e) => {
            tracing::info!(reason = %e, "web sign-in refused");
            login_page(
                (csrf, false),
                &f.next,
                &format!("This token was not accepted: {e}."),
                StatusCode::UNAUTHORIZED,
            )
        }
    }
}

#[derive(Deserialize)]
pub(super) struct Logout {
    #[serde(default)]
    csrf: String,
}

pub(super) async fn logout(viewer: Viewer, Form(f): Form<Logout>) -> Response {
    if let Some(refused) = viewer.refuses(&f.csrf) {
        return refused;
    }
    let gone = Cookie::build((SESSION_COOKIE, ""))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string();
    ([(header::SET_COOKIE, gone)], Redirect::to("/login")).into_response()
}
