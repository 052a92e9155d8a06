//! Metric blocks, the compacted days: the chunks of one metric on one node over one day
//! become one row (`metric_block`), every series of that metric in it. How chunks become
//! a block is the caller's business (`merge`); here blocks are read, and chunks locked
//! and replaced by them.

use super::values::{
    bind_all, list, metric_filter, placeholder, placeholders, placeholders_after, style, Style, Val,
};
use super::Store;
use sqlx::Row;

/// One metric of one node: the series a block holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Group {
    pub cluster: String,
    pub host: String,
    pub metric: String,
}

/// One stored chunk as compaction reads it.
pub struct RawChunk {
    pub series_id: i64,
    pub start: i64,
    pub timestep: i64,
    pub data: Vec<u8>,
}

/// One stored block: `members` (series ids) and `data` are opaque here.
pub struct RawBlock {
    pub start: i64,
    pub timestep: i64,
    pub members: Vec<u8>,
    pub data: Vec<u8>,
}

/// What `merge` makes of a group's day: the block to store and the series it holds.
pub struct NewBlock {
    pub timestep: i64,
    pub members: Vec<u8>,
    pub data: Vec<u8>,
    pub series: usize,
}

const GROUP_COLS: usize = 3;

impl Store {
    /// The compacted blocks of `cluster`'s `metrics` (all if empty) on `hosts` that may
    /// hold samples in `[from, to]`; `span`: the seconds one block covers.
    pub async fn metric_blocks(
        &self,
        cluster: &str,
        hosts: &[String],
        metrics: &[String],
        (from, to): (i64, i64),
        span: i64,
    ) -> Result<Vec<(Group, RawBlock)>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let style = style(&conn);
        let mut out = Vec::new();
        for part in hosts.chunks(400) {
            let sql = format!(
                "SELECT metric, start, timestep, members, data, host FROM metric_block \
                 WHERE cluster = {} AND start > {} AND start <= {} AND host IN {}{}",
                placeholder(style, 1),
                placeholder(style, 2),
                placeholder(style, 3),
                list(style, 4, part.len()),
                metric_filter(style, 4 + part.len(), metrics),
            );
            let mut q = sqlx::query(&sql)
                .bind(cluster)
                .bind(from.saturating_sub(span))
                .bind(to);
            for h in part.iter().chain(metrics) {
                q = q.bind(h.as_str());
            }
            for r in &q.fetch_all(&mut *conn).await? {
                let metric: String = r.try_get(0)?;
                let group = Group {
                    cluster: cluster.to_string(),
                    host: r.try_get(5)?,
                    metric,
                };
                let block = RawBlock {
                    start: r.try_get(1)?,
                    timestep: r.try_get(2)?,
                    members: r.try_get(3)?,
                    data: r.try_get(4)?,
                };
                out.push((group, block));
            }
        }
        // In start order within a node's metric: a block running past midnight is laid
        // under the next day's. Sorted here rather than by the database, which would
        // sort the rows with their data.
        out.sort_by(|(a, x), (b, y)| (a, x.start).cmp(&(b, y.start)));
        Ok(out)
    }

    /// Groups with chunks starting in `[from, to)`.
    pub async fn metric_groups_in(&self, from: i64, to: i64) -> Result<Vec<Group>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT DISTINCT s.cluster, s.host, s.metric FROM metric_chunk c \
             JOIN metric_series s ON s.id = c.series_id \
             WHERE c.start >= $1 AND c.start < $2 ORDER BY 1, 2, 3",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Group {
                    cluster: r.try_get(0)?,
                    host: r.try_get(1)?,
                    metric: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// Chunks and blocks stored and their compressed bytes, for `/metrics`.
    pub async fn metric_chunks_held(&self) -> Result<(i64, i64), sqlx::Error> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM metric_chunk) + (SELECT COUNT(*) FROM metric_block), \
             (SELECT COALESCE(SUM(LENGTH(data)), 0) FROM metric_chunk) \
             + (SELECT COALESCE(SUM(LENGTH(data) + LENGTH(members)), 0) FROM metric_block)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// The earliest chunk or block start, if any is stored.
    pub async fn metric_first_start(&self) -> Result<Option<i64>, sqlx::Error> {
        let chunk: Option<i64> = sqlx::query_scalar("SELECT MIN(start) FROM metric_chunk")
            .fetch_one(&self.pool)
            .await?;
        let block: Option<i64> = sqlx::query_scalar("SELECT MIN(start) FROM metric_block")
            .fetch_one(&self.pool)
            .await?;
        Ok(chunk.into_iter().chain(block).min())
    }

    /// For each of `groups` with chunks starting in `[from, to)`, replace those chunks and
    /// the group's block there (if any) by `merge(block, chunks in start order)`, stored
    /// at `from`, in one transaction. Only the rows read are deleted, so a chunk committed
    /// meanwhile stays (reads lay chunks over blocks); one that collides fails the
    /// transaction, to be tried again. Returns how many series went into blocks.
    pub async fn compact_metric_groups(
        &self,
        groups: &[Group],
        (from, to): (i64, i64),
        merge: impl Fn(Option<&RawBlock>, &[RawChunk]) -> Option<NewBlock>,
    ) -> Result<usize, sqlx::Error> {
        let mut tx = self.begin_read_write().await?;
        let style = style(&tx);
        let (lock_chunks, lock_blocks) = if style == Style::Dollar {
            (" FOR UPDATE OF c", " FOR UPDATE")
        } else {
            ("", "")
        };
        let keys = || {
            let mut vals = vec![Val::from(from), to.into()];
            for g in groups {
                vals.extend([
                    Val::from(g.cluster.as_str()),
                    g.host.as_str().into(),
                    g.metric.as_str().into(),
                ]);
            }
            vals
        };
        // `$1`, `$2` are the day; the groups' keys follow.
        let in_groups = placeholders_after(style, 2, groups.len(), GROUP_COLS);
        let chunk_rows = bind_all(
            sqlx::query(&format!(
                "SELECT s.cluster, s.host, s.metric, c.series_id, c.start, c.timestep, c.data \
                 FROM metric_chunk c JOIN metric_series s ON s.id = c.series_id \
                 WHERE c.start >= {} AND c.start < {} AND (s.cluster, s.host, s.metric) IN (VALUES {in_groups}) \
                 ORDER BY s.cluster, s.host, s.metric, c.start{lock_chunks}",
                placeholder(style, 1),
                placeholder(style, 2),
            )),
            keys(),
        )
        .fetch_all(&mut *tx)
        .await?;
        let block_rows = bind_all(
            sqlx::query(&format!(
                "SELECT cluster, host, metric, start, timestep, members, data FROM metric_block \
                 WHERE start >= {} AND start < {} AND (cluster, host, metric) IN (VALUES {in_groups}){lock_blocks}",
                placeholder(style, 1),
                placeholder(style, 2),
            )),
            keys(),
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut chunks: std::collections::BTreeMap<Group, Vec<RawChunk>> = Default::default();
        for r in &chunk_rows {
            chunks.entry(group(r)?).or_default().push(RawChunk {
                series_id: r.try_get(3)?,
                start: r.try_get(4)?,
                timestep: r.try_get(5)?,
                data: r.try_get(6)?,
            });
        }
        let mut blocks: std::collections::BTreeMap<Group, RawBlock> = Default::default();
        for r in &block_rows {
            blocks.insert(
                group(r)?,
                RawBlock {
                    start: r.try_get(3)?,
                    timestep: r.try_get(4)?,
                    members: r.try_get(5)?,
                    data: r.try_get(6)?,
                },
            );
        }
        let mut compacted = 0;
        for (g, chunks) in &chunks {
            let old = blocks.get(g);
            let Some(new) = merge(old, chunks) else {
                continue;
            };
            for part in chunks.chunks(500) {
                let sql = format!(
                    "DELETE FROM metric_chunk WHERE (series_id, start) IN (VALUES {})",
                    placeholders(style, part.len(), 2)
                );
                let vals = part
                    .iter()
                    .flat_map(|c| [Val::from(c.series_id), c.start.into()])
                    .collect();
                bind_all(sqlx::query(&sql), vals).execute(&mut *tx).await?;
            }
            if let Some(old) = old {
                sqlx::query(
                    "DELETE FROM metric_block WHERE cluster = $1 AND host = $2 AND metric = $3 AND start = $4",
                )
                .bind(&g.cluster)
                .bind(&g.host)
                .bind(&g.metric)
                .bind(old.start)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "INSERT INTO metric_block (cluster, host, metric, start, timestep, members, data) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&g.cluster)
            .bind(&g.host)
            .bind(&g.metric)
            .bind(from)
            .bind(new.timestep)
            .bind(new.members)
            .bind(new.data)
            .execute(&mut *tx)
            .await?;
            compacted += new.series;
        }
        tx.commit().await?;
        Ok(compacted)
    }
}

fn group(r: &sqlx::any::AnyRow) -> Result<Group, sqlx::Error> {
    Ok(Group {
        cluster: r.try_get(0)?,
        host: r.try_get(1)?,
        metric: r.try_get(2)?,
    })
}
