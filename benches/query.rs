//! Query benchmark: `cargo bench --bench query`.
//!
//! Fills a database with `jobledger seed` (BENCH_JOBS synthetic jobs, 10 million by
//! default: 1,000 users, 100 projects, 10,000 nodes, 30 % multi-node, heavy-tailed run
//! times, spread over BENCH_DAYS = 365 days), starts the release `jobledger serve` on it,
//! and times through HTTP, as a client sees them:
//! - one page (25) of a user's jobs started in a 30-day window,
//! - the jobs that ran on one node during one day (overlap, not just started),
//! - usage by project over one month (jobs clipped to the month),
//! - running jobs by their footprint (the least flops first), one page,
//! - one day's jobs of a cluster by memory bandwidth, one page;
//! - the web interface's job list page (`/jobs`): every job newest first, a user's 30
//!   days, and running jobs by footprint, rendered as the browser gets them.
//!
//! Parameters are drawn at random (fixed seed). The database is read into the page cache
//! first (a server's steady state; Postgres with pg_prewarm), and a warm-up pass with
//! other parameters runs before the timed one. Reports p50/p95/p99/max and the database
//! size, for SQLite and Postgres.
//!
//! Seeding 10 million jobs takes minutes, so a seeded database is kept and reused:
//! SQLite under BENCH_DIR (/var/tmp/jobledger-bench), Postgres as the database
//! `jobledger_query_<jobs>`. Knobs: BENCH_JOBS, BENCH_DAYS, BENCH_QUERIES (200),
//! BENCH_DBS (sqlite,postgres), BENCH_PG_ADMIN, BENCH_ANALYZE (VACUUM ANALYZE a reused
//! Postgres database again; a fresh seed always gets it).

mod support;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

fn env_num(key: &str, default: u64) -> u64 {
    env_or(key, &default.to_string()).parse().unwrap_or(default)
}

fn jobledger(url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_jobledger"));
    c.env("JOBLEDGER_DATABASE_URL", url)
        .env_remove("JOBLEDGER_CONFIG")
        .env_remove("JWT_PUBLIC_KEY");
    c
}

