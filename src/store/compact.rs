//! Compaction of metric chunks: a series' chunks of one day become one chunk. Fewer,
//! longer chunks are smaller (pcodec's per-chunk header spread over more samples) and
//! faster to read. How chunks merge is the caller's business (`merge`).

use super::values::{bind_all, placeholders, style, Val};
use super::Store;
use sqlx::Row;

/// One stored chunk as compaction reads it.
pub struct RawChunk {
    pub start: i64,
    pub timestep: i64,
    pub data: Vec<u8>,
}

impl Store {
    /// Series with chunks starting in `[from, to)`.
    pub async fn metric_series_in(&self, from: i64, to: i64) -> Result<Vec<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT DISTINCT series_id FROM metric_chunk WHERE start >= $1 AND start < $2 ORDER BY series_id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await
    }

    /// Chunks stored and their compressed bytes, for `/metrics`.
    pub async fn metric_chunks_held(&self) -> Result<(i64, i64), sqlx::Error> {
        let row = sqlx::query("SELECT COUNT(*), COALESCE(SUM(LENGTH(data)), 0) FROM metric_chunk")
            .fetch_one(&self.pool)
            .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// The earliest chunk start, if any chunk is stored.
    pub async fn metric_first_start(&self) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar("SELECT MIN(start) FROM metric_chunk")
            .fetch_one(&self.pool)
            .await
    }

    /// For each of `series` with more than one chunk starting in `[from, to)`, replace
    /// those chunks by `merge(chunks in start order)` stored at `from`, in one
    /// transaction. Only the rows read are deleted, so a chunk committed meanwhile stays
    /// (it overlaps, and reads lay it over the merged one); one that collides fails the
    /// transaction, to be tried again. Returns how many series were compacted.
    pub async fn compact_metric_chunks(
        &self,
        series: &[i64],
        (from, to): (i64, i64),
        merge: impl Fn(&[RawChunk]) -> Option<(i64, Vec<u8>)>,
    ) -> Result<usize, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let style = style(&tx);
        let lock = if style == super::values::Style::Dollar {
            " FOR UPDATE"
        } else {
            ""
        };
        let ids: Vec<String> = series.iter().map(i64::to_string).collect();
        // The ids are integers from the database, written in, not user input.
        let rows = sqlx::query(&format!(
            "SELECT series_id, start, timestep, data FROM metric_chunk \
             WHERE series_id IN ({}) AND start >= $1 AND start < $2 ORDER BY series_id, start{lock}",
            ids.join(",")
        ))
        .bind(from)
        .bind(to)
        .fetch_all(&mut *tx)
        .await?;
        let mut by_series: Vec<(i64, Vec<RawChunk>)> = Vec::new();
        for r in &rows {
            let id: i64 = r.try_get(0)?;
            let chunk = RawChunk {
                start: r.try_get(1)?,
                timestep: r.try_get(2)?,
                data: r.try_get(3)?,
            };
            match by_series.last_mut() {
                Some((last, chunks)) if *last == id => chunks.push(chunk),
                _ => by_series.push((id, vec![chunk])),
            }
        }
        let mut gone: Vec<(i64, i64)> = Vec::new();
        let mut merged: Vec<Val> = Vec::new();
        let mut compacted = 0;
        for (id, chunks) in by_series.iter().filter(|(_, c)| c.len() > 1) {
            let Some((timestep, data)) = merge(chunks) else {
                continue;
            };
            gone.extend(chunks.iter().map(|c| (*id, c.start)));
            merged.extend([Val::from(*id), from.into(), timestep.into(), data.into()]);
            compacted += 1;
        }
        for part in gone.chunks(500) {
            let sql = format!(
                "DELETE FROM metric_chunk WHERE (series_id, start) IN (VALUES {})",
                placeholders(style, part.len(), 2)
            );
            let vals = part
                .iter()
                .flat_map(|(id, start)| [Val::from(*id), (*start).into()])
                .collect();
            bind_all(sqlx::query(&sql), vals).execute(&mut *tx).await?;
        }
        for part in merged.chunks(4 * 500) {
            let sql = format!(
                "INSERT INTO metric_chunk (series_id, start, timestep, data) VALUES {}",
                placeholders(style, part.len() / 4, 4)
            );
            bind_all(sqlx::query(&sql), part.to_vec())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(compacted)
    }
}
