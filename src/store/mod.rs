//! Store: every SQL statement lives below this module, always parameterised.
//!
//! One code path serves SQLite and Postgres through `sqlx::Any`: both accept `$N`
//! placeholders, `ON CONFLICT`, `RETURNING` and partial unique indexes, and the schema uses
//! 64-bit integers only, so the two behave the same. Migrations are per database.

mod apply;
pub mod archive;
pub mod blocks;
mod bulk;
mod edit;
mod fault;
mod filter;
mod footprint_sort;
pub mod histogram;
mod isolate;
mod nodes;
pub mod query;
pub mod series;
pub(crate) mod stats;
pub(crate) mod status;
mod values;
mod write;

pub use apply::{Applied, Input};
pub use edit::EditError;
pub use fault::{ApplyError, Fault};

use crate::secret::redact_url;
use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Store {
    /// Connect to `url` (`sqlite://PATH` or `postgres://…`). For SQLite the file and its
    /// folder are created if missing.
    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .with_context(|| format!("invalid database URL {:?}", redact_url(&url)))?
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(2));
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer. FULL makes a commit durable
                        // before we acknowledge the messages it applied (one fsync per batch).
                        // A 64 MiB page cache per connection (the default is 2 MiB) keeps the
                        // upper levels of the indexes of a ledger of millions of jobs in
                        // memory instead of re-reading them from the OS for every query.
                        // Memory-mapped
                        // reads: this SQLite otherwise issues one read() per row a scan
                        // visits (strace: 1.2 million for one month's statistics), whatever
                        // the cache size; .cargo/config.toml lifts the 2 GiB map limit.
                        // 16 KiB pages, for a new file only (an existing one keeps its
                        // size): a metric day chunk (2-3 kB) then sits in its b-tree page
                        // instead of spilling into a 4 KiB overflow page it barely uses
                        // (2.62 → see README "Metrics" bytes per sample).
                        conn.execute(
                            "PRAGMA page_size = 16384; \
                             PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                             PRAGMA cache_size = -65536; PRAGMA mmap_size = 1099511627776;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("cannot connect to the database at {}", redact_url(&url)))?;
        Ok(Store { pool, backend })
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&self.pool)
            .await
            .context("applying database migrations")?;
        if self.backend == Backend::Sqlite {
            // Planner statistics where they are missing or stale, sampling at most 1000
            // rows per index, as SQLite advises; once at start-up, before ingest writes,
            // because ANALYZE takes the write lock. (Postgres has autovacuum.)
            sqlx::query("PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002;")
                .execute(&self.pool)
                .await
                .context("refreshing SQLite's planner statistics")?;
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction that reads before it writes. On SQLite it takes the write lock at
    /// once (`BEGIN IMMEDIATE`, which waits its turn under `busy_timeout`): a deferred one
    /// that has read fails at its first write, without waiting, if another connection
    /// wrote meanwhile.
    pub(crate) async fn begin_read_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            _ => self.pool.begin().await,
        }
    }

    /// Is the database answering?
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Create the SQLite file's folder and ask for the file to be created if missing.
fn prepare_sqlite_url(url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" {
        return Ok(url.to_string());
    }
    if let Some(dir) = std::path::Path::new(path).parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the folder {}", dir.display()))?;
        }
    }
    let mode = if query.contains("mode=") {
        ""
    } else {
        "mode=rwc"
    };
    let sep = if query.is_empty() || mode.is_empty() {
        ""
    } else {
        "&"
    };
    Ok(format!("sqlite://{path}?{query}{sep}{mode}"))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_get_create_mode() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/a/b.db", dir.path().display());
        assert!(prepare_sqlite_url(&url)
            .unwrap()
            .ends_with("/a/b.db?mode=rwc"));
        assert!(dir.path().join("a").is_dir());
        assert_eq!(
            prepare_sqlite_url("sqlite::memory:").unwrap(),
            "sqlite::memory:"
        );
    }
}
