//! What a small job's archive holds: its own cores and GPUs at their scopes, and the
//! metrics it has no samples of named in its metadata; and archiving with data killed
//! halfway.

use crate::archive::{ledger_status_counts, walk};
use crate::events::{publish_all, start_json, start_line, stop_line};
use crate::faults::publish_until_acked_to;
use crate::helpers::*;
use crate::metric_store::{app_with_cluster, archive_now, stop_and_archive};
use crate::on_both_databases;
use serde_json::{json, Value};

on_both_databases!(
    a_small_job_archives_its_own_cores_and_gpus_and_names_what_is_missing,
    sigkill_while_archiving_jobs_with_data_loses_and_doubles_nothing,
);

/// A small job keeps finer scopes: its own cores (from hwthreads through the topology)
/// and its own GPUs; a metric without samples is named in the metadata, and a job
/// without any sample archives with an empty data.json and says so.
async fn a_small_job_archives_its_own_cores_and_gpus_and_names_what_is_missing(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let root = tempfile::tempdir().unwrap();
    let metric = |name: &str, scope: &str| {
        json!({"name": name, "unit": {"base": ""}, "scope": scope, "aggregation": "avg",
               "timestep": 60, "peak": 100, "normal": 50, "caution": 10, "alert": 5})
    };
    // Two cores of two hwthreads each on every node.
    let cluster = json!({
        "name": "testcluster",
        "metricConfig": [metric("cpu_user", "hwthread"), metric("nv_util", "accelerator"),
                         metric("mem_bw", "socket"), metric("ib_recv", "node")],
        "subClusters": [{"name": "main", "nodes": "s[01-10]",
            "topology": {"node": [0, 1, 2, 3], "socket": [[0, 1, 2, 3]], "memoryDomain": [[0, 1, 2, 3]],
                         "core": [[0, 1], [2, 3]]}}]
    });
    let archive = root.path().join("archive");
    let (setup, app) =
        app_with_cluster(&tdb, root.path(), &cluster, &archive_now(&archive), "").await;
    let start = (chrono::Utc::now().timestamp() - 3600) / 60 * 60;
    // Job 1 owns core 1 (hwthreads 2, 3) and GPU 0 of s01; job 2 runs on s02, which sends nothing.
    let mut s = start_json(1, start);
    s["numAcc"] = json!(1);
    s["resources"] = json!([{"hostname": "s01", "hwthreads": [2, 3], "accelerators": ["0"]}]);
    assert_eq!(
        app.post("/api/jobs/start_job/", &s.to_string()).await.0,
        201
    );
    let mut quiet = start_json(2, start);
    quiet["resources"] = json!([{"hostname": "s02"}]);
    assert_eq!(
        app.post("/api/jobs/start_job/", &quiet.to_string()).await.0,
        201
    );
    let mut lines = Vec::new();
    for i in 0..10 {
        let t = start + 60 * i;
        for hw in 0..4 {
            lines.push(format!(
                "cpu_user,hostname=s01,type=hwthread,type-id={hw} value={} {t}",
                10 * (hw + 1)
            ));
        }
        for gpu in 0..2 {
            lines.push(format!(
                "nv_util,hostname=s01,type=accelerator,type-id={gpu} value={} {t}",
                50 + gpu
            ));
        }
        lines.push(format!(
            "mem_bw,hostname=s01,type=socket,type-id=0 value=7 {t}"
        ));
    }
    publish_until_acked_to(
        &setup,
        &setup.metric_subject,
        "small",
        &[lines.join("\n").into_bytes()],
    )
    .await;
    let id = app.jobs("").await.iter().find(|j| j["jobId"] == 1).unwrap()["id"].clone();
    eventually(60, "samples stored", || async {
        let (_, b) = app
            .get(&format!(
                "/api/jobs/{id}/metrics?metric=cpu_user&scope=node"
            ))
            .await;
        b["cpu_user"]["node"]["series"][0]["data"]
            .as_array()
            .is_some_and(|d| d.iter().filter(|v| v.is_number()).count() == 10)
    })
    .await;
    stop_and_archive(&app, &[1, 2], start + 600).await;
    let dir = archive.join(format!("testcluster/0/001/{start}"));
    let data: Value =
        serde_json::from_slice(&std::fs::read(dir.join("data.json")).unwrap()).unwrap();
    // cpu_user: the node (its hwthreads 2 and 3: 30 and 40) and its one core.
    let cores = &data["cpu_user"]["core"]["series"];
    assert_eq!(cores.as_array().unwrap().len(), 1, "{data}");
    assert_eq!(
        (&cores[0]["id"], &cores[0]["data"][0]),
        (&json!("1"), &json!(35.0))
    );
    assert_eq!(
        data["cpu_user"]["node"]["series"][0]["data"][0],
        json!(35.0)
    );
    // mem_bw: the node and its own (socket) scope.
    assert_eq!(data["mem_bw"]["socket"]["series"][0]["data"][0], json!(7.0));
    // nv_util: only GPU 0.
    let gpus = &data["nv_util"]["accelerator"]["series"];
    assert_eq!(
        (gpus.as_array().unwrap().len(), &gpus[0]["id"]),
        (1, &json!("0")),
        "{data}"
    );
    // statisticsSeries needs 8 series; these have one.
    assert!(data["cpu_user"]["core"].get("statisticsSeries").is_none());
    let meta: Value =
        serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap()).unwrap();
    assert_eq!(
        meta["metaData"]["metricData"], "partial: no samples of ib_recv",
        "{meta}"
    );
    assert_eq!(meta["statistics"]["cpu_user"]["avg"], json!(35.0));
    let quiet_dir = archive.join(format!("testcluster/0/002/{start}"));
    assert_eq!(std::fs::read(quiet_dir.join("data.json")).unwrap(), b"{}");
    let meta: Value =
        serde_json::from_slice(&std::fs::read(quiet_dir.join("meta.json")).unwrap()).unwrap();
    assert!(meta.get("statistics").is_none(), "{meta}");
    assert!(
        meta["metaData"]["metricData"]
            .as_str()
            .unwrap()
            .starts_with("none: "),
        "{meta}"
    );
}

