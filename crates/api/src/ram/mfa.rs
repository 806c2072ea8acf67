//! Virtual MFA devices (RFC 6238 TOTP): CreateVirtualMFADevice, ListVirtualMFADevices,
//! DeleteVirtualMFADevice, BindMFADevice, UnbindMFADevice, GetUserMFAInfo. Seeds are sealed
//! under the master key like AccessKey secrets.

use rampart_model::{Field, MasterKey, VirtualMfaDevice};
use rampart_wire::ApiError;
use serde_json::{json, Value};
use totp_rs::{Algorithm, TOTP};

use super::common::{body, date};
use crate::call::Call;
use crate::errors::store_error;
use crate::product::HandlerFuture;

const SEED_BYTES: usize = 20;
pub(crate) const STEP_SECS: u64 = 30;

pub(crate) fn seed_aad(serial: &str) -> Vec<u8> {
    format!("rampart:mfa-seed:{serial}").into_bytes()
}

pub(crate) fn totp(seed: Vec<u8>, account: &str, name: &str) -> Result<TOTP, ApiError> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECS,
        seed,
        Some("Rampart".to_owned()),
        format!("{name}@{account}"),
    )
    .map_err(|_| ApiError::internal_error())
}

/// The device name of `acs:ram::<account>:mfa/<name>`, which must be the caller's account.
fn device_name<'a>(call: &'a Call, serial: &'a str) -> Result<&'a str, ApiError> {
    let prefix = format!("acs:ram::{}:mfa/", call.account()?);
    serial
        .strip_prefix(prefix.as_str())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                "EntityNotExist.VirtualMFADevice",
                "The virtual MFA device does not exist.",
                404,
            )
        })
}

pub fn serial_resource(call: &Call) -> Result<Vec<String>, ApiError> {
    let serial = call.required("SerialNumber")?;
    device_name(call, serial)?;
    Ok(vec![serial.to_owned()])
}

pub fn name_resource(call: &Call) -> Result<Vec<String>, ApiError> {
    Ok(vec![
        call.arn("mfa", call.name(Field::VirtualMFADeviceName)?)?
    ])
}

pub fn create_virtual_mfa_device(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let name = call.name(Field::VirtualMFADeviceName)?;
        let account = call.account()?;
        let serial = format!("acs:ram::{account}:mfa/{name}");
        let mut seed = vec![0u8; SEED_BYTES];
        getrandom::fill(&mut seed).map_err(|_| ApiError::internal_error())?;
        let sealed = call
            .state
            .master_key
            .seal(&seed, &seed_aad(&serial))
            .map_err(|_| ApiError::internal_error())?;
        let t = totp(seed, account.as_str(), name)?;
        let qr = t.get_qr_base64().map_err(|_| ApiError::internal_error())?;
        call.store
            .create_virtual_mfa_device(account, name, sealed, call.now)
            .await
            .map_err(store_error)?;
        Ok(body(json!({ "VirtualMFADevice": {
            "SerialNumber": serial,
            "Base32StringSeed": t.get_secret_base32(),
            "QRCodePNG": qr,
        }})))
    })
}

/// One device of a listing; `user` shapes the bound user from (id, name, display name),
/// which RAM and IMS name differently.
pub(crate) fn device_json(d: &VirtualMfaDevice, user: impl Fn(&str, &str, &str) -> Value) -> Value {
    let mut v = json!({ "SerialNumber": d.serial_number });
    if let Value::Object(m) = &mut v {
        if let Some(at) = d.activate_date {
            m.insert("ActivateDate".into(), date(at));
        }
        if let Some((id, name, display)) = &d.user {
            m.insert("User".into(), user(id, name, display));
        }
    }
    v
}

pub fn list_virtual_mfa_devices(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let devices = call
            .store
            .list_virtual_mfa_devices(call.account()?)
            .await
            .map_err(store_error)?;
        let devices: Vec<Value> = devices
            .iter()
            .map(|d| {
                device_json(d, |id, name, display| {
                    json!({"UserId": id, "UserName": name, "DisplayName": display})
                })
            })
            .collect();
        Ok(body(
            json!({ "VirtualMFADevices": { "VirtualMFADevice": devices } }),
        ))
    })
}

