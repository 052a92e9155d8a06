//! Chaos: the database goes away under load. Postgres sessions are terminated and the
//! server is restarted (a private cluster on a free port); a SQLite file is locked by
//! another program. A database outage is never a reason to reject an event.

use crate::events::*;
use crate::faults::*;
use crate::helpers::*;
use crate::on_both_databases;
use std::time::{Duration, Instant};

on_both_databases!(a_start_with_energy_after_a_dozen_without_is_stored_over_nats_and_http,);

/// Issue 10's first reproduction: Postgres typed the cached insert's `energy` parameter
/// by the NULLs of the first starts, then refused the one that carried a value.
async fn a_start_with_energy_after_a_dozen_without_is_stored_over_nats_and_http(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    let js = app.setup.jetstream().await;
    for id in 1..=12 {
        publish(
            &js,
            &app.setup.job_subject,
            &[start_line(&start_json(id, 1000))],
        )
        .await;
        eventually(20, "the start applied", || async {
            app.jobs("").await.len() == id as usize
        })
        .await;
    }
    let mut with_energy = start_json(13, 1000);
    with_energy["energy"] = serde_json::json!(1.5);
    publish(&js, &app.setup.job_subject, &[start_line(&with_energy)]).await;
    for id in 14..=25 {
        let (status, body) = app
            .post("/api/jobs/start_job/", &start_json(id, 1000).to_string())
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let mut with_energy = start_json(26, 1000);
    with_energy["energy"] = serde_json::json!(2.5);
    let (status, body) = app
        .post("/api/jobs/start_job/", &with_energy.to_string())
        .await;
    assert_eq!(status, 201, "{body}");
    eventually(20, "26 jobs", || async { app.jobs("").await.len() == 26 }).await;
    let energies: Vec<f64> = app
        .jobs("")
        .await
        .iter()
        .filter_map(|j| j["energy"].as_f64())
        .collect();
    assert_eq!(energies.len(), 2, "{energies:?}");
    assert!(
        app.rejected().await.is_empty(),
        "{:?}",
        app.rejected().await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sessions_terminated_and_server_restarted_under_load_lose_nothing() {
    ensure_shared_nats();
    let pg = PrivatePostgres::start();
    let tdb = pg.database().await;
    let app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    let jobs = scale() * 6000;
    let publisher = burst(&app, jobs, (500, Duration::from_millis(100)), 300).await;
    let mut terminated = 0;
    for _ in 0..5 {
        terminated += pg.terminate_sessions().await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert!(terminated > 0, "no session was terminated");
    pg.stop();
    let t0 = Instant::now();
    let (status, body) = app.get("/healthz").await;
    let answered = t0.elapsed();
    assert!(
        answered < Duration::from_secs(1),
        "healthz took {answered:?}"
    );
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("database"),
        "{body}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    pg.restart();
    let back = Instant::now();
    publisher.await.unwrap();
    wait_completed(&app, jobs, 120).await;
    figure(
        "Postgres: 5 session terminations, then a restart",
        "all jobs complete after Postgres is back",
        format!("{:.1} s", back.elapsed().as_secs_f64()),
    );
    figure(
        "Postgres down",
        "/healthz answered in",
        format!("{answered:?}"),
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_exact(&tdb, jobs).await;
    assert!(app.log().contains("database unavailable"), "{}", app.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_locked_by_another_program_under_load_loses_nothing() {
    use sqlx::Connection;
    ensure_shared_nats();
    let tdb = TestDb::new(Db::Sqlite).await;
    let app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    let jobs = scale() * 4000;
    let publisher = burst(&app, jobs, (500, Duration::from_millis(100)), 300).await;
    let mut other = sqlx::SqliteConnection::connect(&tdb.url).await.unwrap();
    // Each lock outlasts two ack_waits (3 s in tests): the batch waiting for it keeps its
    // messages with in-progress acknowledgements instead of having them redelivered.
    for _ in 0..2 {
        sqlx::query("BEGIN EXCLUSIVE")
            .execute(&mut other)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(7)).await;
        sqlx::query("COMMIT").execute(&mut other).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    publisher.await.unwrap();
    wait_completed(&app, jobs, 120).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_exact(&tdb, jobs).await;
    let received = app.metric("jobledger_messages_received_total").await;
    assert_eq!(received, 2.0 * jobs as f64, "slow batches were redelivered");
}
