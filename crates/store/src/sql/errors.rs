//! The one place where sqlx errors become [`StoreError`]s.

use rampart_model::{IdError, TimestampError};
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::postgres::PgDatabaseError;
use sqlx::sqlite::SqliteError;

use crate::error::{Entity, StoreError};

impl From<sqlx::Error> for StoreError {
    /// Any failure without a domain meaning at its call site. A unique or foreign-key
    /// violation arriving here was not expected by the query that caused it, so it is
    /// internal; call sites that expect one map it with `already_exists`.
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Database(db) => from_database(db.as_ref()),
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
            sqlx::Error::Configuration(_) => StoreError::InvalidConfig(e.to_string()),
            sqlx::Error::Migrate(m) => StoreError::Internal(format!("migration failed: {m}")),
            other => StoreError::Internal(other.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    /// A migration that cannot reach the database is `Unavailable`; one that does not
    /// apply (edited after it ran, newer than this binary, failing SQL) is `Internal`.
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        match e {
            sqlx::migrate::MigrateError::Execute(inner) => match StoreError::from(inner) {
                StoreError::Unavailable(m) => StoreError::Unavailable(m),
                other => StoreError::Internal(format!("migration failed: {other}")),
            },
            other => StoreError::Internal(format!("migration failed: {other}")),
        }
    }
}

fn from_database(db: &dyn DatabaseError) -> StoreError {
    // Only the server's message: PostgreSQL's `detail` would quote the offending values.
    let message = db.message().to_owned();
    if is_transient(db) {
        StoreError::Unavailable(message)
    } else {
        StoreError::Internal(message)
    }
}

/// Failures that say "not now" rather than "never": retrying later can succeed.
fn is_transient(db: &dyn DatabaseError) -> bool {
    if let Some(pg) = db.try_downcast_ref::<PgDatabaseError>() {
        let code = pg.code();
        // 08 connection exception, 53 insufficient resources, 57 operator intervention
        // (shutdown, statement timeout), 40001 serialization failure, 40P01 deadlock,
        // 55P03 lock not available.
        return ["08", "53", "57"]
            .iter()
            .any(|class| code.starts_with(class))
            || matches!(code, "40001" | "40P01" | "55P03");
    }
    if db.try_downcast_ref::<SqliteError>().is_some() {
        let extended: i32 = db.code().and_then(|c| c.parse().ok()).unwrap_or(0);
        // Primary result codes: 5 BUSY, 6 LOCKED, 10 IOERR, 13 FULL, 14 CANTOPEN.
        return matches!(extended & 0xff, 5 | 6 | 10 | 13 | 14);
    }
    false
}

/// For a query whose unique violation means "`entity` already exists".
pub(crate) fn already_exists(entity: Entity) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.kind() == ErrorKind::UniqueViolation => {
            StoreError::AlreadyExists(entity)
        }
        _ => StoreError::from(e),
    }
}

/// A stored value that does not parse: the database was changed behind the store's back.
pub(crate) fn corrupt_id(e: IdError) -> StoreError {
    StoreError::Internal(format!("stored {e}"))
}

pub(crate) fn corrupt_time(e: TimestampError) -> StoreError {
    StoreError::Internal(format!("stored {e}"))
}
