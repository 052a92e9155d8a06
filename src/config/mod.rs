//! Configuration: a TOML file, then environment overrides, parsed into typed values.
//!
//! Every error names the key and where it came from (file or environment variable), because
//! the person reading it is an admin at a terminal who should not have to guess.

mod archive;
mod auth;
mod clusters;
mod env;
mod metrics;
mod nats;

use crate::domain::cluster::Clusters;
pub use archive::{ArchiveConfig, RetentionConfig, S3Config};
use archive::{RawArchive, RawRetention};
pub use auth::AuthConfig;
pub(crate) use clusters::from_cluster_json;
pub use metrics::{write_subject, MetricsConfig, Subscription};
pub use nats::NatsConfig;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    /// Where the values came from, for log lines and error messages.
    pub source: String,
    pub database_url: String,
    pub nats: NatsConfig,
    pub http_listen: SocketAddr,
    pub ingest: IngestConfig,
    pub emit: EmitConfig,
    pub archive: ArchiveConfig,
    pub retention: RetentionConfig,
    pub clusters: Clusters,
    pub metrics: MetricsConfig,
    /// `None`: no `[auth]` section and no `JWT_PUBLIC_KEY`; loopback only, no tokens.
    pub auth: Option<AuthConfig>,
    pub efficiency: crate::domain::efficiency::Thresholds,
}

/// `jobledger emit`, the publisher Slurm hooks call.
#[derive(Debug, Clone)]
pub struct EmitConfig {
    /// Where events wait when NATS does not acknowledge in time.
    pub spool_dir: PathBuf,
    /// Hard limit for connecting, flushing the spool and publishing.
    pub deadline: Duration,
    /// Exit code when an event can be neither published nor spooled (0: never fail a hook).
    pub spool_error_exit_code: u8,
    pub max_spool_files: usize,
}

#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Most messages applied in one transaction.
    pub batch_size: usize,
    /// How long an early stop waits for its start before it is rejected as "no such job".
    pub held_stop_timeout: Duration,
    /// How often held stops are retried and expired.
    pub held_stop_interval: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration error in {source_name}, key `{key}`: {message}")]
pub struct ConfigError {
    pub source_name: String,
    pub key: String,
    pub message: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    database: RawDatabase,
    nats: nats::RawNats,
    http: RawHttp,
    ingest: RawIngest,
    emit: RawEmit,
    archive: RawArchive,
    retention: RawRetention,
    clusters: Vec<clusters::RawCluster>,
    metrics: metrics::RawMetrics,
    auth: Option<auth::RawAuth>,
    tagging: RawTagging,
    efficiency: RawEfficiency,
}

/// `[efficiency]`: below which percentages an efficiency report speaks up.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawEfficiency {
    cpu_low_percent: Option<f64>,
    memory_low_percent: Option<f64>,
    gpu_low_percent: Option<f64>,
    walltime_low_percent: Option<f64>,
}

