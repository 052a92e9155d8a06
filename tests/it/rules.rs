//! Contract section 3, over NATS, on both databases.

use crate::events::*;
use crate::helpers::*;
use crate::on_both_databases;

on_both_databases!(
    start_then_stop_records_state_and_duration,
    repeated_start_from_every_node_is_one_job,
    conflicting_start_is_rejected_with_a_reason,
    requeue_after_the_stop_creates_a_new_instance,
    repeated_stop_is_a_duplicate_and_a_different_stop_is_rejected,
    early_stop_is_held_until_its_start_arrives,
    held_stop_without_a_start_becomes_no_such_job,
    stop_before_the_start_time_is_rejected,
    database_allows_one_running_instance_only,
);

async fn app(db: Db, extra: &str) -> (TestApp, TestDb) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let mut setup = Setup::new(&tdb, SHARED_NATS);
    setup.extra = extra.to_string();
    (TestApp::spawn(setup).await, tdb)
}

async fn send(app: &TestApp, lines: &[String]) {
    let js = app.setup.jetstream().await;
    publish(&js, &app.setup.job_subject, lines).await;
}

async fn wait_jobs(app: &TestApp, query: &str, n: usize) -> Vec<serde_json::Value> {
    eventually(20, &format!("{n} jobs for {query:?}"), || async {
        app.jobs(query).await.len() == n
    })
    .await;
    app.jobs(query).await
}

async fn wait_rejected(app: &TestApp, n: usize) -> Vec<serde_json::Value> {
    eventually(20, &format!("{n} rejected events"), || async {
        app.rejected().await.len() >= n
    })
    .await;
    app.rejected().await
}

async fn start_then_stop_records_state_and_duration(db: Db) {
    let (app, _db) = app(db, "").await;
    send(
        &app,
        &[
            start_line(&start_json(1, 1000)),
            stop_line(1, Some(1000), 1600, "failed"),
        ],
    )
    .await;
    let jobs = wait_jobs(&app, "state=failed", 1).await;
    assert_eq!(jobs[0]["duration"], 600);
    assert_eq!(jobs[0]["stopTime"], 1600);
    assert_eq!(jobs[0]["monitoringStatus"], 1);
}

async fn repeated_start_from_every_node_is_one_job(db: Db) {
    let (app, _db) = app(db, "").await;
    // An N-node job runs its prolog on N nodes: the same start arrives N times.
    let line = start_line(&start_json(2, 1000));
    send(&app, &vec![line.clone(); 8]).await;
    send(&app, &[line]).await;
    wait_jobs(&app, "", 1).await;
    eventually(10, "duplicates counted", || async {
        app.metric("jobledger_events_total{kind=\"start_job\",result=\"duplicate\"}")
            .await
            == 8.0
    })
    .await;
    assert_eq!(app.jobs("").await.len(), 1);
}

async fn conflicting_start_is_rejected_with_a_reason(db: Db) {
    let (app, _db) = app(db, "").await;
    send(
        &app,
        &[
            start_line(&start_json(3, 1000)),
            start_line(&start_json(3, 1200)),
        ],
    )
    .await;
    let rejected = wait_rejected(&app, 1).await;
    assert_eq!(rejected[0]["kind"], "conflict");
    assert!(rejected[0]["reason"]
        .as_str()
        .unwrap()
        .contains("still running"));
    // A start inside a stopped instance's run is a conflict too.
    send(
        &app,
        &[
            stop_line(3, None, 2000, "completed"),
            start_line(&start_json(3, 1500)),
        ],
    )
    .await;
    let rejected = wait_rejected(&app, 2).await;
    assert!(rejected[0]["reason"]
        .as_str()
        .unwrap()
        .contains("ran from 1000 to 2000"));
    assert_eq!(app.jobs("").await.len(), 1);
}

