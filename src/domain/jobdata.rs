//! A job's metric data in cc-backend's `data.json` shape (job-archive v3), and what is
//! computed from it: each series' statistics, the statistics series across many series,
//! and the job's statistics per metric that `meta.json` carries.
//!
//! Values are written to 2 decimals and NaN as `null`, as cc-backend writes them.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// `{metric: {scope: JobMetric}}`.
pub type JobData = BTreeMap<String, BTreeMap<String, JobMetric>>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobMetric {
    pub unit: serde_json::Value,
    pub timestep: i64,
    pub series: Vec<SeriesData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistics_series: Option<StatisticsSeries>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SeriesData {
    pub hostname: String,
    /// The unit's id (socket, core, hwthread, accelerator); absent for the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Absent when the series has no sample at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistics: Option<Statistics>,
    /// One value per timestep from the first slot on; NaN (`null` in JSON) where there
    /// is none.
    #[schema(value_type = Vec<Option<f64>>)]
    #[serde(serialize_with = "values_out", deserialize_with = "values_in")]
    pub data: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Statistics {
    #[serde(serialize_with = "value_out", deserialize_with = "value_in")]
    pub min: f64,
    #[serde(serialize_with = "value_out", deserialize_with = "value_in")]
    pub avg: f64,
    #[serde(serialize_with = "value_out", deserialize_with = "value_in")]
    pub max: f64,
}

impl Statistics {
    /// Min, average and max of the values that are not NaN; `None` if there are none.
    pub fn of(values: &[f64]) -> Option<Statistics> {
        let (mut min, mut max, mut sum, mut n) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0u32);
        for v in values.iter().filter(|v| !v.is_nan()) {
            min = min.min(*v);
            max = max.max(*v);
            sum += v;
            n += 1;
        }
        (n > 0).then(|| Statistics {
            min,
            avg: sum / f64::from(n),
            max,
        })
    }
}

/// Per timestep, across the series of one scope: what a plot of many nodes shows
/// instead of one line per node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatisticsSeries {
    #[serde(serialize_with = "values_out", deserialize_with = "values_in")]
    pub min: Vec<f64>,
    #[serde(default, serialize_with = "values_out", deserialize_with = "values_in")]
    pub median: Vec<f64>,
    #[serde(default, serialize_with = "values_out", deserialize_with = "values_in")]
    pub mean: Vec<f64>,
    #[serde(serialize_with = "values_out", deserialize_with = "values_in")]
    pub max: Vec<f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub percentiles: BTreeMap<String, Percentile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Percentile(
    #[serde(serialize_with = "values_out", deserialize_with = "values_in")] pub Vec<f64>,
);

/// cc-backend adds the statistics series from this many series on.
pub const STATISTICS_SERIES_FROM: usize = 8;

/// Fewer values than this at a timestep give NaN there (cc-backend's rule).
const MIN_VALUES: usize = 3;

impl StatisticsSeries {
    /// Across `series`, per timestep, ignoring NaN; the longest series sets the length.
    pub fn of(series: &[SeriesData]) -> StatisticsSeries {
        let len = series.iter().map(|s| s.data.len()).max().unwrap_or(0);
        let mut out = StatisticsSeries {
            min: Vec::with_capacity(len),
            median: Vec::with_capacity(len),
            mean: Vec::with_capacity(len),
            max: Vec::with_capacity(len),
            percentiles: BTreeMap::new(),
        };
        let (mut p10, mut p90) = (Vec::with_capacity(len), Vec::with_capacity(len));
        let mut at = Vec::with_capacity(series.len());
        for i in 0..len {
            at.clear();
            at.extend(
                series
                    .iter()
                    .filter_map(|s| s.data.get(i))
                    .filter(|v| !v.is_nan()),
            );
            if at.len() < MIN_VALUES {
                for v in [&mut out.min, &mut out.median, &mut out.mean, &mut out.max] {
                    v.push(f64::NAN);
                }
                p10.push(f64::NAN);
                p90.push(f64::NAN);
                continue;
            }
            at.sort_by(f64::total_cmp);
            out.min.push(at[0]);
            out.max.push(at[at.len() - 1]);
            out.mean.push(at.iter().sum::<f64>() / at.len() as f64);
            out.median.push(percentile(&at, 50.0));
            p10.push(percentile(&at, 10.0));
            p90.push(percentile(&at, 90.0));
        }
        out.percentiles.insert("10".into(), Percentile(p10));
        out.percentiles.insert("90".into(), Percentile(p90));
        out
    }
}

/// The `p`th percentile of sorted values, interpolated between the two nearest ranks
/// (the median of an even count is the mean of the middle two).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

/// `meta.json` `statistics` of one metric: over the node series, the average of their
/// averages, the least minimum and the greatest maximum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStatistics {
    #[serde(default)]
    pub unit: serde_json::Value,
    #[serde(serialize_with = "value_out", deserialize_with = "value_in")]
    pub avg: f64,
    #[serde(serialize_with = "value_out", deserialize_with = "value_in")]
    pub min: f64,
    #[serde(serialize_with = "value_out", deserialize_with = "value_in")]
    pub max: f64,
}

/// Every metric's job statistics, from its `node` scope; a metric without node series
/// that have samples has none. cc-backend divides the sum of averages by the job's node
/// count; this divides by the nodes that have samples, so a node that sent nothing does
/// not pull the average towards 0 (the same when every node sent).
pub fn job_statistics(data: &JobData) -> BTreeMap<String, JobStatistics> {
    let mut out = BTreeMap::new();
    for (metric, scopes) in data {
        let Some(node) = scopes.get("node") else {
            continue;
        };
        let stats: Vec<Statistics> = node.series.iter().filter_map(|s| s.statistics).collect();
        if stats.is_empty() {
            continue;
        }
        let avg = stats.iter().map(|s| s.avg).sum::<f64>() / stats.len() as f64;
        out.insert(
            metric.clone(),
            JobStatistics {
                unit: node.unit.clone(),
                avg: round2(avg),
                min: stats.iter().map(|s| s.min).fold(f64::INFINITY, f64::min),
                max: stats
                    .iter()
                    .map(|s| s.max)
                    .fold(f64::NEG_INFINITY, f64::max),
            },
        );
    }
    out
}

/// Rounded to 2 decimals, as cc-backend writes every value.
pub fn round2(v: f64) -> f64 {
    if v.is_finite() && v.abs() < 1e13 {
        (v * 100.0).round() / 100.0
    } else {
        v
    }
}

fn value_out<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(round2(*v))
    } else {
        s.serialize_none()
    }
}

fn value_in<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

fn values_out<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for x in v {
        seq.serialize_element(&x.is_finite().then(|| round2(*x)))?;
    }
    seq.end()
}

fn values_in<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    let v = Vec::<Option<f64>>::deserialize(d)?;
    Ok(v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
}

#[cfg(test)]
mod tests;
