//! Chaos: NATS restarted while events flow, and one node of a three-node JetStream
//! cluster killed in the middle of a burst. Publishers keep their side of the guarantee
//! (acknowledged JetStream publishes, retried); each case ends with exact counts.

use crate::faults::*;
use crate::helpers::*;
use crate::on_both_databases;
use std::time::{Duration, Instant};

on_both_databases!(
    nats_restarted_while_events_flow_loses_and_doubles_nothing,
    a_nats_cluster_node_killed_in_a_burst_loses_and_doubles_nothing,
);

async fn nats_restarted_while_events_flow_loses_and_doubles_nothing(db: Db) {
    let tdb = TestDb::new(db).await;
    let mut nats = PrivateNats::new();
    nats.start();
    let app = TestApp::spawn(Setup::new(&tdb, &nats.url())).await;
    let jobs = scale() * 4000;
    let publisher = burst(&app, jobs, (500, Duration::from_millis(100)), 300).await;
    for _ in 0..2 {
        nats.stop();
        let t0 = Instant::now();
        let (status, body) = app.get("/healthz").await;
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "healthz took {:?}",
            t0.elapsed()
        );
        // The client may not have noticed the loss within that instant; once it has,
        // healthz names NATS.
        if status == 503 {
            assert!(body["error"].as_str().unwrap().contains("nats"), "{body}");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        nats.start();
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let t0 = Instant::now();
    publisher.await.unwrap();
    wait_completed(&app, jobs, 120).await;
    figure(
        "NATS restarted twice while events flow",
        &format!("{db:?}: all jobs complete after the last publish"),
        format!("{:.1} s", t0.elapsed().as_secs_f64()),
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_exact(&tdb, jobs).await;
}

async fn a_nats_cluster_node_killed_in_a_burst_loses_and_doubles_nothing(db: Db) {
    let tdb = TestDb::new(db).await;
    let mut cluster = NatsCluster::start();
    let mut setup = Setup::new(&tdb, &cluster.url());
    setup.nats_extra = "stream_replicas = 3\n".into();
    // The cluster elects its JetStream leader first; jobledger retries until it has.
    let app = TestApp::spawn(setup).await;
    let jobs = scale() * 4000;
    let js = app.setup.jetstream().await;
    let stream = js.get_stream(&app.setup.stream).await.unwrap();
    assert_eq!(stream.cached_info().config.num_replicas, 3);
    let publisher = burst(&app, jobs, (500, Duration::from_millis(100)), 300).await;
    // Kill the node the stream's leader is on? Any node will do: every one holds a copy.
    cluster.nodes[0].stop();
    let killed_at = Instant::now();
    publisher.await.unwrap();
    wait_completed(&app, jobs, 120).await;
    figure(
        "3-node NATS cluster, one node killed",
        &format!("{db:?}: all jobs complete after the kill"),
        format!("{:.1} s", killed_at.elapsed().as_secs_f64()),
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_exact(&tdb, jobs).await;
}
