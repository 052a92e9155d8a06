//! Ingest benchmark: `cargo bench --bench ingest`.
//!
//! Spawns the release `jobledger` binary against a private nats-server (JetStream) and
//! measures, for SQLite and (if reachable) Postgres:
//! - throughput: N start+stop pairs published as fast as JetStream takes them, time from
//!   the first publish until all N jobs are committed as completed (median of RUNS);
//! - latency: starts and stops at a steady 1,000 events/s; for each start, the time from
//!   publish until the job is visible in `GET /api/jobs/` (polled every few ms);
//! - baseline: the same store code with one transaction per event (cc-backend's design),
//!   so the batch speed-up is a ratio measured in the same run.
//!
//! Throughput runs without the archiver (another process may archive); one more run has
//! it in the same process, writing every stopped job durably, to show what that costs on
//! two cores. The latency run has it too.
//!
//! Knobs (environment): BENCH_PAIRS (100000), BENCH_RUNS (3), BENCH_LATENCY_SECS (10),
//! BENCH_PG_ADMIN (postgres://postgres@127.0.0.1:5432/postgres; "off" skips Postgres).

mod support;

use support::{env_num, median, percentile, postgres_target, wait_port, Proc, Target};

use serde_json::json;
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn start_line(cluster: &str, id: i64, start: i64) -> String {
    let ev = json!({"jobId": id, "cluster": cluster, "user": format!("u{}", id % 97),
        "project": format!("p{}", id % 13), "partition": "main", "startTime": start,
        "numNodes": 1, "numHwthreads": 64, "walltime": 86400, "submitTime": start - 30,
        "resources": [{"hostname": format!("n{:04}", id % 1000)}],
        "metaData": {"jobName": "bench", "jobScript": "#!/bin/bash\nsrun ./a.out"}});
    format!(
        "job,function=start_job event=\"{}\" {}",
        escape(&ev.to_string()),
        start * 1_000_000_000
    )
}

fn stop_line(cluster: &str, id: i64, start: i64) -> String {
    let ev = json!({"jobId": id, "cluster": cluster, "startTime": start,
        "stopTime": start + 60, "jobState": "completed"});
    format!(
        "job,function=stop_job event=\"{}\"",
        escape(&ev.to_string())
    )
}

struct Server {
    _proc: Proc,
    base: String,
    http: reqwest::Client,
}

