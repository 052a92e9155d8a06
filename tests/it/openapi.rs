//! The OpenAPI document (issue 4): every documented operation is routed, and schemathesis
//! (from PyPI, installed by scripts/test) fuzzes the API from it: no 5xx, no response
//! that breaks the document, invalid input refused.

use crate::clients::*;
use crate::events::*;
use crate::helpers::*;
use crate::on_both_databases;
use reqwest::Method;
use std::process::Command;

on_both_databases!(schemathesis_finds_no_server_error_and_no_response_off_the_document);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_routed_and_the_served_document_is_the_generated_one() {
    ensure_shared_nats();
    let tdb = TestDb::new(Db::Sqlite).await;
    let app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    let (status, served) = app.get("/api/openapi.json").await;
    assert_eq!(status, 200);
    let generated = jobledger::http::openapi_document();
    assert_eq!(served, generated);
    let paths = served["paths"].as_object().unwrap();
    assert!(paths.len() >= 17, "{:?}", paths.keys());
    let mut operations = 0;
    for (path, item) in paths {
        if path == "/api/events" {
            continue; // an endless stream; tested in live.rs
        }
        let concrete = path.replace("{id}", "1").replace("{key}", "k");
        for method in item.as_object().unwrap().keys() {
            let m: Method = method.to_uppercase().parse().unwrap();
            let (status, body) = app.send(m, &concrete, Some("{}"), None).await;
            let unrouted = status == 405 || body["error"] == "no such route";
            assert!(
                !unrouted,
                "{method} {path} is documented but not routed: {status} {body}"
            );
            operations += 1;
        }
    }
    assert!(operations >= 24, "{operations}");
}

async fn schemathesis_finds_no_server_error_and_no_response_off_the_document(db: Db) {
    let (app, keys, _tdb) = spawn_with_auth(db).await;
    let admin = keys.token("fuzzer", "admin", &[]);
    // Something for the id routes to find: jobs 1..=20, half stopped, one tagged.
    for id in 1..=20 {
        let mut j = start_json(id, 1000 * id);
        j["tags"] = serde_json::json!([{"type": "t", "name": "n"}]);
        app.start_job_as(&j, &admin).await;
        if id % 2 == 0 {
            let stop = stop_json(id, None, 1000 * id + 500, "completed").to_string();
            app.send(
                Method::POST,
                "/api/jobs/stop_job/",
                Some(&stop),
                Some(&admin),
            )
            .await;
        }
    }
    let seed = std::env::var("JOBLEDGER_FUZZ_SEED").unwrap_or_else(|_| "20261123".into());
    let examples = std::env::var("JOBLEDGER_FUZZ_EXAMPLES").unwrap_or_else(|_| "40".into());
    // The console script's two lines, from a file: Hypothesis reads the source of what it
    // runs, which `python3 -c` does not have.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("schemathesis_cli.py");
    std::fs::write(
        &script,
        "import sys\nfrom schemathesis.cli import schemathesis\nsys.exit(schemathesis())\n",
    )
    .unwrap();
    let out = Command::new("python3")
        .current_dir(dir.path()) // its example database stays out of the repository
        .arg(&script)
        .arg("run")
        .arg(format!("{}/api/openapi.json", app.base))
        .args(["--exclude-path", "/api/events"])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,negative_data_rejection",
        ])
        // One worker: CPython 3.11.7's ast module is not thread-safe, and Hypothesis parses
        // source in every worker ("AST constructor recursion depth mismatch").
        .args([
            "--max-examples",
            &examples,
            "--seed",
            &seed,
            "--workers",
            "1",
        ])
        // Both of cc-backend's headers: otherwise schemathesis fills the documented
        // X-Auth-Token with junk, which (checked first, as in cc-backend) fails the request.
        .args(["-H", &format!("Authorization: Bearer {admin}")])
        .args(["-H", &format!("X-Auth-Token: {admin}")])
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'schemathesis'"),
        "schemathesis is not installed: run scripts/test, which installs it from PyPI"
    );
    assert!(
        out.status.success(),
        "schemathesis found problems (seed {seed}):\n{stdout}\n{stderr}\n--- jobledger log ---\n{}",
        app.log()
    );
    assert!(stdout.contains("passed"), "{stdout}");
}
