//! The S3 backend against a real S3-compatible server on loopback (moto_server, installed by
//! scripts/test): the same keys as the file layout, failures retried and visible, recovery.

use crate::archive::cli;
use crate::events::*;
use crate::helpers::*;
use crate::on_both_databases;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

on_both_databases!(
    a_stopped_job_is_archived_to_s3_at_the_contract_keys,
    a_stopped_s3_server_means_retries_then_failed_then_archive_retry_archives,
);

const BUCKET: &str = "job-archive";

/// One moto_server on a free port; in memory, so a restart starts with no buckets.
struct S3Server {
    port: u16,
    child: Option<Child>,
    http: reqwest::Client,
}

impl S3Server {
    async fn start() -> S3Server {
        let mut s = S3Server {
            port: free_port(),
            child: None,
            http: reqwest::Client::new(),
        };
        s.restart().await;
        s
    }

    async fn restart(&mut self) {
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !port_open(self.port) {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            assert!(
                exited.is_none(),
                "moto_server exited ({exited:?}): python3 -m pip install 'moto[server]'"
            );
            assert!(Instant::now() < deadline, "moto_server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let r = self.http.put(self.url(BUCKET)).send().await.unwrap();
        assert!(r.status().is_success(), "create bucket: {}", r.status());
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// The object at `key` in the bucket, or None. Read with plain HTTP, not with the
    /// client under test; moto checks no signatures but answers an anonymous GET with 403,
    /// so any `Authorization` header will do.
    async fn object(&self, key: &str) -> Option<Vec<u8>> {
        let auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, \
                    SignedHeaders=host, Signature=0";
        let r = self
            .http
            .get(self.url(&format!("{BUCKET}/{key}")))
            .header("authorization", auth)
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            200 => Some(r.bytes().await.unwrap().to_vec()),
            404 => None,
            s => panic!("GET {key}: {s}"),
        }
    }

    fn archive_toml(&self, extra: &str) -> String {
        format!(
            "[archive]\nkind = \"s3\"\nbucket = \"{BUCKET}\"\nendpoint = \"http://127.0.0.1:{}\"\n\
             region = \"us-east-1\"\npath_style = true\naccess_key = \"test\"\n\
             secret_key = \"test\"\nretry_base_secs = 1\n{extra}",
            self.port
        )
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

async fn a_stopped_job_is_archived_to_s3_at_the_contract_keys(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let s3 = S3Server::start().await;
    let mut setup = Setup::new(&tdb, SHARED_NATS);
    setup.extra = s3.archive_toml("");
    let app = TestApp::spawn(setup).await;
    let mut start = start_json(1403244, 1608923076);
    start["cluster"] = json!("emmy");
    start["submitTime"] = json!(1608920000);
    start["requestedMemory"] = json!(64000);
    assert_eq!(
        app.post("/api/jobs/start_job/", &start.to_string()).await.0,
        201
    );
    let stop =
        json!({"jobId": 1403244, "cluster": "emmy", "stopTime": 1608926676, "jobState": "failed"});
    assert_eq!(
        app.post("/api/jobs/stop_job/", &stop.to_string()).await.0,
        200
    );
    eventually(30, "job archived", || async {
        app.jobs("").await[0]["monitoringStatus"] == 3
    })
    .await;
    let job = &app.jobs("").await[0];
    assert_eq!(job["archiveLocation"], "emmy/1403/244/1608923076");

    let dir = "emmy/1403/244/1608923076";
    let meta = json_of(
        &s3.object(&format!("{dir}/meta.json"))
            .await
            .expect("meta.json"),
    );
    assert_eq!(
        (
            &meta["jobState"],
            &meta["duration"],
            &meta["monitoringStatus"]
        ),
        (&json!("failed"), &json!(3600), &json!(3))
    );
    assert_eq!(
        (&meta["submitTime"], &meta["requestedMemory"]),
        (&json!(1608920000), &json!(64000))
    );
    assert_eq!(s3.object(&format!("{dir}/data.json")).await.unwrap(), b"{}");
    assert_eq!(s3.object("version.txt").await.unwrap(), b"3");
    assert_eq!(
        json_of(&s3.object("emmy/cluster.json").await.unwrap())["name"],
        "emmy"
    );

    // The bundle endpoint and `archive verify` read through the same backend.
    let url = format!("{}/api/jobs/{}/archive", app.base, job["id"]);
    let r = app.http.get(url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let tarball = zstd::decode_all(&r.bytes().await.unwrap()[..]).unwrap();
    let names: Vec<String> = tar::Archive::new(tarball.as_slice())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["meta.json", "data.json"]);
    let (ok, out) = cli(&app, &["verify"]);
    assert!(
        ok && out.contains("1 archived job(s) checked, 0 problem(s)"),
        "{out}"
    );
}

async fn a_stopped_s3_server_means_retries_then_failed_then_archive_retry_archives(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let mut s3 = S3Server::start().await;
    let mut setup = Setup::new(&tdb, SHARED_NATS);
    setup.extra = s3.archive_toml("max_attempts = 2\n");
    let app = TestApp::spawn(setup).await;
    s3.stop();
    app.post("/api/jobs/start_job/", &start_json(5, 1000).to_string())
        .await;
    let stop = stop_json(5, None, 1100, "completed").to_string();
    app.post("/api/jobs/stop_job/", &stop).await;
    eventually(60, "archiving failed for good", || async {
        app.jobs("").await[0]["monitoringStatus"] == 2
    })
    .await;
    let job = &app.jobs("").await[0];
    let error = job["archiveError"].as_str().unwrap();
    assert!(
        error.contains("writing testcluster/0/005/1000 below s3://job-archive"),
        "{job}"
    );
    assert!(app.metric("jobledger_archive_write_failures_total").await >= 2.0);
    let (_, out) = cli(&app, &["verify"]);
    assert!(out.contains("0 archived job(s) checked"), "{out}");

    s3.restart().await;
    let (ok, out) = cli(&app, &["retry", "--job", &job["id"].to_string()]);
    assert!(ok && out.contains("1 job(s)"), "{out}");
    eventually(30, "archived after the retry", || async {
        app.jobs("").await[0]["monitoringStatus"] == 3
    })
    .await;
    assert!(app.jobs("").await[0].get("archiveError").is_none());
    let meta = s3.object("testcluster/0/005/1000/meta.json").await;
    assert_eq!(json_of(&meta.expect("meta.json"))["jobId"], 5);
    // A restarted moto has lost version.txt, but this process wrote it once already:
    // the job itself is what counts; verify reads only job files.
    let (ok, out) = cli(&app, &["verify"]);
    assert!(
        ok && out.contains("1 archived job(s) checked, 0 problem(s)"),
        "{out}"
    );
}
