//! `GET /api/events`: a Server-Sent Events stream of job changes (started, stopped,
//! archived) and rejected events, with the filters of `/api/jobs/`.
//!
//! Each change on the feed is checked against the stream's filter and the caller's scope
//! in the database (one query per committed batch), so the stream shows exactly what
//! `/api/jobs/` would. Rejected events belong to no job: they go to admin and api tokens,
//! and only to streams without job filters.

use super::auth::Caller;
use super::filters::{allowed, job_filter};
use super::openapi::ErrorBody;
use super::params::Params;
use super::{ApiError, AppState};
use crate::auth::Action;
use crate::domain::change::{Change, ChangeKind};
use crate::domain::query::JobFilter;
use crate::feed::Batch;
use axum::extract::{RawQuery, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use tokio::sync::broadcast::error::RecvError;

struct Watch {
    app: AppState,
    filter: JobFilter,
    kinds: Vec<ChangeKind>,
    with_metadata: bool,
}

/// Live job changes as `event: started|stopped|archived|rejected`, `data:` the job (or
/// rejected event) as JSON; `event: lagged` if the client fell behind.
#[utoipa::path(get, path = "/api/events", tag = "jobs",
    params(super::filters::FilterParams,
        ("kind" = Option<Vec<String>>, Query, description = "started, stopped, archived, rejected (repeatable; default all)"),
        ("with-metadata" = Option<bool>, Query, description = "Include metaData in jobs")),
    responses(
        (status = 200, description = "An endless text/event-stream", content_type = "text/event-stream", body = String),
        (status = 400, description = "A bad or unknown parameter", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
    ))]
pub(super) async fn events(
    State(app): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let p = Params::parse(q.as_deref(), &allowed(&["kind", "with-metadata"]))?;
    let filter = job_filter(&p, &caller)?;
    let mut kinds = p
        .all("kind")
        .map(str::parse::<ChangeKind>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::bad_request(format!("kind: {e}")))?;
    if kinds.is_empty() {
        kinds = ChangeKind::ALL.to_vec();
    }
    let unfiltered = JobFilter {
        scope: filter.scope.clone(),
        ..JobFilter::default()
    } == filter;
    if !(caller.0.may(Action::ReadRejected) && unfiltered) {
        kinds.retain(|k| *k != ChangeKind::Rejected);
    }
    let watch = Watch {
        with_metadata: p.boolean("with-metadata", false)?,
        app: app.clone(),
        filter,
        kinds,
    };
    let rx = app.feed.subscribe();
    let shutdown = app.shutdown.clone();
    let stream = futures::stream::unfold(
        (watch, rx, VecDeque::new()),
        move |(watch, mut rx, mut queue)| {
            let shutdown = shutdown.clone();
            async move {
                loop {
                    if let Some(ev) = queue.pop_front() {
                        return Some((Ok(ev), (watch, rx, queue)));
                    }
                    let got = tokio::select! {
                        _ = shutdown.cancelled() => return None,
                        got = rx.recv() => got,
                    };
                    match got {
                        Ok(batch) => queue.extend(watch.render(&batch).await),
                        Err(RecvError::Lagged(n)) => {
                            queue.push_back(Event::default().event("lagged").data(format!(
                                "{n} batches of changes were missed; reread /api/jobs/"
                            )));
                        }
                        Err(RecvError::Closed) => return None,
                    }
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

impl Watch {
    /// The events of one batch this stream should see, in commit order.
    async fn render(&self, batch: &Batch) -> Vec<Event> {
        let wanted: Vec<&Change> = batch
            .iter()
            .filter(|c| self.kinds.contains(&c.kind))
            .collect();
        let mut job_ids: Vec<i64> = wanted
            .iter()
            .filter(|c| c.kind != ChangeKind::Rejected)
            .map(|c| c.id)
            .collect();
        job_ids.sort_unstable();
        job_ids.dedup();
        let rejected_ids: Vec<i64> = wanted
            .iter()
            .filter(|c| c.kind == ChangeKind::Rejected)
            .map(|c| c.id)
            .collect();
        let jobs = match self.app.store.jobs_matching(&job_ids, &self.filter).await {
            Ok(jobs) => jobs,
            Err(e) => return vec![failure(e)],
        };
        let jobs: HashMap<i64, _> = jobs
            .into_iter()
            .map(|mut j| {
                if !self.with_metadata {
                    j.meta_data = None;
                }
                (j.id, j)
            })
            .collect();
        let rejected = match self.app.store.rejected_by_ids(&rejected_ids).await {
            Ok(r) => r.into_iter().map(|r| (r.id, r)).collect::<HashMap<_, _>>(),
            Err(e) => return vec![failure(e)],
        };
        let mut out = Vec::new();
        for c in wanted {
            let data = match c.kind {
                ChangeKind::Rejected => rejected.get(&c.id).map(serde_json::to_string),
                _ => jobs.get(&c.id).map(serde_json::to_string),
            };
            if let Some(Ok(json)) = data {
                out.push(Event::default().event(c.kind.as_str()).data(json));
            }
        }
        out
    }
}

fn failure(e: sqlx::Error) -> Event {
    tracing::warn!(
        error = format!("{e:#}"),
        "reading changes for an event stream failed"
    );
    Event::default()
        .event("lagged")
        .data("the database did not answer; some changes were missed; reread /api/jobs/")
}
