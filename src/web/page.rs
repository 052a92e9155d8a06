//! What every page shares: the navigation bar, rendering with the session's cookie, the
//! error page, times and durations written for people, and the query string of a form
//! turned into the API's.

use super::session::Viewer;
use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

/// The navigation bar's facts, on every page.
pub(super) struct Nav {
    pub(super) who: String,
    pub(super) role: &'static str,
    pub(super) admin: bool,
    pub(super) signed_in: bool,
    pub(super) csrf: String,
    /// Which entry is the current one.
    pub(super) section: &'static str,
}

/// The page as HTML, with the cross-site cookie when it is new.
pub(super) fn render(viewer: &Viewer, t: &impl Template) -> Response {
    let mut res = match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page could not be rendered");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    };
    if let Some(c) = viewer
        .csrf_cookie()
        .and_then(|c| HeaderValue::from_str(&c).ok())
    {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: Nav,
    title: String,
    message: String,
}

/// A page that says what went wrong, with the API's status.
pub(super) fn error(viewer: &Viewer, e: &crate::http::ApiError) -> Response {
    let t = ErrorPage {
        nav: viewer.nav(""),
        title: e.status.canonical_reason().unwrap_or("Error").to_string(),
        message: e.message.clone(),
    };
    let mut res = render(viewer, &t);
    *res.status_mut() = e.status;
    res
}

/// A refused form post (403), plain: it may answer a page of another site.
pub(super) fn refused(message: &str) -> Response {
    (StatusCode::FORBIDDEN, message.to_string()).into_response()
}

/// Unix seconds as `2026-12-05 14:03:00` (UTC, as Slurm's logs and the API's numbers).
pub(super) fn time(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).map_or_else(
        || ts.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

/// How long a job has run: its duration, or for a running job the time since its start.
pub(super) fn run_time(j: &crate::store::query::JobRecord) -> String {
    match j.stop_time {
        Some(_) => duration(j.duration),
        None => duration(chrono::Utc::now().timestamp() - j.start_time),
    }
}

/// Seconds as `3d 04:05:06` or `04:05:06`.
pub(super) fn duration(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d {h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// The pairs of a form's query string, without the fields left empty (an empty field
/// means "no filter", where the API calls an empty value a mistake), and with the
/// `from`/`to` date fields (`2026-12-05T10:00`, UTC) turned into the API's `time` range.
pub(super) fn form_pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| format!("malformed query string: {e}"))?;
    Ok(pairs
        .into_iter()
        .map(|(k, v)| (k, v.trim().to_string()))
        .filter(|(_, v)| !v.is_empty())
        .collect())
}

/// The API's query string for form pairs: `from`/`to` become `time=<from>-<to>`, and keys
/// the API does not take (`keep` says which it does) are left out.
pub(super) fn api_query(
    pairs: &[(String, String)],
    keep: &dyn Fn(&str) -> bool,
) -> Result<String, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    let (mut from, mut to) = (None, None);
    for (k, v) in pairs {
        let date = || unix(v).ok_or_else(|| format!("{k}: not a date and time: {v:?}"));
        match k.as_str() {
            "from" => from = Some(date()?),
            "to" => to = Some(date()?),
            k if keep(k) => out.push((k.to_string(), v.clone())),
            _ => {}
        }
    }
    if from.is_some() || to.is_some() {
        let end = |t: Option<i64>| t.map(|t| t.to_string()).unwrap_or_default();
        out.push(("time".into(), format!("{}-{}", end(from), end(to))));
    }
    serde_urlencoded::to_string(&out).map_err(|e| e.to_string())
}

/// `2026-12-05T10:00[:00]` or a date alone, as UTC.
fn unix(v: &str) -> Option<i64> {
    use chrono::NaiveDateTime;
    [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
    .or_else(|| {
        chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)
    })
    .map(|t| t.and_utc().timestamp())
}

/// The value a form field had, for filling it in again.
pub(super) fn field<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}

/// The query string of `pairs` with `key` set to `value` (paging and sorting links).
pub(super) fn with(pairs: &[(String, String)], key: &str, value: &str) -> String {
    let mut p: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(k, _)| k != key)
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    p.push((key, value));
    serde_urlencoded::to_string(&p).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fields_are_no_filter_and_dates_become_the_time_range() {
        let p = form_pairs(Some("user=&cluster=fritz&from=2026-12-05T10:00&to=&page=2")).unwrap();
        assert_eq!(field(&p, "cluster"), "fritz");
        assert_eq!(field(&p, "user"), "");
        let q = api_query(&p, &|k| k != "page").unwrap();
        assert_eq!(q, "cluster=fritz&time=1796464800-");
        assert!(
            api_query(&form_pairs(Some("from=yesterday")).unwrap(), &|_| true)
                .unwrap_err()
                .contains("from")
        );
    }

    #[test]
    fn durations_and_times_read_as_people_write_them() {
        assert_eq!(duration(3 * 86_400 + 4 * 3600 + 5 * 60 + 6), "3d 04:05:06");
        assert_eq!(duration(59), "00:00:59");
        assert_eq!(time(0), "1970-01-01 00:00:00");
    }
}
