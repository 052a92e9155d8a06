//! Writing what the rules decided: updates of stored instances first, then multi-row
//! inserts of new instances, tags, held stops and rejections. Every update and delete
//! checks that it still hit the row the rules read (`ApplyError::Stale` otherwise).

use super::fault::ApplyError;
use super::now;
use super::values::{bind_all, chunk_rows, placeholders, style, Val};
use crate::domain::change::{Change, ChangeKind};
use crate::domain::job::Tag;
use crate::domain::rules::{Changes, HeldStop, InstanceKey, NewJob, Rejection};
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

/// What a write did: the ids of new instances, and every change for the event stream.
#[derive(Debug, Default)]
pub(super) struct Written {
    pub ids: HashMap<InstanceKey, i64>,
    pub changes: Vec<Change>,
}

pub(super) async fn write(conn: &mut AnyConnection, c: Changes) -> Result<Written, ApplyError> {
    let mut changes = Vec::new();
    // Stops first: a requeued instance may only be inserted once the database sees the
    // previous one stopped (one running instance per job, enforced by an index).
    let t = now();
    for s in &c.stops {
        let done = sqlx::query(
            "UPDATE job SET job_state = $1, stop_time = $2, duration = $3, updated_at = $4 \
             WHERE id = $5 AND job_state = 'running'",
        )
        .bind(s.state.as_str())
        .bind(s.stop_time)
        .bind(s.duration)
        .bind(t)
        .bind(s.db_id)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() != 1 {
            return Err(ApplyError::Stale);
        }
        changes.push(Change {
            kind: ChangeKind::Stopped,
            id: s.db_id,
        });
    }
    raise_max_duration(conn, c.stops.iter().map(|s| s.duration).max()).await?;
    let ids = insert_new(conn, &c.new_jobs).await?;
    for n in &c.new_jobs {
        let key = InstanceKey::of(&n.job);
        let id = *ids.get(&key).ok_or(ApplyError::Stale)?;
        changes.push(Change {
            kind: ChangeKind::Started,
            id,
        });
        if n.stop_time.is_some() {
            changes.push(Change {
                kind: ChangeKind::Stopped,
                id,
            });
        }
    }
    for id in &c.deleted_held {
        let done = sqlx::query("DELETE FROM held_stop WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        if done.rows_affected() != 1 {
            return Err(ApplyError::Stale);
        }
    }
    insert_held(conn, &c.new_held).await?;
    for id in insert_rejections(conn, &c.rejections).await? {
        changes.push(Change {
            kind: ChangeKind::Rejected,
            id,
        });
    }
    Ok(Written { ids, changes })
}

const JOB_COLS: &str = "job_id, cluster, start_time, sub_cluster, partition, project, user_name, \
    shared, job_state, stop_time, duration, walltime, requested_memory, submit_time, array_job_id, \
    smt, monitoring_status, num_nodes, num_hwthreads, num_acc, energy, resources, meta_data, \
    footprint, energy_footprint, created_at, updated_at, job_name";
const JOB_NCOLS: usize = 28;

fn job_values(n: &NewJob, t: i64, out: &mut Vec<Val>) {
    let j = &n.job;
    out.extend([
        j.job_id.into(),
        j.cluster.as_str().into(),
        j.start_time.into(),
        j.sub_cluster.as_str().into(),
        j.partition.as_str().into(),
        j.project.as_str().into(),
        j.user.as_str().into(),
        j.shared.into(),
        n.state.as_str().into(),
        n.stop_time.into(),
        n.stop_time.map_or(0, |s| s - j.start_time).into(),
        j.walltime.into(),
        j.requested_memory.into(),
        j.submit_time.into(),
        j.array_job_id.into(),
        j.smt.into(),
        j.monitoring_status.into(),
        j.num_nodes.into(),
        j.num_hwthreads.into(),
        j.num_acc.into(),
        j.energy.into(),
        json(&j.resources).into(),
        json(&j.meta_data).into(),
        json(&j.footprint).into(),
        json(&j.energy_footprint).into(),
        t.into(),
        t.into(),
        j.meta_data
            .get("jobName")
            .cloned()
            .unwrap_or_default()
            .into(),
    ]);
}

/// Serialising these plain maps and vectors of strings and numbers cannot fail.
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Insert new instances, their tags and their node index rows; returns their ids.
pub(super) async fn insert_new(
    conn: &mut AnyConnection,
    jobs: &[NewJob],
) -> Result<HashMap<InstanceKey, i64>, ApplyError> {
    let ids = insert_jobs(conn, jobs).await?;
    insert_tags(conn, jobs, &ids).await?;
    insert_job_nodes(conn, jobs, &ids).await?;
    let longest = jobs
        .iter()
        .filter_map(|n| n.stop_time.map(|s| s - n.job.start_time))
        .max();
    raise_max_duration(conn, longest).await?;
    Ok(ids)
}

