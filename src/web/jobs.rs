//! `/jobs`: the job list as a form of every `/api/jobs/` filter, read by the API's own
//! query, so the URL holds the filter (bookmarks, links from other pages) and the page
//! shows exactly what the API would. `/jobs.csv` is the same list as CSV.

use super::footprint::{Bar, Thresholds};
use super::page::{self, api_query, field, form_pairs, with, Nav};
use super::session::Viewer;
use crate::domain::job::JobState;
use crate::http::{allowed, list_query, ApiError, AppState};
use crate::store::query::JobRecord;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// One job as a row of the list.
pub(super) struct Row {
    pub(super) id: i64,
    pub(super) job_id: i64,
    pub(super) cluster: String,
    pub(super) partition: String,
    pub(super) user: String,
    pub(super) project: String,
    pub(super) name: String,
    pub(super) state: String,
    pub(super) start: String,
    pub(super) duration: String,
    pub(super) nodes: i64,
    pub(super) hosts: String,
    pub(super) tags: Vec<String>,
    pub(super) bars: Vec<Bar>,
}

impl Row {
    pub(super) fn of(j: &JobRecord, t: &mut Thresholds) -> Row {
        Row {
            id: j.id,
            job_id: j.job_id,
            cluster: j.cluster.clone(),
            partition: j.partition.clone(),
            user: j.user.clone(),
            project: j.project.clone(),
            name: job_name(j).to_string(),
            state: j.job_state.clone(),
            start: page::time(j.start_time),
            duration: page::run_time(j),
            nodes: j.num_nodes,
            hosts: crate::hostlist::compress(&hostnames(&j.resources)),
            tags: j
                .tags
                .iter()
                .map(|t| format!("{}:{}", t.tag_type, t.name))
                .collect(),
            bars: t.bars(&j.cluster, &j.sub_cluster, &j.footprint),
        }
    }
}

pub(super) fn job_name(j: &JobRecord) -> &str {
    j.meta_data
        .as_ref()
        .and_then(|m| m["jobName"].as_str())
        .unwrap_or("")
}

