//! Contract section 3 as pure logic over a working set.
//!
//! The store loads every instance and held stop of the job ids a batch touches, the
//! `Ledger` applies the batch's events in order, and `into_changes` says what to write.
//! Doing the rules in memory lets a whole batch cost a handful of statements; the database
//! still has the last word through its unique indexes (see `store::apply`).

use super::job::{JobState, StartJob, StopJob};
use super::RejectKind;
use std::collections::HashMap;

/// An instance is one row: (cluster, jobId, startTime).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceKey {
    pub cluster: String,
    pub job_id: i64,
    pub start_time: i64,
}

impl InstanceKey {
    /// The instance a start creates.
    pub fn of(job: &crate::domain::job::StartJob) -> InstanceKey {
        InstanceKey {
            cluster: job.cluster.clone(),
            job_id: job.job_id,
            start_time: job.start_time,
        }
    }
}

/// What the rules need to know about a stored instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub db_id: i64,
    pub key: InstanceKey,
    pub state: JobState,
    pub stop_time: Option<i64>,
}

/// Where an event came from; kept with held stops and rejections so nothing is lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub subject: String,
    pub raw: Vec<u8>,
    pub received_at: i64,
    /// Stream identity of the line (`stream/seq/published/line`); makes redelivery idempotent.
    pub source_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HeldStop {
    /// `None` until it has been written.
    pub db_id: Option<i64>,
    pub stop: StopJob,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Created(InstanceKey),
    Duplicate(InstanceKey),
    Stopped(InstanceKey),
    Held,
    /// Node states written.
    Recorded,
    Rejected(RejectKind, String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub origin: Origin,
    pub kind: RejectKind,
    pub reason: String,
}

/// A new instance to insert, possibly already stopped by a stop in the same batch.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub job: Box<StartJob>,
    pub state: JobState,
    pub stop_time: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StopUpdate {
    pub db_id: i64,
    pub state: JobState,
    pub stop_time: i64,
    pub duration: i64,
}

#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    pub new_jobs: Vec<NewJob>,
    pub stops: Vec<StopUpdate>,
    pub new_held: Vec<HeldStop>,
    pub deleted_held: Vec<i64>,
    pub rejections: Vec<Rejection>,
}

struct Slot {
    db_id: Option<i64>,
    key: InstanceKey,
    state: JobState,
    stop_time: Option<i64>,
    new: Option<Box<StartJob>>,
    stopped_now: bool,
}

enum Target {
    Found(usize),
    Missing,
    Ambiguous(String),
}

pub struct Ledger {
    jobs: HashMap<i64, Vec<Slot>>,
    held: Vec<HeldStop>,
    /// NATS holds early stops until their start arrives; HTTP answers 404 instead.
    hold_early_stops: bool,
    deleted_held: Vec<i64>,
    rejections: Vec<Rejection>,
}

impl Ledger {
    pub fn new(existing: Vec<Instance>, held: Vec<HeldStop>, hold_early_stops: bool) -> Self {
        let mut jobs: HashMap<i64, Vec<Slot>> = HashMap::new();
        for i in existing {
            jobs.entry(i.key.job_id).or_default().push(Slot {
                db_id: Some(i.db_id),
                key: i.key,
                state: i.state,
                stop_time: i.stop_time,
                new: None,
                stopped_now: false,
            });
        }
        Ledger {
            jobs,
            held,
            hold_early_stops,
            deleted_held: Vec::new(),
            rejections: Vec::new(),
        }
    }

    pub fn start(&mut self, job: Box<StartJob>, origin: &Origin) -> Outcome {
        let slots = self.jobs.entry(job.job_id).or_default();
        let same_cluster = || slots.iter().filter(|s| s.key.cluster == job.cluster);
        if let Some(s) = same_cluster().find(|s| s.key.start_time == job.start_time) {
            return Outcome::Duplicate(s.key.clone());
        }
        for s in same_cluster() {
            let why = match s.stop_time {
                None => format!(
                    "conflicting start: job {} on {} is still running since {}",
                    job.job_id, job.cluster, s.key.start_time
                ),
                Some(stop) if s.key.start_time < job.start_time && job.start_time < stop => {
                    format!(
                        "conflicting start: job {} on {} ran from {} to {}, over startTime {}",
                        job.job_id, job.cluster, s.key.start_time, stop, job.start_time
                    )
                }
                Some(_) => continue,
            };
            return self.reject(origin, RejectKind::Conflict, why);
        }
        let key = InstanceKey::of(&job);
        slots.push(Slot {
            db_id: None,
            key: key.clone(),
            state: JobState::Running,
            stop_time: None,
            new: Some(job),
            stopped_now: false,
        });
        let idx = slots.len() - 1;
        self.apply_held_to(&key, idx);
        Outcome::Created(key)
    }

    pub fn stop(&mut self, stop: StopJob, origin: &Origin) -> Outcome {
        match self.find_target(&stop) {
            Target::Found(idx) => match self.apply_stop(stop.job_id, idx, &stop) {
                Outcome::Rejected(kind, why) => self.reject(origin, kind, why),
                outcome => outcome,
            },
            Target::Ambiguous(why) => self.reject(origin, RejectKind::Invalid, why),
            Target::Missing if self.hold_early_stops => {
                self.held.push(HeldStop {
                    db_id: None,
                    stop,
                    origin: origin.clone(),
                });
                Outcome::Held
            }
            Target::Missing => self.reject(
                origin,
                RejectKind::NoSuchJob,
                format!("no such job: {}", describe(&stop)),
            ),
        }
    }

