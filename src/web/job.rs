//! `/jobs/{id}`: what the job is, its tags (editable by admins and api tokens), its
//! metadata and script, and the places `web/static/app.js` fills from the API: the
//! efficiency report, the statistics table and one plot per metric.

use super::jobs::{hostnames, job_name};
use super::page::{self, Nav};
use super::session::Viewer;
use crate::auth::Action;
use crate::http::{apply_tags, readable_job, AppState};
use crate::store::query::{JobRecord, TagRecord};
use crate::wire::TagWire;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "job.html")]
struct JobPage {
    nav: Nav,
    job: JobRecord,
    name: String,
    facts: Vec<(&'static str, String)>,
    hosts: String,
    tags: Vec<TagRecord>,
    meta: Vec<(String, String)>,
    script: String,
    may_edit: bool,
    archived: bool,
    /// The metrics' thresholds as JSON, for the plots' background bands.
    thresholds: String,
    /// Scopes the job can be plotted at.
    scopes: Vec<&'static str>,
}

pub(super) async fn view(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let job = match readable_job(&app, &viewer.caller, &id).await {
        Ok(j) => j,
        Err(e) => return page::error(&viewer, &e),
    };
    let mut meta: Vec<(String, String)> = job
        .meta_data
        .as_ref()
        .and_then(|m| m.as_object())
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let script = meta
        .iter()
        .position(|(k, _)| k == "jobScript")
        .map(|i| meta.remove(i).1)
        .unwrap_or_default();
    let t = JobPage {
        nav: viewer.nav("jobs"),
        name: job_name(&job).to_string(),
        facts: facts(&job),
        hosts: crate::hostlist::compress(&hostnames(&job.resources)),
        tags: job.tags.clone(),
        meta,
        script,
        may_edit: viewer.may(Action::Edit),
        archived: job.monitoring_status == 3 && job.archive_location.is_some(),
        thresholds: thresholds(&app, &job).to_string(),
        scopes: scopes(&job),
        job,
    };
    page::render(&viewer, &t)
}

fn facts(j: &JobRecord) -> Vec<(&'static str, String)> {
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_else(|| "—".into());
    let mut f = vec![
        ("Slurm job", j.job_id.to_string()),
        (
            "Cluster",
            format!("{} / {} / {}", j.cluster, j.sub_cluster, j.partition),
        ),
        ("State", j.job_state.clone()),
        ("Start (UTC)", page::time(j.start_time)),
        (
            "Stop (UTC)",
            j.stop_time.map_or_else(|| "running".into(), page::time),
        ),
        ("Duration", page::run_time(j)),
        (
            "Walltime",
            j.walltime.map_or_else(|| "—".into(), page::duration),
        ),
        ("Nodes", j.num_nodes.to_string()),
        ("Hardware threads", opt(j.num_hwthreads)),
        ("Accelerators", opt(j.num_acc)),
        ("Shared", j.shared.clone()),
        (
            "Requested memory",
            j.requested_memory
                .map_or_else(|| "—".into(), |m| format!("{m} MB")),
        ),
    ];
    if let Some(submit) = j.submit_time {
        f.push(("Submitted (UTC)", page::time(submit)));
        f.push(("Waited", page::duration(j.start_time - submit)));
    }
    if let Some(a) = j.array_job_id {
        f.push(("Array job", a.to_string()));
    }
    if let Some(e) = j.energy {
        f.push(("Energy", format!("{e:.2} kWh")));
    }
    let archive = match j.monitoring_status {
        3 => format!(
            "archived at {}",
            j.archived_at.map_or_else(String::new, page::time)
        ),
        2 => format!(
            "archiving failed: {}",
            j.archive_error.clone().unwrap_or_default()
        ),
        1 if j.archive_error.is_some() => {
            format!("retrying: {}", j.archive_error.clone().unwrap_or_default())
        }
        1 => "waiting to be archived".into(),
        _ => "not archived".into(),
    };
    f.push(("Archive", archive));
    f
}

/// `{metric: {unit, peak, normal, caution, alert, lowerIsBetter}}` on the job's subcluster.
fn thresholds(app: &AppState, j: &JobRecord) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for m in app.clusters.metrics_of(&j.cluster, &j.sub_cluster) {
        let s = m.settings.on(&j.sub_cluster);
        out.insert(
            m.name.clone(),
            serde_json::json!({"unit": m.unit, "peak": s.peak, "normal": s.normal,
                "caution": s.caution, "alert": s.alert, "lowerIsBetter": s.lower_is_better}),
        );
    }
    serde_json::Value::Object(out)
}

fn scopes(j: &JobRecord) -> Vec<&'static str> {
    let mut s = vec!["node", "socket", "core"];
    if j.num_acc.unwrap_or(0) > 0 {
        s.push("accelerator");
    }
    s
}

#[derive(Deserialize)]
pub(super) struct TagForm {
    #[serde(default)]
    csrf: String,
    /// `add` or `remove`.
    action: String,
    #[serde(rename = "type")]
    tag_type: String,
    name: String,
    #[serde(default)]
    scope: String,
}

/// Adds or removes one tag, then shows the job again.
pub(super) async fn tags(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(f): Form<TagForm>,
) -> Response {
    if let Some(refused) = viewer.refuses(&f.csrf) {
        return refused;
    }
    let done = async {
        let job = readable_job(&app, &viewer.caller, &id).await?;
        let wire = vec![TagWire {
            id: None,
            tag_type: f.tag_type.trim().to_string(),
            name: f.name.trim().to_string(),
            scope: Some(f.scope.trim().to_string()).filter(|s| !s.is_empty()),
        }];
        apply_tags(&app, &viewer.caller, job.id, wire, f.action != "remove").await
    };
    match done.await {
        Ok(job) => Redirect::to(&format!("/jobs/{}", job.id)).into_response(),
        Err(e) => page::error(&viewer, &e),
    }
}
