//! Chaos for the metric store: jobledger SIGKILLed while a collector stream of a million
//! samples arrives, NATS restarted under it, and two processes that must answer alike.
//! Every case ends with every published sample read back, each with its own value (a
//! sample counted twice or lost shows as a wrong or missing value).

use crate::faults::*;
use crate::helpers::*;
use crate::metric_store::wait_metric_store;
use crate::on_both_databases;
use std::time::{Duration, Instant};

on_both_databases!(
    sigkill_while_a_million_samples_arrive_loses_and_doubles_nothing,
    nats_restarted_while_a_million_samples_arrive_loses_and_doubles_nothing,
    two_processes_answer_alike_and_one_sigkilled_loses_nothing,
);

/// The collector's node metrics in these tests (node scope in the built-in default).
const METRICS: [&str; 6] = [
    "cpu_load",
    "mem_used",
    "net_bytes_in",
    "net_bytes_out",
    "ib_recv",
    "ib_xmit",
];
/// Timesteps per message: 167 × 6 metrics = 1,002 lines, a collector-sized message.
const STEPS_PER_MESSAGE: i64 = 167;

/// What a test publishes: `hosts` nodes × 6 metrics × `blocks` × 167 minutes.
#[derive(Clone, Copy)]
struct Workload {
    hosts: i64,
    blocks: i64,
    base: i64,
}

impl Workload {
    fn new(hosts: i64, blocks: i64) -> Workload {
        let steps = blocks * STEPS_PER_MESSAGE;
        // Ending a few minutes ago: the windows close as the data arrives.
        let base = (chrono::Utc::now().timestamp() - 60 * (steps + 5)) / 60 * 60;
        Workload {
            hosts,
            blocks,
            base,
        }
    }

    fn steps(self) -> i64 {
        self.blocks * STEPS_PER_MESSAGE
    }

    fn samples(self) -> i64 {
        self.hosts * self.steps() * METRICS.len() as i64
    }

    /// Each sample's own value: node, metric and minute in one exact number.
    fn value(host: i64, metric: usize, step: i64) -> f64 {
        (host * 100_000 + metric as i64 * 10_000 + step) as f64
    }

    /// Messages in time order, block by block, every node in each block.
    fn messages(self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for block in 0..self.blocks {
            for host in 0..self.hosts {
                let mut text = String::new();
                for step in block * STEPS_PER_MESSAGE..(block + 1) * STEPS_PER_MESSAGE {
                    for (m, name) in METRICS.iter().enumerate() {
                        let t = self.base + 60 * step;
                        let v = Self::value(host, m, step);
                        text.push_str(&format!("{name},hostname=m{host:04} value={v} {t}\n"));
                    }
                }
                out.push(text.into_bytes());
            }
        }
        out
    }
}

/// Samples that do not read back with their own value, over every node of `w`.
async fn wrong_samples(app: &TestApp, w: Workload) -> i64 {
    let mut wrong = 0;
    let to = w.base + 60 * (w.steps() - 1);
    for host in 0..w.hosts {
        let q: Vec<String> = METRICS.iter().map(|m| format!("metric={m}")).collect();
        let path = format!(
            "/api/nodes/testcluster/m{host:04}/metrics?{}&scope=node&from={}&to={to}",
            q.join("&"),
            w.base
        );
        let (status, body) = app.get(&path).await;
        if status != 200 {
            return w.samples();
        }
        for (m, name) in METRICS.iter().enumerate() {
            let data = body[name]["node"]["series"][0]["data"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for step in 0..w.steps() {
                let got = data.get(step as usize).and_then(serde_json::Value::as_f64);
                if got != Some(Workload::value(host, m, step)) {
                    wrong += 1;
                }
            }
        }
    }
    wrong
}

/// Wait until every sample of `w` reads back right; the time it took.
async fn wait_all_samples(app: &TestApp, w: Workload, secs: u64) -> Duration {
    let t0 = Instant::now();
    let mut wrong = wrong_samples(app, w).await;
    while wrong > 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "{wrong} of {} samples missing or wrong:\n{}",
            w.samples(),
            app.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        wrong = wrong_samples(app, w).await;
    }
    t0.elapsed()
}

