//! `GET /api/events` (issue 4): committed changes as Server-Sent Events, with the job
//! filters and the caller's scope, from every process of a deployment.

use crate::clients::*;
use crate::events::*;
use crate::helpers::*;
use crate::on_both_databases;
use reqwest::Method;
use serde_json::json;

on_both_databases!(
    streams_show_committed_changes_through_their_filters,
    a_users_stream_shows_only_her_own_jobs,
);

fn start(job_id: i64, cluster: &str, user: &str) -> serde_json::Value {
    let mut j = start_json(job_id, 1000 + job_id);
    j["cluster"] = json!(cluster);
    j["user"] = json!(user);
    j
}

fn kinds(events: &[(String, serde_json::Value)]) -> Vec<(String, i64)> {
    let mut k: Vec<(String, i64)> = events
        .iter()
        .map(|(e, v)| (e.clone(), v["jobId"].as_i64().unwrap_or(-1)))
        .collect();
    k.sort();
    k
}

async fn streams_show_committed_changes_through_their_filters(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let setup = Setup::new(&tdb, SHARED_NATS);
    let app = TestApp::spawn(setup.clone()).await;
    let mut fritz = EventStream::open(&app, "cluster=fritz", None).await;
    let mut all = EventStream::open(&app, "", None).await;
    let mut stops = EventStream::open(&app, "kind=stopped", None).await;
    // `kind` is repeatable (it once was refused as "given twice").
    let mut stops_or_archived = EventStream::open(&app, "kind=stopped&kind=archived", None).await;
    let js = setup.jetstream().await;
    let mut stop = stop_json(1, None, 2000, "completed");
    stop["cluster"] = json!("fritz");
    let stop = format!(
        "job,function=stop_job event=\"{}\"",
        escape(&stop.to_string())
    );
    publish(
        &js,
        &setup.job_subject,
        &[
            start_line(&start(1, "fritz", "alice")),
            start_line(&start(2, "alex", "bob")),
            stop,
            "job,function=start_job event=\"{\\\"jobId\\\":\"".to_string(),
        ],
    )
    .await;
    let s = |k: &str, id: i64| (k.to_string(), id);
    let want_fritz = vec![s("archived", 1), s("started", 1), s("stopped", 1)];
    assert_eq!(kinds(&fritz.drain(3).await), want_fritz);
    let got = all.drain(3).await;
    assert_eq!(
        kinds(&got),
        vec![
            s("archived", 1),
            s("rejected", -1),
            s("started", 1),
            s("started", 2),
            s("stopped", 1)
        ]
    );
    let rejected = got.iter().find(|(e, _)| e == "rejected").unwrap();
    assert!(rejected.1["reason"].as_str().is_some(), "{:?}", rejected.1);
    assert_eq!(kinds(&stops.drain(1).await), vec![s("stopped", 1)]);
    assert_eq!(
        kinds(&stops_or_archived.drain(1).await),
        vec![s("archived", 1), s("stopped", 1)]
    );
    // A job as the stream shows it is the job as /api/jobs/ shows it.
    let started = got
        .iter()
        .find(|(e, v)| e == "started" && v["jobId"] == 2)
        .unwrap();
    let (_, job) = app.get(&format!("/api/jobs/{}", started.1["id"])).await;
    assert_eq!(job["user"], started.1["user"]);
    let (status, body) = app.get("/api/events?kind=exploded").await;
    assert_eq!(status, 400, "{body}");
}

async fn a_users_stream_shows_only_her_own_jobs(db: Db) {
    let (app, keys, _tdb) = spawn_with_auth(db).await;
    let api = keys.token("adapter", "api", &[]);
    let alice = keys.token("alice", "user", &[]);
    let mut mine = EventStream::open(&app, "", Some(&alice)).await;
    let mut asks_for_bob = EventStream::open(&app, "user=bob", Some(&alice)).await;
    for (id, user) in [(1, "bob"), (2, "alice"), (3, "bob")] {
        app.start_job_as(&start(id, "c", user), &api).await;
    }
    let (status, _) = app
        .send(Method::POST, "/api/jobs/start_job/", Some("{"), Some(&api))
        .await;
    assert_eq!(status, 400, "a rejected event: not for a user's eyes");
    let got = mine.drain(2).await;
    assert_eq!(kinds(&got), vec![("started".to_string(), 2)]);
    assert!(asks_for_bob.drain(1).await.is_empty());
    let r = app
        .http
        .get(format!("{}/api/events", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401, "no token, no stream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_the_streams_of_every_process() {
    ensure_shared_nats();
    let tdb = TestDb::new(Db::Postgres).await;
    let setup = Setup::new(&tdb, SHARED_NATS);
    let a = TestApp::spawn(setup.clone()).await;
    let b = TestApp::spawn(setup).await;
    let mut on_a = EventStream::open(&a, "kind=started", None).await;
    let (status, _) = b
        .post("/api/jobs/start_job/", &start(5, "c", "alice").to_string())
        .await;
    assert_eq!(status, 201);
    let got = on_a.drain(3).await;
    assert_eq!(
        kinds(&got),
        vec![("started".to_string(), 5)],
        "relayed once, from B to A"
    );
}
