//! The server's shared state: storage, the master key, the clock and the caches.

use std::sync::Arc;
use std::time::Duration;

use rampart_model::{Clock, MasterKey};
use rampart_store::Store;
use rampart_wire::{Limits, VerifyOptions};

use crate::auth::KeyCache;
use crate::authz::Authorizer;
use crate::nonce::NonceBatcher;
use crate::sts::token::TokenKeys;

/// Tunables of the dispatcher.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    pub limits: Limits,
    pub verify: VerifyOptions,
    /// How long a nonce is remembered. At least twice the clock skew: a request stamped
    /// 15 minutes ahead stays acceptable until 15 minutes after its stamp.
    pub nonce_ttl: Duration,
    /// Compiled policy sets kept (one per principal).
    pub policy_cache_entries: usize,
    /// STS options.
    pub sts: StsOptions,
    /// Requests per second per AccessKey and per source IP (unlimited by default).
    pub rate_limits: crate::throttle::RateLimits,
    /// The audit trail.
    pub audit: crate::audit::AuditOptions,
}

/// STS tunables.
#[derive(Debug, Clone)]
pub struct StsOptions {
    /// How long one security-token sealing key is used before the next takes over.
    pub token_key_period: Duration,
    /// `AssumeRoleWithSAML`: accepted `SubjectConfirmationData/@Recipient` values.
    pub saml_recipients: Vec<String>,
    /// `AssumeRoleWithSAML`: accepted `Audience` values.
    pub saml_audiences: Vec<String>,
    /// Clock difference tolerated with identity providers (SAML and OIDC time bounds).
    pub federation_skew_secs: i64,
}

impl Default for StsOptions {
    fn default() -> Self {
        Self {
            token_key_period: Duration::from_secs(3600),
            // Alibaba's own values (international and China sites), so assertions made for
            // Alibaba Cloud work unchanged.
            saml_recipients: rampart_federation::saml::ALIBABA_RECIPIENTS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            saml_audiences: rampart_federation::saml::ALIBABA_AUDIENCES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            federation_skew_secs: 300,
        }
    }
}

impl Default for ApiOptions {
    fn default() -> Self {
        let verify = VerifyOptions::default();
        let skew = u64::try_from(verify.max_clock_skew_secs).unwrap_or(900);
        Self {
            limits: Limits::default(),
            verify,
            nonce_ttl: Duration::from_secs(2 * skew + 60),
            policy_cache_entries: 10_000,
            sts: StsOptions::default(),
            rate_limits: crate::throttle::RateLimits::default(),
            audit: crate::audit::AuditOptions::default(),
        }
    }
}

/// Shared by every request; cheap to reach through an `Arc`.
pub struct State {
    pub store: Arc<dyn Store>,
    pub master_key: Arc<MasterKey>,
    pub clock: Arc<dyn Clock>,
    pub options: ApiOptions,
    pub authorizer: Authorizer,
    pub nonces: NonceBatcher,
    pub key_cache: KeyCache,
    pub tokens: TokenKeys,
    /// Verifies `AssumeRoleWithOIDC` tokens; caches issuers' keys.
    pub oidc: rampart_federation::oidc::OidcVerifier,
    /// Serializes SAML verification (libxml2 / libxmlsec1 global state).
    pub saml_lock: Arc<std::sync::Mutex<()>>,
    pub metrics: crate::metrics::Metrics,
    /// Appends the events of calls that changed nothing.
    pub audit: crate::audit::AuditWriter,
    pub(crate) key_limiter: Option<crate::throttle::Limiter>,
    pub(crate) ip_limiter: Option<crate::throttle::Limiter>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the master key.
        f.debug_struct("State")
            .field("store", &self.store)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}
