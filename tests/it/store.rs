//! The store driven directly with batches, on real databases.

use crate::helpers::*;
use crate::on_both_databases;
use jobledger::decode::{decode_event, Decoded, Kind};
use jobledger::domain::cluster::Clusters;
use jobledger::domain::rules::{Origin, Outcome};
use jobledger::domain::{Event, RejectKind};
use jobledger::store::{Input, Store};
use tokio_util::sync::CancellationToken;

on_both_databases!(
    a_stop_and_a_requeue_in_one_batch_over_a_stored_instance_both_apply,
    every_nullable_column_takes_null_then_a_value_and_back,
    retention_forgets_old_history_and_old_archived_jobs_only,
    archiving_keeps_a_metadata_edit_made_while_it_worked,
);

fn origin(n: usize) -> Origin {
    Origin {
        subject: "test".into(),
        raw: format!("line {n}").into_bytes(),
        received_at: 1,
        source_key: Some(format!("test/{n}")),
    }
}

fn event(kind: Kind, json: serde_json::Value) -> Event {
    match decode_event(kind, &json.to_string(), &Clusters::default()) {
        Decoded::Event(e) => e,
        other => panic!("{other:?}"),
    }
}

fn start(id: i64, t: i64) -> Event {
    event(Kind::StartJob, crate::events::start_json(id, t))
}

fn stop(id: i64, t: i64) -> Event {
    event(
        Kind::StopJob,
        crate::events::stop_json(id, None, t, "completed"),
    )
}

async fn migrated(db: Db) -> (TestDb, Store) {
    let tdb = TestDb::new(db).await;
    let store = tdb.store().await;
    store.migrate().await.unwrap();
    (tdb, store)
}

async fn a_stop_and_a_requeue_in_one_batch_over_a_stored_instance_both_apply(db: Db) {
    let (_tdb, store) = migrated(db).await;
    store
        .apply(&[Input::Event(start(1, 1000), origin(0))], true)
        .await
        .unwrap();
    let batch = [
        Input::Event(stop(1, 1100), origin(1)),
        Input::Event(start(1, 1100), origin(2)),
    ];
    let applied = store.apply(&batch, true).await.unwrap();
    assert!(
        matches!(applied.outcomes[0], Outcome::Stopped(_)),
        "{:?}",
        applied.outcomes
    );
    assert!(
        matches!(applied.outcomes[1], Outcome::Created(_)),
        "{:?}",
        applied.outcomes
    );
}

