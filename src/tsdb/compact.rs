//! Compaction: once a day is over, the chunks of each metric on each node in that day
//! (twelve 2-hour chunks per series by default) become one block: every series of the
//! metric on the node, a day each, in one pcodec chunk and one row. Fewer, longer chunks
//! are smaller per sample (pcodec's header is paid once, rows and index entries are few)
//! and faster to read. A `try_once` pass over the database, run with retention; the days
//! done are remembered beside the stream position.

use super::read::Grid;
use super::{codec, Tsdb};
use crate::domain::metric::{Scope, SeriesKey};
use crate::store::blocks::{NewBlock, RawBlock, RawChunk};
use crate::store::Store;
use std::collections::BTreeMap;

pub(crate) const DAY: i64 = 86_400;
/// Groups (metrics of a node) per transaction: a node's worth.
const BATCH: usize = 50;
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
            for batch in store.metric_groups_in(day, day + DAY).await?.chunks(BATCH) {
                compacted += store
                    .compact_metric_groups(batch, (day, day + DAY), |block, chunks| {
                        merge(day, block, chunks)
                    })
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

/// A group's block of `day` (if any) and its chunks (in start order) laid on one grid per
/// series from `day`: chunks over the block, later chunks over earlier ones, gaps never
/// erasing. `None` if the timesteps differ (a configuration change) or a chunk cannot be
/// read: those rows stay as they are, and reads still lay them over each other.
fn merge(day: i64, block: Option<&RawBlock>, chunks: &[RawChunk]) -> Option<NewBlock> {
    let timestep = chunks.first()?.timestep;
    if chunks.iter().any(|c| c.timestep != timestep)
        || block.is_some_and(|b| b.timestep != timestep)
    {
        return None;
    }
    let mut laid: Vec<(i64, i64, Vec<f64>)> = Vec::new();
    if let Some(b) = block {
        let ids = codec::decode_ids(&b.members).ok()?;
        let grids = codec::decode_block(&b.data, ids.len()).ok()?;
        laid.extend(ids.into_iter().zip(grids).map(|(id, g)| (id, b.start, g)));
    }
    for c in chunks {
        laid.push((c.series_id, c.start, codec::decode(&c.data).ok()?));
    }
    // To the end of the last chunk: a chunk may run past midnight.
    let end = laid
        .iter()
        .map(|(_, start, v)| start + i64::try_from(v.len()).unwrap_or(0) * timestep)
        .max()?;
    let mut grids: BTreeMap<i64, Grid> = BTreeMap::new();
    for (id, start, values) in &laid {
        grids
            .entry(*id)
            .or_insert_with(|| Grid::new(blank_key(), timestep, (day, end - timestep)))
            .overlay(*start, values);
    }
    let ids: Vec<i64> = grids.keys().copied().collect();
    let values: Vec<Vec<f64>> = grids.into_values().map(|g| g.values).collect();
    Some(NewBlock {
        timestep,
        members: codec::encode_ids(&ids),
        data: codec::encode_block(&values)?,
        series: ids.len(),
    })
}

/// Blocks know their series by id; the grids built here need no key.
fn blank_key() -> SeriesKey {
    SeriesKey {
        cluster: String::new(),
        host: String::new(),
        metric: String::new(),
        scope: Scope::Node,
        scope_id: String::new(),
        stype: String::new(),
        stype_id: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_of_chunks_becomes_one_block_later_chunks_winning() {
        let c = |series_id, start, v: &[f64]| RawChunk {
            series_id,
            start,
            timestep: 60,
            data: codec::encode(v),
        };
        let chunks = [
            c(7, 0, &[1.0, 2.0]),
            c(3, 0, &[4.0]),
            c(7, 120, &[3.0, f64::NAN]),
            c(7, 60, &[9.0]),            // a late sample for minute 1
            c(7, DAY - 60, &[5.0, 6.0]), // runs past midnight
        ];
        let b = merge(0, None, &chunks).unwrap();
        assert_eq!((b.timestep, b.series), (60, 2));
        assert_eq!(codec::decode_ids(&b.members).unwrap(), vec![3, 7]);
        let v = codec::decode_block(&b.data, 2).unwrap();
        assert_eq!(v[1].len(), 1441);
        assert_eq!(&v[1][..3], &[1.0, 9.0, 3.0]);
        assert!(v[1][3].is_nan());
        assert_eq!(&v[1][1439..], &[5.0, 6.0]);
        assert_eq!(v[0][0], 4.0);
        assert!(v[0][1..].iter().all(|x| x.is_nan()));
        // The block again with a late chunk: the chunk wins, the rest stays.
        let old = RawBlock {
            start: 0,
            timestep: 60,
            members: b.members,
            data: b.data,
        };
        let again = merge(0, Some(&old), &[c(3, 0, &[f64::NAN, 8.0])]).unwrap();
        let v = codec::decode_block(&again.data, 2).unwrap();
        assert_eq!(&v[0][..2], &[4.0, 8.0]);
        assert_eq!(&v[1][..3], &[1.0, 9.0, 3.0]);
        let odd = [
            c(7, 0, &[1.0]),
            RawChunk {
                series_id: 7,
                start: 60,
                timestep: 30,
                data: codec::encode(&[2.0]),
            },
        ];
        assert!(merge(0, None, &odd).is_none());
    }
}
