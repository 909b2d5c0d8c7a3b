//! `/api/v1/impact` (a preview: no run) and `/api/v1/rechecks` (a run, idempotent by
//! the `Idempotency-Key` header).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use serde_json::{json, Value};

use super::artifact_tenant;
use crate::api::auth::Principal;
use crate::api::error::ApiError;
use crate::api::state::ApiContext;
use crate::impact::{self, ImpactError, ImpactSet, Selector};
use crate::jobs::plan::{recheck_as, Request};
use crate::jobs::{now_ms, JobsError, Tenants};
use crate::store::Store;

/// Idempotency keys are kept per tenant: the same key from two tenants names two runs.
fn scoped_key(who: &Principal, key: &str) -> String {
    format!("{}:{key}", who.tenant)
}

fn selector(body: &[u8]) -> Result<Selector, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("invalid_selector", "the selector is not UTF-8"))?;
    Selector::parse(text).map_err(|e| ApiError::bad_request("invalid_selector", e.to_string()))
}

fn impact_error(e: ImpactError) -> ApiError {
    match e {
        ImpactError::Selector(s) => ApiError::bad_request("invalid_selector", s.to_string()),
        other => ApiError::internal(&other),
    }
}

fn jobs_error(e: JobsError) -> ApiError {
    match e {
        JobsError::IdempotencyConflict { .. } => {
            ApiError::conflict("idempotency_conflict", e.to_string())
        }
        JobsError::Impact(i) => impact_error(i),
        other => ApiError::internal(&other),
    }
}

/// The impact set restricted to what the caller's tenant owns.
fn for_tenant(
    store: &Store,
    context: &ApiContext,
    who: &Principal,
    set: ImpactSet,
) -> Result<ImpactSet, ApiError> {
    let mut keep = std::collections::BTreeSet::new();
    for a in &set.artifacts {
        let owner = artifact_tenant(store, &context.policies.tenants, &a.artifact, set.position)?;
        if Tenants::may_see(&who.tenant, &owner) {
            keep.insert(a.artifact.clone());
        }
    }
    Ok(set.only(|a| keep.contains(&a.artifact)))
}

pub async fn impact(
    State(context): State<Arc<ApiContext>>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> Result<Json<ImpactSet>, ApiError> {
    let selector = selector(&body)?;
    context
        .with_store(move |store, context| {
            let position = store.position()?;
            let set = impact::select(store, &selector, position).map_err(impact_error)?;
            Ok(Json(for_tenant(store, context, &who, set)?))
        })
        .await
}

pub async fn recheck(
    State(context): State<Arc<ApiContext>>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let selector = selector(&body)?;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let text = v.to_str().ok().filter(|k| !k.is_empty() && k.len() <= 200);
            let text = text.ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_idempotency_key",
                    "Idempotency-Key must be 1 to 200 visible ASCII characters",
                )
            })?;
            Some(scoped_key(&who, text))
        }
    };
    context
        .with_store(move |store, context| {
            let request = Request {
                trigger: "recheck",
                tenant: &who.tenant,
            };
            let (run, created) = recheck_as(
                store,
                &selector,
                key.as_deref(),
                &request,
                &context.policies,
                now_ms(),
            )
            .map_err(jobs_error)?;
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok((status, Json(json!({ "run": run, "created": created }))))
        })
        .await
}
