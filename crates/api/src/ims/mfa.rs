//! IMS's virtual MFA actions on RAM's devices: ListVirtualMFADevices (paged, users by UPN),
//! BindMFADevice, UnbindMFADevice, GetUserMFAInfo, and GetAccountMFAInfo (the root identity's
//! device, bound on the console). Create/DeleteVirtualMFADevice are RAM's handlers: same
//! parameters, same answer.

use rampart_store::{Entity, Listing, StoreError};
use rampart_wire::ApiError;
use serde_json::{json, Value};

use super::upn;
use crate::call::Call;
use crate::errors::store_error;
use crate::product::HandlerFuture;
use crate::ram::common::{body, paginate};
use crate::ram::mfa::{bind, device_json};

pub fn list_virtual_mfa_devices(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let page = super::page(call)?;
        let mut devices = call
            .store
            .list_virtual_mfa_devices(call.account()?)
            .await
            .map_err(store_error)?;
        let key = |d: &rampart_model::VirtualMfaDevice| d.name.to_ascii_lowercase();
        devices.sort_by_key(key);
        let listing = Listing::of_sorted(devices, &page, key);
        let domain = upn::default_domain(call).await?;
        let items: Vec<Value> = listing
            .items
            .iter()
            .map(|d| {
                device_json(d, |id, name, display| {
                    json!({
                        "UserId": id,
                        "UserPrincipalName": upn::of(name, &domain),
                        "DisplayName": display,
                    })
                })
            })
            .collect();
        let mut out = body(json!({ "VirtualMFADevices": { "VirtualMFADevice": items } }));
        paginate(&mut out, &listing);
        Ok(out)
    })
}

pub fn bind_mfa_device(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        bind(call, &upn::required_user(call).await?).await?;
        Ok(body(json!({})))
    })
}

pub fn unbind_mfa_device(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let user = upn::required_user(call).await?;
        let d = call
            .store
            .unbind_mfa_device(call.account()?, &user)
            .await
            .map_err(store_error)?;
        Ok(body(
            json!({ "MFADevice": { "SerialNumber": d.serial_number } }),
        ))
    })
}

/// The user's device, or `IsMFAEnable: false` when it has none. An empty
/// `UserPrincipalName` means the calling user (the root identity has GetAccountMFAInfo).
pub fn get_user_mfa_info(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let user = upn::target(call)
            .await?
            .ok_or_else(|| ApiError::missing_parameter(upn::PARAM))?;
        match call.store.get_user_mfa_device(call.account()?, &user).await {
            Ok(d) => Ok(body(json!({
                "IsMFAEnable": true,
                "MFADevice": { "SerialNumber": d.serial_number, "Type": "VMFA" },
            }))),
            Err(StoreError::NotFound(Entity::UserMfaDevice)) => {
                Ok(body(json!({ "IsMFAEnable": false })))
            }
            Err(e) => Err(store_error(e)),
        }
    })
}

/// Whether the account's root identity has an MFA device (bound on the console; the root
/// identity's device is not one of RAM's).
pub fn get_account_mfa_info(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let login = call
            .store
            .get_root_login(call.account()?)
            .await
            .map_err(store_error)?;
        let enabled = login.is_some_and(|l| l.mfa.is_some());
        Ok(body(json!({ "IsMFAEnable": enabled })))
    })
}
