use async_trait::async_trait;
use rampart_model::{AccountId, AuthnSignAlgo, OidcProvider, SamlProvider, Timestamp};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::errors::already_exists;
use super::rows::{self, name_key, time};
use super::{count, lock_account, SqlStore, WriteTx};
use crate::error::{Entity, Quota, StoreError};
use crate::page::{Listing, Page};
use crate::repo_federation::{
    FederationRepo, NewOidcProvider, NewSamlProvider, OidcProviderUpdate, SamlProviderUpdate,
};

/// Unqualified, so the list also serves `RETURNING`.
const OIDC_COLUMNS: &str = "account_id, name, issuer_url, fingerprints, client_ids, \
     issuance_limit_time, description, create_date, update_date";

const SAML_COLUMNS: &str = "account_id, name, description, authn_sign_algo, encoded_metadata, \
     metadata_entity_id, create_date, update_date";

fn split(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn oidc(row: &AnyRow) -> Result<OidcProvider, StoreError> {
    let limit: i64 = row.try_get("issuance_limit_time")?;
    Ok(OidcProvider {
        account_id: rows::account_id(row.try_get("account_id")?)?,
        name: row.try_get("name")?,
        issuer_url: row.try_get("issuer_url")?,
        fingerprints: split(row.try_get("fingerprints")?),
        client_ids: split(row.try_get("client_ids")?),
        issuance_limit_time: u32::try_from(limit)
            .map_err(|_| StoreError::Internal("stored issuance limit out of range".into()))?,
        description: row.try_get("description")?,
        create_date: time(row.try_get("create_date")?)?,
        update_date: time(row.try_get("update_date")?)?,
    })
}

fn saml(row: &AnyRow) -> Result<SamlProvider, StoreError> {
    let algo: String = row.try_get("authn_sign_algo")?;
    Ok(SamlProvider {
        account_id: rows::account_id(row.try_get("account_id")?)?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        authn_sign_algo: algo
            .parse::<AuthnSignAlgo>()
            .map_err(|e| StoreError::Internal(format!("stored {e}")))?,
        encoded_metadata: row.try_get("encoded_metadata")?,
        metadata_entity_id: row.try_get("metadata_entity_id")?,
        create_date: time(row.try_get("create_date")?)?,
        update_date: time(row.try_get("update_date")?)?,
    })
}

/// Keeps the first occurrence of each value, in order.
fn dedup(values: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

fn within(len: usize, limit: u32, quota: Quota) -> Result<(), StoreError> {
    if len > usize::try_from(limit).unwrap_or(usize::MAX) {
        return Err(StoreError::LimitExceeded { quota, limit });
    }
    Ok(())
}

/// Reads a provider under its row lock (PostgreSQL; SQLite's single writer serializes
/// anyway), so a read-modify-write of its lists cannot interleave with another.
async fn lock_oidc(
    tx: &mut WriteTx,
    account: &AccountId,
    name: &str,
) -> Result<OidcProvider, StoreError> {
    let row = sqlx::query(&format!(
        "UPDATE oidc_providers SET name = name WHERE account_id = $1 AND name_key = $2 \
         RETURNING {OIDC_COLUMNS}"
    ))
    .bind(account.as_str())
    .bind(name_key(name))
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound(Entity::OidcProvider))?;
    oidc(&row)
}

async fn write_oidc(tx: &mut WriteTx, p: &OidcProvider) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE oidc_providers SET fingerprints = $3, client_ids = $4, \
         issuance_limit_time = $5, description = $6, update_date = $7 \
         WHERE account_id = $1 AND name_key = $2",
    )
    .bind(p.account_id.as_str())
    .bind(name_key(&p.name))
    .bind(p.fingerprints.join(","))
    .bind(p.client_ids.join(","))
    .bind(i64::from(p.issuance_limit_time))
    .bind(p.description.as_str())
    .bind(p.update_date.unix_millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl SqlStore {
    /// One atomic read-modify-write of an OIDC provider: `change` sees the current row and
    /// either edits it or refuses, and nothing is written when it refuses.
    async fn modify_oidc(
        &self,
        account: &AccountId,
        name: &str,
        now: Timestamp,
        change: impl FnOnce(&mut OidcProvider) -> Result<(), StoreError> + Send,
    ) -> Result<OidcProvider, StoreError> {
        let mut tx = self.begin().await?;
        let mut p = lock_oidc(&mut tx, account, name).await?;
        change(&mut p)?;
        p.update_date = now;
        write_oidc(&mut tx, &p).await?;
        tx.commit().await?;
        Ok(p)
    }
}

#[async_trait]
impl FederationRepo for SqlStore {
    async fn create_oidc_provider(
        &self,
        account: &AccountId,
        new: NewOidcProvider,
        now: Timestamp,
    ) -> Result<OidcProvider, StoreError> {
        let fingerprints = dedup(new.fingerprints);
        let client_ids = dedup(new.client_ids);
        within(
            fingerprints.len(),
            self.quotas.fingerprints_per_oidc_provider,
            Quota::FingerprintsPerOidcProvider,
        )?;
        within(
            client_ids.len(),
            self.quotas.client_ids_per_oidc_provider,
            Quota::ClientIdsPerOidcProvider,
        )?;
        let mut tx = self.begin().await?;
        // Serializes the account's creates, so the checks below are exact.
        lock_account(&mut tx, account).await?;
        let key = name_key(&new.name);
        let taken = count(
            &mut tx,
            "SELECT COUNT(*) FROM oidc_providers WHERE account_id = $1 AND name_key = $2",
            &[account.as_str(), &key],
        )
        .await?;
        if taken > 0 {
            return Err(StoreError::AlreadyExists(Entity::OidcProvider));
        }
        let issuer_taken = count(
            &mut tx,
            "SELECT COUNT(*) FROM oidc_providers WHERE account_id = $1 AND issuer_url = $2",
            &[account.as_str(), &new.issuer_url],
        )
        .await?;
        if issuer_taken > 0 {
            return Err(StoreError::AlreadyExists(Entity::OidcIssuerUrl));
        }
        let existing = count(
            &mut tx,
            "SELECT COUNT(*) FROM oidc_providers WHERE account_id = $1",
            &[account.as_str()],
        )
        .await?;
        if existing >= i64::from(self.quotas.oidc_providers_per_account) {
            return Err(StoreError::LimitExceeded {
                quota: Quota::OidcProvidersPerAccount,
                limit: self.quotas.oidc_providers_per_account,
            });
        }
        sqlx::query(
            "INSERT INTO oidc_providers (account_id, name, name_key, issuer_url, fingerprints, \
             client_ids, issuance_limit_time, description, create_date, update_date) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(account.as_str())
        .bind(new.name.as_str())
        .bind(key)
        .bind(new.issuer_url.as_str())
        .bind(fingerprints.join(","))
        .bind(client_ids.join(","))
        .bind(i64::from(new.issuance_limit_time))
        .bind(new.description.as_str())
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(already_exists(Entity::OidcProvider))?;
        tx.commit().await?;
        Ok(OidcProvider {
            account_id: account.clone(),
            name: new.name,
            issuer_url: new.issuer_url,
            fingerprints,
            client_ids,
            issuance_limit_time: new.issuance_limit_time,
            description: new.description,
            create_date: now,
            update_date: now,
        })
    }

    async fn get_oidc_provider(
        &self,
        account: &AccountId,
        name: &str,
    ) -> Result<OidcProvider, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {OIDC_COLUMNS} FROM oidc_providers WHERE account_id = $1 AND name_key = $2"
        ))
        .bind(account.as_str())
        .bind(name_key(name))
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound(Entity::OidcProvider))?;
        oidc(&row)
    }

    async fn list_oidc_providers(
        &self,
        account: &AccountId,
        page: &Page,
    ) -> Result<Listing<OidcProvider>, StoreError> {
        let found = sqlx::query(&format!(
            "SELECT {OIDC_COLUMNS} FROM oidc_providers WHERE account_id = $1 AND name_key > $2 \
             ORDER BY name_key LIMIT $3"
        ))
        .bind(account.as_str())
        .bind(page.after_key())
        .bind(i64::from(page.max_items()) + 1)
        .fetch_all(&self.pool)
        .await?;
        let items = found.iter().map(oidc).collect::<Result<Vec<_>, _>>()?;
        Ok(Listing::from_rows(items, page, |p| name_key(&p.name)))
    }

    async fn update_oidc_provider(
        &self,
        account: &AccountId,
        name: &str,
        update: OidcProviderUpdate,
        now: Timestamp,
    ) -> Result<OidcProvider, StoreError> {
        let limit = self.quotas.client_ids_per_oidc_provider;
        self.modify_oidc(account, name, now, move |p| {
            if let Some(ids) = update.client_ids {
                let ids = dedup(ids);
                within(ids.len(), limit, Quota::ClientIdsPerOidcProvider)?;
                p.client_ids = ids;
            }
            if let Some(hours) = update.issuance_limit_time {
                p.issuance_limit_time = hours;
            }
            if let Some(description) = update.description {
                p.description = description;
            }
            Ok(())
        })
        .await
    }

    async fn delete_oidc_provider(
        &self,
        account: &AccountId,
        name: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let deleted =
            sqlx::query("DELETE FROM oidc_providers WHERE account_id = $1 AND name_key = $2")
                .bind(account.as_str())
                .bind(name_key(name))
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound(Entity::OidcProvider));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn add_oidc_client_id(
        &self,
        account: &AccountId,
        name: &str,
        client_id: &str,
        now: Timestamp,
    ) -> Result<OidcProvider, StoreError> {
        let limit = self.quotas.client_ids_per_oidc_provider;
        self.modify_oidc(account, name, now, |p| {
            if p.client_ids.iter().any(|c| c == client_id) {
                return Err(StoreError::AlreadyExists(Entity::OidcClientId));
            }
            within(
                p.client_ids.len() + 1,
                limit,
                Quota::ClientIdsPerOidcProvider,
            )?;
            p.client_ids.push(client_id.to_owned());
            Ok(())
        })
        .await
    }

    async fn remove_oidc_client_id(
        &self,
        account: &AccountId,
        name: &str,
        client_id: &str,
        now: Timestamp,
    ) -> Result<OidcProvider, StoreError> {
        self.modify_oidc(account, name, now, |p| {
            let before = p.client_ids.len();
            p.client_ids.retain(|c| c != client_id);
            if p.client_ids.len() == before {
                return Err(StoreError::NotFound(Entity::OidcClientId));
            }
            Ok(())
        })
        .await
    }

    async fn add_oidc_fingerprint(
        &self,
        account: &AccountId,
        name: &str,
        fingerprint: &str,
        now: Timestamp,
    ) -> Result<OidcProvider, StoreError> {
        let limit = self.quotas.fingerprints_per_oidc_provider;
        self.modify_oidc(account, name, now, |p| {
            if p.fingerprints.iter().any(|f| f == fingerprint) {
                return Err(StoreError::AlreadyExists(Entity::OidcFingerprint));
            }
            within(
                p.fingerprints.len() + 1,
                limit,
                Quota::FingerprintsPerOidcProvider,
            )?;
            p.fingerprints.push(fingerprint.to_owned());
            Ok(())
        })
        .await
    }

    async fn remove_oidc_fingerprint(
        &self,
        account: &AccountId,
        name: &str,
        fingerprint: &str,
        now: Timestamp,
    ) -> Result<OidcProvider, StoreError> {
        self.modify_oidc(account, name, now, |p| {
            if !p.fingerprints.iter().any(|f| f == fingerprint) {
                return Err(StoreError::NotFound(Entity::OidcFingerprint));
            }
            if p.fingerprints.len() == 1 {
                return Err(StoreError::DeleteConflict {
                    entity: Entity::OidcFingerprint,
                    blocker: Entity::OidcProvider,
                });
            }
            p.fingerprints.retain(|f| f != fingerprint);
            Ok(())
        })
        .await
    }

    async fn create_saml_provider(
        &self,
        account: &AccountId,
        new: NewSamlProvider,
        now: Timestamp,
    ) -> Result<SamlProvider, StoreError> {
        let mut tx = self.begin().await?;
        lock_account(&mut tx, account).await?;
        let existing = count(
            &mut tx,
            "SELECT COUNT(*) FROM saml_providers WHERE account_id = $1",
            &[account.as_str()],
        )
        .await?;
        let key = name_key(&new.name);
        let taken = count(
            &mut tx,
            "SELECT COUNT(*) FROM saml_providers WHERE account_id = $1 AND name_key = $2",
            &[account.as_str(), &key],
        )
        .await?;
        if taken > 0 {
            return Err(StoreError::AlreadyExists(Entity::SamlProvider));
        }
        if existing >= i64::from(self.quotas.saml_providers_per_account) {
            return Err(StoreError::LimitExceeded {
                quota: Quota::SamlProvidersPerAccount,
                limit: self.quotas.saml_providers_per_account,
            });
        }
        sqlx::query(
            "INSERT INTO saml_providers (account_id, name, name_key, description, \
             authn_sign_algo, encoded_metadata, metadata_entity_id, create_date, update_date) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(account.as_str())
        .bind(new.name.as_str())
        .bind(key)
        .bind(new.description.as_str())
        .bind(new.authn_sign_algo.as_str())
        .bind(new.encoded_metadata.as_str())
        .bind(new.metadata_entity_id.as_str())
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(already_exists(Entity::SamlProvider))?;
        tx.commit().await?;
        Ok(SamlProvider {
            account_id: account.clone(),
            name: new.name,
            description: new.description,
            authn_sign_algo: new.authn_sign_algo,
            encoded_metadata: new.encoded_metadata,
            metadata_entity_id: new.metadata_entity_id,
            create_date: now,
            update_date: now,
        })
    }

    async fn get_saml_provider(
        &self,
        account: &AccountId,
        name: &str,
    ) -> Result<SamlProvider, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {SAML_COLUMNS} FROM saml_providers WHERE account_id = $1 AND name_key = $2"
        ))
        .bind(account.as_str())
        .bind(name_key(name))
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound(Entity::SamlProvider))?;
        saml(&row)
    }

    async fn list_saml_providers(
        &self,
        account: &AccountId,
        page: &Page,
    ) -> Result<Listing<SamlProvider>, StoreError> {
        let found = sqlx::query(&format!(
            "SELECT {SAML_COLUMNS} FROM saml_providers WHERE account_id = $1 AND name_key > $2 \
             ORDER BY name_key LIMIT $3"
        ))
        .bind(account.as_str())
        .bind(page.after_key())
        .bind(i64::from(page.max_items()) + 1)
        .fetch_all(&self.pool)
        .await?;
        let items = found.iter().map(saml).collect::<Result<Vec<_>, _>>()?;
        Ok(Listing::from_rows(items, page, |p| name_key(&p.name)))
    }

    async fn update_saml_provider(
        &self,
        account: &AccountId,
        name: &str,
        update: SamlProviderUpdate,
        now: Timestamp,
    ) -> Result<SamlProvider, StoreError> {
        let (encoded, entity_id) = match update.metadata {
            Some(m) => (Some(m.encoded), Some(m.entity_id)),
            None => (None, None),
        };
        let mut tx = self.begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE saml_providers SET encoded_metadata = COALESCE($3, encoded_metadata), \
             metadata_entity_id = COALESCE($4, metadata_entity_id), \
             description = COALESCE($5, description), \
             authn_sign_algo = COALESCE($6, authn_sign_algo), update_date = $7 \
             WHERE account_id = $1 AND name_key = $2 RETURNING {SAML_COLUMNS}"
        ))
        .bind(account.as_str())
        .bind(name_key(name))
        .bind(encoded)
        .bind(entity_id)
        .bind(update.description)
        .bind(update.authn_sign_algo.map(|a| a.as_str().to_owned()))
        .bind(now.unix_millis())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound(Entity::SamlProvider))?;
        let updated = saml(&row)?;
        tx.commit().await?;
        Ok(updated)
    }

    async fn delete_saml_provider(
        &self,
        account: &AccountId,
        name: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let deleted =
            sqlx::query("DELETE FROM saml_providers WHERE account_id = $1 AND name_key = $2")
                .bind(account.as_str())
                .bind(name_key(name))
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound(Entity::SamlProvider));
        }
        tx.commit().await?;
        Ok(())
    }
}
