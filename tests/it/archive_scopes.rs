//! What a small job's archive holds: its own cores and GPUs at their scopes, and the
//! metrics it has no samples of named in its metadata.

use crate::events::start_json;
use crate::faults::publish_until_acked_to;
use crate::helpers::*;
use crate::metric_store::{app_with_cluster, archive_now, stop_and_archive};
use crate::on_both_databases;
use serde_json::{json, Value};

on_both_databases!(a_small_job_archives_its_own_cores_and_gpus_and_names_what_is_missing);

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
