//! The signed-in console: who I am, my password, my MFA device, my AccessKeys, and for
//! administrators the account's users, groups, roles and policies with create, attach and
//! detach.
//!
//! Every action a page takes is a RAM call made through the dispatcher as the session's
//! principal ([`Api::invoke`]): the same action table, the same authorization (with
//! `acs:MFAPresent` true when the sign-in passed MFA), the same self-service rules and the
//! same audit trail as a signed API call. A page can never do what the API would refuse,
//! and a refusal is shown as such. The root identity's own password and MFA device are the
//! exception: they are not RAM entities, so their pages act on the store directly.

use std::sync::Arc;

use rampart_model::RoleId;
use rampart_store::{ConsoleSession, SessionIdentity, SessionStage, StoreError};
use rampart_wire::ApiError;
use serde_json::{Map, Value};

use super::{
    escape, field, form, page, random_token, redirect, require_session, set_cookie, unavailable,
    SESSION_COOKIE,
};
use crate::call::Principal;
use crate::dispatch::Api;
use crate::http::{HttpRequest, HttpResponse};
use crate::sts::token::{Origin, SessionClaims};

const RAM: &str = "2015-05-01";
/// Rows shown per list page; `Marker` pages on.
const PAGE_ITEMS: &str = "100";

/// Answers the signed-in pages; `None` for other paths.
pub(super) async fn route(api: &Api, req: &HttpRequest) -> Option<HttpResponse> {
    let path = req.raw.path.as_str();
    if path != "/console" && !path.starts_with("/console/") {
        return None;
    }
    let signed = match signed_in(api, req).await {
        Ok(signed) => signed,
        Err(response) => return Some(response),
    };
    let get = req.raw.method == "GET";
    if !get {
        if req.raw.method != "POST" {
            return Some(page(
                405,
                "Not allowed",
                "<p>That method is not used here.</p>",
                Vec::new(),
            ));
        }
        // Every state-changing form carries the session's CSRF token.
        let form = form(req);
        if !rampart_wire::constant_time_eq(field(&form, "csrf"), &signed.session.csrf) {
            return Some(page(
                403,
                "Refused",
                "<p role=\"alert\" class=\"error\">The form was not sent from this console. Nothing was done.</p>",
                Vec::new(),
            ));
        }
        let ctx = Ctx {
            api,
            req,
            signed: &signed,
            form,
        };
        return Some(match path {
            "/console/password" => post_password(&ctx).await,
            "/console/mfa/new" => post_mfa_new(&ctx).await,
            "/console/mfa/bind" => post_mfa_bind(&ctx).await,
            "/console/mfa/unbind" => post_mfa_unbind(&ctx).await,
            "/console/keys/create" => post_key_create(&ctx).await,
            "/console/keys/status" => post_key_status(&ctx).await,
            "/console/keys/delete" => post_key_delete(&ctx).await,
            "/console/users" => post_create(&ctx, Kind::User).await,
            "/console/groups" => post_create(&ctx, Kind::Group).await,
            "/console/roles" => post_create(&ctx, Kind::Role).await,
            "/console/policies" => post_create_policy(&ctx).await,
            "/console/attach" => post_attachment(&ctx, true).await,
            "/console/detach" => post_attachment(&ctx, false).await,
            _ => not_found(&ctx),
        });
    }
    let ctx = Ctx {
        api,
        req,
        signed: &signed,
        form: query(req),
    };
    Some(match path {
        "/console" => home(&ctx),
        "/console/password" => password_page(&ctx, None),
        "/console/mfa" => mfa_page(&ctx, None).await,
        "/console/keys" => keys_page(&ctx, None).await,
        "/console/users" => list_page(&ctx, Kind::User, None).await,
        "/console/groups" => list_page(&ctx, Kind::Group, None).await,
        "/console/roles" => list_page(&ctx, Kind::Role, None).await,
        "/console/policies" => list_page(&ctx, Kind::Policy, None).await,
        "/console/user" => entity_page(&ctx, Kind::User, None).await,
        "/console/group" => entity_page(&ctx, Kind::Group, None).await,
        "/console/role" => entity_page(&ctx, Kind::Role, None).await,
        _ => not_found(&ctx),
    })
}

/// A signed-in session and the principal it acts as.
struct Signed {
    session: ConsoleSession,
    principal: Principal,
}

/// One request to a signed-in page.
struct Ctx<'a> {
    api: &'a Api,
    req: &'a HttpRequest,
    signed: &'a Signed,
    /// The form's fields (POST) or the query's (GET).
    form: Vec<(String, String)>,
}

