//! The PostgreSQL backend (issue 6): the same state as the SQLite [`Store`](super::Store)
//! in schema `scheduler`, with the same method names, signatures and results.
//!
//! sqlx is async-only; [`PgStore`] owns a current-thread tokio runtime and blocks on it in
//! every method, so that callers use it exactly like the SQLite store (from plain threads,
//! or from `spawn_blocking` inside a runtime; never from async code directly, where
//! `block_on` panics). One store holds one connection, as one SQLite `Store` does.
//!
//! Every `Store` method has a twin here except the offline kit's SQLite-file operations;
//! nothing calls them yet (`--database-url` is not wired; docs/postgres.md). Keys that SQLite assigns as rowids (run `seq`,
//! `job_id`) are assigned here as MAX + 1 under [`IDS_LOCK`], so that they are the same
//! numbers, without the gaps a sequence leaves after a rolled-back insert.

mod apply;
mod control;
mod exports;
mod impact;
mod jobs;
mod kit;
mod metrics;
mod migrate;
mod runs;
mod runs_finish;
mod schedules;
mod state;

pub use apply::{BulkPath, PgApplyTx};

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::{Connection as _, PgConnection};
use tokio::sync::Mutex;

use super::StoreError;

/// The transaction-scoped advisory lock that serialises the writers assigning keys
/// (`runs.seq`, `jobs.job_id`): held from the MAX read to the commit. Advisory locks
/// are per database, so stores of different databases never wait on each other.
const IDS_LOCK: i64 = 0x5354_454c_4c41_0001;

/// The state store on a PostgreSQL database.
pub struct PgStore {
    /// Dropped before the runtime its socket is registered with.
    conn: Mutex<PgConnection>,
    /// The URL to connect again with after the connection was lost.
    url: String,
    /// Set when a statement failed because the connection was lost (a server restart,
    /// a network cut): the next call connects again before it runs.
    broken: AtomicBool,
    rt: StoreRuntime,
    /// The URL without its password, for errors and `Debug`.
    shown_url: String,
}

/// The store's own runtime. Dropping a tokio runtime waits for its work to stop, which
/// tokio refuses, with a panic, inside another runtime's async context; and a store can
/// end there (the API keeps idle stores in state that its async server owns). This one
/// runs nothing between calls, so it is shut down without waiting.
struct StoreRuntime(Option<tokio::runtime::Runtime>);

impl std::ops::Deref for StoreRuntime {
    type Target = tokio::runtime::Runtime;

    fn deref(&self) -> &tokio::runtime::Runtime {
        self.0.as_ref().expect("only drop takes the runtime")
    }
}

impl Drop for StoreRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.shown_url)
            .finish_non_exhaustive()
    }
}

/// Why a call inside the runtime stopped: a failed statement (named by the caller when
/// it becomes a [`StoreError::Postgres`]) or a store-level refusal.
#[derive(Debug)]
enum Fault {
    Sql(sqlx::Error),
    Store(StoreError),
}

impl From<sqlx::Error> for Fault {
    fn from(e: sqlx::Error) -> Self {
        Fault::Sql(e)
    }
}

