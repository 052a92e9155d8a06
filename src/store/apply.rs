//! Apply a batch of events in one transaction: pre-read what the rules need, run the
//! `Ledger`, write what it decided.
//!
//! Several jobledger processes may share one database. The rules run on a snapshot, so
//! every write is also checked by the database: unique indexes refuse a second instance or
//! a second running instance, and updates/deletes check they still hit the row they read.
//! A failed check rolls the whole batch back and it is applied again on fresh data.

use super::fault::{retry_contention, ApplyError};
use super::values::{bind_all, placeholders, style, Val};
use super::write::write;
use super::{nodes, Store};
use crate::domain::change::Change;
use crate::domain::job::JobState;
use crate::domain::rules::{HeldStop, Instance, InstanceKey, Ledger, Origin, Outcome};
use crate::domain::{Event, RejectKind};
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

/// One line of input: a valid event or one that was already found invalid.
#[derive(Debug, Clone)]
pub enum Input {
    Event(Event, Origin),
    Invalid(RejectKind, String, Origin),
}

/// What a committed batch did: one outcome per input, the ids of new instances, and the
/// changes to announce on the event stream.
#[derive(Debug, Default)]
pub struct Applied {
    pub outcomes: Vec<Outcome>,
    pub ids: HashMap<InstanceKey, i64>,
    pub changes: Vec<Change>,
}

impl Store {
    /// Apply `inputs` in order in one transaction. `hold_early_stops`: NATS holds a stop
    /// whose start is missing, HTTP rejects it as "no such job".
    pub async fn apply(
        &self,
        inputs: &[Input],
        hold_early_stops: bool,
    ) -> Result<Applied, ApplyError> {
        retry_contention(|| self.apply_once(inputs, hold_early_stops)).await
    }

    async fn apply_once(&self, inputs: &[Input], hold: bool) -> Result<Applied, ApplyError> {
        let t0 = std::time::Instant::now();
        let mut tx = self.begin_read_write().await?;
        let job_ids = job_ids(inputs, |_| true);
        let start_ids = job_ids_of_starts(inputs);
        let existing = load_instances(&mut tx, &job_ids).await?;
        let held = load_held(&mut tx, &start_ids).await?;
        let t_read = t0.elapsed();
        let mut ledger = Ledger::new(existing, held, hold);
        let mut outcomes = Vec::with_capacity(inputs.len());
        for input in inputs {
            let outcome = match input {
                Input::Event(Event::Start(j), o) => ledger.start(j.clone(), o),
                Input::Event(Event::Stop(s), o) => ledger.stop(s.clone(), o),
                Input::Event(Event::NodeState(n), o) => {
                    nodes::apply(&mut tx, n, o.received_at).await?;
                    Outcome::Recorded
                }
                Input::Invalid(kind, reason, o) => ledger.reject(o, *kind, reason.clone()),
            };
            outcomes.push(outcome);
        }
        let t_rules = t0.elapsed();
        let written = write(&mut tx, ledger.into_changes()).await?;
        let t_write = t0.elapsed();
        tx.commit().await?;
        tracing::debug!(
            inputs = inputs.len(),
            read_us = t_read.as_micros() as u64,
            rules_us = (t_rules - t_read).as_micros() as u64,
            write_us = (t_write - t_rules).as_micros() as u64,
            commit_us = (t0.elapsed() - t_write).as_micros() as u64,
            "batch applied"
        );
        Ok(Applied {
            outcomes,
            ids: written.ids,
            changes: written.changes,
        })
    }

    /// Retry held stops (a start may have reached another process) and turn those older
    /// than `expire_before` into "no such job" rejections. Returns how many were resolved.
    pub(crate) async fn sweep_held(
        &self,
        expire_before: i64,
        limit: i64,
    ) -> Result<(usize, Vec<Change>), ApplyError> {
        retry_contention(|| self.sweep_held_once(expire_before, limit)).await
    }

