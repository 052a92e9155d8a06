//! Metric store benchmark: `cargo bench --bench metrics`.
//!
//! All measured in one run, medians of BENCH_RUNS (3):
//! - decode + append: cc-metric-collector messages of 1,000 lines into the open windows
//!   of one `Tsdb`, on one thread (samples/s per core);
//! - bytes per sample: the realistic scale (1,000 nodes × (72 hwthreads × 10 metrics +
//!   40 node metrics) = 760,000 series), one 2-hour chunk each at 60 s, synthetic series
//!   with real-looking shapes: pcodec as stored (2 decimals), pcodec lossless, and zstd
//!   of the raw f64 values for comparison; then a day of a tenth of those nodes, in one
//!   chunk per series and in blocks (compaction), also stored in SQLite and Postgres to
//!   count what the database adds per sample;
//! - ingest: the release binary against a private nats-server, messages of 1,000 lines
//!   published through JetStream as fast as it takes them, time from the first publish
//!   until every sample is read (queryable) and until every one is stored in chunks with
//!   the stream position (durable in the database);
//! - query: a 64-node job, 10 node metrics, 24 h at 60 s: `GET /api/jobs/{id}/metrics`
//!   at node scope, p50 and p95 of BENCH_QUERIES (50);
//! - job view: that job's page (`/jobs/{id}`) in headless Chromium, from the start of the
//!   navigation until its script has drawn all 10 plots (the page asks for a point every
//!   2 minutes and draws min/median/max over the 64 nodes): the first view, and p50 and
//!   p95 of BENCH_VIEWS (20) more. Needs `chromium` and `chromedriver` (`scripts/test`
//!   installs them); BENCH_VIEWS=0 skips it.
//!
//! Knobs: BENCH_RUNS, BENCH_SAMPLES (3,000,000 per ingest run), BENCH_SERIES (760,000),
//! BENCH_QUERIES, BENCH_ONLY=query (the query figures alone), BENCH_PG_ADMIN ("off"
//! skips Postgres), BENCH_REAL_DATA (a folder of
//! cc-backend `data.json` files: bytes per sample on their series too), BENCH_PAUSE=SECS
//! (after the compacted queries, print the server's query URL and keep it up that long,
//! for a profiler or curl).

#[path = "../tests/it/browser.rs"]
mod browser;
mod support;
/// What `browser.rs` takes from the tests' helpers, from the benchmarks' own.
mod helpers {
    pub(crate) use crate::support::{free_port, port_open};
}

use jobledger::domain::cluster::{Cluster, Clusters};
use jobledger::domain::metric::{parse_metric, MetricSet};
use jobledger::metrics::Metrics;
use jobledger::tsdb::{codec, Tsdb};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{env_num, median, percentile, postgres_target, wait_port, Proc, Target};

const HWTHREADS: i64 = 72;
const HW_METRICS: usize = 10;
const NODE_METRICS: usize = 40;
/// Series per node at the realistic scale.
const PER_NODE: usize = HWTHREADS as usize * HW_METRICS + NODE_METRICS;

fn metric_config() -> Vec<serde_json::Value> {
    let m = |name: String, scope: &str, agg: &str| {
        json!({"name": name, "unit": {"base": ""}, "scope": scope, "aggregation": agg,
               "timestep": 60, "peak": 100, "normal": 50, "caution": 20, "alert": 10})
    };
    let mut v: Vec<_> = (0..HW_METRICS)
        .map(|i| m(format!("hw{i:02}"), "hwthread", "sum"))
        .collect();
    v.extend((0..NODE_METRICS).map(|i| m(format!("node{i:02}"), "node", "avg")));
    v
}

/// A cluster file in cc-backend's format with the benchmark's 50 metrics.
fn cluster_json(nodes: usize) -> serde_json::Value {
    json!({"name": "bench", "metricConfig": metric_config(), "subClusters": [{
        "name": "main", "nodes": format!("b[0000-{:04}]", nodes - 1), "processorType": "x",
        "socketsPerNode": 2, "coresPerSocket": 36, "threadsPerCore": 1,
        "flopRateScalar": {"unit": {"base": "F/s", "prefix": "G"}, "value": 1},
        "flopRateSimd": {"unit": {"base": "F/s", "prefix": "G"}, "value": 1},
        "memoryBandwidth": {"unit": {"base": "B/s", "prefix": "G"}, "value": 1},
        "topology": {"node": (0..HWTHREADS).collect::<Vec<_>>(),
            "socket": [(0..36).collect::<Vec<_>>(), (36..72).collect::<Vec<_>>()],
            "memoryDomain": [(0..36).collect::<Vec<_>>(), (36..72).collect::<Vec<_>>()]}
    }]})
}

