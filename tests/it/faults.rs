//! Fault injection for the chaos suite: a private Postgres cluster that can be stopped, a
//! three-node NATS cluster, a publisher that keeps the publisher's side of the guarantee,
//! and the exact count every chaos case ends with.

use crate::events::*;
use crate::helpers::*;
use async_nats::jetstream::message::PublishMessage;
use std::process::Command;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How much bigger than in the test suite the chaos cases run: `JL_CHAOS_SCALE` (1 by
/// default; `scripts/chaos` runs them ten times as large).
pub(crate) fn scale() -> i64 {
    std::env::var("JL_CHAOS_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1)
}

/// `n` jobs from `first` on, each a start and a stop (cluster `testcluster`).
pub(crate) fn job_pairs(first: i64, n: i64) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(2 * n as usize);
    for id in first..first + n {
        out.push(start_line(&start_json(id, 1000)).into_bytes());
        out.push(stop_line(id, Some(1000), 1060, "completed").into_bytes());
    }
    out
}

/// What the ledger holds, read from the database itself.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Ledger {
    pub jobs: i64,
    /// Distinct (cluster, jobId): below `jobs` if a job was created twice.
    pub distinct: i64,
    pub running: i64,
    pub rejected: i64,
    pub held: i64,
}

pub(crate) async fn ledger(db: &TestDb) -> Ledger {
    let store = db.store().await;
    let row: (i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM job), \
         (SELECT COUNT(*) FROM (SELECT DISTINCT cluster, job_id FROM job) d), \
         (SELECT COUNT(*) FROM job WHERE job_state = 'running'), \
         (SELECT COUNT(*) FROM rejected_event), (SELECT COUNT(*) FROM held_stop)",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    store.close().await;
    Ledger {
        jobs: row.0,
        distinct: row.1,
        running: row.2,
        rejected: row.3,
        held: row.4,
    }
}

/// Every one of `jobs` published jobs is there once, stopped, and nothing was rejected.
pub(crate) async fn assert_exact(db: &TestDb, jobs: i64) {
    let want = Ledger {
        jobs,
        distinct: jobs,
        running: 0,
        rejected: 0,
        held: 0,
    };
    assert_eq!(ledger(db).await, want);
}

/// Wait until `n` jobs are completed; returns how long that took.
pub(crate) async fn wait_completed(app: &TestApp, n: i64, secs: u64) -> Duration {
    let t0 = Instant::now();
    let secs = secs * scale() as u64;
    eventually(secs, &format!("{n} completed jobs"), || async {
        let (_, body) = app.get("/api/jobs/?state=completed&items-per-page=1").await;
        body["total"].as_i64() == Some(n)
    })
    .await;
    t0.elapsed()
}

/// A figure for the README, printed where `cargo test -- --nocapture` shows it.
pub(crate) fn figure(case: &str, what: &str, value: impl std::fmt::Display) {
    eprintln!("chaos figure | {case} | {what} | {value}");
}

/// Publish as a publisher must for the guarantee: through JetStream, each message with a
/// `Nats-Msg-Id` (so a retried publish that did land is stored once), retried until the
/// stream acknowledges it, however NATS comes and goes meanwhile. Every wait is bounded,
/// and a round in which nothing was stored starts over on a new connection: a client
/// that lived through a server restart may stay stuck (seen with async-nats 0.51).
pub(crate) async fn publish_until_acked(setup: &Setup, id_prefix: &str, payloads: &[Vec<u8>]) {
    publish_until_acked_to(setup, &setup.job_subject, id_prefix, payloads).await;
}

