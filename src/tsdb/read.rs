//! Reading series back: stored chunks, then the windows still in memory laid over them,
//! on one grid per series from `from` to `to`.

use super::{codec, Tsdb};
use crate::domain::metric::SeriesKey;
use crate::store::blocks::{Group, RawBlock};
use crate::store::series::StoredChunk;
use crate::store::Store;
use std::collections::{BTreeMap, HashMap};

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

/// What memory holds for a read, and which stored series it covers; the rows are read
/// after it (`rows`), a few metrics at a time for a long answer.
pub(crate) struct Stored {
    series: HashMap<i64, SeriesKey>,
    held: Vec<Held>,
    window: (i64, i64),
}

/// What the database holds of some metrics, not yet decompressed: their chunks, and the
/// compacted blocks read after them.
#[derive(Default)]
pub(crate) struct Rows {
    chunks: Vec<StoredChunk>,
    blocks: Vec<(Group, RawBlock)>,
}

/// A window still in memory: (series, timestep, start, values).
type Held = (SeriesKey, i64, i64, Vec<f64>);

/// One node's parts of one metric.
#[derive(Default)]
pub(crate) struct Parts<'a> {
    blocks: Vec<&'a RawBlock>,
    chunks: Vec<&'a StoredChunk>,
    held: Vec<&'a Held>,
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
        window: (i64, i64),
    ) -> anyhow::Result<Vec<Grid>> {
        let stored = self.stored(store, cluster, hosts, metrics, window).await?;
        let rows = self.rows(store, &stored, cluster, hosts, metrics).await?;
        let grids = tokio::task::spawn_blocking(move || {
            let parts = stored.parts(&rows, None);
            stored.lay_out(&parts)
        })
        .await?;
        Ok(grids.into_iter().flatten().collect())
    }

    /// What memory holds of `metrics` (all if empty) on `hosts`, and their stored series.
    ///
    /// Memory first: a commit stores windows before it drops them from memory, so
    /// whatever is gone from memory by now is in the chunks when they are read next.
    pub(crate) async fn stored(
        &self,
        store: &Store,
        cluster: &str,
        hosts: &[String],
        metrics: &[String],
        window: (i64, i64),
    ) -> anyhow::Result<Stored> {
        let held = self.held(cluster, hosts, metrics);
        let series = store.metric_series_on(cluster, hosts, metrics).await?;
        Ok(Stored {
            series,
            held,
            window,
        })
    }

    /// The chunks, then the blocks of `metrics` (all if empty) on `hosts`, read after
    /// `stored`. Blocks after chunks: compaction deletes chunks as it writes them into a
    /// block, so whatever is gone from the chunks by then is in a block.
    pub(crate) async fn rows(
        &self,
        store: &Store,
        stored: &Stored,
        cluster: &str,
        hosts: &[String],
        metrics: &[String],
    ) -> anyhow::Result<Rows> {
        let series: HashMap<i64, SeriesKey> = stored
            .series
            .iter()
            .filter(|(_, k)| metrics.is_empty() || metrics.contains(&k.metric))
            .map(|(id, k)| (*id, k.clone()))
            .collect();
        let chunks = store
            .metric_chunks_of(&series, stored.window, self.chunk_secs())
            .await?;
        // A block covers a day and may run past midnight by one window.
        let span = super::compact::DAY + self.chunk_secs();
        let blocks = store
            .metric_blocks(cluster, hosts, metrics, stored.window, span)
            .await?;
        Ok(Rows { chunks, blocks })
    }
}

impl Stored {
    /// One `Parts` per node and metric (of `metric` alone if given), with the `rows`
    /// read after these.
    pub(crate) fn parts<'a>(&'a self, rows: &'a Rows, metric: Option<&str>) -> Vec<Parts<'a>> {
        let wanted = |m: &str| metric.is_none_or(|x| x == m);
        let mut groups: BTreeMap<(&str, &str), Parts> = BTreeMap::new();
        for (g, b) in rows.blocks.iter().filter(|(g, _)| wanted(&g.metric)) {
            let k = (g.metric.as_str(), g.host.as_str());
            groups.entry(k).or_default().blocks.push(b);
        }
        for c in rows.chunks.iter().filter(|c| wanted(&c.key.metric)) {
            let k = (c.key.metric.as_str(), c.key.host.as_str());
            groups.entry(k).or_default().chunks.push(c);
        }
        for h in self.held.iter().filter(|h| wanted(&h.0.metric)) {
            let k = (h.0.metric.as_str(), h.0.host.as_str());
            groups.entry(k).or_default().held.push(h);
        }
        groups.into_values().collect()
    }

    /// Each node's grids: decompressing and laying out is most of a long read, so the
    /// nodes are shared out over both cores (call it off the async runtime).
    pub(crate) fn lay_out(&self, parts: &[Parts]) -> Vec<Vec<Grid>> {
        super::on_two_threads(parts, |p| self.lay(p))
    }

    /// One node's grids of one metric, sorted by series.
    pub(crate) fn lay<'a>(&'a self, parts: &Parts<'a>) -> Vec<Grid> {
        let mut grids: BTreeMap<&SeriesKey, Grid> = BTreeMap::new();
        let mut lay = |key: &'a SeriesKey, timestep: i64, start: i64, values: &[f64]| {
            if let Some(g) = grids.get_mut(key) {
                g.overlay(start, values);
            } else {
                let mut g = Grid::new(key.clone(), timestep, self.window);
                g.overlay(start, values);
                grids.insert(key, g);
            }
        };
        // Blocks first: a chunk still stored beside a block came after it was made.
        for b in &parts.blocks {
            // Slots up to the end of the window; a block starts at or before it.
            let needed = (self.window.1 - b.start) / b.timestep.max(1) + 1;
            let needed = usize::try_from(needed).unwrap_or(0);
            let decoded = codec::decode_ids(&b.members)
                .and_then(|ids| Ok((codec::decode_block_prefix(&b.data, ids.len(), needed)?, ids)));
            let (values, ids) = match decoded {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(error = %e, "a stored metric block cannot be read");
                    continue;
                }
            };
            for (id, v) in ids.iter().zip(&values) {
                if let Some(key) = self.series.get(id) {
                    lay(key, b.timestep, b.start, v);
                }
            }
        }
        for c in &parts.chunks {
            match codec::decode(&c.data) {
                Ok(v) => lay(&c.key, c.timestep, c.start, &v),
                Err(e) => {
                    tracing::error!(series = ?c.key, start = c.start, error = %e, "a stored metric chunk cannot be read");
                }
            }
        }
        // Then what memory held, newer than any stored chunk.
        for (key, timestep, start, values) in &parts.held {
            lay(key, *timestep, *start, values);
        }
        grids.into_values().collect()
    }
}

impl Tsdb {
    /// Copies of the grids in memory for these series: (series, timestep, start, values).
    fn held(&self, cluster: &str, hosts: &[String], metrics: &[String]) -> Vec<Held> {
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
