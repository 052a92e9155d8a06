//! `GET /api/jobs/{id}/efficiency`: what a job did with what it asked for.

use super::auth::Caller;
use super::jobs::readable_job;
use super::openapi::ErrorBody;
use super::{ApiError, AppState};
use crate::domain::efficiency::{report, JobFacts, Report};
use crate::domain::metric::Scope;
use crate::tsdb::shape::{Scopes, Selection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

/// The metrics the report reads, where the cluster records them.
const READ: &[&str] = &[
    "job_user_cpu",
    "job_sys_cpu",
    "job_max_mem_used",
    "job_mem_used",
    "cpu_user",
    "cpu_system",
    "cpu_load",
    "mem_used",
    "nv_util",
    "acc_utilization",
    "nv_mem_used",
    "acc_mem_used",
];

/// CPU, memory, GPU and time used against what the job asked for, per node and overall,
/// with a plain note on each that is poor (thresholds: `[efficiency]`). A running job is
/// judged on its samples so far.
#[utoipa::path(get, path = "/api/jobs/{id}/efficiency", tag = "metrics",
    params(("id" = i64, Path, description = "Database id of the job")),
    responses(
        (status = 200, description = "The efficiency report", body = Report),
        (status = 400, description = "A bad id", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such job (or not the caller's)", body = ErrorBody),
        (status = 503, description = "The metric store cannot be read now", body = ErrorBody),
    ))]
pub(super) async fn efficiency(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Report>, ApiError> {
    let job = readable_job(&app, &caller, &id).await?;
    let metrics: Vec<_> = app
        .clusters
        .metrics_of(&job.cluster, &job.sub_cluster)
        .into_iter()
        .filter(|m| READ.contains(&m.name.as_str()))
        .collect();
    let now = chrono::Utc::now().timestamp();
    let scopes = Scopes::Asked(vec![Scope::Node, Scope::Accelerator]);
    let sel = Selection::of_job(&job, metrics, scopes, now);
    let data = app.tsdb.job_data(&app.store, sel).await.map_err(|e| {
        tracing::warn!(
            error = format!("{e:#}"),
            "reading metrics for an efficiency report failed"
        );
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the metric store cannot be read now; try again",
        )
    })?;
    let running = job.stop_time.is_none();
    let facts = JobFacts {
        shared: job.shared != "none",
        duration: if running {
            now - job.start_time
        } else {
            job.duration
        },
        walltime: job.walltime,
        requested_memory: job.requested_memory,
        cores_per_node: job
            .num_hwthreads
            .filter(|n| *n > 0 && job.num_nodes > 0)
            .map(|n| n as f64 / job.num_nodes as f64),
    };
    Ok(Json(report(&facts, &data, &app.efficiency)))
}
