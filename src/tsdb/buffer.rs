//! The samples not yet in closed, stored chunks: one grid per series per open window, in
//! memory. The stream holds the same samples until the chunks are committed, so this is a
//! cache of the stream, rebuilt by reading it again after a restart.

use super::line::Sample;
use crate::domain::metric::SeriesKey;
use foldhash::{HashMap, HashMapExt};
use std::collections::BTreeMap;

pub(crate) struct Series {
    pub key: SeriesKey,
    pub timestep: i64,
    /// Its id in the database, once it has one.
    pub db_id: Option<i64>,
    /// Time of its newest sample, for staleness.
    pub last: i64,
}

#[derive(Default)]
pub(crate) struct Window {
    /// The first stream message with a sample here: the stream must keep it until this
    /// window is stored.
    pub first_seq: u64,
    /// Stream time of the newest message with a sample here.
    pub last_arrival: i64,
    pub grids: Grids,
}

/// A window's grids by local series number: a vector, not a map, because a node's
/// series have neighbouring numbers and a collector sends them together, so appending a
/// message walks memory in order instead of hashing into a table of a million entries.
#[derive(Default)]
pub(crate) struct Grids(Vec<Option<Box<[f64]>>>);

impl Grids {
    pub(crate) fn get(&self, id: u32) -> Option<&[f64]> {
        self.0.get(id as usize)?.as_deref()
    }

    fn get_or_insert(&mut self, id: u32, slots: usize) -> &mut [f64] {
        let i = id as usize;
        if self.0.len() <= i {
            self.0.resize_with(i + 1, || None);
        }
        self.0[i].get_or_insert_with(|| vec![f64::NAN; slots].into_boxed_slice())
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &[f64])> {
        self.0
            .iter()
            .enumerate()
            .filter_map(|(i, g)| Some((u32::try_from(i).ok()?, g.as_deref()?)))
    }
}

/// The series of one node, by the rest of their key.
#[derive(Default)]
struct Node {
    cluster: String,
    host: String,
    series: HashMap<Box<str>, u32>,
    ids: Vec<u32>,
}

pub(crate) struct Buffer {
    /// Seconds a chunk covers; windows start at multiples of it.
    pub chunk: i64,
    /// Nodes by `cluster\x1fhost`, then their series: the second level is small and
    /// hot while a node's message is appended.
    nodes: HashMap<Box<str>, usize>,
    node_list: Vec<Node>,
    /// The node of the previous sample, most often the node of this one.
    last_node: usize,
    pub series: Vec<Series>,
    /// Windows still open, by window number (start / chunk).
    pub open: BTreeMap<i64, Window>,
    /// Samples for windows already closed: merged into their stored chunks at the next
    /// commit.
    pub late: BTreeMap<i64, Window>,
    /// Windows before this number are closed.
    pub closed_before: i64,
    /// The stream sequence after the last message appended.
    pub next_seq: u64,
    scratch: String,
}

impl Buffer {
    pub(crate) fn new(chunk: i64) -> Buffer {
        Buffer {
            chunk,
            nodes: HashMap::new(),
            node_list: Vec::new(),
            last_node: usize::MAX,
            series: Vec::new(),
            open: BTreeMap::new(),
            late: BTreeMap::new(),
            closed_before: i64::MIN,
            next_seq: 0,
            scratch: String::new(),
        }
    }

    /// The node `s` comes from, made if new.
    fn node_of(&mut self, s: &Sample<'_>) -> usize {
        if let Some(n) = self.node_list.get(self.last_node) {
            if n.host == s.host && n.cluster == s.cluster {
                return self.last_node;
            }
        }
        let k = &mut self.scratch;
        k.clear();
        k.push_str(s.cluster);
        k.push('\u{1f}');
        k.push_str(s.host);
        let n = if let Some(n) = self.nodes.get(k.as_str()) {
            *n
        } else {
            self.nodes.insert(k.as_str().into(), self.node_list.len());
            self.node_list.push(Node {
                cluster: s.cluster.into(),
                host: s.host.into(),
                ..Node::default()
            });
            self.node_list.len() - 1
        };
        self.last_node = n;
        n
    }

    /// The local number of the series `s` belongs to, made if new.
    fn series_of(&mut self, s: &Sample<'_>, timestep: i64) -> u32 {
        let n = self.node_of(s);
        let k = &mut self.scratch;
        k.clear();
        for part in [s.metric, s.scope.name(), s.scope_id, s.stype, s.stype_id] {
            k.push_str(part);
            k.push('\u{1f}');
        }
        let node = &mut self.node_list[n];
        if let Some(id) = node.series.get(k.as_str()) {
            return *id;
        }
        let id = u32::try_from(self.series.len()).unwrap_or(u32::MAX);
        node.series.insert(k.as_str().into(), id);
        node.ids.push(id);
        self.series.push(Series {
            key: SeriesKey {
                cluster: s.cluster.into(),
                host: s.host.into(),
                metric: s.metric.into(),
                scope: s.scope,
                scope_id: s.scope_id.into(),
                stype: s.stype.into(),
                stype_id: s.stype_id.into(),
            },
            timestep,
            db_id: None,
            last: i64::MIN,
        });
        id
    }

