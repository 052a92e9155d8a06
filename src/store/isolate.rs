//! The two ways a batch is applied for a caller: the stream waits out outages
//! ([`Store::apply_durably`]), HTTP reports them ([`Store::apply_or_reject`]); both find
//! the one event the database refuses and store it as rejected, with the reason.

use super::apply::{Applied, Input};
use super::fault::ApplyError;
use super::Store;
use crate::domain::{Event, RejectKind};
use crate::retry::Backoff;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

impl Store {
    /// Apply a batch from the stream, waiting out database outages. `None` if shutdown
    /// came while the database was unreachable: the caller must not acknowledge.
    pub async fn apply_durably(
        &self,
        inputs: &[Input],
        shutdown: &CancellationToken,
    ) -> Option<Applied> {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        loop {
            match self.apply_or_reject(inputs, true).await {
                Ok(applied) => return Some(applied),
                Err(e) => tracing::warn!(
                    error = format!("{e:#}"), events = inputs.len(), retry_in = ?backoff.next_wait(),
                    "database unavailable; batch not applied yet"
                ),
            }
            if !backoff.wait(shutdown).await {
                return None;
            }
        }
    }

    /// Apply `inputs`; a batch the database refuses (a data error, not an outage) is
    /// applied one input at a time so that only the offending event is rejected, with the
    /// database's reason. An outage is returned as an error, for the caller to wait out
    /// (the stream) or report (HTTP): it never rejects an event.
    pub async fn apply_or_reject(
        &self,
        inputs: &[Input],
        hold_early_stops: bool,
    ) -> Result<Applied, ApplyError> {
        let e = match self.apply(inputs, hold_early_stops).await {
            Err(e) if e.refuses_data() => e,
            other => return other,
        };
        if inputs.len() > 1 {
            tracing::warn!(
                error = format!("{e:#}"),
                events = inputs.len(),
                "database refused a batch; applying its events one by one"
            );
            let mut all = Applied::default();
            for input in inputs {
                let one =
                    Box::pin(self.apply_or_reject(std::slice::from_ref(input), hold_early_stops))
                        .await?;
                all.outcomes.extend(one.outcomes);
                all.ids.extend(one.ids);
                all.changes.extend(one.changes);
            }
            return Ok(all);
        }
        let input = &inputs[0];
        let (Input::Event(_, origin) | Input::Invalid(_, _, origin)) = input;
        tracing::warn!(error = format!("{e:#}"), event = %identity(input), "the database refused an event; storing it as rejected");
        let why = format!("the database refused the event: {e}");
        let reject = Input::Invalid(RejectKind::Invalid, why, origin.clone());
        match self.apply(&[reject], hold_early_stops).await {
            Err(e2) if e2.refuses_data() => {
                // The reason itself was refused (it quotes the data): keep the raw bytes
                // with a plain reason rather than lose the event.
                tracing::warn!(
                    error = format!("{e2:#}"),
                    "storing the database's reason failed"
                );
                let plain = "the database refused the event".to_string();
                let reject = Input::Invalid(RejectKind::Invalid, plain, origin.clone());
                self.apply(&[reject], hold_early_stops).await
            }
            other => other,
        }
    }
}

/// Who an input is, for log lines: the job and where the event came from.
fn identity(input: &Input) -> String {
    let (what, origin) = match input {
        Input::Event(Event::Start(j), o) => (
            format!(
                "start_job {} on {} at {}",
                j.job_id, j.cluster, j.start_time
            ),
            o,
        ),
        Input::Event(Event::Stop(s), o) => {
            let cluster = s.cluster.as_deref().unwrap_or("any cluster");
            (format!("stop_job {} on {cluster}", s.job_id), o)
        }
        Input::Event(Event::NodeState(n), o) => (format!("nodestate of {}", n.cluster), o),
        Input::Invalid(kind, _, o) => (format!("rejected event ({})", kind.as_str()), o),
    };
    match &origin.source_key {
        Some(k) => format!("{what} from {} ({k})", origin.subject),
        None => format!("{what} from {}", origin.subject),
    }
}
