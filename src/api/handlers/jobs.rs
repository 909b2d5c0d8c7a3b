//! `/api/v1/jobs`: list by state or run, show with attempts, retry a dead letter.

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
use crate::store::{JobRecord, Store};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<String>,
    run: Option<String>,
    limit: Option<u64>,
}

pub async fn list(
    State(context): State<Arc<ApiContext>>,
    Extension(who): Extension<Principal>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    context
        .with_store(move |store, _| {
            let jobs = store.tenant_jobs(
                tenant_filter(&who),
                q.state.as_deref(),
                q.run.as_deref(),
                limit(q.limit),
            )?;
            Ok(Json(json!({ "jobs": jobs })))
        })
        .await
}

fn job_of(store: &Store, who: &Principal, job_id: u64) -> Result<JobRecord, ApiError> {
    owned(
        who,
        store.job(job_id)?,
        |j| &j.tenant,
        || format!("no job {job_id}"),
    )
}

pub async fn show(
    State(context): State<Arc<ApiContext>>,
    Extension(who): Extension<Principal>,
    Path(job_id): Path<u64>,
) -> Result<Json<Value>, ApiError> {
    context
        .with_store(move |store, _| {
            let job = job_of(store, &who, job_id)?;
            let attempts: Vec<Value> = store
                .job_attempts(job_id)?
                .into_iter()
                .map(|(attempt, error)| json!({ "attempt": attempt, "error": error }))
                .collect();
            Ok(Json(json!({ "job": job, "attempts": attempts })))
        })
        .await
}

pub async fn retry(
    State(context): State<Arc<ApiContext>>,
    Extension(who): Extension<Principal>,
    Path(job_id): Path<u64>,
) -> Result<Json<Value>, ApiError> {
    context
        .with_store(move |store, _| {
            let job = job_of(store, &who, job_id)?;
            if job.state != "dead" {
                return Err(ApiError::conflict(
                    "not_dead_lettered",
                    format!(
                        "job {job_id} is {}; only a dead-lettered job is retried",
                        job.state
                    ),
                ));
            }
            let revived = store.retry_job(job_id, now_ms())?;
            Ok(Json(json!({ "jobId": job_id, "revived": revived })))
        })
        .await
}
