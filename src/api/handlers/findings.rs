//! `/api/v1/findings`: by artifact, by vulnerability, as of a position; only the
//! caller's tenant's artifacts.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::artifact_tenant;
use crate::api::auth::Principal;
use crate::api::error::ApiError;
use crate::api::state::ApiContext;
use crate::findings::{self, FindingsError};
use crate::jobs::Tenants;
use crate::model::Digest;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FindingsQuery {
    artifact: Option<String>,
    vulnerability: Option<String>,
    as_of: Option<u64>,
}

pub async fn list(
    State(context): State<Arc<ApiContext>>,
    Extension(who): Extension<Principal>,
    Query(q): Query<FindingsQuery>,
) -> Result<Json<Value>, ApiError> {
    let artifact = match q.artifact {
        None => None,
        Some(text) => Some(text.parse::<Digest>().map_err(|e| {
            ApiError::bad_request("invalid_artifact", format!("artifact {text:?}: {e}"))
        })?),
    };
    let query = findings::Query {
        as_of: q.as_of,
        artifact,
        vulnerability: q.vulnerability,
    };
    context
        .with_store(move |store, context| {
            let snapshot = match findings::snapshot(store, &query, &context.vex) {
                Ok(s) => s,
                Err(e @ FindingsError::UnknownArtifact { .. }) => {
                    return Err(ApiError::not_found(e.to_string()))
                }
                Err(e @ FindingsError::FutureAsOf { .. }) => {
                    return Err(ApiError::bad_request("invalid_position", e.to_string()))
                }
                Err(e) => return Err(ApiError::internal(&e)),
            };
            let tenants = &context.policies.tenants;
            if let Some(artifact) = &query.artifact {
                let owner = artifact_tenant(store, tenants, artifact.as_str(), snapshot.position)?;
                if !Tenants::may_see(&who.tenant, &owner) {
                    // Another tenant's artifact answers as an unknown one.
                    return Err(ApiError::not_found(format!(
                        "no SBOM describes artifact {artifact} as of position {}",
                        snapshot.position
                    )));
                }
            }
            let mut owners = std::collections::BTreeMap::<String, bool>::new();
            let mut found = Vec::new();
            for finding in snapshot.findings(&query) {
                let artifact = finding.artifact.as_str().to_owned();
                let may = match owners.get(&artifact) {
                    Some(may) => *may,
                    None => {
                        let owner = artifact_tenant(store, tenants, &artifact, snapshot.position)?;
                        let may = Tenants::may_see(&who.tenant, &owner);
                        owners.insert(artifact, may);
                        may
                    }
                };
                if may {
                    found.push(finding);
                }
            }
            Ok(Json(
                json!({ "position": snapshot.position, "findings": found }),
            ))
        })
        .await
}
