//! Authentication: which principal signed a request, proven by its signature, its timestamp
//! and a nonce never seen before.

use rampart_model::{AccessKeyId, AccessKeyStatus, KeyOwner, Timestamp};
use rampart_store::{NonceUse, StoreError};
use rampart_wire::{verify, ApiError, ClassifiedRequest, RawRequest, Scheme, Secret};

use crate::call::Principal;
use crate::errors::store_error;
use crate::state::State;

/// Establishes the caller of a signed request; also returns its account's authorization
/// epoch, read with the key so authorization needs no read of its own.
///
/// Order matters: the nonce is spent only after the signature verified, so nobody can burn
/// another client's nonces with forged requests, and an unknown key is reported before a bad
/// signature, as Alibaba does.
pub async fn authenticate(
    state: &State,
    raw: &RawRequest,
    request: &ClassifiedRequest,
    now: Timestamp,
) -> Result<(Principal, i64), ApiError> {
    if matches!(request.scheme(), Scheme::Anonymous) {
        return Err(ApiError::missing_parameter("AccessKeyId"));
    }
    let key_id = request
        .access_key_id()
        .ok_or_else(|| ApiError::missing_parameter("AccessKeyId"))?;
    if key_id.starts_with("STS.") {
        // STS credentials arrive with the STS product; until then such a key cannot exist.
        return Err(ApiError::access_key_not_found());
    }
    let id = AccessKeyId::parse(key_id).map_err(|_| ApiError::access_key_not_found())?;
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
    verify(
        raw,
        request,
        &Secret::new(secret.expose()),
        now.unix_secs(),
        &state.options.verify,
    )?;
    if let Some(nonce) = request.nonce() {
        let used = state
            .nonces
            .use_nonce(key_id, nonce, now)
            .await
            .map_err(store_error)?;
        if used == NonceUse::Replayed {
            return Err(ApiError::signature_nonce_used());
        }
    }
    let principal = match key.owner {
        KeyOwner::AccountRoot(account_id) => Principal::Root { account_id },
        KeyOwner::User {
            account_id,
            user_id,
            user_name,
        } => Principal::User {
            account_id,
            user_id,
            user_name,
        },
    };
    Ok((principal, epoch))
}
