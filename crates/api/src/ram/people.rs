//! Login profiles, ChangePassword, the password policy, the security preference and the
//! account alias. Stored and returned faithfully; enforcing them at sign-in is the console's
//! work.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rampart_model::{Field, LoginProfile, Timestamp};
use rampart_store::{LoginProfileUpdate, NewLoginProfile};
use rampart_wire::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::common::{body, date};
use crate::call::{check_field, Call, Principal};
use crate::errors::store_error;
use crate::product::{Body, HandlerFuture};

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
    // IMS's additions (RAM's API neither sets nor shows them; they apply all the same).
    pub minimum_password_different_character: i64,
    pub password_not_contain_user_name: bool,
    /// Days an administrator-set password stays valid (0: forever).
    pub initial_password_age: i64,
    /// Stored and shown; Rampart has no list of leaked passwords to check against.
    pub intercept_risk_password_on_api: bool,
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
            minimum_password_different_character: 0,
            password_not_contain_user_name: false,
            initial_password_age: 14,
            intercept_risk_password_on_api: false,
        }
    }
}

impl PasswordPolicy {
    /// `InvalidParameter.Password.TooWeak` unless `password`, for the user `user_name`,
    /// meets the policy.
    pub fn check(&self, user_name: &str, password: &str) -> Result<(), ApiError> {
        let len = i64::try_from(password.chars().count()).unwrap_or(i64::MAX);
        let distinct = {
            let mut chars: Vec<char> = password.chars().collect();
            chars.sort_unstable();
            chars.dedup();
            i64::try_from(chars.len()).unwrap_or(i64::MAX)
        };
        let weak = len < self.minimum_password_length
            || len > 32
            || (self.require_lowercase_characters
                && !password.chars().any(|c| c.is_ascii_lowercase()))
            || (self.require_uppercase_characters
                && !password.chars().any(|c| c.is_ascii_uppercase()))
            || (self.require_numbers && !password.chars().any(|c| c.is_ascii_digit()))
            || (self.require_symbols && !password.chars().any(|c| c.is_ascii_punctuation()))
            || distinct < self.minimum_password_different_character
            || (self.password_not_contain_user_name
                && !user_name.is_empty()
                && password.to_lowercase().contains(&user_name.to_lowercase()))
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

    /// RAM's `PasswordPolicy`.
    fn ram_json(&self) -> Value {
        json!({
            "MinimumPasswordLength": self.minimum_password_length,
            "RequireLowercaseCharacters": self.require_lowercase_characters,
            "RequireUppercaseCharacters": self.require_uppercase_characters,
            "RequireNumbers": self.require_numbers,
            "RequireSymbols": self.require_symbols,
            "HardExpiry": self.hard_expiry,
            "MaxPasswordAge": self.max_password_age,
            "PasswordReusePrevention": self.password_reuse_prevention,
            "MaxLoginAttemps": self.max_login_attemps,
        })
    }

    /// IMS's `PasswordPolicy`: RAM's, `HardExpiry` spelled `HardExpire`, and four more.
    pub(crate) fn ims_json(&self) -> Value {
        json!({
            "MinimumPasswordLength": self.minimum_password_length,
            "RequireLowercaseCharacters": self.require_lowercase_characters,
            "RequireUppercaseCharacters": self.require_uppercase_characters,
            "RequireNumbers": self.require_numbers,
            "RequireSymbols": self.require_symbols,
            "HardExpire": self.hard_expiry,
            "MaxPasswordAge": self.max_password_age,
            "PasswordReusePrevention": self.password_reuse_prevention,
            "MaxLoginAttemps": self.max_login_attemps,
            "MinimumPasswordDifferentCharacter": self.minimum_password_different_character,
            "PasswordNotContainUserName": self.password_not_contain_user_name,
            "InitialPasswordAge": self.initial_password_age,
            "InterceptRiskPasswordOnApi": self.intercept_risk_password_on_api,
        })
    }

    /// IMS's `PasswordStatus` of a login profile: whether its password is an initial one
    /// and, if so, whether `InitialPasswordAge` has run out at `now`.
    pub(crate) fn password_status(&self, profile: &LoginProfile, now: Timestamp) -> &'static str {
        let Some(since) = profile.initial_since else {
            return "NotInitial";
        };
        let age_secs = self.initial_password_age.saturating_mul(86_400);
        if self.initial_password_age > 0
            && now.unix_secs().saturating_sub(since.unix_secs()) >= age_secs
        {
            "InitialExpired"
        } else {
            "InitialValid"
        }
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
    // IMS's additions, stored and shown (see docs/compatibility.md for what is enforced).
    pub allow_user_to_login_with_passkey: bool,
    pub allow_user_to_manage_service_credentials: bool,
    pub allow_user_to_manage_personal_ding_talk: bool,
    /// `mandatory`, `independent` or `adaptive` (IMS's `MFAOperationForLogin`; the legacy
    /// `EnforceMFAForLogin` true/false is `mandatory`/`independent`).
    #[serde(rename = "MFAOperationForLogin")]
    pub mfa_operation_for_login: String,
    pub operation_for_risk_login: String,
    pub max_idle_days_for_access_keys: i64,
    pub max_idle_days_for_users: i64,
    pub verification_types: Vec<String>,
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
            allow_user_to_login_with_passkey: true,
            allow_user_to_manage_service_credentials: false,
            allow_user_to_manage_personal_ding_talk: true,
            mfa_operation_for_login: "independent".into(),
            operation_for_risk_login: "autonomous".into(),
            max_idle_days_for_access_keys: 730,
            max_idle_days_for_users: 730,
            verification_types: Vec::new(),
        }
    }
}