impl Ctx<'_> {
    fn arg(&self, name: &str) -> &str {
        field(&self.form, name)
    }

    /// A RAM call as the session's principal.
    async fn call(
        &self,
        action: &str,
        params: &[(&str, &str)],
    ) -> Result<Map<String, Value>, ApiError> {
        self.api
            .invoke(
                self.req,
                self.signed.principal.clone(),
                self.signed.session.mfa,
                RAM,
                action,
                params
                    .iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            )
            .await
    }

    /// `UserName` for self-service calls: the user's own name; root and roles act on
    /// themselves with no name, as in the API.
    fn own_user_name(&self) -> &str {
        match &self.signed.principal {
            Principal::User { user_name, .. } => user_name,
            _ => "",
        }
    }
}

fn query(req: &HttpRequest) -> Vec<(String, String)> {
    req.raw
        .query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((
                rampart_wire::form_decode(k).ok()?,
                rampart_wire::form_decode(v).ok()?,
            ))
        })
        .collect()
}

/// The principal a session acts as; `None` when its user or role is gone.
pub(super) async fn principal_of(
    state: &crate::state::State,
    session: &ConsoleSession,
) -> Result<Option<Principal>, StoreError> {
    let account_id = session.account_id.clone();
    Ok(Some(match &session.identity {
        SessionIdentity::Root => Principal::Root { account_id },
        SessionIdentity::User => {
            match state.store.get_user(&account_id, &session.user_name).await {
                Ok(user) => Principal::User {
                    account_id,
                    user_id: user.user_id,
                    user_name: user.user_name,
                },
                Err(StoreError::NotFound(_)) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        SessionIdentity::Role {
            role_id,
            provider_arn,
            ..
        } => {
            let Ok(id) = RoleId::parse(role_id) else {
                return Ok(None);
            };
            let Some((role_name, _)) = state.store.role_session_state(&account_id, &id).await?
            else {
                return Ok(None);
            };
            Principal::AssumedRole {
                session: Arc::new(SessionClaims {
                    access_key_id: String::new(),
                    secret: String::new(),
                    account_id: account_id.to_string(),
                    role_id: role_id.clone(),
                    role_name,
                    session_name: session.user_name.clone(),
                    policy: None,
                    source_identity: None,
                    mfa: session.mfa,
                    origin: Origin::Saml,
                    caller: provider_arn.clone(),
                    issued_at: session.created_at.unix_secs(),
                    expires_at: session.expires_at.unix_secs(),
                }),
                account_id,
            }
        }
    }))
}

/// The active session and its principal, or the page to answer instead. A session whose
/// user or role is gone ends here.
async fn signed_in(api: &Api, req: &HttpRequest) -> Result<Signed, HttpResponse> {
    let state = api.state();
    let (hash, session) = require_session(state, req, SessionStage::Active).await?;
    let principal = match principal_of(state, &session).await {
        Ok(Some(principal)) => principal,
        Ok(None) => {
            let _ = state.store.delete_console_session(&hash).await;
            return Err(redirect(
                "/login",
                vec![set_cookie(req, SESSION_COOKIE, "", None)],
            ));
        }
        Err(_) => return Err(unavailable()),
    };
    Ok(Signed { session, principal })
}

// ---------------------------------------------------------------------------------------
// Layout

fn layout(ctx: &Ctx<'_>, status: u16, title: &str, body: &str) -> HttpResponse {
    let mut nav = String::from(
        "<nav aria-label=\"Console\"><a href=\"/console\">Home</a> · \
         <a href=\"/console/password\">Password</a> · <a href=\"/console/mfa\">MFA</a>",
    );
    if !matches!(ctx.signed.principal, Principal::AssumedRole { .. }) {
        nav.push_str(" · <a href=\"/console/keys\">AccessKeys</a>");
    }
    nav.push_str(
        " · <a href=\"/console/users\">Users</a> · <a href=\"/console/groups\">Groups</a> · \
         <a href=\"/console/roles\">Roles</a> · <a href=\"/console/policies\">Policies</a>",
    );
    nav.push_str(&format!(
        "<form class=\"inline\" method=\"post\" action=\"/logout\">{}\
         <button type=\"submit\">Sign out</button></form></nav>",
        csrf_input(ctx)
    ));
    page(status, title, &format!("{nav}\n{body}"), Vec::new())
}

fn csrf_input(ctx: &Ctx<'_>) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(&ctx.signed.session.csrf)
    )
}

fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        escape(name),
        escape(value)
    )
}

fn notice(text: &str) -> String {
    format!("<p role=\"status\" class=\"ok\">{}</p>", escape(text))
}

fn alert(text: &str) -> String {
    format!("<p role=\"alert\" class=\"error\">{}</p>", escape(text))
}

