//! Prometheus metrics. Counters live in the process; queue gauges are read from the
//! database at scrape time so that every process of a shared deployment reports the truth.

use crate::domain::rules::Outcome;
use crate::store::status::Gauges;
use prometheus_client::encoding::{text::encode, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    /// start_job, stop_job, nodestate or unknown (could not be decoded).
    pub kind: &'static str,
    /// applied, duplicate, held, rejected.
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectLabels {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SkipLabels {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SeriesLabels {
    pub cluster: String,
    pub metric: String,
}

pub struct Metrics {
    registry: Registry,
    /// Metric store: samples decoded from the metric stream (each once per process).
    pub samples_received: Counter,
    /// Samples in chunks this process committed.
    pub samples_stored: Counter,
    pub samples_skipped: Family<SkipLabels, Counter>,
    /// Samples of metrics the configuration does not know, by metric.
    pub samples_unknown: Family<SeriesLabels, Counter>,
    pub chunk_bytes_written: Counter,
    pub chunks_merged: Counter,
    /// Series whose chunks of a day were compacted into one.
    pub series_compacted: Counter,
    pub metric_series: Gauge,
    /// Chunks in the database and their compressed bytes, as of the last upkeep pass.
    pub metric_chunks_held: Gauge,
    pub metric_chunk_bytes_held: Gauge,
    pub metric_slots_in_memory: Gauge,
    pub metric_stream_pending: Gauge,
    /// Seconds since the newest sample, per metric, set at scrape time.
    pub metric_age: Family<SeriesLabels, Gauge>,
    pub events: Family<EventLabels, Counter>,
    pub rejected: Family<RejectLabels, Counter>,
    pub received: Counter,
    pub skipped_metrics: Counter,
    pub batches: Counter,
    pub batch_seconds: Histogram,
    pub publish_to_commit_seconds: Histogram,
    pub pending: Gauge,
    pub archived: Counter,
    pub archive_failures: Counter,
    pub archive_seconds: Histogram,
    held_stops: Gauge,
    running_jobs: Gauge,
    archive_waiting: Gauge,
    archive_failed: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let m = Metrics {
            events: Family::default(),
            rejected: Family::default(),
            received: Counter::default(),
            skipped_metrics: Counter::default(),
            batches: Counter::default(),
            batch_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            publish_to_commit_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            pending: Gauge::default(),
            archived: Counter::default(),
            archive_failures: Counter::default(),
            archive_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            held_stops: Gauge::default(),
            running_jobs: Gauge::default(),
            archive_waiting: Gauge::default(),
            archive_failed: Gauge::default(),
            registry: Registry::default(),
            samples_received: Counter::default(),
            samples_stored: Counter::default(),
            samples_skipped: Family::default(),
            samples_unknown: Family::default(),
            chunk_bytes_written: Counter::default(),
            chunks_merged: Counter::default(),
            series_compacted: Counter::default(),
            metric_series: Gauge::default(),
            metric_chunks_held: Gauge::default(),
            metric_chunk_bytes_held: Gauge::default(),
            metric_slots_in_memory: Gauge::default(),
            metric_stream_pending: Gauge::default(),
            metric_age: Family::default(),
        };
        let r = &mut registry;
        r.register(
            "jobledger_events",
            "Events by kind and result",
            m.events.clone(),
        );
        r.register(
            "jobledger_events_rejected",
            "Rejected events by reason",
            m.rejected.clone(),
        );
        r.register(
            "jobledger_messages_received",
            "NATS messages received",
            m.received.clone(),
        );
        r.register(
            "jobledger_metric_lines_skipped",
            "Metric lines skipped on event subjects",
            m.skipped_metrics.clone(),
        );
        r.register("jobledger_batches", "Batches committed", m.batches.clone());
        r.register(
            "jobledger_batch_seconds",
            "Time to apply and commit one batch",
            m.batch_seconds.clone(),
        );
        r.register(
            "jobledger_publish_to_commit_seconds",
            "From JetStream publish to commit",
            m.publish_to_commit_seconds.clone(),
        );
        r.register(
            "jobledger_ingest_pending",
            "Messages waiting in the consumer (ingest lag)",
            m.pending.clone(),
        );
        r.register(
            "jobledger_held_stops",
            "Stops waiting for their start",
            m.held_stops.clone(),
        );
        r.register(
            "jobledger_running_jobs",
            "Running job instances",
            m.running_jobs.clone(),
        );
        r.register(
            "jobledger_archived",
            "Jobs archived by this process",
            m.archived.clone(),
        );
        r.register(
            "jobledger_archive_write_failures",
            "Failed archive writes (each is retried until archive.max_attempts)",
            m.archive_failures.clone(),
        );
        r.register(
            "jobledger_archive_write_seconds",
            "Time to write one job to the archive",
            m.archive_seconds.clone(),
        );
        r.register(
            "jobledger_archive_queue_depth",
            "Stopped jobs waiting for the archive",
            m.archive_waiting.clone(),
        );
        r.register(
            "jobledger_archive_failed",
            "Jobs whose archiving failed",
            m.archive_failed.clone(),
        );
        m.register_metric_store(r);
        Metrics { registry, ..m }
    }

    fn register_metric_store(&self, r: &mut Registry) {
        r.register(
            "jobledger_samples_received",
            "Metric samples decoded from the metric stream",
            self.samples_received.clone(),
        );
        r.register(
            "jobledger_samples_stored",
            "Metric samples in chunks this process committed",
            self.samples_stored.clone(),
        );
        r.register(
            "jobledger_samples_skipped",
            "Metric lines not stored, by reason",
            self.samples_skipped.clone(),
        );
        r.register(
            "jobledger_samples_unknown_metric",
            "Samples of metrics the configuration does not know",
            self.samples_unknown.clone(),
        );
        r.register(
            "jobledger_metric_chunk_bytes_written",
            "Compressed chunk bytes committed",
            self.chunk_bytes_written.clone(),
        );
        r.register(
            "jobledger_metric_chunks_merged",
            "Chunks merged into stored ones (late samples, replays)",
            self.chunks_merged.clone(),
        );
        r.register(
            "jobledger_metric_chunks_held",
            "Metric chunks in the database (as of the last upkeep pass)",
            self.metric_chunks_held.clone(),
        );
        r.register(
            "jobledger_metric_chunk_bytes_held",
            "Compressed bytes of the metric chunks in the database",
            self.metric_chunk_bytes_held.clone(),
        );
        r.register(
            "jobledger_metric_series_compacted",
            "Series whose chunks of a day became one",
            self.series_compacted.clone(),
        );
        r.register(
            "jobledger_metric_series",
            "Series known to this process",
            self.metric_series.clone(),
        );
        r.register(
            "jobledger_metric_slots_in_memory",
            "Grid slots of open chunks held in memory",
            self.metric_slots_in_memory.clone(),
        );
        r.register(
            "jobledger_metric_stream_pending",
            "Metric stream messages not yet read (lag)",
            self.metric_stream_pending.clone(),
        );
        r.register(
            "jobledger_metric_last_sample_age_seconds",
            "Seconds since the newest sample of each metric",
            self.metric_age.clone(),
        );
    }

    /// Count one applied input: `kind` is the event kind, `outcome` what the rules did.
    pub fn record(&self, kind: &'static str, outcome: &Outcome) {
        let result = match outcome {
            Outcome::Created(_) | Outcome::Stopped(_) | Outcome::Recorded => "applied",
            Outcome::Duplicate(_) => "duplicate",
            Outcome::Held => "held",
            Outcome::Rejected(reason, _) => {
                self.rejected
                    .get_or_create(&RejectLabels {
                        reason: reason.as_str(),
                    })
                    .inc();
                "rejected"
            }
        };
        self.events
            .get_or_create(&EventLabels { kind, result })
            .inc();
    }

    /// Prometheus text exposition, with the database gauges as of now.
    pub fn encode(&self, gauges: Option<Gauges>) -> String {
        if let Some(g) = gauges {
            self.held_stops.set(g.held_stops);
            self.running_jobs.set(g.running_jobs);
            self.archive_waiting.set(g.archive_waiting);
            self.archive_failed.set(g.archive_failed);
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