impl SecurityPreference {
    /// RAM's `SecurityPreference`.
    fn ram_json(&self) -> Value {
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

    /// IMS's `SecurityPreference`.
    pub(crate) fn ims_json(&self) -> Value {
        json!({
            "AccessKeyPreference": {
                "AllowUserToManageAccessKeys": self.allow_user_to_manage_access_keys,
                "AllowUserToManageServiceCredentials": self.allow_user_to_manage_service_credentials,
            },
            "LoginProfilePreference": {
                "AllowUserToChangePassword": self.allow_user_to_change_password,
                "AllowUserToLoginWithPasskey": self.allow_user_to_login_with_passkey,
                "EnableSaveMFATicket": self.enable_save_mfa_ticket,
                "LoginNetworkMasks": self.login_network_masks,
                "LoginSessionDuration": self.login_session_duration,
                "MFAOperationForLogin": self.mfa_operation_for_login,
                "OperationForRiskLogin": self.operation_for_risk_login,
            },
            "MFAPreference": {
                "AllowUserToManageMFADevices": self.allow_user_to_manage_mfa_devices,
            },
            "MaxIdleDays": {
                "MaxIdleDaysForAccessKeys": self.max_idle_days_for_access_keys,
                "MaxIdleDaysForUsers": self.max_idle_days_for_users,
            },
            "PersonalInfoPreference": {
                "AllowUserToManagePersonalDingTalk": self.allow_user_to_manage_personal_ding_talk,
            },
            "VerificationPreference": {
                "VerificationTypes": self.verification_types,
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

/// The hash of a password an administrator sets for `user`, once it meets the policy.
async fn admin_password_hash(call: &Call, user: &str, password: &str) -> Result<String, ApiError> {
    password_policy(call).await?.check(user, password)?;
    hash_password(password)
}

/// CreateLoginProfile for `user` (RAM's `UserName`, IMS's `UserPrincipalName`): `Password`,
/// `PasswordResetRequired`, `MFABindRequired`; `active` is IMS's `Status`.
pub(crate) async fn create_profile(
    call: &Call,
    user: &str,
    active: bool,
) -> Result<LoginProfile, ApiError> {
    let password = call.required("Password")?;
    let profile = NewLoginProfile {
        password_hash: admin_password_hash(call, user, password).await?,
        password_reset_required: call.bool("PasswordResetRequired")?.unwrap_or(false),
        mfa_bind_required: call.bool("MFABindRequired")?.unwrap_or(false),
        active,
    };
    call.store
        .create_login_profile(call.account()?, user, profile, call.now)
        .await
        .map_err(store_error)
}

/// UpdateLoginProfile for `user`. A new password, or console logon re-enabled (`active`
/// going from false to true), makes the password an initial one again.
pub(crate) async fn update_profile(
    call: &Call,
    user: &str,
    active: Option<bool>,
) -> Result<LoginProfile, ApiError> {
    let account = call.account()?;
    let password_hash = match call.param("Password").filter(|p| !p.is_empty()) {
        Some(password) => Some(admin_password_hash(call, user, password).await?),
        None => None,
    };
    let reactivated = match active {
        Some(true) => {
            !call
                .store
                .get_login_profile(account, user)
                .await
                .map_err(store_error)?
                .active
        }
        _ => false,
    };
    let update = LoginProfileUpdate {
        password_initial: (password_hash.is_some() || reactivated).then_some(true),
        password_hash,
        password_reset_required: call.bool("PasswordResetRequired")?,
        mfa_bind_required: call.bool("MFABindRequired")?,
        active,
    };
    call.store
        .update_login_profile(account, user, update, call.now)
        .await
        .map_err(store_error)
}

pub fn create_login_profile(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let p = create_profile(call, call.name(Field::UserName)?, true).await?;
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
        update_profile(call, call.name(Field::UserName)?, None).await?;
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
/// policies (RAM's self-service rule). IMS's ChangePassword is the same action.
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
        policy.check(user_name, new)?;
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
            password_initial: Some(false),
            ..LoginProfileUpdate::default()
        };
        call.store
            .update_login_profile(account, user_name, update, call.now)
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

/// `Get`/`SetPasswordPolicy`'s answer in one product's shape.
type PolicyShape = fn(&PasswordPolicy) -> Value;

pub(crate) async fn get_password_policy_as(
    call: &Call,
    shape: PolicyShape,
) -> Result<Body, ApiError> {
    let p = password_policy(call).await?;
    Ok(body(json!({ "PasswordPolicy": shape(&p) })))
}

/// SetPasswordPolicy, a partial update: RAM's and IMS's parameters alike (RAM's SDK sends
/// only its own), `HardExpiry` under the name `hard_expiry_param` (IMS: `HardExpire`).
pub(crate) async fn set_password_policy_as(
    call: &Call,
    hard_expiry_param: &'static str,
    shape: PolicyShape,
) -> Result<Body, ApiError> {
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
        (hard_expiry_param, &mut p.hard_expiry),
        (
            "PasswordNotContainUserName",
            &mut p.password_not_contain_user_name,
        ),
        (
            "InterceptRiskPasswordOnApi",
            &mut p.intercept_risk_password_on_api,
        ),
    ] {
        if let Some(v) = call.bool(param)? {
            *field = v;
        }
    }
    for (param, min, max, field) in [
        ("MaxPasswordAge", 0, 1095, &mut p.max_password_age),
        (
            "PasswordReusePrevention",
            0,
            24,
            &mut p.password_reuse_prevention,
        ),
        ("MaxLoginAttemps", 0, 32, &mut p.max_login_attemps),
        (
            "MinimumPasswordDifferentCharacter",
            0,
            8,
            &mut p.minimum_password_different_character,
        ),
        ("InitialPasswordAge", 0, 90, &mut p.initial_password_age),
    ] {
        if let Some(v) = call.int(param, min, max)? {
            *field = v;
        }
    }
    save(call, PASSWORD_POLICY, &p).await?;
    Ok(body(json!({ "PasswordPolicy": shape(&p) })))
}

pub fn get_password_policy(call: &Call) -> HandlerFuture<'_> {
    Box::pin(get_password_policy_as(call, PasswordPolicy::ram_json))
}

pub fn set_password_policy(call: &Call) -> HandlerFuture<'_> {
    Box::pin(set_password_policy_as(
        call,
        "HardExpiry",
        PasswordPolicy::ram_json,
    ))
}

/// `Get`/`SetSecurityPreference`'s answer in one product's shape.
type PreferenceShape = fn(&SecurityPreference) -> Value;

pub(crate) async fn get_security_preference_as(
    call: &Call,
    shape: PreferenceShape,
) -> Result<Body, ApiError> {
    let p = security_preference(call).await?;
    Ok(body(json!({ "SecurityPreference": shape(&p) })))
}

fn invalid_value(param: &str, allowed: &str) -> ApiError {
    ApiError::new(
        format!("InvalidParameter.{param}"),
        format!("The parameter - \"{param}\" must be one of: {allowed}."),
        400,
    )
}

/// An optional parameter that must be one of `allowed`.
fn one_of(call: &Call, param: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    match call.param(param) {
        None => Ok(None),
        Some(v) if allowed.contains(&v) => Ok(Some(v.to_owned())),
        Some(_) => Err(invalid_value(param, &allowed.join(", "))),
    }
}

/// `VerificationTypes`: a JSON list (the SDKs' "shrink" form) or `VerificationTypes.N`.
fn verification_types(call: &Call) -> Result<Option<Vec<String>>, ApiError> {
    let bad = || invalid_value("VerificationTypes", "sms, email");
    let types: Vec<String> = match call.param("VerificationTypes") {
        Some(text) if text.trim_start().starts_with('[') => {
            serde_json::from_str(text).map_err(|_| bad())?
        }
        Some(text) if !text.is_empty() => vec![text.to_owned()],
        Some(_) => Vec::new(),
        None => {
            let listed: Vec<String> = (1..=10)
                .map_while(|i| {
                    call.param(&format!("VerificationTypes.{i}"))
                        .map(str::to_owned)
                })
                .collect();
            if listed.is_empty() {
                return Ok(None);
            }
            listed
        }
    };
    // Alibaba documents no vocabulary (`sms`, `email` are the known ones): any short word.
    if types.len() > 10
        || types.iter().any(|t| {
            t.is_empty()
                || t.len() > 64
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
    {
        return Err(bad());
    }
    Ok(Some(types))
}

/// SetSecurityPreference, a partial update: RAM's and IMS's parameters alike.
pub(crate) async fn set_security_preference_as(
    call: &Call,
    shape: PreferenceShape,
) -> Result<Body, ApiError> {
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
        (
            "AllowUserToLoginWithPasskey",
            &mut p.allow_user_to_login_with_passkey,
        ),
        (
            "AllowUserToManageServiceCredentials",
            &mut p.allow_user_to_manage_service_credentials,
        ),
        (
            "AllowUserToManagePersonalDingTalk",
            &mut p.allow_user_to_manage_personal_ding_talk,
        ),
    ] {
        if let Some(v) = call.bool(param)? {
            *field = v;
        }
    }
    if let Some(v) = call.int("LoginSessionDuration", 1, 24)? {
        p.login_session_duration = v;
    }
    if let Some(masks) = call.param("LoginNetworkMasks") {
        let list: Vec<&str> = masks.split(';').filter(|m| !m.trim().is_empty()).collect();
        if masks.len() > 512
            || list.len() > 40
            || list
                .iter()
                .any(|m| rampart_policy::value::IpNet::parse(m.trim()).is_none())
        {
            return Err(ApiError::new(
                "InvalidParameter.LoginNetworkMasks",
                "The parameter - \"LoginNetworkMasks\" must be at most 40 CIDR blocks separated by semicolons, 512 characters in all.",
                400,
            ));
        }
        p.login_network_masks = masks.to_owned();
    }
    // The legacy switch first, so that MFAOperationForLogin wins when both are sent.
    if let Some(enforce) = call.bool("EnforceMFAForLogin")? {
        p.mfa_operation_for_login = if enforce { "mandatory" } else { "independent" }.into();
    }
    if let Some(v) = one_of(
        call,
        "MFAOperationForLogin",
        &["mandatory", "independent", "adaptive"],
    )? {
        p.mfa_operation_for_login = v;
    }
    if let Some(v) = one_of(
        call,
        "OperationForRiskLogin",
        &["autonomous", "enforceVerify"],
    )? {
        p.operation_for_risk_login = v;
    }
    for (param, field) in [
        (
            "MaxIdleDaysForAccessKeys",
            &mut p.max_idle_days_for_access_keys,
        ),
        ("MaxIdleDaysForUsers", &mut p.max_idle_days_for_users),
    ] {
        if let Some(v) = one_of(call, param, &["90", "180", "365", "730"])? {
            *field = v.parse().map_err(|_| ApiError::internal_error())?;
        }
    }
    if let Some(types) = verification_types(call)? {
        p.verification_types = types;
    }
    save(call, SECURITY_PREFERENCE, &p).await?;
    Ok(body(json!({ "SecurityPreference": shape(&p) })))
}

pub fn get_security_preference(call: &Call) -> HandlerFuture<'_> {
    Box::pin(get_security_preference_as(
        call,
        SecurityPreference::ram_json,
    ))
}

pub fn set_security_preference(call: &Call) -> HandlerFuture<'_> {
    Box::pin(set_security_preference_as(
        call,
        SecurityPreference::ram_json,
    ))
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
        // OWASP's argon2id recommendation, as documented: 19 MiB, two passes, one lane.
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        let strict = PasswordPolicy {
            minimum_password_length: 10,
            require_numbers: true,
            require_symbols: true,
            require_uppercase_characters: true,
            ..PasswordPolicy::default()
        };
        assert!(strict.check("bob", "Abcdefgh1!").is_ok());
        for weak in ["Abcdefg1!", "abcdefgh1!", "Abcdefghi!", "Abcdefghi1"] {
            assert_eq!(
                strict.check("bob", weak).unwrap_err().code(),
                "InvalidParameter.Password.TooWeak",
                "{weak}"
            );
        }
        let ims = PasswordPolicy {
            minimum_password_different_character: 5,
            password_not_contain_user_name: true,
            ..PasswordPolicy::default()
        };
        assert!(ims.check("bob", "abcde-xyz").is_ok());
        assert!(
            ims.check("bob", "aaaabbbb1").is_err(),
            "4 distinct characters"
        );
        assert!(
            ims.check("bob", "my-BOB-pass1").is_err(),
            "contains the user name"
        );
    }

    #[test]
    fn initial_passwords_expire_after_initial_password_age() {
        let t0 = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        let day = |n: u64| {
            t0.checked_add(std::time::Duration::from_secs(n * 86_400))
                .unwrap()
        };
        let mut profile = LoginProfile {
            user_name: "bob".into(),
            password_hash: String::new(),
            password_reset_required: false,
            mfa_bind_required: false,
            active: true,
            initial_since: Some(t0),
            create_date: t0,
            update_date: t0,
        };
        let mut policy = PasswordPolicy::default();
        assert_eq!(policy.password_status(&profile, day(13)), "InitialValid");
        assert_eq!(policy.password_status(&profile, day(14)), "InitialExpired");
        policy.initial_password_age = 0;
        assert_eq!(policy.password_status(&profile, day(400)), "InitialValid");
        profile.initial_since = None;
        assert_eq!(policy.password_status(&profile, day(1)), "NotInitial");
    }
}
