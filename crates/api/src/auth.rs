//! Authentication: which principal signed a request, proven by its signature, its timestamp
//! and a nonce never seen before.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rampart_model::{
    AccessKeyId, AccessKeyStatus, AccountId, KeyOwner, RoleId, SecretString, Timestamp,
};
use rampart_store::{KeyAssumption, NonceSpend, NonceUse, StoreError};
use rampart_wire::{verify, ApiError, ClassifiedRequest, RawRequest, Scheme, Secret};

use crate::call::Principal;
use crate::errors::store_error;
use crate::state::State;
use crate::sts::token::TokenError;

/// The caller of a signed request, as [`authenticate`] established it.
pub struct Authenticated {
    pub principal: Principal,
    /// The account's authorization epoch, for the policy-set cache.
    pub epoch: i64,
    /// The nonce, when the caller asked to spend it later.
    pub deferred_nonce: Option<NonceSpend>,
}

/// Establishes the caller of a signed request; also returns its account's authorization
/// epoch, read in the nonce's transaction so authorization needs no read of its own.
///
/// Keys are cached with their opened secrets (see [`KeyCache`]); the key's status, owner name
/// and epoch are re-read in the nonce batch of every request, so a cache never lets a
/// disabled or deleted key through.
///
/// With `defer_nonce` the nonce is not spent here but handed back, for a call that changes
/// nothing: the dispatcher spends it in the transaction that writes the call's event, and
/// answers `SignatureNonceUsed` instead of the result if it was used before. The key's state
/// and the epoch are then read on their own, from committed state, outside the writer;
/// or, with `trust_cache` and a cached key whose state was read before, taken from that read
/// and handed back as the nonce's [`KeyAssumption`]: the nonce and the event are then written
/// only if the key's state is still that when they are, and otherwise the call runs again
/// without trusting the cache (see [`NonceUse::KeyChanged`]).
///
/// Order matters: the nonce is spent only after the signature verified, so nobody can burn
/// another client's nonces with forged requests, and an unknown key is reported before a bad
/// signature, as Alibaba does.
pub async fn authenticate(
    state: &State,
    raw: &RawRequest,
    request: &ClassifiedRequest,
    now: Timestamp,
    defer_nonce: bool,
    trust_cache: bool,
) -> Result<Authenticated, ApiError> {
    if matches!(request.scheme(), Scheme::Anonymous | Scheme::Session) {
        return Err(ApiError::missing_parameter("AccessKeyId"));
    }
    let key_id = request
        .access_key_id()
        .ok_or_else(|| ApiError::missing_parameter("AccessKeyId"))?;
    if key_id.starts_with("STS.") {
        return authenticate_session(state, raw, request, key_id, now, defer_nonce).await;
    }
    let id = AccessKeyId::parse(key_id).map_err(|_| ApiError::access_key_not_found())?;
    // Without a nonce there is no batch to re-check a cached key in (classification requires
    // one on signed requests; this is defence in depth).
    let cached = request.nonce().and_then(|_| state.key_cache.get(key_id));
    state
        .metrics
        .cache(crate::metrics::Cache::AccessKey, cached.is_some());
    let (owner, secret, read_epoch, known) = match cached {
        Some(c) => (
            c.owner.clone(),
            c.secret.clone(),
            None,
            Some(c.known.clone()),
        ),
        None => {
            let (key, epoch) = match state.store.get_access_key_with_epoch(&id).await {
                Ok(found) => found,
                Err(StoreError::NotFound(_)) => return Err(ApiError::access_key_not_found()),
                Err(e) => return Err(store_error(e)),
            };
            if key.status == AccessKeyStatus::Inactive {
                return Err(ApiError::access_key_inactive());
            }
            // A key that does not open under our master key is corrupt or from another
            // installation: never a client error, and never worth echoing.
            let secret = key
                .open_secret(&state.master_key)
                .map_err(|_| ApiError::internal_error())?;
            let known = KeyAssumption {
                authz_epoch: epoch,
                user_name: owner_name(&key.owner),
            };
            state
                .key_cache
                .put(key_id, key.owner.clone(), secret.clone(), known);
            (key.owner, secret, Some(epoch), None)
        }
    };
    verify(
        raw,
        request,
        &Secret::new(secret.expose()),
        now.unix_secs(),
        &state.options.verify,
    )?;
    let mut deferred_nonce = None;
    let (epoch, current_name) = match request.nonce() {
        Some(nonce) if defer_nonce => {
            let mut spend = NonceSpend::new(key_id, nonce);
            let found = match (read_epoch, known) {
                // Read just now, with the key's status, to fill the cache.
                (Some(epoch), _) => (epoch, None),
                (None, Some(known)) if trust_cache => {
                    let found = (known.authz_epoch, known.user_name.clone());
                    spend.assumed = Some(known);
                    found
                }
                (None, _) => current_key_state(state, &id, key_id).await?,
            };
            deferred_nonce = Some(spend);
            found
        }
        Some(nonce) => {
            let (used, check) = state
                .nonces
                .use_nonce(key_id, nonce, now)
                .await
                .map_err(store_error)?;
            // INVARIANT: a cached key is trusted only together with this check, read in the
            // nonce's own transaction: a key disabled or deleted a moment ago is refused now,
            // on every node.
            let Some(check) = check else {
                state.key_cache.evict(key_id);
                return Err(ApiError::access_key_not_found());
            };
            if check.status == AccessKeyStatus::Inactive {
                state.key_cache.evict(key_id);
                return Err(ApiError::access_key_inactive());
            }
            if used == NonceUse::Replayed {
                return Err(ApiError::signature_nonce_used());
            }
            state.key_cache.learn(
                key_id,
                KeyAssumption {
                    authz_epoch: check.authz_epoch,
                    user_name: check.user_name.clone(),
                },
            );
            (check.authz_epoch, check.user_name)
        }
        None => (read_epoch.unwrap_or_default(), None),
    };
    let principal = match owner {
        KeyOwner::AccountRoot(account_id) => Principal::Root { account_id },
        KeyOwner::User {
            account_id,
            user_id,
            user_name,
        } => Principal::User {
            account_id,
            user_id,
            // The name as of this request: users can be renamed while their keys are cached.
            user_name: current_name.unwrap_or(user_name),
        },
    };
    Ok(Authenticated {
        principal,
        epoch,
        deferred_nonce,
    })
}

