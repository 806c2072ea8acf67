use std::time::Duration;

use async_trait::async_trait;
use rampart_model::{AccountId, Timestamp};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{rows, SqlStore};
use crate::error::{Entity, StoreError};
use crate::repo_console::{
    ConsoleRepo, ConsoleSession, RootLogin, RootMfa, SessionIdentity, SessionStage,
    COUNTED_SIGN_IN_FAILURES,
};
use crate::repo_people::TotpUse;

const COLUMNS: &str = "token_hash, account_id, user_name, stage, mfa, csrf, created_at, \
     last_seen, expires_at, idle_secs, kind, role_id, role_name, provider_arn";

fn identity(row: &AnyRow) -> Result<SessionIdentity, StoreError> {
    let kind: String = row.try_get("kind")?;
    Ok(match kind.as_str() {
        "root" => SessionIdentity::Root,
        "role" => SessionIdentity::Role {
            role_id: row
                .try_get::<Option<String>, _>("role_id")?
                .unwrap_or_default(),
            role_name: row
                .try_get::<Option<String>, _>("role_name")?
                .unwrap_or_default(),
            provider_arn: row
                .try_get::<Option<String>, _>("provider_arn")?
                .unwrap_or_default(),
        },
        "user" => SessionIdentity::User,
        other => {
            return Err(StoreError::Internal(format!(
                "console session of unknown kind {other:?}"
            )))
        }
    })
}

fn session(row: &AnyRow) -> Result<ConsoleSession, StoreError> {
    let stage: String = row.try_get("stage")?;
    let mfa: i64 = row.try_get("mfa")?;
    let idle: i64 = row.try_get("idle_secs")?;
    Ok(ConsoleSession {
        token_hash: row.try_get("token_hash")?,
        account_id: rows::account_id(&row.try_get::<String, _>("account_id")?)?,
        user_name: row.try_get("user_name")?,
        identity: identity(row)?,
        stage: match stage.as_str() {
            "active" => SessionStage::Active,
            "password" => SessionStage::Password,
            "bind" => SessionStage::Bind,
            _ => SessionStage::Mfa,
        },
        mfa: mfa != 0,
        csrf: row.try_get("csrf")?,
        created_at: rows::time(row.try_get("created_at")?)?,
        last_seen: rows::time(row.try_get("last_seen")?)?,
        expires_at: rows::time(row.try_get("expires_at")?)?,
        idle: Duration::from_secs(u64::try_from(idle).unwrap_or(0)),
    })
}

