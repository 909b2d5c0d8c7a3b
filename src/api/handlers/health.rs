//! `/healthz`, `/readyz`, `/metrics` and the OpenAPI document.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::api::error::ApiError;
use crate::api::state::ApiContext;

/// Up: the process answers. Nothing else is checked.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready: the store answers, and no feed whose budget says so is past its failing
/// staleness age. 503 names what is wrong.
pub async fn readyz(State(context): State<Arc<ApiContext>>) -> Response {
    let checked = context
        .with_store(|store, context| {
            let position = store.position()?;
            let config = context.dir.config()?;
            let feeds = store.feeds()?;
            let stale: Vec<_> =
                crate::staleness::assess(&feeds, &config.staleness, SystemTime::now())
                    .into_iter()
                    .filter(|f| f.blocks_readiness())
                    .collect();
            Ok((position, stale))
        })
        .await;
    match checked {
        Ok((position, stale)) if stale.is_empty() => {
            Json(json!({ "status": "ready", "position": position })).into_response()
        }
        Ok((_, stale)) => {
            let names: Vec<&str> = stale.iter().map(|f| f.feed.as_str()).collect();
            let mut refused = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "feeds_stale",
                format!(
                    "feeds past their failing staleness budget: {}",
                    names.join(", ")
                ),
            );
            refused.retry_after = Some(60);
            refused.into_response()
        }
        Err(e) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            e.message,
        )
        .into_response(),
    }
}

pub async fn metrics(State(context): State<Arc<ApiContext>>) -> Result<Response, ApiError> {
    let text = context
        .with_store(|store, context| {
            crate::telemetry::metrics::render(&context.dir, store, SystemTime::now())
                .map_err(|e| ApiError::internal(&e))
        })
        .await?;
    let content_type = crate::telemetry::metrics::CONTENT_TYPE;
    Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
}

pub async fn openapi() -> Json<Value> {
    Json(crate::api::openapi::document())
}
