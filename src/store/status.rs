//! Reads about the state around the jobs: nodes, rejected events, queue gauges.

use super::values::{bind_all, Val};
use super::Store;
use serde::Serialize;
use sqlx::Row;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeRecord {
    pub cluster: String,
    pub hostname: String,
    pub node_state: String,
    pub flags: Vec<String>,
    pub cpus_allocated: Option<i64>,
    pub memory_allocated: Option<i64>,
    pub gpus_allocated: Option<i64>,
    pub jobs_running: Option<i64>,
    pub cpus_total: Option<i64>,
    pub memory_total: Option<i64>,
    pub gpus_total: Option<i64>,
    /// When the state or flags last changed (unix s).
    pub state_since: i64,
    /// When the node last reported (unix s).
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RejectedRecord {
    pub id: i64,
    pub received_at: i64,
    pub subject: String,
    pub kind: String,
    pub reason: String,
    /// The raw line, lossily decoded for reading; `rawBytes` says how long it really is.
    pub raw: String,
    pub raw_bytes: usize,
}

/// Gauges read from the database at scrape time, so every process reports the truth.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    pub held_stops: i64,
    pub running_jobs: i64,
    pub archive_waiting: i64,
    pub archive_failed: i64,
}

impl Store {
    pub async fn list_nodes(
        &self,
        cluster: Option<&str>,
        state: Option<&str>,
    ) -> Result<Vec<NodeRecord>, sqlx::Error> {
        let mut clauses = Vec::new();
        let mut vals: Vec<Val> = Vec::new();
        if let Some(c) = cluster {
            vals.push(c.into());
            clauses.push(format!("cluster = ${}", vals.len()));
        }
        if let Some(s) = state {
            vals.push(s.into());
            clauses.push(format!("node_state = ${}", vals.len()));
        }
        let where_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        let sql = format!(
            "SELECT cluster, hostname, node_state, flags, cpus_allocated, memory_allocated, \
             gpus_allocated, jobs_running, cpus_total, memory_total, gpus_total, state_since, \
             updated_at FROM node{where_sql} ORDER BY cluster, hostname"
        );
        let rows = bind_all(sqlx::query(&sql), vals)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let flags: String = r.try_get("flags")?;
                Ok(NodeRecord {
                    cluster: r.try_get("cluster")?,
                    hostname: r.try_get("hostname")?,
                    node_state: r.try_get("node_state")?,
                    flags: flags
                        .split(',')
                        .filter(|f| !f.is_empty())
                        .map(String::from)
                        .collect(),
                    cpus_allocated: r.try_get("cpus_allocated")?,
                    memory_allocated: r.try_get("memory_allocated")?,
                    gpus_allocated: r.try_get("gpus_allocated")?,
                    jobs_running: r.try_get("jobs_running")?,
                    cpus_total: r.try_get("cpus_total")?,
                    memory_total: r.try_get("memory_total")?,
                    gpus_total: r.try_get("gpus_total")?,
                    state_since: r.try_get("state_since")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Number of history rows of one node; the API does not serve history yet.
    pub async fn node_history_len(
        &self,
        cluster: &str,
        hostname: &str,
    ) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM node_state_history WHERE cluster = $1 AND hostname = $2",
        )
        .bind(cluster)
        .bind(hostname)
        .fetch_one(&self.pool)
        .await
    }

    /// Rejected events by id (for the event stream).
    pub async fn rejected_by_ids(&self, ids: &[i64]) -> Result<Vec<RejectedRecord>, sqlx::Error> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let ph: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT id, received_at, subject, kind, reason, raw FROM rejected_event \
                 WHERE id IN ({}) ORDER BY id",
                ph.join(",")
            );
            let vals = chunk.iter().map(|i| Val::from(*i)).collect();
            for r in bind_all(sqlx::query(&sql), vals)
                .fetch_all(&self.pool)
                .await?
            {
                out.push(rejected_from_row(&r)?);
            }
        }
        Ok(out)
    }

    /// Rejected events, newest first, and how many there are in all.
    pub async fn list_rejected(
        &self,
        page: i64,
        per_page: i64,
    ) -> Result<(Vec<RejectedRecord>, i64), sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, received_at, subject, kind, reason, raw FROM rejected_event \
             ORDER BY id DESC LIMIT $1 OFFSET $2",
        )
        .bind(per_page)
        .bind((page - 1).saturating_mul(per_page))
        .fetch_all(&self.pool)
        .await?;
        let events = rows
            .iter()
            .map(rejected_from_row)
            .collect::<Result<_, sqlx::Error>>()?;
        let total = sqlx::query_scalar("SELECT COUNT(*) FROM rejected_event")
            .fetch_one(&self.pool)
            .await?;
        Ok((events, total))
    }

    pub async fn gauges(&self) -> Result<Gauges, sqlx::Error> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM held_stop), \
             (SELECT COUNT(*) FROM job WHERE job_state = 'running'), \
             (SELECT COUNT(*) FROM job WHERE monitoring_status = 1 AND job_state <> 'running'), \
             (SELECT COUNT(*) FROM job WHERE monitoring_status = 2)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Gauges {
            held_stops: row.try_get(0)?,
            running_jobs: row.try_get(1)?,
            archive_waiting: row.try_get(2)?,
            archive_failed: row.try_get(3)?,
        })
    }
}

fn rejected_from_row(r: &sqlx::any::AnyRow) -> Result<RejectedRecord, sqlx::Error> {
    let raw: Vec<u8> = r.try_get("raw")?;
    Ok(RejectedRecord {
        id: r.try_get("id")?,
        received_at: r.try_get("received_at")?,
        subject: r.try_get("subject")?,
        kind: r.try_get("kind")?,
        reason: r.try_get("reason")?,
        raw: String::from_utf8_lossy(&raw).into_owned(),
        raw_bytes: raw.len(),
    })
}