#[tokio::test]
async fn a_batch_postgres_refuses_is_split_and_only_the_offending_event_is_rejected() {
    let (_tdb, store) = migrated(Db::Postgres).await;
    // Postgres cannot store NUL in text. The decoder refuses it, so build the event by hand
    // to stand for any value a database might refuse.
    let Event::Start(mut poison) = start(2, 1000) else {
        unreachable!()
    };
    poison.user = "bad\0user".into();
    let batch = [
        Input::Event(start(1, 1000), origin(0)),
        Input::Event(Event::Start(poison), origin(1)),
        Input::Event(start(3, 1000), origin(2)),
    ];
    let applied = store
        .apply_durably(&batch, &CancellationToken::new())
        .await
        .unwrap();
    assert!(matches!(applied.outcomes[0], Outcome::Created(_)));
    match &applied.outcomes[1] {
        Outcome::Rejected(RejectKind::Invalid, why) => {
            assert!(why.contains("the database refused the event"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(applied.outcomes[2], Outcome::Created(_)));
    let (rejected, total) = store.list_rejected(1, 10).await.unwrap();
    assert_eq!((total, rejected[0].raw.as_str()), (1, "line 1"));
}

#[tokio::test]
async fn a_redelivered_rejection_is_stored_once() {
    let (_tdb, store) = migrated(Db::Sqlite).await;
    let bad = Input::Invalid(RejectKind::Decode, "nope".into(), origin(7));
    store.apply(std::slice::from_ref(&bad), true).await.unwrap();
    store.apply(&[bad], true).await.unwrap();
    assert_eq!(store.list_rejected(1, 10).await.unwrap().1, 1);
}

async fn retention_forgets_old_history_and_old_archived_jobs_only(db: Db) {
    use jobledger::archive::retention::{try_once, Forgotten};
    let (_tdb, store) = migrated(db).await;
    let now = chrono::Utc::now().timestamp();
    let mut tagged = crate::events::start_json(1, 1000);
    tagged["tags"] = serde_json::json!([{"type": "t", "name": "n"}]);
    let inputs = [
        Input::Event(event(Kind::StartJob, tagged), origin(0)),
        Input::Event(stop(1, 2000), origin(1)),
        Input::Event(start(2, 1000), origin(2)),
        Input::Event(stop(2, 2000), origin(3)),
        Input::Event(start(3, now - 100), origin(4)),
        Input::Event(stop(3, now - 50), origin(5)),
    ];
    store.apply(&inputs, true).await.unwrap();
    // Jobs 1 (stopped long ago) and 3 (stopped just now) are archived; 2 is not.
    sqlx::query("UPDATE job SET monitoring_status = 3 WHERE job_id IN (1, 3)")
        .execute(store.pool())
        .await
        .unwrap();
    for t in [1000, now] {
        sqlx::query("INSERT INTO node_state_history (cluster, hostname, node_state, flags, time) VALUES ('c', 'n1', 'idle', '', $1)")
            .bind(t)
            .execute(store.pool())
            .await
            .unwrap();
    }
    let off = jobledger::config::Config::from_toml("", "test")
        .unwrap()
        .retention;
    assert_eq!(
        try_once(&store, &off, now).await.unwrap(),
        Forgotten::default()
    );
    let cfg = jobledger::config::Config::from_toml(
        "[retention]\nnode_history_days = 1\narchived_jobs_days = 1\n",
        "test",
    )
    .unwrap()
    .retention;
    let forgot = try_once(&store, &cfg, now).await.unwrap();
    assert_eq!(
        forgot,
        Forgotten {
            history_rows: 1,
            jobs: 1
        }
    );
    let left: Vec<i64> = sqlx::query_scalar("SELECT job_id FROM job ORDER BY job_id")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(left, [2, 3]);
    let tags: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM job_tag")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(tags, 0, "the forgotten job's tags went with it");
    assert_eq!(store.node_history_len("c", "n1").await.unwrap(), 1);
}

/// A start with every optional field absent (`full` false) or present (true).
fn start_with_optionals(id: i64, full: bool) -> Event {
    let mut v = crate::events::start_json(id, 1000 + id);
    if full {
        let extra = serde_json::json!({
            "energy": 1.5 + id as f64, "arrayJobId": 7, "walltime": 3600,
            "requestedMemory": 1024, "submitTime": 900, "numHwthreads": 4, "numAcc": 1,
            "subCluster": "main", "metaData": {"jobName": "x"},
            "footprint": {"flops_any_avg": 1.25}, "energyFootprint": {"power": 2.5},
            "tags": [{"type": "t", "name": "n"}], "smt": 1, "exclusive": 1,
        });
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
    }
    event(Kind::StartJob, v)
}

/// An early stop (held), with or without its optional cluster and startTime.
fn held_stop(id: i64, full: bool) -> Event {
    let mut v = crate::events::stop_json(id, full.then_some(1000 + id), 2000 + id, "failed");
    if !full {
        v.as_object_mut().unwrap().remove("cluster");
    }
    event(Kind::StopJob, v)
}

/// Postgres types a cached statement's parameters at its first execution: a NULL bound
/// with another type than the values that follow made them unstorable (issue 10: a start
/// carrying `energy` after a dozen without). Each order, one event per batch, so every
/// statement is the cached one; both orders, each on a fresh pool.
async fn every_nullable_column_takes_null_then_a_value_and_back(db: Db) {
    let (tdb, _) = migrated(db).await;
    let mut id = 0;
    for null_first in [true, false] {
        let store = tdb.store().await;
        for round in 0..14 {
            id += 1;
            let full = (round >= 12) == null_first;
            let start = Input::Event(start_with_optionals(id, full), origin(id as usize));
            let applied = store.apply_or_reject(&[start], true).await.unwrap();
            assert!(
                matches!(applied.outcomes[0], Outcome::Created(_)),
                "start {id} (optional fields present: {full}): {:?}",
                applied.outcomes
            );
            let job = store.job_by_id(*applied.ids.values().next().unwrap()).await;
            let job = job.unwrap().unwrap();
            assert_eq!(job.energy, full.then_some(1.5 + id as f64), "job {id}");
            assert_eq!(job.walltime, full.then_some(3600), "job {id}");
            assert_eq!(job.num_acc, full.then_some(1), "job {id}");
            let stop = Input::Event(held_stop(1000 + id, full), origin(1000 + id as usize));
            let applied = store.apply_or_reject(&[stop], true).await.unwrap();
            assert!(
                matches!(applied.outcomes[0], Outcome::Held),
                "{:?}",
                applied.outcomes
            );
            let mut bad = origin(2000 + id as usize);
            if !full {
                bad.source_key = None;
            }
            let reject = Input::Invalid(RejectKind::Decode, "nope".into(), bad);
            store.apply_or_reject(&[reject], true).await.unwrap();
        }
    }
    let store = tdb.store().await;
    assert_eq!(store.list_rejected(1, 100).await.unwrap().1, 28);
}

/// The archiver records what it computed as a patch of the metadata: an admin's edit made
/// between its claim and its record stays, and the archiver's own keys are set or removed.
async fn archiving_keeps_a_metadata_edit_made_while_it_worked(db: Db) {
    use jobledger::store::archive::Archived;
    use serde_json::json;
    let (_tdb, store) = migrated(db).await;
    let mut started = crate::events::start_json(1, 1000);
    started["metaData"] = json!({"jobScript": "#!/bin/sh", "metricData": "none: an old note"});
    let inputs = [
        Input::Event(event(Kind::StartJob, started), origin(0)),
        Input::Event(stop(1, 1100), origin(1)),
    ];
    store.apply(&inputs, true).await.unwrap();
    let now = chrono::Utc::now().timestamp();
    let claimed = store
        .archive_claim("test/1", now, now, now + 600, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let id = claimed[0].id;
    store
        .set_meta(id, "comment", Some("rerun with more memory"))
        .await
        .unwrap();
    let done = Archived {
        meta_patch: Some(json!({"metricData": null, "message": "low load"}).to_string()),
        ..Archived::location(id, "testcluster/0/001/1000".into())
    };
    assert_eq!(
        store.archive_done("test/1", &[done], now).await.unwrap(),
        vec![id]
    );
    let job = store.job_by_id(id).await.unwrap().unwrap();
    assert_eq!(
        job.meta_data,
        Some(
            json!({"jobScript": "#!/bin/sh", "comment": "rerun with more memory", "message": "low load"})
        )
    );
    assert_eq!(job.monitoring_status, 3);
}
