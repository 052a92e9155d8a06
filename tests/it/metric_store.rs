//! The metric store: cc-metric-collector lines of every shape, on NATS and over HTTP,
//! queried back exactly through the job, node and cc-metric-store APIs.

use crate::faults::publish_until_acked_to;
use crate::helpers::*;
use crate::on_both_databases;
use serde_json::{json, Value};

on_both_databases!(
    lines_of_every_shape_are_queried_back_exactly,
    a_job_sees_only_its_own_hwthreads_from_start_to_stop,
    a_compacted_day_answers_as_its_chunks_did,
);

/// The metric stream exists and is read: a test may publish.
pub(crate) async fn wait_metric_store(app: &TestApp) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while app.get("/healthz").await.1["metricStore"]["consuming"] != true {
        assert!(
            std::time::Instant::now() < deadline,
            "the metric store does not read its stream:\n{}",
            app.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A process over `tdb` whose cluster is described by `cluster` (cc-backend's
/// cluster.json, written into `dir`), with `extra` TOML and `metrics_extra` keys of
/// `[metrics]`, once its metric store reads.
pub(crate) async fn app_with_cluster(
    tdb: &TestDb,
    dir: &std::path::Path,
    cluster: &Value,
    extra: &str,
    metrics_extra: &str,
) -> (Setup, TestApp) {
    ensure_shared_nats();
    let file = dir.join("cluster.json");
    std::fs::write(&file, cluster.to_string()).unwrap();
    let mut setup = Setup::new(tdb, SHARED_NATS);
    setup.metrics_extra.push_str(metrics_extra);
    setup.extra = format!(
        "{extra}[[clusters]]\nname = \"{}\"\ncluster_json = \"{}\"\n",
        cluster["name"].as_str().unwrap(),
        file.display()
    );
    let app = TestApp::spawn(setup.clone()).await;
    wait_metric_store(&app).await;
    (setup, app)
}

/// `[archive]` into `dir` without waiting for late samples after a stop.
pub(crate) fn archive_now(dir: &std::path::Path) -> String {
    format!(
        "[archive]\npath = \"{}\"\nmetrics_wait_secs = 0\n",
        dir.display()
    )
}

/// Stop these jobs of testcluster at `stop_time` and wait until every job is archived.
pub(crate) async fn stop_and_archive(app: &TestApp, job_ids: &[i64], stop_time: i64) {
    for id in job_ids {
        let stop = json!({"jobId": id, "cluster": "testcluster", "stopTime": stop_time, "jobState": "completed"});
        assert_eq!(
            app.post("/api/jobs/stop_job/", &stop.to_string()).await.0,
            200
        );
    }
    eventually(60, "every job archived", || async {
        app.jobs("")
            .await
            .iter()
            .all(|j| j["monitoringStatus"] == 3)
    })
    .await;
}

/// A minute boundary an hour ago, so every sample lies in a closed window.
fn hour_ago() -> i64 {
    (chrono::Utc::now().timestamp() - 3600) / 60 * 60
}

fn data(body: &Value, metric: &str, scope: &str) -> Vec<Value> {
    body[metric][scope]["series"]
        .as_array()
        .unwrap_or_else(|| panic!("no {metric}/{scope} in {body}"))
        .clone()
}

async fn lines_of_every_shape_are_queried_back_exactly(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    wait_metric_store(&app).await;
    let t = hour_ago();
    let (t1, t2, t3) = (t + 60, t + 120, t + 180);
    let mut lines = vec![
        // One per timestamp precision, hostname or host, int, uint and float, with and
        // without the cluster tag (the subscription names the cluster).
        format!("cpu_load,hostname=n1 value=1.5 {t}"),
        format!("cpu_load,host=n1 value=2i {t1}000"),
        format!("cpu_load,cluster=testcluster,hostname=n1 value=3u {t2}000000"),
        format!("cpu_load,hostname=n1,extra=ignored value=4.25 {t3}000000000"),
        "mem_used,hostname=n1 value=7".to_string(),
        // Sub-units added up into the node.
        format!("net_bytes_in,hostname=n1,stype=network,stype-id=ib0 value=100 {t}"),
        format!("net_bytes_in,stype-id=eth0,hostname=n1,stype=network value=5 {t}"),
        // Not samples: other message classes, a bad line, an unknown metric.
        format!("cpu_load,hostname=n1 event=\"x\" {t}"),
        format!("cpu_load,hostname=n1 log=\"x\" {t}"),
        "cpu_load,hostname=n1 value=".to_string(),
        format!("no_such_metric,hostname=n1 value=1 {t}"),
    ];
    for i in 0..4 {
        let v = f64::from(i + 1);
        lines.push(format!(
            "cpu_user,hostname=n1,type=hwthread,type-id={i} value={} {t}",
            v * 10.0
        ));
        lines.push(format!(
            "flops_any,type-id={i},type=hwthread,hostname=n1 value={v} {t}"
        ));
    }
    // Every type on its own node and metric, so none is added up with another.
    let types = [
        ("cpu_system", "core", "3"),
        ("cpu_iowait", "die", "0"),
        ("ib_recv", "llc", "1"),
        ("ib_xmit", "memoryDomain", "1"),
        ("mem_bw", "socket", "0"),
        ("nv_util", "accelerator", "00000000:01:00.0"),
    ];
    for (i, (m, ty, id)) in types.iter().enumerate() {
        lines.push(format!(
            "{m},hostname=n2,type={ty},type-id={id} value={} {t}",
            i + 1
        ));
    }
    // One message, as a collector sends it: the bad lines must not cost the good ones.
    publish_until_acked_to(
        &app.setup,
        &app.setup.metric_subject,
        "shapes",
        &[lines.join("\n").into_bytes()],
    )
    .await;
    eventually(30, "every sample read", || async {
        app.metric("jobledger_samples_received_total").await >= 21.0
    })
    .await;
    let app = &app;
    let node = |q: String| async move {
        let (status, body) = app.get(&format!("/api/nodes/testcluster/{q}")).await;
        assert_eq!(status, 200, "{body}");
        body
    };
    let b = node(format!("n1/metrics?metric=cpu_load&from={t}&to={t3}")).await;
    assert_eq!(
        data(&b, "cpu_load", "node")[0]["data"],
        json!([1.5, 2.0, 3.0, 4.25])
    );
    assert_eq!(
        data(&b, "cpu_load", "node")[0]["statistics"],
        json!({"min": 1.5, "avg": 2.6875, "max": 4.25})
    );
    assert_eq!(b["cpu_load"]["node"]["timestep"], 60);
    let b = node(format!(
        "n1/metrics?metric=cpu_user&metric=flops_any&from={t}&to={t}"
    ))
    .await;
    // hwthreads into the node: cpu_user averages (avg), flops_any adds up (sum).
    assert_eq!(data(&b, "cpu_user", "node")[0]["data"], json!([25.0]));
    assert_eq!(data(&b, "flops_any", "node")[0]["data"], json!([10.0]));
    let hw = data(&b, "cpu_user", "hwthread");
    assert_eq!(
        hw.iter().map(|s| s["id"].clone()).collect::<Vec<_>>(),
        vec![json!("0"), json!("1"), json!("2"), json!("3")]
    );
    assert_eq!(hw[2]["data"], json!([30.0]));
    let b = node(format!("n1/metrics?metric=net_bytes_in&from={t}&to={t}")).await;
    assert_eq!(data(&b, "net_bytes_in", "node")[0]["data"], json!([105.0]));
    let now = chrono::Utc::now().timestamp();
    let b = node(format!(
        "n1/metrics?metric=mem_used&from={}&to={}",
        now - 600,
        now + 60
    ))
    .await;
    let held: Vec<Value> = data(&b, "mem_used", "node")[0]["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| !v.is_null())
        .cloned()
        .collect();
    assert_eq!(
        held,
        vec![json!(7.0)],
        "a line without a timestamp is stamped on arrival"
    );
    for (i, (m, ty, id)) in types.iter().enumerate() {
        let b = node(format!("n2/metrics?metric={m}&scope={ty}&from={t}&to={t}")).await;
        let s = data(&b, m, ty);
        assert_eq!(
            (s[0]["id"].clone(), s[0]["data"].clone()),
            (json!(id), json!([(i + 1) as f64])),
            "{m} at {ty}"
        );
    }
    // Skipped and counted, each by its reason.
    for (reason, n) in [
        ("other_class", 2.0),
        ("bad_line", 1.0),
        ("unknown_metric", 1.0),
    ] {
        let got = app
            .metric(&format!(
                "jobledger_samples_skipped_total{{reason=\"{reason}\"}}"
            ))
            .await;
        assert_eq!(got, n, "{reason}");
    }
    let unknown = app.metric("jobledger_samples_unknown_metric_total{cluster=\"testcluster\",metric=\"no_such_metric\"}").await;
    assert_eq!(unknown, 1.0);
    // cc-metric-store's query API answers the same.
    let q = json!({
        "cluster": "testcluster", "from": t, "to": t3, "with-stats": true, "with-data": true,
        "queries": [
            {"metric": "cpu_load", "host": "n1"},
            {"metric": "cpu_user", "host": "n1", "type": "hwthread", "type-ids": ["0", "1"]},
            {"metric": "cpu_user", "host": "n1", "type": "hwthread", "type-ids": ["0", "1"], "aggreg": true},
            {"metric": "net_bytes_in", "host": "n1", "type": "node", "subtype": "network", "subtype-ids": ["ib0"]},
            {"metric": "no_such_metric", "host": "n1"},
        ]
    });
    let (status, r) = app.post("/api/query", &q.to_string()).await;
    assert_eq!(status, 200, "{r}");
    let r = &r["results"];
    assert_eq!(r[0][0]["data"], json!([1.5, 2.0, 3.0, 4.25]));
    assert_eq!(
        (r[0][0]["avg"].clone(), r[0][0]["from"].clone()),
        (json!(2.6875), json!(t))
    );
    assert_eq!(r[1].as_array().unwrap().len(), 2);
    assert_eq!(
        (r[1][0]["data"][0].clone(), r[1][1]["data"][0].clone()),
        (json!(10.0), json!(20.0))
    );
    assert_eq!(r[2][0]["data"][0], json!(15.0));
    assert_eq!(r[3][0]["data"][0], json!(100.0));
    assert!(r[4][0]["error"]
        .as_str()
        .unwrap()
        .contains("unknown metric"));
    // HTTP writes go through the same stream and decoder.
    let (status, w) = app
        .post(
            "/api/write/?cluster=other",
            &format!("cpu_load,hostname=w1 value=9 {t}\nbroken line"),
        )
        .await;
    assert_eq!(status, 200, "{w}");
    assert_eq!(w, json!({"samples": 1, "skipped": {"bad_line": 1}}));
    let (status, _) = app.post("/api/write/", "only garbage").await;
    assert_eq!(status, 400);
    eventually(30, "the HTTP write is readable", || async {
        let (_, b) = app
            .get(&format!(
                "/api/nodes/other/w1/metrics?metric=cpu_load&from={t}&to={t}"
            ))
            .await;
        b["cpu_load"]["node"]["series"][0]["data"] == json!([9.0])
    })
    .await;
    // Bad parameters are named.
    let (status, e) = app
        .get("/api/nodes/testcluster/n1/metrics?metric=nope")
        .await;
    assert_eq!(status, 400);
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("unknown metric \"nope\""),
        "{e}"
    );
    let (status, _) = app.get("/api/nodes/testcluster/n1/metrics?scope=gpu").await;
    assert_eq!(status, 400);
}

async fn a_job_sees_only_its_own_hwthreads_from_start_to_stop(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    wait_metric_store(&app).await;
    let t = hour_ago();
    let mut lines = Vec::new();
    for k in 0..5i64 {
        for hw in 0..4i64 {
            lines.push(format!(
                "cpu_user,hostname=j1,type=hwthread,type-id={hw} value={} {}",
                hw * 10 + k,
                t + 60 * k
            ));
        }
    }
    publish_until_acked_to(
        &app.setup,
        &app.setup.metric_subject,
        "job",
        &[lines.join("\n").into_bytes()],
    )
    .await;
    let start = json!({
        "jobId": 77, "cluster": "testcluster", "user": "alice", "project": "p", "numNodes": 1,
        "startTime": t, "resources": [{"hostname": "j1", "hwthreads": [0, 1]}],
    });
    let (status, created) = app.post("/api/jobs/start_job/", &start.to_string()).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_i64().unwrap();
    eventually(30, "the samples are read", || async {
        app.metric("jobledger_samples_received_total").await >= 20.0
    })
    .await;
    // Running: from the start to now.
    let (status, b) = app
        .get(&format!("/api/jobs/{id}/metrics?metric=cpu_user"))
        .await;
    assert_eq!(status, 200, "{b}");
    let hw = data(&b, "cpu_user", "hwthread");
    assert_eq!(hw.len(), 2, "only the job's hwthreads: {b}");
    assert_eq!(
        hw[1]["data"].as_array().unwrap()[..5],
        [
            json!(10.0),
            json!(11.0),
            json!(12.0),
            json!(13.0),
            json!(14.0)
        ]
    );
    // The node is the average of the job's two hwthreads, not of all four.
    assert_eq!(data(&b, "cpu_user", "node")[0]["data"][0], json!(5.0));
    let stop = json!({"jobId": 77, "cluster": "testcluster", "startTime": t, "stopTime": t + 120, "jobState": "completed"});
    let (status, body) = app.post("/api/jobs/stop_job/", &stop.to_string()).await;
    assert_eq!(status, 200, "{body}");
    let (_, b) = app
        .get(&format!(
            "/api/jobs/{id}/metrics?metric=cpu_user&scope=node"
        ))
        .await;
    assert_eq!(
        data(&b, "cpu_user", "node")[0]["data"],
        json!([5.0, 6.0, 7.0]),
        "start to stop"
    );
    assert!(b["cpu_user"].get("hwthread").is_none());
    // Downsampled to 120 s: the first and last point stay.
    let (_, b) = app
        .get(&format!(
            "/api/jobs/{id}/metrics?metric=cpu_user&scope=node&resolution=120"
        ))
        .await;
    assert_eq!(b["cpu_user"]["node"]["timestep"], 120);
    assert_eq!(
        data(&b, "cpu_user", "node")[0]["data"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

/// Samples of a day that is over, read back as first stored (chunks per series), then
/// after a restart's upkeep pass has compacted the day into blocks: the same answer.
async fn a_compacted_day_answers_as_its_chunks_did(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let mut setup = Setup::new(&tdb, SHARED_NATS);
    // The day before yesterday: over, whatever the hour (compaction waits for a day's
    // last window to close), and kept.
    setup.metrics_extra = "stream_max_mib = 64\nretention_hours = 1000".into();
    let mut app = TestApp::spawn(setup).await;
    wait_metric_store(&app).await;
    let t = (chrono::Utc::now().timestamp() / 86_400 - 2) * 86_400 + 600;
    let mut lines = Vec::new();
    for k in 0..10i64 {
        for hw in 0..4i64 {
            if (hw, k) != (3, 4) {
                lines.push(format!(
                    "cpu_user,hostname=c1,type=hwthread,type-id={hw} value={}.25 {}",
                    hw * 100 + k,
                    t + 60 * k
                ));
            }
        }
        lines.push(format!("cpu_load,hostname=c1 value={k}.5 {}", t + 60 * k));
    }
    publish_until_acked_to(
        &app.setup,
        &app.setup.metric_subject,
        "compact",
        &[lines.join("\n").into_bytes()],
    )
    .await;
    // 33 nodes (only c1 with samples): a job this wide has its blocks read one metric
    // at a time, so the answer is put together from several reads.
    let mut resources = vec![json!({"hostname": "c1", "hwthreads": [0, 1, 2, 3]})];
    resources.extend((2..=33).map(|n| json!({"hostname": format!("c{n}")})));
    let start = json!({
        "jobId": 78, "cluster": "testcluster", "user": "alice", "project": "p", "numNodes": 33,
        "startTime": t, "resources": resources,
    });
    let (status, created) = app.post("/api/jobs/start_job/", &start.to_string()).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_i64().unwrap();
    let stop = json!({"jobId": 78, "cluster": "testcluster", "startTime": t, "stopTime": t + 540, "jobState": "completed"});
    let (status, body) = app.post("/api/jobs/stop_job/", &stop.to_string()).await;
    assert_eq!(status, 200, "{body}");
    eventually(60, "the samples are stored", || async {
        app.metric("jobledger_samples_stored_total").await >= 49.0
    })
    .await;
    let path =
        format!("/api/jobs/{id}/metrics?metric=cpu_user&metric=cpu_load&scope=hwthread&scope=node");
    let (status, before) = app.get(&path).await;
    assert_eq!(status, 200, "{before}");
    let hw = data(&before, "cpu_user", "hwthread");
    assert_eq!(hw.len(), 4, "{before}");
    assert_eq!(hw[3]["data"][3], json!(303.25));
    assert_eq!(hw[3]["data"][4], Value::Null, "the gap stays a gap");
    assert_eq!(data(&before, "cpu_load", "node")[0]["data"][9], json!(9.5));
    // A restart runs the upkeep pass at once.
    app.terminate();
    app.restart().await;
    eventually(90, "the day is compacted", || async {
        app.metric("jobledger_metric_series_compacted_total").await >= 5.0
    })
    .await;
    let (status, after) = app.get(&path).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after, before, "blocks answer as the chunks did");
    let store = tdb.store().await;
    let count = |table: &'static str| {
        let pool = store.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        count("metric_block").await,
        2,
        "one block per metric of the node"
    );
    assert_eq!(count("metric_chunk").await, 0);
}
