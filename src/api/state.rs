//! What every handler shares: the data dir, the site's policies, the token gate.

use std::sync::{Arc, Mutex};

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
    /// Store connections between requests: opening one reads the config, checks the
    /// migrations and, on PostgreSQL, makes a connection, which a request should not
    /// pay for each time.
    idle: Mutex<Vec<Store>>,
}

/// Idle store connections kept for the next requests; more are opened under load and
/// closed afterwards.
const IDLE_STORES: usize = 4;

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
            idle: Mutex::new(Vec::new()),
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
            let mut store = context.take_store()?;
            let result = work(&mut store, &context);
            context.put_back(store);
            result
        })
        .await;
        joined.map_err(|e| ApiError::internal(&e))?
    }

    fn take_store(&self) -> Result<Store, ApiError> {
        let idle = self.lock_idle().pop();
        match idle {
            Some(store) => Ok(store),
            None => Ok(self.dir.open_store()?),
        }
    }

    /// Keeps `store` for a later request. A PostgreSQL store whose connection was lost
    /// connects again on its next call, so a store is kept whatever its last call did.
    fn put_back(&self, store: Store) {
        let mut idle = self.lock_idle();
        if idle.len() < IDLE_STORES {
            idle.push(store);
        }
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Store>> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