/// One series with a real-looking shape: busy and idle phases, random walks, bursts,
/// slowly growing memory, rare gaps. `series` is its place on the node (`key`): its
/// metric picks the shape, one in twenty series is idle, the level is random.
fn shaped(series: usize, len: usize, rng: &mut StdRng) -> Vec<f64> {
    let level = rng.gen_range(1.0..100.0);
    let mut v = Vec::with_capacity(len);
    let mut x: f64 = level;
    let idle = series % 20 == 0;
    let metric = match series.checked_sub(HW_METRICS * HWTHREADS as usize) {
        Some(node_metric) => node_metric,
        None => series / HWTHREADS as usize,
    };
    for i in 0..len {
        let y = match metric % 5 {
            _ if idle => rng.gen_range(0.0..0.05),
            // Utilisation: a random walk held within 0..100.
            0 => {
                x = (x + rng.gen_range(-2.0..2.0)).clamp(0.0, 100.0);
                x
            }
            // Flop rates: on/off phases of ten minutes with 5 % noise.
            1 => {
                if (i / 10) % 3 == 0 {
                    rng.gen_range(0.0..0.5)
                } else {
                    level * 40.0 * rng.gen_range(0.95..1.05)
                }
            }
            // Memory in use: grows slowly, steps now and then.
            2 => {
                if rng.gen_bool(0.05) {
                    x += rng.gen_range(0.0..4.0);
                }
                x
            }
            // Network and file system rates: heavy-tailed around a level.
            3 => level * 1e3 * rng.gen_range(0.2f64..1.0).powi(3),
            // Clock and load: near a fixed value.
            _ => (level * 30.0).round() + rng.gen_range(-15.0..15.0),
        };
        v.push(if rng.gen_bool(0.001) { f64::NAN } else { y });
    }
    v
}

fn round2(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| (x * 100.0).round() / 100.0).collect()
}

/// Messages of 1,000 lines, as collectors send them: every series of each node at one
/// minute, node after node, minute after minute, starting at `base`.
fn messages(nodes: usize, samples: usize, base: i64) -> Vec<Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(7);
    let mut lines = Vec::with_capacity(samples);
    'done: for step in 0.. {
        let t = base + 60 * step;
        for n in 0..nodes {
            for m in 0..HW_METRICS {
                for hw in 0..HWTHREADS {
                    let v: f64 = (rng.gen_range(0.0..100.0f64) * 100.0).round() / 100.0;
                    lines.push(format!(
                        "hw{m:02},hostname=b{n:04},type=hwthread,type-id={hw} value={v} {t}"
                    ));
                }
            }
            for m in 0..NODE_METRICS {
                let v: f64 = (rng.gen_range(0.0..1000.0f64) * 100.0).round() / 100.0;
                lines.push(format!("node{m:02},hostname=b{n:04} value={v} {t}"));
            }
            if lines.len() >= samples {
                break 'done;
            }
        }
    }
    lines.truncate(samples);
    lines
        .chunks(1000)
        .map(|c| c.join("\n").into_bytes())
        .collect()
}

fn bench_tsdb(nodes: usize) -> Tsdb {
    let metrics = metric_config()
        .into_iter()
        .map(|m| parse_metric(m).unwrap())
        .collect();
    let clusters = Clusters::new(vec![Cluster {
        name: "bench".into(),
        subclusters: Vec::new(),
        metrics: Arc::new(MetricSet::new(metrics)),
        cluster_json: Some(Arc::new(cluster_json(nodes).to_string())),
    }]);
    let config = jobledger::config::Config::from_toml("", "bench").unwrap();
    Tsdb::new(config.metrics, clusters, Arc::new(Metrics::new()))
}