    /// Retry stored held stops against the instances loaded; reject those older than
    /// `expire_before` (unix s) that still found no start.
    pub fn retry_held(&mut self, expire_before: i64) {
        let pending: Vec<HeldStop> = std::mem::take(&mut self.held);
        for h in pending {
            match self.find_target(&h.stop) {
                Target::Found(idx) => {
                    self.deleted_held.extend(h.db_id);
                    if let Outcome::Rejected(kind, why) =
                        self.apply_stop(h.stop.job_id, idx, &h.stop)
                    {
                        self.reject(&h.origin, kind, why);
                    }
                }
                Target::Ambiguous(why) => {
                    self.deleted_held.extend(h.db_id);
                    self.reject(&h.origin, RejectKind::Invalid, why);
                }
                Target::Missing if h.origin.received_at < expire_before => {
                    self.deleted_held.extend(h.db_id);
                    let why = format!("no such job: no start arrived for {}", describe(&h.stop));
                    self.reject(&h.origin, RejectKind::NoSuchJob, why);
                }
                Target::Missing => self.held.push(h),
            }
        }
    }

    pub fn into_changes(self) -> Changes {
        let mut changes = Changes {
            new_held: self
                .held
                .into_iter()
                .filter(|h| h.db_id.is_none())
                .collect(),
            deleted_held: self.deleted_held,
            rejections: self.rejections,
            ..Changes::default()
        };
        for slot in self.jobs.into_values().flatten() {
            match (slot.new, slot.db_id) {
                (Some(job), _) => changes.new_jobs.push(NewJob {
                    job,
                    state: slot.state,
                    stop_time: slot.stop_time,
                }),
                (None, Some(db_id)) if slot.stopped_now => {
                    let stop_time = slot.stop_time.unwrap_or(slot.key.start_time);
                    changes.stops.push(StopUpdate {
                        db_id,
                        state: slot.state,
                        stop_time,
                        duration: stop_time - slot.key.start_time,
                    });
                }
                _ => {}
            }
        }
        changes
    }

    /// Record an event that cannot be applied; it is stored with its reason.
    pub fn reject(&mut self, origin: &Origin, kind: RejectKind, reason: String) -> Outcome {
        self.rejections.push(Rejection {
            origin: origin.clone(),
            kind,
            reason: reason.clone(),
        });
        Outcome::Rejected(kind, reason)
    }

    /// Held stops waiting for this new instance, oldest first.
    fn apply_held_to(&mut self, key: &InstanceKey, idx: usize) {
        let (matching, rest): (Vec<HeldStop>, Vec<HeldStop>) =
            std::mem::take(&mut self.held).into_iter().partition(|h| {
                h.stop.job_id == key.job_id
                    && h.stop.cluster.as_ref().is_none_or(|c| *c == key.cluster)
                    && h.stop.start_time.is_none_or(|t| t == key.start_time)
            });
        self.held = rest;
        for h in matching {
            self.deleted_held.extend(h.db_id);
            if let Outcome::Rejected(kind, why) = self.apply_stop(key.job_id, idx, &h.stop) {
                self.reject(&h.origin, kind, why);
            }
        }
    }

    /// The instance a stop means: the one with its startTime if given, else the running
    /// one, else the newest.
    fn find_target(&self, stop: &StopJob) -> Target {
        let Some(slots) = self.jobs.get(&stop.job_id) else {
            return Target::Missing;
        };
        let cands: Vec<usize> = (0..slots.len())
            .filter(|&i| {
                stop.cluster
                    .as_ref()
                    .is_none_or(|c| *c == slots[i].key.cluster)
            })
            .collect();
        if let Some(t) = stop.start_time {
            return cands
                .into_iter()
                .find(|&i| slots[i].key.start_time == t)
                .map_or(Target::Missing, Target::Found);
        }
        let running: Vec<usize> = cands
            .iter()
            .copied()
            .filter(|&i| slots[i].stop_time.is_none())
            .collect();
        match running.len() {
            0 => cands
                .into_iter()
                .max_by_key(|&i| slots[i].key.start_time)
                .map_or(Target::Missing, Target::Found),
            1 => Target::Found(running[0]),
            _ => Target::Ambiguous(format!(
                "job {} is running on several clusters; the stop must name its cluster",
                stop.job_id
            )),
        }
    }

    fn apply_stop(&mut self, job_id: i64, idx: usize, stop: &StopJob) -> Outcome {
        let s = &mut self.jobs.get_mut(&job_id).expect("target exists")[idx];
        match s.stop_time {
            Some(prev) if prev == stop.stop_time && s.state == stop.state => {
                Outcome::Duplicate(s.key.clone())
            }
            Some(prev) => Outcome::Rejected(
                RejectKind::AlreadyStopped,
                format!(
                    "already stopped: job {} on {} (started {}) stopped at {} as {}",
                    job_id, s.key.cluster, s.key.start_time, prev, s.state
                ),
            ),
            None if stop.stop_time < s.key.start_time => Outcome::Rejected(
                RejectKind::Invalid,
                format!(
                    "stopTime {} is before the job's startTime {}",
                    stop.stop_time, s.key.start_time
                ),
            ),
            None => {
                s.state = stop.state;
                s.stop_time = Some(stop.stop_time);
                s.stopped_now = true;
                Outcome::Stopped(s.key.clone())
            }
        }
    }
}

fn describe(stop: &StopJob) -> String {
    let mut s = format!("jobId {}", stop.job_id);
    if let Some(c) = &stop.cluster {
        s += &format!(" on {c}");
    }
    if let Some(t) = stop.start_time {
        s += &format!(" started at {t}");
    }
    s
}

#[cfg(test)]
mod tests;
