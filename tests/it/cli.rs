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

/// Everything a command prints, stdout and stderr together.
fn output(args: &[&str], dir: &std::path::Path, env: &[(&str, &str)]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_jobledger"))
        .args(args)
        .current_dir(dir)
        .env_remove("JOBLEDGER_CONFIG")
        .env("RUST_LOG", "debug")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn no_password_of_a_database_or_nats_url_reaches_the_terminal() {
    const SECRET: &str = "s3cretPW";
    let dir = tempfile::tempdir().unwrap();
    let tdb = TestDb::new(Db::Postgres).await;
    // Trust authentication ignores the password, so these commands succeed with it.
    let url = tdb.url.replace("postgres@", &format!("postgres:{SECRET}@"));
    let db = [("JOBLEDGER_DATABASE_URL", url.as_str())];
    let migrate = output(&["migrate"], dir.path(), &db);
    assert!(migrate.contains("postgres:***@"), "{migrate}");
    let seed = output(&["seed", "--jobs", "20", "--days", "1"], dir.path(), &db);
    assert!(seed.contains("20 synthetic jobs"), "{seed}");
    let unreachable = format!("postgres://postgres:{SECRET}@127.0.0.1:1/none");
    let refused = output(
        &["migrate"],
        dir.path(),
        &[("JOBLEDGER_DATABASE_URL", &unreachable)],
    );
    assert!(refused.contains("cannot connect"), "{refused}");
    let nats = format!("nats://user:{SECRET}@127.0.0.1:notaport");
    let bad_nats = output(&["migrate"], dir.path(), &[("JOBLEDGER_NATS_URL", &nats)]);
    assert!(bad_nats.contains("JOBLEDGER_NATS_URL"), "{bad_nats}");
    for text in [migrate, seed, refused, bad_nats] {
        assert!(!text.contains(SECRET), "a password was shown:\n{text}");
    }
}
