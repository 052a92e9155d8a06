//! `/status/{cluster}`: every node with its Slurm state, flags, allocation and running
//! jobs; a node's page with its metric plots; and the admin pages: rejected events and
//! health.

use super::jobs::hostnames;
use super::page::{self, field, form_pairs, Nav};
use super::session::Viewer;
use crate::auth::Action;
use crate::http::{health, list_query, ApiError, AppState};
use crate::store::status::{NodeRecord, RejectedRecord};
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::BTreeMap;

#[derive(Template)]
#[template(path = "clusters.html")]
struct ClustersPage {
    nav: Nav,
    clusters: Vec<(String, usize)>,
}

pub(super) async fn clusters(State(app): State<AppState>, viewer: Viewer) -> Response {
    let nodes = match app.store.list_nodes(None, None).await {
        Ok(n) => n,
        Err(e) => return page::error(&viewer, &e.into()),
    };
    let mut count: BTreeMap<String, usize> = app
        .clusters
        .all()
        .iter()
        .map(|c| (c.name.clone(), 0))
        .collect();
    for n in &nodes {
        *count.entry(n.cluster.clone()).or_default() += 1;
    }
    page::render(
        &viewer,
        &ClustersPage {
            nav: viewer.nav("status"),
            clusters: count.into_iter().collect(),
        },
    )
}

pub(super) struct NodeLine {
    pub(super) node: NodeRecord,
    pub(super) flags: String,
    pub(super) cpus: String,
    pub(super) memory: String,
    pub(super) gpus: String,
    pub(super) since: String,
    /// Database id and Slurm id of each running job the caller may see.
    pub(super) jobs: Vec<(i64, i64)>,
}

fn of_total(a: Option<i64>, t: Option<i64>) -> String {
    match (a, t) {
        (Some(a), Some(t)) => format!("{a} / {t}"),
        (Some(a), None) => a.to_string(),
        (None, Some(t)) => format!("– / {t}"),
        (None, None) => "–".into(),
    }
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    nav: Nav,
    cluster: String,
    lines: Vec<NodeLine>,
    states: Vec<(String, usize)>,
}

/// The running jobs of a cluster per host, as far as the caller may see them.
async fn running_on(
    app: &AppState,
    viewer: &Viewer,
    cluster: &str,
    host: Option<&str>,
) -> Result<BTreeMap<String, Vec<(i64, i64)>>, ApiError> {
    let mut q = format!(
        "state=running&items-per-page=100000&cluster={}",
        urlenc(cluster)
    );
    if let Some(h) = host {
        q.push_str(&format!("&node={}", urlenc(h)));
    }
    let query = list_query(Some(&q), &viewer.caller)?;
    let (jobs, _) = app.store.list_jobs(&query).await?;
    let mut by_host: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    for j in &jobs {
        for h in hostnames(&j.resources) {
            by_host.entry(h).or_default().push((j.id, j.job_id));
        }
    }
    Ok(by_host)
}

fn urlenc(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .unwrap_or_default()
        .trim_start_matches('=')
        .to_string()
}

fn line(node: NodeRecord, jobs: Vec<(i64, i64)>) -> NodeLine {
    NodeLine {
        flags: node.flags.join(", "),
        cpus: of_total(node.cpus_allocated, node.cpus_total),
        memory: of_total(node.memory_allocated, node.memory_total),
        gpus: of_total(node.gpus_allocated, node.gpus_total),
        since: page::time(node.state_since),
        jobs,
        node,
    }
}

pub(super) async fn status(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(cluster): Path<String>,
) -> Response {
    let found = async {
        let nodes = app.store.list_nodes(Some(&cluster), None).await?;
        let running = running_on(&app, &viewer, &cluster, None).await?;
        Ok::<_, ApiError>((nodes, running))
    };
    let (nodes, mut running) = match found.await {
        Ok(f) => f,
        Err(e) => return page::error(&viewer, &e),
    };
    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    for n in &nodes {
        *states.entry(n.node_state.clone()).or_default() += 1;
    }
    let lines = nodes
        .into_iter()
        .map(|n| {
            let jobs = running.remove(&n.hostname).unwrap_or_default();
            line(n, jobs)
        })
        .collect();
    let t = StatusPage {
        nav: viewer.nav("status"),
        cluster,
        lines,
        states: states.into_iter().collect(),
    };
    page::render(&viewer, &t)
}

#[derive(Template)]
#[template(path = "node.html")]
struct NodePage {
    nav: Nav,
    cluster: String,
    host: String,
    line: Option<NodeLine>,
    may_plot: bool,
    /// The plotted window, unix seconds, and the form's hours.
    from: i64,
    to: i64,
    hours: String,
}

pub(super) async fn node(
    State(app): State<AppState>,
    viewer: Viewer,
    Path((cluster, host)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    let form = form_pairs(q.as_deref()).unwrap_or_default();
    let hours: i64 = field(&form, "hours").parse().unwrap_or(1).clamp(1, 24 * 14);
    let found = async {
        let nodes = app.store.list_nodes(Some(&cluster), None).await?;
        let mut running = running_on(&app, &viewer, &cluster, Some(&host)).await?;
        let jobs = running.remove(&host).unwrap_or_default();
        Ok::<_, ApiError>(
            nodes
                .into_iter()
                .find(|n| n.hostname == host)
                .map(|n| line(n, jobs)),
        )
    };
    let line = match found.await {
        Ok(l) => l,
        Err(e) => return page::error(&viewer, &e),
    };
    let to = chrono::Utc::now().timestamp();
    let t = NodePage {
        nav: viewer.nav("status"),
        may_plot: viewer.may(Action::ReadNodeMetrics),
        cluster,
        host,
        line,
        from: to - hours * 3600,
        to,
        hours: hours.to_string(),
    };
    page::render(&viewer, &t)
}

#[derive(Template)]
#[template(path = "rejected.html")]
struct RejectedPage {
    nav: Nav,
    events: Vec<(RejectedRecord, String)>,
    total: i64,
    page: i64,
}

pub(super) async fn rejected(
    State(app): State<AppState>,
    viewer: Viewer,
    RawQuery(q): RawQuery,
) -> Response {
    if !viewer.may(Action::ReadRejected) {
        return page::error(
            &viewer,
            &ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "the role {} may not read rejected events",
                    viewer.principal().role.as_str()
                ),
            ),
        );
    }
    let form = form_pairs(q.as_deref()).unwrap_or_default();
    let page_no: i64 = field(&form, "page").parse().unwrap_or(1).max(1);
    let (events, total) = match app.store.list_rejected(page_no, 100).await {
        Ok(r) => r,
        Err(e) => return page::error(&viewer, &e.into()),
    };
    let events = events
        .into_iter()
        .map(|e| {
            let at = page::time(e.received_at);
            (e, at)
        })
        .collect();
    page::render(
        &viewer,
        &RejectedPage {
            nav: viewer.nav("rejected"),
            events,
            total,
            page: page_no,
        },
    )
}

#[derive(Template)]
#[template(path = "health.html")]
struct HealthPage {
    nav: Nav,
    ok: bool,
    report: String,
}

pub(super) async fn health_page(State(app): State<AppState>, viewer: Viewer) -> Response {
    let (status, h) = health(&app).await;
    let report = serde_json::to_string_pretty(&h).unwrap_or_default();
    let mut res = page::render(
        &viewer,
        &HealthPage {
            nav: viewer.nav("health"),
            ok: status.is_success(),
            report,
        },
    );
    *res.status_mut() = status;
    res
}
