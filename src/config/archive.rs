//! `[archive]` and `[retention]`: where finished jobs go and what the database forgets.

use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// The archiver inside `serve` (cc-backend job-archive v3 layout).
#[derive(Debug, Clone)]
pub struct ArchiveConfig {
    /// Root folder of the file archive (`kind = "file"`).
    pub path: PathBuf,
    /// The S3 bucket instead (`kind = "s3"`).
    pub s3: Option<S3Config>,
    /// False: this process does not archive (another one does).
    pub enabled: bool,
    /// Failed writes before a job gets monitoringStatus 2.
    pub max_attempts: i64,
    /// Jobs claimed per pass.
    pub batch_size: i64,
    /// First retry delay; doubled per attempt, at most one hour.
    pub retry_base: Duration,
    /// How long a claim holds before another process may take the job over.
    pub lease: Duration,
    /// A job is archived this long after its stop, so the samples of its last minutes
    /// (sent at the collectors' interval) are in the metric store first.
    pub metrics_wait: Duration,
}

/// An S3-compatible store; what is not set here comes from the usual `AWS_*` environment.
#[derive(Clone)]
pub struct S3Config {
    pub bucket: String,
    /// None: AWS itself (`AWS_ENDPOINT_URL` if set).
    pub endpoint: Option<String>,
    /// None: `AWS_REGION`/`AWS_DEFAULT_REGION`, else us-east-1.
    pub region: Option<String>,
    /// `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key`; most
    /// on-site stores (MinIO, Ceph RGW without wildcard DNS) need it.
    pub path_style: bool,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret key: configurations end up in logs and bug reports.
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .finish_non_exhaustive()
    }
}

/// What the database forgets, and when. Off (0 days) by default.
#[derive(Debug, Clone)]
pub struct RetentionConfig {
    /// Delete node-state history rows older than this many days (0: keep).
    pub node_history_days: u32,
    /// Remove archived jobs (monitoringStatus 3) stopped more than this many days ago
    /// (0: keep). The archive keeps them; `archive import` brings them back.
    pub archived_jobs_days: u32,
    pub interval: Duration,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawRetention {
    node_history_days: Option<u32>,
    archived_jobs_days: Option<u32>,
    interval_secs: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawArchive {
    kind: Option<String>,
    path: Option<PathBuf>,
    bucket: Option<String>,
    endpoint: Option<String>,
    region: Option<String>,
    path_style: Option<bool>,
    access_key: Option<String>,
    secret_key: Option<String>,
    enabled: Option<bool>,
    max_attempts: Option<i64>,
    batch_size: Option<i64>,
    retry_base_secs: Option<u64>,
    lease_secs: Option<u64>,
    metrics_wait_secs: Option<u64>,
}

fn secs(v: Option<u64>, default: u64) -> Duration {
    Duration::from_secs(v.unwrap_or(default))
}

/// The `[archive]` section; an error is (key, message).
pub(super) fn parse(a: RawArchive) -> Result<ArchiveConfig, (&'static str, String)> {
    let s3 = match a.kind.as_deref() {
        None | Some("file") => None,
        Some("s3") => {
            let bucket = a.bucket.filter(|b| !b.is_empty());
            let bucket = bucket.ok_or(("archive.bucket", "kind = \"s3\" needs a bucket".into()))?;
            if let Some(e) = &a.endpoint {
                if !(e.starts_with("http://") || e.starts_with("https://")) {
                    let m = format!("{e:?} must start with http:// or https://");
                    return Err(("archive.endpoint", m));
                }
            }
            if a.access_key.is_some() != a.secret_key.is_some() {
                let m = "access_key and secret_key go together (or leave both to AWS_*)";
                return Err(("archive.secret_key", m.into()));
            }
            Some(S3Config {
                bucket,
                endpoint: a.endpoint.map(|e| e.trim_end_matches('/').to_string()),
                region: a.region,
                path_style: a.path_style.unwrap_or(false),
                access_key: a.access_key,
                secret_key: a.secret_key,
            })
        }
        Some(other) => {
            return Err(("archive.kind", format!("{other:?}: use \"file\" or \"s3\"")));
        }
    };
    let archive = ArchiveConfig {
        path: a.path.unwrap_or_else(|| "var/archive".into()),
        s3,
        enabled: a.enabled.unwrap_or(true),
        max_attempts: a.max_attempts.unwrap_or(5),
        batch_size: a.batch_size.unwrap_or(200),
        retry_base: secs(a.retry_base_secs, 5).max(Duration::from_secs(1)),
        lease: secs(a.lease_secs, 300).max(Duration::from_secs(5)),
        metrics_wait: secs(a.metrics_wait_secs, 120),
    };
    if !(1..=100).contains(&archive.max_attempts) {
        return Err(("archive.max_attempts", "must be 1 to 100".into()));
    }
    if !(1..=10_000).contains(&archive.batch_size) {
        return Err(("archive.batch_size", "must be 1 to 10000".into()));
    }
    Ok(archive)
}

pub(super) fn parse_retention(r: RawRetention) -> RetentionConfig {
    RetentionConfig {
        node_history_days: r.node_history_days.unwrap_or(0),
        archived_jobs_days: r.archived_jobs_days.unwrap_or(0),
        interval: secs(r.interval_secs, 3600).max(Duration::from_secs(1)),
    }
}
