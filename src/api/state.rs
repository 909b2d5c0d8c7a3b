//! What every handler shares: the data dir, the site's policies, the token gate.

use std::sync::Arc;

use super::auth::{Gate, TokenFile};
use super::error::ApiError;
use crate::findings::VexPolicy;
use crate::ingest::DataDir;
use crate::jobs::Policies;
use crate::store::Store;

#[derive(Debug)]
pub struct ApiContext {
    pub(super) dir: DataDir,
    pub(super) policies: Policies,
    pub(super) vex: VexPolicy,
    pub(super) gate: Gate,
    /// When set, runtime hooks must carry `X-Stella-Signature: sha256=<hex>`, the
    /// HMAC-SHA256 of the raw body under this secret.
    pub(super) hook_secret: Option<Vec<u8>>,
}

impl ApiContext {
    pub fn new(
        dir: DataDir,
        policies: Policies,
        vex: VexPolicy,
        tokens: TokenFile,
        hook_secret: Option<Vec<u8>>,
    ) -> Self {
        Self {
            dir,
            policies,
            vex,
            gate: Gate::new(tokens),
            hook_secret,
        }
    }

    /// Runs `work` with a store connection of its own on a blocking thread.
    pub(super) async fn with_store<T, F>(self: &Arc<Self>, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store, &ApiContext) -> Result<T, ApiError> + Send + 'static,
    {
        let context = Arc::clone(self);
        let joined = tokio::task::spawn_blocking(move || {
            let mut store = context.dir.open_store()?;
            work(&mut store, &context)
        })
        .await;
        joined.map_err(|e| ApiError::internal(&e))?
    }
}
