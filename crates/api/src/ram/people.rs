//! Login profiles, ChangePassword, the password policy, the security preference and the
//! account alias. Stored and returned faithfully; enforcing them at sign-in is the console's
//! work.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rampart_model::{Field, LoginProfile};
use rampart_store::{LoginProfileUpdate, NewLoginProfile};
use rampart_wire::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::common::{body, date};
use crate::call::{check_field, Call, Principal};
use crate::errors::store_error;
use crate::product::HandlerFuture;

const PASSWORD_POLICY: &str = "password_policy";
const SECURITY_PREFERENCE: &str = "security_preference";

/// RAM's password policy; `Default` is what an account that never set one has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PasswordPolicy {
    pub minimum_password_length: i64,
    pub require_lowercase_characters: bool,
    pub require_uppercase_characters: bool,
    pub require_numbers: bool,
    pub require_symbols: bool,
    pub hard_expiry: bool,
    pub max_password_age: i64,
    pub password_reuse_prevention: i64,
    /// Sic: RAM's spelling on the wire.
    pub max_login_attemps: i64,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            minimum_password_length: 8,
            require_lowercase_characters: false,
            require_uppercase_characters: false,
            require_numbers: false,
            require_symbols: false,
            hard_expiry: false,
            max_password_age: 0,
            password_reuse_prevention: 0,
            max_login_attemps: 0,
        }
    }
}

impl PasswordPolicy {
    /// `InvalidParameter.Password.TooWeak` unless `password` meets the policy.
    pub fn check(&self, password: &str) -> Result<(), ApiError> {
        let len = i64::try_from(password.chars().count()).unwrap_or(i64::MAX);
        let weak = len < self.minimum_password_length
            || len > 32
            || (self.require_lowercase_characters
                && !password.chars().any(|c| c.is_ascii_lowercase()))
            || (self.require_uppercase_characters
                && !password.chars().any(|c| c.is_ascii_uppercase()))
            || (self.require_numbers && !password.chars().any(|c| c.is_ascii_digit()))
            || (self.require_symbols && !password.chars().any(|c| c.is_ascii_punctuation()))
            || password.chars().any(char::is_control);
        if weak {
            Err(ApiError::new(
                "InvalidParameter.Password.TooWeak",
                "The password does not satisfy the password policy of the account.",
                400,
            ))
        } else {
            Ok(())
        }
    }

    fn json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SecurityPreference {
    pub allow_user_to_change_password: bool,
    pub allow_user_to_manage_access_keys: bool,
    pub allow_user_to_manage_mfa_devices: bool,
    pub allow_user_to_manage_public_keys: bool,
    pub enable_save_mfa_ticket: bool,
    pub login_session_duration: i64,
    pub login_network_masks: String,
}

impl Default for SecurityPreference {
    fn default() -> Self {
        Self {
            allow_user_to_change_password: true,
            allow_user_to_manage_access_keys: false,
            allow_user_to_manage_mfa_devices: true,
            allow_user_to_manage_public_keys: false,
            enable_save_mfa_ticket: false,
            login_session_duration: 6,
            login_network_masks: String::new(),
        }
    }
}

impl SecurityPreference {
    fn json(&self) -> Value {
        json!({
            "AccessKeyPreference": {
                "AllowUserToManageAccessKeys": self.allow_user_to_manage_access_keys,
            },
            "LoginProfilePreference": {
                "AllowUserToChangePassword": self.allow_user_to_change_password,
                "EnableSaveMFATicket": self.enable_save_mfa_ticket,
                "LoginNetworkMasks": self.login_network_masks,
                "LoginSessionDuration": self.login_session_duration,
            },
            "MFAPreference": {
                "AllowUserToManageMFADevices": self.allow_user_to_manage_mfa_devices,
            },
            "PublicKeyPreference": {
                "AllowUserToManagePublicKeys": self.allow_user_to_manage_public_keys,
            },
        })
    }
}

async fn load<T: for<'de> Deserialize<'de> + Default>(
    call: &Call,
    name: &str,
) -> Result<T, ApiError> {
    load_for(call.store.as_ref(), call.account()?, name).await
}

async fn load_for<T: for<'de> Deserialize<'de> + Default>(
    store: &dyn rampart_store::Store,
    account: &rampart_model::AccountId,
    name: &str,
) -> Result<T, ApiError> {
    let stored = store
        .get_setting(account, name)
        .await
        .map_err(store_error)?;
    Ok(stored
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default())
}

/// The account's password policy, for sign-in.
pub async fn password_policy_of(
    store: &dyn rampart_store::Store,
    account: &rampart_model::AccountId,
) -> Result<PasswordPolicy, ApiError> {
    load_for(store, account, PASSWORD_POLICY).await
}

/// The account's security preference, for sign-in.
pub async fn security_preference_of(
    store: &dyn rampart_store::Store,
    account: &rampart_model::AccountId,
) -> Result<SecurityPreference, ApiError> {
    load_for(store, account, SECURITY_PREFERENCE).await
}

async fn save<T: Serialize>(call: &Call, name: &str, value: &T) -> Result<(), ApiError> {
    let text = serde_json::to_string(value).map_err(|_| ApiError::internal_error())?;
    call.store
        .put_setting(call.account()?, name, &text)
        .await
        .map_err(store_error)
}

pub async fn password_policy(call: &Call) -> Result<PasswordPolicy, ApiError> {
    load(call, PASSWORD_POLICY).await
}

pub async fn security_preference(call: &Call) -> Result<SecurityPreference, ApiError> {
    load(call, SECURITY_PREFERENCE).await
}

pub(crate) fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| ApiError::internal_error())?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| ApiError::internal_error())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| ApiError::internal_error())
}

