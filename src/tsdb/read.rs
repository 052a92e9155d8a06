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
    pub(crate) fn overlay(&mut self, start: i64, values: &[f64]) {
        for (i, v) in values.iter().enumerate() {
            if v.is_nan() {
                continue;
            }
            let t = start + i64::try_from(i).unwrap_or(0) * self.timestep;
            let Some(offset) = t.checked_sub(self.start) else {
                continue;
            };
            if offset < 0 || offset % self.timestep != 0 {
                continue;
            }
            if let Some(slot) = usize::try_from(offset / self.timestep)
                .ok()
                .and_then(|k| self.values.get_mut(k))
            {
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
        // A compacted chunk covers a day and may run past midnight by one window.
        let span = super::compact::DAY + self.chunk_secs();
        let stored = store
            .metric_chunks(cluster, hosts, metrics, (from, to), span)
            .await?;
        let mut grids: BTreeMap<SeriesKey, Grid> = BTreeMap::new();
        for c in stored {
            let values = match codec::decode(&c.data) {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(series = ?c.key, start = c.start, error = %e, "a stored metric chunk cannot be read");
                    continue;
                }
            };
            grids
                .entry(c.key.clone())
                .or_insert_with(|| Grid::new(c.key, c.timestep, (from, to)))
                .overlay(c.start, &values);
        }
        // Then what memory held, newer than any stored chunk.
        for (key, timestep, start, values) in held {
            grids
                .entry(key.clone())
                .or_insert_with(|| Grid::new(key, timestep, (from, to)))
                .overlay(start, &values);
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
    }
}
