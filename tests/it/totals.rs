//! The unfiltered job list's total is kept by triggers, not counted: it must stay exact
//! under writers on several connections at once, duplicates and deletes.

use crate::helpers::*;
use crate::on_both_databases;
use jobledger::decode::{decode_event, Decoded, Kind};
use jobledger::domain::cluster::Clusters;
use jobledger::domain::rules::Origin;
use jobledger::store::query::JobQuery;
use jobledger::store::{Input, Store};

on_both_databases!(the_total_of_all_jobs_stays_exact_under_concurrent_writers_and_deletes,);

fn input(kind: Kind, json: serde_json::Value, key: String) -> Input {
    let Decoded::Event(e) = decode_event(kind, &json.to_string(), &Clusters::default()) else {
        panic!("{json}");
    };
    let origin = Origin {
        subject: "test".into(),
        raw: key.clone().into_bytes(),
        received_at: 1,
        source_key: Some(key),
    };
    Input::Event(e, origin)
}

/// Writer `w`'s batch `b`: 50 starts and the stops of half of them.
fn batch(w: i64, b: i64) -> Vec<Input> {
    let ids = (1..=50).map(|i| w * 100_000 + b * 100 + i);
    let mut out: Vec<Input> = ids
        .clone()
        .map(|id| {
            let s = crate::events::start_json(id, 1000 + id % 997);
            input(Kind::StartJob, s, format!("s{id}"))
        })
        .collect();
    out.extend(ids.filter(|id| id % 2 == 0).map(|id| {
        let s = crate::events::stop_json(id, Some(1000 + id % 997), 5000, "completed");
        input(Kind::StopJob, s, format!("t{id}"))
    }));
    out
}

async fn totals(store: &Store) -> (i64, i64, i64) {
    let counted: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM job")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let q = JobQuery {
        page: 1,
        per_page: 1,
        ..JobQuery::default()
    };
    let (_, listed) = store.list_jobs(&q).await.unwrap();
    (counted, store.job_count().await.unwrap(), listed)
}

async fn the_total_of_all_jobs_stays_exact_under_concurrent_writers_and_deletes(db: Db) {
    let tdb = TestDb::new(db).await;
    let store = tdb.store().await;
    store.migrate().await.unwrap();
    // Four writers, each with its own pool as if in its own process; each also applies
    // some of another writer's batches again (duplicates create nothing).
    let mut writers = Vec::new();
    for w in 0..4i64 {
        let s = tdb.store().await;
        writers.push(tokio::spawn(async move {
            for b in 0..10 {
                s.apply(&batch(w, b), true).await.unwrap();
                if b % 3 == 0 {
                    s.apply(&batch((w + 1) % 4, b), true).await.unwrap();
                }
            }
            s.close().await;
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    assert_eq!(totals(&store).await, (2000, 2000, 2000));
    // Retention forgets archived jobs in chunks: the total follows.
    sqlx::query("UPDATE job SET monitoring_status = 3 WHERE job_state = 'completed'")
        .execute(store.pool())
        .await
        .unwrap();
    let forgot = store.forget_archived_jobs(10_000, 300).await.unwrap();
    assert_eq!(forgot, 300);
    assert_eq!(totals(&store).await, (1700, 1700, 1700));
    // A filtered list still counts the jobs it matches.
    let q = JobQuery {
        page: 1,
        per_page: 1,
        filter: jobledger::domain::query::JobFilter {
            states: vec![jobledger::domain::job::JobState::Running],
            ..Default::default()
        },
        ..JobQuery::default()
    };
    assert_eq!(store.list_jobs(&q).await.unwrap().1, 1000);
    store.close().await;
}
