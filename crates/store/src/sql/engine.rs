//! Everything that differs between SQLite and PostgreSQL, in one place.
//!
//! Queries are written once, in the SQL both engines share (`$n` placeholders, `RETURNING`,
//! `ON CONFLICT … DO UPDATE … WHERE`) and run through sqlx's `Any` driver. What cannot be
//! shared is here: how a connection is set up, how a writing transaction begins, and the DDL
//! (one migrations directory per engine, same version numbers, same tables and keys).

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use crate::error::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    Sqlite,
    Postgres,
}

/// (version, description, SQL) of each migration, oldest first.
type Migrations = &'static [(i64, &'static str, &'static str)];

const SQLITE_MIGRATIONS: Migrations = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "iam",
        include_str!("../../migrations/sqlite/0002_iam.sql"),
    ),
    (
        3,
        "people",
        include_str!("../../migrations/sqlite/0003_people.sql"),
    ),
    (
        4,
        "people_history",
        include_str!("../../migrations/sqlite/0004_people_history.sql"),
    ),
    (
        5,
        "federation",
        include_str!("../../migrations/sqlite/0005_federation.sql"),
    ),
    (
        6,
        "audit",
        include_str!("../../migrations/sqlite/0006_audit.sql"),
    ),
    (
        7,
        "console",
        include_str!("../../migrations/sqlite/0007_console.sql"),
    ),
    (
        8,
        "console_identities",
        include_str!("../../migrations/sqlite/0008_console_identities.sql"),
    ),
    (
        9,
        "ims_people",
        include_str!("../../migrations/sqlite/0009_ims_people.sql"),
    ),
];

const POSTGRES_MIGRATIONS: Migrations = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "iam",
        include_str!("../../migrations/postgres/0002_iam.sql"),
    ),
    (
        3,
        "people",
        include_str!("../../migrations/postgres/0003_people.sql"),
    ),
    (
        4,
        "people_history",
        include_str!("../../migrations/postgres/0004_people_history.sql"),
    ),
    (
        5,
        "federation",
        include_str!("../../migrations/postgres/0005_federation.sql"),
    ),
    (
        6,
        "audit",
        include_str!("../../migrations/postgres/0006_audit.sql"),
    ),
    (
        7,
        "console",
        include_str!("../../migrations/postgres/0007_console.sql"),
    ),
    (
        8,
        "console_identities",
        include_str!("../../migrations/postgres/0008_console_identities.sql"),
    ),
    (
        9,
        "ims_people",
        include_str!("../../migrations/postgres/0009_ims_people.sql"),
    ),
];

impl Engine {
    pub(crate) fn from_url(url: &str) -> Result<Self, StoreError> {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        match scheme {
            "sqlite" => Ok(Engine::Sqlite),
            "postgres" | "postgresql" => Ok(Engine::Postgres),
            _ => Err(StoreError::InvalidConfig(format!(
                "unsupported database URL scheme {scheme:?}: use sqlite:// or postgres://"
            ))),
        }
    }

    /// Statements run once on the database before the pool opens.
    pub(crate) fn database_setup(self, busy_timeout: Duration) -> Vec<String> {
        match self {
            // WAL is a property of the database file, not of a connection. Switching to it
            // takes an exclusive lock that the busy timeout does not cover, so it happens
            // here, on a single connection, rather than racing in every new connection.
            Engine::Sqlite => vec![
                format!("PRAGMA busy_timeout = {}", busy_timeout.as_millis()),
                "PRAGMA journal_mode = WAL".to_owned(),
            ],
            Engine::Postgres => Vec::new(),
        }
    }

    /// Statements run on every new pooled connection.
    pub(crate) fn connection_setup(
        self,
        busy_timeout: Duration,
        schema: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        match self {
            Engine::Sqlite => {
                if schema.is_some() {
                    return Err(StoreError::InvalidConfig(
                        "a schema can only be chosen on PostgreSQL".to_owned(),
                    ));
                }
                Ok(vec![
                    // Concurrent writers wait for the lock instead of failing at once.
                    format!("PRAGMA busy_timeout = {}", busy_timeout.as_millis()),
                    // A commit is on disk when it returns: the WAL is synced every commit. (The
                    // group writer relaxes this for calls that changed nothing: group.rs.)
                    "PRAGMA synchronous = FULL".to_owned(),
                    // Off by default in SQLite, per connection.
                    "PRAGMA foreign_keys = ON".to_owned(),
                ])
            }
            Engine::Postgres => Ok(match schema {
                Some(schema) => {
                    check_schema_name(schema)?;
                    vec![format!("SET search_path TO \"{schema}\"")]
                }
                None => Vec::new(),
            }),
        }
    }

