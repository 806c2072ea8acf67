use std::time::Duration;

use async_trait::async_trait;
use rampart_model::{AccountId, Timestamp};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{rows, SqlStore};
use crate::error::{Entity, StoreError};
use crate::repo_console::{ConsoleRepo, ConsoleSession, SessionStage, COUNTED_SIGN_IN_FAILURES};

const COLUMNS: &str = "token_hash, account_id, user_name, stage, mfa, csrf, created_at, \
     last_seen, expires_at, idle_secs";

fn session(row: &AnyRow) -> Result<ConsoleSession, StoreError> {
    let stage: String = row.try_get("stage")?;
    let mfa: i64 = row.try_get("mfa")?;
    let idle: i64 = row.try_get("idle_secs")?;
    Ok(ConsoleSession {
        token_hash: row.try_get("token_hash")?,
        account_id: rows::account_id(&row.try_get::<String, _>("account_id")?)?,
        user_name: row.try_get("user_name")?,
        stage: match stage.as_str() {
            "active" => SessionStage::Active,
            "password" => SessionStage::Password,
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
    sqlx::query(&format!(
        "INSERT INTO console_sessions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
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
        let updated = sqlx::query(
            "UPDATE users SET last_login_date = $3 WHERE account_id = $1 AND user_name_key = $2",
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
}
