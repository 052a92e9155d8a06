//! Chaos: fuzzed input. Seeded, so a failure can be replayed: random bytes, truncated
//! lines, invalid UTF-8, NUL, 1 MB lines and overflowing numbers mixed with good lines in
//! one message; HTTP bodies with every optional field present or absent, keys in random
//! order. Every bad event is stored with a reason, every good one applied, no 5xx.

use crate::events::*;
use crate::faults::*;
use crate::helpers::*;
use crate::on_both_databases;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

on_both_databases!(
    fuzzed_line_protocol_rejects_each_bad_line_and_applies_each_good_one,
    fuzzed_http_bodies_are_applied_or_refused_with_a_reason_never_a_5xx,
);

/// The seed: fixed in the test suite so a failure replays; `JL_FUZZ_SEED` picks another
/// (`scripts/chaos` runs several).
fn seed() -> u64 {
    let seed = std::env::var("JL_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261130);
    eprintln!("fuzz seed {seed} (JL_FUZZ_SEED replays it)");
    seed
}

/// A bad line: never empty, never a comment, no newline inside.
fn bad_line(rng: &mut StdRng, id: i64) -> Vec<u8> {
    let good = start_line(&start_json(id, 1000)).into_bytes();
    let mut line = match rng.gen_range(0..7) {
        0 => (0..rng.gen_range(1..200)).map(|_| rng.gen()).collect(),
        1 => good[..rng.gen_range(1..good.len() - 1)].to_vec(),
        2 => {
            let mut l = good.clone();
            let at = rng.gen_range(0..l.len());
            l.insert(at, 0xff);
            l
        }
        3 => {
            let mut l = good.clone();
            let at = rng.gen_range(0..l.len());
            l.insert(at, 0);
            l
        }
        4 => start_line(
            &json!({"jobId": 1e30, "cluster": "testcluster", "user": "u",
            "startTime": 99999999999999999999u128 as f64, "numNodes": 1,
            "resources": [{"hostname": "h"}]}),
        )
        .into_bytes(),
        5 => {
            let l = start_line(&json!({"jobId": id, "cluster": "c\u{0}x"}));
            l.into_bytes()
        }
        _ => format!("job,function=stop_job event=\"{{\\\"jobId\\\": {id}\"").into_bytes(),
    };
    line.retain(|b| *b != b'\n' && *b != b'\r');
    // Leading blanks would be trimmed; '#' starts a comment (skipped, not an event).
    line.insert(0, b'x');
    line
}

async fn fuzzed_line_protocol_rejects_each_bad_line_and_applies_each_good_one(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    let js = app.setup.jetstream().await;
    let mut rng = StdRng::seed_from_u64(seed());
    let (mut good, mut bad, mut messages) = (0i64, 0i64, Vec::new());
    for m in 0..200 {
        let mut lines = Vec::new();
        for _ in 0..rng.gen_range(1..8) {
            if rng.gen_bool(0.5) {
                good += 1;
                lines.push(start_line(&start_json(good, 1000)).into_bytes());
                lines.push(stop_line(good, Some(1000), 1060, "completed").into_bytes());
            } else {
                bad += 1;
                lines.push(bad_line(&mut rng, 100_000 + m));
            }
        }
        messages.push(lines.join(&b'\n'));
    }
    // Lines of a megabyte, alone in their message (NATS' default max_payload is 1 MiB).
    let mut huge = b"job,function=start_job event=\"".to_vec();
    huge.resize(1_000_000, b'x');
    messages.push(huge.clone());
    huge.push(b'"');
    messages.push(huge);
    bad += 2;
    publish_all(&js, &app.setup.job_subject, messages).await;
    wait_completed(&app, good, 60).await;
    eventually(30, "every bad line accounted for", || async {
        let rejected = app.rejected().await.len() as f64;
        let skipped = app.metric("jobledger_metric_lines_skipped_total").await;
        rejected + skipped == bad as f64
    })
    .await;
    let l = ledger(&tdb).await;
    assert_eq!((l.jobs, l.distinct, l.running, l.held), (good, good, 0, 0));
    for r in app.rejected().await {
        assert!(!r["reason"].as_str().unwrap_or("").is_empty(), "{r}");
    }
    assert_eq!(app.get("/healthz").await.0, 200);
}

/// A start body: required fields, each optional one present or absent, keys shuffled.
fn start_body(rng: &mut StdRng, id: i64) -> String {
    let mut fields: Vec<(&str, Value)> = vec![
        ("jobId", json!(id)),
        ("cluster", json!("testcluster")),
        ("user", json!("alice")),
        ("startTime", json!(1000)),
        ("numNodes", json!(1)),
        ("resources", json!([{"hostname": "host1"}])),
    ];
    let optional: Vec<(&str, Value)> = vec![
        ("id", json!(null)),
        ("subCluster", json!("")),
        ("partition", json!("main")),
        ("project", json!("p1")),
        ("shared", json!("none")),
        ("jobState", json!("running")),
        ("tags", json!([{"type": "app", "name": "vasp"}])),
        (
            "metaData",
            json!({"jobName": "fuzz", "jobScript": "#!/bin/sh"}),
        ),
        ("footprint", json!({"flops_any_avg": 1.5})),
        ("energyFootprint", json!({"cpu_power": 2.5})),
        ("energy", json!(rng.gen_range(0.0..1e6))),
        ("statistics", json!(null)),
        ("concurrentJobs", json!(null)),
        ("arrayJobId", json!(rng.gen_range(0..1_000_000))),
        ("walltime", json!(3600)),
        ("requestedMemory", json!(1024)),
        ("submitTime", json!(900)),
        ("duration", json!(0)),
        ("smt", json!(1)),
        ("monitoringStatus", json!(1)),
        ("numHwthreads", json!(rng.gen_range(1..128))),
        ("numAcc", json!(rng.gen_range(0..4))),
    ];
    fields.extend(optional.into_iter().filter(|_| rng.gen_bool(0.5)));
    fields.shuffle(rng);
    let parts: Vec<String> = fields.iter().map(|(k, v)| format!("{k:?}: {v}")).collect();
    format!("{{{}}}", parts.join(", "))
}

/// A body that must be refused: a valid one broken in one of several ways.
fn broken(rng: &mut StdRng, body: &str) -> String {
    match rng.gen_range(0..5) {
        0 => body[..rng.gen_range(1..body.len())].to_string(),
        1 => body.replacen("\"jobId\": ", "\"jobId\": -", 1),
        2 => body.replacen('{', "{\"noSuchField\": 1, ", 1),
        3 => body.replacen("\"startTime\": 1000", "\"startTime\": \"soon\"", 1),
        _ => body.replacen("\"numNodes\": 1", "\"numNodes\": 99999999999999999999", 1),
    }
}

async fn fuzzed_http_bodies_are_applied_or_refused_with_a_reason_never_a_5xx(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    let mut rng = StdRng::seed_from_u64(seed());
    let (mut started, mut refused) = (Vec::new(), 0);
    for id in 1..=300 {
        let body = start_body(&mut rng, id);
        if rng.gen_bool(0.25) {
            let bad = broken(&mut rng, &body);
            let (status, reply) = app.post("/api/jobs/start_job/", &bad).await;
            assert!([400, 422].contains(&status), "{status} {reply} for {bad}");
            refused += 1;
        } else {
            let (status, reply) = app.post("/api/jobs/start_job/", &body).await;
            assert_eq!(status, 201, "{reply} for {body}");
            started.push(id);
        }
    }
    for id in &started {
        let mut stop = vec![
            format!("\"jobId\": {id}"),
            "\"stopTime\": 1060".into(),
            "\"jobState\": \"completed\"".into(),
        ];
        if rng.gen_bool(0.5) {
            stop.push("\"cluster\": \"testcluster\"".into());
        }
        if rng.gen_bool(0.5) {
            stop.push("\"startTime\": 1000".into());
        }
        stop.shuffle(&mut rng);
        let body = format!("{{{}}}", stop.join(", "));
        let (status, reply) = app.post("/api/jobs/stop_job/", &body).await;
        assert_eq!(status, 200, "{reply} for {body}");
    }
    let n = started.len() as i64;
    let l = ledger(&tdb).await;
    assert_eq!(
        (l.jobs, l.distinct, l.running, l.rejected),
        (n, n, 0, refused)
    );
}