/// A refused or failed call, said plainly: a permission refusal names the action the
/// caller lacks, as the API's `AccessDeniedDetail` does.
fn failure(ctx: &Ctx<'_>, what: &str, e: &ApiError) -> HttpResponse {
    if e.code() == "NoPermission" || e.status() == 403 {
        let action = e
            .access_denied_detail()
            .and_then(|d| d.auth_action.clone())
            .unwrap_or_default();
        let body = format!(
            "<p role=\"alert\" class=\"error\" id=\"refusal\">You are not allowed to {}. \
             {} has no policy that allows <code>{}</code>{}.</p>\
             <p>Ask an administrator of account {} for a policy that allows it. ({}: {})</p>",
            escape(what),
            escape(&ctx.signed.principal.arn()),
            escape(&action),
            if ctx.signed.session.mfa {
                ""
            } else {
                " (this session did not pass MFA, which some policies require)"
            },
            escape(ctx.signed.session.account_id.as_str()),
            escape(e.code()),
            escape(e.message()),
        );
        return layout(ctx, 403, "Not allowed", &body);
    }
    let status = if e.status() >= 500 { 503 } else { e.status() };
    layout(
        ctx,
        status,
        "Not done",
        &format!(
            "{}<p><a href=\"/console\">Back to the console</a></p>",
            alert(&format!("Could not {what}: {} ({})", e.message(), e.code()))
        ),
    )
}

fn not_found(ctx: &Ctx<'_>) -> HttpResponse {
    layout(
        ctx,
        404,
        "Not found",
        "<p>There is no such console page.</p>",
    )
}

/// `outer.inner` as a list of objects: RAM's `{"Users":{"User":[…]}}` wrappers.
fn items<'a>(
    body: &'a Map<String, Value>,
    outer: &str,
    inner: &str,
) -> Vec<&'a Map<String, Value>> {
    body.get(outer)
        .and_then(|o| o.get(inner))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default()
}

fn text<'a>(item: &'a Map<String, Value>, name: &str) -> &'a str {
    item.get(name).and_then(Value::as_str).unwrap_or("")
}

// ---------------------------------------------------------------------------------------
// Home

fn home(ctx: &Ctx<'_>) -> HttpResponse {
    let s = &ctx.signed.session;
    let kind = match &s.identity {
        SessionIdentity::User => "RAM user",
        SessionIdentity::Root => "root identity",
        SessionIdentity::Role { .. } => "role session (SAML)",
    };
    let body = format!(
        "<p>Signed in as <strong id=\"who\">{}</strong> ({kind}) in account \
         <strong id=\"account\">{}</strong>.</p>\
         <p>ARN: <code id=\"arn\">{}</code></p>\
         <p>MFA: <span id=\"mfa\">{}</span>. This session ends at {} at the latest.</p>",
        escape(&s.user_name),
        escape(s.account_id.as_str()),
        escape(&ctx.signed.principal.arn()),
        if s.mfa { "yes" } else { "no" },
        s.expires_at,
    );
    layout(ctx, 200, "Console", &body)
}

// ---------------------------------------------------------------------------------------
// My password

fn password_page(ctx: &Ctx<'_>, message: Option<Result<&str, &str>>) -> HttpResponse {
    if matches!(ctx.signed.principal, Principal::AssumedRole { .. }) {
        return layout(
            ctx,
            200,
            "Password",
            "<p>A role session has no password: it signed in through its identity provider.</p>",
        );
    }
    let shown = match message {
        Some(Ok(m)) => notice(m),
        Some(Err(m)) => alert(m),
        None => String::new(),
    };
    let body = format!(
        "{shown}<form method=\"post\" action=\"/console/password\">{}\
         <label for=\"old\">Current password</label>\
         <input id=\"old\" name=\"old\" type=\"password\" autocomplete=\"current-password\" required>\
         <label for=\"new\">New password</label>\
         <input id=\"new\" name=\"new\" type=\"password\" autocomplete=\"new-password\" required>\
         <label for=\"confirm\">New password again</label>\
         <input id=\"confirm\" name=\"confirm\" type=\"password\" autocomplete=\"new-password\" required>\
         <button type=\"submit\">Change password</button></form>",
        csrf_input(ctx)
    );
    let status = match message {
        Some(Err(_)) => 400,
        _ => 200,
    };
    layout(ctx, status, "Change my password", &body)
}

async fn post_password(ctx: &Ctx<'_>) -> HttpResponse {
    let (old, new) = (ctx.arg("old"), ctx.arg("new"));
    if new != ctx.arg("confirm") {
        return password_page(ctx, Some(Err("The two new passwords differ.")));
    }
    match &ctx.signed.principal {
        Principal::User { .. } => {
            match ctx
                .call(
                    "ChangePassword",
                    &[("OldPassword", old), ("NewPassword", new)],
                )
                .await
            {
                Ok(_) => password_page(ctx, Some(Ok("Your password was changed."))),
                Err(e) if e.status() == 403 && e.code() == "NoPermission" => {
                    failure(ctx, "change your password", &e)
                }
                Err(e) => password_page(ctx, Some(Err(e.message()))),
            }
        }
        Principal::Root { account_id } => {
            match super::root::change_password(ctx.api.state(), ctx.req, account_id, old, new).await
            {
                Ok(Ok(())) => password_page(ctx, Some(Ok("Your password was changed."))),
                Ok(Err(why)) => password_page(ctx, Some(Err(&why))),
                Err(_) => unavailable(),
            }
        }
        _ => password_page(ctx, None),
    }
}

