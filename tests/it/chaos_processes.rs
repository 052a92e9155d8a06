//! Chaos: jobledger processes SIGKILLed while they share one consumer and one database,
//! and killed again and again while they drain a backlog. Each case ends with exact counts.

use crate::faults::*;
use crate::helpers::*;
use crate::on_both_databases;
use std::time::{Duration, Instant};

on_both_databases!(
    three_processes_sharing_a_consumer_two_sigkilled_in_a_burst_lose_and_double_nothing,
    sigkill_again_and_again_while_draining_a_backlog_loses_and_doubles_nothing,
);

async fn three_processes_sharing_a_consumer_two_sigkilled_in_a_burst_lose_and_double_nothing(
    db: Db,
) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let mut setup = Setup::new(&tdb, SHARED_NATS);
    setup.extra = "[ingest]\nbatch_size = 300\nheld_stop_interval_secs = 1\n".into();
    let mut a = TestApp::spawn(setup.clone()).await;
    let mut b = TestApp::spawn(setup.clone()).await;
    let c = TestApp::spawn(setup).await;
    let jobs = scale() * 6000;
    let publisher = burst(&c, jobs, (1000, Duration::from_millis(50)), 600).await;
    a.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.kill();
    let killed_at = Instant::now();
    let at_kill = ledger(&tdb).await.jobs;
    publisher.await.unwrap();
    assert!(at_kill < jobs, "both kills came after the burst: {at_kill}");
    wait_completed(&c, jobs, 120).await;
    figure(
        "3 processes, 2 SIGKILLed",
        &format!("{db:?}: all jobs complete after the kills"),
        format!("{:.1} s", killed_at.elapsed().as_secs_f64()),
    );
    // Messages the killed processes held come back after ack_wait (3 s here): let every
    // redelivery arrive, then count.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_exact(&tdb, jobs).await;
    assert!(c.metric("jobledger_messages_received_total").await > 0.0);
}

async fn sigkill_again_and_again_while_draining_a_backlog_loses_and_doubles_nothing(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let mut setup = Setup::new(&tdb, SHARED_NATS);
    setup.extra = "[ingest]\nbatch_size = 500\n".into();
    let mut app = TestApp::spawn(setup).await;
    app.terminate();
    let jobs = scale() * 8000;
    publish_until_acked(&app.setup, "backlog", &job_pairs(1, jobs)).await;
    let t0 = Instant::now();
    let mut committed = Vec::new();
    for round in 0..5u64 {
        app.restart().await;
        // Kill at a different moment of each round, while the backlog drains.
        tokio::time::sleep(Duration::from_millis(200 + 150 * round)).await;
        app.kill();
        committed.push(ledger(&tdb).await.jobs);
    }
    app.restart().await;
    wait_completed(&app, jobs, 180).await;
    figure(
        &format!("SIGKILL x5 during a drain of {} events", 2 * jobs),
        &format!("{db:?}: drained after the first start"),
        format!("{:.1} s", t0.elapsed().as_secs_f64()),
    );
    assert!(
        committed.iter().any(|n| *n < jobs),
        "every kill came after the drain: {committed:?}"
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_exact(&tdb, jobs).await;
}
