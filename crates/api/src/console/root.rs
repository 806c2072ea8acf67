//! The root identity's console credentials: its password and its virtual MFA device. They
//! are not RAM entities (RAM's login profiles and devices belong to users), so the console
//! and `rampart account set-root-password` act on them here, each change with its audit
//! event in the same transaction.

use std::sync::Arc;

use base64::Engine as _;
use rampart_model::{AccountId, Timestamp};
use rampart_store::{AuditSlot, SessionIdentity, Store, StoreError};

use super::pages::Enrolment;
use super::{verify_blocking, Attempt};
use crate::http::HttpRequest;
use crate::ram::mfa;
use crate::state::State;

/// Root passwords: 8 to 32 characters, RAM's own bounds. RAM's password policy governs RAM
/// users, not the root identity (as in Alibaba).
const MIN_LENGTH: usize = 8;
const MAX_LENGTH: usize = 32;

/// Why a root password was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum RootPasswordError {
    #[error("the password must be {MIN_LENGTH} to {MAX_LENGTH} characters")]
    Length,
    #[error("cannot hash the password")]
    Hash,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn check(password: &str) -> Result<(), RootPasswordError> {
    if (MIN_LENGTH..=MAX_LENGTH).contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(RootPasswordError::Length)
    }
}

async fn hash(password: &str) -> Result<String, RootPasswordError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || crate::ram::people::hash_password(&password))
        .await
        .map_err(|_| RootPasswordError::Hash)?
        .map_err(|_| RootPasswordError::Hash)
}

/// Sets the root identity's console password (argon2id), for `rampart account
/// set-root-password`. `NotFound(Account)` for an unknown account.
pub async fn set_root_password(
    store: &dyn Store,
    account: &AccountId,
    password: &str,
    now: Timestamp,
) -> Result<(), RootPasswordError> {
    check(password)?;
    let hashed = hash(password).await?;
    // Recorded like any change: who set it is the operator at the command line.
    let id = rampart_model::RequestId::generate()
        .map(|id| id.to_string())
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    let event = serde_json::json!({
        "eventId": id,
        "eventVersion": 1,
        "eventTime": now.to_string(),
        "eventName": "SetRootPassword",
        "eventType": "ConsoleOperation",
        "eventRW": "Write",
        "eventCategory": "Management",
        "eventSource": "cli.rampart.local",
        "serviceName": "AasSub",
        "recipientAccountId": account.as_str(),
        "userIdentity": {
            "type": "system",
            "accountId": account.as_str(),
            "userName": "rampart account set-root-password",
        },
        "sourceIpAddress": "",
        "userAgent": "rampart-cli",
        "requestId": id,
    });
    let record = rampart_model::AuditRecord::from_event(&event, now)
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    store
        .audited(Arc::new(AuditSlot::new(record)))
        .set_root_password(account, &hashed, now)
        .await?;
    Ok(())
}

fn root_attempt(req: &HttpRequest, account: &AccountId, now: Timestamp) -> Attempt {
    Attempt {
        identity: SessionIdentity::Root,
        ..Attempt::new(req, account.clone(), "root", now)
    }
}

/// The store bound to a root console action's event.
fn audited(
    state: &State,
    req: &HttpRequest,
    account: &AccountId,
    now: Timestamp,
    event: &str,
) -> Result<Arc<dyn Store>, StoreError> {
    let record = root_attempt(req, account, now)
        .record(event, true, None)
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    Ok(state.store.audited(Arc::new(AuditSlot::new(record))))
}

