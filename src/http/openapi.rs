//! The OpenAPI 3 document (`GET /api/openapi.json`). Paths come from the handlers'
//! `#[utoipa::path]` attributes as the router registers them (`utoipa_axum::routes!`),
//! schemas from the types they return, so the document cannot drift from the code.

use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(title = "jobledger", description = "Exact HPC job ledger; cc-backend compatible job API."),
    modifiers(&Security),
    components(schemas(crate::domain::job::JobState)),
    security(("bearer" = []), ("x-auth-token" = [])),
    tags(
        (name = "jobs", description = "Reading jobs, statistics and live changes"),
        (name = "ingest", description = "Job and node events over REST (same rules as NATS)"),
        (name = "edit", description = "Tags and metadata"),
        (name = "status", description = "Nodes, rejected events, version, health, metrics"),
    )
)]
pub(super) struct ApiDoc;

/// cc-backend's two ways of sending a token.
struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        c.add_security_scheme(
            "x-auth-token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Auth-Token"))),
        );
    }
}

/// The document as served, from what the router's paths made of [`ApiDoc`]: unique
/// operation ids (one handler serves several methods), links from a created job to the
/// routes that take its id (so fuzzers and clients can follow them), and this document's
/// own route. Links are added to the JSON: utoipa 5 writes their keys in snake_case.
pub(super) fn finish(mut doc: utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for item in doc.paths.paths.values_mut() {
        for (_, op) in operations(item) {
            if let Some(id) = op.and_then(|o| o.operation_id.clone()) {
                *seen.entry(id).or_default() += 1;
            }
        }
    }
    let mut targets = Vec::new();
    for (path, item) in &mut doc.paths.paths {
        for (method, op) in operations(item) {
            let Some(op) = op else { continue };
            let id = op.operation_id.clone().unwrap_or_default();
            if seen.get(&id).copied().unwrap_or(0) > 1 {
                op.operation_id = Some(format!("{id}_{method}"));
            }
            if path.contains("{id}") {
                targets.extend(op.operation_id.clone());
            }
        }
    }
    let mut json = serde_json::to_value(&doc).unwrap_or_default();
    let links: serde_json::Map<String, serde_json::Value> = targets
        .iter()
        .map(|t| {
            let link =
                serde_json::json!({"operationId": t, "parameters": {"id": "$response.body#/id"}});
            (t.clone(), link)
        })
        .collect();
    for method in ["post", "put"] {
        if let Some(created) = json
            .pointer_mut(&format!(
                "/paths/~1api~1jobs~1start_job~1/{method}/responses/201"
            ))
            .and_then(|r| r.as_object_mut())
        {
            created.insert("links".into(), links.clone().into());
        }
    }
    if let Some(paths) = json.get_mut("paths").and_then(|p| p.as_object_mut()) {
        paths.insert(
            "/api/openapi.json".into(),
            serde_json::json!({"get": {
                "tags": ["status"], "summary": "This OpenAPI document", "operationId": "openapi",
                "security": [{}],
                "responses": {"200": {"description": "OpenAPI 3 document",
                    "content": {"application/json": {"schema": {"type": "object"}}}}}
            }}),
        );
    }
    json
}

fn operations(
    i: &mut utoipa::openapi::path::PathItem,
) -> [(&'static str, Option<&mut utoipa::openapi::path::Operation>); 5] {
    [
        ("get", i.get.as_mut()),
        ("put", i.put.as_mut()),
        ("post", i.post.as_mut()),
        ("delete", i.delete.as_mut()),
        ("patch", i.patch.as_mut()),
    ]
}

/// Every error: `{"status": "<HTTP status text>", "error": "<message>"}`.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ErrorBody {
    pub status: String,
    pub error: String,
}

/// The answer to a start: cc-backend's shape.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Created {
    pub msg: String,
    pub id: Option<i64>,
}

/// `{"key": ..., "value": ...}`, the body of edit_meta.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MetaEdit {
    pub key: String,
    pub value: String,
}

/// One metadata entry of a job.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct MetaEntry {
    pub key: String,
    pub value: String,
}

/// The body of `PUT /api/jobs/{id}/metadata/{key}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MetaValue {
    pub value: String,
}

/// Paging and order of `/api/jobs/`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(super) struct PageParams {
    /// From 1.
    #[param(minimum = 1)]
    page: Option<i64>,
    /// Default 25, at most 100000.
    #[param(rename = "items-per-page")]
    #[param(minimum = 1)]
    items_per_page: Option<i64>,
    /// Include `metaData` (default false).
    #[param(rename = "with-metadata")]
    with_metadata: Option<bool>,
    /// `<startTime|duration|numNodes>[:<asc|desc>]`, default `startTime:desc`.
    #[param(pattern = r"^(startTime|duration|numNodes)(:(asc|desc))?$")]
    sort: Option<String>,
}

/// Paging of lists other than jobs.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(super) struct PlainPageParams {
    #[param(minimum = 1)]
    page: Option<i64>,
    #[param(rename = "items-per-page")]
    #[param(minimum = 1)]
    items_per_page: Option<i64>,
}
