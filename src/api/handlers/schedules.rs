//! `/api/v1/schedules`: cron schedules in a time zone that create recheck runs
//! (jobs::schedule). A schedule belongs to the tenant that created it; its runs cover
//! that tenant's artifacts.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{owned, parse_body, tenant_filter};
use crate::api::auth::Principal;
use crate::api::error::ApiError;
use crate::api::state::ApiContext;
use crate::impact::Selector;
use crate::jobs::now_ms;
use crate::jobs::schedule::{self, NewScheduleSpec, ScheduleError};
use crate::store::{ScheduleRecord, Store};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewScheduleBody {
    name: String,
    cron: String,
    timezone: String,
    selector: Selector,
}

fn schedule_error(e: ScheduleError) -> ApiError {
    match e {
        ScheduleError::NotFound(_) => ApiError::not_found(e.to_string()),
        ScheduleError::Exists(_) => ApiError::conflict("schedule_exists", e.to_string()),
        ScheduleError::Name { .. } => ApiError::bad_request("invalid_name", e.to_string()),
        ScheduleError::CronFields { .. }
        | ScheduleError::Cron { .. }
        | ScheduleError::NeverFires { .. } => ApiError::bad_request("invalid_cron", e.to_string()),
        ScheduleError::Zone { .. } => ApiError::bad_request("invalid_timezone", e.to_string()),
        other => ApiError::internal(&other),
    }
}

fn schedule_of(store: &Store, who: &Principal, name: &str) -> Result<ScheduleRecord, ApiError> {
    let what = || format!("no schedule {name:?}");
    owned(who, store.schedule(name)?, |s| &s.tenant, what)
}

pub async fn list(
    State(context): State<Arc<ApiContext>>,
    Extension(who): Extension<Principal>,
) -> Result<Json<Value>, ApiError> {
    context
        .with_store(move |store, _| {
            let schedules = store.schedules(tenant_filter(&who))?;
            Ok(Json(json!({ "schedules": schedules })))
        })
        .await
}

pub async fn create(
    State(context): State<Arc<ApiContext>>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> Result<(StatusCode, Json<ScheduleRecord>), ApiError> {
    let body: NewScheduleBody = parse_body(&body, "schedule")?;
    body.selector
        .check()
        .map_err(|e| ApiError::bad_request("invalid_selector", e.to_string()))?;
    context
        .with_store(move |store, _| {
            let spec = NewScheduleSpec {
                name: &body.name,
                tenant: &who.tenant,
                cron: &body.cron,
                timezone: &body.timezone,
                selector: &body.selector,
            };
            let created = schedule::add(store, &spec, now_ms()).map_err(schedule_error)?;
            Ok((StatusCode::CREATED, Json(created)))
        })
        .await
}

pub async fn delete(
    State(context): State<Arc<ApiContext>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    context
        .with_store(move |store, _| {
            schedule_of(store, &who, &name)?;
            schedule::delete(store, &name).map_err(schedule_error)?;
            Ok(Json(json!({ "deleted": name })))
        })
        .await
}

pub async fn pause(
    State(context): State<Arc<ApiContext>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Json<ScheduleRecord>, ApiError> {
    context
        .with_store(move |store, _| {
            schedule_of(store, &who, &name)?;
            Ok(Json(schedule::pause(store, &name).map_err(schedule_error)?))
        })
        .await
}

pub async fn resume(
    State(context): State<Arc<ApiContext>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Json<ScheduleRecord>, ApiError> {
    context
        .with_store(move |store, _| {
            schedule_of(store, &who, &name)?;
            Ok(Json(
                schedule::resume(store, &name, now_ms()).map_err(schedule_error)?,
            ))
        })
        .await
}
