//! `[nats]`: where the stream is, what it is called, and how jobledger consumes it.

use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct NatsConfig {
    pub url: String,
    pub job_subject: String,
    pub node_subject: String,
    pub stream: String,
    pub consumer: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    pub creds_file: Option<PathBuf>,
    /// How long JetStream waits for an ack before redelivering (also the catch-up delay
    /// after a crash for messages that were in flight).
    pub ack_wait: Duration,
    /// How long the stream keeps events (they stay replayable after they are applied).
    pub stream_max_age: Duration,
    /// Copies of the stream a NATS cluster keeps (1, or 3 or 5 in a JetStream cluster).
    pub stream_replicas: usize,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawNats {
    url: Option<String>,
    job_subject: Option<String>,
    node_subject: Option<String>,
    stream: Option<String>,
    consumer: Option<String>,
    user: Option<String>,
    password: Option<String>,
    token: Option<String>,
    creds_file: Option<PathBuf>,
    ack_wait_secs: Option<u64>,
    stream_max_age_days: Option<u64>,
    stream_replicas: Option<usize>,
}

pub(super) fn parse(n: RawNats) -> Result<NatsConfig, (&'static str, String)> {
    let secs = |v: Option<u64>, d: u64| Duration::from_secs(v.unwrap_or(d));
    let nats = NatsConfig {
        url: n.url.unwrap_or_else(|| "nats://127.0.0.1:4222".into()),
        job_subject: n.job_subject.unwrap_or_else(|| "cc.job.event".into()),
        node_subject: n.node_subject.unwrap_or_else(|| "cc.node.state".into()),
        stream: n.stream.unwrap_or_else(|| "JOBLEDGER".into()),
        consumer: n.consumer.unwrap_or_else(|| "jobledger".into()),
        user: n.user,
        password: n.password,
        token: n.token,
        creds_file: n.creds_file,
        // Short, so messages a killed process held come back soon; a batch that is
        // merely slow keeps its messages with in-progress acknowledgements.
        ack_wait: secs(n.ack_wait_secs, 10),
        stream_max_age: secs(n.stream_max_age_days, 14) * 86_400,
        stream_replicas: n.stream_replicas.unwrap_or(1),
    };
    check_nats_url(&nats.url).map_err(|m| ("nats.url", m))?;
    for (key, v) in [
        ("nats.job_subject", &nats.job_subject),
        ("nats.node_subject", &nats.node_subject),
        ("nats.stream", &nats.stream),
        ("nats.consumer", &nats.consumer),
    ] {
        check_name(key, v).map_err(|m| (key, m))?;
    }
    if nats.user.is_some() != nats.password.is_some() {
        return Err(("nats.user", "user and password go together".into()));
    }
    if nats.ack_wait < Duration::from_secs(1) {
        return Err(("nats.ack_wait_secs", "must be at least 1".into()));
    }
    if !(1..=5).contains(&nats.stream_replicas) {
        return Err(("nats.stream_replicas", "must be 1 to 5".into()));
    }
    Ok(nats)
}

pub(super) fn check_nats_url(urls: &str) -> Result<(), String> {
    for u in urls.split(',') {
        u.trim().parse::<async_nats::ServerAddr>().map_err(|e| {
            let u = crate::secret::redact_url(u);
            format!("{u:?} is not a NATS server address: {e}")
        })?;
    }
    Ok(())
}

fn check_name(key: &str, v: &str) -> Result<(), String> {
    let is_subject = key.ends_with("subject");
    let bad = |c: char| c.is_whitespace() || (!is_subject && matches!(c, '.' | '*' | '>'));
    if v.is_empty() || v.chars().any(bad) {
        Err(format!("{v:?} is not a valid NATS name here"))
    } else {
        Ok(())
    }
}
