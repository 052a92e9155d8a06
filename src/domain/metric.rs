//! What a cluster measures: cc-backend's `metricConfig` and node `topology`, parsed from its
//! `cluster.json` (or the built-in default), and the scope hierarchy that says how samples
//! of a finer level add up to a coarser one.

use super::footprint::Settings;
use serde::Deserialize;
use std::fmt;

/// The level a sample describes (cc-metric-collector's `type` tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Scope {
    Hwthread,
    Core,
    Llc,
    Die,
    MemoryDomain,
    Socket,
    Accelerator,
    Node,
}

impl Scope {
    pub const ALL: [Scope; 8] = [
        Scope::Node,
        Scope::Socket,
        Scope::MemoryDomain,
        Scope::Die,
        Scope::Llc,
        Scope::Core,
        Scope::Hwthread,
        Scope::Accelerator,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scope::Node => "node",
            Scope::Socket => "socket",
            Scope::MemoryDomain => "memoryDomain",
            Scope::Die => "die",
            Scope::Llc => "llc",
            Scope::Core => "core",
            Scope::Hwthread => "hwthread",
            Scope::Accelerator => "accelerator",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.name() == s)
    }

    /// Whether samples at `self` can be added up into `coarser`: hwthreads into anything
    /// but accelerators, accelerators only into the node.
    pub fn is_finer_than(self, coarser: Scope) -> bool {
        match (self, coarser) {
            (Scope::Accelerator, c) => c == Scope::Node,
            (_, Scope::Accelerator) => false,
            (s, c) => s < c,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    Sum,
    Avg,
}

/// One entry of `metricConfig`, with what the metric store needs typed and the entry as
/// written kept for the archive and the per-job results built on it.
#[derive(Debug, Clone)]
pub struct MetricConfig {
    pub name: String,
    pub unit: serde_json::Value,
    pub scope: Scope,
    pub aggregation: Aggregation,
    /// Seconds between samples: the grid the samples are kept on.
    pub timestep: i64,
    /// Footprint, energy and thresholds, per subcluster.
    pub settings: Settings,
    pub raw: serde_json::Value,
}

/// What one series measures: a metric of one unit (`scope`, `scope_id`) of one node,
/// optionally a sub-unit (`stype`, `stype_id`, such as a network interface).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    pub cluster: String,
    pub host: String,
    pub metric: String,
    pub scope: Scope,
    /// `""` for the node.
    pub scope_id: String,
    pub stype: String,
    pub stype_id: String,
}

/// Which hwthreads make up each socket, core, … of a node (cc-backend's `topology`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Topology {
    #[serde(default)]
    pub node: Vec<i64>,
    #[serde(default)]
    pub socket: Vec<Vec<i64>>,
    #[serde(default)]
    pub memory_domain: Vec<Vec<i64>>,
    #[serde(default)]
    pub die: Vec<Vec<i64>>,
    #[serde(default)]
    pub core: Vec<Vec<i64>>,
    #[serde(default)]
    pub accelerators: Vec<Accelerator>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Accelerator {
    pub id: String,
}

impl Topology {
    /// The groups of hwthreads that make up the units of `scope`, if the topology says.
    fn groups(&self, scope: Scope) -> Option<&[Vec<i64>]> {
        let g = match scope {
            Scope::Socket => &self.socket,
            Scope::MemoryDomain => &self.memory_domain,
            Scope::Die => &self.die,
            Scope::Core => &self.core,
            _ => return None,
        };
        (!g.is_empty()).then_some(g.as_slice())
    }

    /// The id at `coarser` that the unit `id` at `finer` belongs to. Everything belongs to
    /// the node (id "0"); otherwise the unit's first hwthread decides.
    pub fn parent(&self, finer: Scope, id: &str, coarser: Scope) -> Option<String> {
        if coarser == Scope::Node {
            return Some("0".into());
        }
        let hwthread = match finer {
            Scope::Hwthread => id.parse::<i64>().ok()?,
            other => *self
                .groups(other)?
                .get(id.parse::<usize>().ok()?)?
                .first()?,
        };
        let groups = self.groups(coarser)?;
        groups
            .iter()
            .position(|g| g.contains(&hwthread))
            .map(|i| i.to_string())
    }
}

