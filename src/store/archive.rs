//! The archive queue is the job table itself: stopped jobs with monitoring_status 1.
//!
//! Claims are leases (token + expiry) taken in one short statement, so no transaction is
//! held while files are written, and SQLite's single writer is never blocked by I/O.
//! Several processes never work on the same job at once; a crashed process's lease
//! expires and the job is archived again, to identical files.

use super::query::JobRecord;
use super::write::insert_new;
use super::{ApplyError, Store};
use crate::domain::rules::{InstanceKey, NewJob};
use serde::Serialize;
use sqlx::Row;

/// One archived job, for `jobledger archive list` and `verify`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchivedJob {
    pub id: i64,
    pub job_id: i64,
    pub cluster: String,
    pub start_time: i64,
    pub user: String,
    pub project: String,
    pub location: String,
}

/// A job written to the archive: where, and what archiving computed for its row (`None`:
/// left as it is).
#[derive(Debug, Clone)]
pub struct Archived {
    pub id: i64,
    pub location: String,
    /// JSON objects.
    pub footprint: Option<String>,
    pub energy_footprint: Option<String>,
    /// kWh.
    pub energy: Option<f64>,
    /// A JSON merge patch (RFC 7396) of the job's metadata: keys to set, `null` for keys
    /// to remove. A patch, not the whole object, so that an edit made while the job was
    /// being archived is kept.
    pub meta_patch: Option<String>,
}

impl Archived {
    /// Only the location: a job archived without metric data keeps its row as it is.
    pub fn location(id: i64, location: String) -> Archived {
        Archived {
            id,
            location,
            footprint: None,
            energy_footprint: None,
            energy: None,
            meta_patch: None,
        }
    }
}

/// Filters of `jobledger archive list`.
#[derive(Debug, Default, Clone)]
pub struct ArchiveFilter {
    pub cluster: Option<String>,
    pub user: Option<String>,
    pub project: Option<String>,
    pub tag: Option<(String, String)>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// A job read from an existing archive: stopped, and already where `location` says.
#[derive(Debug, Clone)]
pub struct ImportedJob {
    pub job: NewJob,
    pub location: String,
}

impl Store {
    /// Insert archived jobs with monitoringStatus 3; instances already present are left
    /// alone. Returns (inserted, already present).
    pub async fn archive_import(
        &self,
        jobs: &[ImportedJob],
        now: i64,
    ) -> Result<(usize, usize), ApplyError> {
        let mut tx = self.begin_read_write().await?;
        let mut new = Vec::new();
        for j in jobs {
            let exists: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM job WHERE job_id = $1 AND cluster = $2 AND start_time = $3",
            )
            .bind(j.job.job.job_id)
            .bind(&j.job.job.cluster)
            .bind(j.job.job.start_time)
            .fetch_optional(&mut *tx)
            .await?;
            if exists.is_none() {
                new.push(j);
            }
        }
        let rows: Vec<NewJob> = new.iter().map(|j| j.job.clone()).collect();
        let ids = insert_new(&mut tx, &rows).await?;
        for j in &new {
            let key = InstanceKey::of(&j.job.job);
            sqlx::query(
                "UPDATE job SET monitoring_status = 3, archive_location = $1, archived_at = $2 WHERE id = $3",
            )
            .bind(&j.location)
            .bind(now)
            .bind(ids.get(&key).copied())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok((new.len(), jobs.len() - new.len()))
    }

