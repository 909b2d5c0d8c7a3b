//! `/api/v1/queue/pause|resume` and the audit log.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::limit;
use crate::api::auth::Principal;
use crate::api::error::ApiError;
use crate::api::state::ApiContext;
use crate::jobs::policy::ALL_TENANTS;

pub async fn pause(
    State(context): State<Arc<ApiContext>>,
    Extension(who): Extension<Principal>,
) -> Result<Json<Value>, ApiError> {
    set(context, &who, true).await
}

pub async fn resume(
    State(context): State<Arc<ApiContext>>,
    Extension(who): Extension<Principal>,
) -> Result<Json<Value>, ApiError> {
    set(context, &who, false).await
}

/// The queue is the site's, shared by every tenant: only the site's operator (`*`)
/// stops or starts it.
fn site_wide(who: &Principal, what: &str) -> Result<(), ApiError> {
    match who.tenant == ALL_TENANTS {
        true => Ok(()),
        false => Err(ApiError::forbidden(format!(
            "{what} is site-wide; token {:?} is scoped to tenant {:?}",
            who.name, who.tenant
        ))),
    }
}

async fn set(
    context: Arc<ApiContext>,
    who: &Principal,
    paused: bool,
) -> Result<Json<Value>, ApiError> {
    site_wide(who, "the queue")?;
    context
        .with_store(move |store, _| {
            store.set_paused(paused)?;
            Ok(Json(json!({ "paused": paused })))
        })
        .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<u64>,
}

pub async fn audit(
    State(context): State<Arc<ApiContext>>,
    Extension(who): Extension<Principal>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    site_wide(&who, "the audit log")?;
    context
        .with_store(move |store, _| Ok(Json(json!({ "audit": store.audit_log(limit(q.limit))? }))))
        .await
}