/// `Some(n)` when `new` is the user's current password or one of the `n` newest it had (the
/// policy's `PasswordReusePrevention`, at least the current one).
pub(crate) async fn reused(
    store: &dyn rampart_store::Store,
    account: &rampart_model::AccountId,
    user_name: &str,
    policy: &PasswordPolicy,
    new: &str,
) -> Result<Option<u32>, rampart_store::StoreError> {
    let keep = u32::try_from(policy.password_reuse_prevention.clamp(1, 24)).unwrap_or(24);
    let history = store
        .list_password_history(account, user_name, keep)
        .await?;
    let hashes: Vec<String> = history.into_iter().map(|h| h.password_hash).collect();
    let candidate = new.to_owned();
    // argon2 is tens of milliseconds per hash: off the async workers.
    let found =
        tokio::task::spawn_blocking(move || hashes.iter().any(|h| verify_password(&candidate, h)))
            .await
            .unwrap_or(true);
    Ok(found.then_some(keep))
}

pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

fn profile_json(p: &LoginProfile) -> Value {
    json!({
        "UserName": p.user_name,
        "PasswordResetRequired": p.password_reset_required,
        "MFABindRequired": p.mfa_bind_required,
        "CreateDate": date(p.create_date),
    })
}

pub fn create_login_profile(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let user = call.name(Field::UserName)?;
        let password = call.required("Password")?;
        password_policy(call).await?.check(password)?;
        let profile = NewLoginProfile {
            password_hash: hash_password(password)?,
            password_reset_required: call.bool("PasswordResetRequired")?.unwrap_or(false),
            mfa_bind_required: call.bool("MFABindRequired")?.unwrap_or(false),
        };
        let p = call
            .store
            .create_login_profile(call.account()?, user, profile, call.now)
            .await
            .map_err(store_error)?;
        Ok(body(json!({ "LoginProfile": profile_json(&p) })))
    })
}

pub fn get_login_profile(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let p = call
            .store
            .get_login_profile(call.account()?, call.name(Field::UserName)?)
            .await
            .map_err(store_error)?;
        Ok(body(json!({ "LoginProfile": profile_json(&p) })))
    })
}

