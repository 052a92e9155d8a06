//! cc-metric-store's query API (`/api/query`), so a cc-backend can point its
//! `metric-store-external` at jobledger.

use super::auth::Caller;
use super::openapi::ErrorBody;
use super::{ApiError, AppState};
use crate::auth::Action;
use crate::domain::jobdata::Statistics;
use crate::domain::metric::Scope;
use crate::tsdb::downsample::lttb;
use crate::tsdb::read::Grid;
use crate::tsdb::scope::{at_scope, combine, Owned};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct QueryRequest {
    cluster: String,
    #[serde(default)]
    queries: Vec<MetricQuery>,
    /// Metrics to read for every node of the cluster.
    #[serde(default, rename = "for-all-nodes")]
    for_all_nodes: Vec<String>,
    from: i64,
    to: i64,
    #[serde(default, rename = "with-stats")]
    with_stats: bool,
    #[serde(default, rename = "with-data")]
    with_data: bool,
    /// Accepted for compatibility: answers always start at `from`.
    #[serde(default, rename = "with-padding")]
    #[allow(dead_code)]
    with_padding: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub(super) struct MetricQuery {
    metric: String,
    host: String,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(default, rename = "type-ids", skip_serializing_if = "Vec::is_empty")]
    type_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subtype: Option<String>,
    #[serde(default, rename = "subtype-ids", skip_serializing_if = "Vec::is_empty")]
    subtype_ids: Vec<String>,
    #[serde(default)]
    resolution: i64,
    #[serde(default, rename = "scale-by", skip_serializing_if = "Option::is_none")]
    scale_by: Option<f64>,
    #[serde(default)]
    aggreg: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct QueryResponse {
    /// The queries `for-all-nodes` made, in the order of `results`.
    #[serde(skip_serializing_if = "Option::is_none")]
    queries: Option<Vec<MetricQuery>>,
    results: Vec<Vec<MetricResult>>,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub(super) struct MetricResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Vec<Option<f64>>>,
    from: i64,
    to: i64,
    resolution: i64,
    avg: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
}

/// Read series the way cc-metric-store answers them: one list of results per query,
/// one result per selected unit (or one for all of them with `aggreg`).
#[utoipa::path(method(get, post), path = "/api/query", tag = "metrics",
    request_body = QueryRequest,
    responses(
        (status = 200, description = "One list of results per query", body = QueryResponse),
        (status = 400, description = "Not a query", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The role may not read node metrics", body = ErrorBody),
        (status = 503, description = "The metric store cannot be read now", body = ErrorBody),
    ))]
pub(super) async fn query(
    State(app): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<QueryResponse>, ApiError> {
    caller.require(Action::ReadNodeMetrics)?;
    let req: QueryRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("not a metric query: {e}")))?;
    if req.from > req.to {
        return Err(ApiError::bad_request("`from` must not be after `to`"));
    }
    let mut queries = req.queries.clone();
    let generated = !req.for_all_nodes.is_empty();
    if generated {
        for host in app
            .tsdb
            .hosts(&app.store, &req.cluster)
            .await
            .map_err(|e| unavailable(e.into()))?
        {
            for metric in &req.for_all_nodes {
                queries.push(MetricQuery {
                    metric: metric.clone(),
                    host: host.clone(),
                    scope: None,
                    type_ids: Vec::new(),
                    subtype: None,
                    subtype_ids: Vec::new(),
                    resolution: 0,
                    scale_by: None,
                    aggreg: false,
                });
            }
        }
    }
    let mut results = Vec::with_capacity(queries.len());
    for q in &queries {
        results.push(answer(&app, &req, q).await?);
    }
    Ok(Json(QueryResponse {
        queries: generated.then_some(queries),
        results,
    }))
}

fn unavailable(e: anyhow::Error) -> ApiError {
    tracing::warn!(error = format!("{e:#}"), "reading metrics failed");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the metric store cannot be read now; try again",
    )
}