/// A cached key's current status, owner name and account epoch, read on their own: the
/// check the nonce batch makes for a request that spends its nonce there.
async fn current_key_state(
    state: &State,
    id: &AccessKeyId,
    key_id: &str,
) -> Result<(i64, Option<String>), ApiError> {
    let (key, epoch) = match state.store.get_access_key_with_epoch(id).await {
        Ok(found) => found,
        Err(StoreError::NotFound(_)) => {
            state.key_cache.evict(key_id);
            return Err(ApiError::access_key_not_found());
        }
        Err(e) => return Err(store_error(e)),
    };
    if key.status == AccessKeyStatus::Inactive {
        state.key_cache.evict(key_id);
        return Err(ApiError::access_key_inactive());
    }
    let name = owner_name(&key.owner);
    state.key_cache.learn(
        key_id,
        KeyAssumption {
            authz_epoch: epoch,
            user_name: name.clone(),
        },
    );
    Ok((epoch, name))
}

fn owner_name(owner: &KeyOwner) -> Option<String> {
    match owner {
        KeyOwner::User { user_name, .. } => Some(user_name.clone()),
        KeyOwner::AccountRoot(_) => None,
    }
}

/// A request signed with STS credentials: the token is opened (no database read), the
/// signature checked with the secret inside it, and then, together with the nonce, the
/// role is looked up by id, so a deleted role's sessions end at once on every node.
async fn authenticate_session(
    state: &State,
    raw: &RawRequest,
    request: &ClassifiedRequest,
    key_id: &str,
    now: Timestamp,
    defer_nonce: bool,
) -> Result<Authenticated, ApiError> {
    let token = request
        .security_token()
        .filter(|t| !t.is_empty())
        .ok_or_else(ApiError::missing_security_token)?;
    let claims = state.tokens.open(token, key_id, now).map_err(|e| match e {
        TokenError::Expired => ApiError::security_token_expired(),
        TokenError::Mismatch => ApiError::security_token_mismatch(),
        TokenError::Malformed | TokenError::Seal => ApiError::security_token_malformed(),
    })?;
    verify(
        raw,
        request,
        &Secret::new(&claims.secret),
        now.unix_secs(),
        &state.options.verify,
    )?;
    let account_id =
        AccountId::parse(&claims.account_id).map_err(|_| ApiError::security_token_malformed())?;
    let role_id =
        RoleId::parse(&claims.role_id).map_err(|_| ApiError::security_token_malformed())?;
    let nonce = request
        .nonce()
        .ok_or_else(|| ApiError::missing_parameter("SignatureNonce"))?;
    let (used, role) = if defer_nonce {
        let role = state.store.role_session_state(&account_id, &role_id).await;
        (NonceUse::Fresh, role)
    } else {
        let (used, role) = tokio::join!(
            state.nonces.use_nonce(key_id, nonce, now),
            state.store.role_session_state(&account_id, &role_id)
        );
        (used.map_err(store_error)?.0, role)
    };
    let Some((role_name, epoch)) = role.map_err(store_error)? else {
        return Err(ApiError::new(
            "InvalidSecurityToken.Expired",
            "Specified SecurityToken is expired: the role it was issued for has been deleted.",
            400,
        ));
    };
    if used == NonceUse::Replayed {
        return Err(ApiError::signature_nonce_used());
    }
    let mut claims = claims;
    claims.role_name = role_name;
    Ok(Authenticated {
        principal: Principal::AssumedRole {
            account_id,
            session: Arc::new(claims),
        },
        epoch,
        deferred_nonce: defer_nonce.then(|| NonceSpend::new(key_id, nonce)),
    })
}

