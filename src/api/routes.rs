//! Every endpoint in one table, and the router and middleware built from it.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use sha2::{Digest as _, Sha256};

use super::auth::{Principal, Scope};
use super::error::ApiError;
use super::handlers;
use super::state::ApiContext;
use crate::store::AuditRecord;

/// The largest request body accepted (a selector, a runtime event, a schedule).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// One endpoint: what it needs and what it does.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    pub method: &'static str,
    /// As axum matches it: `{name}` for a path parameter.
    pub path: &'static str,
    /// `None`: open to anyone (health, readiness, the OpenAPI document).
    pub scope: Option<Scope>,
    /// Changes state: audited, and the body is kept as its digest.
    pub mutating: bool,
    pub tag: &'static str,
    pub summary: &'static str,
}

const fn route(
    method: &'static str,
    path: &'static str,
    scope: Option<Scope>,
    tag: &'static str,
    summary: &'static str,
) -> Route {
    Route {
        method,
        path,
        scope,
        mutating: matches!(method.as_bytes(), b"POST" | b"DELETE"),
        tag,
        summary,
    }
}

const READ: Option<Scope> = Some(Scope::Read);
const ADMIN: Option<Scope> = Some(Scope::Admin);

pub const ROUTES: &[Route] = &[
    route("GET", "/healthz", None, "health", "The process is up."),
    route(
        "GET",
        "/readyz",
        None,
        "health",
        "The store answers and no feed is past its failing staleness budget.",
    ),
    route(
        "GET",
        "/metrics",
        READ,
        "health",
        "Prometheus metrics (text exposition).",
    ),
    route(
        "GET",
        "/api/v1/openapi.json",
        None,
        "health",
        "This API's OpenAPI document.",
    ),
    route(
        "GET",
        "/api/v1/status",
        READ,
        "feeds",
        "Position, feed heads, pending and quarantined bundles, counts, staleness.",
    ),
    route(
        "GET",
        "/api/v1/feeds",
        READ,
        "feeds",
        "Each feed's chain head and staleness.",
    ),
    route(
        "GET",
        "/api/v1/runs",
        READ,
        "runs",
        "Runs, newest first; filters: state, limit.",
    ),
    route(
        "GET",
        "/api/v1/runs/{run_id}",
        READ,
        "runs",
        "One run with its job counts and summary.",
    ),
    route(
        "POST",
        "/api/v1/runs/{run_id}/cancel",
        ADMIN,
        "runs",
        "Cancels a run's unfinished jobs.",
    ),
    route(
        "POST",
        "/api/v1/runs/{run_id}/retry",
        ADMIN,
        "runs",
        "Requeues a run's dead-lettered jobs.",
    ),
    route(
        "GET",
        "/api/v1/jobs",
        READ,
        "jobs",
        "Jobs; filters: state, run, limit.",
    ),
    route(
        "GET",
        "/api/v1/jobs/{job_id}",
        READ,
        "jobs",
        "One job with its failed attempts.",
    ),
    route(
        "POST",
        "/api/v1/jobs/{job_id}/retry",
        ADMIN,
        "jobs",
        "Revives a dead-lettered job.",
    ),
    route(
        "POST",
        "/api/v1/impact",
        Some(Scope::Recheck),
        "rechecks",
        "The impact set of a selector; no run is created.",
    ),
    route(
        "POST",
        "/api/v1/rechecks",
        Some(Scope::Recheck),
        "rechecks",
        "A run over what a selector names; Idempotency-Key gives the same run again.",
    ),
    route(
        "GET",
        "/api/v1/findings",
        READ,
        "findings",
        "Findings; filters: artifact, vulnerability, asOf.",
    ),
    route(
        "POST",
        "/api/v1/hooks/runtime",
        Some(Scope::Hooks),
        "hooks",
        "A runtime event: an artifact deployed, running or retired in an environment.",
    ),
    route(
        "GET",
        "/api/v1/schedules",
        READ,
        "schedules",
        "Schedules: cron in a time zone, selector, next and last fire times.",
    ),
    route(
        "POST",
        "/api/v1/schedules",
        ADMIN,
        "schedules",
        "Adds a schedule; it creates recheck runs of the caller's tenant.",
    ),
    route(
        "DELETE",
        "/api/v1/schedules/{name}",
        ADMIN,
        "schedules",
        "Deletes a schedule; its runs stay.",
    ),
    route(
        "POST",
        "/api/v1/schedules/{name}/pause",
        ADMIN,
        "schedules",
        "Stops a schedule from creating runs.",
    ),
    route(
        "POST",
        "/api/v1/schedules/{name}/resume",
        ADMIN,
        "schedules",
        "Restarts a schedule from its next fire time after now.",
    ),
    route(
        "POST",
        "/api/v1/queue/pause",
        ADMIN,
        "queue",
        "Stops handing out jobs.",
    ),
    route(
        "POST",
        "/api/v1/queue/resume",
        ADMIN,
        "queue",
        "Hands out jobs again.",
    ),
    route(
        "GET",
        "/api/v1/audit",
        ADMIN,
        "audit",
        "Mutating calls: who, what, when, idempotency key.",
    ),
];

