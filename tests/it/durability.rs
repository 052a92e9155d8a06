//! Nothing published is lost and nothing is counted twice: restarts, SIGKILL, NATS
//! outages, and several processes sharing one consumer and one database.

use crate::events::*;
use crate::helpers::*;
use crate::on_both_databases;
use std::time::Duration;

on_both_databases!(
    events_published_while_jobledger_is_down_are_applied_when_it_starts,
    sigkill_in_the_middle_of_a_burst_loses_nothing_and_counts_nothing_twice,
    sigterm_commits_the_batch_in_hand_and_exits_cleanly,
    two_processes_sharing_a_consumer_and_a_database_create_each_job_once,
);

fn pairs(first: i64, n: i64) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(2 * n as usize);
    for id in first..first + n {
        out.push(start_line(&start_json(id, 1000)).into_bytes());
        out.push(stop_line(id, Some(1000), 1060, "completed").into_bytes());
    }
    out
}

/// (jobs, distinct (cluster, jobId), running, rejected), read from the database itself.
async fn ledger_counts(db: &TestDb) -> (i64, i64, i64, i64) {
    let store = db.store().await;
    let row: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM job), \
         (SELECT COUNT(*) FROM (SELECT DISTINCT cluster, job_id FROM job) d), \
         (SELECT COUNT(*) FROM job WHERE job_state = 'running'), \
         (SELECT COUNT(*) FROM rejected_event)",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    store.close().await;
    row
}

async fn wait_all_completed(app: &TestApp, n: usize, secs: u64) {
    eventually(secs, &format!("{n} completed jobs"), || async {
        let (_, body) = app.get("/api/jobs/?state=completed&items-per-page=1").await;
        body["total"].as_u64() == Some(n as u64)
    })
    .await;
}

async fn events_published_while_jobledger_is_down_are_applied_when_it_starts(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let mut app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    app.terminate();
    let js = app.setup.jetstream().await;
    publish_all(&js, &app.setup.job_subject, pairs(1, 500)).await;
    app.restart().await;
    wait_all_completed(&app, 500, 60).await;
    assert_eq!(ledger_counts(&tdb).await, (500, 500, 0, 0));
}

