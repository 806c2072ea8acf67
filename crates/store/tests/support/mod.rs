//! Fresh, isolated databases for the conformance suite.
//!
//! SQLite: a new file in a new temporary directory per test. PostgreSQL: a new schema per
//! test in the `test` database on 127.0.0.1:5432 (override with `RAMPART_TEST_POSTGRES_URL`),
//! set as `search_path` on every pooled connection, dropped afterwards. When PostgreSQL is
//! not reachable the PostgreSQL half passes with a loud `SKIPPED` line on stderr, unless
//! `RAMPART_REQUIRE_POSTGRES=1`.

// Shared by several test binaries, each using a part.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use rampart_store::{SqlStore, StoreOptions};
use sqlx::{Connection, Executor, PgConnection};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

enum Kind {
    Sqlite {
        dir: tempfile::TempDir,
    },
    Postgres {
        admin_url: String,
        schema: String,
        dropped: bool,
    },
}

/// One isolated database and a store opened on it.
pub struct Backend {
    pub store: SqlStore,
    url: String,
    options: StoreOptions,
    kind: Kind,
}

impl Backend {
    pub async fn sqlite() -> Backend {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("rampart.db").display()
        );
        let options = StoreOptions::default();
        let store = SqlStore::open_with(&url, options.clone())
            .await
            .expect("open SQLite store");
        Backend {
            store,
            url,
            options,
            kind: Kind::Sqlite { dir },
        }
    }

    /// `None` (after saying so on stderr) when PostgreSQL is not there and not required.
    pub async fn postgres() -> Option<Backend> {
        let admin_url = std::env::var("RAMPART_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let connected =
            tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&admin_url)).await;
        let mut admin = match connected {
            Ok(Ok(conn)) => conn,
            failure => {
                let why = match failure {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timed out".to_owned(),
                };
                if std::env::var("RAMPART_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                    panic!("RAMPART_REQUIRE_POSTGRES=1 but PostgreSQL at {admin_url} is not reachable: {why}");
                }
                let place = if admin_url == DEFAULT_POSTGRES_URL {
                    "127.0.0.1:5432".to_owned()
                } else {
                    admin_url.clone()
                };
                eprintln!(
                    "SKIPPED: PostgreSQL at {place} is not reachable ({why}); \
                     set RAMPART_REQUIRE_POSTGRES=1 to make this a failure"
                );
                return None;
            }
        };
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).expect("random schema name");
        let schema = format!("rampart_t_{}", hex(&suffix));
        admin
            .execute(format!("CREATE SCHEMA {schema}").as_str())
            .await
            .expect("create test schema");
        admin.close().await.ok();

        let options = StoreOptions {
            postgres_schema: Some(schema.clone()),
            ..StoreOptions::default()
        };
        let url = admin_url.clone();
        let store = SqlStore::open_with(&url, options.clone())
            .await
            .expect("open PostgreSQL store");
        Some(Backend {
            store,
            url,
            options,
            kind: Kind::Postgres {
                admin_url,
                schema,
                dropped: false,
            },
        })
    }

    pub fn engine(&self) -> &'static str {
        match self.kind {
            Kind::Sqlite { .. } => "sqlite",
            Kind::Postgres { .. } => "postgres",
        }
    }

    /// A second, independent handle on the same database (another node, or a restart).
    pub async fn reopen(&self) -> SqlStore {
        self.reopen_with(self.options.clone()).await
    }

    /// Like [`Backend::reopen`], with other options (the schema is kept).
    pub async fn reopen_with(&self, options: StoreOptions) -> SqlStore {
        let options = StoreOptions {
            postgres_schema: self.options.postgres_schema.clone(),
            ..options
        };
        SqlStore::open_with(&self.url, options)
            .await
            .expect("reopen store")
    }

    /// PostgreSQL: another handle whose connections carry a fresh `application_name`, so
    /// [`Backend::terminate`] can drop them from the server's side. `None` on SQLite.
    pub async fn reopen_tagged(&self, options: StoreOptions) -> Option<(SqlStore, String)> {
        let Kind::Postgres { schema, .. } = &self.kind else {
            return None;
        };
        let mut suffix = [0u8; 4];
        getrandom::fill(&mut suffix).expect("random application name");
        let tag = format!("{schema}_{}", hex(&suffix));
        let separator = if self.url.contains('?') { '&' } else { '?' };
        let url = format!("{}{separator}application_name={tag}", self.url);
        let options = StoreOptions {
            postgres_schema: self.options.postgres_schema.clone(),
            ..options
        };
        let store = SqlStore::open_with(&url, options)
            .await
            .expect("reopen tagged store");
        Some((store, tag))
    }

    /// PostgreSQL: a connection of its own to the test's schema, for looking past the store.
    /// `None` on SQLite.
    pub async fn postgres_admin(&self) -> Option<PgConnection> {
        let Kind::Postgres {
            admin_url, schema, ..
        } = &self.kind
        else {
            return None;
        };
        let mut admin = PgConnection::connect(admin_url)
            .await
            .expect("admin connection");
        admin
            .execute(format!("SET search_path TO {schema}").as_str())
            .await
            .expect("set search_path");
        Some(admin)
    }

    /// PostgreSQL: ends every server session named `tag` (as a restart of the server or an
    /// idle-session timeout would) and waits until they are gone.
    pub async fn terminate(&self, tag: &str) {
        let Kind::Postgres { admin_url, .. } = &self.kind else {
            return;
        };
        let mut admin = PgConnection::connect(admin_url)
            .await
            .expect("admin connection");
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind(tag)
        .execute(&mut admin)
        .await
        .expect("terminate sessions");
        let mut left = 0;
        for _ in 0..100 {
            left = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1",
            )
            .bind(tag)
            .fetch_one(&mut admin)
            .await
            .expect("count sessions");
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            left, 0i64,
            "sessions named {tag} outlived pg_terminate_backend"
        );
        admin.close().await.ok();
    }

    /// The SQLite database file and its `-wal` and `-shm` companions.
    pub fn sqlite_files(&self) -> Option<Vec<PathBuf>> {
        match &self.kind {
            Kind::Sqlite { dir } => {
                let db = dir.path().join("rampart.db");
                Some(
                    ["", "-wal", "-shm"]
                        .iter()
                        .map(|suffix| PathBuf::from(format!("{}{suffix}", db.display())))
                        .collect(),
                )
            }
            Kind::Postgres { .. } => None,
        }
    }

    /// Closes the store and drops the PostgreSQL schema.
    pub async fn finish(mut self) {
        self.store.close().await;
        if let Kind::Postgres {
            admin_url,
            schema,
            dropped,
        } = &mut self.kind
        {
            drop_schema(admin_url, schema).await;
            *dropped = true;
        }
    }
}

