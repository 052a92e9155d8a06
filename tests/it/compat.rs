//! Drop-in compatibility: payloads shaped like cc-backend's own tests and like
//! cc-slurm-adapter's Go-marshalled events are accepted and round-trip.

use crate::events::*;
use crate::helpers::*;
use crate::on_both_databases;
use serde_json::{json, Value};

on_both_databases!(
    cc_backend_test_payloads_round_trip_over_nats_and_http,
    cc_slurm_adapter_events_with_go_nulls_and_extra_tags_round_trip,
);

/// The "job with tags" payload of cc-backend's NATS tests.
fn cc_backend_start() -> Value {
    json!({
        "jobId": 1004, "user": "testuser4", "project": "testproj4", "cluster": "testcluster",
        "partition": "main", "walltime": 3600, "numNodes": 1, "numHwthreads": 8, "numAcc": 0,
        "shared": "none", "monitoringStatus": 1, "smt": 1,
        "resources": [{"hostname": "host123", "hwthreads": [0, 1, 2, 3]}],
        "tags": [{"type": "test", "name": "testtag", "scope": "testuser4"}],
        "startTime": 1234567910
    })
}

async fn job_by_db_id(app: &TestApp, id: &Value) -> Value {
    let (status, job) = app.get(&format!("/api/jobs/{id}")).await;
    assert_eq!(status, 200, "{job}");
    job
}

fn assert_carries(job: &Value, sent: &Value, skip: &[&str]) {
    for (k, v) in sent.as_object().unwrap() {
        if !skip.contains(&k.as_str()) {
            assert_eq!(&job[k], v, "field {k}");
        }
    }
}

async fn cc_backend_test_payloads_round_trip_over_nats_and_http(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    let js = app.setup.jetstream().await;
    let sent = cc_backend_start();
    publish(&js, &app.setup.job_subject, &[start_line(&sent)]).await;
    eventually(20, "job 1004", || async { app.jobs("").await.len() == 1 }).await;
    let id = app.jobs("").await[0]["id"].clone();
    let job = job_by_db_id(&app, &id).await;
    assert_carries(&job, &sent, &["tags"]);
    assert_eq!(job["tags"][0]["name"], "testtag");
    assert_eq!(job["tags"][0]["scope"], "testuser4");
    assert_eq!(job["jobState"], "running");

    // cc-backend's REST tests post the same shape to start_job.
    let mut rest = sent.clone();
    rest["jobId"] = json!(123);
    rest["metaData"] = json!({"jobScript": "blablabla"});
    let (status, body) = app.post("/api/jobs/start_job/", &rest.to_string()).await;
    assert_eq!(status, 201, "{body}");
    let job = job_by_db_id(&app, &body["id"]).await;
    assert_carries(&job, &rest, &["tags"]);
    let stop = json!({"jobId": 123, "cluster": "testcluster", "startTime": 1234567910,
                      "jobState": "completed", "stopTime": 1234571510});
    let (status, job) = app.post("/api/jobs/stop_job/", &stop.to_string()).await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["duration"], 3600);
}

/// cc-slurm-adapter marshals a whole `schema.Job`: nulls for empty slices and maps, ""
/// for empty strings, 0 for unset numbers, and adds tags of its own to the line.
fn slurm_adapter_start() -> Value {
    json!({
        "id": null, "jobId": 4242, "user": "bob", "project": "", "cluster": "testcluster",
        "subCluster": "", "partition": "normal", "arrayJobId": 0, "numNodes": 2,
        "numHwthreads": 64, "numAcc": 0, "shared": "none", "monitoringStatus": 1, "smt": 0,
        "jobState": "running", "duration": 0, "walltime": 86400, "requestedMemory": 64000,
        "submitTime": 1699999000, "startTime": 1700000000, "tags": null,
        "resources": [
            {"hostname": "n1", "hwthreads": null, "accelerators": null},
            {"hostname": "n2", "hwthreads": null, "accelerators": null}
        ],
        "metaData": {"jobName": "sim \"big\"", "jobScript": "#!/bin/bash\necho \"hi\" \\\n  done"},
        "footprint": null, "energyFootprint": null, "energy": 0, "statistics": null,
        "concurrentJobs": {"items": null, "count": 0}
    })
}

async fn cc_slurm_adapter_events_with_go_nulls_and_extra_tags_round_trip(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    let js = app.setup.jetstream().await;
    let sent = slurm_adapter_start();
    let tags = "hostname=slurmctl,type=node,type-id=0";
    let start = format!(
        "job,function=start_job,{tags} event=\"{}\" 1700000000000000000",
        escape(&sent.to_string())
    );
    // Its stop names no startTime and adds a partition tag.
    let stop_json = json!({"jobId": 4242, "cluster": "testcluster", "jobState": "completed", "stopTime": 1700003600});
    let stop = format!(
        "job,function=stop_job,{tags},partition=normal event=\"{}\" 1700003600000000000",
        escape(&stop_json.to_string())
    );
    publish(&js, &app.setup.job_subject, &[start, stop]).await;
    eventually(20, "job 4242 completed", || async {
        app.jobs("state=completed").await.len() == 1
    })
    .await;
    assert!(
        app.rejected().await.is_empty(),
        "{:?}",
        app.rejected().await
    );
    let id = app.jobs("").await[0]["id"].clone();
    let job = job_by_db_id(&app, &id).await;
    assert_eq!(
        job["resources"],
        json!([{"hostname": "n1"}, {"hostname": "n2"}])
    );
    assert_eq!(job["metaData"], sent["metaData"]);
    assert_eq!(job["requestedMemory"], 64000);
    assert_eq!(job["submitTime"], 1699999000);
    assert_eq!(job["duration"], 3600);
    assert_eq!(job["smt"], 1, "Go's 0 means unset");
    assert_carries(
        &job,
        &sent,
        &[
            "id",
            "resources",
            "tags",
            "smt",
            "jobState",
            "duration",
            "footprint",
            "energyFootprint",
            "energy",
            "statistics",
            "concurrentJobs",
        ],
    );
}