// ---------------------------------------------------------------------------------------
// My MFA device

async fn mfa_page(ctx: &Ctx<'_>, message: Option<Result<&str, &str>>) -> HttpResponse {
    let shown = match message {
        Some(Ok(m)) => notice(m),
        Some(Err(m)) => alert(m),
        None => String::new(),
    };
    let bound = match &ctx.signed.principal {
        Principal::User { user_name, .. } => {
            match ctx.call("GetUserMFAInfo", &[("UserName", user_name)]).await {
                Ok(info) => info
                    .get("MFADevice")
                    .and_then(|d| d.get("SerialNumber"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                Err(e) if e.code().starts_with("EntityNotExist") => None,
                Err(e) => return failure(ctx, "read your MFA device", &e),
            }
        }
        Principal::Root { account_id } => {
            match ctx.api.state().store.get_root_login(account_id).await {
                Ok(login) => login.and_then(|l| l.mfa).map(|m| m.serial_number),
                Err(_) => return unavailable(),
            }
        }
        _ => {
            return layout(
                ctx,
                200,
                "MFA",
                "<p>A role session's MFA is its identity provider's.</p>",
            )
        }
    };
    let body = match bound {
        Some(serial) => format!(
            "{shown}<p>Bound device: <code id=\"mfa-serial\">{}</code></p>\
             <form method=\"post\" action=\"/console/mfa/unbind\">{}\
             <button type=\"submit\">Unbind this device</button></form>",
            escape(&serial),
            csrf_input(ctx)
        ),
        None => format!(
            "{shown}<p id=\"mfa-none\">No MFA device is bound.</p>\
             <form method=\"post\" action=\"/console/mfa/new\">{}\
             <button type=\"submit\">Bind a virtual MFA device</button></form>",
            csrf_input(ctx)
        ),
    };
    let status = match message {
        Some(Err(_)) => 400,
        _ => 200,
    };
    layout(ctx, status, "MFA", &body)
}

/// The binding form: the QR code and seed to enrol, and two consecutive codes to prove it,
/// posted to `action`. `sealed` carries a root device's sealed seed through the form (it opens
/// only under the master key, bound to its serial).
pub(super) fn enrol_form(
    enrol: &Enrolment,
    csrf: &str,
    action: &str,
    error: Option<&str>,
) -> String {
    format!(
        "{}<p>Scan this code with an authenticator app (or enter the key by hand), then enter \
         two consecutive codes.</p>\
         <img id=\"mfa-qr\" alt=\"QR code of the MFA seed\" width=\"200\" height=\"200\" \
         src=\"data:image/png;base64,{}\">\
         <p>Key: <code id=\"mfa-seed\">{}</code></p>\
         <form method=\"post\" action=\"{}\">{}{}{}{}{}{}\
         <label for=\"code1\">First code</label>\
         <input id=\"code1\" name=\"code1\" inputmode=\"numeric\" pattern=\"[0-9]{{6}}\" required>\
         <label for=\"code2\">Next code</label>\
         <input id=\"code2\" name=\"code2\" inputmode=\"numeric\" pattern=\"[0-9]{{6}}\" required>\
         <button type=\"submit\">Bind</button></form>",
        error.map(alert).unwrap_or_default(),
        escape(&enrol.qr),
        escape(&enrol.seed),
        escape(action),
        hidden("csrf", csrf),
        hidden("step", "bind"),
        hidden("serial", &enrol.serial),
        hidden("seed", &enrol.seed),
        hidden("qr", &enrol.qr),
        hidden("sealed", &enrol.sealed),
    )
}

fn enrol_page(ctx: &Ctx<'_>, enrol: &Enrolment, error: Option<&str>) -> HttpResponse {
    let body = enrol_form(enrol, &ctx.signed.session.csrf, "/console/mfa/bind", error);
    layout(
        ctx,
        if error.is_some() { 400 } else { 200 },
        "Bind MFA",
        &body,
    )
}

/// The enrolment a bind form carries back.
pub(super) fn enrolment_from(form: &[(String, String)]) -> Enrolment {
    Enrolment {
        serial: field(form, "serial").to_owned(),
        seed: field(form, "seed").to_owned(),
        qr: field(form, "qr").to_owned(),
        sealed: field(form, "sealed").to_owned(),
    }
}

/// A RAM device name for `user_name`'s new device: `[A-Za-z0-9-]`, with a random part so an
/// abandoned enrolment never blocks the next.
pub(super) fn new_device_name(user_name: &str) -> Result<String, StoreError> {
    let suffix = random_token()?;
    let tail: String = suffix
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    let stem: String = user_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(48)
        .collect();
    Ok(format!("{stem}-{tail}"))
}

/// The device `CreateVirtualMFADevice` answered with.
pub(super) fn created_enrolment(created: &Map<String, Value>) -> Enrolment {
    let device = created
        .get("VirtualMFADevice")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    Enrolment {
        serial: text(&device, "SerialNumber").to_owned(),
        seed: text(&device, "Base32StringSeed").to_owned(),
        qr: text(&device, "QRCodePNG").to_owned(),
        sealed: String::new(),
    }
}

/// A device being enrolled.
pub(super) struct Enrolment {
    pub serial: String,
    pub seed: String,
    pub qr: String,
    /// Root only: the sealed seed, base64.
    pub sealed: String,
}

async fn post_mfa_new(ctx: &Ctx<'_>) -> HttpResponse {
    match &ctx.signed.principal {
        Principal::User { user_name, .. } => {
            let Ok(name) = new_device_name(user_name) else {
                return unavailable();
            };
            match ctx
                .call("CreateVirtualMFADevice", &[("VirtualMFADeviceName", &name)])
                .await
            {
                Ok(created) => enrol_page(ctx, &created_enrolment(&created), None),
                Err(e) => failure(ctx, "create an MFA device", &e),
            }
        }
        Principal::Root { account_id } => {
            match super::root::new_device(ctx.api.state(), account_id) {
                Ok(enrol) => enrol_page(ctx, &enrol, None),
                Err(_) => unavailable(),
            }
        }
        _ => mfa_page(ctx, None).await,
    }
}

async fn post_mfa_bind(ctx: &Ctx<'_>) -> HttpResponse {
    let enrol = enrolment_from(&ctx.form);
    let (code1, code2) = (ctx.arg("code1"), ctx.arg("code2"));
    match &ctx.signed.principal {
        Principal::User { user_name, .. } => {
            match ctx
                .call(
                    "BindMFADevice",
                    &[
                        ("UserName", user_name),
                        ("SerialNumber", &enrol.serial),
                        ("AuthenticationCode1", code1),
                        ("AuthenticationCode2", code2),
                    ],
                )
                .await
            {
                Ok(_) => mfa_page(ctx, Some(Ok("The MFA device is bound."))).await,
                Err(e) if e.code() == "NoPermission" => failure(ctx, "bind an MFA device", &e),
                Err(e) => enrol_page(ctx, &enrol, Some(e.message())),
            }
        }
        Principal::Root { account_id } => {
            let now = ctx.api.state().clock.now();
            match super::root::bind(
                ctx.api.state(),
                ctx.req,
                account_id,
                &enrol,
                code1,
                code2,
                now,
            )
            .await
            {
                Ok(Ok(())) => mfa_page(ctx, Some(Ok("The MFA device is bound."))).await,
                Ok(Err(why)) => enrol_page(ctx, &enrol, Some(&why)),
                Err(_) => unavailable(),
            }
        }
        _ => mfa_page(ctx, None).await,
    }
}

async fn post_mfa_unbind(ctx: &Ctx<'_>) -> HttpResponse {
    match &ctx.signed.principal {
        Principal::User { user_name, .. } => {
            match ctx
                .call("UnbindMFADevice", &[("UserName", user_name)])
                .await
            {
                Ok(_) => mfa_page(ctx, Some(Ok("The MFA device was unbound."))).await,
                Err(e) => failure(ctx, "unbind your MFA device", &e),
            }
        }
        Principal::Root { account_id } => {
            let now = ctx.api.state().clock.now();
            match super::root::unbind(ctx.api.state(), ctx.req, account_id, now).await {
                Ok(()) => mfa_page(ctx, Some(Ok("The MFA device was unbound."))).await,
                Err(StoreError::NotFound(_)) => mfa_page(ctx, None).await,
                Err(_) => unavailable(),
            }
        }
        _ => mfa_page(ctx, None).await,
    }
}

// ---------------------------------------------------------------------------------------
// My AccessKeys

async fn keys_page(ctx: &Ctx<'_>, created: Option<(&str, &str)>) -> HttpResponse {
    let listed = match ctx
        .call("ListAccessKeys", &[("UserName", ctx.own_user_name())])
        .await
    {
        Ok(listed) => listed,
        Err(e) => return failure(ctx, "list your AccessKeys", &e),
    };
    let mut body = String::new();
    if let Some((id, secret)) = created {
        body.push_str(&format!(
            "<div role=\"status\" class=\"ok\"><p>AccessKey <code id=\"new-key-id\">{}</code> was \
             created. Its secret is shown this once; store it now:</p>\
             <p><code id=\"new-key-secret\">{}</code></p></div>",
            escape(id),
            escape(secret)
        ));
    }
    body.push_str(
        "<table><caption>My AccessKeys</caption><thead><tr><th scope=\"col\">AccessKeyId</th>\
         <th scope=\"col\">Status</th><th scope=\"col\">Created</th><th scope=\"col\">Actions</th>\
         </tr></thead><tbody>",
    );
    for key in items(&listed, "AccessKeys", "AccessKey") {
        let id = text(key, "AccessKeyId");
        let status = text(key, "Status");
        let flip = if status == "Active" {
            "Inactive"
        } else {
            "Active"
        };
        body.push_str(&format!(
            "<tr><td><code>{id}</code></td><td>{status}</td><td>{}</td><td>\
             <form class=\"inline\" method=\"post\" action=\"/console/keys/status\">{csrf}{}{}\
             <button type=\"submit\">{}</button></form> \
             <form class=\"inline\" method=\"post\" action=\"/console/keys/delete\">{csrf}{}\
             <button type=\"submit\">Delete</button></form></td></tr>",
            escape(text(key, "CreateDate")),
            hidden("key", id),
            hidden("status", flip),
            if flip == "Active" {
                "Enable"
            } else {
                "Disable"
            },
            hidden("key", id),
            id = escape(id),
            status = escape(status),
            csrf = csrf_input(ctx),
        ));
    }
    body.push_str(&format!(
        "</tbody></table><form method=\"post\" action=\"/console/keys/create\">{}\
         <button type=\"submit\">Create an AccessKey</button></form>",
        csrf_input(ctx)
    ));
    layout(ctx, 200, "AccessKeys", &body)
}

async fn post_key_create(ctx: &Ctx<'_>) -> HttpResponse {
    match ctx
        .call("CreateAccessKey", &[("UserName", ctx.own_user_name())])
        .await
    {
        Ok(created) => {
            let key = created
                .get("AccessKey")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            keys_page(
                ctx,
                Some((text(&key, "AccessKeyId"), text(&key, "AccessKeySecret"))),
            )
            .await
        }
        Err(e) => failure(ctx, "create an AccessKey", &e),
    }
}

async fn post_key_status(ctx: &Ctx<'_>) -> HttpResponse {
    let params = [
        ("UserName", ctx.own_user_name()),
        ("UserAccessKeyId", ctx.arg("key")),
        ("Status", ctx.arg("status")),
    ];
    match ctx.call("UpdateAccessKey", &params).await {
        Ok(_) => redirect("/console/keys", Vec::new()),
        Err(e) => failure(ctx, "change the AccessKey", &e),
    }
}

async fn post_key_delete(ctx: &Ctx<'_>) -> HttpResponse {
    let params = [
        ("UserName", ctx.own_user_name()),
        ("UserAccessKeyId", ctx.arg("key")),
    ];
    match ctx.call("DeleteAccessKey", &params).await {
        Ok(_) => redirect("/console/keys", Vec::new()),
        Err(e) => failure(ctx, "delete the AccessKey", &e),
    }
}

// ---------------------------------------------------------------------------------------
// Administration: users, groups, roles, policies

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Group,
    Role,
    Policy,
}

impl Kind {
    /// (list action, wrapper, item, name field, plural path, singular page)
    fn spec(
        self,
    ) -> (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    ) {
        match self {
            Kind::User => ("ListUsers", "Users", "User", "UserName", "users", "user"),
            Kind::Group => (
                "ListGroups",
                "Groups",
                "Group",
                "GroupName",
                "groups",
                "group",
            ),
            Kind::Role => ("ListRoles", "Roles", "Role", "RoleName", "roles", "role"),
            Kind::Policy => (
                "ListPolicies",
                "Policies",
                "Policy",
                "PolicyName",
                "policies",
                "policy",
            ),
        }
    }

    fn title(self) -> &'static str {
        match self {
            Kind::User => "Users",
            Kind::Group => "Groups",
            Kind::Role => "Roles",
            Kind::Policy => "Policies",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "user" => Some(Kind::User),
            "group" => Some(Kind::Group),
            "role" => Some(Kind::Role),
            _ => None,
        }
    }
}

