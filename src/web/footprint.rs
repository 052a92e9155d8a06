//! A job's footprint as small bars, each as long as its share of the metric's peak and
//! coloured by the metric's thresholds, as cc-backend's job list draws them.

use crate::domain::cluster::Clusters;
use crate::domain::footprint::MetricSettings;
use std::collections::HashMap;

pub(super) struct Bar {
    pub(super) name: String,
    pub(super) value: String,
    /// Share of the peak, 0 to 100.
    pub(super) width: u32,
    /// `good`, `caution`, `alert`, or `unknown` without thresholds.
    pub(super) level: &'static str,
}

/// The metric settings of each (cluster, subcluster), looked up once per page.
pub(super) struct Thresholds<'a> {
    clusters: &'a Clusters,
    seen: HashMap<(String, String), HashMap<String, MetricSettings>>,
}

impl<'a> Thresholds<'a> {
    pub(super) fn new(clusters: &'a Clusters) -> Self {
        Thresholds {
            clusters,
            seen: HashMap::new(),
        }
    }

    fn of(&mut self, cluster: &str, sub: &str) -> &HashMap<String, MetricSettings> {
        let clusters = self.clusters;
        self.seen
            .entry((cluster.to_string(), sub.to_string()))
            .or_insert_with(|| {
                clusters
                    .metrics_of(cluster, sub)
                    .into_iter()
                    .map(|m| {
                        let s = m.settings.on(sub).clone();
                        (m.name, s)
                    })
                    .collect()
            })
    }

    /// The bars of a job's footprint (`{"flops_any_avg": 12.5, ...}`), in name order.
    pub(super) fn bars(
        &mut self,
        cluster: &str,
        sub: &str,
        footprint: &serde_json::Value,
    ) -> Vec<Bar> {
        let Some(map) = footprint.as_object() else {
            return Vec::new();
        };
        let settings = self.of(cluster, sub);
        map.iter()
            .filter_map(|(name, v)| Some((name, v.as_f64()?)))
            .map(|(name, value)| {
                let metric = name.rsplit_once('_').map_or(name.as_str(), |(m, _)| m);
                let s = settings.get(metric);
                Bar {
                    name: name.clone(),
                    value: format!("{value:.2}"),
                    width: s
                        .and_then(|s| s.peak)
                        .filter(|p| *p > 0.0)
                        .map_or(0, |peak| {
                            (value / peak * 100.0).clamp(0.0, 100.0).round() as u32
                        }),
                    level: s.map_or("unknown", |s| level(s, value)),
                }
            })
            .collect()
    }
}

/// cc-backend's colouring: at or beyond `alert` is red, beyond `caution` yellow, else
/// green; "beyond" is below for most metrics and above for those where less is better.
pub(super) fn level(s: &MetricSettings, value: f64) -> &'static str {
    let (Some(caution), Some(alert)) = (s.caution, s.alert) else {
        return "unknown";
    };
    let worse = |limit: f64| {
        if s.lower_is_better {
            value >= limit
        } else {
            value <= limit
        }
    };
    if worse(alert) {
        "alert"
    } else if worse(caution) {
        "caution"
    } else {
        "good"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_thresholds_either_way_round() {
        let mut s = MetricSettings {
            peak: Some(100.0),
            normal: Some(50.0),
            caution: Some(20.0),
            alert: Some(5.0),
            ..MetricSettings::default()
        };
        assert_eq!(level(&s, 60.0), "good");
        assert_eq!(level(&s, 10.0), "caution");
        assert_eq!(level(&s, 5.0), "alert");
        s.lower_is_better = true;
        (s.caution, s.alert) = (Some(50.0), Some(80.0));
        assert_eq!(level(&s, 10.0), "good");
        assert_eq!(level(&s, 60.0), "caution");
        assert_eq!(level(&s, 90.0), "alert");
        assert_eq!(level(&MetricSettings::default(), 1.0), "unknown");
    }
}
