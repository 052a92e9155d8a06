//! Node metrics in the database: series, their compressed chunks, and the stream position
//! up to which every sample is in a chunk. The chunks are opaque bytes here; the caller
//! says how two versions of one chunk merge.

use super::values::{bind_all, list, metric_filter, placeholder, placeholders, style, Val};
use super::Store;
use crate::domain::metric::{Scope, SeriesKey};
use sqlx::Row;
use std::collections::{HashMap, HashSet};

/// One chunk to store.
pub struct ChunkRow {
    pub series_id: i64,
    pub start: i64,
    pub timestep: i64,
    pub data: Vec<u8>,
}

/// One stored chunk, with the series it belongs to.
pub struct StoredChunk {
    pub key: SeriesKey,
    pub start: i64,
    pub timestep: i64,
    pub data: Vec<u8>,
}

/// What a commit did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stored {
    pub inserted: usize,
    /// Chunks already there (late samples, another process, a replay), merged.
    pub merged: usize,
    pub bytes: usize,
}

const SERIES_COLS: &str = "id, cluster, host, metric, scope, scope_id, stype, stype_id";

fn series_key(r: &sqlx::any::AnyRow) -> Result<(i64, SeriesKey), sqlx::Error> {
    let scope: String = r.try_get(4)?;
    let scope = Scope::parse(&scope).ok_or_else(|| {
        sqlx::Error::Decode(format!("metric_series.scope {scope:?} is not a scope").into())
    })?;
    Ok((
        r.try_get(0)?,
        SeriesKey {
            cluster: r.try_get(1)?,
            host: r.try_get(2)?,
            metric: r.try_get(3)?,
            scope,
            scope_id: r.try_get(5)?,
            stype: r.try_get(6)?,
            stype_id: r.try_get(7)?,
        },
    ))
}

impl Store {
    /// Where reading the metric stream resumes; `None` before the first commit.
    pub async fn metric_position(&self, stream: &str) -> Result<Option<u64>, sqlx::Error> {
        let seq: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM metric_position WHERE stream = $1")
                .bind(stream)
                .fetch_optional(&self.pool)
                .await?;
        Ok(seq.map(|s| u64::try_from(s).unwrap_or(0)))
    }

