//! What a cluster's `metricConfig` says about judging a job, beyond storing its samples:
//! which statistic goes into the job's footprint, which metrics measure power, and the
//! thresholds (peak, normal, caution, alert) — each overridable per subcluster — and the
//! footprint and energy computed from a job's statistics with them, as cc-backend does.

use super::jobdata::{round2, JobStatistics};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The statistic of a metric that stands for the job in its footprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stat {
    Avg,
    Min,
    Max,
}

impl Stat {
    pub fn name(self) -> &'static str {
        match self {
            Stat::Avg => "avg",
            Stat::Min => "min",
            Stat::Max => "max",
        }
    }

    pub fn of(self, s: &JobStatistics) -> f64 {
        match self {
            Stat::Avg => s.avg,
            Stat::Min => s.min,
            Stat::Max => s.max,
        }
    }
}

/// What a metric's values are, for the job's energy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnergyKind {
    /// Watts: energy is the average power times the duration.
    Power,
    /// Joules or Wh already (cc-backend does not compute these either).
    Energy,
}

/// A metric's judging settings, for one subcluster.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricSettings {
    pub peak: Option<f64>,
    pub normal: Option<f64>,
    pub caution: Option<f64>,
    pub alert: Option<f64>,
    pub footprint: Option<Stat>,
    pub energy: Option<EnergyKind>,
    #[serde(default)]
    pub lower_is_better: bool,
    #[serde(default)]
    pub remove: bool,
}

/// A metric's settings and the subclusters that change them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    pub base: MetricSettings,
    /// Per subcluster: the base with that subcluster's overrides applied.
    pub subclusters: Vec<(String, MetricSettings)>,
}

impl Settings {
    /// From a `metricConfig` entry; an error names the field.
    pub fn parse(raw: &serde_json::Value) -> Result<Settings, String> {
        let base: MetricSettings =
            serde_json::from_value(raw.clone()).map_err(|e| format!("{e}"))?;
        let mut subclusters = Vec::new();
        for (i, o) in raw["subClusters"]
            .as_array()
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .enumerate()
        {
            let name = o["name"]
                .as_str()
                .ok_or_else(|| format!("subClusters[{i}].name is missing"))?;
            // The overrides are the keys the entry has; the rest is the entry's own.
            let mut merged = raw.clone();
            if let (Some(m), Some(o)) = (merged.as_object_mut(), o.as_object()) {
                m.extend(o.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            let s: MetricSettings = serde_json::from_value(merged)
                .map_err(|e| format!("subClusters[{i}] ({name}): {e}"))?;
            subclusters.push((name.to_string(), s));
        }
        Ok(Settings { base, subclusters })
    }

    /// The settings on `subcluster` (the base where it changes nothing).
    pub fn on(&self, subcluster: &str) -> &MetricSettings {
        self.subclusters
            .iter()
            .find(|(n, _)| n == subcluster)
            .map_or(&self.base, |(_, s)| s)
    }
}

/// A job's footprint, energy per metric and total energy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Footprint {
    /// `<metric>_<avg|min|max>` → value, for metrics whose settings name a statistic.
    pub footprint: BTreeMap<String, f64>,
    /// Metric → kWh, for metrics that measure power.
    pub energy_footprint: BTreeMap<String, f64>,
    /// kWh, the sum of `energy_footprint`; `None` when no metric measures power.
    pub energy: Option<f64>,
}

/// cc-backend's footprint and energy: a power metric's energy is its average (over the
/// job's nodes) times the node count times the duration, in kWh, 2 decimals. Metrics
/// without statistics are left out, not counted as 0.
pub fn footprint<'a>(
    metrics: impl IntoIterator<Item = (&'a str, &'a MetricSettings)>,
    statistics: &BTreeMap<String, JobStatistics>,
    num_nodes: i64,
    duration: i64,
) -> Footprint {
    let mut out = Footprint::default();
    for (name, s) in metrics {
        let Some(st) = statistics.get(name) else {
            continue;
        };
        if let Some(stat) = s.footprint {
            out.footprint
                .insert(format!("{name}_{}", stat.name()), stat.of(st));
        }
        if s.energy == Some(EnergyKind::Power) {
            let kwh = st.avg * num_nodes as f64 * duration as f64 / 3600.0 / 1000.0;
            out.energy_footprint.insert(name.to_string(), round2(kwh));
        }
    }
    if !out.energy_footprint.is_empty() {
        out.energy = Some(round2(out.energy_footprint.values().sum()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subclusters_override_the_settings_they_name() {
        let s = Settings::parse(&json!({
            "name": "flops_any", "footprint": "avg", "peak": 100, "alert": 5,
            "subClusters": [{"name": "spr", "footprint": "max", "peak": 200},
                            {"name": "gone", "remove": true}]
        }))
        .unwrap();
        assert_eq!(s.on("main").footprint, Some(Stat::Avg));
        assert_eq!(s.on("spr").footprint, Some(Stat::Max));
        assert_eq!(s.on("spr").peak, Some(200.0));
        assert_eq!(s.on("spr").alert, Some(5.0));
        assert!(s.on("gone").remove);
        assert!(!s.on("spr").remove);
        let bad = Settings::parse(&json!({"footprint": "median"})).unwrap_err();
        assert!(bad.contains("median"), "{bad}");
    }

    #[test]
    fn footprint_and_energy_follow_cc_backends_formula() {
        let st = |avg| JobStatistics {
            unit: json!({}),
            avg,
            min: 1.0,
            max: 9.0,
        };
        let stats = BTreeMap::from([
            ("load".to_string(), st(2.5)),
            ("pwr".to_string(), st(250.0)),
        ]);
        let load = MetricSettings {
            footprint: Some(Stat::Max),
            ..Default::default()
        };
        let pwr = MetricSettings {
            energy: Some(EnergyKind::Power),
            ..Default::default()
        };
        let missing = load.clone();
        // 250 W on each of 4 nodes for 2 hours: 2 kWh.
        let f = footprint(
            [("load", &load), ("pwr", &pwr), ("none", &missing)],
            &stats,
            4,
            7200,
        );
        assert_eq!(f.footprint, BTreeMap::from([("load_max".to_string(), 9.0)]));
        assert_eq!(
            f.energy_footprint,
            BTreeMap::from([("pwr".to_string(), 2.0)])
        );
        assert_eq!(f.energy, Some(2.0));
        assert_eq!(footprint([("load", &load)], &stats, 4, 7200).energy, None);
    }
}
