use super::*;
use serde_json::json;

fn series(host: &str, data: &[f64]) -> SeriesData {
    SeriesData {
        hostname: host.into(),
        id: None,
        statistics: Statistics::of(data),
        data: data.to_vec(),
    }
}

#[test]
fn values_are_written_to_two_decimals_and_nan_as_null() {
    let s = series("n1", &[1.004, f64::NAN, 2.0 / 3.0]);
    let text = serde_json::to_string(&s).unwrap();
    assert_eq!(
        text,
        r#"{"hostname":"n1","statistics":{"min":0.67,"avg":0.84,"max":1.0},"data":[1.0,null,0.67]}"#
    );
    let back: SeriesData = serde_json::from_str(&text).unwrap();
    assert!(back.data[1].is_nan());
    assert_eq!(back.data[2], 0.67);
}

#[test]
fn the_statistics_series_ignores_gaps_and_needs_three_values() {
    let s: Vec<SeriesData> = (0..8)
        .map(|i| {
            let v = f64::from(i);
            // The last timestep has only two values.
            let last = if i < 2 { v } else { f64::NAN };
            series(&format!("n{i}"), &[v, 10.0 * v, last])
        })
        .collect();
    let st = StatisticsSeries::of(&s);
    assert_eq!(st.min[..2], [0.0, 0.0]);
    assert_eq!(st.max[..2], [7.0, 70.0]);
    assert_eq!(st.mean[..2], [3.5, 35.0]);
    // Eight values: the median is the mean of the middle two.
    assert_eq!(st.median[..2], [3.5, 35.0]);
    assert!((st.percentiles["10"].0[0] - 0.7).abs() < 1e-9);
    assert!((st.percentiles["90"].0[0] - 6.3).abs() < 1e-9);
    assert!(st.min[2].is_nan() && st.median[2].is_nan() && st.percentiles["90"].0[2].is_nan());
}

#[test]
fn job_statistics_average_the_nodes_and_take_extremes() {
    let metric = |series: Vec<SeriesData>| JobMetric {
        unit: json!({"base": "B", "prefix": "G"}),
        timestep: 60,
        series,
        statistics_series: None,
    };
    let mut data = JobData::new();
    data.entry("mem_used".into()).or_default().insert(
        "node".into(),
        metric(vec![
            series("a", &[1.0, 3.0]),
            series("b", &[10.0, 20.0]),
            series("silent", &[f64::NAN]),
        ]),
    );
    // Only finer scopes: no job statistics.
    data.entry("flops_any".into())
        .or_default()
        .insert("core".into(), metric(vec![series("a", &[1.0])]));
    let st = job_statistics(&data);
    assert_eq!(st.len(), 1);
    let m = &st["mem_used"];
    assert_eq!((m.min, m.avg, m.max), (1.0, 8.5, 20.0));
    assert_eq!(m.unit["prefix"], "G");
}
