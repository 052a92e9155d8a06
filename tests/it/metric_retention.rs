//! Metric retention on real databases: old chunks go, except on the nodes of jobs that
//! run or wait for the archive, from their start on.

use crate::helpers::*;
use crate::on_both_databases;
use jobledger::decode::{decode_event, Decoded, Kind};
use jobledger::domain::cluster::Clusters;
use jobledger::domain::metric::{Scope, SeriesKey};
use jobledger::domain::rules::Origin;
use jobledger::store::series::ChunkRow;
use jobledger::store::Input;

on_both_databases!(old_chunks_go_except_on_the_nodes_of_unarchived_jobs);

fn input(kind: Kind, json: serde_json::Value, n: usize) -> Input {
    let Decoded::Event(e) = decode_event(kind, &json.to_string(), &Clusters::default()) else {
        panic!("not an event: {json}");
    };
    let origin = Origin {
        subject: "test".into(),
        raw: format!("line {n}").into_bytes(),
        received_at: 1,
        source_key: Some(format!("test/{n}")),
    };
    Input::Event(e, origin)
}

fn key(host: &str) -> SeriesKey {
    SeriesKey {
        cluster: "testcluster".into(),
        host: host.into(),
        metric: "cpu_load".into(),
        scope: Scope::Node,
        scope_id: String::new(),
        stype: String::new(),
        stype_id: String::new(),
    }
}

async fn old_chunks_go_except_on_the_nodes_of_unarchived_jobs(db: Db) {
    let tdb = TestDb::new(db).await;
    let store = tdb.store().await;
    store.migrate().await.unwrap();
    let span = 7200;
    let ids = store
        .metric_series_ids(&[key("host1"), key("host2")])
        .await
        .unwrap();
    let mut rows = Vec::new();
    for id in &ids {
        for start in [-10_000, 0, 10_000] {
            let data = jobledger::tsdb::codec::encode(&[1.0, 2.0]);
            rows.push(ChunkRow {
                series_id: *id,
                start,
                timestep: 60,
                data,
            });
        }
    }
    store.store_chunks(rows, "s", 1, |_, _| None).await.unwrap();
    // A job on host1 since t = 5000, running.
    store
        .apply(
            &[input(Kind::StartJob, crate::events::start_json(1, 5000), 0)],
            true,
        )
        .await
        .unwrap();
    let held = |host: &'static str| {
        let store = store.clone();
        async move {
            let c = store
                .metric_chunks(
                    "testcluster",
                    &[host.to_string()],
                    &[],
                    (-100_000, 100_000),
                    span,
                )
                .await
                .unwrap();
            c.iter().map(|c| c.start).collect::<Vec<_>>()
        }
    };
    let dropped = store.metric_retention(100_000, span).await.unwrap();
    assert_eq!(
        dropped, 4,
        "host2's three chunks and host1's chunk that ended before the job"
    );
    assert_eq!(held("host1").await, vec![0, 10_000]);
    assert!(held("host2").await.is_empty());
    // Stopped but not archived yet: still kept.
    let stop = crate::events::stop_json(1, None, 20_000, "completed");
    store
        .apply(&[input(Kind::StopJob, stop, 1)], true)
        .await
        .unwrap();
    assert_eq!(store.metric_retention(100_000, span).await.unwrap(), 0);
    // Archived: its node's old chunks go too.
    sqlx::query("UPDATE job SET monitoring_status = 3")
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(store.metric_retention(100_000, span).await.unwrap(), 2);
    assert!(held("host1").await.is_empty());
}