    /// Claim up to `limit` waiting jobs that stopped by `stopped_by` for `lease_until`;
    /// returns them as the API shows them.
    pub async fn archive_claim(
        &self,
        token: &str,
        now: i64,
        stopped_by: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<JobRecord>, sqlx::Error> {
        let free = "(archive_lease_until IS NULL OR archive_lease_until < $2)";
        let sql = format!(
            "UPDATE job SET archive_lease = $1, archive_lease_until = $3 \
             WHERE id IN (SELECT id FROM job WHERE monitoring_status = 1 AND job_state <> 'running' \
                          AND archive_next_try <= $2 AND stop_time <= $5 AND {free} ORDER BY id LIMIT $4) \
             AND monitoring_status = 1 AND {free} RETURNING id"
        );
        let ids: Vec<i64> = sqlx::query(&sql)
            .bind(token)
            .bind(now)
            .bind(lease_until)
            .bind(limit)
            .bind(stopped_by)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        self.jobs_by_ids(&ids).await
    }

    /// Free the leases whose token starts with `owner/`: those of an earlier run of the
    /// same deployment, which cannot still be working on them. Returns how many.
    pub async fn archive_release(&self, owner: &str) -> Result<u64, sqlx::Error> {
        let prefix = format!("{owner}/");
        let done = sqlx::query(
            "UPDATE job SET archive_lease = NULL, archive_lease_until = NULL \
             WHERE monitoring_status = 1 AND archive_lease_until IS NOT NULL \
             AND substr(archive_lease, 1, length($1)) = $1",
        )
        .bind(prefix)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Record archived jobs, each only while `token` still holds its lease, in one
    /// statement per chunk. Returns the ids recorded.
    pub async fn archive_done(
        &self,
        token: &str,
        done: &[Archived],
        now: i64,
    ) -> Result<Vec<i64>, sqlx::Error> {
        use super::values::{placeholders, Style, Val};
        const COLS: usize = 6;
        let mut conn = self.pool.acquire().await?;
        let style = super::values::style(&conn);
        let mut recorded = Vec::with_capacity(done.len());
        for chunk in done.chunks(500) {
            // Placeholders in text order: now, the VALUES rows, token.
            let (now_p, rows, token_p) = match style {
                Style::Question => (
                    "?".to_string(),
                    placeholders(style, chunk.len(), COLS),
                    "?".to_string(),
                ),
                Style::Dollar => {
                    let rows: Vec<String> = (0..chunk.len())
                        .map(|i| {
                            let p = 2 + COLS * i;
                            format!(
                                "(${p}::BIGINT,${},${},${},${}::DOUBLE PRECISION,${})",
                                p + 1,
                                p + 2,
                                p + 3,
                                p + 4,
                                p + 5
                            )
                        })
                        .collect();
                    (
                        "$1".into(),
                        rows.join(","),
                        format!("${}", 2 + COLS * chunk.len()),
                    )
                }
            };
            // What archiving did not compute stays as the job had it. SQLite's json_patch
            // is RFC 7396; Postgres removes the patch's keys, then adds those not null.
            let meta = match style {
                Style::Question => "json_patch(job.meta_data, v.column6)",
                Style::Dollar => {
                    "((job.meta_data::jsonb - ARRAY(SELECT jsonb_object_keys(v.column6::jsonb))) \
                     || jsonb_strip_nulls(v.column6::jsonb))::text"
                }
            };
            let sql = format!(
                "UPDATE job SET monitoring_status = 3, archive_location = v.column2, archived_at = {now_p}, \
                 archive_error = NULL, archive_lease = NULL, archive_lease_until = NULL, \
                 footprint = COALESCE(v.column3, job.footprint), \
                 energy_footprint = COALESCE(v.column4, job.energy_footprint), \
                 energy = COALESCE(v.column5, job.energy), meta_data = COALESCE({meta}, job.meta_data) \
                 FROM (VALUES {rows}) AS v WHERE job.id = v.column1 AND job.archive_lease = {token_p} \
                 AND job.monitoring_status = 1 RETURNING job.id"
            );
            let mut vals: Vec<Val> = vec![now.into()];
            for a in chunk {
                vals.push(a.id.into());
                vals.push(a.location.as_str().into());
                vals.push(a.footprint.clone().into());
                vals.push(a.energy_footprint.clone().into());
                vals.push(a.energy.into());
                vals.push(a.meta_patch.clone().into());
            }
            vals.push(token.into());
            for row in super::values::bind_all(sqlx::query(&sql), vals)
                .fetch_all(&mut *conn)
                .await?
            {
                recorded.push(row.try_get(0)?);
            }
        }
        Ok(recorded)
    }

    /// Record a failed write: retry after `next_try`, or give up (status 2) after
    /// `max_attempts`. Returns true if the job gave up.
    pub async fn archive_failed(
        &self,
        token: &str,
        id: i64,
        error: &str,
        next_try: i64,
        max_attempts: i64,
    ) -> Result<bool, sqlx::Error> {
        let row = sqlx::query(
            "UPDATE job SET archive_attempts = archive_attempts + 1, archive_error = $1, \
             archive_next_try = $2, archive_lease = NULL, archive_lease_until = NULL, \
             monitoring_status = CASE WHEN archive_attempts + 1 >= $3 THEN 2 ELSE 1 END \
             WHERE id = $4 AND archive_lease = $5 RETURNING monitoring_status",
        )
        .bind(error)
        .bind(next_try)
        .bind(max_attempts)
        .bind(id)
        .bind(token)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => r.try_get::<i64, _>(0)? == 2,
            None => false,
        })
    }