async fn list_page(
    ctx: &Ctx<'_>,
    kind: Kind,
    message: Option<Result<String, String>>,
) -> HttpResponse {
    let (action, outer, inner, name_field, plural, singular) = kind.spec();
    let marker = ctx.arg("marker").to_owned();
    let listed = match ctx
        .call(action, &[("MaxItems", PAGE_ITEMS), ("Marker", &marker)])
        .await
    {
        Ok(listed) => listed,
        Err(e) => return failure(ctx, &format!("list {}", plural), &e),
    };
    let mut body = match &message {
        Some(Ok(m)) => notice(m),
        Some(Err(m)) => alert(m),
        None => String::new(),
    };
    let extra = match kind {
        Kind::Policy => "<th scope=\"col\">Type</th><th scope=\"col\">Description</th>",
        Kind::Role => "<th scope=\"col\">Arn</th>",
        _ => "<th scope=\"col\">Created</th>",
    };
    body.push_str(&format!(
        "<table id=\"{plural}\"><thead><tr><th scope=\"col\">Name</th>{extra}</tr></thead><tbody>"
    ));
    for item in items(&listed, outer, inner) {
        let name = text(item, name_field);
        let cell = match kind {
            Kind::Policy => escape(name),
            _ => format!(
                "<a href=\"/console/{singular}?name={}\">{}</a>",
                escape(&rampart_wire::percent_encode(name)),
                escape(name)
            ),
        };
        let rest = match kind {
            Kind::Policy => format!(
                "<td>{}</td><td>{}</td>",
                escape(text(item, "PolicyType")),
                escape(text(item, "Description"))
            ),
            Kind::Role => format!("<td><code>{}</code></td>", escape(text(item, "Arn"))),
            _ => format!("<td>{}</td>", escape(text(item, "CreateDate"))),
        };
        body.push_str(&format!("<tr><td>{cell}</td>{rest}</tr>"));
    }
    body.push_str("</tbody></table>");
    if listed.get("IsTruncated").and_then(Value::as_bool) == Some(true) {
        if let Some(next) = listed.get("Marker").and_then(Value::as_str) {
            body.push_str(&format!(
                "<p><a href=\"/console/{plural}?marker={}\">Next page</a></p>",
                escape(&rampart_wire::percent_encode(next))
            ));
        }
    }
    body.push_str(&create_form(ctx, kind));
    let status = match message {
        Some(Err(_)) => 400,
        _ => 200,
    };
    layout(ctx, status, kind.title(), &body)
}