    /// How a transaction that will write begins.
    ///
    /// SQLite: `IMMEDIATE` takes the write lock up front (waiting up to the busy timeout).
    /// A deferred transaction that reads first and writes later fails with `SQLITE_BUSY`
    /// without waiting if another connection committed in between, and it would also let
    /// two writers read the same count before either inserts.
    ///
    /// PostgreSQL: the default `READ COMMITTED`. Checks that must not race (quotas, delete
    /// preconditions) first lock the parent row, and every statement after the lock sees
    /// what the previous holder committed.
    pub(crate) fn begin_write(self) -> &'static str {
        match self {
            Engine::Sqlite => "BEGIN IMMEDIATE",
            Engine::Postgres => "BEGIN",
        }
    }

    pub(crate) async fn migrator(self) -> Result<Migrator, StoreError> {
        let migrations = match self {
            Engine::Sqlite => SQLITE_MIGRATIONS,
            Engine::Postgres => POSTGRES_MIGRATIONS,
        };
        Migrator::new(Embedded(migrations))
            .await
            .map_err(|e| StoreError::Internal(format!("cannot load migrations: {e}")))
    }
}

/// The schema name goes into `SET search_path` verbatim, so it is held to plain
/// identifiers.
fn check_schema_name(schema: &str) -> Result<(), StoreError> {
    let ok = (1..=63).contains(&schema.len())
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !schema.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidConfig(format!(
            "schema name {schema:?} must be 1-63 of a-z, 0-9 and _, not starting with a digit"
        )))
    }
}

/// Migrations compiled into the binary, so a deployed server needs no files beside it.
#[derive(Debug)]
struct Embedded(Migrations);

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn engines_from_urls() {
        assert_eq!(
            Engine::from_url("sqlite:///tmp/x.db?mode=rwc"),
            Ok(Engine::Sqlite)
        );
        assert_eq!(Engine::from_url("postgres://u@h/db"), Ok(Engine::Postgres));
        assert_eq!(
            Engine::from_url("postgresql://u@h/db"),
            Ok(Engine::Postgres)
        );
        assert!(Engine::from_url("mysql://u@h/db").is_err());
        assert!(Engine::from_url("/tmp/x.db").is_err());
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        let setup = |s| Engine::Postgres.connection_setup(Duration::from_secs(1), Some(s));
        assert!(setup("rampart_t_0123abcd").is_ok());
        for bad in ["", "Rampart", "a\"; DROP TABLE x; --", "1abc", "a-b"] {
            assert!(setup(bad).is_err(), "{bad}");
        }
        assert!(Engine::Sqlite
            .connection_setup(Duration::from_secs(1), Some("x"))
            .is_err());
    }

    #[test]
    fn both_engines_have_the_same_migration_versions() {
        let versions = |m: Migrations| m.iter().map(|(v, d, _)| (*v, *d)).collect::<Vec<_>>();
        assert_eq!(versions(SQLITE_MIGRATIONS), versions(POSTGRES_MIGRATIONS));
    }

    #[test]
    fn both_engines_create_the_same_tables_and_indexes() {
        let names = |m: Migrations| {
            let mut names: Vec<String> = m
                .iter()
                .flat_map(|(_, _, sql)| sql.lines())
                .filter_map(|line| {
                    let line = line.trim_start();
                    ["CREATE TABLE ", "CREATE INDEX ", "CREATE UNIQUE INDEX "]
                        .iter()
                        .find_map(|p| line.strip_prefix(p))
                        .and_then(|rest| rest.split_whitespace().next())
                        .map(str::to_owned)
                })
                .collect();
            names.sort();
            names
        };
        assert_eq!(names(SQLITE_MIGRATIONS), names(POSTGRES_MIGRATIONS));
        assert!(!names(SQLITE_MIGRATIONS).is_empty());
    }
}
