//! The efficiency report of a job with known utilisation, over HTTP and the command line.

use crate::admin_cli::jl;
use crate::events::start_json;
use crate::faults::publish_until_acked_to;
use crate::helpers::*;
use crate::metric_store::app_with_cluster;
use crate::on_both_databases;
use serde_json::json;

on_both_databases!(a_job_with_known_utilisation_reports_it_with_notes);

async fn a_job_with_known_utilisation_reports_it_with_notes(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let dir = tempfile::tempdir().unwrap();
    let metric = |name: &str, scope: &str, prefix: &str| {
        json!({"name": name, "unit": {"base": "", "prefix": prefix}, "scope": scope,
               "aggregation": "avg", "timestep": 60, "peak": 100, "normal": 50, "caution": 10, "alert": 5})
    };
    let cluster = json!({
        "name": "testcluster",
        "metricConfig": [metric("cpu_user", "node", ""), metric("mem_used", "node", "G"),
                         metric("nv_util", "accelerator", ""), metric("nv_mem_used", "accelerator", "M")],
        "subClusters": [{"name": "main", "nodes": "g[01-10]"}]
    });
    let efficiency = "[efficiency]
cpu_low_percent = 40
";
    let (setup, app) = app_with_cluster(&tdb, dir.path(), &cluster, efficiency, "").await;
    let start = (chrono::Utc::now().timestamp() - 7200) / 60 * 60;
    let mut s = start_json(3, start);
    s["numNodes"] = json!(2);
    s["numAcc"] = json!(1);
    s["walltime"] = json!(86_400);
    s["requestedMemory"] = json!(64_000);
    s["resources"] = json!([{"hostname": "g01", "accelerators": ["0"]}, {"hostname": "g02"}]);
    assert_eq!(
        app.post("/api/jobs/start_job/", &s.to_string()).await.0,
        201
    );
    // An hour: g01 at 20 % user and 8 GB, g02 at 40 % and 6 GB; GPU 0 of g01 busy 30 %
    // with 12,000 MB; GPU 1 of g01 is another job's.
    let mut lines = Vec::new();
    for i in 0..60 {
        let t = start + 60 * i;
        lines.extend([
            format!("cpu_user,hostname=g01 value=20 {t}"),
            format!("cpu_user,hostname=g02 value=40 {t}"),
            format!(
                "mem_used,hostname=g01 value={} {t}",
                if i == 30 { 8 } else { 2 }
            ),
            format!("mem_used,hostname=g02 value=6 {t}"),
            format!("nv_util,hostname=g01,type=accelerator,type-id=0 value=30 {t}"),
            format!("nv_util,hostname=g01,type=accelerator,type-id=1 value=99 {t}"),
            format!("nv_mem_used,hostname=g01,type=accelerator,type-id=0 value=12000 {t}"),
        ]);
    }
    publish_until_acked_to(
        &setup,
        &setup.metric_subject,
        "eff",
        &[lines.join("\n").into_bytes()],
    )
    .await;
    let stop = json!({"jobId": 3, "cluster": "testcluster", "stopTime": start + 3600, "jobState": "completed"});
    assert_eq!(
        app.post("/api/jobs/stop_job/", &stop.to_string()).await.0,
        200
    );
    let id = app.jobs("").await[0]["id"].clone();
    let path = format!("/api/jobs/{id}/efficiency");
    eventually(60, "every sample in the report", || async {
        app.get(&path).await.1["gpus"][0]["memoryUsedGb"] == json!(12.0)
    })
    .await;
    let (status, r) = app.get(&path).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["source"], "node metrics");
    assert_eq!(r["cpu"]["percent"], json!(30.0));
    assert_eq!(
        r["cpu"]["perNode"],
        json!([{"hostname": "g01", "value": 20.0}, {"hostname": "g02", "value": 40.0}])
    );
    assert_eq!(
        (&r["memory"]["maxUsedGb"], &r["memory"]["requestedGb"]),
        (&json!(8.0), &json!(67.1))
    );
    assert_eq!(
        r["gpus"],
        json!([{"hostname": "g01", "id": "0", "utilizationPercent": 30.0, "memoryUsedGb": 12.0}])
    );
    assert_eq!(
        (&r["time"]["used"], &r["time"]["percent"]),
        (&json!(3600), &json!(4.2))
    );
    let notes: Vec<&str> = r["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(notes.len(), 4, "{notes:?}");
    assert!(
        notes[0].starts_with("CPU: the job kept 30.0 %"),
        "{notes:?}"
    );
    let (ok, out, err) = jl(
        &["jobs", "efficiency", &id.to_string(), "--server", &app.base],
        &[],
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("CPU utilisation") && out.contains("30.0 %") && out.contains("67.1 GB"),
        "{out}"
    );
    assert!(
        out.contains("* Memory: the job used at most 8.0 GB"),
        "{out}"
    );
    assert_eq!(app.get("/api/jobs/999999/efficiency").await.0, 404);
}