/// Publish `w` on `app`'s metric subject in the background; return once a third of it
/// has been read, so the test strikes while samples still arrive.
async fn publishing(
    app: &TestApp,
    w: Workload,
    id_prefix: &'static str,
) -> tokio::task::JoinHandle<()> {
    let (s, subject) = (app.setup.clone(), app.setup.metric_subject.clone());
    let messages = w.messages();
    let publisher =
        tokio::spawn(
            async move { publish_until_acked_to(&s, &subject, id_prefix, &messages).await },
        );
    eventually(120, "a third of the samples read", || async {
        app.metric("jobledger_samples_received_total").await >= w.samples() as f64 / 3.0
    })
    .await;
    publisher
}

fn setup(tdb: &TestDb, nats: &str) -> Setup {
    let mut setup = Setup::new(tdb, nats);
    // A million samples are about 45 MB on the stream.
    setup.metrics_extra = "stream_max_mib = 256\nchunk_minutes = 60\nclose_after_secs = 60".into();
    setup
}

async fn sigkill_while_a_million_samples_arrive_loses_and_doubles_nothing(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let mut app = TestApp::spawn(setup(&tdb, SHARED_NATS)).await;
    wait_metric_store(&app).await;
    let w = Workload::new(100 * scale(), 10);
    assert!(w.samples() >= 1_000_000);
    let publisher = publishing(&app, w, "million").await;
    app.kill();
    let killed = Instant::now();
    publisher.await.unwrap();
    app.restart().await;
    let took = wait_all_samples(&app, w, 300).await;
    figure(
        "metrics: SIGKILL under 1 M samples",
        &format!("{db:?}: every sample back after the kill"),
        format!(
            "{:.1} s (reading back {:.1} s)",
            killed.elapsed().as_secs_f64(),
            took.as_secs_f64()
        ),
    );
}

async fn nats_restarted_while_a_million_samples_arrive_loses_and_doubles_nothing(db: Db) {
    let tdb = TestDb::new(db).await;
    let mut nats = PrivateNats::new();
    nats.start();
    let app = TestApp::spawn(setup(&tdb, &nats.url())).await;
    wait_metric_store(&app).await;
    let w = Workload::new(100 * scale(), 10);
    let publisher = publishing(&app, w, "million").await;
    nats.stop();
    tokio::time::sleep(Duration::from_secs(2)).await;
    nats.start();
    let back = Instant::now();
    publisher.await.unwrap();
    wait_all_samples(&app, w, 300).await;
    figure(
        "metrics: NATS restarted under 1 M samples",
        &format!("{db:?}: every sample back after NATS"),
        format!("{:.1} s", back.elapsed().as_secs_f64()),
    );
}

async fn two_processes_answer_alike_and_one_sigkilled_loses_nothing(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let setup = setup(&tdb, SHARED_NATS);
    let mut a = TestApp::spawn(setup.clone()).await;
    let b = TestApp::spawn(setup).await;
    wait_metric_store(&a).await;
    wait_metric_store(&b).await;
    let w = Workload::new(20 * scale(), 10);
    let publisher = publishing(&a, w, "two").await;
    a.kill();
    publisher.await.unwrap();
    wait_all_samples(&b, w, 300).await;
    a.restart().await;
    wait_all_samples(&a, w, 300).await;
    // The same question gets the same answer from either process.
    let path = format!(
        "/api/nodes/testcluster/m0003/metrics?from={}&to={}",
        w.base,
        w.base + 60 * w.steps()
    );
    assert_eq!(a.get(&path).await, b.get(&path).await);
}