    /// Put one sample on its series' grid; a repeated slot keeps the last value.
    pub(crate) fn append(&mut self, s: &Sample<'_>, timestep: i64, (seq, arrived): (u64, i64)) {
        let id = self.series_of(s, timestep);
        let series = &mut self.series[id as usize];
        series.last = series.last.max(s.time);
        let timestep = series.timestep;
        let chunk = self.chunk;
        let w = s.time.div_euclid(chunk);
        let windows = if w < self.closed_before && !self.open.contains_key(&w) {
            &mut self.late
        } else {
            &mut self.open
        };
        let window = windows.entry(w).or_insert_with(|| Window {
            first_seq: seq,
            last_arrival: arrived,
            grids: Grids::default(),
        });
        window.first_seq = window.first_seq.min(seq);
        window.last_arrival = window.last_arrival.max(arrived);
        let slots = slots(chunk, timestep);
        let grid = window.grids.get_or_insert(id, slots);
        let slot = usize::try_from((s.time - w * chunk) / timestep).unwrap_or(0);
        if let Some(v) = grid.get_mut(slot) {
            *v = s.value;
        }
    }

    /// The windows the stream clock `clock` closes, oldest first: those that ended
    /// `close_after` ago and got no sample for as long. A backlog of old samples (a
    /// collector catching up, a replay) so fills its windows before they are stored,
    /// instead of storing each one early and merging the rest into it; a window that
    /// never goes quiet is closed a chunk's length later all the same.
    pub(crate) fn closable(&self, clock: i64, close_after: i64) -> Vec<i64> {
        let before = clock.saturating_sub(close_after).div_euclid(self.chunk);
        let forced = clock
            .saturating_sub(close_after + self.chunk)
            .div_euclid(self.chunk);
        self.open
            .range(..before)
            .filter(|(w, win)| {
                *w < &forced || clock.saturating_sub(win.last_arrival) >= close_after
            })
            .map(|(w, _)| *w)
            .collect()
    }

    /// After a commit of `windows` and of every late sample: forget them.
    pub(crate) fn stored(&mut self, windows: &[i64], clock: i64, close_after: i64) {
        for w in windows {
            self.open.remove(w);
        }
        self.late.clear();
        // Windows that never opened are closed by the clock alone; an open one stays
        // open (its samples are not late) until it is stored.
        let before = clock.saturating_sub(close_after).div_euclid(self.chunk);
        let first_open = self.open.keys().next().copied().unwrap_or(i64::MAX);
        self.closed_before = self.closed_before.max(before.min(first_open));
        if let Some(last) = windows.last() {
            self.closed_before = self.closed_before.max(last + 1);
        }
    }

    /// The first stream sequence whose samples are not all stored once `closing` is.
    pub(crate) fn position_after(&self, closing: &[i64]) -> u64 {
        self.open
            .iter()
            .filter(|(w, _)| !closing.contains(w))
            .map(|(_, win)| win.first_seq)
            .min()
            .unwrap_or(self.next_seq)
    }

    /// Local series of one node.
    pub(crate) fn series_on(&self, cluster: &str, host: &str) -> &[u32] {
        let key = format!("{cluster}\u{1f}{host}");
        self.nodes
            .get(key.as_str())
            .map_or(&[], |n| self.node_list[*n].ids.as_slice())
    }

    /// Nodes of `cluster` with series in memory.
    pub(crate) fn hosts(&self, cluster: &str) -> Vec<String> {
        self.node_list
            .iter()
            .filter(|n| n.cluster == cluster)
            .map(|n| n.host.clone())
            .collect()
    }

    /// Samples held in memory, counting gaps (the grids' size).
    pub(crate) fn slots_held(&self) -> usize {
        self.open
            .values()
            .chain(self.late.values())
            .flat_map(|w| w.grids.iter())
            .map(|(_, g)| g.len())
            .sum()
    }

    /// Every window (open and late) with the start time of its grids.
    pub(crate) fn windows(&self) -> impl Iterator<Item = (i64, &Window)> {
        // Late windows hold newer samples than the stored chunk, open ones than nothing.
        self.open
            .iter()
            .chain(self.late.iter())
            .map(|(w, win)| (w * self.chunk, win))
    }
}

/// Slots of one chunk of a metric sampled every `timestep` seconds.
pub(crate) fn slots(chunk: i64, timestep: i64) -> usize {
    usize::try_from((chunk + timestep - 1) / timestep.max(1)).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::metric::Scope;

    fn sample(time: i64, value: f64) -> Sample<'static> {
        Sample {
            cluster: "c",
            host: "h",
            metric: "m",
            scope: Scope::Node,
            scope_id: "",
            stype: "",
            stype_id: "",
            time,
            value,
        }
    }

    #[test]
    fn samples_land_on_the_grid_and_windows_close_by_the_clock() {
        let mut b = Buffer::new(600);
        b.append(&sample(1200, 1.0), 60, (1, 1200));
        b.append(&sample(1259, 2.0), 60, (2, 1260)); // same slot: the last value stays
        b.append(&sample(1800, 3.0), 60, (3, 1800));
        b.next_seq = 4;
        assert_eq!(b.open[&2].grids.get(0).unwrap()[0], 2.0);
        assert!(b.open[&2].grids.get(0).unwrap()[1].is_nan());
        assert_eq!(b.open[&2].first_seq, 1);
        assert_eq!(b.closable(1800 + 60, 60), vec![2]);
        // Still receiving: not closed until quiet, or a chunk later.
        b.append(&sample(1210, 1.5), 60, (4, 1850));
        assert!(b.closable(1860, 60).is_empty());
        assert_eq!(b.closable(1910, 60), vec![2]);
        assert_eq!(b.closable(1800 + 60 + 600, 600), vec![2]);
        assert_eq!(b.position_after(&[2]), 3);
        b.stored(&[2], 1910, 60);
        assert_eq!(b.position_after(&[]), 3);
        // A sample for the closed window is late, not a new open window.
        b.append(&sample(1300, 5.0), 60, (5, 1900));
        assert!(b.late.contains_key(&2) && !b.open.contains_key(&2));
    }
}