impl Drop for Backend {
    /// A failed test never reaches `finish`: drop its schema here, from a thread with its own
    /// runtime since this may run inside the test's runtime.
    fn drop(&mut self) {
        if let Kind::Postgres {
            admin_url,
            schema,
            dropped: false,
        } = &self.kind
        {
            let (url, schema) = (admin_url.clone(), schema.clone());
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(drop_schema(&url, &schema));
                }
            })
            .join();
        }
    }
}

async fn drop_schema(admin_url: &str, schema: &str) {
    let result = async {
        let mut admin = PgConnection::connect(admin_url).await?;
        // Connections of a panicked test may still hold locks; do not wait for ever.
        admin.execute("SET lock_timeout = '10s'").await?;
        admin
            .execute(format!("DROP SCHEMA IF EXISTS {schema} CASCADE").as_str())
            .await?;
        admin.close().await
    }
    .await;
    if let Err(e) = result {
        eprintln!("warning: could not drop test schema {schema}: {e}");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Declares each case once per engine: `sqlite::<case>` and `postgres::<case>`, each on a
/// fresh database. The cases are `async fn <case>(&Backend)` at the test crate's root.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let backend = crate::support::Backend::sqlite().await;
                    crate::$case(&backend).await;
                    backend.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let Some(backend) = crate::support::Backend::postgres().await else {
                        return;
                    };
                    crate::$case(&backend).await;
                    backend.finish().await;
                }
            )*
        }
    };
}
