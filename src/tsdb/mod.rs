//! The metric store: node metrics from cc-metric-collector, kept durably and compactly.
//!
//! A sample travels: metric stream (JetStream, captures the collectors' core-NATS
//! publishes) → [`line`] (decode) → [`buffer`] (open windows in memory) → [`commit`]
//! (closed windows as [`codec`] chunks in the database, with the stream position, in one
//! transaction) → [`read`] (stored chunks + open windows) → [`scope`] (units added up to
//! the scope asked for) → [`downsample`].
//!
//! The stream is the write-ahead log: a sample is durable once the stream stored it, and
//! the stream keeps every message after the stored position. A restart reads again from
//! that position and rebuilds the open windows; chunks stored twice merge into themselves.

mod buffer;
pub mod codec;
mod commit;
mod compact;
pub(crate) mod consume;
pub(crate) mod downsample;
mod fastline;
mod job_data;
mod json_values;
pub(crate) mod line;
pub(crate) mod read;
mod retention;
pub(crate) mod scope;
pub mod shape;

use crate::config::MetricsConfig;
use crate::domain::cluster::Clusters;
use crate::domain::metric::MetricSet;
use crate::metrics::{Metrics, SeriesLabels, SkipLabels};
use buffer::Buffer;
use line::Skip;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// The metric store of this process, shared by its consumer and its HTTP handlers.
pub struct Tsdb {
    buffer: RwLock<Buffer>,
    config: MetricsConfig,
    clusters: Clusters,
    metrics: Arc<Metrics>,
    /// Metric names counted as unknown, so a flood of made-up names cannot grow the
    /// `/metrics` output without bound.
    unknown_names: Mutex<HashSet<(String, String)>>,
    consuming: AtomicBool,
    /// This session has read every message the stream held when it last told us: what
    /// memory and the database hold of the past is all there will be. Until then a
    /// restarted process is still replaying samples it once held.
    caught_up: AtomicBool,
}

/// What a message holds: samples to keep, and lines skipped by reason.
#[derive(Debug, Default)]
pub(crate) struct Preview {
    pub samples: usize,
    pub skipped: std::collections::BTreeMap<String, usize>,
}

/// Most distinct unknown metric names given their own counter.
const MAX_UNKNOWN_NAMES: usize = 256;

impl Tsdb {
    pub fn new(config: MetricsConfig, clusters: Clusters, metrics: Arc<Metrics>) -> Tsdb {
        let chunk = i64::try_from(config.chunk.as_secs()).unwrap_or(7200);
        Tsdb {
            buffer: RwLock::new(Buffer::new(chunk)),
            config,
            clusters,
            metrics,
            unknown_names: Mutex::new(HashSet::new()),
            consuming: AtomicBool::new(false),
            caught_up: AtomicBool::new(false),
        }
    }

    pub fn config(&self) -> &MetricsConfig {
        &self.config
    }

    /// Seconds one stored chunk covers.
    pub fn chunk_secs(&self) -> i64 {
        self.read_buffer().chunk
    }

    pub fn is_consuming(&self) -> bool {
        self.consuming.load(Ordering::Relaxed)
    }

