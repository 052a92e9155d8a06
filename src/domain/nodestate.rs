//! Node-state reports (contract 2.3): one summary state per node, plus every Slurm flag so
//! that a drained idle node stays visible as drained.

use crate::wire::NodeStatesWire;

#[derive(Debug, Clone, PartialEq)]
pub struct NodeReport {
    pub hostname: String,
    /// cc-backend's summary state: allocated, reserved, down, idle, mixed or unknown.
    pub state: &'static str,
    /// Every reported flag, lower-case, sorted, comma-joined (`drain,idle`).
    pub flags: String,
    pub cpus_allocated: Option<i64>,
    pub memory_allocated: Option<i64>,
    pub gpus_allocated: Option<i64>,
    pub jobs_running: Option<i64>,
    pub cpus_total: Option<i64>,
    pub memory_total: Option<i64>,
    pub gpus_total: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeStates {
    pub cluster: String,
    pub nodes: Vec<NodeReport>,
}

/// cc-backend's mapping, first match wins.
pub fn summary_state(flags: &[String]) -> &'static str {
    let has = |s: &str| flags.iter().any(|f| f == s);
    if has("allocated") {
        "allocated"
    } else if has("reserved") {
        "reserved"
    } else if has("idle") && has("down") {
        "down"
    } else if has("idle") {
        "idle"
    } else if has("down") {
        "down"
    } else if has("mixed") {
        "mixed"
    } else {
        "unknown"
    }
}

impl NodeStates {
    pub fn parse(w: NodeStatesWire) -> Result<NodeStates, String> {
        let cluster = w
            .cluster
            .filter(|c| !c.trim().is_empty())
            .ok_or("cluster is required")?;
        let mut nodes = Vec::new();
        for (i, n) in w.nodes.unwrap_or_default().into_iter().enumerate() {
            let hostname = n
                .hostname
                .filter(|h| !h.trim().is_empty())
                .ok_or_else(|| format!("nodes[{i}].hostname is required"))?;
            let mut flags: Vec<String> = n
                .states
                .unwrap_or_default()
                .iter()
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect();
            flags.sort();
            flags.dedup();
            nodes.push(NodeReport {
                hostname,
                state: summary_state(&flags),
                flags: flags.join(","),
                cpus_allocated: n.cpus_allocated,
                memory_allocated: n.memory_allocated,
                gpus_allocated: n.gpus_allocated,
                jobs_running: n.jobs_running,
                cpus_total: n.cpus_total,
                memory_total: n.memory_total,
                gpus_total: n.gpus_total,
            });
        }
        Ok(NodeStates { cluster, nodes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(flags: &[&str]) -> &'static str {
        summary_state(
            &flags
                .iter()
                .map(std::string::ToString::to_string)
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn mapping_follows_cc_backend_first_match_wins() {
        assert_eq!(st(&["mixed", "allocated"]), "allocated");
        assert_eq!(st(&["reserved", "idle"]), "reserved");
        assert_eq!(st(&["idle", "down"]), "down");
        assert_eq!(st(&["idle", "drain"]), "idle");
        assert_eq!(st(&["down"]), "down");
        assert_eq!(st(&["mixed"]), "mixed");
        assert_eq!(st(&["completing"]), "unknown");
    }

    #[test]
    fn flags_are_case_insensitive_and_kept() {
        let w = serde_json::from_str(
            r#"{"cluster":"c","nodes":[{"hostname":"n1","states":["IDLE","Drain"]}]}"#,
        )
        .unwrap();
        let n = NodeStates::parse(w).unwrap();
        assert_eq!(
            (n.nodes[0].state, n.nodes[0].flags.as_str()),
            ("idle", "drain,idle")
        );
    }
}
