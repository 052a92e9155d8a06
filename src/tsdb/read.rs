//! Reading series back: stored chunks, then the windows still in memory laid over them,
//! on one grid per series from `from` to `to`.

use super::{codec, Tsdb};
use crate::domain::metric::SeriesKey;
use crate::store::Store;
use std::collections::BTreeMap;

/// Most slots one series of one answer may have (a year at 60 s is 525,600).
pub(crate) const MAX_SLOTS: i64 = 2_000_000;

/// One series on the grid of its timestep: `values[i]` is the sample at `start + i *
/// timestep`, NaN where there is none.
#[derive(Debug, Clone)]
pub(crate) struct Grid {
    pub key: SeriesKey,
    pub timestep: i64,
    pub start: i64,
    pub values: Vec<f64>,
}

impl Grid {
    pub(crate) fn new(key: SeriesKey, timestep: i64, (from, to): (i64, i64)) -> Grid {
        let start = from.div_euclid(timestep) * timestep;
        let len = (to.saturating_sub(start) / timestep)
            .saturating_add(1)
            .clamp(0, MAX_SLOTS);
        Grid {
            key,
            timestep,
            start,
            values: vec![f64::NAN; usize::try_from(len).unwrap_or(0)],
        }
    }

    /// Lay the samples of a chunk starting at `start` over this grid; gaps do not erase.
    /// A chunk off this grid's slots (another timestep's) lays nothing.
    pub(crate) fn overlay(&mut self, start: i64, values: &[f64]) {
        let Some(offset) = start.checked_sub(self.start) else {
            return;
        };
        if offset % self.timestep != 0 {
            return;
        }
        // The chunk's first slot on this grid, and how many of its slots come before ours.
        let first = offset / self.timestep;
        let skip = usize::try_from(-first.min(0)).unwrap_or(usize::MAX);
        let at = usize::try_from(first.max(0)).unwrap_or(usize::MAX);
        let (Some(src), Some(dst)) = (values.get(skip..), self.values.get_mut(at..)) else {
            return;
        };
        for (slot, v) in dst.iter_mut().zip(src) {
            if !v.is_nan() {
                *slot = *v;
            }
        }
    }
}

impl Tsdb {
    /// Every series of `cluster` on `hosts` for `metrics` (all if empty) over
    /// `[from, to]`, stored or not yet.
    pub(crate) async fn series(
        &self,
        store: &Store,
        cluster: &str,
        hosts: &[String],
        metrics: &[String],
        (from, to): (i64, i64),
    ) -> anyhow::Result<Vec<Grid>> {
        // Memory first: a commit stores windows before it drops them from memory, so
        // whatever is gone from memory by now is in the database when it is read next.
        let held = self.held(cluster, hosts, metrics);
        // A block covers a day and may run past midnight by one window.
        let span = super::compact::DAY + self.chunk_secs();
        // Two connections at once: blocks name their node and metric, not series ids.
        let (series, blocks) = tokio::try_join!(
            store.metric_series_on(cluster, hosts, metrics),
            store.metric_blocks(cluster, hosts, metrics, (from, to), span),
        )?;
        let chunks = store.metric_chunks_of(&series, (from, to), span).await?;
        // Decompressing is most of a long read: both cores, off the async runtime.
        let (blocks, chunks, chunks_values) = tokio::task::spawn_blocking(move || {
            let blocks = super::on_two_threads(&blocks, |b| -> Result<_, String> {
                let ids = codec::decode_ids(&b.members)?;
                let grids = codec::decode_block(&b.data, ids.len())?;
                Ok((b.start, b.timestep, ids, grids))
            });
            let values = super::on_two_threads(&chunks, |c| codec::decode(&c.data));
            (blocks, chunks, values)
        })
        .await?;
        let mut grids: BTreeMap<SeriesKey, Grid> = BTreeMap::new();
        let mut lay = |key: &SeriesKey, timestep: i64, start: i64, values: &[f64]| {
            if let Some(g) = grids.get_mut(key) {
                g.overlay(start, values);
            } else {
                let mut g = Grid::new(key.clone(), timestep, (from, to));
                g.overlay(start, values);
                grids.insert(key.clone(), g);
            }
        };
        // Blocks first: a chunk still stored beside a block came after it was made.
        for b in blocks {
            let (start, timestep, ids, values) = match b {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "a stored metric block cannot be read");
                    continue;
                }
            };
            for (id, v) in ids.iter().zip(&values) {
                if let Some(key) = series.get(id) {
                    lay(key, timestep, start, v);
                }
            }
        }
        for (c, values) in chunks.into_iter().zip(chunks_values) {
            match values {
                Ok(v) => lay(&c.key, c.timestep, c.start, &v),
                Err(e) => {
                    tracing::error!(series = ?c.key, start = c.start, error = %e, "a stored metric chunk cannot be read");
                }
            }
        }
        // Then what memory held, newer than any stored chunk.
        for (key, timestep, start, values) in held {
            lay(&key, timestep, start, &values);
        }
        Ok(grids.into_values().collect())
    }
}

impl Tsdb {
    /// Copies of the grids in memory for these series: (series, timestep, start, values).
    fn held(
        &self,
        cluster: &str,
        hosts: &[String],
        metrics: &[String],
    ) -> Vec<(SeriesKey, i64, i64, Vec<f64>)> {
        let b = self.read_buffer();
        let mut out = Vec::new();
        for host in hosts {
            for id in b.series_on(cluster, host) {
                let s = &b.series[*id as usize];
                if !metrics.is_empty() && !metrics.contains(&s.key.metric) {
                    continue;
                }
                for (start, win) in b.windows() {
                    if let Some(values) = win.grids.get(*id) {
                        out.push((s.key.clone(), s.timestep, start, values.to_vec()));
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::metric::Scope;

    #[test]
    fn chunks_land_on_the_query_grid() {
        let key = SeriesKey {
            cluster: "c".into(),
            host: "h".into(),
            metric: "m".into(),
            scope: Scope::Node,
            scope_id: String::new(),
            stype: String::new(),
            stype_id: String::new(),
        };
        let mut g = Grid::new(key, 60, (130, 400));
        assert_eq!((g.start, g.values.len()), (120, 5));
        g.overlay(0, &[1.0, 2.0, 3.0, f64::NAN, 5.0]);
        g.overlay(300, &[6.0, 7.0, 8.0]);
        assert_eq!(g.values[0], 3.0);
        assert!(g.values[1].is_nan());
        assert_eq!(&g.values[2..], &[5.0, 6.0, 7.0]);
        // Off the grid's slots, or wholly outside it: nothing.
        g.overlay(150, &[9.0; 10]);
        g.overlay(600, &[9.0]);
        g.overlay(-6000, &[9.0]);
        assert_eq!(&g.values[2..], &[5.0, 6.0, 7.0]);
    }
}