fn create_form(ctx: &Ctx<'_>, kind: Kind) -> String {
    let (_, _, _, _, plural, _) = kind.spec();
    let fields = match kind {
        Kind::User => "<label for=\"name\">User name</label><input id=\"name\" name=\"name\" required>\
                       <label for=\"display\">Display name</label><input id=\"display\" name=\"display\">"
            .to_owned(),
        Kind::Group => "<label for=\"name\">Group name</label><input id=\"name\" name=\"name\" required>\
                        <label for=\"comments\">Comments</label><input id=\"comments\" name=\"comments\">"
            .to_owned(),
        Kind::Role => format!(
            "<label for=\"name\">Role name</label><input id=\"name\" name=\"name\" required>\
             <label for=\"document\">Trust policy</label>\
             <textarea id=\"document\" name=\"document\" rows=\"8\" required>{}</textarea>",
            escape(&format!(
                "{{\"Version\":\"1\",\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\
                 \"Principal\":{{\"RAM\":[\"acs:ram::{}:root\"]}}}}]}}",
                ctx.signed.session.account_id
            ))
        ),
        Kind::Policy => "<label for=\"name\">Policy name</label><input id=\"name\" name=\"name\" required>\
                         <label for=\"description\">Description</label><input id=\"description\" name=\"description\">\
                         <label for=\"document\">Policy document</label>\
                         <textarea id=\"document\" name=\"document\" rows=\"8\" required>\
                         {\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[],\"Resource\":\"*\"}]}</textarea>"
            .to_owned(),
    };
    format!(
        "<h2>Create</h2><form method=\"post\" action=\"/console/{plural}\">{}{fields}\
         <button type=\"submit\">Create</button></form>",
        csrf_input(ctx)
    )
}

