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
use jobledger::tsdb::codec;

on_both_databases!(old_chunks_go_except_on_the_nodes_of_unarchived_jobs);
on_both_databases!(a_read_takes_the_chunks_reaching_into_its_window_and_no_older_ones);

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
            let data = codec::encode(&[1.0, 2.0]);
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

on_both_databases!(a_day_of_chunks_is_compacted_into_one_block_and_late_samples_join_it);

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
        .map(|c| (c.start, codec::decode(&c.data).unwrap()))
        .collect()
}

/// host1's blocks: (start, member series ids, their grids).
async fn block_values(store: &jobledger::store::Store) -> Vec<(i64, Vec<i64>, Vec<Vec<f64>>)> {
    store
        .metric_blocks(
            "testcluster",
            &["host1".to_string()],
            &[],
            (0, 10 * 86_400),
            2 * 86_400,
        )
        .await
        .unwrap()
        .into_iter()
        .map(|(_, b)| {
            let ids = codec::decode_ids(&b.members).unwrap();
            let grids = codec::decode_block(&b.data, ids.len()).unwrap();
            (b.start, ids, grids)
        })
        .collect()
}

fn chunk(series_id: i64, start: i64, v: &[f64]) -> ChunkRow {
    ChunkRow {
        series_id,
        start,
        timestep: 60,
        data: codec::encode(v),
    }
}

async fn a_day_of_chunks_is_compacted_into_one_block_and_late_samples_join_it(db: Db) {
    let tdb = TestDb::new(db).await;
    let store = tdb.store().await;
    store.migrate().await.unwrap();
    let day = 3 * 86_400;
    let mut per_thread = key("host1");
    per_thread.metric = "cpu_user".into();
    per_thread.scope = Scope::Hwthread;
    let mut keys: Vec<SeriesKey> = (0..4)
        .map(|t| SeriesKey {
            scope_id: t.to_string(),
            ..per_thread.clone()
        })
        .collect();
    keys.push(key("host1"));
    let ids = store.metric_series_ids(&keys).await.unwrap();
    // Twelve 2-hour chunks of day 3 for each series, minute m holding m + 10,000 x series.
    let value = |s: usize, m: usize| (s * 10_000 + m) as f64;
    let mut rows = Vec::new();
    for (s, id) in ids.iter().enumerate() {
        for w in 0..12 {
            let v: Vec<f64> = (0..120).map(|m| value(s, w * 120 + m)).collect();
            rows.push(chunk(*id, day + w as i64 * 7200, &v));
        }
    }
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
        5,
        "every series went into a block"
    );
    assert!(chunk_values(&store).await.is_empty());
    let blocks = block_values(&store).await;
    assert_eq!(
        blocks.len(),
        2,
        "one per metric: cpu_user's four threads, cpu_load"
    );
    let mut want: Vec<Vec<f64>> = (0..5)
        .map(|s| (0..1440).map(|m| value(s, m)).collect())
        .collect();
    let check = |blocks: Vec<(i64, Vec<i64>, Vec<Vec<f64>>)>, want: &[Vec<f64>]| {
        for (start, members, grids) in blocks {
            assert_eq!(start, day);
            for (id, grid) in members.iter().zip(grids) {
                let s = ids.iter().position(|i| i == id).unwrap();
                assert_eq!(grid, want[s], "series {s}");
            }
        }
    };
    check(blocks, &want);
    // A late sample for minute 125 of thread 2 arrives as a chunk of its window; the next
    // pass (which looks at the last day again) folds it in.
    let mut late = vec![f64::NAN; 120];
    late[5] = -1.0;
    store
        .store_chunks(vec![chunk(ids[2], day + 7200, &late)], "s", 2, |_, _| None)
        .await
        .unwrap();
    assert_eq!(chunk_values(&store).await.len(), 1, "beside the block");
    assert_eq!(
        tsdb.compact_once(&store, day + 2 * 86_400 + 600)
            .await
            .unwrap(),
        4,
        "cpu_user's block again"
    );
    want[2][125] = -1.0;
    assert!(chunk_values(&store).await.is_empty());
    check(block_values(&store).await, &want);
    // Retention drops blocks as it drops chunks.
    assert_eq!(
        store
            .metric_retention(day + 10 * 86_400, 2 * 86_400)
            .await
            .unwrap(),
        2
    );
    assert!(block_values(&store).await.is_empty());
}

/// A read from `from` takes the chunk of the window before (it may reach in), a day chunk
/// of the compaction before blocks (midnight, a day and a window long), and nothing else
/// that started before `from`.
async fn a_read_takes_the_chunks_reaching_into_its_window_and_no_older_ones(db: Db) {
    let tdb = TestDb::new(db).await;
    let store = tdb.store().await;
    store.migrate().await.unwrap();
    let ids = store.metric_series_ids(&[key("host1")]).await.unwrap();
    let day = 20 * 86_400;
    let chunk = |start: i64, len: usize| ChunkRow {
        series_id: ids[0],
        start,
        timestep: 60,
        data: codec::encode(&vec![1.0; len]),
    };
    let rows = vec![
        chunk(day - 86_400, 1560),   // a day chunk of the old compaction
        chunk(day - 7_200, 120),     // wholly before the window
        chunk(day, 120),             // starts before `from`, reaches into it
        chunk(day + 7_200, 120),     // inside
        chunk(day + 4 * 7_200, 120), // after `to`
    ];
    store.store_chunks(rows, "s", 1, |_, _| None).await.unwrap();
    let from = day + 3_600;
    let starts: Vec<i64> = store
        .metric_chunks(
            "testcluster",
            &["host1".to_string()],
            &[],
            (from, day + 3 * 7_200),
            7_200,
        )
        .await
        .unwrap()
        .iter()
        .map(|c| c.start)
        .collect();
    assert_eq!(starts, vec![day - 86_400, day, day + 7_200]);
}