impl Server {
    /// `archive`: the archiver runs in the same process (writing to `dir`), as in a
    /// single-process deployment; otherwise ingest has the machine to itself.
    async fn start(
        db_url: &str,
        nats_url: &str,
        stream: &str,
        dir: &std::path::Path,
        archive: bool,
    ) -> Server {
        let port = support::free_port();
        let archive = if archive {
            format!(
                "path = \"{}\"",
                dir.join(format!("archive-{stream}")).display()
            )
        } else {
            "enabled = false".to_string()
        };
        let cfg = format!(
            "[database]\nurl = \"{db_url}\"\n[nats]\nurl = \"{nats_url}\"\nstream = \"{stream}\"\n\
             consumer = \"{stream}\"\njob_subject = \"{stream}.job\"\nnode_subject = \"{stream}.node\"\n\
             [http]\nlisten = \"127.0.0.1:{port}\"\n[archive]\n{archive}\n"
        );
        let path = dir.join(format!("{stream}.toml"));
        std::fs::write(&path, cfg).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_jobledger"))
            .args(["serve", "--config", path.to_str().unwrap()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        wait_port(port);
        let server = Server {
            _proc: Proc(child),
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        // Ready when the consumer is (healthz 200).
        let deadline = Instant::now() + Duration::from_secs(30);
        while server
            .http
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .ok()
            != Some(200)
        {
            assert!(
                Instant::now() < deadline,
                "jobledger did not become healthy"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    async fn total(&self, query: &str) -> u64 {
        let url = format!("{}/api/jobs/?items-per-page=1&{query}", self.base);
        let body: serde_json::Value = self
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["total"].as_u64().unwrap_or(0)
    }
}

/// Seconds from the first publish until `pairs` jobs are completed.
async fn throughput_run(
    target: &Target,
    nats_url: &str,
    run: usize,
    pairs: i64,
    dir: &std::path::Path,
    archive: bool,
) -> f64 {
    let stream = format!("BENCH_{}_{run}", target.name);
    let url = target.fresh(&stream).await;
    let server = Server::start(&url, nats_url, &stream, dir, archive).await;
    let js = async_nats::jetstream::new(async_nats::connect(nats_url).await.unwrap());
    let cluster = format!("tp{run}");
    let mut lines = Vec::with_capacity(2 * pairs as usize);
    for id in 1..=pairs {
        lines.push(start_line(&cluster, id, 1_700_000_000 + id));
        lines.push(stop_line(&cluster, id, 1_700_000_000 + id));
    }
    let t0 = Instant::now();
    support::publish_acked(&js, &format!("{stream}.job"), lines, 4096).await;
    let published = t0.elapsed();
    let query = format!("cluster={cluster}&state=completed");
    while server.total(&query).await < pairs as u64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "  {} run {run}{}: {pairs} pairs committed in {secs:.2} s (published in {:.2} s)",
        target.name,
        if archive { " with the archiver" } else { "" },
        published.as_secs_f64()
    );
    secs
}

/// Publish-to-visible latencies (ms) of starts at a steady 1,000 events/s.
async fn latency_run(
    target: &Target,
    nats_url: &str,
    secs: u64,
    dir: &std::path::Path,
) -> (Vec<f64>, usize) {
    let stream = format!("BENCH_{}_LAT", target.name);
    let url = target.fresh(&stream).await;
    let server = Server::start(&url, nats_url, &stream, dir, true).await;
    let js = async_nats::jetstream::new(async_nats::connect(nats_url).await.unwrap());
    let subject = format!("{stream}.job");
    let events = (secs * 1000) as i64;
    let published: std::sync::Arc<std::sync::Mutex<HashMap<i64, Instant>>> = Default::default();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let (published, done) = (published.clone(), done.clone());
        let url = format!("{}/api/jobs/?cluster=lat&items-per-page=300", server.base);
        let http = server.http.clone();
        tokio::spawn(async move {
            let mut seen: HashMap<i64, Instant> = HashMap::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let body: serde_json::Value =
                    http.get(&url).send().await.unwrap().json().await.unwrap();
                let now = Instant::now();
                for j in body["jobs"].as_array().unwrap() {
                    seen.entry(j["jobId"].as_i64().unwrap()).or_insert(now);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let published = published.lock().unwrap();
            let lat: Vec<f64> = published
                .iter()
                .filter_map(|(id, t)| {
                    seen.get(id)
                        .map(|s| s.duration_since(*t).as_secs_f64() * 1000.0)
                })
                .collect();
            let missed: Vec<i64> = published
                .keys()
                .filter(|id| !seen.contains_key(id))
                .copied()
                .collect();
            if !missed.is_empty() {
                eprintln!(
                    "  never seen in GET /api/jobs/: job ids {:?}",
                    &missed[..missed.len().min(10)]
                );
            }
            (lat, missed.len())
        })
    };
    let t0 = tokio::time::Instant::now();
    for n in 0..events {
        tokio::time::sleep_until(t0 + Duration::from_micros(n as u64 * 1000)).await;
        // Even events start job n/2; odd ones stop the job started 100 events earlier.
        let id = n / 2;
        let line = if n % 2 == 0 {
            published.lock().unwrap().insert(id + 1, Instant::now());
            start_line("lat", id + 1, 1_700_000_000 + id)
        } else if id >= 50 {
            stop_line("lat", id - 49, 1_700_000_000 + id - 50)
        } else {
            continue;
        };
        let ack = js.publish(subject.clone(), line.into()).await.unwrap();
        tokio::spawn(async move { ack.await.unwrap() });
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    poller.await.unwrap()
}

/// Events/s with one transaction per event, through the same store code.
async fn baseline(target: &Target, events: i64) -> f64 {
    use jobledger::decode::{decode_message, Decoded};
    use jobledger::domain::{cluster::Clusters, rules::Origin};
    use jobledger::store::{Input, Store};
    let store = Store::connect(&target.fresh("BASELINE").await)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let mut inputs = Vec::new();
    for id in 1..=events / 2 {
        for line in [
            start_line("base", id, 1_700_000_000 + id),
            stop_line("base", id, 1_700_000_000 + id),
        ] {
            for l in decode_message(line.as_bytes(), &Clusters::default()) {
                if let Decoded::Event(e) = l.decoded {
                    let origin = Origin {
                        subject: "bench".into(),
                        raw: l.raw,
                        received_at: 0,
                        source_key: None,
                    };
                    inputs.push(Input::Event(e, origin));
                }
            }
        }
    }
    let t0 = Instant::now();
    for input in &inputs {
        store
            .apply(std::slice::from_ref(input), true)
            .await
            .unwrap();
    }
    inputs.len() as f64 / t0.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let pairs = env_num("BENCH_PAIRS", 100_000) as i64;
    let runs = env_num("BENCH_RUNS", 3) as usize;
    let lat_secs = env_num("BENCH_LATENCY_SECS", 10);
    let dir = tempfile::tempdir().unwrap();
    let nats = support::Nats::start(&dir.path().join("nats"));
    let nats_port = nats.port;
    let nats_url = format!("nats://127.0.0.1:{nats_port}");
    let mut targets = vec![Target {
        name: "sqlite",
        base: dir.path().display().to_string(),
    }];
    targets.extend(postgres_target().await);

    println!("| database | events | throughput (median of {runs}) | with the archiver | one txn per event | speed-up | p50 / p99 latency @ 1,000 ev/s | missed |");
    println!("|---|---|---|---|---|---|---|---|");
    for t in &targets {
        let mut secs = Vec::new();
        for run in 0..runs {
            secs.push(throughput_run(t, &nats_url, run, pairs, dir.path(), false).await);
        }
        let rate = 2.0 * pairs as f64 / median(secs);
        let with_archiver =
            2.0 * pairs as f64 / throughput_run(t, &nats_url, runs, pairs, dir.path(), true).await;
        let base = baseline(t, 4000).await;
        let (mut lat, missed) = latency_run(t, &nats_url, lat_secs, dir.path()).await;
        let (p50, p99) = (percentile(&mut lat, 0.5), percentile(&mut lat, 0.99));
        println!(
            "| {} | {} | {:.0} events/s | {:.0} events/s | {:.0} events/s | {:.1}x | {:.0} ms / {:.0} ms | {missed} |",
            t.name, 2 * pairs, rate, with_archiver, base, rate / base, p50, p99
        );
    }
}
