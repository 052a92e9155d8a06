//! `jobledger seed`: synthetic but realistic jobs for the query benchmark.
//!
//! The shape follows what large centres report: a heavy-tailed number of jobs per user
//! (Zipf), users grouped into projects, most jobs on one node and 30 % on several (a few
//! on hundreds), log-normal run times cut off at the partition's walltime, and queue
//! waits of minutes to days. Two clusters share the nodes, one of them with GPUs. The
//! same `--seed` gives the same jobs.

use crate::domain::job::{JobState, StartJob};
use crate::domain::rules::NewJob;
use crate::store::Store;
use crate::wire::ResourceWire;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp, LogNormal, Zipf};
use std::collections::BTreeMap;

/// What to generate.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    pub jobs: u64,
    pub users: u64,
    pub projects: u64,
    pub nodes: u64,
    /// Start times spread over this many days, ending now.
    pub days: u64,
    pub seed: u64,
}

impl Default for Shape {
    fn default() -> Shape {
        Shape {
            jobs: 10_000_000,
            users: 1_000,
            projects: 100,
            nodes: 10_000,
            days: 365,
            seed: 1,
        }
    }
}

/// Jobs per transaction: large enough to amortise the commit, small enough to show progress.
const CHUNK: u64 = 5_000;

/// Fill an empty ledger. Refuses a database that already holds jobs: this must never
/// mix synthetic jobs into a real ledger.
pub(crate) async fn seed(store: &Store, shape: &Shape, now: i64) -> anyhow::Result<u64> {
    let existing = store.job_count().await?;
    if existing > 0 {
        anyhow::bail!("the database already holds {existing} jobs; seed only fills an empty one");
    }
    let mut gen = Generator::new(shape, now)?;
    let started = std::time::Instant::now();
    let mut done = 0;
    while done < shape.jobs {
        let n = CHUNK.min(shape.jobs - done);
        let batch: Vec<NewJob> = (done..done + n).map(|i| gen.job(i)).collect();
        store.insert_jobs(&batch).await?;
        done += n;
        if done % 500_000 < CHUNK || done == shape.jobs {
            let rate = done as f64 / started.elapsed().as_secs_f64();
            tracing::info!(jobs = done, per_second = rate as u64, "seeding");
        }
    }
    Ok(done)
}

struct Generator {
    shape: Shape,
    rng: StdRng,
    users: Zipf<f64>,
    runtime: LogNormal<f64>,
    wait: LogNormal<f64>,
    size: Exp<f64>,
    first_start: i64,
    span: f64,
    now: i64,
}

const NAMES: [&str; 8] = [
    "lammps", "gromacs", "vasp", "train", "cp2k", "openfoam", "sim", "post",
];

impl Generator {
    fn new(shape: &Shape, now: i64) -> anyhow::Result<Generator> {
        let span = (shape.days * 86_400) as f64;
        Ok(Generator {
            shape: shape.clone(),
            rng: StdRng::seed_from_u64(shape.seed),
            users: Zipf::new(shape.users, 1.0)?,
            // Median 30 minutes; a long tail to days.
            runtime: LogNormal::new((1800f64).ln(), 1.6)?,
            // Median 5 minutes in the queue.
            wait: LogNormal::new((300f64).ln(), 1.8)?,
            size: Exp::new(1.2)?,
            first_start: now - span as i64,
            span,
            now,
        })
    }

