//! `GET /api/jobs/` filters and sorts, `GET /api/stats/`, and edits (issue 4), on both
//! databases, through the real binary.

use crate::helpers::*;
use crate::on_both_databases;
use serde_json::{json, Value};

on_both_databases!(
    every_filter_selects_exactly_the_matching_jobs,
    sorts_pages_and_totals_agree,
    bad_filter_values_are_400s_naming_the_parameter_and_values_never_become_sql,
    stats_count_only_the_part_of_each_job_inside_the_window,
    tags_and_metadata_can_be_edited_and_are_found_by_the_filters,
);

/// Four jobs that differ in every filtered field.
async fn four_jobs(app: &TestApp) -> Vec<i64> {
    let jobs = [
        json!({"jobId": 1, "cluster": "fritz", "user": "alice", "project": "p1", "partition": "main",
               "startTime": 1000, "numNodes": 1, "resources": [{"hostname": "f1"}],
               "metaData": {"jobName": "Sim_alpha"}}),
        json!({"jobId": 2, "cluster": "fritz", "user": "alice", "project": "p2", "partition": "gpu",
               "startTime": 3000, "numNodes": 2, "resources": [{"hostname": "f1"}, {"hostname": "f2"}],
               "metaData": {"jobName": "train_x"}, "arrayJobId": 7}),
        json!({"jobId": 3, "cluster": "alex", "user": "bob", "project": "p1", "partition": "main",
               "subCluster": "sc2", "startTime": 5000, "numNodes": 3,
               "resources": [{"hostname": "a1"}, {"hostname": "a2"}, {"hostname": "a3"}],
               "metaData": {"jobName": "sim_beta"}, "arrayJobId": 7,
               "tags": [{"type": "debug", "name": "slow"}]}),
        json!({"jobId": 4, "cluster": "alex", "user": "abby", "project": "px1", "partition": "gpu",
               "startTime": 7000, "numNodes": 1, "resources": [{"hostname": "a3"}],
               "metaData": {"jobName": "post"}}),
    ];
    let mut ids = Vec::new();
    for j in jobs {
        let (status, body) = app.post("/api/jobs/start_job/", &j.to_string()).await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_i64().unwrap());
    }
    for (job, cluster, stop, state) in [
        (1, "fritz", 2000, "completed"),
        (3, "alex", 9000, "failed"),
        (4, "alex", 7100, "cancelled"),
    ] {
        let stop = json!({"jobId": job, "cluster": cluster, "stopTime": stop, "jobState": state});
        let (status, body) = app.post("/api/jobs/stop_job/", &stop.to_string()).await;
        assert_eq!(status, 200, "{body}");
    }
    ids
}

