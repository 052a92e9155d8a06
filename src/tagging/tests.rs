//! The five job-class rules cc-backend ships (`configs/tagger/jobclasses/` at commit
//! 3bfd3d06, its 1.5 release) with its `parameters.json`, as test input: they must work
//! unchanged.

use super::*;

const SHIPPED: &[(&str, &str)] = &[
    (
        "lowload.json",
        r#"{
  "name": "Low CPU load",
  "tag": "lowload",
  "parameters": ["lowcpuload_threshold_factor", "job_min_duration_seconds"],
  "metrics": ["cpu_load"],
  "requirements": [
    "job.shared == \"none\"",
    "job.duration > job_min_duration_seconds"
  ],
  "variables": [
    {
      "name": "load_threshold",
      "expr": "cpu_load.limits.peak * lowcpuload_threshold_factor"
    }
  ],
  "rule": "cpu_load.avg < load_threshold",
  "hint": "This job was detected as low CPU load: average cpu load {{.cpu_load.avg}} is below the threshold {{.load_threshold}} ({{.lowcpuload_threshold_factor}})."
}"#,
    ),
    (
        "highload.json",
        r#"{
  "name": "Excessive CPU load",
  "tag": "excessiveload",
  "parameters": [
    "excessivecpuload_threshold_factor",
    "job_min_duration_seconds"
  ],
  "metrics": ["cpu_load"],
  "requirements": [
    "job.shared == \"none\"",
    "job.duration > job_min_duration_seconds"
  ],
  "variables": [
    {
      "name": "load_threshold",
      "expr": "cpu_load.limits.peak * excessivecpuload_threshold_factor"
    }
  ],
  "rule": "cpu_load.avg > load_threshold",
  "hint": "This job was detected as having excessive CPU load: average cpu load {{.cpu_load.avg}} exceeds the oversubscription threshold {{.load_threshold}} ({{.excessivecpuload_threshold_factor}} \u00d7 {{.cpu_load.limits.peak}} peak cores), indicating CPU contention."
}"#,
    ),
    (
        "lowUtilization.json",
        r#"{
  "name": "Low resource utilization",
  "tag": "lowutilization",
  "parameters": ["job_min_duration_seconds"],
  "metrics": ["flops_any", "mem_bw"],
  "requirements": [
    "job.shared == \"none\"",
    "job.duration > job_min_duration_seconds"
  ],
  "variables": [
    {
      "name": "mem_bw_pct",
      "expr": "mem_bw.avg / mem_bw.limits.peak * 100.0"
    },
    {
      "name": "flops_any_pct",
      "expr": "flops_any.avg / flops_any.limits.peak * 100.0"
    }
  ],
  "rule": "flops_any.avg < flops_any.limits.alert && mem_bw.avg < mem_bw.limits.alert",
  "hint": "This job shows low resource utilization: FLOP rate {{.flops_any.avg}} GF/s ({{.flops_any_pct}}% of peak) and memory bandwidth {{.mem_bw.avg}} GB/s ({{.mem_bw_pct}}% of peak) are both below their alert thresholds."
}"#,
    ),
    (
        "highMemoryUsage.json",
        r#"{
  "name": "High memory usage",
  "tag": "highmemory",
  "parameters": [
    "highmemoryusage_threshold_factor",
    "job_min_duration_seconds"
  ],
  "metrics": ["mem_used"],
  "requirements": [
    "job.shared == \"none\"",
    "job.duration > job_min_duration_seconds"
  ],
  "variables": [
    {
      "name": "memory_usage_pct",
      "expr": "mem_used.max / mem_used.limits.peak * 100.0"
    }
  ],
  "rule": "mem_used.max > mem_used.limits.alert",
  "hint": "This job used high memory: peak memory usage {{.mem_used.max}} GB ({{.memory_usage_pct}}% of {{.mem_used.limits.peak}} GB node capacity), exceeding the {{.highmemoryusage_threshold_factor}} utilization threshold. Risk of out-of-memory conditions."
}"#,
    ),
    (
        "memoryBound.json",
        r#"{
  "name": "Memory bandwidth bound",
  "tag": "memorybound",
  "parameters": ["membound_bw_threshold_factor", "job_min_duration_seconds"],
  "metrics": ["mem_bw"],
  "requirements": [
    "job.shared == \"none\"",
    "job.duration > job_min_duration_seconds"
  ],
  "variables": [
    {
      "name": "mem_bw_threshold",
      "expr": "mem_bw.limits.peak * membound_bw_threshold_factor"
    },
    {
      "name": "mem_bw_pct",
      "expr": "mem_bw.avg / mem_bw.limits.peak * 100.0"
    }
  ],
  "rule": "mem_bw.avg > mem_bw_threshold",
  "hint": "This job is memory bandwidth bound: memory bandwidth {{.mem_bw.avg}} GB/s ({{.mem_bw_pct}}% of peak) is within {{.membound_bw_threshold_factor}} of peak bandwidth. Consider improving data reuse or compute intensity."
}"#,
    ),
    (
        "parameters.json",
        r#"{
  "lowcpuload_threshold_factor": 0.85,
  "excessivecpuload_threshold_factor": 1.2,
  "highmemoryusage_threshold_factor": 0.9,
  "node_load_imbalance_threshold_factor": 0.1,
  "core_load_imbalance_threshold_factor": 0.1,
  "high_memory_load_threshold_factor": 0.9,
  "lowgpuload_threshold_factor": 0.7,
  "membound_bw_threshold_factor": 0.8,
  "memory_leak_slope_threshold": 0.1,
  "job_min_duration_seconds": 600.0,
  "sampling_interval_seconds": 30.0,
  "cpu_load_pre_cutoff_samples": 11.0,
  "cpu_load_core_pre_cutoff_samples": 6.0
}"#,
    ),
];

