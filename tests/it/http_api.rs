//! The REST surface of contract section 4.

use crate::events::*;
use crate::helpers::*;
use crate::on_both_databases;
use serde_json::json;

on_both_databases!(
    start_and_stop_over_http_answer_with_cc_backend_status_codes,
    job_list_filters_pages_and_refuses_unknown_parameters,
);

async fn start_and_stop_over_http_answer_with_cc_backend_status_codes(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    let start = start_json(10, 1000).to_string();
    let (status, body) = app.post("/api/jobs/start_job/", &start).await;
    assert_eq!((status, body["msg"].as_str()), (201, Some("success")));
    assert!(body["id"].as_i64().unwrap() > 0);
    let (status, body) = app.post("/api/jobs/start_job/", &start).await;
    assert_eq!(
        status, 422,
        "a repeated start is 422 as in cc-backend: {body}"
    );
    let (status, _) = app
        .post("/api/jobs/start_job/", &start_json(10, 1200).to_string())
        .await;
    assert_eq!(status, 422, "conflicting start");

    let stop = stop_json(10, None, 1500, "cancelled").to_string();
    let (status, job) = app.post("/api/jobs/stop_job/", &stop).await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(
        (job["jobState"].as_str(), job["duration"].as_i64()),
        (Some("cancelled"), Some(500))
    );
    let (status, _) = app.post("/api/jobs/stop_job/", &stop).await;
    assert_eq!(status, 200, "an identical stop is answered like the first");
    let (status, body) = app
        .post(
            "/api/jobs/stop_job/",
            &stop_json(10, None, 1600, "failed").to_string(),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("already stopped"));

    app.post("/api/jobs/start_job/", &start_json(11, 1000).to_string())
        .await;
    let (status, _) = app
        .post(
            "/api/jobs/stop_job/",
            &stop_json(11, None, 999, "completed").to_string(),
        )
        .await;
    assert_eq!(status, 400, "stopTime before startTime");
    let put = app
        .http
        .put(format!("{}/api/jobs/stop_job/", app.base))
        .body(stop_json(11, Some(1000), 1100, "completed").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 200, "PUT works like POST");
}

async fn job_list_filters_pages_and_refuses_unknown_parameters(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    for (id, user, project, cluster, partition, start) in [
        (1, "alice", "p1", "fritz", "main", 1000),
        (2, "alice", "p2", "fritz", "gpu", 2000),
        (3, "bob", "p1", "alex", "main", 3000),
        (4, "carol", "p3", "alex", "gpu", 4000),
    ] {
        let mut j = start_json(id, start);
        j["user"] = json!(user);
        j["project"] = json!(project);
        j["cluster"] = json!(cluster);
        j["partition"] = json!(partition);
        j["metaData"] = json!({"jobName": format!("job{id}")});
        let (status, body) = app.post("/api/jobs/start_job/", &j.to_string()).await;
        assert_eq!(status, 201, "{body}");
    }
    let stop = json!({"jobId": 4, "cluster": "alex", "stopTime": 4100, "jobState": "failed"});
    app.post("/api/jobs/stop_job/", &stop.to_string()).await;

    let ids = |q: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app.get(&format!("/api/jobs/?{q}")).await;
            assert_eq!(status, 200, "{q}: {body}");
            body["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|j| j["jobId"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ids("").await, [4, 3, 2, 1], "newest start first");
    assert_eq!(ids("user=alice").await, [2, 1]);
    assert_eq!(ids("project=p1").await, [3, 1]);
    assert_eq!(ids("cluster=alex&partition=gpu").await, [4]);
    assert_eq!(ids("state=running").await, [3, 2, 1]);
    assert_eq!(ids("state=failed&state=completed").await, [4]);
    assert_eq!(ids("start-time=2000-3000").await, [3, 2]);
    assert_eq!(ids("items-per-page=3&page=2").await, [1]);

    let (_, body) = app.get("/api/jobs/?items-per-page=1").await;
    assert_eq!(
        (
            body["items"].as_i64(),
            body["total"].as_i64(),
            body["page"].as_i64()
        ),
        (Some(1), Some(4), Some(1))
    );
    assert!(
        body["jobs"][0].get("metaData").is_none(),
        "metadata only on request"
    );
    let (_, body) = app
        .get("/api/jobs/?items-per-page=1&with-metadata=true")
        .await;
    assert_eq!(body["jobs"][0]["metaData"]["jobName"], "job4");

    for bad in [
        "colour=red",
        "state=sleeping",
        "start-time=5-1",
        "page=0",
        "with-metadata=maybe",
    ] {
        let (status, body) = app.get(&format!("/api/jobs/?{bad}")).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["status"], "Bad Request");
        let param = bad.split('=').next().unwrap();
        assert!(
            body["error"].as_str().unwrap().contains(param),
            "{bad}: {body}"
        );
    }
    assert_eq!(app.get("/api/jobs/99999").await.0, 404);
    assert_eq!(app.get("/api/jobs/abc").await.0, 400);
    let (status, version) = app.get("/api/version").await;
    assert_eq!(status, 200);
    assert_eq!(version["build"], env!("CARGO_PKG_VERSION"));
    assert!(version["serverId"].as_str().is_some_and(|s| !s.is_empty()));
}