/// Jobs archived with their metric data while the archiver is SIGKILLed: after a restart
/// every job is archived once, with a whole data file, its statistics and one
/// footprint row per value.
async fn sigkill_while_archiving_jobs_with_data_loses_and_doubles_nothing(db: Db) {
    const JOBS: i64 = 1000;
    let tdb = TestDb::new(db).await;
    let root = tempfile::tempdir().unwrap();
    let metric = |name: &str| {
        json!({"name": name, "unit": {"base": ""}, "scope": "node", "aggregation": "avg",
               "timestep": 60, "peak": 100, "normal": 50, "caution": 10, "alert": 5, "footprint": "avg"})
    };
    let cluster = json!({"name": "testcluster", "metricConfig": [metric("cpu_load"), metric("mem_used")],
        "subClusters": [{"name": "main", "nodes": "k[01-20]"}]});
    let archive = root.path().join("archive");
    let off = archive_now(&archive) + "enabled = false\n";
    let (setup, mut app) = app_with_cluster(&tdb, root.path(), &cluster, &off, "").await;
    let start = (chrono::Utc::now().timestamp() - 7200) / 60 * 60;
    let samples: Vec<String> = (0..60)
        .flat_map(|i| {
            (1..=20).flat_map(move |h| {
                let t = start + 60 * i;
                [
                    format!("cpu_load,hostname=k{h:02} value={} {t}", h + i),
                    format!("mem_used,hostname=k{h:02} value=7.5 {t}"),
                ]
            })
        })
        .collect();
    publish_until_acked_to(
        &setup,
        &setup.metric_subject,
        "kill",
        &[samples.join("\n").into_bytes()],
    )
    .await;
    let mut lines = Vec::new();
    for id in 1..=JOBS {
        let mut s = start_json(id, start);
        s["resources"] = json!([{"hostname": format!("k{:02}", id % 20 + 1)}]);
        lines.push(start_line(&s).into_bytes());
        lines.push(stop_line(id, Some(start), start + 3600, "completed").into_bytes());
    }
    publish_all(&setup.jetstream().await, &setup.job_subject, lines).await;
    eventually(120, "the queue and the samples are in", || async {
        let (_, b) = app.get("/api/jobs/?state=completed&items-per-page=1").await;
        let (_, m) = app
            .get(&format!(
                "/api/nodes/testcluster/k20/metrics?metric=cpu_load&from={start}&to={}",
                start + 3600
            ))
            .await;
        b["total"] == JOBS
            && m["cpu_load"]["node"]["series"][0]["data"]
                .as_array()
                .is_some_and(|d| d.iter().filter(|v| v.is_number()).count() == 60)
    })
    .await;
    app.terminate();
    app.setup.extra = app
        .setup
        .extra
        .replace("enabled = false\n", "lease_secs = 600\nbatch_size = 20\n");
    app.restart().await;
    eventually(120, "part of the queue archived", || async {
        ledger_status_counts(&tdb).await.3 >= 50
    })
    .await;
    app.kill();
    let at_kill = ledger_status_counts(&tdb).await;
    assert!(at_kill.3 < JOBS, "killed mid-queue: {at_kill:?}");
    app.restart().await;
    eventually(180, "every job archived", || async {
        ledger_status_counts(&tdb).await.3 == JOBS
    })
    .await;
    let (mut files, mut partial) = (0, Vec::new());
    for path in walk(&archive) {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.starts_with('.') {
            partial.push(path);
        } else if name.starts_with("data.json") {
            // Small jobs' files stay below cc-backend's 2000 bytes: plain JSON.
            let bytes = std::fs::read(&path).unwrap();
            let data: Value = if name.ends_with(".gz") {
                serde_json::from_reader(flate2::read::GzDecoder::new(&bytes[..]))
            } else {
                serde_json::from_slice(&bytes)
            }
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let values = data["cpu_load"]["node"]["series"][0]["data"]
                .as_array()
                .unwrap();
            assert_eq!(values.iter().filter(|v| v.is_number()).count(), 60);
            let meta: Value =
                serde_json::from_slice(&std::fs::read(path.with_file_name("meta.json")).unwrap())
                    .unwrap();
            assert_eq!(
                meta["statistics"]["mem_used"]["avg"],
                json!(7.5),
                "{}",
                path.display()
            );
            files += 1;
        }
    }
    assert!(partial.is_empty(), "temporary files left: {partial:?}");
    assert_eq!(files, JOBS, "one data file per job");
    // One footprint value per job and metric: the index did not double either.
    let (_, b) = app
        .get("/api/jobs/?footprint=mem_used_avg:7.5-7.5&items-per-page=1")
        .await;
    assert_eq!(b["total"], JOBS);
    let store = tdb.store().await;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM job_footprint")
        .fetch_one(store.pool())
        .await
        .unwrap();
    store.close().await;
    assert_eq!(rows, 2 * JOBS);
}