/// AccessKeys with their opened secrets, so a request needs no key read before verifying its
/// signature. Entries are trusted only with the re-check described at [`authenticate`].
pub struct KeyCache {
    entries: RwLock<HashMap<String, Arc<CachedKey>>>,
    capacity: usize,
}

pub struct CachedKey {
    owner: KeyOwner,
    secret: SecretString,
    /// The key's state as last read; trusted only as a [`KeyAssumption`] that the call's
    /// commit checks.
    known: KeyAssumption,
}

impl KeyCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    fn get(&self, key_id: &str) -> Option<Arc<CachedKey>> {
        self.entries.read().ok()?.get(key_id).cloned()
    }

    fn put(&self, key_id: &str, owner: KeyOwner, secret: SecretString, known: KeyAssumption) {
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= self.capacity {
                entries.clear();
            }
            let entry = CachedKey {
                owner,
                secret,
                known,
            };
            entries.insert(key_id.to_owned(), Arc::new(entry));
        }
    }

    /// Records a cached key's state as just read; a key not cached stays so.
    fn learn(&self, key_id: &str, known: KeyAssumption) {
        let changed = |entries: &HashMap<String, Arc<CachedKey>>| {
            entries.get(key_id).is_some_and(|c| c.known != known)
        };
        // Usually nothing changed: a read lock answers that.
        if !self.entries.read().is_ok_and(|entries| changed(&entries)) {
            return;
        }
        if let Ok(mut entries) = self.entries.write() {
            if !changed(&entries) {
                return;
            }
            if let Some(current) = entries.get_mut(key_id) {
                *current = Arc::new(CachedKey {
                    owner: current.owner.clone(),
                    secret: current.secret.clone(),
                    known,
                });
            }
        }
    }

    fn evict(&self, key_id: &str) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(key_id);
        }
    }
}
