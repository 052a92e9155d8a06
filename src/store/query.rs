//! Reads for the HTTP API. Filters become `$N` parameters, never SQL text.

use super::filter::{order_by, where_clause, Extent, Where};
use super::footprint_sort::{ByValue, Page, FEW_FOR_FOOTPRINT_SORT};
use super::values::{bind_all, Val};
use super::Store;
use crate::domain::query::{JobFilter, Sort, SortField};
use crate::domain::rules::InstanceKey;
use serde::Serialize;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

/// A job as the API returns it: the start_job JSON plus what jobledger knows since.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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
    #[schema(value_type = Vec<crate::wire::ResourceWire>)]
    pub resources: Value,
    /// Present with `with-metadata=true` (lists) and always for one job.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>)]
    pub meta_data: Option<Value>,
    #[schema(value_type = std::collections::BTreeMap<String, f64>)]
    pub footprint: Value,
    #[schema(value_type = std::collections::BTreeMap<String, f64>)]
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

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TagRecord {
    pub id: i64,
    #[serde(rename = "type")]
    pub tag_type: String,
    pub name: String,
    pub scope: String,
}

const JOB_SELECT: &str =
    "SELECT j.id, j.job_id, j.cluster, j.sub_cluster, j.partition, j.project, \
    j.user_name, j.shared, j.job_state, j.start_time, j.stop_time, j.duration, j.walltime, \
    j.requested_memory, j.submit_time, j.array_job_id, j.smt, j.monitoring_status, j.num_nodes, \
    j.num_hwthreads, j.num_acc, j.energy, j.resources, j.meta_data, j.footprint, \
    j.energy_footprint, j.archive_location, j.archived_at, j.archive_error FROM job j";

/// One page of `GET /api/jobs/`.
#[derive(Debug, Clone, Default)]
pub struct JobQuery {
    pub filter: JobFilter,
    pub sort: Sort,
    pub page: i64,
    pub per_page: i64,
    pub with_metadata: bool,
}

impl Store {
    pub async fn job_by_id(&self, id: i64) -> Result<Option<JobRecord>, sqlx::Error> {
        let row = sqlx::query(&format!("{JOB_SELECT} WHERE j.id = $1"))
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
            let sql = format!("{JOB_SELECT} WHERE j.id IN ({})", ph.join(","));
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

    /// One page of jobs and the number of all matching jobs.
    pub async fn list_jobs(&self, q: &JobQuery) -> Result<(Vec<JobRecord>, i64), sqlx::Error> {
        self.list_jobs_sorting_at_most(q, FEW_FOR_FOOTPRINT_SORT)
            .await
    }

    /// `list_jobs`, with the number of matches up to which a footprint sort sorts them
    /// all (`FEW_FOR_FOOTPRINT_SORT`) given, so tests read both ways over a few jobs.
    pub async fn list_jobs_sorting_at_most(
        &self,
        q: &JobQuery,
        few_max: i64,
    ) -> Result<(Vec<JobRecord>, i64), sqlx::Error> {
        let w = self.where_for(&q.filter).await?;
        let page = Page {
            limit: q.per_page,
            offset: (q.page - 1).saturating_mul(q.per_page),
        };
        let (mut jobs, total) = if let SortField::Footprint(name) = &q.sort.field {
            let matches = self.matches(&q.filter, &w).await?;
            let by = ByValue {
                name,
                descending: q.sort.descending,
            };
            let ids = self
                .footprint_page(&q.filter, &w, by, matches, page, few_max)
                .await?;
            let mut jobs = self.jobs_by_ids(&ids).await?;
            jobs.sort_by_key(|j| ids.iter().position(|id| *id == j.id));
            (jobs, matches.count)
        } else if w.is_empty() {
            (self.page(w, &q.sort, page).await?, self.job_count().await?)
        } else {
            let sql = format!("SELECT COUNT(*) FROM job j{}", w.sql());
            let total = self.count(sql, w.clone()).await?;
            (self.page(w, &q.sort, page).await?, total)
        };
        if !q.with_metadata {
            for j in &mut jobs {
                j.meta_data = None;
            }
        }
        Ok((jobs, total))
    }

    async fn page(
        &self,
        mut w: Where,
        sort: &Sort,
        page: Page,
    ) -> Result<Vec<JobRecord>, sqlx::Error> {
        let (l, o) = (w.bind(page.limit), w.bind(page.offset));
        let sql = format!(
            "{JOB_SELECT}{}{} LIMIT {l} OFFSET {o}",
            w.sql(),
            order_by(sort)
        );
        let rows = bind_all(sqlx::query(&sql), w.vals)
            .fetch_all(&self.pool)
            .await?;
        self.with_tags(rows.iter().map(job_from_row).collect::<Result<_, _>>()?)
            .await
    }

    /// How many job instances the ledger holds, as the triggers of migration 0012 keep
    /// it: counting ten million rows on every unfiltered page took a quarter of a second.
    pub async fn job_count(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM job_total")
            .fetch_one(&self.pool)
            .await
    }

    /// Those of `ids` that match `filter`, for the live event stream.
    pub async fn jobs_matching(
        &self,
        ids: &[i64],
        filter: &JobFilter,
    ) -> Result<Vec<JobRecord>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut w = self.where_for(filter).await?;
        let list: Vec<String> = ids.iter().map(|id| w.bind(*id)).collect();
        w.push(format!("j.id IN ({})", list.join(",")));
        let sql = format!("{JOB_SELECT}{} ORDER BY j.id", w.sql());
        let rows = bind_all(sqlx::query(&sql), w.vals)
            .fetch_all(&self.pool)
            .await?;
        self.with_tags(rows.iter().map(job_from_row).collect::<Result<_, _>>()?)
            .await
    }

    /// The WHERE clause of `filter`, with what it needs to know of the data.
    pub(super) async fn where_for(&self, filter: &JobFilter) -> Result<Where, sqlx::Error> {
        let extent = match (filter.time, filter.stop_time) {
            (None, None) => Extent::default(),
            _ => self.extent().await?,
        };
        Ok(where_clause(filter, self.backend, extent))
    }

    /// Index-end lookups only: each subquery reads one end of one index.
    pub(super) async fn extent(&self) -> Result<Extent, sqlx::Error> {
        let row = sqlx::query(
            "SELECT (SELECT max_duration FROM job_extent), \
             (SELECT MIN(start_time) FROM job WHERE job_state = 'running'), \
             (SELECT MIN(start_time) FROM job), (SELECT MAX(start_time) FROM job)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Extent {
            max_duration: row.try_get::<Option<i64>, _>(0)?.unwrap_or(0),
            oldest_running: row.try_get(1)?,
            first_start: row.try_get(2)?,
            last_start: row.try_get(3)?,
        })
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
