//! What archiving a job computes from its metrics: `data.json` (gzip above 2000 bytes, as
//! cc-backend writes it), the job's statistics per metric, its footprint and energy, and
//! a note in its metadata when metrics are missing.

use crate::domain::footprint::{footprint, Footprint};
use crate::domain::job::Tag;
use crate::domain::jobdata::{job_statistics, JobData, JobStatistics};
use crate::domain::metric::{MetricConfig, Scope};
use crate::store::archive::Archived;
use crate::store::query::JobRecord;
use crate::tagging::{JobFacts, MetricFacts, Metrics, Taggers, Verdict, JOB_CLASS};
use flate2::write::GzEncoder;
use std::collections::BTreeMap;
use std::io::Write;

/// cc-backend gzips `data.json` above this many bytes.
const GZIP_ABOVE: usize = 2000;

/// The metadata key that says which metrics had no samples.
pub(crate) const NOTE_KEY: &str = "metricData";

#[derive(Debug, Clone)]
pub(crate) struct Results {
    /// `data.json` or `data.json.gz`, and its bytes.
    pub data_file: (&'static str, Vec<u8>),
    pub statistics: BTreeMap<String, JobStatistics>,
    pub footprint: Footprint,
    /// What `metaData` says about missing metrics, if any are.
    pub note: Option<String>,
    /// The job classes the job falls in (cc-backend's job-class tagger).
    pub classes: Verdict,
}

impl Results {
    /// `metrics`: those the job's subcluster has.
    pub(crate) fn of(
        job: &JobRecord,
        data: &JobData,
        metrics: &[MetricConfig],
        taggers: &Taggers,
    ) -> Results {
        let statistics = job_statistics(data);
        let classes = taggers.classify(&facts(job), &metric_facts(job, metrics, &statistics));
        let settings = metrics
            .iter()
            .map(|m| (m.name.as_str(), m.settings.on(&job.sub_cluster)));
        let footprint = footprint(settings, &statistics, job.num_nodes, job.duration);
        // Accelerator metrics cannot have samples for a job without accelerators.
        let accelerators = job.num_acc.unwrap_or(0) > 0;
        let missing: Vec<&str> = metrics
            .iter()
            .filter(|m| accelerators || m.scope != Scope::Accelerator)
            .filter(|m| !data.contains_key(&m.name))
            .map(|m| m.name.as_str())
            .collect();
        let note = if data.is_empty() {
            Some(
                "none: no samples were recorded on the job's nodes between its start and stop"
                    .into(),
            )
        } else if missing.is_empty() {
            None
        } else {
            Some(format!("partial: no samples of {}", missing.join(", ")))
        };
        Results {
            data_file: data_file(data),
            statistics,
            footprint,
            note,
            classes,
        }
    }

    /// The job-class tags to attach.
    pub(crate) fn tags(&self) -> Vec<Tag> {
        self.classes
            .tags
            .iter()
            .map(|t| Tag {
                tag_type: JOB_CLASS.into(),
                name: t.clone(),
                scope: "global".into(),
            })
            .collect()
    }

    /// The job row's share: footprint, energy and the metadata note. An empty footprint
    /// leaves the job's own (one given with its start) as it is.
    pub(crate) fn archived(&self, job: &JobRecord, location: String) -> Archived {
        let json = |m: &BTreeMap<String, f64>| {
            (!m.is_empty()).then(|| serde_json::to_string(m).unwrap_or_default())
        };
        Archived {
            id: job.id,
            location,
            footprint: json(&self.footprint.footprint),
            energy_footprint: json(&self.footprint.energy_footprint),
            energy: self.footprint.energy,
            meta_patch: Some(self.meta_patch().to_string()),
        }
    }

    /// What archiving changes in the metadata, as a merge patch: the note (or its
    /// removal) and the job classes' message.
    fn meta_patch(&self) -> serde_json::Value {
        let mut patch = serde_json::Map::new();
        patch.insert(NOTE_KEY.into(), self.note.clone().into());
        if let Some(msg) = self.classes.message() {
            patch.insert("message".into(), msg.into());
        }
        patch.into()
    }

    /// The job's metadata with the note set (or an old note taken away).
    pub(crate) fn meta_data(&self, job: &JobRecord) -> serde_json::Value {
        let mut meta = job
            .meta_data
            .clone()
            .filter(serde_json::Value::is_object)
            .unwrap_or_else(|| serde_json::json!({}));
        if let Some(m) = meta.as_object_mut() {
            match &self.note {
                Some(n) => m.insert(NOTE_KEY.into(), n.clone().into()),
                None => m.remove(NOTE_KEY),
            };
            if let Some(msg) = self.classes.message() {
                m.insert("message".into(), msg.into());
            }
        }
        meta
    }
}

fn facts(job: &JobRecord) -> JobFacts {
    JobFacts {
        shared: job.shared.clone(),
        duration: job.duration,
        num_cores: job.num_hwthreads.unwrap_or(0),
        num_nodes: job.num_nodes,
        job_state: job.job_state.clone(),
        num_acc: job.num_acc.unwrap_or(0),
        smt: job.smt,
    }
}

/// Each metric's statistics with its thresholds on the job's subcluster (0 if unset).
fn metric_facts(
    job: &JobRecord,
    metrics: &[MetricConfig],
    statistics: &BTreeMap<String, JobStatistics>,
) -> Metrics {
    metrics
        .iter()
        .filter_map(|m| {
            let st = statistics.get(&m.name)?;
            let s = m.settings.on(&job.sub_cluster);
            let f = MetricFacts {
                min: st.min,
                avg: st.avg,
                max: st.max,
                peak: s.peak.unwrap_or(0.0),
                normal: s.normal.unwrap_or(0.0),
                caution: s.caution.unwrap_or(0.0),
                alert: s.alert.unwrap_or(0.0),
            };
            Some((m.name.clone(), f))
        })
        .collect()
}

fn data_file(data: &JobData) -> (&'static str, Vec<u8>) {
    let bytes = serde_json::to_vec(data).unwrap_or_else(|_| b"{}".to_vec());
    if bytes.len() <= GZIP_ABOVE {
        return ("data.json", bytes);
    }
    let mut gz = GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::default(),
    );
    match gz.write_all(&bytes).and_then(|()| gz.finish()) {
        Ok(z) => ("data.json.gz", z),
        Err(_) => ("data.json", bytes),
    }
}