async fn insert(tx: &mut super::WriteTx, s: &ConsoleSession) -> Result<(), StoreError> {
    let role = match &s.identity {
        SessionIdentity::Role {
            role_id,
            role_name,
            provider_arn,
        } => Some((role_id.as_str(), role_name.as_str(), provider_arn.as_str())),
        SessionIdentity::User | SessionIdentity::Root => None,
    };
    sqlx::query(&format!(
        "INSERT INTO console_sessions ({COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    ))
    .bind(s.token_hash.as_str())
    .bind(s.account_id.as_str())
    .bind(s.user_name.as_str())
    .bind(s.stage.as_str())
    .bind(i64::from(s.mfa))
    .bind(s.csrf.as_str())
    .bind(s.created_at.unix_millis())
    .bind(s.last_seen.unix_millis())
    .bind(s.expires_at.unix_millis())
    .bind(i64::try_from(s.idle.as_secs()).unwrap_or(i64::MAX))
    .bind(s.identity.kind())
    .bind(role.map(|r| r.0))
    .bind(role.map(|r| r.1))
    .bind(role.map(|r| r.2))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn delete(tx: &mut super::WriteTx, token_hash: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[async_trait]
impl ConsoleRepo for SqlStore {
    async fn create_console_session(
        &self,
        s: &ConsoleSession,
        replaces: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        if let Some(old) = replaces {
            delete(&mut tx, old).await?;
        }
        insert(&mut tx, s).await?;
        tx.commit().await
    }

    async fn get_console_session(
        &self,
        token_hash: &str,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM console_sessions WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(session).transpose()
    }

    async fn touch_console_session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE console_sessions SET last_seen = $2 WHERE token_hash = $1")
            .bind(token_hash)
            .bind(now.unix_millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    async fn delete_console_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        delete(&mut tx, token_hash).await?;
        tx.commit().await
    }

    async fn complete_sign_in(
        &self,
        s: &ConsoleSession,
        replaces: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        match &s.identity {
            SessionIdentity::User => {
                let updated = sqlx::query(
                    "UPDATE users SET last_login_date = $3 \
                     WHERE account_id = $1 AND user_name_key = $2",
                )
                .bind(s.account_id.as_str())
                .bind(rows::name_key(&s.user_name))
                .bind(now.unix_millis())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated == 0 {
                    return Err(StoreError::NotFound(Entity::User));
                }
            }
            SessionIdentity::Root => {
                sqlx::query("UPDATE root_logins SET last_login_date = $2 WHERE account_id = $1")
                    .bind(s.account_id.as_str())
                    .bind(now.unix_millis())
                    .execute(&mut *tx)
                    .await?;
            }
            // A federated role session has no user to stamp; its event is the record.
            SessionIdentity::Role { .. } => {}
        }
        if let Some(old) = replaces {
            delete(&mut tx, old).await?;
        }
        insert(&mut tx, s).await?;
        tx.commit().await
    }

    async fn count_sign_in_failures(
        &self,
        account: &AccountId,
        user_name: &str,
        since: Timestamp,
    ) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE account_id = $1 AND event_time >= $2 \
             AND event_name = 'ConsoleSignin' AND user_name = $3 AND error_code IN ($4, $5)",
        )
        .bind(account.as_str())
        .bind(since.unix_millis())
        .bind(user_name)
        .bind(COUNTED_SIGN_IN_FAILURES[0])
        .bind(COUNTED_SIGN_IN_FAILURES[1])
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn purge_console_sessions(&self, now: Timestamp) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("DELETE FROM console_sessions WHERE expires_at < $1")
            .bind(now.unix_millis())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    async fn get_root_login(&self, account: &AccountId) -> Result<Option<RootLogin>, StoreError> {
        let row = sqlx::query(
            "SELECT password_hash, mfa_serial, mfa_sealed_seed, mfa_activate_date, \
             last_login_date, update_date FROM root_logins WHERE account_id = $1",
        )
        .bind(account.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let serial: Option<String> = row.try_get("mfa_serial")?;
        let seed: Option<Vec<u8>> = row.try_get("mfa_sealed_seed")?;
        let activated: Option<i64> = row.try_get("mfa_activate_date")?;
        let mfa = match (serial, seed) {
            (Some(serial_number), Some(sealed_seed)) => Some(RootMfa {
                serial_number,
                sealed_seed,
                activate_date: rows::time(activated.unwrap_or(0))?,
            }),
            _ => None,
        };
        let last: Option<i64> = row.try_get("last_login_date")?;
        Ok(Some(RootLogin {
            password_hash: row.try_get("password_hash")?,
            mfa,
            last_login_date: last.map(rows::time).transpose()?,
            update_date: rows::time(row.try_get("update_date")?)?,
        }))
    }

    async fn set_root_password(
        &self,
        account: &AccountId,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let exists: Option<String> =
            sqlx::query_scalar("SELECT account_id FROM accounts WHERE account_id = $1")
                .bind(account.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(Entity::Account));
        }
        sqlx::query(
            "INSERT INTO root_logins (account_id, password_hash, update_date) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE SET password_hash = $2, update_date = $3",
        )
        .bind(account.as_str())
        .bind(password_hash)
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    async fn bind_root_mfa(
        &self,
        account: &AccountId,
        serial_number: &str,
        sealed_seed: &[u8],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO root_logins (account_id, update_date) VALUES ($1, $2) \
             ON CONFLICT (account_id) DO NOTHING",
        )
        .bind(account.as_str())
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await?;
        let bound = sqlx::query(
            "UPDATE root_logins SET mfa_serial = $2, mfa_sealed_seed = $3, \
             mfa_activate_date = $4, mfa_last_step = NULL, update_date = $4 \
             WHERE account_id = $1 AND mfa_serial IS NULL",
        )
        .bind(account.as_str())
        .bind(serial_number)
        .bind(sealed_seed.to_vec())
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if bound == 0 {
            return Err(StoreError::AlreadyExists(Entity::UserMfaDevice));
        }
        tx.commit().await
    }

    async fn unbind_root_mfa(
        &self,
        account: &AccountId,
        now: Timestamp,
    ) -> Result<String, StoreError> {
        let mut tx = self.begin().await?;
        let serial: Option<Option<String>> =
            sqlx::query_scalar("SELECT mfa_serial FROM root_logins WHERE account_id = $1")
                .bind(account.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let Some(serial) = serial.flatten() else {
            return Err(StoreError::NotFound(Entity::UserMfaDevice));
        };
        sqlx::query(
            "UPDATE root_logins SET mfa_serial = NULL, mfa_sealed_seed = NULL, \
             mfa_activate_date = NULL, mfa_last_step = NULL, update_date = $2 \
             WHERE account_id = $1",
        )
        .bind(account.as_str())
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(serial)
    }

    async fn use_root_totp_step(
        &self,
        account: &AccountId,
        step: u64,
    ) -> Result<TotpUse, StoreError> {
        let step = i64::try_from(step).map_err(|e| StoreError::Internal(e.to_string()))?;
        let mut tx = self.begin().await?;
        let moved = sqlx::query(
            "UPDATE root_logins SET mfa_last_step = $2 WHERE account_id = $1 \
             AND mfa_serial IS NOT NULL AND (mfa_last_step IS NULL OR mfa_last_step < $2)",
        )
        .bind(account.as_str())
        .bind(step)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(if moved == 1 {
            TotpUse::Fresh
        } else {
            TotpUse::Replayed
        })
    }
}
