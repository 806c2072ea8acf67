//! `EnableSaveMFATicket`: a browser that passed MFA may skip the code for seven days, as
//! Alibaba's "remember this device" does. The ticket is a cookie sealed under the master key
//! (AES-256-GCM, so it can be neither read nor forged), naming the account, the user and the
//! binding of the device it was earned with; binding another device (or unbinding) voids it,
//! and it is honoured only while the account's preference is on.

use std::time::Duration;

use base64::Engine as _;
use rampart_model::Timestamp;
use rampart_store::{ConsoleSession, SessionIdentity, StoreError};
use serde::{Deserialize, Serialize};

use super::{cookie, set_cookie, Attempt};
use crate::http::HttpRequest;
use crate::state::State;

pub(super) const TICKET_COOKIE: &str = "rampart_mfa_ticket";
const LIFETIME: Duration = Duration::from_secs(7 * 86_400);
const AAD: &[u8] = b"rampart:mfa-ticket:v1";

#[derive(Serialize, Deserialize)]
struct Ticket {
    #[serde(rename = "a")]
    account: String,
    /// Lower case: user names match in any case.
    #[serde(rename = "u")]
    user: String,
    /// The device's serial and activation time.
    #[serde(rename = "d")]
    binding: String,
    /// Unix seconds.
    #[serde(rename = "e")]
    expires: i64,
}

/// The bound device of a user or of the root identity, as a ticket names it; `None` when no
/// device is bound.
pub(super) async fn device_binding(
    state: &State,
    identity: &SessionIdentity,
    account: &rampart_model::AccountId,
    user_name: &str,
) -> Result<Option<String>, StoreError> {
    match identity {
        SessionIdentity::Root => Ok(state
            .store
            .get_root_login(account)
            .await?
            .and_then(|l| l.mfa)
            .map(|m| format!("{}@{}", m.serial_number, m.activate_date.unix_millis()))),
        SessionIdentity::User => match state.store.get_user_mfa_device(account, user_name).await {
            Ok(d) => Ok(Some(format!(
                "{}@{}",
                d.serial_number,
                d.activate_date.map_or(0, Timestamp::unix_millis)
            ))),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        },
        SessionIdentity::Role { .. } => Ok(None),
    }
}

/// The `Set-Cookie` of a new ticket for a session that just passed MFA.
pub(super) async fn issue(
    state: &State,
    req: &HttpRequest,
    session: &ConsoleSession,
    now: Timestamp,
) -> Option<String> {
    let binding = device_binding(
        state,
        &session.identity,
        &session.account_id,
        &session.user_name,
    )
    .await
    .ok()??;
    let ticket = Ticket {
        account: session.account_id.to_string(),
        user: session.user_name.to_ascii_lowercase(),
        binding,
        expires: now.saturating_add(LIFETIME).unix_secs(),
    };
    let plain = serde_json::to_vec(&ticket).ok()?;
    let sealed = state.master_key.seal(&plain, AAD).ok()?;
    let value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed);
    Some(set_cookie(req, TICKET_COOKIE, &value, Some(LIFETIME)))
}

/// Whether the request carries a current ticket for this attempt's user and device.
pub(super) fn honoured(state: &State, req: &HttpRequest, attempt: &Attempt, binding: &str) -> bool {
    let Some(value) = cookie(req, TICKET_COOKIE) else {
        return false;
    };
    let Ok(sealed) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value) else {
        return false;
    };
    let Ok(plain) = state.master_key.open(&sealed, AAD) else {
        return false;
    };
    let Ok(ticket) = serde_json::from_slice::<Ticket>(&plain) else {
        return false;
    };
    ticket.account == attempt.account_id.as_str()
        && ticket.user == attempt.user_name.to_ascii_lowercase()
        && ticket.binding == binding
        && attempt.now.unix_secs() < ticket.expires
}