async fn post_create(ctx: &Ctx<'_>, kind: Kind) -> HttpResponse {
    let name = ctx.arg("name");
    let result = match kind {
        Kind::User => {
            ctx.call(
                "CreateUser",
                &[("UserName", name), ("DisplayName", ctx.arg("display"))],
            )
            .await
        }
        Kind::Group => {
            ctx.call(
                "CreateGroup",
                &[("GroupName", name), ("Comments", ctx.arg("comments"))],
            )
            .await
        }
        Kind::Role => {
            ctx.call(
                "CreateRole",
                &[
                    ("RoleName", name),
                    ("AssumeRolePolicyDocument", ctx.arg("document")),
                ],
            )
            .await
        }
        Kind::Policy => return post_create_policy(ctx).await,
    };
    let what = kind.spec().5;
    created(ctx, kind, what, name, result).await
}

async fn post_create_policy(ctx: &Ctx<'_>) -> HttpResponse {
    let name = ctx.arg("name");
    let result = ctx
        .call(
            "CreatePolicy",
            &[
                ("PolicyName", name),
                ("PolicyDocument", ctx.arg("document")),
                ("Description", ctx.arg("description")),
            ],
        )
        .await;
    created(ctx, Kind::Policy, "policy", name, result).await
}

async fn created(
    ctx: &Ctx<'_>,
    kind: Kind,
    what: &str,
    name: &str,
    result: Result<Map<String, Value>, ApiError>,
) -> HttpResponse {
    match result {
        Ok(_) => list_page(ctx, kind, Some(Ok(format!("Created {what} {name}.")))).await,
        Err(e) if e.status() == 403 => failure(ctx, &format!("create a {what}"), &e),
        Err(e) => {
            list_page(
                ctx,
                kind,
                Some(Err(format!(
                    "Could not create {what} {name}: {} ({})",
                    e.message(),
                    e.code()
                ))),
            )
            .await
        }
    }
}