    /// Attempts made so far for one job (for backoff).
    pub async fn archive_attempts(&self, id: i64) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT archive_attempts FROM job WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await
    }

    /// Delete node-state history older than `before` (unix s). Returns rows deleted.
    pub async fn forget_node_history(&self, before: i64) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("DELETE FROM node_state_history WHERE time < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Remove up to `limit` archived jobs that stopped before `before`; their tags go with
    /// them. Returns how many. Small chunks keep each transaction short.
    pub async fn forget_archived_jobs(&self, before: i64, limit: i64) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "DELETE FROM job WHERE id IN (SELECT id FROM job WHERE monitoring_status = 3 \
             AND stop_time < $1 ORDER BY id LIMIT $2)",
        )
        .bind(before)
        .bind(limit)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Put failed jobs (one, or all) back in the queue. Returns how many.
    pub async fn archive_requeue(&self, job: Option<i64>) -> Result<u64, sqlx::Error> {
        let sql =
            "UPDATE job SET monitoring_status = 1, archive_attempts = 0, archive_next_try = 0, \
                   archive_error = NULL WHERE monitoring_status = 2 AND ($1 IS NULL OR id = $1)";
        let done = sqlx::query(sql).bind(job).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    /// Archived jobs, newest start first, from the database alone (no directory walk).
    pub async fn archive_list(&self, f: &ArchiveFilter) -> Result<Vec<ArchivedJob>, sqlx::Error> {
        let mut sql = String::from(
            "SELECT id, job_id, cluster, start_time, user_name, project, archive_location FROM job j \
             WHERE monitoring_status = 3",
        );
        let mut binds: Vec<super::values::Val> = Vec::new();
        let mut add = |clause: &str, v: super::values::Val| {
            binds.push(v);
            sql.push_str(&clause.replace("$?", &format!("${}", binds.len())));
        };
        if let Some(c) = &f.cluster {
            add(" AND cluster = $?", c.as_str().into());
        }
        if let Some(u) = &f.user {
            add(" AND user_name = $?", u.as_str().into());
        }
        if let Some(p) = &f.project {
            add(" AND project = $?", p.as_str().into());
        }
        if let Some(t) = f.from {
            add(" AND start_time >= $?", t.into());
        }
        if let Some(t) = f.to {
            add(" AND start_time <= $?", t.into());
        }
        if let Some((ty, name)) = &f.tag {
            add(" AND EXISTS (SELECT 1 FROM job_tag jt JOIN tag t ON t.id = jt.tag_id WHERE jt.job_id = j.id AND t.tag_type = $?", ty.as_str().into());
            add(" AND t.tag_name = $?)", name.as_str().into());
        }
        sql.push_str(" ORDER BY start_time DESC, id DESC");
        let rows = super::values::bind_all(sqlx::query(&sql), binds)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ArchivedJob {
                    id: r.try_get(0)?,
                    job_id: r.try_get(1)?,
                    cluster: r.try_get(2)?,
                    start_time: r.try_get(3)?,
                    user: r.try_get(4)?,
                    project: r.try_get(5)?,
                    location: r.try_get::<Option<String>, _>(6)?.unwrap_or_default(),
                })
            })
            .collect()
    }
}
