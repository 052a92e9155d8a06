//! Compaction: once a day is over, each series' chunks of that day (twelve 2-hour chunks
//! by default) become one chunk of the whole day. A chunk of 1,440 samples is about half
//! the size per sample of twelve of 120 (pcodec's header is paid once), and a day of a
//! series is one row to read instead of twelve. A `try_once` pass over the database, run
//! with retention; the days done are remembered beside the stream position.

use super::read::Grid;
use super::{codec, Tsdb};
use crate::domain::metric::{Scope, SeriesKey};
use crate::store::compact::RawChunk;
use crate::store::Store;

pub(crate) const DAY: i64 = 86_400;
/// Series per transaction.
const BATCH: usize = 500;
/// Days one pass compacts at most, so a backlog is worked off a little at a time.
const DAYS_PER_PASS: i64 = 2;

impl Tsdb {
    /// Compact the days that are over, up to `DAYS_PER_PASS`, and the day before them
    /// again (late samples make a second chunk there). Returns the series compacted.
    pub async fn compact_once(&self, store: &Store, now: i64) -> anyhow::Result<usize> {
        let key = format!("{}#compacted", self.config.stream);
        let close = i64::try_from(self.config.close_after.as_secs()).unwrap_or(300);
        // The last day whose windows are all closed.
        let done_before = (now - close - self.chunk_secs()).div_euclid(DAY) * DAY;
        let next = match store.metric_position(&key).await? {
            Some(day) => i64::try_from(day).unwrap_or(0) - DAY,
            // From the oldest chunk retention still keeps.
            None => match store.metric_first_start().await? {
                Some(first) => {
                    let keep = i64::try_from(self.config.retention.as_secs()).unwrap_or(0);
                    first.max(now - keep - DAY).div_euclid(DAY) * DAY
                }
                None => return Ok(0),
            },
        };
        let mut total = 0;
        let mut day = next.max(0);
        while day + DAY <= done_before && day < next + DAY * (DAYS_PER_PASS + 1) {
            let mut compacted = 0;
            for batch in store.metric_series_in(day, day + DAY).await?.chunks(BATCH) {
                compacted += store
                    .compact_metric_chunks(batch, (day, day + DAY), |chunks| merge(day, chunks))
                    .await?;
            }
            day += DAY;
            self.metrics.series_compacted.inc_by(compacted as u64);
            total += compacted;
            store
                .store_chunks(Vec::new(), &key, u64::try_from(day).unwrap_or(0), |_, _| {
                    None
                })
                .await?;
        }
        Ok(total)
    }
}

/// One series' chunks (in start order) laid on one grid from `day`: later chunks over
/// earlier ones, gaps never erasing. `None` if the timesteps differ (a configuration
/// change): those chunks stay as they are.
fn merge(day: i64, chunks: &[RawChunk]) -> Option<(i64, Vec<u8>)> {
    let timestep = chunks.first()?.timestep;
    if chunks.iter().any(|c| c.timestep != timestep) {
        return None;
    }
    let decoded: Vec<(i64, Vec<f64>)> = chunks
        .iter()
        .map(|c| Some((c.start, codec::decode(&c.data).ok()?)))
        .collect::<Option<_>>()?;
    // To the end of the last chunk: a chunk may run past midnight.
    let end = decoded
        .iter()
        .map(|(start, v)| start + i64::try_from(v.len()).unwrap_or(0) * timestep)
        .max()?;
    let key = SeriesKey {
        cluster: String::new(),
        host: String::new(),
        metric: String::new(),
        scope: Scope::Node,
        scope_id: String::new(),
        stype: String::new(),
        stype_id: String::new(),
    };
    let mut grid = Grid::new(key, timestep, (day, end - timestep));
    for (start, values) in &decoded {
        grid.overlay(*start, values);
    }
    Some((timestep, codec::encode(&grid.values)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_of_chunks_becomes_one_grid_later_chunks_winning() {
        let c = |start, v: &[f64]| RawChunk {
            start,
            timestep: 60,
            data: codec::encode(v),
        };
        let chunks = [
            c(0, &[1.0, 2.0]),
            c(120, &[3.0, f64::NAN]),
            c(60, &[9.0]),            // a late sample for minute 1
            c(DAY - 60, &[5.0, 6.0]), // runs past midnight
        ];
        let (step, data) = merge(0, &chunks).unwrap();
        let v = codec::decode(&data).unwrap();
        assert_eq!(step, 60);
        assert_eq!(v.len(), 1441);
        assert_eq!(&v[..3], &[1.0, 9.0, 3.0]);
        assert!(v[3].is_nan());
        assert_eq!(&v[1439..], &[5.0, 6.0]);
        let odd = [
            c(0, &[1.0]),
            RawChunk {
                start: 60,
                timestep: 30,
                data: codec::encode(&[2.0]),
            },
        ];
        assert!(merge(0, &odd).is_none());
    }
}