    async fn sweep_held_once(
        &self,
        expire_before: i64,
        limit: i64,
    ) -> Result<(usize, Vec<Change>), ApplyError> {
        let mut tx = self.begin_read_write().await?;
        let rows = sqlx::query(&format!("{HELD_SELECT} ORDER BY id LIMIT $1"))
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        let held: Vec<HeldStop> = rows.iter().map(held_from_row).collect::<Result<_, _>>()?;
        let ids: Vec<i64> = held.iter().map(|h| h.stop.job_id).collect();
        let existing = load_instances(&mut tx, &ids).await?;
        let mut ledger = Ledger::new(existing, held, true);
        ledger.retry_held(expire_before);
        let changes = ledger.into_changes();
        let resolved = changes.deleted_held.len();
        let written = write(&mut tx, changes).await?;
        tx.commit().await?;
        Ok((resolved, written.changes))
    }
}

fn job_ids(inputs: &[Input], pick: impl Fn(&Event) -> bool) -> Vec<i64> {
    let mut ids: Vec<i64> = inputs
        .iter()
        .filter_map(|i| match i {
            Input::Event(e @ Event::Start(j), _) if pick(e) => Some(j.job_id),
            Input::Event(e @ Event::Stop(s), _) if pick(e) => Some(s.job_id),
            _ => None,
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn job_ids_of_starts(inputs: &[Input]) -> Vec<i64> {
    job_ids(inputs, |e| matches!(e, Event::Start(_)))
}

async fn load_instances(
    conn: &mut AnyConnection,
    ids: &[i64],
) -> Result<Vec<Instance>, ApplyError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let sql = format!(
            "SELECT id, job_id, cluster, start_time, stop_time, job_state FROM job WHERE job_id IN {}",
            placeholders(style(conn), 1, chunk.len()).replace("),(", ",")
        );
        let vals = chunk.iter().map(|i| Val::from(*i)).collect();
        for row in bind_all(sqlx::query(&sql), vals)
            .fetch_all(&mut *conn)
            .await?
        {
            let state: String = row.try_get("job_state")?;
            out.push(Instance {
                db_id: row.try_get("id")?,
                key: InstanceKey {
                    cluster: row.try_get("cluster")?,
                    job_id: row.try_get("job_id")?,
                    start_time: row.try_get("start_time")?,
                },
                state: stored_state(&state)?,
                stop_time: row.try_get("stop_time")?,
            });
        }
    }
    Ok(out)
}

const HELD_SELECT: &str = "SELECT id, job_id, cluster, start_time, job_state, stop_time, \
                           subject, raw, received_at, source_key FROM held_stop";

async fn load_held(conn: &mut AnyConnection, ids: &[i64]) -> Result<Vec<HeldStop>, ApplyError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let sql = format!(
            "{HELD_SELECT} WHERE job_id IN {} ORDER BY id",
            placeholders(style(conn), 1, chunk.len()).replace("),(", ",")
        );
        let vals = chunk.iter().map(|i| Val::from(*i)).collect();
        for row in bind_all(sqlx::query(&sql), vals)
            .fetch_all(&mut *conn)
            .await?
        {
            out.push(held_from_row(&row)?);
        }
    }
    Ok(out)
}

fn held_from_row(row: &sqlx::any::AnyRow) -> Result<HeldStop, sqlx::Error> {
    let state: String = row.try_get("job_state")?;
    Ok(HeldStop {
        db_id: Some(row.try_get("id")?),
        stop: crate::domain::job::StopJob {
            job_id: row.try_get("job_id")?,
            cluster: row.try_get("cluster")?,
            start_time: row.try_get("start_time")?,
            state: stored_state(&state)?,
            stop_time: row.try_get("stop_time")?,
        },
        origin: Origin {
            subject: row.try_get("subject")?,
            raw: row.try_get("raw")?,
            received_at: row.try_get("received_at")?,
            source_key: row.try_get("source_key")?,
        },
    })
}

/// A job state read back from the database. One that does not parse is an error, not a
/// guess: the rules would decide on a state the job never had.
fn stored_state(s: &str) -> Result<JobState, sqlx::Error> {
    s.parse()
        .map_err(|e: String| sqlx::Error::Decode(format!("stored job_state: {e}").into()))
}
