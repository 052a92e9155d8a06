use super::*;
use crate::wire::ResourceWire;

fn start(job_id: i64, start_time: i64) -> Box<StartJob> {
    Box::new(StartJob {
        job_id,
        cluster: "c".into(),
        start_time,
        sub_cluster: String::new(),
        partition: String::new(),
        project: String::new(),
        user: "u".into(),
        shared: "none",
        tags: vec![],
        resources: vec![ResourceWire {
            hostname: "h".into(),
            hwthreads: None,
            accelerators: None,
            configuration: None,
        }],
        meta_data: Default::default(),
        footprint: Default::default(),
        energy_footprint: Default::default(),
        energy: None,
        array_job_id: None,
        walltime: None,
        requested_memory: None,
        submit_time: None,
        smt: 1,
        monitoring_status: 1,
        num_nodes: 1,
        num_hwthreads: None,
        num_acc: None,
    })
}

fn stop(job_id: i64, start_time: Option<i64>, stop_time: i64) -> StopJob {
    StopJob {
        job_id,
        cluster: Some("c".into()),
        start_time,
        state: JobState::Completed,
        stop_time,
    }
}

fn stored(db_id: i64, job_id: i64, start_time: i64, stop_time: Option<i64>) -> Instance {
    Instance {
        db_id,
        key: InstanceKey {
            cluster: "c".into(),
            job_id,
            start_time,
        },
        state: if stop_time.is_some() {
            JobState::Completed
        } else {
            JobState::Running
        },
        stop_time,
    }
}

fn origin(received_at: i64) -> Origin {
    Origin {
        subject: "s".into(),
        raw: b"raw".to_vec(),
        received_at,
        source_key: None,
    }
}

fn kind(o: Outcome) -> RejectKind {
    match o {
        Outcome::Rejected(k, _) => k,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn repeated_start_is_a_duplicate_in_the_batch_and_against_the_store() {
    let mut l = Ledger::new(vec![stored(1, 5, 100, None)], vec![], true);
    assert!(matches!(
        l.start(start(5, 100), &origin(0)),
        Outcome::Duplicate(_)
    ));
    assert!(matches!(
        l.start(start(6, 100), &origin(0)),
        Outcome::Created(_)
    ));
    assert!(matches!(
        l.start(start(6, 100), &origin(0)),
        Outcome::Duplicate(_)
    ));
    assert_eq!(l.into_changes().new_jobs.len(), 1);
}

#[test]
fn start_while_another_instance_runs_is_a_conflict() {
    let mut l = Ledger::new(vec![stored(1, 5, 100, None)], vec![], true);
    assert_eq!(
        kind(l.start(start(5, 200), &origin(0))),
        RejectKind::Conflict
    );
    assert_eq!(l.into_changes().rejections.len(), 1);
}

#[test]
fn start_inside_a_stopped_instance_is_a_conflict() {
    let mut l = Ledger::new(vec![stored(1, 5, 100, Some(300))], vec![], true);
    assert_eq!(
        kind(l.start(start(5, 200), &origin(0))),
        RejectKind::Conflict
    );
}

#[test]
fn requeue_after_the_stop_makes_a_new_instance() {
    let mut l = Ledger::new(vec![stored(1, 5, 100, Some(300))], vec![], true);
    assert!(matches!(
        l.start(start(5, 300), &origin(0)),
        Outcome::Created(_)
    ));
}

#[test]
fn stop_sets_state_and_duration() {
    let mut l = Ledger::new(vec![stored(1, 5, 100, None)], vec![], true);
    assert!(matches!(
        l.stop(stop(5, None, 160), &origin(0)),
        Outcome::Stopped(_)
    ));
    let c = l.into_changes();
    assert_eq!(c.stops[0].duration, 60);
    assert_eq!(c.stops[0].db_id, 1);
}

#[test]
fn repeated_stop_is_a_duplicate_and_a_different_one_is_rejected() {
    let mut l = Ledger::new(vec![stored(1, 5, 100, Some(160))], vec![], true);
    assert!(matches!(
        l.stop(stop(5, Some(100), 160), &origin(0)),
        Outcome::Duplicate(_)
    ));
    assert_eq!(
        kind(l.stop(stop(5, Some(100), 170), &origin(0))),
        RejectKind::AlreadyStopped
    );
}

#[test]
fn stop_before_start_is_rejected() {
    let mut l = Ledger::new(vec![stored(1, 5, 100, None)], vec![], true);
    assert_eq!(
        kind(l.stop(stop(5, None, 99), &origin(0))),
        RejectKind::Invalid
    );
}

#[test]
fn early_stop_is_held_and_applied_when_the_start_arrives() {
    let mut l = Ledger::new(vec![], vec![], true);
    assert_eq!(l.stop(stop(5, None, 160), &origin(0)), Outcome::Held);
    assert!(matches!(
        l.start(start(5, 100), &origin(0)),
        Outcome::Created(_)
    ));
    let c = l.into_changes();
    assert!(c.new_held.is_empty());
    assert_eq!(c.new_jobs[0].stop_time, Some(160));
    assert_eq!(c.new_jobs[0].state, JobState::Completed);
}

#[test]
fn a_stored_held_stop_is_consumed_by_its_start() {
    let held = HeldStop {
        db_id: Some(9),
        stop: stop(5, Some(100), 160),
        origin: origin(0),
    };
    let mut l = Ledger::new(vec![], vec![held], true);
    l.start(start(5, 100), &origin(0));
    let c = l.into_changes();
    assert_eq!(c.deleted_held, [9]);
    assert_eq!(c.new_jobs[0].stop_time, Some(160));
}

#[test]
fn held_stop_for_another_start_time_stays_held() {
    let mut l = Ledger::new(vec![], vec![], true);
    l.stop(stop(5, Some(500), 600), &origin(0));
    l.start(start(5, 100), &origin(0));
    assert_eq!(l.into_changes().new_held.len(), 1);
}

#[test]
fn without_holding_an_early_stop_is_no_such_job() {
    let mut l = Ledger::new(vec![], vec![], false);
    assert_eq!(
        kind(l.stop(stop(5, None, 160), &origin(0))),
        RejectKind::NoSuchJob
    );
}

#[test]
fn retry_applies_found_held_stops_and_expires_old_ones() {
    let held = |id, job| HeldStop {
        db_id: Some(id),
        stop: stop(job, None, 160),
        origin: origin(id),
    };
    let existing = vec![stored(1, 5, 100, None)];
    let mut l = Ledger::new(existing, vec![held(1, 5), held(2, 6), held(30, 7)], true);
    l.retry_held(10);
    let c = l.into_changes();
    assert_eq!(c.stops.len(), 1, "job 5 stopped");
    assert_eq!(
        c.deleted_held,
        [1, 2],
        "job 6's stop expired, job 7's is young"
    );
    assert_eq!(c.rejections[0].kind, RejectKind::NoSuchJob);
}

#[test]
fn stop_without_start_time_prefers_the_running_instance() {
    let existing = vec![stored(1, 5, 100, None), stored(2, 5, 50, Some(90))];
    let mut l = Ledger::new(existing, vec![], true);
    assert!(
        matches!(l.stop(stop(5, None, 160), &origin(0)), Outcome::Stopped(k) if k.start_time == 100)
    );
}
