//! A fresh PostgreSQL database per test, dropped when the test ends.
//!
//! The server is `STELLA_TEST_PG` (default `postgres://postgres@127.0.0.1:5432`, trust
//! auth). Without a server, tests print that they skipped and pass, except under
//! CI=true, where a missing server fails them: CI must not go green on tests that never
//! ran. Databases are named `stella_test_<pid>_<n>` and created with byte-order
//! collation, which `PgStore::connect` requires.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection as _, PgConnection};

/// A fresh database and a `PgStore` on it, or a skip (the enclosing test returns). The
/// including test imports `TestDb` and `PgStore`.
#[allow(unused_macros)]
macro_rules! pg {
    ($test:literal) => {
        match TestDb::fresh($test) {
            Some(db) => {
                let store = PgStore::connect(&db.url).unwrap();
                (db, store)
            }
            None => return,
        }
    };
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The server tests use, without a database.
pub fn server() -> String {
    std::env::var("STELLA_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// A database that lives as long as this value.
#[derive(Debug)]
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// A new empty database, or `None` (after saying so) when no server answers
    /// outside CI.
    pub fn fresh(test: &str) -> Option<Self> {
        let name = format!(
            "stella_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let create = format!(
            "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' \
             LC_COLLATE 'C' LC_CTYPE 'C'"
        );
        match admin(&create) {
            Ok(()) => Some(Self {
                url: format!("{}/{name}", server()),
                name,
            }),
            Err(e) => {
                skip(test, &e);
                None
            }
        }
    }

    /// Runs SQL statements (separated by `;`) on this database, outside any store.
    pub fn exec(&self, sql: &str) {
        run(&self.url, sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The first column of every row of `sql`, as text.
    pub fn column(&self, sql: &str) -> Vec<String> {
        block_on(async {
            let mut conn = PgConnection::connect(&self.url).await?;
            let rows: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut conn).await?;
            conn.close().await?;
            Ok::<_, sqlx::Error>(rows)
        })
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = admin(&drop) {
            // A leftover database is harmless to later tests (names are per process);
            // panicking in drop would hide the test's own failure.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("could not drop test database {}: {e}", self.name);
            }
        }
    }
}

/// Says that `test` skipped, on the real stderr: the test harness captures `eprintln!`
/// of passing tests, and a skip must be seen.
fn skip(test: &str, why: &sqlx::Error) {
    use std::io::Write as _;
    let server = server();
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: PostgreSQL at {server} is required under CI=true: {why}"
    );
    let banner = "!".repeat(8);
    // Nothing to do if stderr itself is gone.
    let _ = writeln!(
        std::io::stderr(),
        "\n{banner} SKIPPED {test}: no PostgreSQL at {server} ({why}) {banner}\n"
    );
}

fn admin(sql: &str) -> Result<(), sqlx::Error> {
    run(&format!("{}/postgres", server()), sql)
}

fn run(url: &str, sql: &str) -> Result<(), sqlx::Error> {
    block_on(async {
        let mut conn = PgConnection::connect(url).await?;
        sqlx::raw_sql(sql).execute(&mut conn).await?;
        conn.close().await
    })
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
        .block_on(f)
}
