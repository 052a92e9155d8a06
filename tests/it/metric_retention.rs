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

on_both_databases!(a_day_of_chunks_is_compacted_into_one_and_late_samples_join_it);

async fn chunk_values(store: &jobledger::store::Store) -> Vec<(i64, Vec<f64>)> {
    store
        .metric_chunks(
            "testcluster",
            &["host1".to_string()],
            &[],
            (0, 10 * 86_400),
            2 * 86_400,
        )
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.start, jobledger::tsdb::codec::decode(&c.data).unwrap()))
        .collect()
}

async fn a_day_of_chunks_is_compacted_into_one_and_late_samples_join_it(db: Db) {
    let tdb = TestDb::new(db).await;
    let store = tdb.store().await;
    store.migrate().await.unwrap();
    let day = 3 * 86_400;
    let id = store.metric_series_ids(&[key("host1")]).await.unwrap()[0];
    // Twelve 2-hour chunks of day 3, minute m holding m.
    let rows = (0..12)
        .map(|w| {
            let v: Vec<f64> = (0..120).map(|m| f64::from(w * 120 + m)).collect();
            let data = jobledger::tsdb::codec::encode(&v);
            ChunkRow {
                series_id: id,
                start: day + i64::from(w) * 7200,
                timestep: 60,
                data,
            }
        })
        .collect();
    store.store_chunks(rows, "s", 1, |_, _| None).await.unwrap();
    let config = jobledger::config::Config::from_toml(
        "[metrics]\nstream = \"s\"\nretention_hours = 10000",
        "t",
    )
    .unwrap();
    let tsdb = jobledger::tsdb::Tsdb::new(
        config.metrics,
        Clusters::default(),
        std::sync::Arc::new(jobledger::metrics::Metrics::new()),
    );
    // Not before the day is over.
    assert_eq!(tsdb.compact_once(&store, day + 86_400).await.unwrap(), 0);
    assert_eq!(
        tsdb.compact_once(&store, day + 2 * 86_400).await.unwrap(),
        1
    );
    let chunks = chunk_values(&store).await;
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].0, day);
    let want: Vec<f64> = (0..1440).map(f64::from).collect();
    assert_eq!(chunks[0].1, want);
    // A late sample for minute 125 arrives as a chunk of its window; the next pass
    // (which looks at the last day again) folds it in.
    let mut late = vec![f64::NAN; 120];
    late[5] = -1.0;
    let row = ChunkRow {
        series_id: id,
        start: day + 7200,
        timestep: 60,
        data: jobledger::tsdb::codec::encode(&late),
    };
    store
        .store_chunks(vec![row], "s", 2, |_, _| None)
        .await
        .unwrap();
    assert_eq!(
        tsdb.compact_once(&store, day + 2 * 86_400 + 600)
            .await
            .unwrap(),
        1
    );
    let chunks = chunk_values(&store).await;
    assert_eq!(chunks.len(), 1);
    let mut want = want;
    want[125] = -1.0;
    assert_eq!(chunks[0].1, want);
    // A chunk committed at the day's start merges into the compacted one.
    let mut first = vec![f64::NAN; 120];
    first[0] = 42.0;
    let row = ChunkRow {
        series_id: id,
        start: day,
        timestep: 60,
        data: jobledger::tsdb::codec::encode(&first),
    };
    store
        .store_chunks(vec![row], "s", 3, |old, new| {
            let (old, new) = (
                jobledger::tsdb::codec::decode(old).unwrap(),
                jobledger::tsdb::codec::decode(new).unwrap(),
            );
            jobledger::tsdb::codec::merge(&old, &new).map(|v| jobledger::tsdb::codec::encode(&v))
        })
        .await
        .unwrap();
    want[0] = 42.0;
    assert_eq!(chunk_values(&store).await[0].1, want);
}
