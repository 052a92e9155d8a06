//! Reads for the HTTP API. Filters become `$N` parameters, never SQL text.

use super::values::{bind_all, Val};
use super::Store;
use crate::domain::rules::InstanceKey;
use serde::Serialize;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

/// A job as the API returns it: the start_job JSON plus what jobledger knows since.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRecord {
    pub id: i64,
    pub job_id: i64,
    pub cluster: String,
    pub sub_cluster: String,
    pub partition: String,
    pub project: String,
    pub user: String,
    pub shared: String,
    pub job_state: String,
    pub start_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_time: Option<i64>,
    pub duration: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub walltime: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_memory: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submit_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub array_job_id: Option<i64>,
    pub smt: i64,
    pub monitoring_status: i64,
    pub num_nodes: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_hwthreads: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_acc: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub energy: Option<f64>,
    pub resources: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta_data: Option<Value>,
    pub footprint: Value,
    pub energy_footprint: Value,
    pub tags: Vec<TagRecord>,
    /// Where the archived job is (relative to the archive root), once monitoringStatus is 3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived_at: Option<i64>,
    /// The last archiving failure, kept while monitoringStatus is 1 (retrying) or 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TagRecord {
    pub id: i64,
    #[serde(rename = "type")]
    pub tag_type: String,
    pub name: String,
    pub scope: String,
}

/// The filters of `GET /api/jobs/`; all combine with AND.
#[derive(Debug, Default, Clone)]
pub struct JobFilter {
    pub states: Vec<String>,
    pub cluster: Option<String>,
    pub project: Option<String>,
    pub user: Option<String>,
    pub partition: Option<String>,
    pub start_from: Option<i64>,
    pub start_to: Option<i64>,
}

const JOB_SELECT: &str = "SELECT id, job_id, cluster, sub_cluster, partition, project, user_name, \
    shared, job_state, start_time, stop_time, duration, walltime, requested_memory, submit_time, \
    array_job_id, smt, monitoring_status, num_nodes, num_hwthreads, num_acc, energy, resources, \
    meta_data, footprint, energy_footprint, archive_location, archived_at, archive_error FROM job";

impl JobFilter {
    fn where_clause(&self) -> (String, Vec<Val>) {
        let mut clauses: Vec<String> = Vec::new();
        let mut vals: Vec<Val> = Vec::new();
        let mut eq = |col: &str, v: &Option<String>| {
            if let Some(v) = v {
                vals.push(v.clone().into());
                clauses.push(format!("{col} = ${}", vals.len()));
            }
        };
        eq("cluster", &self.cluster);
        eq("project", &self.project);
        eq("user_name", &self.user);
        eq("partition", &self.partition);
        if !self.states.is_empty() {
            let first = vals.len() + 1;
            vals.extend(self.states.iter().map(|s| Val::from(s.clone())));
            let ph: Vec<String> = (first..=vals.len()).map(|n| format!("${n}")).collect();
            clauses.push(format!("job_state IN ({})", ph.join(",")));
        }
        for (op, v) in [(">=", self.start_from), ("<=", self.start_to)] {
            if let Some(v) = v {
                vals.push(v.into());
                clauses.push(format!("start_time {op} ${}", vals.len()));
            }
        }
        let sql = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        (sql, vals)
    }
}

impl Store {
    pub async fn job_by_id(&self, id: i64) -> Result<Option<JobRecord>, sqlx::Error> {
        let row = sqlx::query(&format!("{JOB_SELECT} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        self.with_tags(row.iter().map(job_from_row).collect::<Result<_, _>>()?)
            .await
            .map(|mut v| v.pop())
    }

    /// Jobs by database id, in no particular order.
    pub async fn jobs_by_ids(&self, ids: &[i64]) -> Result<Vec<JobRecord>, sqlx::Error> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let ph: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!("{JOB_SELECT} WHERE id IN ({})", ph.join(","));
            let vals = chunk.iter().map(|i| Val::from(*i)).collect();
            let rows = bind_all(sqlx::query(&sql), vals)
                .fetch_all(&self.pool)
                .await?;
            let jobs = rows.iter().map(job_from_row).collect::<Result<_, _>>()?;
            out.extend(self.with_tags(jobs).await?);
        }
        Ok(out)
    }