/// Seed `url` unless it already holds `jobs` jobs; returns seconds spent seeding.
async fn ensure_seeded(url: &str, jobs: u64, days: u64) -> Option<f64> {
    match scalar(url, "SELECT COUNT(*) FROM job")
        .await
        .map(|n| n as u64)
    {
        Some(n) if n == jobs => return None,
        Some(0) | None => {}
        Some(n) => panic!("{url} holds {n} jobs, not {jobs}; drop it to reseed"),
    }
    eprintln!("seeding {jobs} jobs into {url} (minutes)...");
    let t0 = Instant::now();
    let status = jobledger(url)
        .args([
            "seed",
            "--jobs",
            &jobs.to_string(),
            "--days",
            &days.to_string(),
        ])
        .env("RUST_LOG", "info")
        .status()
        .unwrap();
    assert!(status.success(), "seeding failed");
    Some(t0.elapsed().as_secs_f64())
}

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(url: &str, dir: &std::path::Path) -> Server {
        let port = support::free_port();
        let config = dir.join("bench-query.toml");
        // NATS is not needed to answer queries: point it at a closed port. No archiver.
        std::fs::write(
            &config,
            format!(
                "[nats]\nurl = \"nats://127.0.0.1:{}\"\n[http]\nlisten = \"127.0.0.1:{port}\"\n\
                 [archive]\nenabled = false\n",
                support::free_port()
            ),
        )
        .unwrap();
        let child = jobledger(url)
            .args(["serve", "--config", config.to_str().unwrap()])
            .env("RUST_LOG", "warn")
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "jobledger did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Server { child, base }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The web interface's job list page: the API's query plus rendering (footprint bars,
/// hostlists, the filter form), as a browser asks for it. Each `/api/` kind below that a
/// page shows is timed once more as its page.
fn page_of(path: String) -> String {
    path.replacen("/api/jobs/?", "/jobs?", 1)
}

fn user_page_web(r: &mut StdRng, t0: i64, t1: i64) -> String {
    page_of(user_page(r, t0, t1))
}

fn running_by_footprint_web(r: &mut StdRng, t0: i64, t1: i64) -> String {
    page_of(running_by_footprint(r, t0, t1))
}

/// The page an admin opens first: every job, newest first.
fn all_jobs_web(_: &mut StdRng, _: i64, _: i64) -> String {
    "/jobs".to_string()
}

/// The query kinds, each a function of the random source and the data's time span.
fn user_page(r: &mut StdRng, t0: i64, t1: i64) -> String {
    let from = r.gen_range(t0..t1 - 30 * 86_400);
    format!(
        "/api/jobs/?user=u{:04}&start-time={from}-{}&items-per-page=25",
        r.gen_range(1..=1000),
        from + 30 * 86_400
    )
}

fn node_day(r: &mut StdRng, t0: i64, t1: i64) -> String {
    let day = r.gen_range(t0..t1 - 86_400);
    format!(
        "/api/jobs/?node=n{:05}&time={day}-{}&items-per-page=100",
        r.gen_range(1..=10_000),
        day + 86_399
    )
}

fn project_month(r: &mut StdRng, t0: i64, t1: i64) -> String {
    let from = r.gen_range(t0..t1 - 30 * 86_400);
    format!(
        "/api/stats/?group-by=project&time={from}-{}",
        from + 30 * 86_400
    )
}

fn running_by_footprint(r: &mut StdRng, _: i64, _: i64) -> String {
    let cluster = if r.gen_bool(0.8) { "fritz" } else { "alex" };
    format!("/api/jobs/?state=running&cluster={cluster}&sort=footprint.flops_any_avg:asc&items-per-page=25")
}

fn day_by_footprint(r: &mut StdRng, t0: i64, t1: i64) -> String {
    let day = r.gen_range(t0..t1 - 86_400);
    format!(
        "/api/jobs/?cluster=fritz&start-time={day}-{}&sort=footprint.mem_bw_avg:desc&items-per-page=25",
        day + 86_399
    )
}

type Query = fn(&mut StdRng, i64, i64) -> String;

async fn time_queries(
    http: &reqwest::Client,
    base: &str,
    q: Query,
    n: usize,
    rng: &mut StdRng,
    span: (i64, i64),
) -> Vec<f64> {
    let mut ms = Vec::with_capacity(n);
    for _ in 0..n {
        let path = q(rng, span.0, span.1);
        let t = Instant::now();
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        let status = r.status();
        let body = r.bytes().await.unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(
            status.is_success(),
            "{path}: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    ms.sort_by(f64::total_cmp);
    ms
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() {
    let jobs = env_num("BENCH_JOBS", 10_000_000);
    let days = env_num("BENCH_DAYS", 365);
    let n = env_num("BENCH_QUERIES", 200) as usize;
    let dir = std::path::PathBuf::from(env_or("BENCH_DIR", "/var/tmp/jobledger-bench"));
    std::fs::create_dir_all(&dir).unwrap();
    let admin = env_or(
        "BENCH_PG_ADMIN",
        "postgres://postgres@127.0.0.1:5432/postgres",
    );
    let http = reqwest::Client::new();
    println!("| database | jobs | size | seeding | query | runs | p50 | p95 | p99 | max |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for db in env_or("BENCH_DBS", "sqlite,postgres").split(',') {
        let (url, size): (String, Box<dyn Fn() -> String>) = if db == "sqlite" {
            let file = dir.join(format!("query-{jobs}.db"));
            let url = format!("sqlite://{}", file.display());
            let f = file.clone();
            (
                url,
                Box::new(move || gib(std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0))),
            )
        } else {
            let name = format!("jobledger_query_{jobs}");
            let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
            let (a, nm) = (admin.clone(), name.clone());
            psql(&admin, &format!("CREATE DATABASE {name}"));
            (
                url,
                Box::new(move || {
                    gib(psql(&a, &format!("SELECT pg_database_size('{nm}')"))
                        .trim()
                        .parse()
                        .unwrap_or(0))
                }),
            )
        };
        let seeded = ensure_seeded(&url, jobs, days).await;
        // Postgres' autovacuum vacuums and analyzes a freshly filled table on its own
        // schedule; do it now so the run does not depend on when. (SQLite: jobledger runs
        // PRAGMA optimize on each connection it opens.)
        if db != "sqlite" && (seeded.is_some() || std::env::var("BENCH_ANALYZE").is_ok()) {
            vacuum(&url).await;
        }
        // A server's database lives in the page cache once it has run a while; start
        // there rather than with whatever the seeding left in memory.
        warm(db, &url).await;
        let server = Server::start(&url, &dir);
        let now = chrono::Utc::now().timestamp();
        let (t1, t0) = span(&url)
            .await
            .unwrap_or((now, now - days as i64 * 86_400));
        let mut rng = StdRng::seed_from_u64(7);
        let queries: [(&str, Query, usize); 8] = [
            ("user's jobs, 30 days, one page", user_page, n),
            ("jobs on one node, one day", node_day, n),
            (
                "stats by project, one month",
                project_month,
                (n / 10).max(10),
            ),
            (
                "running jobs by footprint, one page",
                running_by_footprint,
                n,
            ),
            ("a day's jobs by footprint, one page", day_by_footprint, n),
            ("web: job list page, every job", all_jobs_web, n),
            ("web: job list page, user's 30 days", user_page_web, n),
            (
                "web: job list page, running by footprint",
                running_by_footprint_web,
                n,
            ),
        ];
        for (name, q, runs) in queries {
            time_queries(
                &http,
                &server.base,
                q,
                (runs / 4).max(5),
                &mut rng,
                (t0, t1),
            )
            .await;
            let ms = time_queries(&http, &server.base, q, runs, &mut rng, (t0, t1)).await;
            println!(
                "| {db} | {jobs} | {} | {} | {name} | {runs} | {:.1} ms | **{:.1} ms** | {:.1} ms | {:.1} ms |",
                size(),
                seeded.map(|s| format!("{:.0} s", s)).unwrap_or_else(|| "reused".into()),
                pct(&ms, 0.5),
                pct(&ms, 0.95),
                pct(&ms, 0.99),
                ms[ms.len() - 1],
            );
        }
    }
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

fn psql(admin_url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([admin_url, "-Atc", sql])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn scalar(url: &str, sql: &str) -> Option<i64> {
    let store = jobledger::store::Store::connect(url).await.ok()?;
    let v = sqlx::query_scalar::<_, Option<i64>>(sql)
        .fetch_one(store.pool())
        .await
        .ok()
        .flatten();
    store.close().await;
    v
}

/// (newest start, oldest start) of the seeded jobs.
async fn span(url: &str) -> Option<(i64, i64)> {
    let t1 = scalar(url, "SELECT MAX(start_time) FROM job").await?;
    let t0 = scalar(url, "SELECT MIN(start_time) FROM job").await?;
    Some((t1, t0))
}

/// What autovacuum does after a bulk insert: the visibility map (index-only scans) and
/// planner statistics.
async fn vacuum(url: &str) {
    if let Ok(store) = jobledger::store::Store::connect(url).await {
        for t in ["job", "job_node", "job_tag"] {
            let _ = sqlx::query(&format!("VACUUM (ANALYZE) {t}"))
                .execute(store.pool())
                .await;
        }
        store.close().await;
    }
}

/// Read the whole database once into the operating system's page cache.
async fn warm(db: &str, url: &str) {
    if db == "sqlite" {
        let path = url.trim_start_matches("sqlite://");
        let mut f = std::fs::File::open(path).unwrap();
        std::io::copy(&mut f, &mut std::io::sink()).unwrap();
        return;
    }
    let store = jobledger::store::Store::connect(url).await.unwrap();
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query(
        "SELECT CAST(SUM(pg_prewarm(c.oid::regclass, 'read')) AS BIGINT) FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    store.close().await;
}