    /// The database ids of `keys` (same order), made for those that have none yet.
    pub async fn metric_series_ids(&self, keys: &[SeriesKey]) -> Result<Vec<i64>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let style = style(&conn);
        for part in keys.chunks(500) {
            let sql = format!(
                "INSERT INTO metric_series (cluster, host, metric, scope, scope_id, stype, stype_id) \
                 VALUES {} ON CONFLICT DO NOTHING",
                placeholders(style, part.len(), 7)
            );
            let mut vals = Vec::with_capacity(part.len() * 7);
            for k in part {
                vals.extend([
                    Val::from(k.cluster.as_str()),
                    k.host.as_str().into(),
                    k.metric.as_str().into(),
                    k.scope.name().into(),
                    k.scope_id.as_str().into(),
                    k.stype.as_str().into(),
                    k.stype_id.as_str().into(),
                ]);
            }
            bind_all(sqlx::query(&sql), vals)
                .execute(&mut *conn)
                .await?;
        }
        // Read the ids back node by node: few statements, whoever made the rows.
        let mut nodes: Vec<(&str, &str)> = keys
            .iter()
            .map(|k| (k.cluster.as_str(), k.host.as_str()))
            .collect();
        nodes.sort_unstable();
        nodes.dedup();
        let mut ids = std::collections::HashMap::new();
        for (cluster, host) in nodes {
            let rows = sqlx::query(&format!(
                "SELECT {SERIES_COLS} FROM metric_series WHERE cluster = $1 AND host = $2"
            ))
            .bind(cluster)
            .bind(host)
            .fetch_all(&mut *conn)
            .await?;
            for r in &rows {
                let (id, key) = series_key(r)?;
                ids.insert(key, id);
            }
        }
        keys.iter()
            .map(|k| {
                ids.get(k).copied().ok_or_else(|| {
                    sqlx::Error::Protocol(format!("metric series {k:?} was not stored"))
                })
            })
            .collect()
    }

    /// Store `rows` and move the stream position to `position` (never backwards), in one
    /// transaction. A chunk already stored is read and merged with `merge(old, new)`
    /// (`None`: nothing changes).
    pub async fn store_chunks(
        &self,
        rows: Vec<ChunkRow>,
        stream: &str,
        position: u64,
        merge: impl Fn(&[u8], &[u8]) -> Option<Vec<u8>>,
    ) -> Result<Stored, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let style = style(&tx);
        let mut out = Stored::default();
        for part in rows.chunks(500) {
            let sql = format!(
                "INSERT INTO metric_chunk (series_id, start, timestep, data) VALUES {} \
                 ON CONFLICT DO NOTHING RETURNING series_id, start",
                placeholders(style, part.len(), 4)
            );
            let mut vals = Vec::with_capacity(part.len() * 4);
            for r in part {
                vals.extend([
                    Val::from(r.series_id),
                    r.start.into(),
                    r.timestep.into(),
                    r.data.clone().into(),
                ]);
            }
            let inserted: HashSet<(i64, i64)> = bind_all(sqlx::query(&sql), vals)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, sqlx::Error>>()?;
            out.inserted += inserted.len();
            for r in part {
                if inserted.contains(&(r.series_id, r.start)) {
                    out.bytes += r.data.len();
                    continue;
                }
                let old: Vec<u8> = sqlx::query_scalar(
                    "SELECT data FROM metric_chunk WHERE series_id = $1 AND start = $2",
                )
                .bind(r.series_id)
                .bind(r.start)
                .fetch_one(&mut *tx)
                .await?;
                out.merged += 1;
                if let Some(data) = merge(&old, &r.data) {
                    out.bytes += data.len();
                    let done = sqlx::query(
                        "UPDATE metric_chunk SET data = $1 WHERE series_id = $2 AND start = $3",
                    )
                    .bind(data)
                    .bind(r.series_id)
                    .bind(r.start)
                    .execute(&mut *tx)
                    .await?;
                    // Compaction replaced the row meanwhile: try the whole commit again.
                    if done.rows_affected() != 1 {
                        return Err(sqlx::Error::RowNotFound);
                    }
                }
            }
        }
        sqlx::query(
            "INSERT INTO metric_position (stream, seq) VALUES ($1, $2) ON CONFLICT (stream) DO UPDATE \
             SET seq = CASE WHEN excluded.seq > metric_position.seq THEN excluded.seq ELSE metric_position.seq END",
        )
        .bind(stream)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(out)
    }

    /// The stored chunks of `cluster`'s series on `hosts` for `metrics` (all if empty)
    /// that may hold samples in `[from, to]`; `window`: the seconds one chunk covers.
    pub async fn metric_chunks(
        &self,
        cluster: &str,
        hosts: &[String],
        metrics: &[String],
        range: (i64, i64),
        window: i64,
    ) -> Result<Vec<StoredChunk>, sqlx::Error> {
        let series = self.metric_series_on(cluster, hosts, metrics).await?;
        self.metric_chunks_of(&series, range, window).await
    }

    /// `cluster`'s series on `hosts` for `metrics` (all if empty), by database id.
    pub async fn metric_series_on(
        &self,
        cluster: &str,
        hosts: &[String],
        metrics: &[String],
    ) -> Result<HashMap<i64, SeriesKey>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let style = style(&conn);
        let mut series = HashMap::new();
        for part in hosts.chunks(400) {
            let sql = format!(
                "SELECT {SERIES_COLS} FROM metric_series WHERE cluster = {} AND host IN {}{}",
                placeholder(style, 1),
                list(style, 2, part.len()),
                metric_filter(style, 2 + part.len(), metrics),
            );
            let mut q = sqlx::query(&sql).bind(cluster);
            for h in part.iter().chain(metrics) {
                q = q.bind(h.as_str());
            }
            for r in &q.fetch_all(&mut *conn).await? {
                let (id, key) = series_key(r)?;
                series.insert(id, key);
            }
        }
        Ok(series)
    }

    /// The stored chunks of `series` that may hold samples in `[from, to]`, in start
    /// order per series; `window`: the seconds one chunk covers.
    ///
    /// A chunk starting up to a window before `from` may reach into it. So may a day
    /// chunk of the compaction before blocks (migration 0006; they start at midnight and
    /// run a day and a window), from a day earlier: only midnight-aligned chunks are taken
    /// from that far back, which the index (series_id, start) tells without reading a row.
    /// Taking every chunk of that day instead read a day of other jobs' samples for a job
    /// that started an hour ago.
    pub async fn metric_chunks_of(
        &self,
        series: &HashMap<i64, SeriesKey>,
        (from, to): (i64, i64),
        window: i64,
    ) -> Result<Vec<StoredChunk>, sqlx::Error> {
        const DAY: i64 = 86_400;
        let mut conn = self.pool.acquire().await?;
        let style = style(&conn);
        let ids: Vec<i64> = series.keys().copied().collect();
        let mut out = Vec::new();
        for part in ids.chunks(400) {
            let n = part.len();
            let sql = format!(
                "SELECT series_id, start, timestep, data FROM metric_chunk \
                 WHERE series_id IN {} AND start > {} AND start <= {} \
                 AND (start > {} OR start % {DAY} = 0) ORDER BY series_id, start",
                list(style, 1, n),
                placeholder(style, n + 1),
                placeholder(style, n + 2),
                placeholder(style, n + 3),
            );
            let mut q = sqlx::query(&sql);
            for id in part {
                q = q.bind(*id);
            }
            for r in &q
                .bind(from.saturating_sub(DAY + window))
                .bind(to)
                .bind(from.saturating_sub(window))
                .fetch_all(&mut *conn)
                .await?
            {
                let id: i64 = r.try_get(0)?;
                out.push(StoredChunk {
                    key: series[&id].clone(),
                    start: r.try_get(1)?,
                    timestep: r.try_get(2)?,
                    data: r.try_get(3)?,
                });
            }
        }
        Ok(out)
    }

    /// Drop chunks and blocks that ended before `cutoff`, except on nodes of jobs that run or wait to
    /// be archived, from their start on. Returns how many were dropped.
    pub async fn metric_retention(&self, cutoff: i64, span: i64) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "DELETE FROM metric_chunk WHERE start + $2 <= $1 AND NOT EXISTS ( \
               SELECT 1 FROM metric_series s \
               JOIN job_node n ON n.hostname = s.host \
               JOIN job j ON j.id = n.job_ref \
               WHERE s.id = metric_chunk.series_id AND j.cluster = s.cluster \
               AND (j.stop_time IS NULL OR j.monitoring_status = 1) \
               AND metric_chunk.start + $2 > j.start_time)",
        )
        .bind(cutoff)
        .bind(span)
        .execute(&self.pool)
        .await?;
        let blocks = sqlx::query(
            "DELETE FROM metric_block WHERE start + $2 <= $1 AND NOT EXISTS ( \
               SELECT 1 FROM job_node n JOIN job j ON j.id = n.job_ref \
               WHERE n.hostname = metric_block.host AND j.cluster = metric_block.cluster \
               AND (j.stop_time IS NULL OR j.monitoring_status = 1) \
               AND metric_block.start + $2 > j.start_time)",
        )
        .bind(cutoff)
        .bind(span)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() + blocks.rows_affected())
    }

    /// Nodes of `cluster` with stored series.
    pub async fn metric_hosts(&self, cluster: &str) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT DISTINCT host FROM metric_series WHERE cluster = $1 ORDER BY host",
        )
        .bind(cluster)
        .fetch_all(&self.pool)
        .await
    }

    /// Series stored, for `/metrics`.
    pub async fn metric_series_count(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM metric_series")
            .fetch_one(&self.pool)
            .await
    }
}