/// One user, group or role: its attached policies (with detach) and an attach form.
async fn entity_page(
    ctx: &Ctx<'_>,
    kind: Kind,
    message: Option<Result<String, String>>,
) -> HttpResponse {
    let (_, _, _, name_field, _, singular) = kind.spec();
    let name = ctx.arg("name").to_owned();
    let list_action = match kind {
        Kind::User => "ListPoliciesForUser",
        Kind::Group => "ListPoliciesForGroup",
        _ => "ListPoliciesForRole",
    };
    let attached = match ctx.call(list_action, &[(name_field, &name)]).await {
        Ok(attached) => attached,
        Err(e) => return failure(ctx, &format!("read the policies of {singular} {name}"), &e),
    };
    let mut body = match &message {
        Some(Ok(m)) => notice(m),
        Some(Err(m)) => alert(m),
        None => String::new(),
    };
    body.push_str(&format!(
        "<table id=\"attached\"><caption>Policies attached to {singular} {}</caption><thead><tr>\
         <th scope=\"col\">Policy</th><th scope=\"col\">Type</th><th scope=\"col\"></th></tr></thead><tbody>",
        escape(&name)
    ));
    for policy in items(&attached, "Policies", "Policy") {
        let (pname, ptype) = (text(policy, "PolicyName"), text(policy, "PolicyType"));
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td><form class=\"inline\" method=\"post\" action=\"/console/detach\">\
             {}{}{}{}{}<button type=\"submit\">Detach</button></form></td></tr>",
            escape(pname),
            escape(ptype),
            csrf_input(ctx),
            hidden("kind", singular),
            hidden("name", &name),
            hidden("policy", pname),
            hidden("type", ptype),
        ));
    }
    body.push_str(&format!(
        "</tbody></table><h2>Attach a policy</h2>\
         <form method=\"post\" action=\"/console/attach\">{}{}{}\
         <label for=\"policy\">Policy name</label><input id=\"policy\" name=\"policy\" required>\
         <label for=\"type\">Policy type</label>\
         <select id=\"type\" name=\"type\"><option>System</option><option>Custom</option></select>\
         <button type=\"submit\">Attach</button></form>",
        csrf_input(ctx),
        hidden("kind", singular),
        hidden("name", &name),
    ));
    let status = match message {
        Some(Err(_)) => 400,
        _ => 200,
    };
    layout(
        ctx,
        status,
        &format!("{} {}", kind.title().trim_end_matches('s'), name),
        &body,
    )
}

async fn post_attachment(ctx: &Ctx<'_>, attach: bool) -> HttpResponse {
    let Some(kind) = Kind::parse(ctx.arg("kind")) else {
        return not_found(ctx);
    };
    let (_, _, _, name_field, _, singular) = kind.spec();
    let target = match kind {
        Kind::User => "User",
        Kind::Group => "Group",
        _ => "Role",
    };
    let action = if attach {
        format!("AttachPolicyTo{target}")
    } else {
        format!("DetachPolicyFrom{target}")
    };
    let (name, policy) = (ctx.arg("name"), ctx.arg("policy"));
    let result = ctx
        .call(
            &action,
            &[
                ("PolicyType", ctx.arg("type")),
                ("PolicyName", policy),
                (name_field, name),
            ],
        )
        .await;
    let verb = if attach { "attach" } else { "detach" };
    let message = match result {
        Ok(_) => Ok(format!(
            "{}ed {policy}.",
            if attach { "Attach" } else { "Detach" }
        )),
        Err(e) if e.status() == 403 => {
            return failure(ctx, &format!("{verb} policies of {singular} {name}"), &e)
        }
        Err(e) => Err(format!(
            "Could not {verb} {policy}: {} ({})",
            e.message(),
            e.code()
        )),
    };
    // The entity page reads its name from the form.
    entity_page(ctx, kind, Some(message)).await
}
