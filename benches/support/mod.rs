//! What several benchmarks share: a free loopback port, a private nats-server with
//! JetStream (stopped when dropped), fresh databases to run against, and medians. Each benchmark is its own crate and includes this
//! module with `mod support;`.

// Not every benchmark uses every helper.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A nats-server with JetStream on a free loopback port, storing below `dir`.
pub(crate) struct Nats {
    pub(crate) port: u16,
    child: Child,
}

impl Nats {
    pub(crate) fn start(dir: &Path) -> Nats {
        let port = free_port();
        let child = Command::new("/usr/sbin/nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server is installed");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Nats { port, child }
    }

    /// Stop it now (a benchmark measuring what happens without NATS).
    pub(crate) fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub(crate) fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

pub(crate) fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !port_open(port) {
        assert!(Instant::now() < deadline, "port {port} did not open");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) struct Proc(pub(crate) Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A database kind; every run gets a fresh, empty database of it so runs compare fairly.
pub(crate) struct Target {
    pub(crate) name: &'static str,
    /// SQLite: the folder for the files. Postgres: the admin URL used to create databases.
    pub(crate) base: String,
}

impl Target {
    pub(crate) async fn fresh(&self, tag: &str) -> String {
        use sqlx::{Connection, Executor};
        if self.name == "sqlite" {
            return format!("sqlite://{}/{tag}.db", self.base);
        }
        let mut conn = sqlx::PgConnection::connect(&self.base).await.unwrap();
        let name = format!("jl_bench_{}_{}", std::process::id(), tag.to_lowercase());
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        let server = self.base.rsplit_once('/').unwrap().0;
        format!("{server}/{name}")
    }
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

pub(crate) fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

pub(crate) async fn postgres_target() -> Option<Target> {
    use sqlx::Connection;
    let admin = std::env::var("BENCH_PG_ADMIN")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    if admin == "off" {
        return None;
    }
    sqlx::PgConnection::connect(&admin).await.ok()?;
    Some(Target {
        name: "postgres",
        base: admin,
    })
}

/// Publish every payload through JetStream as fast as it takes them, with at most
/// `window` acknowledgements outstanding, and return once all are stored.
pub(crate) async fn publish_acked<P: Into<axum::body::Bytes>>(
    js: &async_nats::jetstream::Context,
    subject: &str,
    payloads: Vec<P>,
    window: usize,
) {
    let mut acks = Vec::with_capacity(window);
    for p in payloads {
        acks.push(js.publish(subject.to_string(), p.into()).await.unwrap());
        if acks.len() == window {
            for a in acks.drain(..) {
                a.await.unwrap();
            }
        }
    }
    for a in acks {
        a.await.unwrap();
    }
}
