//! The HTTP control plane (`run --listen`): health, metrics, and `/api/v1` over the same
//! services the CLI uses. Axum runs on its own tokio runtime threads; every handler that
//! touches the store uses a connection of its own on a blocking thread (kept between
//! requests, `state.rs`), so the synchronous store
//! and the watcher's loop are never blocked by a slow client.
//!
//! One table, [`routes::ROUTES`], says for every endpoint its method, path, the scope it
//! needs and whether it changes state; the middleware authenticates, rate-limits,
//! counts and audits from it, and the OpenAPI document is generated from it.

mod auth;
mod error;
mod handlers;
pub mod openapi;
mod routes;
mod state;

pub use auth::{Scope, TokenEntry, TokenFile, TokenFileError, DEFAULT_REQUESTS_PER_MINUTE};
pub use error::ApiError;
pub use state::ApiContext;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

/// A running server: its bound address (port 0 picks one) and how to stop it.
#[derive(Debug)]
pub struct Server {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot start the API runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Binds `addr` and serves on two runtime threads until the [`Server`] is dropped or
/// [`Server::stop`]ped.
pub fn serve(context: ApiContext, addr: SocketAddr) -> Result<Server, ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("stella-api")
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(|source| ServeError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    let app = routes::router(Arc::new(context));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("stella-api".to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                let stopped = async {
                    let _ = rx.await;
                };
                if let Err(e) = axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await
                {
                    tracing::error!(error = %e, "the API server stopped");
                }
            });
        })
        .map_err(ServeError::Runtime)?;
    tracing::info!(addr = %bound, "API listening");
    Ok(Server {
        addr: bound,
        shutdown: Some(tx),
        thread: Some(thread),
    })
}

impl Server {
    /// Stops accepting, lets requests in flight finish, and waits for the thread.
    pub fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shut();
    }
}