async fn job_ids(app: &TestApp, query: &str) -> Vec<i64> {
    let (status, body) = app.get(&format!("/api/jobs/?{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    let ids: Vec<i64> = body["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["jobId"].as_i64().unwrap())
        .collect();
    assert_eq!(body["total"].as_i64(), Some(ids.len() as i64), "{query}");
    ids
}

async fn every_filter_selects_exactly_the_matching_jobs(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    four_jobs(&app).await;
    let cases: &[(&str, &[i64])] = &[
        ("user=alice", &[2, 1]),
        ("user=a*", &[4, 2, 1]),
        ("user=A*", &[]),
        ("user=a?by", &[4]),
        ("project=p?", &[3, 2, 1]),
        ("project=p1", &[3, 1]),
        ("partition=gpu", &[4, 2]),
        ("subcluster=sc2", &[3]),
        ("cluster=alex", &[4, 3]),
        ("arrayJobId=7", &[3, 2]),
        ("node=a3", &[4, 3]),
        ("node=f1", &[2, 1]),
        ("node=f1&time=2500-2600", &[]),
        ("node=f1&time=1500-3500", &[2, 1]),
        ("node=nowhere", &[]),
        // Running since 3000, long before the window minus the longest job (4000 s).
        ("node=f2&time=9500-9600", &[2]),
        ("node=f1&time=9500-", &[2]),
        ("node=f1&time=9500-&start-time=3000-", &[2]),
        ("node=f1&time=9500-&start-time=3001-", &[]),
        ("tag=debug:slow", &[3]),
        ("tag=debug:fast", &[]),
        ("jobName=SIM", &[3, 1]),
        ("jobName=sim_*", &[3, 1]),
        ("jobName=*_x", &[2]),
        ("jobName=%25", &[]),
        ("duration=1000-5000", &[3, 1]),
        ("duration=-500", &[4, 2]),
        ("numNodes=2-", &[3, 2]),
        ("numNodes=1-1", &[4, 1]),
        ("stop-time=1500-7100", &[4, 1]),
        ("start-time=3000-5000", &[3, 2]),
        ("state=running", &[2]),
        ("state=failed&state=cancelled", &[4, 3]),
        ("time=6000-6500", &[3, 2]),
        ("time=6000-6500&start-time=3000-4000", &[2]),
        ("time=6000-6500&start-time=5000-", &[3]),
        ("time=6000-6500&start-time=-2999", &[]),
        ("time=-1500", &[1]),
        ("time=9500-", &[2]),
        ("user=alice&partition=main", &[1]),
        ("project=p1&node=a1&state=failed", &[3]),
    ];
    for (query, want) in cases {
        assert_eq!(job_ids(&app, query).await, *want, "{query}");
    }
}

async fn sorts_pages_and_totals_agree(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    four_jobs(&app).await;
    assert!(
        app.log()
            .contains("no [auth] section: every caller is trusted"),
        "without [auth] jobledger says so at start-up"
    );
    assert_eq!(
        job_ids(&app, "").await,
        [4, 3, 2, 1],
        "default: newest start first"
    );
    assert_eq!(job_ids(&app, "sort=startTime:asc").await, [1, 2, 3, 4]);
    assert_eq!(job_ids(&app, "sort=duration:desc").await, [3, 1, 4, 2]);
    assert_eq!(job_ids(&app, "sort=duration").await, [3, 1, 4, 2]);
    assert_eq!(job_ids(&app, "sort=numNodes:asc").await, [1, 4, 2, 3]);
    let (_, page) = app.get("/api/jobs/?items-per-page=1&page=2").await;
    assert_eq!(
        (page["total"].as_i64(), page["items"].as_i64()),
        (Some(4), Some(1))
    );
    assert_eq!(page["jobs"][0]["jobId"], 3);
    let (_, page) = app.get("/api/jobs/?items-per-page=3&page=9").await;
    assert_eq!(
        (page["total"].as_i64(), page["items"].as_i64()),
        (Some(4), Some(0))
    );
    let (_, without) = app.get("/api/jobs/?with-metadata=false").await;
    assert!(
        without["jobs"][0].get("metaData").is_none(),
        "with-metadata=false means false"
    );
    let (_, with) = app.get("/api/jobs/?with-metadata=true").await;
    assert_eq!(with["jobs"][0]["metaData"]["jobName"], "post");
}

async fn bad_filter_values_are_400s_naming_the_parameter_and_values_never_become_sql(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    four_jobs(&app).await;
    for (query, param) in [
        ("duration=abc", "duration"),
        ("numNodes=5-2", "numNodes"),
        ("sort=user", "sort"),
        ("sort=duration:sideways", "sort"),
        ("tag=debug", "tag"),
        ("arrayJobId=seven", "arrayJobId"),
        ("state=bogus", "state"),
        ("time=-", "time"),
        ("stop-time=10", "stop-time"),
        ("node=", "node"),
        ("page=0", "page"),
        ("with-metadata=yes", "with-metadata"),
        ("colour=blue", "colour"),
        ("user=a&user=b", "user"),
    ] {
        let (status, body) = app.get(&format!("/api/jobs/?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        let msg = body["error"].as_str().unwrap();
        assert!(msg.contains(param), "{query}: {msg}");
        assert_eq!(body["status"], "Bad Request");
    }
    for hostile in [
        "x'%20OR%20'1'='1",
        "';%20DROP%20TABLE%20job;%20--",
        "a%22)%20OR%201=1--",
    ] {
        for key in ["user", "project", "node", "jobName", "cluster", "partition"] {
            assert_eq!(
                job_ids(&app, &format!("{key}={hostile}")).await,
                Vec::<i64>::new()
            );
        }
        assert!(job_ids(&app, &format!("tag={hostile}:x")).await.is_empty());
    }
    assert_eq!(job_ids(&app, "").await.len(), 4, "the table is still there");
}

async fn stats_count_only_the_part_of_each_job_inside_the_window(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    // (jobId, user, project, nodes, hwthreads, acc, submit, start, stop)
    let jobs = [
        (1, "u1", "p1", 2, 10, 1, 900, 1000, Some(5000)),
        (2, "u2", "p1", 1, 4, 0, 2000, 3000, Some(4000)),
        (3, "u1", "p2", 4, 8, 0, 4000, 4000, None),
        (4, "u2", "p2", 1, 1, 0, 6900, 7000, Some(8000)),
        (5, "u2", "p1", 1, 1, 0, 50, 100, Some(1500)),
    ];
    for (id, user, project, nodes, hw, acc, submit, start, stop) in jobs {
        let resources: Vec<Value> = (0..nodes)
            .map(|n| json!({"hostname": format!("h{id}-{n}")}))
            .collect();
        let j = json!({"jobId": id, "cluster": "c", "user": user, "project": project,
            "startTime": start, "submitTime": submit, "numNodes": nodes, "numHwthreads": hw,
            "numAcc": acc, "resources": resources});
        assert_eq!(
            app.post("/api/jobs/start_job/", &j.to_string()).await.0,
            201
        );
        if let Some(stop) = stop {
            let s = json!({"jobId": id, "cluster": "c", "stopTime": stop});
            assert_eq!(app.post("/api/jobs/stop_job/", &s.to_string()).await.0, 200);
        }
    }
    let (status, s) = app.get("/api/stats/?group-by=project&time=2000-6000").await;
    assert_eq!(status, 200, "{s}");
    let h = |secs: f64| secs / 3600.0;
    let close = |v: &Value, want: f64| (v.as_f64().unwrap() - want).abs() < 1e-6;
    // p2: job 3, 4 nodes x 2000 s (running, cut at the window's end); p1: jobs 1 and 2.
    assert_eq!(
        s["groups"][0]["group"], "p2",
        "largest node-hours first: {s}"
    );
    assert_eq!(s["groups"][0]["jobs"], 1);
    assert!(close(&s["groups"][0]["nodeHours"], h(8000.0)), "{s}");
    assert!(close(&s["groups"][0]["coreHours"], h(16000.0)), "{s}");
    assert!(close(&s["groups"][0]["avgWaitSeconds"], 0.0), "{s}");
    let p1 = &s["groups"][1];
    assert_eq!(
        (p1["group"].as_str(), p1["jobs"].as_i64()),
        (Some("p1"), Some(2))
    );
    assert!(close(&p1["nodeHours"], h(2.0 * 3000.0 + 1000.0)), "{s}");
    assert!(
        close(&p1["coreHours"], h(10.0 * 3000.0 + 4.0 * 1000.0)),
        "{s}"
    );
    assert!(close(&p1["gpuHours"], h(3000.0)), "{s}");
    assert!(close(&p1["avgWaitSeconds"], 550.0), "{s}");
    assert_eq!(s["total"]["jobs"], 3, "jobs 4 and 5 lie outside the window");
    let (_, by_user) = app
        .get("/api/stats/?group-by=user&time=2000-6000&user=u1")
        .await;
    let groups = by_user["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert!(
        close(&groups[0]["nodeHours"], h(6000.0 + 8000.0)),
        "{by_user}"
    );
    let (_, by_state) = app.get("/api/stats/?group-by=state&time=2000-6000").await;
    let names: Vec<&str> = by_state["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["group"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["running", "completed"]);
    let (_, all) = app.get("/api/stats/?group-by=cluster").await;
    assert_eq!(all["total"]["jobs"], 5, "no window: every job");
    // Absurd but valid numbers must not overflow into a server error.
    let huge = json!({"jobId": 99, "cluster": "c", "user": "u9", "startTime": 100,
        "submitTime": 1, "numNodes": 1, "numHwthreads": i64::MAX / 2, "numAcc": i64::MAX,
        "resources": [{"hostname": "x"}]});
    assert_eq!(
        app.post("/api/jobs/start_job/", &huge.to_string()).await.0,
        201
    );
    let (status, body) = app.get("/api/stats/?group-by=user&time=0-").await;
    assert_eq!(status, 200, "{body}");
    for (query, param) in [
        ("", "group-by"),
        ("group-by=colour", "group-by"),
        ("group-by=user&time=x", "time"),
    ] {
        let (status, body) = app.get(&format!("/api/stats/?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert!(body["error"].as_str().unwrap().contains(param), "{body}");
    }
}

async fn tags_and_metadata_can_be_edited_and_are_found_by_the_filters(db: Db) {
    use reqwest::Method;
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    let ids = four_jobs(&app).await;
    let id = ids[0];
    let tags = r#"[{"type":"review","name":"done"},{"type":"debug","name":"slow","scope":""}]"#;
    for _ in 0..2 {
        let (status, job) = app
            .send(
                Method::POST,
                &format!("/api/jobs/tag_job/{id}"),
                Some(tags),
                None,
            )
            .await;
        assert_eq!(status, 200, "{job}");
        assert_eq!(
            job["tags"].as_array().unwrap().len(),
            2,
            "adding twice keeps one: {job}"
        );
    }
    assert_eq!(job_ids(&app, "tag=debug:slow").await, [3, 1]);
    let one = r#"[{"type":"debug","name":"slow"}]"#;
    let (status, job) = app
        .send(
            Method::DELETE,
            &format!("/api/jobs/tag_job/{id}"),
            Some(one),
            None,
        )
        .await;
    assert_eq!((status, job["tags"].as_array().unwrap().len()), (200, 1));
    assert_eq!(job_ids(&app, "tag=debug:slow").await, [3]);

    let edit = r#"{"key":"jobName","value":"renamed_run"}"#;
    let (status, job) = app
        .send(
            Method::PATCH,
            &format!("/api/jobs/edit_meta/{id}"),
            Some(edit),
            None,
        )
        .await;
    assert_eq!(
        (status, job["metaData"]["jobName"].as_str()),
        (200, Some("renamed_run"))
    );
    assert_eq!(job_ids(&app, "jobName=RENAMED").await, [1]);

    let key = format!("/api/jobs/{id}/metadata/issue");
    let (status, _) = app.send(Method::GET, &key, None, None).await;
    assert_eq!(status, 404, "no such key yet");
    let (status, body) = app
        .send(Method::PUT, &key, Some(r#"{"value":"INC-42"}"#), None)
        .await;
    assert_eq!((status, body["value"].as_str()), (200, Some("INC-42")));
    let (_, body) = app.send(Method::GET, &key, None, None).await;
    assert_eq!(body, json!({"key": "issue", "value": "INC-42"}));
    let (_, job) = app.get(&format!("/api/jobs/{id}")).await;
    assert_eq!(job["metaData"]["jobName"], "renamed_run", "other keys stay");
    assert_eq!(app.send(Method::DELETE, &key, None, None).await.0, 204);
    assert_eq!(app.send(Method::DELETE, &key, None, None).await.0, 404);

    for (method, path, body, want) in [
        (
            Method::POST,
            "/api/jobs/tag_job/999999".to_string(),
            tags,
            404,
        ),
        (
            Method::POST,
            format!("/api/jobs/tag_job/{id}"),
            "[{\"type\":\"\",\"name\":\"x\"}]",
            400,
        ),
        (
            Method::POST,
            format!("/api/jobs/tag_job/{id}"),
            "not json",
            400,
        ),
        (
            Method::PATCH,
            format!("/api/jobs/edit_meta/{id}"),
            "{\"key\":\"a\",\"value\":\"b\",\"x\":1}",
            400,
        ),
        (
            Method::PATCH,
            format!("/api/jobs/edit_meta/{id}"),
            "{\"key\":\"a\",\"value\":\"b\\u0000\"}",
            400,
        ),
        (
            Method::PUT,
            format!("/api/jobs/{id}/metadata/k"),
            "{\"value\":3}",
            400,
        ),
        (
            Method::PUT,
            "/api/jobs/x/metadata/k".to_string(),
            "{\"value\":\"v\"}",
            400,
        ),
    ] {
        let (status, b) = app.send(method.clone(), &path, Some(body), None).await;
        assert_eq!(status, want, "{method} {path} {body}: {b}");
        assert!(b["error"].is_string(), "{b}");
    }
}
