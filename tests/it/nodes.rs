//! Node states: current state per node, history only on change.

use crate::events::escape;
use crate::helpers::*;
use crate::on_both_databases;
use serde_json::json;

on_both_databases!(unchanged_node_reports_update_the_node_but_add_no_history);

fn report(states: &[(&str, &[&str], i64)]) -> String {
    let nodes: Vec<_> = states
        .iter()
        .map(|(h, s, cpus)| {
            json!({"hostname": h, "states": s, "cpusAllocated": cpus,
                                   "memoryAllocated": 0, "gpusAllocated": 0, "jobsRunning": 0})
        })
        .collect();
    let ev = json!({"cluster": "testcluster", "nodes": nodes});
    format!("nodestate event=\"{}\" 1", escape(&ev.to_string()))
}

async fn unchanged_node_reports_update_the_node_but_add_no_history(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    let js = app.setup.jetstream().await;
    let subject = app.setup.node_subject.clone();
    let send = |line: String| {
        let js = js.clone();
        let subject = subject.clone();
        async move { crate::events::publish(&js, &subject, &[line]).await }
    };
    send(report(&[
        ("n1", &["ALLOCATED"], 8),
        ("n2", &["IDLE"], 0),
        ("n3", &["IDLE", "DOWN"], 0),
    ]))
    .await;
    eventually(20, "3 nodes", || async {
        app.get("/api/nodes/").await.1["items"] == 3
    })
    .await;
    // The same states a minute later, other counters.
    for cpus in [4, 2, 6] {
        send(report(&[
            ("n1", &["allocated"], cpus),
            ("n2", &["idle"], 0),
            ("n3", &["down", "idle"], 0),
        ]))
        .await;
    }
    eventually(20, "counters updated", || async {
        app.get("/api/nodes/?state=allocated").await.1["nodes"][0]["cpusAllocated"] == 6
    })
    .await;
    let store = tdb.store().await;
    assert_eq!(
        store.node_history_len("testcluster", "n1").await.unwrap(),
        1
    );
    // A drained idle node is a change, and visible as drained.
    send(report(&[("n2", &["IDLE", "DRAIN"], 0)])).await;
    eventually(20, "n2 drained", || async {
        let (_, b) = app.get("/api/nodes/?state=idle").await;
        b["nodes"][0]["flags"] == json!(["drain", "idle"])
    })
    .await;
    assert_eq!(
        store.node_history_len("testcluster", "n2").await.unwrap(),
        2
    );
    let (_, down) = app.get("/api/nodes/?state=down").await;
    assert_eq!(down["nodes"][0]["hostname"], "n3");

    // The REST route takes the same payload.
    let body = json!({"cluster": "other", "nodes": [{"hostname": "x1", "states": ["mixed"]}]});
    let (status, _) = app.post("/api/nodestate/", &body.to_string()).await;
    assert_eq!(status, 200);
    let (_, other) = app.get("/api/nodes/?cluster=other").await;
    assert_eq!(other["nodes"][0]["nodeState"], "mixed");
}
