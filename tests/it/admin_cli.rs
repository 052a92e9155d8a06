//! The admin command line (issue 4): keygen, token, jobs, stats, rejected, against a
//! running jobledger with authentication.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::process::Command;

pub(crate) fn jl(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_jobledger"))
        .args(args)
        .env_remove("JOBLEDGER_CONFIG")
        .env_remove("JOBLEDGER_TOKEN")
        .env_remove("JOBLEDGER_SERVER")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_tokens_and_read_jobs_from_the_command_line() {
    ensure_shared_nats();
    let keydir = tempfile::tempdir().unwrap();
    let out = keydir.path().to_str().unwrap();
    let (ok, stdout, stderr) = jl(&["keygen", "--out", out], &[]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("[auth]"), "{stdout}");
    let key = keydir.path().join("jwt.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the private key is the owner's alone");
    }
    let (ok, _, stderr) = jl(&["keygen", "--out", out], &[]);
    assert!(!ok && stderr.contains("not overwriting"), "{stderr}");

    let tdb = TestDb::new(Db::Sqlite).await;
    let mut setup = Setup::new(&tdb, SHARED_NATS);
    setup.extra = format!(
        "[auth]\npublic_key_file = \"{}\"\n",
        keydir.path().join("jwt.pub").display()
    );
    let app = TestApp::spawn(setup).await;
    let key = key.to_str().unwrap();
    let token = |role: &str, sub: &str| {
        let (ok, stdout, stderr) = jl(&["token", "--sub", sub, "--role", role, "--key", key], &[]);
        assert!(ok, "{stderr}");
        stdout.trim().to_string()
    };
    let api = token("api", "adapter");
    assert_eq!(api.split('.').count(), 3, "a JWT: {api}");
    for (id, user, project) in [(1, "alice", "p1"), (2, "bob", "p2"), (3, "alice", "p2")] {
        let j = json!({"jobId": id, "cluster": "c", "user": user, "project": project,
            "startTime": 1_700_000_000 + id * 3600, "numNodes": 1,
            "resources": [{"hostname": "h1"}], "metaData": {"jobName": format!("run,{id}")}});
        app.start_job_as(&j, &api).await;
    }
    app.send(
        Method::POST,
        "/api/jobs/stop_job/",
        Some(r#"{"jobId":1,"cluster":"c","stopTime":1700007200}"#),
        Some(&api),
    )
    .await;
    app.send(
        Method::POST,
        "/api/jobs/start_job/",
        Some("{\"jobId\":"),
        Some(&api),
    )
    .await;

    let admin = token("admin", "root");
    let env = [
        ("JOBLEDGER_SERVER", app.base.as_str()),
        ("JOBLEDGER_TOKEN", admin.as_str()),
    ];
    let (ok, stdout, stderr) = jl(&["jobs", "list", "--format", "json"], &env);
    assert!(ok, "{stderr}");
    let jobs: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(jobs.as_array().unwrap().len(), 3);
    assert!(stderr.contains("3 of 3 job(s)"), "{stderr}");
    let (_, stdout, _) = jl(
        &["jobs", "list", "--user", "alice", "--format", "json"],
        &env,
    );
    let jobs: Value = serde_json::from_str(&stdout).unwrap();
    assert!(jobs
        .as_array()
        .unwrap()
        .iter()
        .all(|j| j["user"] == "alice"));
    let (_, csv, _) = jl(
        &["jobs", "list", "--format", "csv", "--sort", "startTime:asc"],
        &env,
    );
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "id,jobId,cluster,user,project,state,start,duration,nodes,name"
    );
    assert!(lines[1].ends_with(",1,\"run,1\""), "quoted: {}", lines[1]);
    assert!(
        lines[1].contains(",01:00:00,"),
        "a human duration: {}",
        lines[1]
    );
    let (_, table, _) = jl(&["jobs", "list"], &env);
    let header = table.lines().next().unwrap();
    assert!(
        header.contains("jobId") && header.contains("duration"),
        "{table}"
    );
    let (ok, shown, _) = jl(&["jobs", "show", "1"], &env);
    assert!(
        ok && shown
            .lines()
            .any(|l| l.starts_with("user") && l.ends_with("alice")),
        "{shown}"
    );

    let (ok, stats, stderr) = jl(
        &[
            "stats",
            "--by",
            "project",
            "--from",
            "2023-01-01",
            "--to",
            "2100-01-01",
            "--format",
            "csv",
        ],
        &env,
    );
    assert!(ok, "{stderr}");
    let rows: Vec<&str> = stats.lines().collect();
    assert_eq!(rows[0], "project,jobs,node-h,core-h,gpu-h,avg wait");
    assert!(rows.iter().any(|r| r.starts_with("p1,1,1.0,")), "{stats}");
    assert!(rows.last().unwrap().starts_with("(total),3,"), "{stats}");
    let (ok, rejected, _) = jl(&["rejected", "--format", "json"], &env);
    assert!(ok);
    assert_eq!(
        serde_json::from_str::<Value>(&rejected)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A user's token through the same commands: only her jobs.
    let alice = token("user", "alice");
    let env = [
        ("JOBLEDGER_SERVER", app.base.as_str()),
        ("JOBLEDGER_TOKEN", alice.as_str()),
    ];
    let (_, stdout, _) = jl(&["jobs", "list", "--format", "json"], &env);
    assert_eq!(
        serde_json::from_str::<Value>(&stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (ok, _, stderr) = jl(&["rejected"], &env);
    assert!(!ok && stderr.contains("403"), "{stderr}");
    let (ok, _, stderr) = jl(
        &["jobs", "list"],
        &[("JOBLEDGER_SERVER", app.base.as_str())],
    );
    assert!(!ok && stderr.contains("401"), "{stderr}");
}

#[test]
fn serve_refuses_to_listen_beyond_loopback_without_auth() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("open.toml");
    std::fs::write(
        &path,
        format!("[http]\nlisten = \"0.0.0.0:{}\"\n", free_port()),
    )
    .unwrap();
    let (ok, _, stderr) = jl(&["serve", "--config", path.to_str().unwrap()], &[]);
    assert!(!ok);
    assert!(
        stderr.contains("open.toml") && stderr.contains("http.listen") && stderr.contains("[auth]"),
        "{stderr}"
    );
}