pub fn delete_virtual_mfa_device(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let name = device_name(call, call.required("SerialNumber")?)?;
        call.store
            .delete_virtual_mfa_device(call.account()?, name)
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

fn code<'a>(call: &'a Call, param: &str) -> Result<&'a str, ApiError> {
    let c = call.required(param)?;
    if c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()) {
        Ok(c)
    } else {
        Err(ApiError::new(
            "InvalidParameter.AuthenticationCode.Format",
            format!("The format of the parameter - \"{param}\" is incorrect."),
            400,
        ))
    }
}

/// Two consecutive codes, the second at most one step from now either way.
pub(crate) fn consecutive(t: &TOTP, now_secs: u64, first: &str, second: &str) -> bool {
    let step = now_secs / STEP_SECS;
    (step.saturating_sub(1)..=step + 1).any(|s| {
        s > 0 && t.generate((s - 1) * STEP_SECS) == first && t.generate(s * STEP_SECS) == second
    })
}

pub(crate) fn open_seed(key: &MasterKey, serial: &str, sealed: &[u8]) -> Result<Vec<u8>, ApiError> {
    key.open(sealed, &seed_aad(serial))
        .map(|s| s.to_vec())
        .map_err(|_| ApiError::internal_error())
}

/// Binds the device `SerialNumber` names to `user` once `AuthenticationCode1` and
/// `AuthenticationCode2` are two consecutive codes of it.
pub(crate) async fn bind(call: &Call, user: &str) -> Result<(), ApiError> {
    let serial = call.required("SerialNumber")?;
    let name = device_name(call, serial)?;
    let (c1, c2) = (
        code(call, "AuthenticationCode1")?,
        code(call, "AuthenticationCode2")?,
    );
    let account = call.account()?;
    let device = call
        .store
        .get_virtual_mfa_device(account, name)
        .await
        .map_err(store_error)?;
    let seed = open_seed(
        &call.state.master_key,
        &device.serial_number,
        &device.sealed_seed,
    )?;
    let t = totp(seed, account.as_str(), name)?;
    let now = u64::try_from(call.now.unix_secs()).unwrap_or(0);
    if !consecutive(&t, now, c1, c2) {
        return Err(ApiError::new(
            "CheckAuthenticationCodeFail",
            "The authentication codes are not valid.",
            403,
        ));
    }
    call.store
        .bind_mfa_device(account, user, name, call.now)
        .await
        .map_err(store_error)
}

pub fn bind_mfa_device(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        bind(call, call.name(Field::UserName)?).await?;
        Ok(body(json!({})))
    })
}

pub fn unbind_mfa_device(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let d = call
            .store
            .unbind_mfa_device(call.account()?, call.name(Field::UserName)?)
            .await
            .map_err(store_error)?;
        Ok(body(
            json!({ "MFADevice": { "SerialNumber": d.serial_number } }),
        ))
    })
}

pub fn get_user_mfa_info(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let d = call
            .store
            .get_user_mfa_device(call.account()?, call.name(Field::UserName)?)
            .await
            .map_err(store_error)?;
        Ok(body(
            json!({ "MFADevice": { "SerialNumber": d.serial_number, "Type": "VMFA" } }),
        ))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vector_and_consecutive_codes() {
        // RFC 6238 appendix B, SHA-1 seed, T = 59 s → 94287082 (8 digits); with 6 digits
        // the code is the last six.
        let t = TOTP::new(
            Algorithm::SHA1,
            6,
            1,
            30,
            b"12345678901234567890".to_vec(),
            None,
            "x".into(),
        )
        .unwrap();
        assert_eq!(t.generate(59), "287082");
        let now = 1_000_000_000u64;
        let (a, b) = (t.generate(now - 30), t.generate(now));
        assert!(consecutive(&t, now, &a, &b));
        assert!(
            consecutive(&t, now + 30, &a, &b),
            "one step late is accepted"
        );
        assert!(
            !consecutive(&t, now + 90, &a, &b),
            "three steps late is not"
        );
        assert!(!consecutive(&t, now, &b, &a), "order matters");
    }
}
