//! `/users` and `/projects`: the `/api/stats/` table for a time window, sortable, each
//! name linking to its job list; and one page per user or project with its statistics
//! and histograms of duration and node count.

use super::page::{self, api_query, field, form_pairs, with, Nav};
use super::session::Viewer;
use crate::http::{allowed, stats_query, ApiError, AppState};
use crate::store::stats::{Group, Usage};
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;

/// The table's sortable columns: query value and heading.
const COLUMNS: [(&str, &str); 5] = [
    ("jobs", "Jobs"),
    ("nodeHours", "Node-hours"),
    ("coreHours", "Core-hours"),
    ("gpuHours", "GPU-hours"),
    ("wait", "Avg. wait"),
];

pub(super) struct Line {
    pub(super) name: String,
    pub(super) jobs: i64,
    pub(super) node_hours: String,
    pub(super) core_hours: String,
    pub(super) gpu_hours: String,
    pub(super) wait: String,
}

fn line(name: String, u: &Usage) -> Line {
    Line {
        name,
        jobs: u.jobs,
        node_hours: format!("{:.1}", u.node_hours),
        core_hours: format!("{:.1}", u.core_hours),
        gpu_hours: format!("{:.1}", u.gpu_hours),
        wait: u
            .avg_wait_seconds
            .map_or_else(|| "—".into(), |w| page::duration(w.round() as i64)),
    }
}

/// One bar of a histogram: label, count, height 0-100.
pub(super) struct Bin {
    pub(super) label: &'static str,
    pub(super) count: i64,
    pub(super) height: i64,
    pub(super) x: usize,
}

fn bins(h: &[(&'static str, i64)]) -> Vec<Bin> {
    let top = h.iter().map(|(_, c)| *c).max().unwrap_or(0).max(1);
    h.iter()
        .enumerate()
        .map(|(i, (label, count))| Bin {
            label,
            count: *count,
            height: count * 100 / top,
            x: i * 40,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "usage.html")]
struct UsagePage {
    nav: Nav,
    /// `user` or `project`.
    kind: &'static str,
    /// The one user or project, or empty for the table of all.
    name: String,
    form: Vec<(String, String)>,
    columns: Vec<(&'static str, &'static str, String)>,
    lines: Vec<Line>,
    total: Option<Line>,
    /// What the lines of one name's page are grouped by.
    by: &'static str,
    duration: Vec<Bin>,
    nodes: Vec<Bin>,
    error: String,
}

impl UsagePage {
    fn v(&self, key: &str) -> &str {
        field(&self.form, key)
    }
    /// The job list of a line's name.
    fn jobs_of(&self, line: &str) -> String {
        let mut p: Vec<(&str, &str)> = vec![(self.by, line)];
        if !self.name.is_empty() {
            p.push((self.kind, &self.name));
        }
        serde_urlencoded::to_string(p).unwrap_or_default()
    }
}

pub(super) async fn users(s: State<AppState>, v: Viewer, q: RawQuery) -> Response {
    usage(s, v, q, "user", None).await
}

pub(super) async fn projects(s: State<AppState>, v: Viewer, q: RawQuery) -> Response {
    usage(s, v, q, "project", None).await
}

pub(super) async fn user(
    s: State<AppState>,
    v: Viewer,
    Path(name): Path<String>,
    q: RawQuery,
) -> Response {
    usage(s, v, q, "user", Some(name)).await
}

pub(super) async fn project(
    s: State<AppState>,
    v: Viewer,
    Path(name): Path<String>,
    q: RawQuery,
) -> Response {
    usage(s, v, q, "project", Some(name)).await
}

async fn usage(
    State(app): State<AppState>,
    viewer: Viewer,
    RawQuery(q): RawQuery,
    kind: &'static str,
    name: Option<String>,
) -> Response {
    let form = match form_pairs(q.as_deref()) {
        Ok(f) => f,
        Err(e) => return page::error(&viewer, &ApiError::bad_request(e)),
    };
    // A user's page lists their projects, a project's page its users.
    let by = match (kind, &name) {
        ("user", Some(_)) => "project",
        ("project", Some(_)) => "user",
        _ => kind,
    };
    let section = if kind == "user" { "users" } else { "projects" };
    let mut t = UsagePage {
        nav: viewer.nav(section),
        kind,
        name: name.clone().unwrap_or_default(),
        columns: COLUMNS
            .iter()
            .map(|(k, h)| (*k, *h, with(&form, "sort", k)))
            .collect(),
        form,
        lines: Vec::new(),
        total: None,
        by,
        duration: Vec::new(),
        nodes: Vec::new(),
        error: String::new(),
    };
    let found = async {
        let mut pairs: Vec<(String, String)> = t
            .form
            .iter()
            .filter(|(k, _)| k == "from" || k == "to" || k == "cluster")
            .cloned()
            .collect();
        if let Some(n) = &name {
            pairs.push((kind.to_string(), n.clone()));
        }
        let api = api_query(&pairs, &|k| allowed(&[]).iter().any(|a| a == k))
            .map_err(ApiError::bad_request)?;
        let (filter, group) = stats_query(Some(&format!("{api}&group-by={by}")), &viewer.caller)?;
        let now = chrono::Utc::now().timestamp();
        let stats = app.store.stats(&filter, group, now).await?;
        let hist = match name {
            Some(_) => Some(app.store.histograms(&filter).await?),
            None => None,
        };
        Ok::<_, ApiError>((stats, hist))
    };
    match found.await {
        Ok((mut stats, hist)) => {
            sort(&mut stats.groups, field(&t.form, "sort"));
            t.lines = stats
                .groups
                .iter()
                .map(|g| line(g.group.clone(), &g.usage))
                .collect();
            t.total = Some(line("total".into(), &stats.total));
            if let Some(h) = hist {
                t.duration = bins(&h.duration);
                t.nodes = bins(&h.nodes);
            }
        }
        Err(e) => t.error = e.message,
    }
    page::render(&viewer, &t)
}

/// Largest first by the chosen column (node-hours unless another is chosen), then by name.
fn sort(groups: &mut [Group], by: &str) {
    let key = |g: &Group| -> f64 {
        match by {
            "jobs" => g.usage.jobs as f64,
            "coreHours" => g.usage.core_hours,
            "gpuHours" => g.usage.gpu_hours,
            "wait" => g.usage.avg_wait_seconds.unwrap_or(-1.0),
            "name" => 0.0,
            _ => g.usage.node_hours,
        }
    };
    groups.sort_by(|a, b| {
        key(b)
            .total_cmp(&key(a))
            .then_with(|| a.group.cmp(&b.group))
    });
}