async fn answer(
    app: &AppState,
    req: &QueryRequest,
    q: &MetricQuery,
) -> Result<Vec<MetricResult>, ApiError> {
    let fail = |msg: String| {
        Ok(vec![MetricResult {
            error: Some(msg),
            from: req.from,
            to: req.to,
            ..Default::default()
        }])
    };
    let Some(config) = app.clusters.metrics(&req.cluster).get(&q.metric).cloned() else {
        return fail(format!(
            "unknown metric {:?} for cluster {:?}",
            q.metric, req.cluster
        ));
    };
    let slots = req.to.saturating_sub(req.from) / config.timestep;
    if slots > crate::tsdb::read::MAX_SLOTS {
        return fail(format!(
            "the time window holds {slots} samples per series; at most {} are served",
            crate::tsdb::read::MAX_SLOTS
        ));
    }
    let scope = match q.scope.as_deref() {
        None => Scope::Node,
        Some(s) => match Scope::parse(s) {
            Some(s) => s,
            None => return fail(format!("unknown type {s:?}")),
        },
    };
    let grids = app
        .tsdb
        .series(
            &app.store,
            &req.cluster,
            std::slice::from_ref(&q.host),
            std::slice::from_ref(&q.metric),
            (req.from, req.to),
        )
        .await
        .map_err(unavailable)?;
    let Some(first) = grids.first() else {
        return fail(format!("no samples of {} on {}", q.metric, q.host));
    };
    let (start, timestep) = (first.start, first.timestep);
    // (unit id, values) for each unit selected.
    let selected: Vec<(String, Vec<f64>)> = if let Some(subtype) = &q.subtype {
        grids
            .iter()
            .filter(|g| g.key.scope == scope && g.key.stype == *subtype)
            .filter(|g| q.type_ids.is_empty() || q.type_ids.contains(&g.key.scope_id))
            .filter(|g| q.subtype_ids.is_empty() || q.subtype_ids.contains(&g.key.stype_id))
            .map(|g| {
                (
                    format!("{}/{}", g.key.scope_id, g.key.stype_id),
                    g.values.clone(),
                )
            })
            .collect()
    } else {
        let refs: Vec<&Grid> = grids.iter().collect();
        let topology = app
            .clusters
            .subcluster_of(&req.cluster, &q.host)
            .map(|s| s.topology.clone())
            .unwrap_or_default();
        at_scope(
            &refs,
            config.aggregation,
            scope,
            &topology,
            &Owned::default(),
        )
        .into_iter()
        .map(|u| (u.id.unwrap_or_default(), u.values))
        .filter(|(id, _)| scope == Scope::Node || q.type_ids.is_empty() || q.type_ids.contains(id))
        .collect()
    };
    let units: Vec<Vec<f64>> = if q.aggreg && selected.len() > 1 {
        let refs: Vec<&[f64]> = selected.iter().map(|(_, v)| v.as_slice()).collect();
        vec![combine(&refs, config.aggregation)]
    } else {
        selected.into_iter().map(|(_, v)| v).collect()
    };
    let len = i64::try_from(units.first().map_or(0, Vec::len)).unwrap_or(0);
    Ok(units
        .into_iter()
        .map(|mut values| {
            if let Some(f) = q.scale_by.filter(|f| *f != 0.0 && *f != 1.0) {
                for v in &mut values {
                    *v *= f;
                }
            }
            let stats = Statistics::of(&values).filter(|_| req.with_stats);
            let resolution = q.resolution.max(timestep);
            if resolution > timestep {
                let points = values.len() * usize::try_from(timestep).unwrap_or(1);
                values = lttb(
                    &values,
                    points.div_ceil(usize::try_from(resolution).unwrap_or(1)),
                );
            }
            MetricResult {
                error: None,
                data: req
                    .with_data
                    .then(|| values.iter().map(|v| (!v.is_nan()).then_some(*v)).collect()),
                from: start,
                to: start + len * timestep,
                resolution,
                avg: stats.map(|s| s.avg),
                min: stats.map(|s| s.min),
                max: stats.map(|s| s.max),
            }
        })
        .collect())
}