async fn requeue_after_the_stop_creates_a_new_instance(db: Db) {
    let (app, _db) = app(db, "").await;
    send(
        &app,
        &[
            start_line(&start_json(4, 1000)),
            stop_line(4, None, 1100, "preempted"),
            start_line(&start_json(4, 1100)),
        ],
    )
    .await;
    let jobs = wait_jobs(&app, "", 2).await;
    assert_eq!(jobs[0]["jobState"], "running");
    assert_eq!(jobs[1]["jobState"], "preempted");
    assert!(app.rejected().await.is_empty());
}

async fn repeated_stop_is_a_duplicate_and_a_different_stop_is_rejected(db: Db) {
    let (app, _db) = app(db, "").await;
    let stop = stop_line(5, Some(1000), 1500, "completed");
    send(
        &app,
        &[start_line(&start_json(5, 1000)), stop.clone(), stop],
    )
    .await;
    wait_jobs(&app, "state=completed", 1).await;
    send(&app, &[stop_line(5, Some(1000), 1700, "failed")]).await;
    let rejected = wait_rejected(&app, 1).await;
    assert_eq!(rejected.len(), 1, "the identical stop was not rejected");
    assert_eq!(rejected[0]["kind"], "already_stopped");
    assert!(rejected[0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("already stopped"));
    assert_eq!(app.jobs("").await[0]["stopTime"], 1500);
}

async fn early_stop_is_held_until_its_start_arrives(db: Db) {
    let (app, _db) = app(db, "").await;
    send(&app, &[stop_line(6, None, 1300, "timeout")]).await;
    eventually(10, "stop held", || async {
        app.metric("jobledger_held_stops").await == 1.0
    })
    .await;
    send(&app, &[start_line(&start_json(6, 1000))]).await;
    let jobs = wait_jobs(&app, "state=timeout", 1).await;
    assert_eq!(jobs[0]["duration"], 300);
    assert_eq!(app.metric("jobledger_held_stops").await, 0.0);
    assert!(app.rejected().await.is_empty());
}

async fn held_stop_without_a_start_becomes_no_such_job(db: Db) {
    let extra = "[ingest]\nheld_stop_timeout_secs = 1\nheld_stop_interval_secs = 1\n";
    let (app, _db) = app(db, extra).await;
    send(&app, &[stop_line(7, Some(1000), 1300, "completed")]).await;
    let rejected = wait_rejected(&app, 1).await;
    assert_eq!(rejected[0]["kind"], "no_such_job");
    assert!(rejected[0]["reason"]
        .as_str()
        .unwrap()
        .contains("no such job"));
    assert!(rejected[0]["raw"].as_str().unwrap().contains("stop_job"));
}

async fn stop_before_the_start_time_is_rejected(db: Db) {
    let (app, _db) = app(db, "").await;
    send(
        &app,
        &[
            start_line(&start_json(8, 1000)),
            stop_line(8, None, 999, "completed"),
        ],
    )
    .await;
    let rejected = wait_rejected(&app, 1).await;
    assert!(rejected[0]["reason"]
        .as_str()
        .unwrap()
        .contains("before the job's startTime"));
    assert_eq!(app.jobs("state=running").await.len(), 1);
}

async fn database_allows_one_running_instance_only(db: Db) {
    // Whatever a process believes, the database refuses a second running instance.
    let tdb = TestDb::new(db).await;
    let store = tdb.store().await;
    store.migrate().await.unwrap();
    let insert = "INSERT INTO job (job_id, cluster, start_time, user_name, shared, job_state, smt, \
        monitoring_status, num_nodes, resources, meta_data, footprint, energy_footprint, created_at, \
        updated_at) VALUES (9, 'c', $1, 'u', 'none', 'running', 1, 1, 1, '[]', '{}', '{}', '{}', 0, 0)";
    sqlx::query(insert)
        .bind(100i64)
        .execute(store.pool())
        .await
        .unwrap();
    let err = sqlx::query(insert)
        .bind(200i64)
        .execute(store.pool())
        .await
        .unwrap_err();
    assert!(
        err.as_database_error().unwrap().is_unique_violation(),
        "{err}"
    );
}
