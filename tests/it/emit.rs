//! `jobledger emit` end to end: the real binary publishing to a running jobledger.

use crate::events::start_json;
use crate::helpers::*;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Run {
    code: i32,
    stderr: String,
    took: Duration,
}

fn emit(config: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let t0 = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_jobledger"))
        .arg("emit")
        .args(args)
        .arg("--config")
        .arg(config)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: t0.elapsed(),
    }
}

const PROLOG: &[(&str, &str)] = &[
    ("SLURM_SCRIPT_CONTEXT", "prolog_slurmctld"),
    ("SLURM_JOB_ID", "4711"),
    ("SLURM_CLUSTER_NAME", "fritz"),
    ("SLURM_JOB_USER", "alice"),
    ("SLURM_JOB_ACCOUNT", "proj1"),
    ("SLURM_JOB_PARTITION", "multinode"),
    ("SLURM_JOB_NODELIST", "f[0101-0102]"),
    ("SLURM_JOB_NUM_NODES", "2"),
    ("SLURM_JOB_START_TIME", "1763700000"),
    ("SLURM_JOB_NAME", "sim"),
];

const EPILOG: &[(&str, &str)] = &[
    ("SLURM_SCRIPT_CONTEXT", "epilog_slurmctld"),
    ("SLURM_JOB_ID", "4711"),
    ("SLURM_CLUSTER_NAME", "fritz"),
    ("SLURM_JOB_START_TIME", "1763700000"),
    ("SLURM_JOB_END_TIME", "1763703600"),
    ("SLURM_JOB_EXIT_CODE2", "0:0"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_publish_a_job_once_even_when_run_twice_and_only_from_the_first_node() {
    ensure_shared_nats();
    let tdb = TestDb::new(Db::Sqlite).await;
    let app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    let spool = tempfile::tempdir().unwrap();
    let sp = spool.path().to_str().unwrap();
    let cfg = app.config_path();
    for _ in 0..2 {
        let r = emit(&cfg, &["--from-slurm", "--spool-dir", sp], PROLOG, None);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    eventually(20, "job 4711 running", || async {
        app.jobs("state=running").await.len() == 1
    })
    .await;
    let job = &app.jobs("").await[0];
    assert_eq!(
        (job["user"].as_str(), job["numNodes"].as_i64()),
        (Some("alice"), Some(2))
    );
    assert_eq!(job["metaData"]["jobName"], "sim");

    // A node epilog on the second node stays silent; the first node's one publishes.
    let mut node_epilog = EPILOG.to_vec();
    node_epilog[0] = ("SLURM_SCRIPT_CONTEXT", "epilog_slurmd");
    node_epilog.extend([
        ("SLURM_JOB_NODELIST", "f[0101-0102]"),
        ("SLURMD_NODENAME", "f0102"),
    ]);
    assert_eq!(
        emit(
            &cfg,
            &["--from-slurm", "--spool-dir", sp],
            &node_epilog,
            None
        )
        .code,
        0
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.jobs("state=running").await.len(),
        1,
        "the second node published nothing"
    );
    node_epilog.last_mut().unwrap().1 = "f0101";
    assert_eq!(
        emit(
            &cfg,
            &["--from-slurm", "--spool-dir", sp],
            &node_epilog,
            None
        )
        .code,
        0
    );
    eventually(20, "job 4711 completed", || async {
        app.jobs("state=completed").await.len() == 1
    })
    .await;
    // The repeated prolog was dropped by the stream's duplicate window (same message id).
    assert_eq!(app.metric("jobledger_messages_received_total").await, 2.0);
    assert!(app.rejected().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nats_down_the_event_is_spooled_in_time_and_flushed_once_later() {
    let tdb = TestDb::new(Db::Sqlite).await;
    let mut nats = PrivateNats::new();
    nats.start();
    let app = TestApp::spawn(Setup::new(&tdb, &nats.url())).await;
    nats.stop();
    let spool = tempfile::tempdir().unwrap();
    let sp = spool.path().to_str().unwrap();
    let payload = start_json(77, 1000).to_string();
    let args = [
        "start",
        "--json",
        "-",
        "--spool-dir",
        sp,
        "--deadline-ms",
        "500",
    ];
    let r = emit(&app.config_path(), &args, &[], Some(&payload));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.took < Duration::from_millis(500 + 1500),
        "took {:?}",
        r.took
    );
    assert!(r.stderr.contains("spooled"), "{}", r.stderr);
    assert_eq!(std::fs::read_dir(sp).unwrap().count(), 1);

    nats.start();
    app.wait_healthy().await;
    let r = emit(&app.config_path(), &["flush", "--spool-dir", sp], &[], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::read_dir(sp).unwrap().count(),
        0,
        "spool empty after the flush"
    );
    eventually(30, "job 77", || async { app.jobs("").await.len() == 1 }).await;
    let r = emit(&app.config_path(), &["flush", "--spool-dir", sp], &[], None);
    assert_eq!(r.code, 0, "an empty flush is fine: {}", r.stderr);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.jobs("").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_payload_is_refused_before_sending_and_a_lost_event_is_loud() {
    let tdb = TestDb::new(Db::Sqlite).await;
    let nats = PrivateNats::new(); // never started: NATS is down
    let app = TestApp::spawn_without_nats(Setup::new(&tdb, &nats.url())).await;
    let cfg = app.config_path();
    let r = emit(&cfg, &["stop", "--json", "-"], &[], Some(r#"{"jobId":1}"#));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("stopTime is required"), "{}", r.stderr);

    // NATS down and the spool unwritable: the exit code is the configured one.
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("[emit]\nspool_error_exit_code = 3\ndeadline_ms = 300\n");
    let cfg2 = cfg.with_file_name("emit.toml");
    std::fs::write(&cfg2, text).unwrap();
    let payload = start_json(1, 1000).to_string();
    let r = emit(
        &cfg2,
        &["start", "--json", "-", "--spool-dir", "/proc/no-spool"],
        &[],
        Some(&payload),
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("EVENT LOST"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_states_from_sinfo_reach_the_node_table() {
    ensure_shared_nats();
    let tdb = TestDb::new(Db::Sqlite).await;
    let app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("sinfo");
    let json = r#"{"sinfo":[{"node":{"state":["IDLE","DRAIN"]},"nodes":{"nodes":["f[01-02]"]},
        "cpus":{"allocated":0,"total":128},"memory":{"maximum":1000,"allocated":0},
        "gres":{"total":"","used":""}}]}"#;
    std::fs::write(&fake, format!("#!/bin/sh\ncat <<'EOF'\n{json}\nEOF\n")).unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&fake)
        .status()
        .unwrap();
    let r = emit(
        &app.config_path(),
        &[
            "nodestate",
            "--from-sinfo",
            "--cluster",
            "fritz",
            "--spool-dir",
            dir.path().to_str().unwrap(),
        ],
        &[("JOBLEDGER_SINFO", fake.to_str().unwrap())],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    eventually(20, "2 nodes", || async {
        app.get("/api/nodes/?cluster=fritz").await.1["items"] == 2
    })
    .await;
    let (_, body) = app.get("/api/nodes/?cluster=fritz").await;
    assert_eq!(
        body["nodes"][0]["flags"],
        serde_json::json!(["drain", "idle"])
    );
    assert_eq!(body["nodes"][1]["cpusTotal"], 64);
}