/// The host names of a job's `resources`.
pub(super) fn hostnames(resources: &serde_json::Value) -> Vec<String> {
    resources
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter_map(|r| r["hostname"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    nav: Nav,
    /// The form's fields as given (to fill the form in again).
    form: Vec<(String, String)>,
    states: Vec<(&'static str, bool)>,
    sorts: Vec<(String, String)>,
    error: String,
    rows: Vec<Row>,
    total: i64,
    page: i64,
    pages: i64,
    prev: String,
    next: String,
    csv: String,
    /// Most jobs the CSV holds: a longer list says its CSV is cut there.
    csv_max: i64,
    /// `/api/events` with the same filters: the page's script listens to it.
    events: String,
}

impl JobsPage {
    fn v(&self, key: &str) -> &str {
        field(&self.form, key)
    }
    fn selected(&self, key: &str, value: &str) -> bool {
        self.v(key) == value
    }
    /// The `n`th value of a repeated field (footprint ranges).
    fn nth(&self, key: &str, n: usize) -> &str {
        self.form
            .iter()
            .filter(|(k, _)| k == key)
            .nth(n)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// Parameters of `/api/jobs/` a page query may pass on.
fn list_key(k: &str) -> bool {
    allowed(&["page", "items-per-page", "sort"])
        .iter()
        .any(|a| a == k)
}

pub(super) async fn list(
    State(app): State<AppState>,
    viewer: Viewer,
    RawQuery(q): RawQuery,
) -> Response {
    let form = match form_pairs(q.as_deref()) {
        Ok(f) => f,
        Err(e) => return page::error(&viewer, &ApiError::bad_request(e)),
    };
    let mut t = JobsPage {
        nav: viewer.nav("jobs"),
        states: JobState::names()
            .map(|s| (s, form.iter().any(|(k, v)| k == "state" && v == s)))
            .collect(),
        sorts: sorts(&app),
        error: String::new(),
        rows: Vec::new(),
        total: 0,
        page: 1,
        pages: 1,
        prev: String::new(),
        next: String::new(),
        csv: format!("/jobs.csv?{}", with(&form, "page", "1")),
        csv_max: CSV_MAX,
        events: String::new(),
        form,
    };
    let listed = async {
        let api = api_query(&t.form, &list_key).map_err(ApiError::bad_request)?;
        let mut query = list_query(Some(&format!("{api}&with-metadata=true")), &viewer.caller)?;
        query.per_page = query.per_page.min(500);
        let (jobs, total) = app.store.list_jobs(&query).await?;
        let filters = api_query(&t.form, &|k| allowed(&[]).iter().any(|a| a == k))
            .map_err(ApiError::bad_request)?;
        Ok::<_, ApiError>((jobs, total, query, filters))
    };
    match listed.await {
        Ok((jobs, total, query, filters)) => {
            let mut thresholds = Thresholds::new(&app.clusters);
            t.rows = jobs.iter().map(|j| Row::of(j, &mut thresholds)).collect();
            t.total = total;
            t.page = query.page;
            t.pages = ((total + query.per_page - 1) / query.per_page).max(1);
            if t.page > 1 {
                t.prev = with(&t.form, "page", &(t.page - 1).to_string());
            }
            if t.page < t.pages {
                t.next = with(&t.form, "page", &(t.page + 1).to_string());
            }
            let sep = if filters.is_empty() { "" } else { "&" };
            t.events = format!("/api/events?{filters}{sep}kind=started&kind=stopped");
        }
        Err(e) => t.error = e.message,
    }
    page::render(&viewer, &t)
}

/// Sort choices: the three columns, and every footprint value a cluster defines.
fn sorts(app: &AppState) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vec![
        ("startTime:desc".into(), "newest first".into()),
        ("startTime:asc".into(), "oldest first".into()),
        ("duration:desc".into(), "longest first".into()),
        ("numNodes:desc".into(), "most nodes first".into()),
    ];
    let mut names: Vec<String> = Vec::new();
    for c in app.clusters.all() {
        for m in app.clusters.metrics_of(&c.name, "") {
            if let Some(stat) = m.settings.base.footprint {
                names.push(format!("{}_{}", m.name, stat.name()));
            }
        }
    }
    names.sort();
    names.dedup();
    for n in names {
        out.push((format!("footprint.{n}:desc"), format!("{n}, highest first")));
        out.push((format!("footprint.{n}:asc"), format!("{n}, lowest first")));
    }
    out
}

/// Most rows one export holds; a larger export is a job for the API's paging.
const CSV_MAX: i64 = 100_000;

/// The filtered list (every page, up to [`CSV_MAX`] jobs) as CSV.
pub(super) async fn csv(
    State(app): State<AppState>,
    viewer: Viewer,
    RawQuery(q): RawQuery,
) -> Response {
    let rows = async {
        let form = form_pairs(q.as_deref()).map_err(ApiError::bad_request)?;
        let api = api_query(&form, &|k| {
            k != "page" && k != "items-per-page" && list_key(k)
        })
        .map_err(ApiError::bad_request)?;
        let mut query = list_query(Some(&format!("{api}&with-metadata=true")), &viewer.caller)?;
        query.per_page = CSV_MAX;
        Ok::<_, ApiError>(app.store.list_jobs(&query).await?.0)
    };
    let jobs = match rows.await {
        Ok(j) => j,
        Err(e) => return page::error(&viewer, &e),
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    let head = [
        "id",
        "jobId",
        "cluster",
        "partition",
        "user",
        "project",
        "jobName",
        "state",
        "startTime",
        "duration",
        "numNodes",
        "nodes",
        "tags",
        "footprint",
    ];
    let mut failed = w.write_record(head).is_err();
    for j in &jobs {
        let tags: Vec<String> = j
            .tags
            .iter()
            .map(|t| format!("{}:{}", t.tag_type, t.name))
            .collect();
        failed |= w
            .write_record([
                j.id.to_string(),
                j.job_id.to_string(),
                j.cluster.clone(),
                j.partition.clone(),
                j.user.clone(),
                j.project.clone(),
                job_name(j).to_string(),
                j.job_state.clone(),
                j.start_time.to_string(),
                j.duration.to_string(),
                j.num_nodes.to_string(),
                crate::hostlist::compress(&hostnames(&j.resources)),
                tags.join(" "),
                j.footprint.to_string(),
            ])
            .is_err();
    }
    let body = match (failed, w.into_inner()) {
        (false, Ok(b)) => b,
        _ => {
            return page::error(
                &viewer,
                &ApiError::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "the CSV could not be written",
                ),
            )
        }
    };
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"jobs.csv\"",
            ),
        ],
        body,
    )
        .into_response()
}
