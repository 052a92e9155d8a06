//! Archiver benchmark: `cargo bench --bench archive`.
//!
//! Fills a fresh database with BENCH_ARCHIVE_JOBS (5000) stopped jobs waiting for the
//! archive, then runs the real archiver (`Archiver::try_once`, durable file writes) until
//! the queue is empty; jobs/s, median of BENCH_RUNS (3), for SQLite and Postgres.

use jobledger::archive::backend::Backend;
use jobledger::archive::Archiver;
use jobledger::config::Config;
use jobledger::decode::{decode_message, Decoded};
use jobledger::domain::cluster::Clusters;
use jobledger::domain::rules::Origin;
use jobledger::metrics::Metrics;
use jobledger::store::{Input, Store};
use std::sync::Arc;
use std::time::Instant;

fn env_num(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn line(kind: &str, json: serde_json::Value) -> String {
    let esc = json.to_string().replace('\\', "\\\\").replace('"', "\\\"");
    format!("job,function={kind} event=\"{esc}\"")
}

async fn fill(store: &Store, jobs: usize) {
    let mut inputs = Vec::new();
    for id in 1..=jobs as i64 {
        let start = serde_json::json!({"jobId": id, "cluster": "bench", "user": format!("u{}", id % 50),
            "project": "p", "startTime": 1_763_000_000 + id, "numNodes": 2,
            "resources": [{"hostname": "n1", "hwthreads": [0, 1, 2, 3]}, {"hostname": "n2"}],
            "metaData": {"jobName": "bench", "jobScript": "#!/bin/bash\nsrun ./a.out\n"}});
        let stop =
            serde_json::json!({"jobId": id, "cluster": "bench", "stopTime": 1_763_003_600 + id});
        for l in [line("start_job", start), line("stop_job", stop)] {
            for d in decode_message(l.as_bytes(), &Clusters::default()) {
                if let Decoded::Event(e) = d.decoded {
                    let o = Origin {
                        subject: "bench".into(),
                        raw: d.raw,
                        received_at: 0,
                        source_key: None,
                    };
                    inputs.push(Input::Event(e, o));
                }
            }
        }
    }
    for chunk in inputs.chunks(2000) {
        store.apply(chunk, true).await.unwrap();
    }
}

async fn run_once(url: &str, dir: &std::path::Path, jobs: usize) -> f64 {
    let store = Store::connect(url).await.unwrap();
    store.migrate().await.unwrap();
    fill(&store, jobs).await;
    let text = format!("[archive]\npath = \"{}\"\n", dir.display());
    let config = Config::from_toml(&text, "bench").unwrap();
    let archiver = Archiver::new(
        store.clone(),
        Backend::from_config(&config.archive).unwrap(),
        config.archive,
        Clusters::default(),
        Arc::new(Metrics::new()),
        Arc::new(jobledger::feed::Feed::local()),
    );
    let t0 = Instant::now();
    let mut archived = 0;
    loop {
        let pass = archiver.try_once().await.unwrap();
        if pass.claimed == 0 {
            break;
        }
        assert_eq!(pass.failed, 0);
        archived += pass.archived;
    }
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(archived, jobs);
    store.close().await;
    jobs as f64 / secs
}

#[tokio::main]
async fn main() {
    use sqlx::{Connection, Executor};
    jobledger::telemetry::init();
    let jobs = env_num("BENCH_ARCHIVE_JOBS", 5000);
    let runs = env_num("BENCH_RUNS", 3);
    let admin = std::env::var("BENCH_PG_ADMIN")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    println!("| database | jobs | archived jobs/s (median of {runs}) | runs |");
    println!("|---|---|---|---|");
    for db in ["sqlite", "postgres"] {
        let mut rates = Vec::new();
        for run in 0..runs {
            let tmp = tempfile::tempdir().unwrap();
            let url = if db == "sqlite" {
                format!("sqlite://{}/bench.db", tmp.path().display())
            } else {
                let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await else {
                    break;
                };
                let name = format!("jl_bench_archive_{}_{run}", std::process::id());
                conn.execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .unwrap();
                format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
            };
            rates.push(run_once(&url, &tmp.path().join("archive"), jobs).await);
        }
        if rates.is_empty() {
            continue;
        }
        let mut sorted = rates.clone();
        sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let list: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "| {db} | {jobs} | {:.0} | {} |",
            sorted[sorted.len() / 2],
            list.join(", ")
        );
    }
}