    /// Job `i`; start times grow with `i`, as Slurm's do.
    fn job(&mut self, i: u64) -> NewJob {
        let r = &mut self.rng;
        let user = self.users.sample(r) as u64; // 1..=users, user 1 busiest
        let project = (user * 7919) % self.shape.projects + 1;
        let gpu = user % 5 == 0; // a fifth of the users run on the GPU cluster
        let (cluster, partition, first_node, node_count, walltime) = if gpu {
            let partition = if r.gen_bool(0.8) { "a100" } else { "h100" };
            (
                "alex",
                partition,
                self.shape.nodes * 4 / 5,
                self.shape.nodes / 5,
                86_400,
            )
        } else {
            let long = r.gen_bool(0.05);
            let (partition, walltime) = if long {
                ("long", 7 * 86_400)
            } else {
                ("work", 86_400)
            };
            ("fritz", partition, 0, self.shape.nodes * 4 / 5, walltime)
        };
        let num_nodes = if r.gen_bool(0.3) {
            // 2 × 2^X, X exponential: median 3 nodes, mean about 5, a few up to 256.
            let x: f64 = self.size.sample(r).min(7.0);
            ((2.0 * 2f64.powf(x)) as u64).clamp(2, 256).min(node_count)
        } else {
            1
        };
        let offset = r.gen_range(0..=node_count - num_nodes);
        let resources = (0..num_nodes)
            .map(|k| ResourceWire {
                hostname: format!("n{:05}", first_node + offset + k + 1),
                hwthreads: None,
                accelerators: None,
                configuration: None,
            })
            .collect();
        let start = self.first_start + (i as f64 / self.shape.jobs as f64 * self.span) as i64;
        let runtime = (self.runtime.sample(r) as i64).clamp(1, walltime);
        let wait = (self.wait.sample(r) as i64).clamp(0, 14 * 86_400);
        let stop = start + runtime;
        let (state, stop_time) = if stop > self.now {
            (JobState::Running, None)
        } else {
            let state = match r.gen_range(0..100) {
                0..=79 => JobState::Completed,
                80..=87 => JobState::Failed,
                88..=94 => JobState::Cancelled,
                95..=98 => {
                    if runtime == walltime {
                        JobState::Timeout
                    } else {
                        JobState::Failed
                    }
                }
                _ => JobState::OutOfMemory,
            };
            (state, Some(stop))
        };
        let name = NAMES[(user as usize + i as usize % 3) % NAMES.len()];
        let meta_data = BTreeMap::from([("jobName".to_string(), format!("{name}_{}", i % 97))]);
        let job = StartJob {
            job_id: 1_000_000 + i as i64,
            cluster: cluster.into(),
            start_time: start,
            sub_cluster: "main".into(),
            partition: partition.into(),
            project: format!("p{project:03}"),
            user: format!("u{user:04}"),
            shared: "none",
            tags: Vec::new(),
            resources,
            meta_data,
            // What the archiver would have computed: most jobs use the machine a
            // little, a few a lot (job lists sort and filter by these).
            footprint: BTreeMap::from([
                (
                    "flops_any_avg".to_string(),
                    (r.gen::<f64>().powi(3) * 50_000.0).round() / 100.0,
                ),
                (
                    "mem_bw_avg".to_string(),
                    (r.gen::<f64>() * 10_000.0).round() / 100.0,
                ),
            ]),
            energy_footprint: BTreeMap::new(),
            energy: None,
            array_job_id: None,
            walltime: Some(walltime),
            requested_memory: None,
            submit_time: Some(start - wait),
            smt: 1,
            // Synthetic jobs are never archived.
            monitoring_status: 0,
            num_nodes: num_nodes as i64,
            num_hwthreads: Some(num_nodes as i64 * if gpu { 128 } else { 72 }),
            num_acc: gpu.then_some(num_nodes as i64 * 8),
        };
        NewJob {
            job: Box::new(job),
            state,
            stop_time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_valid_and_the_same_for_the_same_seed() {
        let shape = Shape {
            jobs: 1000,
            ..Shape::default()
        };
        let mut a = Generator::new(&shape, 1_800_000_000).unwrap();
        let mut b = Generator::new(&shape, 1_800_000_000).unwrap();
        let mut multi = 0;
        for i in 0..1000 {
            let (x, y) = (a.job(i), b.job(i));
            assert_eq!(x, y);
            assert_eq!(x.job.resources.len() as i64, x.job.num_nodes);
            assert!(x.job.submit_time.unwrap() <= x.job.start_time);
            if let Some(stop) = x.stop_time {
                assert!(stop >= x.job.start_time && stop <= 1_800_000_000);
            }
            multi += usize::from(x.job.num_nodes > 1);
        }
        assert!(
            (200..400).contains(&multi),
            "{multi} multi-node jobs of 1000"
        );
    }
}
