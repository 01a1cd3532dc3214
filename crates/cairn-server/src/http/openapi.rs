//! `GET /openapi.json`: the OpenAPI 3.1 description of every route, made
//! from the handlers' annotations and the `cairn-api` types.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use cairn_core::path::STORE_NAME_BYTES_MAX;
use utoipa::OpenApi;
use utoipa::openapi::OpenApi as Spec;
use utoipa::openapi::RefOr;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::schema::{ObjectBuilder, Type};

/// The document's fixed parts; the routes add their paths and schemas.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cairn",
        description = "Replicated, versioned memory for AI agents: stores of small text files, \
                       every change a version, linearizable compare-and-swap writes. Errors are \
                       application/problem+json with a stable `code`.",
    ),
    tags(
        (name = "probes", description = "Liveness, readiness, metrics and this document"),
        (name = "admin", description = "The node's Raft view and membership changes"),
        (name = "stores", description = "Stores"),
        (name = "files", description = "Files: read, write, delete, stat"),
        (name = "tree", description = "Directory listings"),
        (name = "history", description = "Versions, diffs and the audit trail"),
        (name = "txn", description = "Transactions of several operations at one revision"),
        (name = "access", description = "Organizations, users, tokens and grants"),
        (name = "memory-tool", description = "Claude's client-side memory tool answered by a store"),
        (name = "export", description = "Whole stores as archives: export, and import in chunks"),
    ),
    // The data of the change feed's server-sent events (`.../watch`), which
    // no JSON body refers to.
    components(schemas(
        cairn_api::WatchChange,
        cairn_api::WatchPath,
        cairn_api::WatchHeartbeat,
        cairn_api::WatchTooOld,
        cairn_api::WatchEnd,
        cairn_api::WatchEndReason,
    ))
)]
struct Base;

pub(super) fn base() -> Spec {
    Base::openapi()
}

/// The whole document. axum spells catch-all segments `{*path}`; OpenAPI
/// knows only `{path}`.
pub fn openapi() -> Spec {
    let (_, mut spec) = super::api_router().split_for_parts();
    spec.paths.paths = std::mem::take(&mut spec.paths.paths)
        .into_iter()
        .map(|(path, item)| (path.replace("{*", "{"), item))
        .collect();
    describe_store_names(&mut spec);
    describe_security(&mut spec);
    spec
}

/// The probes (and this document) that answer without a token; `/metrics`
/// answers without one on loopback (`[auth] metrics`).
const OPEN_PATHS: [&str; 3] = ["/health", "/ready", "/openapi.json"];

/// Every route takes a token as `Authorization: Bearer` or `x-api-key`,
/// but the open probes.
fn describe_security(spec: &mut Spec) {
    use utoipa::openapi::security::{
        ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
    };
    let components = spec.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    components.add_security_scheme(
        "api_key",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))),
    );
    let token = || {
        [
            SecurityRequirement::new("bearer", Vec::<String>::new()),
            SecurityRequirement::new("api_key", Vec::<String>::new()),
        ]
    };
    spec.security = Some(token().to_vec());
    for (path, item) in spec.paths.paths.iter_mut() {
        let open = OPEN_PATHS.contains(&path.as_str());
        if !open && path != "/metrics" {
            continue;
        }
        if let Some(operation) = item.get.as_mut() {
            let mut requirements = vec![SecurityRequirement::default()];
            if !open {
                requirements.extend(token());
            }
            operation.security = Some(requirements);
        }
    }
}

/// `cairn_core::path::StoreName`'s rule as a pattern: a letter or digit,
/// then letters, digits, `.`, `_`, `-`.
const STORE_NAME_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9._-]*$";

/// Handlers take a store name as a plain string and the service checks it,
/// so without this the document would promise that any string is a store
/// name; a generator reading it then spends its cases on `400`s.
fn describe_store_names(spec: &mut Spec) {
    let schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(STORE_NAME_PATTERN))
        .min_length(Some(1))
        .max_length(Some(STORE_NAME_BYTES_MAX))
        .build();
    for item in spec.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        let parameters = operations
            .into_iter()
            .flatten()
            .filter_map(|operation| operation.parameters.as_mut())
            .flatten();
        for parameter in parameters {
            if let RefOr::T(parameter) = parameter
                && parameter.name == "store"
                && parameter.parameter_in == ParameterIn::Path
            {
                parameter.schema = Some(schema.clone().into());
            }
        }
    }
}

static OPENAPI_JSON: LazyLock<String> = LazyLock::new(|| {
    openapi()
        .to_json()
        .unwrap_or_else(|error| format!("{{\"error\": \"OpenAPI document: {error}\"}}"))
});

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "probes",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
pub(super) async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI_JSON.as_str(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_store_parameter_carries_the_store_name_rule() {
        let spec = serde_json::to_value(openapi()).unwrap();
        let mut described = 0;
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let parameters = operation["parameters"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let store = parameters
                    .iter()
                    .find(|parameter| parameter["name"] == "store" && parameter["in"] == "path");
                assert_eq!(store.is_some(), path.contains("{store}"), "{method} {path}");
                if let Some(store) = store {
                    assert_eq!(
                        store["schema"]["pattern"], STORE_NAME_PATTERN,
                        "{method} {path}"
                    );
                    assert_eq!(
                        store["schema"]["maxLength"], STORE_NAME_BYTES_MAX,
                        "{method} {path}"
                    );
                    described += 1;
                }
            }
        }
        assert!(described >= 10, "only {described} operations take a store");
    }
}
