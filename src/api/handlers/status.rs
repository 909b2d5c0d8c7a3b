//! `/api/v1/status` (what `status --json` prints) and `/api/v1/feeds`.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::api::error::ApiError;
use crate::api::state::ApiContext;
use crate::site_status::{self, SiteStatus};

async fn gather(context: &Arc<ApiContext>) -> Result<SiteStatus, ApiError> {
    context
        .with_store(|store, context| {
            site_status::gather(&context.dir, store, SystemTime::now())
                .map_err(|e| ApiError::internal(&e))
        })
        .await
}

pub async fn status(State(context): State<Arc<ApiContext>>) -> Result<Json<SiteStatus>, ApiError> {
    Ok(Json(gather(&context).await?))
}

pub async fn feeds(State(context): State<Arc<ApiContext>>) -> Result<Json<Value>, ApiError> {
    let status = gather(&context).await?;
    Ok(Json(json!({
        "position": status.position,
        "feeds": status.feeds,
        "pending": status.pending,
        "staleness": status.staleness,
    })))
}
