//! What changed in the ledger, for the live event stream (`GET /api/events`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Started,
    Stopped,
    Archived,
    /// `id` is a rejected event's, not a job's.
    Rejected,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 4] = [
        ChangeKind::Started,
        ChangeKind::Stopped,
        ChangeKind::Archived,
        ChangeKind::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Started => "started",
            ChangeKind::Stopped => "stopped",
            ChangeKind::Archived => "archived",
            ChangeKind::Rejected => "rejected",
        }
    }
}

impl std::str::FromStr for ChangeKind {
    type Err = String;
    fn from_str(s: &str) -> Result<ChangeKind, String> {
        ChangeKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("must be started, stopped, archived or rejected, got {s:?}"))
    }
}

/// One committed change: a job's database id (or a rejected event's) and what happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub kind: ChangeKind,
    pub id: i64,
}