/// Samples/s of decode + append once the series exist (as in a store that runs): 200
/// nodes' 152,000 series get their first minute untimed, then 2,128,000 samples more.
fn decode_and_append(runs: usize) -> f64 {
    let base = chrono::Utc::now().timestamp() / 7200 * 7200 - 7200;
    let per_step = 200 * PER_NODE;
    let msgs = messages(200, per_step * 15, base);
    let first = per_step / 1000;
    let mut rates = Vec::new();
    for _ in 0..runs {
        let tsdb = bench_tsdb(200);
        for (i, m) in msgs[..first].iter().enumerate() {
            tsdb.append_message(m, Some("bench"), i as u64 + 1, base + 3600);
        }
        let t0 = Instant::now();
        let mut kept = 0;
        for (i, m) in msgs[first..].iter().enumerate() {
            kept += tsdb.append_message(m, Some("bench"), (first + i) as u64 + 1, base + 3600);
        }
        rates.push(kept as f64 / t0.elapsed().as_secs_f64());
    }
    median(rates)
}

/// Bytes per sample of one 2-hour chunk per series (as first stored): pcodec at 2
/// decimals, pcodec lossless, zstd lossless.
fn bytes_per_sample(series: usize) -> (f64, f64, f64) {
    let mut rng = StdRng::seed_from_u64(11);
    let (mut rounded, mut lossless, mut zstd, mut samples) = (0usize, 0usize, 0usize, 0usize);
    for s in 0..series {
        let raw = shaped(s % PER_NODE, 120, &mut rng);
        rounded += codec::encode(&round2(&raw)).len();
        lossless += codec::encode(&raw).len();
        let bytes: Vec<u8> = raw.iter().flat_map(|x| x.to_le_bytes()).collect();
        zstd += zstd::bulk::compress(&bytes, 3).unwrap().len();
        samples += raw.len();
    }
    let per = |b: usize| b as f64 / samples as f64;
    (per(rounded), per(lossless), per(zstd))
}

/// The series at place `i` of node `node` (as `shaped` numbers them).
fn key(node: usize, i: usize) -> jobledger::domain::metric::SeriesKey {
    use jobledger::domain::metric::Scope;
    let hw = HW_METRICS * HWTHREADS as usize;
    let (metric, scope, scope_id) = if i < hw {
        let t = i % HWTHREADS as usize;
        (
            format!("hw{:02}", i / HWTHREADS as usize),
            Scope::Hwthread,
            t.to_string(),
        )
    } else {
        (format!("node{:02}", i - hw), Scope::Node, String::new())
    };
    jobledger::domain::metric::SeriesKey {
        cluster: "bench".into(),
        host: format!("b{node:04}"),
        metric,
        scope,
        scope_id,
        stype: String::new(),
        stype_id: String::new(),
    }
}

/// A day of `nodes` nodes at the realistic scale, 1,440 samples a series at 2 decimals:
/// one chunk per series (as commits store them, 2-hour windows aside), and pcodec bytes
/// per sample of those and of blocks (every series of a metric on a node in one, as
/// compaction leaves them).
fn day_chunks(nodes: usize) -> (Vec<Vec<u8>>, f64, f64) {
    let mut rng = StdRng::seed_from_u64(13);
    let (mut chunks, mut block_bytes) = (Vec::new(), 0);
    for _ in 0..nodes {
        let grids: Vec<Vec<f64>> = (0..PER_NODE)
            .map(|i| round2(&shaped(i, 1440, &mut rng)))
            .collect();
        chunks.extend(grids.iter().map(|g| codec::encode(g)));
        for group in grids[..HW_METRICS * HWTHREADS as usize].chunks(HWTHREADS as usize) {
            block_bytes += codec::encode_block(group).unwrap().len();
        }
        for g in &grids[HW_METRICS * HWTHREADS as usize..] {
            block_bytes += codec::encode_block(std::slice::from_ref(g)).unwrap().len();
        }
    }
    let samples = (chunks.len() * 1440) as f64;
    let bytes: usize = chunks.iter().map(Vec::len).sum();
    (chunks, bytes as f64 / samples, block_bytes as f64 / samples)
}