    /// Whether the past is complete here (see the `caught_up` field): the archiver waits
    /// for it, so a job archived after a restart or an outage misses none of its samples.
    pub fn is_caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Relaxed)
    }

    /// Decode one message and put its samples in the open windows. `seq` is its stream
    /// sequence, `arrived` (Unix seconds) when the stream stored it. Returns the samples
    /// kept.
    pub fn append_message(
        &self,
        payload: &[u8],
        default_cluster: Option<&str>,
        seq: u64,
        arrived: i64,
    ) -> usize {
        let mut kept = 0;
        let mut skipped = [0u64; Skip::ALL.len()];
        let mut set: Option<(String, Arc<MetricSet>)> = None;
        let scale = self
            .config
            .decimals
            .map(|d| 10f64.powi(i32::try_from(d).unwrap_or(2)));
        let mut buffer = self.write_buffer();
        line::decode(payload, default_cluster, arrived, |s| {
            let s = match s {
                Ok(s) if s.time > arrived + FUTURE_SKEW => Err(Skip::Future),
                other => other,
            };
            let s = match s {
                Ok(s) => s,
                Err(skip) => {
                    skipped[skip as usize] += 1;
                    return;
                }
            };
            if set.as_ref().is_none_or(|(c, _)| c != s.cluster) {
                set = Some((s.cluster.to_string(), self.clusters.metrics(s.cluster)));
            }
            let Some(config) = set.as_ref().and_then(|(_, m)| m.get(s.metric)) else {
                skipped[Skip::UnknownMetric as usize] += 1;
                self.count_unknown(s.cluster, s.metric);
                return;
            };
            let s = line::Sample {
                value: round(s.value, scale),
                ..s
            };
            buffer.append(&s, config.timestep, (seq, arrived));
            kept += 1;
        });
        buffer.next_seq = buffer.next_seq.max(seq + 1);
        drop(buffer);
        for (skip, n) in Skip::ALL.iter().zip(skipped) {
            if n > 0 {
                self.metrics
                    .samples_skipped
                    .get_or_create(&SkipLabels {
                        reason: skip.label(),
                    })
                    .inc_by(n);
            }
        }
        self.metrics.samples_received.inc_by(kept as u64);
        kept
    }

    /// What `append_message` would keep of `payload`, without keeping it: an HTTP write
    /// answers with it before the stream has delivered the body.
    pub(crate) fn preview(&self, payload: &[u8], default_cluster: Option<&str>) -> Preview {
        let now = chrono::Utc::now().timestamp();
        let mut out = Preview::default();
        let mut skip = |s: Skip| *out.skipped.entry(s.label().to_string()).or_default() += 1;
        let mut samples = 0;
        line::decode(payload, default_cluster, now, |s| match s {
            Ok(s) if s.time > now + FUTURE_SKEW => skip(Skip::Future),
            Ok(s) if self.clusters.metrics(s.cluster).get(s.metric).is_none() => {
                skip(Skip::UnknownMetric);
            }
            Ok(_) => samples += 1,
            Err(e) => skip(e),
        });
        out.samples = samples;
        out
    }

    fn count_unknown(&self, cluster: &str, metric: &str) {
        let mut names = self
            .unknown_names
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (cluster.to_string(), metric.to_string());
        let label = if names.contains(&key) || names.len() < MAX_UNKNOWN_NAMES {
            names.insert(key.clone());
            key
        } else {
            (cluster.to_string(), "(other)".to_string())
        };
        self.metrics
            .samples_unknown
            .get_or_create(&SeriesLabels {
                cluster: label.0,
                metric: label.1,
            })
            .inc();
    }

    /// For each metric with samples: (cluster, metric, newest sample time, timestep).
    pub fn newest_samples(&self) -> Vec<(String, String, i64, i64)> {
        let buffer = self.read_buffer();
        let mut newest: std::collections::BTreeMap<(String, String), (i64, i64)> =
            std::collections::BTreeMap::new();
        for s in &buffer.series {
            let e = newest
                .entry((s.key.cluster.clone(), s.key.metric.clone()))
                .or_insert((i64::MIN, s.timestep));
            e.0 = e.0.max(s.last);
        }
        newest
            .into_iter()
            .map(|((c, m), (t, step))| (c, m, t, step))
            .collect()
    }

    /// Metrics without a sample for 5 timesteps: `(cluster, metric, seconds since)`.
    pub fn stale(&self, now: i64) -> Vec<(String, String, i64)> {
        self.newest_samples()
            .into_iter()
            .filter(|(_, _, t, step)| now - t > 5 * step)
            .map(|(c, m, t, _)| (c, m, now - t))
            .collect()
    }

    /// Refresh the gauges `/metrics` shows.
    pub fn update_gauges(&self, now: i64) {
        for (cluster, metric, t, _) in self.newest_samples() {
            self.metrics
                .metric_age
                .get_or_create(&SeriesLabels { cluster, metric })
                .set(now - t);
        }
        let b = self.read_buffer();
        self.metrics
            .metric_series
            .set(i64::try_from(b.series.len()).unwrap_or(i64::MAX));
        self.metrics
            .metric_slots_in_memory
            .set(i64::try_from(b.slots_held()).unwrap_or(i64::MAX));
    }

    fn read_buffer(&self) -> std::sync::RwLockReadGuard<'_, Buffer> {
        // A panic while holding the lock leaves the buffer as consistent as any
        // half-applied message: the stream replays it after a restart.
        self.buffer
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write_buffer(&self) -> std::sync::RwLockWriteGuard<'_, Buffer> {
        self.buffer
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `f` of every item, in order, the second half on a thread of its own: a long read
/// decompresses and formats a million values, and the machine has more than one core.
pub(crate) fn on_two_threads<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let (first, second) = items.split_at(items.len() / 2);
    if first.is_empty() {
        return items.iter().map(&f).collect();
    }
    let f = &f;
    std::thread::scope(|t| {
        let other = std::thread::Builder::new()
            .spawn_scoped(t, move || second.iter().map(f).collect::<Vec<R>>());
        let mut out: Vec<R> = first.iter().map(f).collect();
        match other.map(std::thread::ScopedJoinHandle::join) {
            Ok(Ok(rest)) => out.extend(rest),
            // No thread to be had (or a bug there): the rest on this one.
            _ => out.extend(second.iter().map(f)),
        }
        out
    })
}

/// `v` rounded to the decimals `scale` (10^decimals) stands for; values too large to
/// have those decimals in an f64 stay as they are.
fn round(v: f64, scale: Option<f64>) -> f64 {
    match scale {
        Some(s) if (v * s).abs() < 9.0e15 => (v * s).round() / s,
        _ => v,
    }
}

/// Samples stamped further than this ahead of their arrival are refused: a window that
/// far in the future would keep the stream from being trimmed.
const FUTURE_SKEW: i64 = 600;

#[cfg(test)]
mod tests {
    use super::round;

    #[test]
    fn samples_are_rounded_to_the_configured_decimals() {
        assert_eq!(round(45.236_180_9, Some(100.0)), 45.24);
        assert_eq!(round(45.236_180_9, None), 45.236_180_9);
        assert!(round(f64::NAN, Some(100.0)).is_nan());
        assert_eq!(round(1e300, Some(100.0)), 1e300);
        assert_eq!(round(-0.004, Some(100.0)), -0.0);
    }
}