/// `[tagging]`: cc-backend's tagger folder (`apps/`, `jobclasses/`).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawTagging {
    /// Relative to the configuration file's folder.
    path: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawEmit {
    spool_dir: Option<PathBuf>,
    deadline_ms: Option<u64>,
    spool_error_exit_code: Option<u8>,
    max_spool_files: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawDatabase {
    url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawHttp {
    listen: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawIngest {
    batch_size: Option<usize>,
    held_stop_timeout_secs: Option<u64>,
    held_stop_interval_secs: Option<u64>,
}

pub const DEFAULT_CONFIG_PATH: &str = "config/jobledger.toml";

impl Config {
    /// `--config`, else `$JOBLEDGER_CONFIG`, else `config/jobledger.toml` if present, else defaults.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let env_path = std::env::var_os("JOBLEDGER_CONFIG").map(PathBuf::from);
        let path = explicit.map(Path::to_path_buf).or(env_path).or_else(|| {
            let p = PathBuf::from(DEFAULT_CONFIG_PATH);
            p.exists().then_some(p)
        });
        let mut config = match path {
            Some(p) => {
                let name = p.display().to_string();
                let text = std::fs::read_to_string(&p).map_err(|e| ConfigError {
                    source_name: name.clone(),
                    key: "-".into(),
                    message: format!("cannot read the file: {e}"),
                })?;
                Self::from_toml(&text, &name)?
            }
            None => Self::from_toml("", "built-in defaults")?,
        };
        config.apply_env(|k| std::env::var(k).ok())?;
        config.check()?;
        Ok(config)
    }

    /// What only the whole configuration can tell: a key for `[auth]`, and no API
    /// without authentication beyond this host.
    pub fn check(&self) -> Result<(), ConfigError> {
        let err = |key: &str, message: String| ConfigError {
            source_name: self.source.clone(),
            key: key.to_string(),
            message,
        };
        match &self.auth {
            Some(a) if a.verifier.is_none() => Err(err(
                "auth.public_key",
                "[auth] needs a key: public_key, public_key_file or JWT_PUBLIC_KEY".into(),
            )),
            None if !self.http_listen.ip().is_loopback() => Err(err(
                "http.listen",
                format!(
                    "{} is reachable from other hosts, but there is no [auth] section: \
                     add one (see `jobledger keygen`) or listen on a loopback address",
                    self.http_listen
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Parse a TOML document; `source_name` is used in error messages.
    pub fn from_toml(text: &str, source_name: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError {
            source_name: source_name.to_string(),
            key: key_at(text, e.span()),
            message: e.message().to_string(),
        })?;
        let err = |key: &str, message: String| ConfigError {
            source_name: source_name.to_string(),
            key: key.to_string(),
            message,
        };
        let secs = |v: Option<u64>, d: u64| Duration::from_secs(v.unwrap_or(d));
        let nats = nats::parse(raw.nats).map_err(|(k, m)| err(k, m))?;
        let database_url = raw
            .database
            .url
            .unwrap_or_else(|| "sqlite://var/jobledger.db".into());
        check_database_url(&database_url).map_err(|m| err("database.url", m))?;
        let listen = raw.http.listen.unwrap_or_else(|| "127.0.0.1:8080".into());
        let http_listen = parse_listen(&listen).map_err(|m| err("http.listen", m))?;
        let i = raw.ingest;
        let batch_size = i.batch_size.unwrap_or(2000);
        if !(1..=50_000).contains(&batch_size) {
            return Err(err("ingest.batch_size", "must be 1 to 50000".into()));
        }
        let ingest = IngestConfig {
            batch_size,
            held_stop_timeout: secs(i.held_stop_timeout_secs, 3600),
            held_stop_interval: secs(i.held_stop_interval_secs, 5).max(Duration::from_secs(1)),
        };
        let e = raw.emit;
        let emit = EmitConfig {
            spool_dir: e.spool_dir.unwrap_or_else(|| "/var/spool/jobledger".into()),
            deadline: Duration::from_millis(e.deadline_ms.unwrap_or(2000)),
            spool_error_exit_code: e.spool_error_exit_code.unwrap_or(0),
            max_spool_files: e.max_spool_files.unwrap_or(100_000),
        };
        if emit.deadline < Duration::from_millis(10) {
            return Err(err("emit.deadline_ms", "must be at least 10".into()));
        }
        let archive = archive::parse(raw.archive).map_err(|(k, m)| err(k, m))?;
        let retention = archive::parse_retention(raw.retention);
        let base = Path::new(source_name).parent().unwrap_or(Path::new("."));
        let mut clusters = clusters::parse(raw.clusters, base).map_err(|(k, m)| err(&k, m))?;
        if let Some(dir) = raw.tagging.path {
            let taggers = crate::tagging::Taggers::load(&base.join(dir))
                .map_err(|m| err("tagging.path", m))?;
            clusters = clusters.with_taggers(std::sync::Arc::new(taggers));
        }
        let metrics = metrics::parse(raw.metrics).map_err(|(k, m)| err(&k, m))?;
        for (i, s) in metrics.subscriptions.iter().enumerate() {
            if [&nats.job_subject, &nats.node_subject].contains(&&s.subject) {
                return Err(err(
                    &format!("metrics.subscriptions[{i}].subject"),
                    format!("{:?} is already the job or node-state subject", s.subject),
                ));
            }
        }
        let d = crate::domain::efficiency::Thresholds::default();
        let e = raw.efficiency;
        let mut efficiency = d;
        for (key, v, to) in [
            (
                "efficiency.cpu_low_percent",
                e.cpu_low_percent,
                &mut efficiency.cpu,
            ),
            (
                "efficiency.memory_low_percent",
                e.memory_low_percent,
                &mut efficiency.memory,
            ),
            (
                "efficiency.gpu_low_percent",
                e.gpu_low_percent,
                &mut efficiency.gpu,
            ),
            (
                "efficiency.walltime_low_percent",
                e.walltime_low_percent,
                &mut efficiency.walltime,
            ),
        ] {
            match v {
                Some(p) if !(0.0..=100.0).contains(&p) => {
                    return Err(err(key, "must be 0 to 100".into()))
                }
                Some(p) => *to = p,
                None => {}
            }
        }
        let auth = match raw.auth {
            Some(a) => Some(auth::parse(a).map_err(|(k, m)| err(k, m))?),
            None => None,
        };
        Ok(Config {
            source: source_name.to_string(),
            database_url,
            nats,
            http_listen,
            ingest,
            emit,
            archive,
            retention,
            clusters,
            metrics,
            auth,
            efficiency,
        })
    }
}

pub(super) fn check_database_url(url: &str) -> Result<(), String> {
    let ok = ["sqlite:", "postgres://", "postgresql://"]
        .iter()
        .any(|p| url.starts_with(p));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{:?} is not a database URL: use sqlite://PATH or postgres://USER@HOST/DB",
            crate::secret::redact_url(url)
        ))
    }
}

pub(super) fn parse_listen(v: &str) -> Result<SocketAddr, String> {
    v.parse()
        .map_err(|_| format!("{v:?} is not an address:port such as 127.0.0.1:8080"))
}

/// Best-effort `section.key` for a TOML error span: the key on that line, prefixed with the
/// nearest table header above it.
fn key_at(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(span) = span else { return "-".into() };
    let before = &text[..span.start.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let key = line.split('=').next().unwrap_or("").trim();
    let section = before[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim());
    match (section, key.starts_with('[')) {
        (_, true) | (None, _) => key.trim_matches(|c| c == '[' || c == ']').to_string(),
        (Some(s), false) => format!("{s}.{key}"),
    }
}

#[cfg(test)]
mod tests;
