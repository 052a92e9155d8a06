use super::*;
use crate::domain::jobdata::{JobMetric, Statistics};
use serde_json::json;

fn metric(
    scope: &str,
    prefix: &str,
    series: &[(&str, Option<&str>, &[f64])],
) -> (String, JobMetric) {
    let series = series
        .iter()
        .map(|(h, id, v)| SeriesData {
            hostname: h.to_string(),
            id: id.map(String::from),
            statistics: Statistics::of(v),
            data: v.to_vec(),
        })
        .collect();
    let jm = JobMetric {
        unit: json!({"base": "", "prefix": prefix}),
        timestep: 60,
        series,
        statistics_series: None,
    };
    (scope.to_string(), jm)
}

fn data(entries: Vec<(&str, (String, JobMetric))>) -> JobData {
    let mut d = JobData::new();
    for (m, (scope, jm)) in entries {
        d.entry(m.to_string()).or_default().insert(scope, jm);
    }
    d
}

fn job() -> JobFacts {
    JobFacts {
        shared: false,
        duration: 3600,
        walltime: Some(86_400),
        requested_memory: Some(64_000),
        cores_per_node: Some(72.0),
    }
}

#[test]
fn a_job_with_known_utilisation_reports_the_known_numbers() {
    // Two nodes: 20 % and 40 % user plus 5 % system; 8 GB and 6 GB at most (of 67.1 GB
    // requested per node); one GPU busy 30 % with 12 GB.
    let d = data(vec![
        (
            "cpu_user",
            metric(
                "node",
                "",
                &[("a", None, &[10.0, 30.0]), ("b", None, &[40.0, 40.0])],
            ),
        ),
        (
            "cpu_system",
            metric(
                "node",
                "",
                &[("a", None, &[5.0, 5.0]), ("b", None, &[5.0, 5.0])],
            ),
        ),
        (
            "mem_used",
            metric(
                "node",
                "G",
                &[("a", None, &[2.0, 8.0]), ("b", None, &[6.0, 1.0])],
            ),
        ),
        (
            "nv_util",
            metric("accelerator", "", &[("a", Some("0"), &[20.0, 40.0])]),
        ),
        (
            "nv_mem_used",
            metric(
                "accelerator",
                "M",
                &[("a", Some("0"), &[12_000.0, 9_000.0])],
            ),
        ),
    ]);
    let r = report(&job(), &d, &Thresholds::default());
    assert_eq!(r.source, "node metrics");
    let cpu = r.cpu.unwrap();
    assert_eq!(cpu.percent, 35.0);
    assert_eq!(
        cpu.per_node.iter().map(|n| n.value).collect::<Vec<_>>(),
        vec![25.0, 45.0]
    );
    let mem = r.memory.unwrap();
    assert_eq!(
        (mem.max_used_gb, mem.requested_gb, mem.percent),
        (8.0, Some(67.1), Some(11.9))
    );
    assert_eq!(r.gpus.len(), 1);
    assert_eq!(
        (r.gpus[0].utilization_percent, r.gpus[0].memory_used_gb),
        (Some(30.0), Some(12.0))
    );
    assert_eq!(r.time.unwrap().percent, 4.2);
    // Everything is poor: CPU, memory, the GPU and the walltime each get a note.
    let starts: Vec<&str> = r
        .notes
        .iter()
        .map(|n| n.split(':').next().unwrap())
        .collect();
    assert_eq!(starts, vec!["CPU", "Memory", "GPU 0 on a", "Time"]);
    assert!(r.notes[0].contains("35.0 %"), "{}", r.notes[0]);
}

#[test]
fn cgroup_metrics_win_and_a_busy_job_gets_no_notes() {
    let d = data(vec![
        ("job_user_cpu", metric("node", "", &[("a", None, &[90.0])])),
        ("cpu_user", metric("node", "", &[("a", None, &[10.0])])),
        (
            "job_max_mem_used",
            metric("node", "G", &[("a", None, &[60.0])]),
        ),
    ]);
    let shared = JobFacts {
        shared: true,
        duration: 80_000,
        ..job()
    };
    let r = report(&shared, &d, &Thresholds::default());
    assert_eq!(r.source, "job cgroup metrics");
    assert_eq!(r.cpu.unwrap().percent, 90.0);
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    // Only node metrics on a shared node: said so.
    let d = data(vec![(
        "cpu_load",
        metric("node", "", &[("a", None, &[36.0])]),
    )]);
    let r = report(&shared, &d, &Thresholds::default());
    assert_eq!(r.cpu.unwrap().percent, 50.0);
    assert!(r.notes[0].contains("shared its nodes"), "{:?}", r.notes);
    assert!(
        r.notes.iter().any(|n| n.starts_with("Memory: no memory")),
        "{:?}",
        r.notes
    );
}
