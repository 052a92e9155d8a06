//! Test harness: the real `jobledger` binary against a real NATS server with JetStream and
//! a real database. Every test gets its own database, stream, consumer and subjects.

use serde_json::Value;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tempfile::TempDir;

pub(crate) const SHARED_NATS: &str = "nats://127.0.0.1:4222";
const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Db {
    Sqlite,
    Postgres,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique to this test run: process id, counter, time.
pub(crate) fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}{}_{n}_{t}", std::process::id())
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn sh(cmd: &str) {
    let _ = Command::new("sh").arg("-c").arg(cmd).status();
}

pub(crate) fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Start the machine's NATS or Postgres if it is down (as .ci/run does).
fn ensure_service(port: u16, start: &str) {
    if port_open(port) {
        return;
    }
    sh(start);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !port_open(port) {
        assert!(
            Instant::now() < deadline,
            "service on port {port} did not come up"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub(crate) fn ensure_shared_nats() {
    ensure_service(
        4222,
        "start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
         -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log",
    );
}

/// A fresh database: a temporary SQLite file or a new Postgres database.
pub(crate) struct TestDb {
    pub url: String,
    _dir: Option<TempDir>,
}

impl TestDb {
    pub(crate) async fn new(db: Db) -> TestDb {
        match db {
            Db::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/ledger.db", dir.path().display());
                TestDb {
                    url,
                    _dir: Some(dir),
                }
            }
            Db::Postgres => {
                ensure_service(
                    5432,
                    "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
                );
                use sqlx::Connection;
                let name = unique("jl_test_");
                let mut admin = sqlx::PgConnection::connect(PG_ADMIN).await.unwrap();
                sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str())
                    .await
                    .unwrap();
                TestDb {
                    url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
                    _dir: None,
                }
            }
        }
    }

    /// A database someone else created (a private Postgres cluster's).
    pub(crate) fn at(url: &str) -> TestDb {
        TestDb {
            url: url.to_string(),
            _dir: None,
        }
    }

    pub(crate) async fn store(&self) -> jobledger::store::Store {
        jobledger::store::Store::connect(&self.url).await.unwrap()
    }
}

/// A private NATS server with JetStream on a free port, for tests that stop NATS.
pub(crate) struct PrivateNats {
    pub port: u16,
    /// Extra nats-server arguments, such as `--user`/`--pass`.
    pub args: Vec<String>,
    dir: TempDir,
    child: Option<Child>,
}

impl PrivateNats {
    pub(crate) fn new() -> PrivateNats {
        PrivateNats {
            port: free_port(),
            args: Vec::new(),
            dir: tempfile::tempdir().unwrap(),
            child: None,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub(crate) fn start(&mut self) {
        let child = Command::new("/usr/sbin/nats-server")
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.dir.path())
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server is installed");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !port_open(self.port) {
            assert!(
                Instant::now() < deadline,
                "private nats-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Everything a jobledger process of a test is configured with.
#[derive(Clone)]
pub(crate) struct Setup {
    pub database_url: String,
    pub nats_url: String,
    pub stream: String,
    pub consumer: String,
    pub job_subject: String,
    pub node_subject: String,
    /// Extra keys of the `[nats]` section (credentials).
    pub nats_extra: String,
    /// Extra TOML appended to the generated file (clusters, ingest tuning).
    pub extra: String,
    /// The metric stream and the subject collectors publish on.
    pub metric_stream: String,
    pub metric_subject: String,
    /// Extra keys of the `[metrics]` section.
    pub metrics_extra: String,
}

impl Setup {
    pub(crate) fn new(db: &TestDb, nats_url: &str) -> Setup {
        let id = unique("t");
        Setup {
            database_url: db.url.clone(),
            nats_url: nats_url.to_string(),
            stream: format!("JL_{id}"),
            consumer: format!("jl_{id}"),
            job_subject: format!("jl.{id}.job"),
            node_subject: format!("jl.{id}.node"),
            nats_extra: String::new(),
            extra: String::new(),
            metric_stream: format!("JLM_{id}"),
            metric_subject: format!("jl.{id}.metrics"),
            // Each metric stream reserves its byte limit on the shared server.
            metrics_extra: "stream_max_mib = 64".into(),
        }
    }

    fn toml(&self, port: u16) -> String {
        format!(
            "[database]\nurl = \"{}\"\n[nats]\nurl = \"{}\"\nstream = \"{}\"\nconsumer = \"{}\"\n\
             job_subject = \"{}\"\nnode_subject = \"{}\"\nack_wait_secs = 3\n{}\
             [http]\nlisten = \"127.0.0.1:{port}\"\n[metrics]\nstream = \"{}\"\n{}\n\
             [[metrics.subscriptions]]\nsubject = \"{}\"\ncluster = \"testcluster\"\n{}",
            self.database_url,
            self.nats_url,
            self.stream,
            self.consumer,
            self.job_subject,
            self.node_subject,
            self.nats_extra,
            self.metric_stream,
            self.metrics_extra,
            self.metric_subject,
            self.extra
        )
    }

    pub(crate) async fn jetstream(&self) -> async_nats::jetstream::Context {
        // `nats.url` may list several servers (a cluster).
        let urls: Vec<&str> = self.nats_url.split(',').map(str::trim).collect();
        let client = async_nats::connect(urls).await.unwrap();
        async_nats::jetstream::new(client)
    }
}

/// A running `jobledger serve` process.
pub(crate) struct TestApp {
    pub setup: Setup,
    pub base: String,
    port: u16,
    dir: TempDir,
    child: Option<Child>,
    pub http: reqwest::Client,
}

impl TestApp {
    /// Start jobledger and wait until it is healthy: its stream and consumer exist, so a
    /// test may publish at once (JetStream refuses subjects no stream captures yet).
    pub(crate) async fn spawn(setup: Setup) -> TestApp {
        let app = Self::spawn_without_nats(setup).await;
        app.wait_healthy().await;
        app
    }

    /// Start jobledger and wait only for its HTTP API, for tests where NATS is down.
    pub(crate) async fn spawn_without_nats(setup: Setup) -> TestApp {
        let port = free_port();
        let mut app = TestApp {
            base: format!("http://127.0.0.1:{port}"),
            setup,
            port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
            http: reqwest::Client::new(),
        };
        app.start().await;
        app
    }

    /// The configuration file this process runs with (`emit` can use it too).
    pub(crate) fn config_path(&self) -> PathBuf {
        self.dir.path().join("jobledger.toml")
    }

    pub(crate) fn log_path(&self) -> PathBuf {
        self.dir.path().join("jobledger.log")
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub(crate) async fn start(&mut self) {
        let config = self.config_path();
        std::fs::write(&config, self.setup.toml(self.port)).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_jobledger"))
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .current_dir(self.dir.path())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self
                .http
                .get(format!("{}/api/openapi.json", self.base))
                .send()
                .await
            {
                if r.status().is_success() {
                    return;
                }
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("jobledger exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "jobledger did not start:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.get("/healthz").await.0 != 200 {
            assert!(
                Instant::now() < deadline,
                "jobledger did not become healthy:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Start again after `kill` or `terminate`, and wait until healthy.
    pub(crate) async fn restart(&mut self) {
        self.start().await;
        self.wait_healthy().await;
    }

    /// SIGKILL: no chance to commit, acknowledge or clean up.
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait (at most a minute) for a clean exit.
    pub(crate) fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            sh(&format!("kill -TERM {}", c.id()));
            let deadline = Instant::now() + Duration::from_secs(60);
            let status = loop {
                if let Some(status) = c.try_wait().unwrap() {
                    break status;
                }
                if Instant::now() > deadline {
                    let _ = c.kill();
                    panic!("jobledger ignored SIGTERM for a minute:\n{}", self.log());
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            assert!(
                status.success(),
                "jobledger exited with {status}:\n{}",
                self.log()
            );
        }
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn post(&self, path: &str, body: &str) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Any request, with an optional token; the body is parsed as JSON when it is JSON.
    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&str>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn get_as(&self, path: &str, token: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None, Some(token))
            .await
    }

    /// Jobs matching `query` (a `GET /api/jobs/` query string), all pages.
    pub(crate) async fn jobs(&self, query: &str) -> Vec<Value> {
        let (status, body) = self
            .get(&format!(
                "/api/jobs/?items-per-page=100000&with-metadata=true&{query}"
            ))
            .await;
        assert_eq!(status, 200, "{body}");
        body["jobs"].as_array().unwrap().clone()
    }

    pub(crate) async fn rejected(&self) -> Vec<Value> {
        let (_, body) = self.get("/api/rejected/?items-per-page=100000").await;
        body["events"].as_array().cloned().unwrap_or_default()
    }

    pub(crate) async fn metric(&self, name_and_labels: &str) -> f64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
            .unwrap_or(0.0)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Poll `check` until it returns true or `secs` pass.
pub(crate) async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