    pub async fn job_id_by_key(&self, key: &InstanceKey) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT id FROM job WHERE job_id = $1 AND cluster = $2 AND start_time = $3",
        )
        .bind(key.job_id)
        .bind(&key.cluster)
        .bind(key.start_time)
        .fetch_optional(&self.pool)
        .await
    }

    /// One page of jobs, newest start first, and the number of all matching jobs.
    pub async fn list_jobs(
        &self,
        filter: &JobFilter,
        page: i64,
        per_page: i64,
        with_metadata: bool,
    ) -> Result<(Vec<JobRecord>, i64), sqlx::Error> {
        let (where_sql, vals) = filter.where_clause();
        let n = vals.len();
        let sql = format!(
            "{JOB_SELECT}{where_sql} ORDER BY start_time DESC, id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let mut page_vals = vals.clone();
        page_vals.extend([per_page.into(), ((page - 1) * per_page).into()]);
        let rows = bind_all(sqlx::query(&sql), page_vals)
            .fetch_all(&self.pool)
            .await?;
        let mut jobs: Vec<JobRecord> = rows.iter().map(job_from_row).collect::<Result<_, _>>()?;
        if !with_metadata {
            jobs.iter_mut().for_each(|j| j.meta_data = None);
        }
        let count_sql = format!("SELECT COUNT(*) FROM job{where_sql}");
        let total: i64 = bind_all(sqlx::query(&count_sql), vals)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        Ok((self.with_tags(jobs).await?, total))
    }

    async fn with_tags(&self, mut jobs: Vec<JobRecord>) -> Result<Vec<JobRecord>, sqlx::Error> {
        if jobs.is_empty() {
            return Ok(jobs);
        }
        let ph: Vec<String> = (1..=jobs.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT jt.job_id, t.id, t.tag_type, t.tag_name, t.tag_scope FROM job_tag jt \
             JOIN tag t ON t.id = jt.tag_id WHERE jt.job_id IN ({}) ORDER BY t.id",
            ph.join(",")
        );
        let vals = jobs.iter().map(|j| Val::from(j.id)).collect();
        for row in bind_all(sqlx::query(&sql), vals)
            .fetch_all(&self.pool)
            .await?
        {
            let job_id: i64 = row.try_get(0)?;
            if let Some(j) = jobs.iter_mut().find(|j| j.id == job_id) {
                j.tags.push(TagRecord {
                    id: row.try_get(1)?,
                    tag_type: row.try_get(2)?,
                    name: row.try_get(3)?,
                    scope: row.try_get(4)?,
                });
            }
        }
        Ok(jobs)
    }
}

fn json_col(row: &AnyRow, col: &str) -> Result<Value, sqlx::Error> {
    let text: String = row.try_get(col)?;
    serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn job_from_row(row: &AnyRow) -> Result<JobRecord, sqlx::Error> {
    Ok(JobRecord {
        id: row.try_get("id")?,
        job_id: row.try_get("job_id")?,
        cluster: row.try_get("cluster")?,
        sub_cluster: row.try_get("sub_cluster")?,
        partition: row.try_get("partition")?,
        project: row.try_get("project")?,
        user: row.try_get("user_name")?,
        shared: row.try_get("shared")?,
        job_state: row.try_get("job_state")?,
        start_time: row.try_get("start_time")?,
        stop_time: row.try_get("stop_time")?,
        duration: row.try_get("duration")?,
        walltime: row.try_get("walltime")?,
        requested_memory: row.try_get("requested_memory")?,
        submit_time: row.try_get("submit_time")?,
        array_job_id: row.try_get("array_job_id")?,
        smt: row.try_get("smt")?,
        monitoring_status: row.try_get("monitoring_status")?,
        num_nodes: row.try_get("num_nodes")?,
        num_hwthreads: row.try_get("num_hwthreads")?,
        num_acc: row.try_get("num_acc")?,
        energy: row.try_get("energy")?,
        resources: json_col(row, "resources")?,
        meta_data: Some(json_col(row, "meta_data")?),
        footprint: json_col(row, "footprint")?,
        energy_footprint: json_col(row, "energy_footprint")?,
        tags: Vec::new(),
        archive_location: row.try_get("archive_location")?,
        archived_at: row.try_get("archived_at")?,
        archive_error: row.try_get("archive_error")?,
    })
}