/// Keep `job_extent.max_duration` at least the longest stopped job: time windows use it
/// to bound how early a job they overlap can have started. One statement per batch, and
/// none unless a job outlasts every earlier one.
async fn raise_max_duration(
    conn: &mut AnyConnection,
    longest: Option<i64>,
) -> Result<(), ApplyError> {
    if let Some(d) = longest.filter(|d| *d > 0) {
        sqlx::query("UPDATE job_extent SET max_duration = $1 WHERE id = 1 AND max_duration < $1")
            .bind(d)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// One `job_node` row per host of each new job, so "jobs on node X" is an index lookup.
async fn insert_job_nodes(
    conn: &mut AnyConnection,
    jobs: &[NewJob],
    ids: &HashMap<InstanceKey, i64>,
) -> Result<(), ApplyError> {
    const COLS: usize = 3;
    let mut rows: Vec<Val> = Vec::new();
    for n in jobs {
        let key = InstanceKey::of(&n.job);
        let id = *ids.get(&key).ok_or(ApplyError::Stale)?;
        // Slurm keeps a host listed twice as twice; the index needs it once.
        let mut hosts: Vec<&str> = n
            .job
            .resources
            .iter()
            .map(|r| r.hostname.as_str())
            .collect();
        hosts.sort_unstable();
        hosts.dedup();
        for h in hosts {
            rows.extend([id.into(), h.into(), n.job.start_time.into()]);
        }
    }
    for chunk in rows.chunks(chunk_rows(COLS) * COLS) {
        let sql = format!(
            "INSERT INTO job_node (job_ref, hostname, start_time) VALUES {}",
            placeholders(style(conn), chunk.len() / COLS, COLS)
        );
        bind_all(sqlx::query(&sql), chunk.to_vec())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn insert_jobs(
    conn: &mut AnyConnection,
    jobs: &[NewJob],
) -> Result<HashMap<InstanceKey, i64>, ApplyError> {
    let mut ids = HashMap::with_capacity(jobs.len());
    let t = now();
    for chunk in jobs.chunks(chunk_rows(JOB_NCOLS)) {
        let sql = format!(
            "INSERT INTO job ({JOB_COLS}) VALUES {} RETURNING id, job_id, cluster, start_time",
            placeholders(style(conn), chunk.len(), JOB_NCOLS)
        );
        let mut vals = Vec::with_capacity(chunk.len() * JOB_NCOLS);
        for n in chunk {
            job_values(n, t, &mut vals);
        }
        for row in bind_all(sqlx::query(&sql), vals)
            .fetch_all(&mut *conn)
            .await?
        {
            let key = InstanceKey {
                cluster: row.try_get("cluster")?,
                job_id: row.try_get("job_id")?,
                start_time: row.try_get("start_time")?,
            };
            ids.insert(key, row.try_get("id")?);
        }
    }
    Ok(ids)
}

async fn insert_tags(
    conn: &mut AnyConnection,
    jobs: &[NewJob],
    ids: &HashMap<InstanceKey, i64>,
) -> Result<(), ApplyError> {
    let mut tag_ids: HashMap<&Tag, i64> = HashMap::new();
    for n in jobs.iter().filter(|n| !n.job.tags.is_empty()) {
        let key = InstanceKey::of(&n.job);
        let job_db_id = *ids.get(&key).ok_or(ApplyError::Stale)?;
        for tag in &n.job.tags {
            let tag_id = if let Some(id) = tag_ids.get(tag) {
                *id
            } else {
                let id = tag_id(conn, tag).await?;
                tag_ids.insert(tag, id);
                id
            };
            sqlx::query(
                "INSERT INTO job_tag (job_id, tag_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(job_db_id)
            .bind(tag_id)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// The id of a tag, creating it if needed.
pub(super) async fn tag_id(conn: &mut AnyConnection, tag: &Tag) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "INSERT INTO tag (tag_type, tag_name, tag_scope) VALUES ($1, $2, $3) \
         ON CONFLICT (tag_type, tag_name, tag_scope) DO NOTHING",
    )
    .bind(&tag.tag_type)
    .bind(&tag.name)
    .bind(&tag.scope)
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar(
        "SELECT id FROM tag WHERE tag_type = $1 AND tag_name = $2 AND tag_scope = $3",
    )
    .bind(&tag.tag_type)
    .bind(&tag.name)
    .bind(&tag.scope)
    .fetch_one(&mut *conn)
    .await
}

async fn insert_held(conn: &mut AnyConnection, held: &[HeldStop]) -> Result<(), ApplyError> {
    const COLS: usize = 9;
    for chunk in held.chunks(chunk_rows(COLS)) {
        let sql = format!(
            "INSERT INTO held_stop (job_id, cluster, start_time, job_state, stop_time, subject, raw, \
             received_at, source_key) VALUES {} ON CONFLICT (source_key) DO NOTHING",
            placeholders(style(conn), chunk.len(), COLS)
        );
        let mut vals = Vec::with_capacity(chunk.len() * COLS);
        for h in chunk {
            vals.extend([
                h.stop.job_id.into(),
                h.stop.cluster.clone().into(),
                h.stop.start_time.into(),
                h.stop.state.as_str().into(),
                h.stop.stop_time.into(),
                h.origin.subject.as_str().into(),
                h.origin.raw.clone().into(),
                h.origin.received_at.into(),
                h.origin.source_key.clone().into(),
            ]);
        }
        bind_all(sqlx::query(&sql), vals)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Returns the ids of the rows inserted (a redelivered rejection inserts none).
async fn insert_rejections(
    conn: &mut AnyConnection,
    rejections: &[Rejection],
) -> Result<Vec<i64>, ApplyError> {
    const COLS: usize = 6;
    let mut ids = Vec::new();
    for chunk in rejections.chunks(chunk_rows(COLS)) {
        let sql = format!(
            "INSERT INTO rejected_event (received_at, subject, kind, reason, raw, source_key) \
             VALUES {} ON CONFLICT (source_key) DO NOTHING RETURNING id",
            placeholders(style(conn), chunk.len(), COLS)
        );
        let mut vals = Vec::with_capacity(chunk.len() * COLS);
        for r in chunk {
            vals.extend([
                r.origin.received_at.into(),
                r.origin.subject.as_str().into(),
                r.kind.as_str().into(),
                r.reason.as_str().into(),
                r.origin.raw.clone().into(),
                r.origin.source_key.clone().into(),
            ]);
        }
        for row in bind_all(sqlx::query(&sql), vals)
            .fetch_all(&mut *conn)
            .await?
        {
            ids.push(row.try_get(0)?);
        }
    }
    Ok(ids)
}