/// cc-metric-collector's usual node metrics, at 60 s: what a cluster without a metric
/// configuration records, so a newcomer sees data at once (README "Metrics").
pub fn default_metrics() -> Vec<MetricConfig> {
    use Aggregation::{Avg, Sum};
    let m = |name: &str, unit: serde_json::Value, scope, aggregation| {
        let raw = serde_json::json!({
            "name": name, "unit": unit, "scope": Scope::name(scope),
            "aggregation": if aggregation == Sum { "sum" } else { "avg" },
            "timestep": 60, "peak": 0, "normal": 0, "caution": 0, "alert": 0,
        });
        MetricConfig {
            name: name.into(),
            unit,
            scope,
            aggregation,
            timestep: 60,
            settings: Settings::default(),
            raw,
        }
    };
    let unit = |base: &str, prefix: Option<&str>| match prefix {
        Some(p) => serde_json::json!({"base": base, "prefix": p}),
        None => serde_json::json!({ "base": base }),
    };
    vec![
        m("cpu_load", unit("", None), Scope::Node, Avg),
        m("cpu_user", unit("", None), Scope::Hwthread, Avg),
        m("cpu_system", unit("", None), Scope::Hwthread, Avg),
        m("cpu_iowait", unit("", None), Scope::Hwthread, Avg),
        m("mem_used", unit("B", Some("G")), Scope::Node, Sum),
        m("flops_any", unit("F/s", Some("G")), Scope::Hwthread, Sum),
        m("mem_bw", unit("B/s", Some("G")), Scope::Socket, Sum),
        m("net_bytes_in", unit("B/s", None), Scope::Node, Sum),
        m("net_bytes_out", unit("B/s", None), Scope::Node, Sum),
        m("ib_recv", unit("B/s", None), Scope::Node, Sum),
        m("ib_xmit", unit("B/s", None), Scope::Node, Sum),
        m("nv_util", unit("", None), Scope::Accelerator, Avg),
        m("nv_mem_used", unit("B", Some("M")), Scope::Accelerator, Sum),
    ]
}

/// A cluster's metrics by name, for the ingest path's per-sample lookup.
#[derive(Debug, Clone, Default)]
pub struct MetricSet {
    // foldhash: looked up once per sample on the ingest path.
    by_name: foldhash::HashMap<String, MetricConfig>,
}

impl MetricSet {
    pub fn new(metrics: Vec<MetricConfig>) -> MetricSet {
        MetricSet {
            by_name: metrics.into_iter().map(|m| (m.name.clone(), m)).collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&MetricConfig> {
        self.by_name.get(name)
    }

    /// Every metric, sorted by name.
    pub fn all(&self) -> Vec<&MetricConfig> {
        let mut v: Vec<&MetricConfig> = self.by_name.values().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }
}

/// cc-backend's `metricConfig` entry, as far as the store reads it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMetric {
    name: String,
    #[serde(default)]
    unit: serde_json::Value,
    scope: Scope,
    aggregation: Option<Aggregation>,
    timestep: i64,
}

/// Parse one `metricConfig` entry; an error says which field is wrong.
pub fn parse_metric(raw: serde_json::Value) -> Result<MetricConfig, String> {
    let m: RawMetric = serde_json::from_value(raw.clone()).map_err(|e| e.to_string())?;
    if m.timestep <= 0 {
        return Err(format!("metric {:?}: timestep must be positive", m.name));
    }
    let settings = Settings::parse(&raw).map_err(|e| format!("metric {:?}: {e}", m.name))?;
    Ok(MetricConfig {
        settings,
        aggregation: m.aggregation.unwrap_or(Aggregation::Avg),
        name: m.name,
        unit: m.unit,
        scope: m.scope,
        timestep: m.timestep,
        raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topo() -> Topology {
        // Two sockets of two cores of two hwthreads: core c holds hwthreads 2c and 2c+1.
        serde_json::from_value(serde_json::json!({
            "node": [0,1,2,3,4,5,6,7],
            "socket": [[0,1,2,3],[4,5,6,7]],
            "memoryDomain": [[0,1,2,3],[4,5,6,7]],
            "core": [[0,1],[2,3],[4,5],[6,7]],
        }))
        .unwrap()
    }

    #[test]
    fn units_find_their_parents_through_the_topology() {
        let t = topo();
        assert_eq!(
            t.parent(Scope::Hwthread, "5", Scope::Socket).as_deref(),
            Some("1")
        );
        assert_eq!(
            t.parent(Scope::Hwthread, "5", Scope::Core).as_deref(),
            Some("2")
        );
        assert_eq!(
            t.parent(Scope::Core, "1", Scope::Socket).as_deref(),
            Some("0")
        );
        assert_eq!(
            t.parent(Scope::Core, "3", Scope::Node).as_deref(),
            Some("0")
        );
        assert_eq!(t.parent(Scope::Hwthread, "99", Scope::Socket), None);
        assert_eq!(
            Topology::default().parent(Scope::Hwthread, "1", Scope::Socket),
            None
        );
    }

    #[test]
    fn scopes_order_from_fine_to_coarse() {
        assert!(Scope::Hwthread.is_finer_than(Scope::Node));
        assert!(Scope::Core.is_finer_than(Scope::Socket));
        assert!(!Scope::Socket.is_finer_than(Scope::Core));
        assert!(Scope::Accelerator.is_finer_than(Scope::Node));
        assert!(!Scope::Accelerator.is_finer_than(Scope::Socket));
        assert!(!Scope::Hwthread.is_finer_than(Scope::Accelerator));
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.name()), Some(s));
        }
    }

    #[test]
    fn every_cc_backend_example_metric_parses() {
        for name in ["emmy", "fritz", "alex"] {
            let path = format!("../shared/reference/ccb/clusters/{name}.json");
            let text = std::fs::read_to_string(&path).unwrap();
            let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
            for m in doc["metricConfig"].as_array().unwrap() {
                parse_metric(m.clone()).unwrap();
            }
        }
    }
}
