//! Closing windows: their grids become compressed chunks, stored with the new stream
//! position in one transaction, and only then leave memory. Samples that came late for
//! a window already stored are merged into its chunk in the same transaction.

use super::{codec, Tsdb};
use crate::store::series::ChunkRow;
use crate::store::Store;

impl Tsdb {
    /// Whether a commit is due at stream clock `clock`: a window to close, or late samples
    /// waiting (`late_ok`: long enough since the last commit, so a trickle of late
    /// samples costs one transaction every few seconds, not one per message).
    pub(crate) fn commit_due(&self, clock: i64, late_ok: bool) -> bool {
        let b = self.read_buffer();
        (late_ok && !b.late.is_empty()) || !b.closable(clock, self.close_after()).is_empty()
    }

    fn close_after(&self) -> i64 {
        i64::try_from(self.config.close_after.as_secs()).unwrap_or(300)
    }

    /// Store every window the clock closed and every late sample. On error nothing is
    /// forgotten and the caller tries again.
    pub(crate) async fn commit(&self, store: &Store, clock: i64) -> anyhow::Result<()> {
        let closing = self.read_buffer().closable(clock, self.close_after());
        self.assign_series_ids(store, &closing).await?;
        let (rows, samples, position) = tokio::task::block_in_place(|| {
            let b = self.read_buffer();
            let mut rows = Vec::new();
            let mut samples = 0usize;
            let windows = closing
                .iter()
                .filter_map(|w| b.open.get(w).map(|win| (*w, win)))
                .chain(b.late.iter().map(|(w, win)| (*w, win)));
            for (w, win) in windows {
                for (id, grid) in win.grids.iter() {
                    let series = &b.series[id as usize];
                    let Some(series_id) = series.db_id else {
                        continue;
                    };
                    samples += grid.iter().filter(|v| !v.is_nan()).count();
                    rows.push(ChunkRow {
                        series_id,
                        start: w * b.chunk,
                        timestep: series.timestep,
                        data: codec::encode(grid),
                    });
                }
            }
            (rows, samples, b.position_after(&closing))
        });
        let stored = store
            .store_chunks(rows, &self.config.stream, position, |old, new| {
                let (Ok(old), Ok(new)) = (codec::decode(old), codec::decode(new)) else {
                    // A stored chunk that cannot be read is replaced by the new one.
                    return Some(new.to_vec());
                };
                codec::merge(&old, &new).map(|v| codec::encode(&v))
            })
            .await?;
        self.write_buffer()
            .stored(&closing, clock, self.close_after());
        self.metrics.samples_stored.inc_by(samples as u64);
        self.metrics.chunk_bytes_written.inc_by(stored.bytes as u64);
        self.metrics.chunks_merged.inc_by(stored.merged as u64);
        tracing::debug!(
            windows = closing.len(),
            chunks = stored.inserted + stored.merged,
            merged = stored.merged,
            position,
            "metric chunks stored"
        );
        Ok(())
    }

    /// Give every series with samples in `closing` (or late) its database id.
    async fn assign_series_ids(&self, store: &Store, closing: &[i64]) -> anyhow::Result<()> {
        let missing: Vec<u32> = {
            let b = self.read_buffer();
            let mut ids: Vec<u32> = closing
                .iter()
                .filter_map(|w| b.open.get(w))
                .chain(b.late.values())
                .flat_map(|win| win.grids.iter().map(|(id, _)| id))
                .filter(|id| b.series[*id as usize].db_id.is_none())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        if missing.is_empty() {
            return Ok(());
        }
        let keys: Vec<_> = {
            let b = self.read_buffer();
            missing
                .iter()
                .map(|id| b.series[*id as usize].key.clone())
                .collect()
        };
        let db_ids = store.metric_series_ids(&keys).await?;
        let mut b = self.write_buffer();
        for (id, db_id) in missing.iter().zip(db_ids) {
            b.series[*id as usize].db_id = Some(db_id);
        }
        Ok(())
    }
}
