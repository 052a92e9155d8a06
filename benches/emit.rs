//! Hook publisher benchmark: `cargo bench --bench emit`.
//!
//! Runs the release `jobledger emit start --json FILE` as a new process each time, as a
//! Slurm hook does, and measures wall time from spawn to exit:
//! - NATS up (private nats-server with a stream on the subject): every run ends with an
//!   acknowledged publish; p50/p99 over BENCH_EMIT_RUNS (1000) runs;
//! - NATS down (nothing listens): the event is spooled;
//! - NATS unresponsive (a socket that accepts and never answers): the deadline (2 s)
//!   ends the attempt and the event is spooled.

mod support;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run(
    config: &std::path::Path,
    payload: &std::path::Path,
    spool: &std::path::Path,
) -> (Duration, bool) {
    let t0 = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_jobledger"))
        .args(["emit", "start", "--json"])
        .arg(payload)
        .arg("--config")
        .arg(config)
        .arg("--spool-dir")
        .arg(spool)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    (t0.elapsed(), status.success())
}

fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |p: f64| ms(v[((v.len() - 1) as f64 * p).round() as usize]);
    (at(0.5), at(0.99), ms(*v.last().unwrap()))
}

fn config(dir: &std::path::Path, name: &str, nats_port: u16) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let text =
        format!("[nats]\nurl = \"nats://127.0.0.1:{nats_port}\"\njob_subject = \"bench.emit\"\n");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::var("BENCH_EMIT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().unwrap();
    let mut nats = support::Nats::start(&dir.path().join("nats"));
    let port = nats.port;
    let js = async_nats::jetstream::new(
        async_nats::connect(format!("127.0.0.1:{port}"))
            .await
            .unwrap(),
    );
    js.get_or_create_stream(async_nats::jetstream::stream::Config {
        name: "BENCH_EMIT".into(),
        subjects: vec!["bench.emit".into()],
        ..Default::default()
    })
    .await
    .unwrap();

    let spool = dir.path().join("spool");
    let mut up = Vec::with_capacity(runs);
    for i in 0..runs {
        // A new job each time, so no publish is a duplicate.
        let payload = dir.path().join("job.json");
        let job = serde_json::json!({"jobId": i + 1, "cluster": "bench", "user": "u", "startTime": 1_763_700_000,
            "numNodes": 1, "resources": [{"hostname": "n1"}]});
        std::fs::write(&payload, job.to_string()).unwrap();
        let (took, ok) = run(&config(dir.path(), "up", port), &payload, &spool);
        assert!(ok, "emit failed with NATS up");
        up.push(took);
    }
    let stored = js
        .get_stream("BENCH_EMIT")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages;
    assert_eq!(stored, runs as u64, "every run published");
    assert_eq!(
        std::fs::read_dir(&spool)
            .map(std::iter::Iterator::count)
            .unwrap_or(0),
        0,
        "nothing spooled"
    );

    let payload = dir.path().join("job.json");
    let mut down = Vec::new();
    let down_port = support::free_port();
    for _ in 0..50 {
        down.push(run(&config(dir.path(), "down", down_port), &payload, &spool).0);
    }
    let mute = TcpListener::bind("127.0.0.1:0").unwrap();
    let mute_port = mute.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for c in mute.incoming().take(10) {
            conns.push(c); // accept and never answer
        }
        std::thread::sleep(Duration::from_secs(3));
    });
    let mut mute_runs = Vec::new();
    for _ in 0..10 {
        mute_runs.push(run(&config(dir.path(), "mute", mute_port), &payload, &spool).0);
    }
    let spooled = std::fs::read_dir(&spool).unwrap().count();
    nats.stop();
    let _ = held.join();

    let (p50, p99, max) = stats(up);
    println!("| case | runs | p50 | p99 | max |");
    println!("|---|---|---|---|---|");
    println!("| NATS up: start to acknowledged publish | {runs} | {p50:.1} ms | {p99:.1} ms | {max:.1} ms |");
    let (p50, p99, max) = stats(down);
    println!("| NATS down (refused): spooled | 50 | {p50:.1} ms | {p99:.1} ms | {max:.1} ms |");
    let (p50, p99, max) = stats(mute_runs);
    println!("| NATS unresponsive: deadline 2000 ms, spooled | 10 | {p50:.1} ms | {p99:.1} ms | {max:.1} ms |");
    println!("\nspooled events: {spooled} (expected 60)");
}
