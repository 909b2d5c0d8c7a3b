//! `/api/v1/runs`: list, show, cancel, retry.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{limit, owned, tenant_filter};
use crate::api::auth::Principal;
use crate::api::error::ApiError;
use crate::api::state::ApiContext;
use crate::jobs::now_ms;
use crate::store::{RunRecord, Store};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<String>,
    limit: Option<u64>,
}

pub async fn list(
    State(context): State<Arc<ApiContext>>,
    Extension(who): Extension<Principal>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    context
        .with_store(move |store, _| {
            let runs =
                store.tenant_runs(tenant_filter(&who), q.state.as_deref(), limit(q.limit))?;
            Ok(Json(json!({ "runs": runs })))
        })
        .await
}

/// The run, if the caller may see it.
fn run_of(store: &Store, who: &Principal, run_id: &str) -> Result<RunRecord, ApiError> {
    owned(
        who,
        store.run(run_id)?,
        |r| &r.tenant,
        || format!("no run {run_id}"),
    )
}

pub async fn show(
    State(context): State<Arc<ApiContext>>,
    Extension(who): Extension<Principal>,
    Path(run_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    context
        .with_store(move |store, _| {
            let run = run_of(store, &who, &run_id)?;
            let jobs = store.job_counts(run.seq)?;
            Ok(Json(json!({ "run": run, "jobs": jobs })))
        })
        .await
}

pub async fn cancel(
    State(context): State<Arc<ApiContext>>,
    Extension(who): Extension<Principal>,
    Path(run_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    context
        .with_store(move |store, _| {
            run_of(store, &who, &run_id)?;
            let cancelled = store.cancel_run(&run_id, now_ms())?;
            Ok(Json(json!({ "runId": run_id, "cancelled": cancelled })))
        })
        .await
}

pub async fn retry(
    State(context): State<Arc<ApiContext>>,
    Extension(who): Extension<Principal>,
    Path(run_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    context
        .with_store(move |store, _| {
            run_of(store, &who, &run_id)?;
            let requeued = store.retry_run(&run_id, now_ms())?;
            Ok(Json(json!({ "runId": run_id, "requeued": requeued })))
        })
        .await
}
