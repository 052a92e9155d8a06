//! Usage statistics: per group, jobs, node-, core- and GPU-hours and the average wait,
//! counting only the part of each job inside the window. One aggregate query.

use super::filter::Where;
use super::{Backend, Store};
use crate::domain::query::{GroupBy, JobFilter};
use serde::Serialize;
use sqlx::Row;

#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub jobs: i64,
    pub node_hours: f64,
    pub core_hours: f64,
    pub gpu_hours: f64,
    /// Mean of `startTime − submitTime` over the jobs that report a submit time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avg_wait_seconds: Option<f64>,
    #[serde(skip)]
    wait_sum: f64,
    #[serde(skip)]
    wait_n: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Group {
    pub group: String,
    #[serde(flatten)]
    pub usage: Usage,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    #[schema(value_type = String)]
    pub group_by: GroupBy,
    /// The window (unix s) each job is clipped to; absent ends are open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<i64>,
    /// Largest node-hours first.
    pub groups: Vec<Group>,
    pub total: Usage,
}

fn group_column(g: GroupBy) -> &'static str {
    match g {
        GroupBy::User => "j.user_name",
        GroupBy::Project => "j.project",
        GroupBy::Cluster => "j.cluster",
        GroupBy::Partition => "j.partition",
        GroupBy::SubCluster => "j.sub_cluster",
        GroupBy::State => "j.job_state",
    }
}

impl Store {
    /// Statistics of the jobs `filter` selects, grouped by `by`. Running jobs count up to
    /// `now`; `filter.time` is the window every job is clipped to.
    pub async fn stats(
        &self,
        filter: &JobFilter,
        by: GroupBy,
        now: i64,
    ) -> Result<Stats, sqlx::Error> {
        let mut w = self.where_for(filter).await?;
        let window = filter.time;
        let from = window.and_then(|r| r.from);
        let to = window.and_then(|r| r.to);
        let sql = stats_sql(&mut w, self.backend, by, now, from, to);
        let rows = super::values::bind_all(sqlx::query(&sql), w.vals)
            .fetch_all(&self.pool)
            .await?;
        let mut groups = Vec::with_capacity(rows.len());
        let mut total = Usage::default();
        for r in &rows {
            let usage = Usage {
                jobs: r.try_get(1)?,
                node_hours: hours(r.try_get(2)?),
                core_hours: hours(r.try_get(3)?),
                gpu_hours: hours(r.try_get(4)?),
                avg_wait_seconds: None,
                wait_sum: r.try_get::<Option<f64>, _>(5)?.unwrap_or(0.0),
                wait_n: r.try_get(6)?,
            };
            total.add(&usage);
            groups.push(Group {
                group: r.try_get(0)?,
                usage: usage.finished(),
            });
        }
        groups.sort_by(|a, b| {
            b.usage
                .node_hours
                .total_cmp(&a.usage.node_hours)
                .then_with(|| a.group.cmp(&b.group))
        });
        Ok(Stats {
            group_by: by,
            from,
            to,
            groups,
            total: total.finished(),
        })
    }
}

/// The aggregate query. Seconds inside the window: min(end, to) − max(start, from), where
/// a running job ends `now`; never below zero.
fn stats_sql(
    w: &mut Where,
    backend: Backend,
    by: GroupBy,
    now: i64,
    from: Option<i64>,
    to: Option<i64>,
) -> String {
    let (least, greatest) = match backend {
        Backend::Sqlite => ("MIN", "MAX"),
        Backend::Postgres => ("LEAST", "GREATEST"),
    };
    let now = w.bind(now);
    let end = match to {
        Some(t) => format!("{least}(COALESCE(j.stop_time, {now}), {})", w.bind(t)),
        None => format!("COALESCE(j.stop_time, {now})"),
    };
    let start = match from {
        Some(f) => format!("{greatest}(j.start_time, {})", w.bind(f)),
        None => "j.start_time".to_string(),
    };
    let secs = format!("{greatest}(0, {end} - {start})");
    // In floating point: a bigint product could overflow (an error on Postgres).
    let sum = |weight: &str| format!("SUM(CAST({weight} AS DOUBLE PRECISION) * {secs})");
    let waits = "j.submit_time > 0 AND j.submit_time <= j.start_time";
    // SQLite without planner statistics would rather walk an index in group order (every
    // job of the table) than find the window's few through the start-time index; a
    // unary `+` makes the key an expression no index provides (measured: 1.4 s → 60 ms
    // for a month of a million-job ledger). Postgres plans from its statistics.
    let key = match backend {
        Backend::Sqlite => format!("+{}", group_column(by)),
        Backend::Postgres => group_column(by).to_string(),
    };
    format!(
        "SELECT {key}, COUNT(*), {}, {}, {}, \
         CAST(SUM(CASE WHEN {waits} THEN j.start_time - j.submit_time END) AS DOUBLE PRECISION), \
         COUNT(CASE WHEN {waits} THEN 1 END) \
         FROM job j{} GROUP BY {key}",
        sum("j.num_nodes"),
        sum("COALESCE(j.num_hwthreads, 0)"),
        sum("COALESCE(j.num_acc, 0)"),
        w.sql()
    )
}

fn hours(seconds: Option<f64>) -> f64 {
    seconds.unwrap_or(0.0) / 3600.0
}

impl Usage {
    fn add(&mut self, o: &Usage) {
        self.jobs += o.jobs;
        self.node_hours += o.node_hours;
        self.core_hours += o.core_hours;
        self.gpu_hours += o.gpu_hours;
        self.wait_sum += o.wait_sum;
        self.wait_n += o.wait_n;
    }

    fn finished(mut self) -> Usage {
        self.avg_wait_seconds = (self.wait_n > 0).then(|| self.wait_sum / self.wait_n as f64);
        self
    }
}
