//! IMS's login profiles, ChangePassword (RAM's own handler), password policy, security
//! preference and default domain: the same data RAM 2015-05-01 uses, through the shared
//! logic of `ram::people`, in IMS's shapes.

use rampart_model::{Field, LoginProfile};
use rampart_wire::ApiError;
use serde_json::{json, Value};

use super::upn;
use crate::call::{check_field, Call};
use crate::errors::store_error;
use crate::product::HandlerFuture;
use crate::ram::common::{body, date};
use crate::ram::people::{self as ram, PasswordPolicy, SecurityPreference};

pub fn get_password_policy(call: &Call) -> HandlerFuture<'_> {
    Box::pin(ram::get_password_policy_as(call, PasswordPolicy::ims_json))
}

pub fn set_password_policy(call: &Call) -> HandlerFuture<'_> {
    Box::pin(ram::set_password_policy_as(
        call,
        "HardExpire",
        PasswordPolicy::ims_json,
    ))
}

pub fn get_security_preference(call: &Call) -> HandlerFuture<'_> {
    Box::pin(ram::get_security_preference_as(
        call,
        SecurityPreference::ims_json,
    ))
}

pub fn set_security_preference(call: &Call) -> HandlerFuture<'_> {
    Box::pin(ram::set_security_preference_as(
        call,
        SecurityPreference::ims_json,
    ))
}

/// `Status`: `Active` (console logon allowed) or `Inactive`.
fn status(call: &Call) -> Result<Option<bool>, ApiError> {
    match call.param("Status") {
        None | Some("") => Ok(None),
        Some("Active") => Ok(Some(true)),
        Some("Inactive") => Ok(Some(false)),
        Some(_) => Err(ApiError::new(
            "InvalidParameter.Status",
            "The parameter - \"Status\" must be Active or Inactive.",
            400,
        )),
    }
}

/// IMS's `LoginProfile`; `LastLoginTime` only where GetLoginProfile shows it.
async fn profile_json(call: &Call, p: &LoginProfile, last_login: bool) -> Result<Value, ApiError> {
    let domain = upn::default_domain(call).await?;
    let policy = ram::password_policy(call).await?;
    let mut v = json!({
        "UserPrincipalName": upn::of(&p.user_name, &domain),
        "Status": if p.active { "Active" } else { "Inactive" },
        "PasswordResetRequired": p.password_reset_required,
        "MFABindRequired": p.mfa_bind_required,
        "PasswordStatus": policy.password_status(p, call.now),
        "UpdateDate": date(p.update_date),
    });
    if last_login {
        let user = call
            .store
            .get_user(call.account()?, &p.user_name)
            .await
            .map_err(store_error)?;
        if let (Some(at), Value::Object(m)) = (user.last_login_date, &mut v) {
            m.insert("LastLoginTime".into(), date(at));
        }
    }
    Ok(json!({ "LoginProfile": v }))
}

pub fn create_login_profile(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let user = upn::required_user(call).await?;
        let active = status(call)?.unwrap_or(true);
        let p = ram::create_profile(call, &user, active).await?;
        Ok(body(profile_json(call, &p, false).await?))
    })
}

pub fn get_login_profile(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let user = upn::required_user(call).await?;
        let p = call
            .store
            .get_login_profile(call.account()?, &user)
            .await
            .map_err(store_error)?;
        Ok(body(profile_json(call, &p, true).await?))
    })
}

pub fn update_login_profile(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let user = upn::required_user(call).await?;
        let p = ram::update_profile(call, &user, status(call)?).await?;
        Ok(body(profile_json(call, &p, false).await?))
    })
}

pub fn delete_login_profile(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let user = upn::required_user(call).await?;
        call.store
            .delete_login_profile(call.account()?, &user)
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

pub fn get_default_domain(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        Ok(body(
            json!({ "DefaultDomainName": upn::default_domain(call).await? }),
        ))
    })
}

/// The default domain is `<account alias>.onaliyun.com`: setting it sets the account alias
/// (RAM's `SetAccountAlias`), and setting it back to `<account id>.onaliyun.com` clears it.
pub fn set_default_domain(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        const PARAM: &str = "DefaultDomainName";
        let domain = call.required(PARAM)?.to_ascii_lowercase();
        let prefix = domain
            .strip_suffix(upn::DOMAIN_SUFFIX)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                ApiError::new(
                    format!("InvalidParameter.{PARAM}.Format"),
                    format!(
                        "The parameter - \"{PARAM}\" must be <prefix>{}.",
                        upn::DOMAIN_SUFFIX
                    ),
                    400,
                )
            })?;
        let account = call.account()?;
        if prefix == account.as_str() {
            call.store
                .clear_account_alias(account)
                .await
                .map_err(store_error)?;
        } else {
            check_field(Field::AccountAlias, PARAM, prefix)?;
            call.store
                .set_account_alias(account, prefix)
                .await
                .map_err(store_error)?;
        }
        Ok(body(json!({ "DefaultDomainName": domain })))
    })
}
