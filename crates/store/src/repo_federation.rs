//! Identity providers (IMS): OIDC issuers and SAML IdPs an account trusts.
//!
//! Provider names are compared case-insensitively (ASCII), as every RAM name. Issuer URLs are
//! unique per account and compared exactly (a token's `iss` is). Client ids compare exactly,
//! fingerprints as stored (the API layer lower-cases them). Every operation is scoped to one
//! account: another account's provider is indistinguishable from one that does not exist.

use async_trait::async_trait;
use rampart_model::{AccountId, AuthnSignAlgo, OidcProvider, SamlProvider, Timestamp};

use crate::error::StoreError;
use crate::page::{Listing, Page};

/// `CreateOIDCProvider`, validated by the API layer. Duplicates within the lists are
/// dropped by the store (first occurrence kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOidcProvider {
    pub name: String,
    pub issuer_url: String,
    pub fingerprints: Vec<String>,
    pub client_ids: Vec<String>,
    pub issuance_limit_time: u32,
    pub description: String,
}

/// `UpdateOIDCProvider`: `None` leaves a field as it is; `client_ids` replaces the whole list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OidcProviderUpdate {
    pub client_ids: Option<Vec<String>>,
    pub issuance_limit_time: Option<u32>,
    pub description: Option<String>,
}

/// `CreateSAMLProvider`, with the metadata already parsed and accepted by the API layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSamlProvider {
    pub name: String,
    pub description: String,
    pub authn_sign_algo: AuthnSignAlgo,
    pub encoded_metadata: String,
    pub metadata_entity_id: String,
}

/// New SAML metadata: the document as uploaded and the entity ID parsed from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlMetadata {
    pub encoded: String,
    pub entity_id: String,
}

/// `UpdateSAMLProvider`: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SamlProviderUpdate {
    pub metadata: Option<SamlMetadata>,
    pub description: Option<String>,
    pub authn_sign_algo: Option<AuthnSignAlgo>,
}

#[async_trait]
pub trait FederationRepo: Send + Sync {
    /// `NotFound(Account)`, `AlreadyExists(OidcProvider)` for a taken name,
    /// `AlreadyExists(OidcIssuerUrl)` for an issuer another provider of the account has,
    /// `LimitExceeded(OidcProvidersPerAccount | FingerprintsPerOidcProvider |
    /// ClientIdsPerOidcProvider)`.
    async fn create_oidc_provider(
        &self,
        account: &AccountId,
        provider: NewOidcProvider,
        now: Timestamp,
    ) -> Result<OidcProvider, StoreError>;
    /// What `AssumeRoleWithOIDC` reads. `NotFound(OidcProvider)`.
    async fn get_oidc_provider(
        &self,
        account: &AccountId,
        name: &str,
    ) -> Result<OidcProvider, StoreError>;
    /// In name order (case-insensitive).
    async fn list_oidc_providers(
        &self,
        account: &AccountId,
        page: &Page,
    ) -> Result<Listing<OidcProvider>, StoreError>;
    /// `LimitExceeded(ClientIdsPerOidcProvider)` for too long a list.
    async fn update_oidc_provider(
        &self,
        account: &AccountId,
        name: &str,
        update: OidcProviderUpdate,
        now: Timestamp,
    ) -> Result<OidcProvider, StoreError>;
    async fn delete_oidc_provider(&self, account: &AccountId, name: &str)
        -> Result<(), StoreError>;

    /// Appends a client id, atomically with its checks: `AlreadyExists(OidcClientId)`,
    /// `LimitExceeded(ClientIdsPerOidcProvider)`.
    async fn add_oidc_client_id(
        &self,
        account: &AccountId,
        name: &str,
        client_id: &str,
        now: Timestamp,
    ) -> Result<OidcProvider, StoreError>;
    /// `NotFound(OidcClientId)`.
    async fn remove_oidc_client_id(
        &self,
        account: &AccountId,
        name: &str,
        client_id: &str,
        now: Timestamp,
    ) -> Result<OidcProvider, StoreError>;
    /// `AlreadyExists(OidcFingerprint)`, `LimitExceeded(FingerprintsPerOidcProvider)`.
    async fn add_oidc_fingerprint(
        &self,
        account: &AccountId,
        name: &str,
        fingerprint: &str,
        now: Timestamp,
    ) -> Result<OidcProvider, StoreError>;
    /// `NotFound(OidcFingerprint)`; removing the last one is
    /// `DeleteConflict { OidcFingerprint, OidcProvider }`: a provider without a fingerprint
    /// could never verify an issuer.
    async fn remove_oidc_fingerprint(
        &self,
        account: &AccountId,
        name: &str,
        fingerprint: &str,
        now: Timestamp,
    ) -> Result<OidcProvider, StoreError>;

    /// `NotFound(Account)`, `AlreadyExists(SamlProvider)`,
    /// `LimitExceeded(SamlProvidersPerAccount)`.
    async fn create_saml_provider(
        &self,
        account: &AccountId,
        provider: NewSamlProvider,
        now: Timestamp,
    ) -> Result<SamlProvider, StoreError>;
    /// What `AssumeRoleWithSAML` reads, metadata included. `NotFound(SamlProvider)`.
    async fn get_saml_provider(
        &self,
        account: &AccountId,
        name: &str,
    ) -> Result<SamlProvider, StoreError>;
    /// In name order (case-insensitive).
    async fn list_saml_providers(
        &self,
        account: &AccountId,
        page: &Page,
    ) -> Result<Listing<SamlProvider>, StoreError>;
    async fn update_saml_provider(
        &self,
        account: &AccountId,
        name: &str,
        update: SamlProviderUpdate,
        now: Timestamp,
    ) -> Result<SamlProvider, StoreError>;
    async fn delete_saml_provider(&self, account: &AccountId, name: &str)
        -> Result<(), StoreError>;
}