/// Bytes per sample a database holds for a day of day chunks (`day_chunks`), tables
/// and indexes: stored one per series, and after compaction made them blocks.
async fn stored_bytes(target: &Target, chunks: Vec<Vec<u8>>) -> (f64, f64) {
    use jobledger::store::series::ChunkRow;
    let url = target.fresh("BYTES").await;
    let store = jobledger::store::Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let before = db_bytes(&store, target).await;
    let keys: Vec<_> = (0..chunks.len())
        .map(|i| key(i / PER_NODE, i % PER_NODE))
        .collect();
    let ids = store.metric_series_ids(&keys).await.unwrap();
    let samples = (chunks.len() * 1440) as f64;
    let day = 1_700_006_400 / 86_400 * 86_400;
    let rows = ids
        .into_iter()
        .zip(chunks)
        .map(|(series_id, data)| ChunkRow {
            series_id,
            start: day,
            timestep: 60,
            data,
        })
        .collect();
    store
        .store_chunks(rows, "bench", 1, |_, _| None)
        .await
        .unwrap();
    let per_series = (db_bytes(&store, target).await - before) as f64 / samples;
    let tsdb = bench_tsdb(1);
    tsdb.compact_once(&store, day + 3 * 86_400).await.unwrap();
    let blocks = (db_bytes(&store, target).await - before) as f64 / samples;
    (per_series, blocks)
}

/// Bytes in use: pages not on SQLite's free list; on Postgres the metric tables with
/// their indexes and TOAST, except space freed in `metric_chunk` (reused by the next
/// day's chunks once vacuumed).
async fn db_bytes(store: &jobledger::store::Store, target: &Target) -> i64 {
    let sql = if target.name == "sqlite" {
        "PRAGMA wal_checkpoint(TRUNCATE); SELECT (page_count - freelist_count) * page_size FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()"
    } else {
        "SELECT (pg_total_relation_size('metric_block') + pg_total_relation_size('metric_series') \
         + CASE WHEN EXISTS (SELECT 1 FROM metric_chunk) THEN pg_total_relation_size('metric_chunk') ELSE 0 END)::BIGINT"
    };
    let rows = sqlx::raw_sql(sql).fetch_all(store.pool()).await.unwrap();
    use sqlx::Row;
    rows.last().unwrap().get::<i64, _>(0)
}

struct Server {
    _proc: Proc,
    base: String,
    http: reqwest::Client,
}

