//! `/api/v1/hooks/runtime`: runtime agents report an artifact deployed, running or
//! retired in an environment. A running artifact's queued jobs move up (priority and a
//! tighter deadline), and so do its future jobs (jobs::plan); a deployed or running
//! artifact that was never evaluated gets a run of its own.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::{Extension, Json};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;

use super::{artifact_tenant, parse_body};
use crate::api::auth::Principal;
use crate::api::error::ApiError;
use crate::api::state::ApiContext;
use crate::impact::{Level, Selector};
use crate::jobs::plan::{recheck_as, Request};
use crate::jobs::{now_ms, Tenants, RUNNING_PRIORITY};
use crate::model::Digest;
use crate::store::RuntimeState;

pub const SIGNATURE_HEADER: &str = "x-stella-signature";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    Deployed,
    Running,
    Retired,
}

impl Event {
    fn as_str(self) -> &'static str {
        match self {
            Event::Deployed => "deployed",
            Event::Running => "running",
            Event::Retired => "retired",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuntimeEvent {
    /// `sha256:<64 hex>`, the image digest an SBOM describes.
    artifact: String,
    environment: String,
    event: Event,
}

/// Checks `X-Stella-Signature: sha256=<hex>` against the HMAC-SHA256 of the raw body.
fn check_signature(secret: &[u8], headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let refused = |why: &str| ApiError::unauthenticated(format!("hook signature refused: {why}"));
    let value = headers
        .get(SIGNATURE_HEADER)
        .ok_or_else(|| refused("no X-Stella-Signature header"))?;
    let hex_part = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("sha256="))
        .ok_or_else(|| refused("the header must be sha256=<hex>"))?;
    let given = hex::decode(hex_part).map_err(|_| refused("the signature is not hex"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| refused("it does not match the body"))
}

pub async fn runtime(
    State(context): State<Arc<ApiContext>>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    if let Some(secret) = &context.hook_secret {
        check_signature(secret, &headers, &body)?;
    }
    let event: RuntimeEvent = parse_body(&body, "runtime event")?;
    let artifact: Digest = event.artifact.parse().map_err(|e| {
        ApiError::bad_request(
            "invalid_artifact",
            format!("artifact {:?}: {e}", event.artifact),
        )
    })?;
    let environment_ok = !event.environment.is_empty() && event.environment.len() <= 128;
    if !environment_ok {
        return Err(ApiError::bad_request(
            "invalid_environment",
            "environment must be 1 to 128 characters",
        ));
    }
    context
        .with_store(move |store, context| {
            let now = now_ms();
            let position = store.position()?;
            let artifact = artifact.as_str().to_owned();
            let owner = artifact_tenant(store, &context.policies.tenants, &artifact, position)?;
            if !Tenants::may_see(&who.tenant, &owner) {
                return Err(ApiError::not_found(format!("no artifact {artifact}")));
            }
            store.set_runtime_state(&RuntimeState {
                artifact: artifact.clone(),
                environment: event.environment.clone(),
                state: event.event.as_str().to_owned(),
                tenant: owner.clone(),
                updated_ms: now,
            })?;
            let expedited = match event.event {
                Event::Running => {
                    let deadline = context.policies.sla.deadline_ms(Level::Critical, now);
                    store.expedite_artifact(&artifact, RUNNING_PRIORITY, deadline)?
                }
                _ => 0,
            };
            let first_look = event.event != Event::Retired && !store.ever_evaluated(&artifact)?;
            let run = match first_look {
                true => {
                    let selector = Selector {
                        artifact: Some(artifact.clone()),
                        ..Selector::default()
                    };
                    // One first evaluation per artifact and position, however many
                    // agents report it.
                    let key = format!("runtime:{artifact}@{position}");
                    let request = Request {
                        trigger: "runtime",
                        tenant: &owner,
                    };
                    let (run, _) = recheck_as(
                        store,
                        &selector,
                        Some(&key),
                        &request,
                        &context.policies,
                        now,
                    )
                    .map_err(|e| ApiError::internal(&e))?;
                    Some(run)
                }
                false => None,
            };
            Ok(Json(json!({
                "artifact": artifact,
                "environment": event.environment,
                "event": event.event.as_str(),
                "expeditedJobs": expedited,
                "run": run,
            })))
        })
        .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn signed(secret: &[u8], body: &[u8]) -> HeaderMap {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(body);
        let sig = hex::encode(mac.finalize().into_bytes());
        let mut headers = HeaderMap::new();
        headers.insert(SIGNATURE_HEADER, format!("sha256={sig}").parse().unwrap());
        headers
    }

    #[test]
    fn a_signature_must_cover_exactly_the_body_under_the_secret() {
        let body = br#"{"artifact":"sha256:00","environment":"prod","event":"running"}"#;
        let headers = signed(b"s3cret", body);
        check_signature(b"s3cret", &headers, body).unwrap();
        assert_eq!(
            check_signature(b"other", &headers, body)
                .unwrap_err()
                .status,
            401
        );
        let tampered = br#"{"artifact":"sha256:01","environment":"prod","event":"running"}"#;
        assert_eq!(
            check_signature(b"s3cret", &headers, tampered)
                .unwrap_err()
                .status,
            401
        );
        let err = check_signature(b"s3cret", &HeaderMap::new(), body).unwrap_err();
        assert!(
            err.message.contains("no X-Stella-Signature"),
            "{}",
            err.message
        );
    }
}
