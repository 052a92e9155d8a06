//! `jobledger archive import PATH`: bring an existing cc-backend job archive (version 3)
//! into the database, so a site moves to jobledger with its history.
//!
//! Footprints and energy are computed as cc-backend computes them on import: from the
//! job's statistics (its `meta.json`, else its `data.json[.gz]`) and the metric settings
//! of its cluster (configured, else the archive's own `cluster.json`).

use crate::config::from_cluster_json;
use crate::domain::cluster::{Cluster, Clusters};
use crate::domain::footprint::footprint;
use crate::domain::job::{JobState, StartJob};
use crate::domain::jobdata::{job_statistics, JobData, JobStatistics, Statistics};
use crate::domain::rules::NewJob;
use crate::store::archive::ImportedJob;
use crate::store::Store;
use crate::wire::StartJobWire;
use anyhow::Context;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

#[derive(Debug, Default)]
pub(crate) struct ImportReport {
    pub imported: usize,
    pub present: usize,
    pub problems: Vec<String>,
}

pub(crate) async fn import(
    store: &Store,
    root: &Path,
    configured: &Clusters,
) -> anyhow::Result<ImportReport> {
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
    let mut clusters: HashMap<String, Option<Cluster>> = HashMap::new();
    for chunk in metas.chunks(500) {
        let mut batch = Vec::with_capacity(chunk.len());
        for (path, location) in chunk {
            let parsed = std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| Ok((parse_meta(&bytes)?, bytes)));
            match parsed {
                Ok((mut job, bytes)) => {
                    let name = job.job.cluster.clone();
                    let cluster = clusters.entry(name.clone()).or_insert_with(|| {
                        configured.get(&name).cloned().or_else(|| {
                            from_cluster_json(&name, &root.join(&name).join("cluster.json")).ok()
                        })
                    });
                    let dir = path.parent().unwrap_or(root);
                    if let Err(e) = add_footprint(&mut job, &bytes, dir, cluster.as_ref()) {
                        report.problems.push(format!("{}: {e}", dir.display()));
                    }
                    batch.push(ImportedJob {
                        job,
                        location: location.clone(),
                    });
                }
                Err(e) => report.problems.push(format!("{}: {e}", path.display())),
            }
        }
        let (imported, present) = store.archive_import(&batch, now).await?;
        report.imported += imported;
        report.present += present;
    }
    Ok(report)
}

/// The job's footprint and energy from its statistics and its cluster's metric settings.
/// Without statistics or settings the job keeps what its `meta.json` says.
fn add_footprint(
    job: &mut NewJob,
    meta: &[u8],
    dir: &Path,
    cluster: Option<&Cluster>,
) -> Result<(), String> {
    let Some(cluster) = cluster else {
        return Ok(());
    };
    #[derive(serde::Deserialize)]
    struct Meta {
        statistics: Option<BTreeMap<String, JobStatistics>>,
    }
    let given = serde_json::from_slice::<Meta>(meta)
        .map_err(|e| format!("meta.json statistics: {e}"))?
        .statistics;
    let statistics = match given {
        Some(s) if !s.is_empty() => s,
        _ => match read_data(dir)? {
            Some(data) => job_statistics(&data),
            None => return Ok(()),
        },
    };
    let j = &mut job.job;
    let metrics = cluster.metrics.all();
    let settings = metrics
        .iter()
        .map(|m| (m.name.as_str(), m.settings.on(&j.sub_cluster)));
    let duration = job.stop_time.unwrap_or(j.start_time) - j.start_time;
    let f = footprint(settings, &statistics, j.num_nodes, duration);
    if !f.footprint.is_empty() {
        j.footprint = f.footprint;
    }
    if !f.energy_footprint.is_empty() {
        j.energy_footprint = f.energy_footprint;
        j.energy = f.energy;
    }
    Ok(())
}

/// The job's `data.json` or `data.json.gz`, if it has one.
fn read_data(dir: &Path) -> Result<Option<JobData>, String> {
    let plain = dir.join("data.json");
    let gz = dir.join("data.json.gz");
    let parsed = if plain.is_file() {
        let bytes = std::fs::read(&plain).map_err(|e| format!("data.json: {e}"))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("data.json: {e}"))?
    } else if gz.is_file() {
        let file = std::fs::File::open(&gz).map_err(|e| format!("data.json.gz: {e}"))?;
        let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
        serde_json::from_reader(reader).map_err(|e| format!("data.json.gz: {e}"))?
    } else {
        return Ok(None);
    };
    // The values are the truth: old files lack some series' statistics (cc-backend's own
    // test archive has `ipc` without any).
    let mut data: JobData = parsed;
    for series in data
        .values_mut()
        .flat_map(|m| m.values_mut())
        .flat_map(|m| m.series.iter_mut())
    {
        if let Some(s) = Statistics::of(&series.data) {
            series.statistics = Some(s);
        }
    }
    Ok(Some(data))
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