impl Server {
    async fn start(
        db: &str,
        nats: &str,
        name: &str,
        dir: &std::path::Path,
        nodes: usize,
        archive: Option<&std::path::Path>,
    ) -> Server {
        let port = support::free_port();
        let archive = match archive {
            Some(a) => format!("path = \"{}\"\nmetrics_wait_secs = 0", a.display()),
            None => "enabled = false".into(),
        };
        let cluster = dir.join(format!("{name}-cluster.json"));
        std::fs::write(&cluster, cluster_json(nodes).to_string()).unwrap();
        let cfg = format!(
            "[database]\nurl = \"{db}\"\n[nats]\nurl = \"{nats}\"\nstream = \"{name}\"\nconsumer = \"{name}\"\n\
             job_subject = \"{name}.job\"\nnode_subject = \"{name}.node\"\n[http]\nlisten = \"127.0.0.1:{port}\"\n\
             [archive]\n{archive}\n[metrics]\nstream = \"{name}_M\"\nstream_max_mib = 2048\n\
             close_after_secs = 2\nretention_hours = 100000\n[[metrics.subscriptions]]\nsubject = \"{name}.metrics\"\n\
             cluster = \"bench\"\n[[clusters]]\nname = \"bench\"\ncluster_json = \"{}\"\n",
            cluster.display(),
        );
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, cfg).unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_jobledger"))
            .args(["serve", "--config", path.to_str().unwrap()])
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        wait_port(port);
        let s = Server {
            _proc: Proc(child),
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while s.get("/healthz").await["metricStore"]["consuming"] != true {
            assert!(
                Instant::now() < deadline,
                "jobledger did not start reading metrics"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        s
    }

    async fn get(&self, path: &str) -> serde_json::Value {
        match self.http.get(format!("{}{path}", self.base)).send().await {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => serde_json::Value::Null,
        }
    }

    async fn counter(&self, name: &str) -> f64 {
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
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    async fn wait_counter(&self, name: &str, n: f64) {
        while self.counter(name).await < n {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn publish(nats: &str, subject: &str, msgs: Vec<Vec<u8>>) {
    let js = async_nats::jetstream::new(async_nats::connect(nats).await.unwrap());
    support::publish_acked(&js, subject, msgs, 512).await;
}

/// Samples/s from the first publish until all are read, and until all are stored.
async fn ingest_run(
    target: &Target,
    nats: &str,
    dir: &std::path::Path,
    run: usize,
    samples: usize,
) -> (f64, f64) {
    let name = format!("BM_{}_{run}", target.name.to_uppercase());
    // As many nodes as fill one 2-hour window (120 minutes of their 760 series) with
    // `samples`: each stored chunk holds a full window, as in steady operation.
    let nodes = samples.div_ceil(PER_NODE * 120);
    let server = Server::start(&target.fresh(&name).await, nats, &name, dir, nodes, None).await;
    // The window before the current one: stored once its samples go quiet.
    let base = chrono::Utc::now().timestamp() / 7200 * 7200 - 7200;
    let msgs = messages(nodes, samples, base);
    let t0 = Instant::now();
    publish(nats, &format!("{name}.metrics"), msgs).await;
    server
        .wait_counter("jobledger_samples_received_total", samples as f64)
        .await;
    let read = t0.elapsed().as_secs_f64();
    server
        .wait_counter("jobledger_samples_stored_total", samples as f64)
        .await;
    let stored = t0.elapsed().as_secs_f64();
    eprintln!(
        "  {} run {run}: {samples} samples read in {read:.2} s, stored in {stored:.2} s",
        target.name
    );
    (samples as f64 / read, samples as f64 / stored)
}

/// p50 and p95 (ms) of a 64-node job's 10 metrics over 24 h at node scope: as first
/// stored (2-hour chunks), and after a restart has compacted the days that are over.
async fn query_run(
    target: &Target,
    nats: &str,
    dir: &std::path::Path,
    queries: usize,
) -> ([(f64, f64); 3], (f64, f64)) {
    let name = format!("BQ_{}", target.name.to_uppercase());
    let db = target.fresh(&name).await;
    let server = Server::start(&db, nats, &name, dir, 64, None).await;
    let start = chrono::Utc::now().timestamp() / 7200 * 7200 - 2 * 86_400;
    let mut rng = StdRng::seed_from_u64(3);
    let mut lines = Vec::new();
    for step in 0..1440 {
        for n in 0..64 {
            for m in 0..10 {
                let v = (rng.gen_range(0.0..1000.0f64) * 100.0).round() / 100.0;
                lines.push(format!(
                    "node{m:02},hostname=b{n:04} value={v} {}",
                    start + 60 * step
                ));
            }
        }
    }
    let total = lines.len();
    publish(
        nats,
        &format!("{name}.metrics"),
        lines
            .chunks(1000)
            .map(|c| c.join("\n").into_bytes())
            .collect(),
    )
    .await;
    server
        .wait_counter("jobledger_samples_stored_total", total as f64)
        .await;
    let hosts: Vec<_> = (0..64)
        .map(|n| json!({"hostname": format!("b{n:04}")}))
        .collect();
    let job = json!({"jobId": 1, "cluster": "bench", "user": "u", "project": "p", "numNodes": 64,
        "startTime": start, "resources": hosts});
    let r: serde_json::Value = server
        .http
        .post(format!("{}/api/jobs/start_job/", server.base))
        .body(job.to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = r["id"].as_i64().unwrap();
    let stop = json!({"jobId": 1, "cluster": "bench", "startTime": start, "stopTime": start + 86_399, "jobState": "completed"});
    server
        .http
        .post(format!("{}/api/jobs/stop_job/", server.base))
        .body(stop.to_string())
        .send()
        .await
        .unwrap();
    let q: Vec<String> = (0..10).map(|m| format!("metric=node{m:02}")).collect();
    let path = format!("/api/jobs/{id}/metrics?scope=node&{}", q.join("&"));
    let fresh = time_queries(&server, &path, queries).await;
    // The job's stop closed nothing; a restart runs the upkeep pass at once.
    drop(server);
    let server = Server::start(&db, nats, &name, dir, 64, None).await;
    server
        .wait_counter("jobledger_metric_series_compacted_total", 640.0)
        .await;
    let compacted = time_queries(&server, &path, queries).await;
    let views = env_num("BENCH_VIEWS", 20) as usize;
    if views > 0 {
        let (first, p50, p95) = view_run(&server.base, id, views).await;
        println!("job view in headless Chromium ({}): 64 nodes x 10 metrics, 24 h, plots drawn after {first:.0} ms on the first view, p50 {p50:.0} ms / p95 {p95:.0} ms of {views} more", target.name);
    }
    if let Ok(secs) = std::env::var("BENCH_PAUSE") {
        eprintln!("PAUSE {}{path}", server.base);
        tokio::time::sleep(Duration::from_secs(secs.parse().unwrap())).await;
    }
    // As a job view asks for a day-long job: a point every 10 minutes.
    let coarse = time_queries(&server, &format!("{path}&resolution=600"), queries).await;
    let archived = archive_run(server, (&db, nats, &name, dir), &hosts, start).await;
    ([fresh, compacted, coarse], archived)
}

/// Opens the job's page `views + 1` times; milliseconds from navigation until every plot
/// is drawn: the first view (nothing cached), then p50 and p95 of the rest.
async fn view_run(base: &str, id: i64, views: usize) -> (f64, f64, f64) {
    let b = browser::Browser::start().await;
    let mut ms = Vec::new();
    for _ in 0..=views {
        b.goto(&format!("{base}/jobs/{id}")).await;
        b.until(
            60,
            "document.querySelector('#plots').dataset.state === 'drawn'",
        )
        .await;
        assert_eq!(
            b.eval("document.querySelector('#plots').dataset.drawn")
                .await,
            "10"
        );
        let t = b.eval("Number(document.body.dataset.plotsMs)").await;
        ms.push(t.as_f64().unwrap());
    }
    b.screenshot("bench-job-view").await;
    b.close().await;
    let first = ms.remove(0);
    (first, percentile(&mut ms, 0.5), percentile(&mut ms, 0.95))
}

/// More jobs like the first (64 nodes, the whole day), all stopped; then the archiver is
/// switched on and timed until every one is archived with its data.json. Returns jobs/s
/// and the bytes of one job's files.
async fn archive_run(
    server: Server,
    (db, nats, name, dir): (&str, &str, &str, &std::path::Path),
    hosts: &[serde_json::Value],
    start: i64,
) -> (f64, f64) {
    const JOBS: i64 = 10;
    for id in 2..=JOBS {
        let job = json!({"jobId": id, "cluster": "bench", "user": "u", "project": "p", "numNodes": 64,
            "startTime": start, "resources": hosts});
        let stop = json!({"jobId": id, "cluster": "bench", "startTime": start, "stopTime": start + 86_399, "jobState": "completed"});
        for (path, body) in [("start_job", job), ("stop_job", stop)] {
            let r = server
                .http
                .post(format!("{}/api/jobs/{path}/", server.base))
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
        }
    }
    drop(server);
    let root = dir.join(format!("{name}-archive"));
    let t0 = Instant::now();
    let server = Server::start(db, nats, name, dir, 64, Some(&root)).await;
    server
        .wait_counter("jobledger_archived_total", JOBS as f64)
        .await;
    let secs = t0.elapsed().as_secs_f64();
    let job = root.join(format!("bench/0/001/{start}"));
    let bytes: u64 = ["data.json.gz", "meta.json"]
        .iter()
        .map(|f| std::fs::metadata(job.join(f)).map_or(0, |m| m.len()))
        .sum();
    drop(server);
    (JOBS as f64 / secs, bytes as f64)
}

async fn time_queries(server: &Server, path: &str, queries: usize) -> (f64, f64) {
    let mut ms = Vec::new();
    for _ in 0..queries {
        // Until the whole answer is in; parsing it is the client's business.
        let t0 = Instant::now();
        let r = server
            .http
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        let bytes = r.bytes().await.unwrap();
        ms.push(t0.elapsed().as_secs_f64() * 1000.0);
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let series = &body["node00"]["node"]["series"];
        assert_eq!(series.as_array().map(Vec::len), Some(64), "{body}");
    }
    (percentile(&mut ms, 0.5), percentile(&mut ms, 0.95))
}

/// Bytes per sample of pcodec in chunks of `len` samples, and of zstd, on the series
/// of real `data.json` files.
fn real_data(dir: &str, len: usize) -> Option<(f64, f64, usize)> {
    let (mut pco, mut zstd, mut samples) = (0, 0, 0);
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let text = std::fs::read_to_string(e.path()).ok()?;
        let doc: serde_json::Value = serde_json::from_str(&text).ok()?;
        for scopes in doc.as_object()?.values() {
            for scope in scopes.as_object()?.values() {
                for s in scope["series"].as_array()? {
                    let v: Vec<f64> = s["data"]
                        .as_array()?
                        .iter()
                        .map(|x| x.as_f64().unwrap_or(f64::NAN))
                        .collect();
                    for c in v.chunks(len) {
                        pco += codec::encode(c).len();
                        let bytes: Vec<u8> = c.iter().flat_map(|x| x.to_le_bytes()).collect();
                        zstd += zstd::bulk::compress(&bytes, 3).unwrap().len();
                        samples += c.len();
                    }
                }
            }
        }
    }
    (samples > 0).then(|| {
        (
            pco as f64 / samples as f64,
            zstd as f64 / samples as f64,
            samples,
        )
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs = env_num("BENCH_RUNS", 3) as usize;
    let samples = env_num("BENCH_SAMPLES", 3_000_000) as usize;
    let series = env_num("BENCH_SERIES", 760_000) as usize;
    let queries = env_num("BENCH_QUERIES", 50) as usize;
    let only_query = std::env::var("BENCH_ONLY").is_ok_and(|v| v == "query");
    let append = if only_query {
        0.0
    } else {
        decode_and_append(runs)
    };
    println!("decode + append, one thread: {append:.0} samples/s (median of {runs}, 2,128,000 samples of 152,000 known series in messages of 1,000 lines)");
    let series = if only_query { 0 } else { series };
    let (rounded, lossless, zstd) = bytes_per_sample(series);
    println!("{series} series x 120 samples (2-hour chunks): pcodec {rounded:.2} B/sample as stored (2 decimals), pcodec lossless {lossless:.2}, zstd-3 lossless {zstd:.2}, raw f64 8.00");
    let nodes = (series / 10 / PER_NODE).max(1);
    let (chunks, day, blocks) = day_chunks(nodes);
    println!(
        "{} series x 1,440 samples: pcodec {day:.2} B/sample one chunk per series, {blocks:.2} in blocks (a metric of a node per chunk, as compaction stores days)",
        nodes * PER_NODE
    );
    if let Ok(dir) = std::env::var("BENCH_REAL_DATA") {
        for len in [120, 1440] {
            if let Some((p, z, n)) = real_data(&dir, len) {
                println!("real data.json series ({n} samples, 2 decimals as archived), chunks of {len}: pcodec {p:.2} B/sample, zstd-3 {z:.2}");
            }
        }
    }
    if samples == 0 {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let nats = support::Nats::start(&dir.path().join("nats"));
    let nats_url = format!("nats://127.0.0.1:{}", nats.port);
    let mut targets = vec![Target {
        name: "sqlite",
        base: dir.path().display().to_string(),
    }];
    targets.extend(postgres_target().await);
    println!("| database | bytes/sample held, a day in chunks per series / in blocks (tables + indexes) | samples read/s (median of {runs}) | samples stored/s | job query p50 / p95, 2-hour chunks | after compaction | after compaction, resolution=600 |");
    println!("|---|---|---|---|---|---|---|");
    let mut archive_figures = Vec::new();
    for t in &targets {
        let (held_series, held_blocks) = if only_query {
            (0.0, 0.0)
        } else {
            stored_bytes(t, chunks.clone()).await
        };
        let (mut read, mut stored) = (Vec::new(), Vec::new());
        if only_query {
            (read, stored) = (vec![f64::NAN], vec![f64::NAN]);
        }
        for run in 0..if only_query { 0 } else { runs } {
            let (r, s) = ingest_run(t, &nats_url, dir.path(), run, samples).await;
            read.push(r);
            stored.push(s);
        }
        let ([(f50, f95), (c50, c95), (r50, r95)], (jobs_per_s, job_bytes)) =
            query_run(t, &nats_url, dir.path(), queries).await;
        archive_figures.push((t.name, jobs_per_s, job_bytes));
        println!(
            "| {} | {held_series:.2} / {held_blocks:.2} | {:.0} | {:.0} | {f50:.1} ms / {f95:.1} ms | {c50:.1} ms / {c95:.1} ms | {r50:.1} ms / {r95:.1} ms |",
            t.name,
            median(read),
            median(stored)
        );
    }
    for (db, jobs_per_s, bytes) in archive_figures {
        println!("archiving 64-node 24-hour jobs with data.json ({db}): {jobs_per_s:.2} jobs/s, {:.0} kB of files per job (data.json.gz and meta.json)", bytes / 1000.0);
    }
}
