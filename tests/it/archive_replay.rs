//! A restarted process reads the metric stream again from the stored position: a job
//! archived before that replay reached its samples would be archived without them.

use crate::archive::{ledger_status_counts, walk};
use crate::events::{publish_all, start_json, start_line, stop_line};
use crate::helpers::*;
use crate::metric_store::{app_with_cluster, archive_now};
use crate::on_both_databases;
use serde_json::{json, Value};

on_both_databases!(a_job_archived_after_a_sigkill_has_the_samples_replayed_since,);

/// The job's samples sit in an open window (memory only) behind thousands of other
/// messages when the process is killed; after the restart the archiver may only archive
/// it once the replay has read them again.
async fn a_job_archived_after_a_sigkill_has_the_samples_replayed_since(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let root = tempfile::tempdir().unwrap();
    let metric = |name: &str| {
        json!({"name": name, "unit": {"base": ""}, "scope": "node", "aggregation": "avg",
               "timestep": 60, "peak": 100, "normal": 50, "caution": 10, "alert": 5})
    };
    let cluster = json!({"name": "testcluster", "metricConfig": [metric("cpu_load"), metric("mem_used")],
        "subClusters": [{"name": "main", "nodes": "k[01-20]"}]});
    let archive = root.path().join("archive");
    let off = archive_now(&archive) + "enabled = false\n";
    // Day-long windows: the last half hour stays in memory, not in stored chunks.
    let (setup, mut app) = app_with_cluster(
        &tdb,
        root.path(),
        &cluster,
        &off,
        "\nchunk_minutes = 1440\nstream_max_age_hours = 72\n",
    )
    .await;
    let now = chrono::Utc::now().timestamp();
    let start = (now - 1800) / 60 * 60;
    const SAMPLES: i64 = 29;
    let filler: Vec<Vec<u8>> = (0..4000)
        .map(|i| {
            (2..=20)
                .map(|h| format!("mem_used,hostname=k{h:02} value={i} {}", start + i % 1700))
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes()
        })
        .collect();
    let js = setup.jetstream().await;
    publish_all(&js, &setup.metric_subject, filler).await;
    let own: Vec<String> = (0..SAMPLES)
        .map(|i| format!("cpu_load,hostname=k01 value={} {}", i + 1, start + 60 * i))
        .collect();
    publish_all(
        &js,
        &setup.metric_subject,
        vec![own.join("\n").into_bytes()],
    )
    .await;
    let mut s = start_json(1, start);
    s["resources"] = json!([{"hostname": "k01"}]);
    let stop = start + 60 * (SAMPLES - 1);
    publish_all(
        &js,
        &setup.job_subject,
        vec![
            start_line(&s).into_bytes(),
            stop_line(1, Some(start), stop, "completed").into_bytes(),
        ],
    )
    .await;
    let numbers = |v: &Value| {
        v["cpu_load"]["node"]["series"][0]["data"]
            .as_array()
            .map_or(0, |d| d.iter().filter(|v| v.is_number()).count() as i64)
    };
    eventually(120, "the job stopped and its samples in memory", || async {
        let (_, b) = app.get("/api/jobs/?state=completed&items-per-page=1").await;
        let (_, m) = app
            .get(&format!(
                "/api/nodes/testcluster/k01/metrics?metric=cpu_load&from={start}&to={stop}"
            ))
            .await;
        b["total"] == 1 && numbers(&m) == SAMPLES
    })
    .await;
    app.kill();
    app.setup.extra = app.setup.extra.replace("enabled = false\n", "");
    app.restart().await;
    eventually(120, "the job archived", || async {
        ledger_status_counts(&tdb).await.3 == 1
    })
    .await;
    let data = walk(&archive)
        .into_iter()
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("data.json")
        })
        .expect("a data file");
    let bytes = std::fs::read(&data).unwrap();
    let data: Value = if data.extension().is_some_and(|e| e == "gz") {
        serde_json::from_reader(flate2::read::GzDecoder::new(&bytes[..])).unwrap()
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    assert_eq!(numbers(&data), SAMPLES, "every sample of the job archived");
}