fn shipped() -> (tempfile::TempDir, Taggers) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("jobclasses")).unwrap();
    std::fs::create_dir_all(dir.path().join("apps")).unwrap();
    for (name, text) in SHIPPED {
        std::fs::write(dir.path().join("jobclasses").join(name), text).unwrap();
    }
    std::fs::write(
        dir.path().join("apps/vasp.txt"),
        "vasp_gam\nvasp_ncl\nvasp_std\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("apps/python.txt"),
        "python\npip\nanaconda\nconda\n",
    )
    .unwrap();
    let t = Taggers::load(dir.path()).unwrap();
    (dir, t)
}

fn job() -> JobFacts {
    JobFacts {
        shared: "none".into(),
        duration: 3600,
        num_cores: 72,
        num_nodes: 1,
        job_state: "completed".into(),
        num_acc: 0,
        smt: 1,
    }
}

/// A node used well: nothing to say about it.
fn healthy() -> Metrics {
    let m = |avg: f64, max: f64, peak: f64, alert: f64| MetricFacts {
        min: 0.0,
        avg,
        max,
        peak,
        normal: peak / 2.0,
        caution: alert * 2.0,
        alert,
    };
    Metrics::from([
        ("cpu_load".to_string(), m(70.0, 72.0, 72.0, 10.0)),
        ("flops_any".to_string(), m(400.0, 900.0, 3000.0, 50.0)),
        ("mem_bw".to_string(), m(100.0, 200.0, 350.0, 20.0)),
        ("mem_used".to_string(), m(100.0, 120.0, 256.0, 240.0)),
    ])
}

#[test]
fn each_shipped_rule_fires_on_its_job_and_not_on_a_healthy_one() {
    let (_dir, t) = shipped();
    assert_eq!(t.counts(), (2, 5));
    assert_eq!(t.classify(&job(), &healthy()), Verdict::default());
    let cases: [(&str, &str, f64, f64); 5] = [
        ("lowload", "cpu_load", 10.0, 12.0),
        ("excessiveload", "cpu_load", 100.0, 110.0),
        ("highmemory", "mem_used", 200.0, 250.0),
        ("memorybound", "mem_bw", 300.0, 340.0),
        ("lowutilization", "flops_any", 1.0, 2.0),
    ];
    for (tag, metric, avg, max) in cases {
        let mut m = healthy();
        let f = m.get_mut(metric).unwrap();
        (f.avg, f.max) = (avg, max);
        if tag == "lowutilization" {
            // Both the flop rate and the bandwidth below their alert thresholds.
            m.get_mut("mem_bw").unwrap().avg = 1.0;
        }
        let v = t.classify(&job(), &m);
        assert_eq!(v.tags, vec![tag.to_string()], "{tag}");
        assert!(!v.hints[0].contains("{{"), "{tag}: {}", v.hints[0]);
    }
    let mut low = healthy();
    low.get_mut("cpu_load").unwrap().avg = 10.0;
    let v = t.classify(&job(), &low);
    assert_eq!(
        v.message().unwrap(),
        "This job was detected as low CPU load: average cpu load 10 is below the threshold 61.2 (0.85)."
    );
    // The requirements: an exclusive job that ran longer than 10 minutes.
    let shared = JobFacts {
        shared: "multi_user".into(),
        ..job()
    };
    assert!(t.classify(&shared, &low).tags.is_empty());
    let short = JobFacts {
        duration: 300,
        ..job()
    };
    assert!(t.classify(&short, &low).tags.is_empty());
    // No statistics of a rule's metric: the rule does not hold.
    low.remove("mem_bw");
    assert_eq!(t.classify(&job(), &low).tags, vec!["lowload".to_string()]);
}

#[test]
fn apps_are_found_in_the_lowercased_job_script() {
    let (_dir, t) = shipped();
    assert_eq!(
        t.apps_of("#!/bin/bash\nsrun VASP_STD\n"),
        vec!["vasp".to_string()]
    );
    assert_eq!(
        t.apps_of("module load Anaconda; srun vasp_gam"),
        vec!["python", "vasp"]
    );
    assert!(t.apps_of("srun ./a.out").is_empty());
}

#[test]
fn a_bad_file_is_named_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("apps")).unwrap();
    std::fs::write(dir.path().join("apps/x.txt"), "ok\n(unclosed\n").unwrap();
    let e = Taggers::load(dir.path()).unwrap_err();
    assert!(e.contains("x.txt line 2"), "{e}");
    std::fs::remove_file(dir.path().join("apps/x.txt")).unwrap();
    std::fs::create_dir_all(dir.path().join("jobclasses")).unwrap();
    std::fs::write(
        dir.path().join("jobclasses/r.json"),
        r#"{"name":"n","tag":"t","parameters":["nope"],"rule":"1 < 2"}"#,
    )
    .unwrap();
    let e = Taggers::load(dir.path()).unwrap_err();
    assert!(e.contains("r.json") && e.contains("\"nope\""), "{e}");
}

#[test]
fn a_rule_that_cannot_be_evaluated_does_not_hold() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("jobclasses")).unwrap();
    std::fs::write(
        dir.path().join("jobclasses/typo.json"),
        r#"{"name":"n","tag":"typo","metrics":["cpu_load"],"rule":"cpu_load.avgg < 1"}"#,
    )
    .unwrap();
    let t = Taggers::load(dir.path()).unwrap();
    assert!(t.classify(&job(), &healthy()).tags.is_empty());
}
