//! The OpenAPI 3.1 document, generated from the route table so that it cannot list an
//! endpoint the router lacks or miss one it has. `docs/openapi.json` is this document,
//! committed; a test fails when they differ (`STELLA_BLESS=1` rewrites the file).

use serde_json::{json, Map, Value};

use super::routes::{Route, ROUTES};

/// The document, with keys sorted (serde_json's map is ordered).
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(methods) = entry {
            methods.insert(route.method.to_ascii_lowercase(), operation(route));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "stella-scheduler control plane",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Runs, jobs, findings, rechecks, runtime hooks and queue control of one stella-scheduler site. docs/api.md explains tokens, scopes, tenants and error codes.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "A token from `stella-scheduler tokens add`." }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": { "type": "string", "description": "Stable; see docs/api.md." },
                                "message": { "type": "string" }
                            }
                        }
                    }
                },
                "Selector": {
                    "type": "object",
                    "description": "Exactly one of all (true), artifact, purl, vulnerability.",
                    "properties": {
                        "all": { "type": "boolean", "const": true },
                        "artifact": { "type": "string", "pattern": "^sha256:[0-9a-f]{64}$" },
                        "purl": { "type": "string" },
                        "vulnerability": { "type": "string" }
                    },
                    "additionalProperties": false
                },
                "NewSchedule": {
                    "type": "object",
                    "required": ["name", "cron", "timezone", "selector"],
                    "properties": {
                        "name": { "type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$" },
                        "cron": { "type": "string", "description": "Five fields: minute hour day-of-month month day-of-week." },
                        "timezone": { "type": "string", "description": "An IANA zone, such as Europe/Berlin." },
                        "selector": { "$ref": "#/components/schemas/Selector" }
                    },
                    "additionalProperties": false
                },
                "RuntimeEvent": {
                    "type": "object",
                    "required": ["artifact", "environment", "event"],
                    "properties": {
                        "artifact": { "type": "string", "pattern": "^sha256:[0-9a-f]{64}$" },
                        "environment": { "type": "string", "minLength": 1, "maxLength": 128 },
                        "event": { "type": "string", "enum": ["deployed", "running", "retired"] }
                    },
                    "additionalProperties": false
                }
            }
        }
    })
}

fn operation(route: &Route) -> Value {
    let mut op = Map::new();
    op.insert("summary".into(), route.summary.into());
    op.insert("tags".into(), json!([route.tag]));
    op.insert("operationId".into(), operation_id(route).into());
    let mut parameters: Vec<Value> = path_parameters(route.path)
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    parameters.extend(query_parameters(route));
    if route.path.ends_with("/rechecks") {
        parameters.push(json!({"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "maxLength": 200}}));
    }
    if route.path.ends_with("/hooks/runtime") {
        parameters.push(json!({"name": "X-Stella-Signature", "in": "header", "required": false, "description": "sha256=<hex HMAC-SHA256 of the body>; required when the server has a hook secret.", "schema": {"type": "string"}}));
    }
    if !parameters.is_empty() {
        op.insert("parameters".into(), Value::Array(parameters));
    }
    if let Some(schema) = body_schema(route) {
        op.insert(
            "requestBody".into(),
            json!({"required": true, "content": {"application/json": {"schema": {"$ref": schema}}}}),
        );
    }
    let error = json!({"description": "An error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let mut responses = Map::new();
    responses.insert("200".into(), json!({"description": "OK"}));
    if route.path.ends_with("/rechecks") {
        responses.insert("201".into(), json!({"description": "A run was created"}));
    }
    if route.scope.is_some() {
        for code in ["401", "403", "429"] {
            responses.insert(code.into(), error.clone());
        }
        op.insert("security".into(), json!([{"bearer": []}]));
    }
    responses.insert("default".into(), error);
    op.insert("responses".into(), Value::Object(responses));
    Value::Object(op)
}

fn operation_id(route: &Route) -> String {
    let words = route
        .path
        .split('/')
        .filter(|p| !p.is_empty() && *p != "api" && *p != "v1" && !p.starts_with('{'))
        .map(|p| p.replace(['.', '-'], "_"));
    let mut id = route.method.to_ascii_lowercase();
    for w in words {
        id.push('_');
        id.push_str(&w);
    }
    id
}

fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|p| p.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
}

fn query_parameters(route: &Route) -> Vec<Value> {
    let names: &[(&str, &str)] = match (route.method, route.path) {
        ("GET", "/api/v1/runs") => &[("state", "string"), ("limit", "integer")],
        ("GET", "/api/v1/jobs") => &[("state", "string"), ("run", "string"), ("limit", "integer")],
        ("GET", "/api/v1/findings") => &[
            ("artifact", "string"),
            ("vulnerability", "string"),
            ("asOf", "integer"),
        ],
        ("GET", "/api/v1/audit") => &[("limit", "integer")],
        _ => &[],
    };
    names
        .iter()
        .map(|(name, ty)| json!({"name": name, "in": "query", "required": false, "schema": {"type": ty}}))
        .collect()
}

fn body_schema(route: &Route) -> Option<&'static str> {
    match route.path {
        "/api/v1/impact" | "/api/v1/rechecks" => Some("#/components/schemas/Selector"),
        "/api/v1/hooks/runtime" => Some("#/components/schemas/RuntimeEvent"),
        "/api/v1/schedules" if route.method == "POST" => Some("#/components/schemas/NewSchedule"),
        _ => None,
    }
}
