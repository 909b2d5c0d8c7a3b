//! Endpoint handlers, one file per group of the route table. Each is thin: parse,
//! check the tenant, call the same library functions the CLI calls, answer JSON.

pub mod findings;
pub mod health;
pub mod hooks;
pub mod jobs;
pub mod queue;
pub mod rechecks;
pub mod runs;
pub mod schedules;
pub mod status;

use super::auth::Principal;
use super::error::ApiError;
use crate::jobs::Tenants;
use crate::store::Store;

/// The most rows a list answers with, whatever `limit` asks.
pub const MAX_LIMIT: u64 = 10_000;
pub const DEFAULT_LIMIT: u64 = 100;

fn limit(asked: Option<u64>) -> u64 {
    asked.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
}

/// The tenant filter of a list: none for the site's operator (`*`).
fn tenant_filter(principal: &Principal) -> Option<&str> {
    match principal.tenant.as_str() {
        crate::jobs::policy::ALL_TENANTS => None,
        own => Some(own),
    }
}

/// A row the caller may see: a missing row and another tenant's row answer alike,
/// `404` with `what`, so that a tenant cannot learn what others have.
fn owned<T>(
    principal: &Principal,
    row: Option<T>,
    tenant: impl Fn(&T) -> &str,
    what: impl Fn() -> String,
) -> Result<T, ApiError> {
    match row {
        Some(row) if Tenants::may_see(&principal.tenant, tenant(&row)) => Ok(row),
        _ => Err(ApiError::not_found(what())),
    }
}

/// The tenant owning `artifact` as of `position` (by its SBOM's feed).
fn artifact_tenant(
    store: &Store,
    tenants: &Tenants,
    artifact: &str,
    position: u64,
) -> Result<String, ApiError> {
    let feed = store.sbom_feed(artifact, position)?;
    Ok(tenants.of_feed(feed.as_deref()).to_owned())
}

/// A JSON request body, with a specific error when it is not valid.
fn parse_body<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_body",
            format!("the body is not a valid {what}: {e}"),
        )
    })
}
