//! What archiving a job computes from its metrics: `data.json` (gzip above 2000 bytes, as
//! cc-backend writes it), the job's statistics per metric, its footprint and energy, and
//! a note in its metadata when metrics are missing.

use crate::domain::footprint::{footprint, Footprint};
use crate::domain::jobdata::{job_statistics, JobData, JobStatistics};
use crate::domain::metric::{MetricConfig, Scope};
use crate::store::archive::Archived;
use crate::store::query::JobRecord;
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
}

impl Results {
    /// `metrics`: those the job's subcluster has.
    pub(crate) fn of(job: &JobRecord, data: &JobData, metrics: &[MetricConfig]) -> Results {
        let statistics = job_statistics(data);
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
        }
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
            meta_data: Some(serde_json::to_string(&self.meta_data(job)).unwrap_or_default()),
        }
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
        }
        meta
    }
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
