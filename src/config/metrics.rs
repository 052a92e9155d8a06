//! `[metrics]`: where node metrics come from (cc-backend's `nats-subscriptions`), how the
//! stream that keeps them until they are stored is bounded, and how long they are kept.

use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct MetricsConfig {
    /// Node series older than this are dropped (nodes of running jobs keep theirs).
    pub retention: Duration,
    pub subscriptions: Vec<Subscription>,
    /// The JetStream stream that captures the subscribed subjects.
    pub stream: String,
    /// Limits of that stream; documented in the README ("Metrics").
    pub stream_max_bytes: i64,
    pub stream_max_age: Duration,
    /// Samples are stored in chunks covering this much time, aligned to the epoch.
    pub chunk: Duration,
    /// Samples are kept rounded to this many decimals (`None`: every bit, lossless).
    /// cc-backend's archive keeps 2; rounded values compress about 4 times better.
    pub decimals: Option<u32>,
    /// How often running jobs' footprints are computed again (`None`: never).
    pub footprint_interval: Option<Duration>,
    /// A chunk is closed and stored this long after its end (by the stream's clock), so
    /// samples that arrive a little late still land in it.
    pub close_after: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub subject: String,
    /// Cluster of lines without a `cluster` tag.
    pub cluster: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawMetrics {
    retention_hours: Option<u64>,
    subscriptions: Option<Vec<RawSubscription>>,
    stream: Option<String>,
    stream_max_mib: Option<u64>,
    stream_max_age_hours: Option<u64>,
    chunk_minutes: Option<u64>,
    close_after_secs: Option<u64>,
    decimals: Option<i64>,
    footprint_interval_secs: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubscription {
    subject: String,
    cluster: Option<String>,
}

/// Subject HTTP writes (`POST /api/write/`) are published on, inside the metric stream.
pub fn write_subject(stream: &str) -> String {
    format!("jobledger.{stream}.write")
}

pub(super) fn parse(m: RawMetrics) -> Result<MetricsConfig, (String, String)> {
    let err = |k: &str, msg: &str| Err((format!("metrics.{k}"), msg.to_string()));
    let hours = |v: Option<u64>, d: u64| Duration::from_secs(v.unwrap_or(d) * 3600);
    let subscriptions = match m.subscriptions {
        // cc-metric-collector's NATS sink example publishes here.
        None => vec![Subscription {
            subject: "hpc-nats".into(),
            cluster: None,
        }],
        Some(s) => s
            .into_iter()
            .map(|s| Subscription {
                subject: s.subject,
                cluster: s.cluster.filter(|c| !c.is_empty()),
            })
            .collect(),
    };
    for (i, s) in subscriptions.iter().enumerate() {
        if s.subject.is_empty() || s.subject.contains(char::is_whitespace) {
            return Err((
                format!("metrics.subscriptions[{i}].subject"),
                format!("{:?} is not a NATS subject", s.subject),
            ));
        }
    }
    let config = MetricsConfig {
        retention: hours(m.retention_hours, 48),
        subscriptions,
        stream: m.stream.unwrap_or_else(|| "JOBLEDGER_METRICS".into()),
        stream_max_bytes: i64::try_from(m.stream_max_mib.unwrap_or(16_384))
            .unwrap_or(i64::MAX / 2)
            .saturating_mul(1 << 20),
        stream_max_age: hours(m.stream_max_age_hours, 24),
        chunk: Duration::from_secs(m.chunk_minutes.unwrap_or(120) * 60),
        close_after: Duration::from_secs(m.close_after_secs.unwrap_or(300)),
        footprint_interval: match m.footprint_interval_secs.unwrap_or(600) {
            0 => None,
            s => Some(Duration::from_secs(s)),
        },
        decimals: match m.decimals.unwrap_or(2) {
            -1 => None,
            d @ 0..=12 => Some(u32::try_from(d).unwrap_or(2)),
            _ => return err("decimals", "must be 0 to 12, or -1 to keep every bit"),
        },
    };
    if config.stream.is_empty() || config.stream.contains(['.', '*', '>', ' ']) {
        return err(
            "stream",
            "must be a stream name without '.', '*', '>' or spaces",
        );
    }
    if config.stream_max_bytes <= 0 {
        return err("stream_max_mib", "must be at least 1");
    }
    if config.chunk < Duration::from_secs(60) || config.chunk.as_secs() % 60 != 0 {
        return err("chunk_minutes", "must be at least 1");
    }
    if config.retention < config.chunk {
        return err(
            "retention_hours",
            "must cover at least one chunk (chunk_minutes)",
        );
    }
    // The stream is the log of what is not stored yet: it must hold an open chunk.
    if config.stream_max_age < config.chunk * 2 + config.close_after {
        return err(
            "stream_max_age_hours",
            "must cover two chunks (chunk_minutes) and close_after_secs",
        );
    }
    Ok(config)
}
