//! Domain: validated events and the rules that keep the ledger exact (contract 2 and 3).
//! Nothing here does I/O; the store feeds the rules what the database holds and writes
//! back what they decide.

pub mod change;
pub mod cluster;
pub mod efficiency;
pub mod footprint;
pub mod job;
pub mod jobdata;
pub mod metric;
pub mod nodestate;
pub mod query;
pub mod rules;

use job::{StartJob, StopJob};
use nodestate::NodeStates;

/// A decoded, valid event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Start(Box<StartJob>),
    Stop(StopJob),
    NodeState(NodeStates),
}

/// Why an event was rejected; a label in metrics and in `/api/rejected/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectKind {
    /// Not line protocol, not UTF-8, no usable `event` field.
    Decode,
    /// The JSON does not parse or has unknown keys.
    Json,
    /// The payload breaks a rule of contract section 2.
    Invalid,
    /// A start that collides with another instance of the same job.
    Conflict,
    /// A stop for an instance that already stopped with other values.
    AlreadyStopped,
    /// A stop whose start never arrived.
    NoSuchJob,
}

impl RejectKind {
    pub const ALL: [RejectKind; 6] = [
        RejectKind::Decode,
        RejectKind::Json,
        RejectKind::Invalid,
        RejectKind::Conflict,
        RejectKind::AlreadyStopped,
        RejectKind::NoSuchJob,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectKind::Decode => "decode",
            RejectKind::Json => "json",
            RejectKind::Invalid => "invalid",
            RejectKind::Conflict => "conflict",
            RejectKind::AlreadyStopped => "already_stopped",
            RejectKind::NoSuchJob => "no_such_job",
        }
    }
}
