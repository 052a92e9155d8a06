//! `jobledger archive import PATH`: bring an existing cc-backend job archive (version 3)
//! into the database, so a site moves to jobledger with its history.

use crate::domain::cluster::Clusters;
use crate::domain::job::{JobState, StartJob};
use crate::domain::rules::NewJob;
use crate::store::archive::ImportedJob;
use crate::store::Store;
use crate::wire::StartJobWire;
use anyhow::Context;
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Debug, Default)]
pub(crate) struct ImportReport {
    pub imported: usize,
    pub present: usize,
    pub problems: Vec<String>,
}

pub(crate) async fn import(store: &Store, root: &Path) -> anyhow::Result<ImportReport> {
    let version = std::fs::read_to_string(root.join("version.txt"))
        .with_context(|| format!("{} has no readable version.txt", root.display()))?;
    if version.trim() != super::layout::VERSION {
        anyhow::bail!(
            "{}: archive version {:?}; only version 3 can be imported",
            root.display(),
            version.trim()
        );
    }
    let metas = meta_files(root)?;
    let now = chrono::Utc::now().timestamp();
    let mut report = ImportReport::default();
    for chunk in metas.chunks(500) {
        let mut batch = Vec::with_capacity(chunk.len());
        for (path, location) in chunk {
            let parsed = std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| parse_meta(&bytes));
            match parsed {
                Ok(job) => batch.push(ImportedJob {
                    job,
                    location: location.clone(),
                }),
                Err(e) => report.problems.push(format!("{}: {e}", path.display())),
            }
        }
        let (imported, present) = store.archive_import(&batch, now).await?;
        report.imported += imported;
        report.present += present;
    }
    Ok(report)
}

/// `<cluster>/<a>/<b>/<startTime>/meta.json` below `root`, with its job folder.
fn meta_files(root: &Path) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    let mut dirs = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = dirs.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
        for e in entries.flatten() {
            let path = e.path();
            if !path.is_dir() || e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if depth == 3 {
                let meta = path.join("meta.json");
                if meta.is_file() {
                    let rel = path.strip_prefix(root).unwrap_or(&path);
                    out.push((meta, rel.to_string_lossy().replace('\\', "/")));
                }
            } else {
                dirs.push((path, depth + 1));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A `meta.json` → the stopped job it describes, judged by the same rules as a start.
pub(crate) fn parse_meta(bytes: &[u8]) -> Result<NewJob, String> {
    let mut v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v.as_object_mut().ok_or("not a JSON object")?;
    let state: JobState = obj
        .get("jobState")
        .and_then(Value::as_str)
        .ok_or("no jobState")?
        .parse()?;
    if state == JobState::Running {
        return Err("the archived job is marked running".into());
    }
    let duration = obj
        .get("duration")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .max(0);
    // What the archive adds to a start payload.
    for k in [
        "stopTime",
        "monitoringStatus",
        "archiveLocation",
        "archivedAt",
        "archiveError",
    ] {
        obj.remove(k);
    }
    // A start without smt means 1; an archive that says 0 keeps it.
    let smt_zero = obj.get("smt").and_then(Value::as_i64) == Some(0);
    let wire: StartJobWire = serde_json::from_value(v).map_err(|e| format!("bad job: {e}"))?;
    let mut job =
        StartJob::parse(wire, &Clusters::default()).map_err(|e| format!("invalid job: {e}"))?;
    if smt_zero {
        job.smt = 0;
    }
    let stop_time = Some(job.start_time + duration);
    Ok(NewJob {
        job: Box::new(job),
        state,
        stop_time,
    })
}
