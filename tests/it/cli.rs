//! The command line: configuration errors name file and key; migrate works from scratch.

use crate::helpers::*;
use std::process::Command;

fn run(args: &[&str], dir: &std::path::Path, env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_jobledger"))
        .args(args)
        .current_dir(dir)
        .env_remove("JOBLEDGER_CONFIG")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn configuration_errors_name_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[nats]\nsubjekt = \"x\"\n", "nats.subjekt"),
        ("[database]\nurl = \"mysql://db\"\n", "database.url"),
        (
            "[[clusters]]\nname = \"f\"\nsubclusters = [{name = \"m\", nodes = \"f[1-\"}]\n",
            "clusters[0].subclusters[0].nodes",
        ),
    ];
    for (text, key) in cases {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let (ok, stderr) = run(
            &["serve", "--config", path.to_str().unwrap()],
            dir.path(),
            &[],
        );
        assert!(!ok, "{text}");
        assert!(
            stderr.contains("bad.toml") && stderr.contains(key),
            "{key}: {stderr}"
        );
    }
    let (ok, stderr) = run(
        &["migrate"],
        dir.path(),
        &[("JOBLEDGER_NATS_URL", "nats://h:port")],
    );
    assert!(!ok);
    assert!(stderr.contains("JOBLEDGER_NATS_URL"), "{stderr}");
}

#[tokio::test]
async fn migrate_creates_the_sqlite_file_and_its_folder_and_can_run_twice() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let (ok, stderr) = run(&["migrate"], dir.path(), &[]);
        assert!(ok, "{stderr}");
    }
    assert!(dir.path().join("var/jobledger.db").is_file());
    let tdb = TestDb::new(Db::Postgres).await;
    let (ok, stderr) = run(
        &["migrate"],
        dir.path(),
        &[("JOBLEDGER_DATABASE_URL", &tdb.url)],
    );
    assert!(ok, "{stderr}");
}