/// The console's change of the root password: the current one must verify.
/// `Ok(Err(why))` when refused.
pub(super) async fn change_password(
    state: &Arc<State>,
    req: &HttpRequest,
    account: &AccountId,
    old: &str,
    new: &str,
) -> Result<Result<(), String>, StoreError> {
    let current = state
        .store
        .get_root_login(account)
        .await?
        .and_then(|l| l.password_hash);
    if !verify_blocking(state, old.to_owned(), current).await {
        return Ok(Err("The current password is not correct.".to_owned()));
    }
    if old == new {
        return Ok(Err(
            "The new password must differ from the current one.".to_owned()
        ));
    }
    if check(new).is_err() {
        return Ok(Err(format!(
            "The new password must be {MIN_LENGTH} to {MAX_LENGTH} characters."
        )));
    }
    let hashed = match hash(new).await {
        Ok(h) => h,
        Err(_) => return Err(StoreError::Internal("cannot hash the password".into())),
    };
    let now = state.clock.now();
    audited(state, req, account, now, "ChangePassword")?
        .set_root_password(account, &hashed, now)
        .await?;
    Ok(Ok(()))
}

/// A new device for the root identity, not yet bound: its seed is sealed to its serial and
/// travels through the binding form, which cannot alter it.
pub(super) fn new_device(state: &State, account: &AccountId) -> Result<Enrolment, StoreError> {
    let serial = format!("acs:ram::{account}:mfa/root");
    let mut seed = vec![0u8; 20];
    getrandom::fill(&mut seed).map_err(|e| StoreError::Internal(e.to_string()))?;
    let sealed = state
        .master_key
        .seal(&seed, &mfa::seed_aad(&serial))
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    let totp = mfa::totp(seed, account.as_str(), "root")
        .map_err(|_| StoreError::Internal("cannot make a TOTP".into()))?;
    let qr = totp
        .get_qr_base64()
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    Ok(Enrolment {
        serial,
        seed: totp.get_secret_base32(),
        qr,
        sealed: base64::engine::general_purpose::STANDARD.encode(sealed),
    })
}

/// Binds the enrolled device with two consecutive codes. `Ok(Err(why))` when refused.
pub(super) async fn bind(
    state: &Arc<State>,
    req: &HttpRequest,
    account: &AccountId,
    enrol: &Enrolment,
    code1: &str,
    code2: &str,
    now: Timestamp,
) -> Result<Result<(), String>, StoreError> {
    let refused = |why: &str| Ok(Err(why.to_owned()));
    if enrol.serial != format!("acs:ram::{account}:mfa/root") {
        return refused("This device is not the root identity's.");
    }
    let Ok(sealed) = base64::engine::general_purpose::STANDARD.decode(&enrol.sealed) else {
        return refused("The enrolment form was altered. Start again.");
    };
    let Ok(seed) = mfa::open_seed(&state.master_key, &enrol.serial, &sealed) else {
        return refused("The enrolment form was altered. Start again.");
    };
    let totp = mfa::totp(seed, account.as_str(), "root")
        .map_err(|_| StoreError::Internal("cannot make a TOTP".into()))?;
    let now_secs = u64::try_from(now.unix_secs()).unwrap_or(0);
    if !mfa::consecutive(&totp, now_secs, code1, code2) {
        return refused("The codes are not two consecutive codes of this device. Try again.");
    }
    let step_now = now_secs / mfa::STEP_SECS;
    let second = (step_now.saturating_sub(1)..=step_now + 1)
        .find(|s| totp.generate(s * mfa::STEP_SECS) == code2)
        .unwrap_or(step_now);
    match audited(state, req, account, now, "BindMFADevice")?
        .bind_root_mfa(account, &enrol.serial, &sealed, now)
        .await
    {
        Ok(()) => {}
        Err(StoreError::AlreadyExists(_)) => {
            return refused("A device is already bound: unbind it first.")
        }
        Err(e) => return Err(e),
    }
    // The second code proved the device; it must not also open a sign-in.
    state.store.use_root_totp_step(account, second).await?;
    Ok(Ok(()))
}

pub(super) async fn unbind(
    state: &Arc<State>,
    req: &HttpRequest,
    account: &AccountId,
    now: Timestamp,
) -> Result<(), StoreError> {
    audited(state, req, account, now, "UnbindMFADevice")?
        .unbind_root_mfa(account, now)
        .await
        .map(|_| ())
}