async fn sigkill_in_the_middle_of_a_burst_loses_nothing_and_counts_nothing_twice(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let mut app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    const JOBS: i64 = 10_000; // 20,000 events
    let js = app.setup.jetstream().await;
    let subject = app.setup.job_subject.clone();
    // Publish in slices so the burst is still arriving when the process dies.
    let publisher = tokio::spawn(async move {
        for slice in pairs(1, JOBS).chunks(1000) {
            publish_all(&js, &subject, slice.to_vec()).await;
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    });
    eventually(60, "a first part of the burst committed", || async {
        let (_, body) = app.get("/api/jobs/?items-per-page=1").await;
        body["total"].as_i64().unwrap_or(0) >= 500
    })
    .await;
    app.kill();
    let at_kill = ledger_counts(&tdb).await.0;
    publisher.await.unwrap();
    assert!(
        at_kill > 0 && at_kill < JOBS,
        "killed mid-burst: {at_kill} jobs committed"
    );
    app.restart().await;
    wait_all_completed(&app, JOBS as usize, 120).await;
    // Redeliveries of what was applied but not acknowledged arrive too; let them settle.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(ledger_counts(&tdb).await, (JOBS, JOBS, 0, 0));
}

async fn sigterm_commits_the_batch_in_hand_and_exits_cleanly(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let mut app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    let js = app.setup.jetstream().await;
    publish_all(&js, &app.setup.job_subject, pairs(1, 3000)).await;
    eventually(60, "ingest under way", || async {
        app.metric("jobledger_batches_total").await >= 1.0
    })
    .await;
    app.terminate();
    assert!(app.log().contains("jobledger stopped"), "{}", app.log());
    app.restart().await;
    wait_all_completed(&app, 3000, 60).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(ledger_counts(&tdb).await, (3000, 3000, 0, 0));
}

async fn two_processes_sharing_a_consumer_and_a_database_create_each_job_once(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let mut setup = Setup::new(&tdb, SHARED_NATS);
    setup.extra = "[ingest]\nbatch_size = 200\nheld_stop_interval_secs = 1\n".into();
    let a = TestApp::spawn(setup.clone()).await;
    let b = TestApp::spawn(setup).await;
    let js = a.setup.jetstream().await;
    // Every start arrives three times (a 3-node prolog), so both processes see copies.
    let mut payloads = Vec::new();
    for id in 1..=2000 {
        let start = start_line(&start_json(id, 1000)).into_bytes();
        payloads.extend([start.clone(), start.clone(), start]);
        payloads.push(stop_line(id, None, 1060, "completed").into_bytes());
    }
    publish_all(&js, &a.setup.job_subject, payloads).await;
    wait_all_completed(&a, 2000, 120).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(ledger_counts(&tdb).await, (2000, 2000, 0, 0));
    let handled_by_b = b.metric("jobledger_messages_received_total").await;
    assert!(handled_by_b > 0.0, "the second process took part");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_down_at_start_or_later_is_reported_and_caught_up() {
    let tdb = TestDb::new(Db::Sqlite).await;
    let mut nats = PrivateNats::new();
    let app = TestApp::spawn_without_nats(Setup::new(&tdb, &nats.url())).await;
    let (status, body) = app.get("/healthz").await;
    assert_eq!(status, 503);
    assert!(body["error"].as_str().unwrap().contains("nats"), "{body}");
    assert_eq!(body["database"], "ok");

    nats.start();
    eventually(30, "healthy once NATS is up", || async {
        app.get("/healthz").await.0 == 200
    })
    .await;
    let js = app.setup.jetstream().await;
    publish(
        &js,
        &app.setup.job_subject,
        &[start_line(&start_json(1, 1000))],
    )
    .await;
    eventually(20, "job 1", || async { app.jobs("").await.len() == 1 }).await;

    nats.stop();
    eventually(30, "unhealthy while NATS is down", || async {
        app.get("/healthz").await.0 == 503
    })
    .await;
    nats.start();
    eventually(60, "healthy again", || async {
        app.get("/healthz").await.0 == 200
    })
    .await;
    let js = app.setup.jetstream().await;
    publish(
        &js,
        &app.setup.job_subject,
        &[stop_line(1, None, 1100, "completed")],
    )
    .await;
    eventually(30, "job 1 stopped", || async {
        app.jobs("state=completed").await.len() == 1
    })
    .await;
    assert!(app.log().contains("NATS disconnected"), "{}", app.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_nats_down_still_exits_promptly() {
    let tdb = TestDb::new(Db::Sqlite).await;
    let nats = PrivateNats::new(); // never started
    let mut app = TestApp::spawn_without_nats(Setup::new(&tdb, &nats.url())).await;
    let t0 = std::time::Instant::now();
    app.terminate();
    assert!(
        t0.elapsed() < Duration::from_secs(15),
        "shutdown took {:?}: it waited for NATS",
        t0.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_credentials_from_the_config_are_used_and_wrong_ones_are_reported() {
    let tdb = TestDb::new(Db::Sqlite).await;
    let mut nats = PrivateNats::new();
    nats.args = ["--user", "ledger", "--pass", "s3cret"]
        .map(String::from)
        .to_vec();
    nats.start();
    let mut setup = Setup::new(&tdb, &nats.url());
    setup.nats_extra = "user = \"ledger\"\npassword = \"s3cret\"\n".into();
    let app = TestApp::spawn(setup).await;
    eventually(30, "healthy with credentials", || async {
        app.get("/healthz").await.0 == 200
    })
    .await;
    let client =
        async_nats::ConnectOptions::with_user_and_password("ledger".into(), "s3cret".into())
            .connect(nats.url())
            .await
            .unwrap();
    let js = async_nats::jetstream::new(client);
    publish(
        &js,
        &app.setup.job_subject,
        &[start_line(&start_json(1, 1000))],
    )
    .await;
    eventually(20, "job 1", || async { app.jobs("").await.len() == 1 }).await;

    let mut wrong = Setup::new(&tdb, &nats.url());
    wrong.nats_extra = "user = \"ledger\"\npassword = \"wrong\"\n".into();
    let bad = TestApp::spawn_without_nats(wrong).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, body) = bad.get("/healthz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"].as_str().unwrap().contains("nats"), "{body}");
    assert!(
        bad.log().to_lowercase().contains("authorization"),
        "{}",
        bad.log()
    );
}
