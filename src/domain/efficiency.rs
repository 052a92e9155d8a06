//! A job's efficiency report in the spirit of Princeton's `jobstats`: CPU utilisation per
//! node and overall, memory used against memory requested, each GPU's utilisation and
//! memory, and time used against walltime, each with a plain note when it is poor.
//!
//! Figures come from the job's own cgroup metrics (cc-metric-collector's `slurm_cgroup`:
//! `job_user_cpu`, `job_sys_cpu`, `job_max_mem_used`, `job_mem_used`) where the cluster
//! records them, else from node metrics (`cpu_user`, `cpu_system`, `cpu_load`,
//! `mem_used`), which on a shared node include the other jobs there.

use super::jobdata::{JobData, SeriesData};
use serde::Serialize;
use utoipa::ToSchema;

/// Below these (percent) a figure gets a note.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub cpu: f64,
    pub memory: f64,
    pub gpu: f64,
    pub walltime: f64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            cpu: 50.0,
            memory: 25.0,
            gpu: 50.0,
            walltime: 25.0,
        }
    }
}

/// What the report needs of the job.
#[derive(Debug, Clone, Default)]
pub struct JobFacts {
    pub shared: bool,
    pub duration: i64,
    pub walltime: Option<i64>,
    /// Per node, MB as Slurm counts them (MiB).
    pub requested_memory: Option<i64>,
    /// Hardware threads the job owns per node, for load as a share of its cores.
    pub cores_per_node: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Where the CPU and memory figures come from: "job cgroup metrics" or "node metrics".
    pub source: String,
    pub cpu: Option<Usage>,
    pub memory: Option<Memory>,
    pub gpus: Vec<Gpu>,
    pub time: Option<Time>,
    /// Plain-language notes on what is poor, or on what could not be measured.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Percent of the job's cores, over all its nodes.
    pub percent: f64,
    pub per_node: Vec<NodeValue>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeValue {
    pub hostname: String,
    pub value: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    /// The most any node used, GB (10^9 bytes).
    pub max_used_gb: f64,
    pub per_node_gb: Vec<NodeValue>,
    pub requested_gb: Option<f64>,
    /// `max_used_gb` as a percent of `requested_gb`.
    pub percent: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Gpu {
    pub hostname: String,
    pub id: String,
    pub utilization_percent: Option<f64>,
    pub memory_used_gb: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Time {
    pub used: i64,
    pub walltime: i64,
    pub percent: f64,
}

/// The series at `scope` of the first of `metrics` the data has, with its unit's prefix
/// as a factor.
fn series<'a>(data: &'a JobData, metrics: &[&str], scope: &str) -> Option<(&'a [SeriesData], f64)> {
    metrics.iter().find_map(|m| {
        let jm = data.get(*m)?.get(scope)?;
        let scale = prefix_factor(jm.unit["prefix"].as_str().unwrap_or(""));
        Some((jm.series.as_slice(), scale))
    })
}

/// cc-backend's unit prefixes, as powers of 1000.
fn prefix_factor(p: &str) -> f64 {
    match p {
        "K" | "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        _ => 1.0,
    }
}

fn per_node(series: &[SeriesData], f: impl Fn(&SeriesData) -> Option<f64>) -> Vec<NodeValue> {
    series
        .iter()
        .filter_map(|s| {
            Some(NodeValue {
                hostname: s.hostname.clone(),
                value: round1(f(s)?),
            })
        })
        .collect()
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn mean(v: &[NodeValue]) -> Option<f64> {
    (!v.is_empty()).then(|| round1(v.iter().map(|n| n.value).sum::<f64>() / v.len() as f64))
}

/// The report from the job's series at node scope (and accelerator scope for GPUs).
pub fn report(job: &JobFacts, data: &JobData, t: &Thresholds) -> Report {
    let cgroup = data.contains_key("job_user_cpu") || data.contains_key("job_max_mem_used");
    let mut r = Report {
        source: if cgroup {
            "job cgroup metrics"
        } else {
            "node metrics"
        }
        .into(),
        cpu: cpu(data, job),
        memory: None,
        gpus: gpus(data),
        time: None,
        notes: Vec::new(),
    };
    if job.shared && !cgroup {
        r.notes.push("The job shared its nodes and only node metrics were recorded: its CPU and memory figures include the other jobs on those nodes.".into());
    }
    match &r.cpu {
        Some(c) if c.percent < t.cpu => r.notes.push(format!(
            "CPU: the job kept {:.1} % of its cores busy. Ask for fewer cores, or check that the program really runs in parallel.",
            c.percent
        )),
        Some(_) => {}
        None => r.notes.push("CPU: no CPU metrics were recorded for this job.".into()),
    }
    r.memory = memory(data, job);
    match &r.memory {
        Some(Memory { percent: Some(p), max_used_gb, requested_gb: Some(req), .. }) if *p < t.memory => r.notes.push(format!(
            "Memory: the job used at most {max_used_gb:.1} GB of the {req:.1} GB it requested per node ({p:.1} %). Requesting less lets it and others start sooner."
        )),
        Some(_) => {}
        None => r.notes.push("Memory: no memory metrics were recorded for this job.".into()),
    }
    for g in &r.gpus {
        if let Some(u) = g.utilization_percent.filter(|u| *u < t.gpu) {
            r.notes.push(format!(
                "GPU {} on {}: busy {u:.1} % of the time. Check that the program uses the GPU, or run on CPUs.",
                g.id, g.hostname
            ));
        }
    }
    if let Some(w) = job.walltime.filter(|w| *w > 0) {
        let percent = round1(job.duration as f64 / w as f64 * 100.0);
        if percent < t.walltime {
            r.notes.push(format!(
                "Time: the job ran {} s of its {w} s walltime ({percent:.1} %). A walltime closer to what it needs lets the scheduler start it sooner.",
                job.duration
            ));
        }
        r.time = Some(Time {
            used: job.duration,
            walltime: w,
            percent,
        });
    }
    r
}

fn cpu(data: &JobData, job: &JobFacts) -> Option<Usage> {
    let avg = |s: &SeriesData| s.statistics.map(|st| st.avg);
    let busy = |user: &[SeriesData], sys: Option<&[SeriesData]>| {
        per_node(user, |s| {
            let own = avg(s)?;
            let extra = sys
                .and_then(|x| x.iter().find(|y| y.hostname == s.hostname))
                .and_then(avg)
                .unwrap_or(0.0);
            Some(own + extra)
        })
    };
    let nodes = if let Some((user, _)) = series(data, &["job_user_cpu"], "node") {
        busy(user, series(data, &["job_sys_cpu"], "node").map(|x| x.0))
    } else if let Some((user, _)) = series(data, &["cpu_user"], "node") {
        busy(user, series(data, &["cpu_system"], "node").map(|x| x.0))
    } else if let (Some((load, _)), Some(cores)) =
        (series(data, &["cpu_load"], "node"), job.cores_per_node)
    {
        // The load average as a share of the job's cores: the coarsest measure there is.
        per_node(load, |s| Some(avg(s)? / cores * 100.0))
    } else {
        return None;
    };
    Some(Usage {
        percent: mean(&nodes)?,
        per_node: nodes,
    })
}

fn memory(data: &JobData, job: &JobFacts) -> Option<Memory> {
    let (s, scale) = series(
        data,
        &["job_max_mem_used", "job_mem_used", "mem_used"],
        "node",
    )?;
    let nodes = per_node(s, |s| Some(s.statistics?.max * scale / 1e9));
    let max = nodes
        .iter()
        .map(|n| n.value)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))?;
    let requested = job
        .requested_memory
        .filter(|m| *m > 0)
        .map(|mb| round1(mb as f64 * 1_048_576.0 / 1e9));
    Some(Memory {
        max_used_gb: max,
        per_node_gb: nodes,
        requested_gb: requested,
        percent: requested.map(|r| round1(max / r * 100.0)),
    })
}

fn gpus(data: &JobData) -> Vec<Gpu> {
    let util = series(data, &["nv_util", "acc_utilization"], "accelerator");
    let mem = series(data, &["nv_mem_used", "acc_mem_used"], "accelerator");
    let mut out: Vec<Gpu> = Vec::new();
    for s in util.map_or(&[][..], |u| u.0) {
        out.push(Gpu {
            hostname: s.hostname.clone(),
            id: s.id.clone().unwrap_or_default(),
            utilization_percent: s.statistics.map(|st| round1(st.avg)),
            memory_used_gb: None,
        });
    }
    if let Some((series, scale)) = mem {
        for s in series {
            let used = s.statistics.map(|st| round1(st.max * scale / 1e9));
            let id = s.id.clone().unwrap_or_default();
            match out
                .iter_mut()
                .find(|g| g.hostname == s.hostname && g.id == id)
            {
                Some(g) => g.memory_used_gb = used,
                None => out.push(Gpu {
                    hostname: s.hostname.clone(),
                    id,
                    utilization_percent: None,
                    memory_used_gb: used,
                }),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