pub fn update_login_profile(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let user = call.name(Field::UserName)?;
        let password_hash = match call.param("Password").filter(|p| !p.is_empty()) {
            Some(password) => {
                password_policy(call).await?.check(password)?;
                Some(hash_password(password)?)
            }
            None => None,
        };
        let update = LoginProfileUpdate {
            password_hash,
            password_reset_required: call.bool("PasswordResetRequired")?,
            mfa_bind_required: call.bool("MFABindRequired")?,
        };
        call.store
            .update_login_profile(call.account()?, user, update, call.now)
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

pub fn delete_login_profile(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        call.store
            .delete_login_profile(call.account()?, call.name(Field::UserName)?)
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

/// A RAM user changes its own password: governed by the security preference, not by
/// policies (RAM's self-service rule).
pub fn change_password(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let Principal::User { user_name, .. } = &call.principal else {
            return Err(ApiError::new(
                "NoPermission",
                "Only a RAM user can change its own password with ChangePassword.",
                403,
            ));
        };
        if !security_preference(call)
            .await?
            .allow_user_to_change_password
        {
            return Err(ApiError::new(
                "NoPermission",
                "The account's security preference does not allow users to change their password.",
                403,
            ));
        }
        let old = call.required("OldPassword")?;
        let new = call.required("NewPassword")?;
        let account = call.account()?;
        let profile = call
            .store
            .get_login_profile(account, user_name)
            .await
            .map_err(store_error)?;
        if !verify_password(old, &profile.password_hash) {
            return Err(ApiError::new(
                "InvalidParameter.OldPassword",
                "The old password is not correct.",
                400,
            ));
        }
        let policy = password_policy(call).await?;
        policy.check(new)?;
        if let Some(keep) = reused(call.store.as_ref(), account, user_name, &policy, new)
            .await
            .map_err(store_error)?
        {
            return Err(ApiError::new(
                "InvalidParameter.Password.Reused",
                format!("The new password must differ from the last {keep} password(s)."),
                400,
            ));
        }
        let update = LoginProfileUpdate {
            password_hash: Some(hash_password(new)?),
            password_reset_required: Some(false),
            mfa_bind_required: None,
        };
        call.store
            .update_login_profile(account, user_name, update, call.now)
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

pub fn get_password_policy(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let p = password_policy(call).await?;
        Ok(body(json!({ "PasswordPolicy": p.json() })))
    })
}

pub fn set_password_policy(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let mut p = password_policy(call).await?;
        if let Some(v) = call.int("MinimumPasswordLength", 8, 32).map_err(|_| {
            ApiError::new(
                "InvalidParameter.MinimumPasswordLength.Range",
                "The parameter - \"MinimumPasswordLength\" must be from 8 to 32.",
                400,
            )
        })? {
            p.minimum_password_length = v;
        }
        for (param, field) in [
            (
                "RequireLowercaseCharacters",
                &mut p.require_lowercase_characters,
            ),
            (
                "RequireUppercaseCharacters",
                &mut p.require_uppercase_characters,
            ),
            ("RequireNumbers", &mut p.require_numbers),
            ("RequireSymbols", &mut p.require_symbols),
            ("HardExpiry", &mut p.hard_expiry),
        ] {
            if let Some(v) = call.bool(param)? {
                *field = v;
            }
        }
        if let Some(v) = call.int("MaxPasswordAge", 0, 1095)? {
            p.max_password_age = v;
        }
        if let Some(v) = call.int("PasswordReusePrevention", 0, 24)? {
            p.password_reuse_prevention = v;
        }
        if let Some(v) = call.int("MaxLoginAttemps", 0, 32)? {
            p.max_login_attemps = v;
        }
        save(call, PASSWORD_POLICY, &p).await?;
        Ok(body(json!({ "PasswordPolicy": p.json() })))
    })
}

pub fn get_security_preference(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let p = security_preference(call).await?;
        Ok(body(json!({ "SecurityPreference": p.json() })))
    })
}

pub fn set_security_preference(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let mut p = security_preference(call).await?;
        for (param, field) in [
            (
                "AllowUserToChangePassword",
                &mut p.allow_user_to_change_password,
            ),
            (
                "AllowUserToManageAccessKeys",
                &mut p.allow_user_to_manage_access_keys,
            ),
            (
                "AllowUserToManageMFADevices",
                &mut p.allow_user_to_manage_mfa_devices,
            ),
            (
                "AllowUserToManagePublicKeys",
                &mut p.allow_user_to_manage_public_keys,
            ),
            ("EnableSaveMFATicket", &mut p.enable_save_mfa_ticket),
        ] {
            if let Some(v) = call.bool(param)? {
                *field = v;
            }
        }
        if let Some(v) = call.int("LoginSessionDuration", 1, 24)? {
            p.login_session_duration = v;
        }
        if let Some(masks) = call.param("LoginNetworkMasks") {
            for mask in masks.split(';').filter(|m| !m.trim().is_empty()) {
                if rampart_policy::value::IpNet::parse(mask.trim()).is_none() {
                    return Err(ApiError::new(
                        "InvalidParameter.LoginNetworkMasks",
                        "The parameter - \"LoginNetworkMasks\" must be CIDR blocks separated by semicolons.",
                        400,
                    ));
                }
            }
            p.login_network_masks = masks.to_owned();
        }
        save(call, SECURITY_PREFERENCE, &p).await?;
        Ok(body(json!({ "SecurityPreference": p.json() })))
    })
}

pub fn set_account_alias(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let alias = call.required("AccountAlias")?;
        check_field(Field::AccountAlias, "AccountAlias", alias)?;
        call.store
            .set_account_alias(call.account()?, alias)
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

pub fn get_account_alias(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let alias = call
            .store
            .get_account_alias(call.account()?)
            .await
            .map_err(store_error)?;
        Ok(body(json!({ "AccountAlias": alias.unwrap_or_default() })))
    })
}

pub fn clear_account_alias(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        call.store
            .clear_account_alias(call.account()?)
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_verify_and_meet_policies() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        let strict = PasswordPolicy {
            minimum_password_length: 10,
            require_numbers: true,
            require_symbols: true,
            require_uppercase_characters: true,
            ..PasswordPolicy::default()
        };
        assert!(strict.check("Abcdefgh1!").is_ok());
        for weak in ["Abcdefg1!", "abcdefgh1!", "Abcdefghi!", "Abcdefghi1"] {
            assert_eq!(
                strict.check(weak).unwrap_err().code(),
                "InvalidParameter.Password.TooWeak",
                "{weak}"
            );
        }
    }
}