/// The route for a method and matched path.
pub fn find(method: &Method, path: &str) -> Option<&'static Route> {
    ROUTES
        .iter()
        .find(|r| r.method == method.as_str() && r.path == path)
}

pub fn router(context: Arc<ApiContext>) -> Router {
    let api = Router::new()
        .route("/healthz", get(handlers::health::healthz))
        .route("/readyz", get(handlers::health::readyz))
        .route("/metrics", get(handlers::health::metrics))
        .route("/api/v1/openapi.json", get(handlers::health::openapi))
        .route("/api/v1/status", get(handlers::status::status))
        .route("/api/v1/feeds", get(handlers::status::feeds))
        .route("/api/v1/runs", get(handlers::runs::list))
        .route("/api/v1/runs/{run_id}", get(handlers::runs::show))
        .route("/api/v1/runs/{run_id}/cancel", post(handlers::runs::cancel))
        .route("/api/v1/runs/{run_id}/retry", post(handlers::runs::retry))
        .route("/api/v1/jobs", get(handlers::jobs::list))
        .route("/api/v1/jobs/{job_id}", get(handlers::jobs::show))
        .route("/api/v1/jobs/{job_id}/retry", post(handlers::jobs::retry))
        .route("/api/v1/impact", post(handlers::rechecks::impact))
        .route("/api/v1/rechecks", post(handlers::rechecks::recheck))
        .route("/api/v1/findings", get(handlers::findings::list))
        .route("/api/v1/hooks/runtime", post(handlers::hooks::runtime))
        .route(
            "/api/v1/schedules",
            get(handlers::schedules::list).post(handlers::schedules::create),
        )
        .route(
            "/api/v1/schedules/{name}",
            delete(handlers::schedules::delete),
        )
        .route(
            "/api/v1/schedules/{name}/pause",
            post(handlers::schedules::pause),
        )
        .route(
            "/api/v1/schedules/{name}/resume",
            post(handlers::schedules::resume),
        )
        .route("/api/v1/queue/pause", post(handlers::queue::pause))
        .route("/api/v1/queue/resume", post(handlers::queue::resume))
        .route("/api/v1/audit", get(handlers::queue::audit));
    api.fallback(not_found)
        .layer(middleware::from_fn_with_state(context.clone(), gatekeeper))
        .with_state(context)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

/// Authenticates and rate-limits by the route table, counts the request, and audits
/// mutating calls whatever their outcome.
async fn gatekeeper(
    State(context): State<Arc<ApiContext>>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let Some(route) = matched.and_then(|m| find(request.method(), m.as_str())) else {
        let response = next.run(request).await;
        crate::telemetry::metrics::http_request("unmatched", response.status().as_u16());
        return response;
    };
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let principal = match route.scope {
        None => None,
        Some(scope) => match context.gate.admit(authorization.as_deref(), scope) {
            Ok(p) => Some(p),
            Err(refused) => return counted(route, refused.into_response()),
        },
    };
    if !route.mutating {
        let request = with_principal(request, principal);
        return counted(route, next.run(request).await);
    }
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            let refused = ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
            );
            return counted(route, refused.into_response());
        }
    };
    let record = AuditRecord {
        seq: 0,
        at_ms: crate::jobs::now_ms(),
        token: principal
            .as_ref()
            .map_or("-", |p| p.name.as_str())
            .to_owned(),
        tenant: principal
            .as_ref()
            .map_or("-", |p| p.tenant.as_str())
            .to_owned(),
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        status: 0,
        idempotency_key: parts
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body_sha256: hex::encode(Sha256::digest(&bytes)),
    };
    let request = with_principal(Request::from_parts(parts, Body::from(bytes)), principal);
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let audited = context
        .with_store(move |store, _| {
            store.audit(&AuditRecord { status, ..record })?;
            Ok(())
        })
        .await;
    if let Err(e) = audited {
        // The call took effect; losing its audit line is reported, not hidden.
        tracing::error!(code = e.code, error = %e.message, "cannot write the audit record");
    }
    counted(route, response)
}

fn with_principal(mut request: Request, principal: Option<Principal>) -> Request {
    if let Some(p) = principal {
        request.extensions_mut().insert(p);
    }
    request
}

fn counted(route: &Route, response: Response) -> Response {
    crate::telemetry::metrics::http_request(route.path, response.status().as_u16());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_listed_once_and_only_reads_are_gets() {
        let mut seen = std::collections::BTreeSet::new();
        for r in ROUTES {
            assert!(
                seen.insert((r.method, r.path)),
                "{} {} twice",
                r.method,
                r.path
            );
            assert_eq!(r.mutating, r.method != "GET", "{}", r.path);
        }
    }
}