/// `publish_until_acked` on any subject the stream captures (the metric subject).
pub(crate) async fn publish_until_acked_to(
    setup: &Setup,
    subject: &str,
    id_prefix: &str,
    payloads: &[Vec<u8>],
) {
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut js = loop {
        if let Some(js) = connect(setup).await {
            break js;
        }
        assert!(
            Instant::now() < deadline,
            "NATS did not come back for 5 minutes"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    for (c, chunk) in payloads.chunks(250).enumerate() {
        let mut pending: Vec<usize> = (0..chunk.len()).collect();
        while !pending.is_empty() {
            assert!(Instant::now() < deadline, "NATS took nothing for 5 minutes");
            let mut acks = Vec::with_capacity(pending.len());
            for &i in &pending {
                let msg = PublishMessage::build()
                    .payload(chunk[i].clone().into())
                    .message_id(format!("{id_prefix}-{c}-{i}"));
                let sent = tokio::time::timeout(
                    Duration::from_secs(5),
                    js.send_publish(subject.to_string(), msg),
                )
                .await;
                acks.push((i, sent));
            }
            // Awaited together: with NATS away each one waits out its own timeout.
            let acks = acks.into_iter().map(|(i, sent)| async move {
                let stored = match sent {
                    Ok(Ok(ack)) => matches!(
                        tokio::time::timeout(Duration::from_secs(10), ack).await,
                        Ok(Ok(_))
                    ),
                    _ => false,
                };
                (i, stored)
            });
            let failed: Vec<usize> = futures::future::join_all(acks)
                .await
                .into_iter()
                .filter(|(_, stored)| !stored)
                .map(|(i, _)| i)
                .collect();
            if failed.len() == pending.len() {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if let Some(fresh) = connect(setup).await {
                    js = fresh;
                }
            } else if !failed.is_empty() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            pending = failed;
        }
    }
}

/// Publish `jobs` jobs (a start and a stop each) in the background, in slices of
/// `slice` messages `pause` apart, and return once `flowing` jobs are in the ledger: the
/// burst is then still arriving when the test strikes.
pub(crate) async fn burst(
    app: &TestApp,
    jobs: i64,
    (slice, pause): (usize, Duration),
    flowing: i64,
) -> tokio::task::JoinHandle<()> {
    let setup = app.setup.clone();
    let publisher = tokio::spawn(async move {
        for (i, part) in job_pairs(1, jobs).chunks(slice).enumerate() {
            publish_until_acked(&setup, &format!("burst{i}"), part).await;
            tokio::time::sleep(pause).await;
        }
    });
    eventually(60, "a first part of the burst committed", || async {
        let (_, body) = app.get("/api/jobs/?items-per-page=1").await;
        body["total"].as_i64().unwrap_or(0) >= flowing
    })
    .await;
    publisher
}

/// A new JetStream context on the test's NATS, if it answers within 5 s.
async fn connect(setup: &Setup) -> Option<async_nats::jetstream::Context> {
    let urls: Vec<&str> = setup.nats_url.split(',').map(str::trim).collect();
    let client = tokio::time::timeout(Duration::from_secs(5), async_nats::connect(urls));
    Some(async_nats::jetstream::new(client.await.ok()?.ok()?))
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A Postgres cluster of the test's own, on a free port, that the test may stop.
pub(crate) struct PrivatePostgres {
    pub port: u16,
    dir: TempDir,
    bin: String,
}

impl PrivatePostgres {
    /// `initdb` as the `postgres` user (Postgres refuses to run as root), trust auth.
    pub(crate) fn start() -> PrivatePostgres {
        let version = std::fs::read_dir("/usr/lib/postgresql")
            .expect("Postgres is installed")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .max_by_key(|v| v.parse::<u32>().unwrap_or(0))
            .unwrap();
        let bin = format!("/usr/lib/postgresql/{version}/bin");
        let dir = tempfile::tempdir().unwrap();
        run(Command::new("chown").arg("postgres").arg(dir.path()));
        run(Command::new("runuser")
            .args(["-u", "postgres", "--", &format!("{bin}/initdb")])
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(dir.path().join("data")));
        let pg = PrivatePostgres {
            port: free_port(),
            dir,
            bin,
        };
        pg.ctl("start");
        pg
    }

    fn ctl(&self, action: &str) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        run(Command::new("runuser")
            .args(["-u", "postgres", "--", &format!("{}/pg_ctl", self.bin)])
            .args(["-w", "-m", "fast", "-o", &opts, "-l"])
            .arg(self.dir.path().join("log"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .arg(action));
    }

    /// `pg_ctl stop -m fast`: every session is terminated, then the server exits.
    pub(crate) fn stop(&self) {
        self.ctl("stop");
    }

    pub(crate) fn restart(&self) {
        self.ctl("start");
    }

    pub(crate) fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A new database on this cluster, as a `TestDb`.
    pub(crate) async fn database(&self) -> TestDb {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .unwrap();
        sqlx::Executor::execute(&mut admin, "CREATE DATABASE jl")
            .await
            .unwrap();
        TestDb::at(&self.url("jl"))
    }

    /// `pg_terminate_backend` on every session of database `jl`; returns how many.
    pub(crate) async fn terminate_sessions(&self) -> i64 {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .unwrap();
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = 'jl' AND pid <> pg_backend_pid()) t",
        )
        .fetch_one(&mut admin)
        .await
        .unwrap();
        n
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--", &format!("{}/pg_ctl", self.bin)])
            .args(["-m", "immediate", "-D"])
            .arg(self.dir.path().join("data"))
            .arg("stop")
            .output();
    }
}

/// Three nats-servers with JetStream, routed into one cluster.
pub(crate) struct NatsCluster {
    pub nodes: Vec<PrivateNats>,
}

impl NatsCluster {
    pub(crate) fn start() -> NatsCluster {
        let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let mut nodes = Vec::new();
        for (i, route) in routes.iter().enumerate() {
            let mut n = PrivateNats::new();
            let others: Vec<String> = routes
                .iter()
                .filter(|r| *r != route)
                .map(|r| format!("nats://127.0.0.1:{r}"))
                .collect();
            n.args = vec![
                "--server_name".into(),
                format!("n{i}"),
                "--cluster_name".into(),
                "jlc".into(),
                "--cluster".into(),
                format!("nats://127.0.0.1:{route}"),
                "--routes".into(),
                others.join(","),
            ];
            n.start();
            nodes.push(n);
        }
        NatsCluster { nodes }
    }

    /// Every node's address, as `nats.url` takes them.
    pub(crate) fn url(&self) -> String {
        let urls: Vec<String> = self
            .nodes
            .iter()
            .map(super::helpers::PrivateNats::url)
            .collect();
        urls.join(",")
    }
}
