//! Every kind of bad input is stored with a clear reason; the service stays healthy.

use crate::events::*;
use crate::helpers::*;
use crate::on_both_databases;
use serde_json::json;

on_both_databases!(
    every_bad_line_is_stored_with_its_reason_and_nothing_else_is_lost,
    bad_http_bodies_get_a_status_and_are_stored_too,
);

const CLUSTERS: &str = "[[clusters]]\nname = \"testcluster\"\n\
    subclusters = [ { name = \"main\", nodes = \"host[1-9]\" } ]\n";

fn start_with(patch: serde_json::Value) -> Vec<u8> {
    let mut v = start_json(100, 1000);
    for (k, val) in patch.as_object().unwrap() {
        v[k] = val.clone();
    }
    start_line(&v).into_bytes()
}

fn stop_raw(json: &str) -> Vec<u8> {
    format!("job,function=stop_job event=\"{}\"", escape(json)).into_bytes()
}

fn cases() -> Vec<(Vec<u8>, &'static str)> {
    vec![
        (
            b"this is not line protocol".to_vec(),
            "malformed line protocol",
        ),
        (
            b"job,function=start_job event=\"\xff\xfe\"".to_vec(),
            "invalid UTF-8",
        ),
        (
            b"job,function=start_job event=\"{not json\"".to_vec(),
            "bad JSON",
        ),
        (
            start_with(json!({"colour": "red"})),
            "unknown field `colour`",
        ),
        (b"job event=\"{}\"".to_vec(), "without a `function` tag"),
        (
            b"job,function=start_job event=1i".to_vec(),
            "must be a string",
        ),
        (
            b"job,function=start_job foo=1i".to_vec(),
            "neither an `event` nor a `value`",
        ),
        (start_with(json!({"jobId": 0})), "jobId must be > 0"),
        (start_with(json!({"jobId": "12"})), "bad JSON"),
        (start_with(json!({"user": ""})), "user is required"),
        (
            start_with(json!({"startTime": null})),
            "startTime is required",
        ),
        (start_with(json!({"numNodes": 2})), "numNodes is 2"),
        (
            start_with(json!({"resources": [{"hostname": ""}]})),
            "hostname is empty",
        ),
        (start_with(json!({"shared": "sometimes"})), "shared must be"),
        (
            start_with(json!({"monitoringStatus": 3})),
            "monitoringStatus must be 0 or 1",
        ),
        (
            start_with(json!({"cluster": "elsewhere"})),
            "unknown cluster",
        ),
        (
            start_with(json!({"resources": [{"hostname": "login1"}]})),
            "in no subcluster",
        ),
        (
            stop_raw(r#"{"jobId":100,"stopTime":5,"jobState":"running"}"#),
            "must not be running",
        ),
        (
            stop_raw(r#"{"jobId":100,"jobState":"completed"}"#),
            "stopTime is required",
        ),
        (
            stop_raw(r#"{"jobId":100,"stopTime":5,"jobState":"sleeping"}"#),
            "invalid jobState",
        ),
    ]
}

async fn every_bad_line_is_stored_with_its_reason_and_nothing_else_is_lost(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let mut setup = Setup::new(&tdb, SHARED_NATS);
    setup.extra = CLUSTERS.into();
    let app = TestApp::spawn(setup).await;
    let js = app.setup.jetstream().await;
    let cases = cases();
    let mut payloads: Vec<Vec<u8>> = cases.iter().map(|(p, _)| p.clone()).collect();
    // A message mixing a bad line between two good ones keeps the good ones.
    let good = |id| start_line(&start_json(id, 1000));
    payloads.push(format!("{}\nnot line protocol\n{}", good(1), good(2)).into_bytes());
    publish_all(&js, &app.setup.job_subject, payloads).await;

    let expected = cases.len() + 1;
    eventually(20, "every bad line rejected", || async {
        app.rejected().await.len() == expected
    })
    .await;
    let rejected = app.rejected().await;
    for (raw, reason) in &cases {
        let hit = rejected
            .iter()
            .find(|r| r["reason"].as_str().unwrap().contains(reason) && r["rawBytes"] == raw.len());
        let hit = hit.unwrap_or_else(|| panic!("no rejection says {reason:?}: {rejected:#?}"));
        assert_eq!(hit["subject"], app.setup.job_subject.as_str());
    }
    eventually(10, "good lines applied", || async {
        app.jobs("").await.len() == 2
    })
    .await;
    let (status, health) = app.get("/healthz").await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(
        app.metric("jobledger_events_rejected_total{reason=\"decode\"}")
            .await,
        6.0
    );
}

async fn bad_http_bodies_get_a_status_and_are_stored_too(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    let (status, body) = app
        .post("/api/jobs/start_job/", r#"{"jobId":1,"bogus":true}"#)
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["status"], "Bad Request");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("unknown field `bogus`"));
    let (status, _) = app.post("/api/jobs/stop_job/", "not json").await;
    assert_eq!(status, 400);
    let stop = stop_json(77, None, 10, "completed").to_string();
    let (status, body) = app.post("/api/jobs/stop_job/", &stop).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = app.post("/api/nodestate/", r#"{"nodes":[]}"#).await;
    assert_eq!(status, 400);
    let rejected = app.rejected().await;
    assert_eq!(rejected.len(), 4);
    assert_eq!(rejected[1]["kind"], "no_such_job");
    assert_eq!(rejected[0]["subject"], "http:/api/nodestate/");
    let (status, _) = app.get("/healthz").await;
    assert_eq!(status, 200);
}