impl From<StoreError> for Fault {
    fn from(e: StoreError) -> Self {
        Fault::Store(e)
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/database`), checks that the
    /// database orders text by bytes as SQLite does, and applies the embedded migrations
    /// that are not yet recorded (refusing an edited one).
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let shown_url = redact(url);
        let open_error = |why: String, source: Option<sqlx::Error>| StoreError::PgOpen {
            url: shown_url.clone(),
            why,
            source,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| open_error(format!("cannot start its runtime: {e}"), None))?;
        let mut conn = rt
            .block_on(PgConnection::connect(url))
            .map_err(|e| open_error("cannot connect".to_owned(), Some(e)))?;
        rt.block_on(check_collation(&mut conn))
            .map_err(|fault| match fault {
                Fault::Sql(e) => open_error("cannot read its collation".to_owned(), Some(e)),
                Fault::Store(e) => e,
            })
            .map_err(|e| match e {
                StoreError::Corrupt { what } => open_error(what, None),
                other => other,
            })?;
        rt.block_on(migrate::apply(&mut conn))?;
        Ok(Self {
            conn: Mutex::new(conn),
            url: url.to_owned(),
            broken: AtomicBool::new(false),
            rt: StoreRuntime(Some(rt)),
            shown_url,
        })
    }

    /// Runs `call` on this store's runtime; a failed statement becomes
    /// [`StoreError::Postgres`] naming `what`. A lost connection fails this call (its
    /// transaction, if any, was rolled back by the server) and is replaced before the
    /// next one: callers that retry after a transient error ([`super::is_transient`])
    /// get a fresh connection without reopening the store.
    fn block_on<T>(
        &self,
        what: &'static str,
        call: impl Future<Output = Result<T, Fault>>,
    ) -> Result<T, StoreError> {
        self.reconnect_if_lost()?;
        let result = self.rt.block_on(call);
        fault_to_error(result, what, &self.broken)
    }

    /// Connects again when the last statement lost the connection.
    fn reconnect_if_lost(&self) -> Result<(), StoreError> {
        if !self.broken.load(Ordering::SeqCst) {
            return Ok(());
        }
        let fresh = self
            .rt
            .block_on(PgConnection::connect(&self.url))
            .map_err(|e| StoreError::PgOpen {
                url: self.shown_url.clone(),
                why: "cannot connect again after the connection was lost".to_owned(),
                source: Some(e),
            })?;
        self.rt.block_on(async { *self.conn.lock().await = fresh });
        self.broken.store(false, Ordering::SeqCst);
        tracing::info!(url = %self.shown_url, "connected to PostgreSQL again");
        Ok(())
    }
}

/// A call's result as the store reports it; marks the connection lost when the failure
/// was the connection's, not the statement's.
fn fault_to_error<T>(
    result: Result<T, Fault>,
    what: &'static str,
    broken: &AtomicBool,
) -> Result<T, StoreError> {
    result.map_err(|fault| match fault {
        Fault::Sql(source) => {
            if connection_lost(&source) {
                broken.store(true, Ordering::SeqCst);
            }
            StoreError::Postgres { what, source }
        }
        Fault::Store(e) => e,
    })
}

/// Whether an error means the connection is gone (I/O, TLS, protocol, or the server
/// shutting down), so that another attempt on a new connection may succeed.
pub(crate) fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::PoolClosed | sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now,
            // class 08: connection exceptions.
            db.code()
                .is_some_and(|c| c.starts_with("57P") || c.starts_with("08"))
        }
        _ => false,
    }
}

/// Refuses a database whose text order is not byte order: SQLite compares TEXT by
/// bytes, and `ORDER BY` on artifacts, feeds and fire times must give the same order
/// here. The probes differ between byte order and every linguistic collation
/// (case-first, punctuation-ignoring); C, POSIX and C.UTF-8 pass.
async fn check_collation(conn: &mut PgConnection) -> Result<(), Fault> {
    let (bytewise, collation): (bool, String) = sqlx::query_as(
        "SELECT 'B' < 'a' AND 'a-c' < 'ab' AND 'Z' < '_',
                (SELECT datcollate::text FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(conn)
    .await?;
    if bytewise {
        return Ok(());
    }
    Err(Fault::Store(StoreError::Corrupt {
        what: format!(
            "the database orders text by collation {collation:?}, not by bytes as SQLite \
             does; create it with LC_COLLATE 'C' (CREATE DATABASE ... TEMPLATE template0 \
             LC_COLLATE 'C' LC_CTYPE 'C')"
        ),
    }))
}

/// `url` without the password of its user info, for messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split_once(':').map_or(user_info, |(u, _)| u);
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

/// A stored count or attempt number as `u32`; out of range means a damaged store.
fn to_u32(value: i64, what: &str) -> Result<u32, Fault> {
    u32::try_from(value).map_err(|_| {
        Fault::Store(StoreError::Corrupt {
            what: format!("{what} {value} is not a u32"),
        })
    })
}

/// A `LIMIT` bound: SQLite reads the negative `u64::MAX as i64` as "no limit", which
/// PostgreSQL refuses; `None` (LIMIT NULL) is PostgreSQL's "no limit".
fn limit(n: u64) -> Option<i64> {
    i64::try_from(n).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(
            redact("postgres://u:secret@db:5432/x?sslmode=disable"),
            "postgres://u:***@db:5432/x?sslmode=disable"
        );
        assert_eq!(redact("postgres://u@db/x"), "postgres://u:***@db/x");
        assert_eq!(redact("postgres://db/x"), "postgres://db/x");
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn limits_past_i64_mean_no_limit() {
        assert_eq!(limit(5), Some(5));
        assert_eq!(limit(u64::MAX), None);
    }
}
