//! Binding an MFA device during sign-in, when the user must have one (`MFABindRequired`, or
//! `MFAOperationForLogin=mandatory`) and has none: Alibaba walks the person through it before
//! the session starts. The device is created and bound by `CreateVirtualMFADevice` and
//! `BindMFADevice` through the dispatcher, as the user (so the security preference's
//! `AllowUserToManageMFADevices`, the audit trail and every rule of those actions apply); the
//! session then starts as one that passed MFA.

use rampart_store::SessionStage;

use super::pages::{created_enrolment, enrol_form, enrolment_from, new_device_name, principal_of};
use super::{
    error_block, escape, field, finish, form, login_page, page, redirect, require_session,
    set_cookie, unavailable, Attempt, Next, Settings, MFA_WINDOW, SESSION_COOKIE,
};
use crate::call::Principal;
use crate::dispatch::Api;
use crate::http::{HttpRequest, HttpResponse};

const PATH: &str = "/login/mfa/bind";

fn start_page(user: &str, csrf: &str, error: Option<&str>) -> HttpResponse {
    let body = format!(
        "{}<p>{} must bind an MFA device before signing in.</p>\
         <form method=\"post\" action=\"{PATH}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button type=\"submit\">Set up a virtual MFA device</button></form>",
        error_block(error),
        escape(user),
        escape(csrf)
    );
    page(
        if error.is_some() { 400 } else { 200 },
        "Bind MFA",
        &body,
        Vec::new(),
    )
}

pub(super) async fn get(api: &Api, req: &HttpRequest) -> HttpResponse {
    match require_session(api.state(), req, SessionStage::Bind).await {
        Ok((_, session)) => start_page(&session.user_name, &session.csrf, None),
        Err(response) => response,
    }
}

pub(super) async fn post(api: &Api, req: &HttpRequest) -> HttpResponse {
    let state = api.state();
    let form = form(req);
    let (hash, session) = match require_session(state, req, SessionStage::Bind).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if !rampart_wire::constant_time_eq(field(&form, "csrf"), &session.csrf) {
        return start_page(
            &session.user_name,
            &session.csrf,
            Some("The form was not sent from this site. Please try again."),
        );
    }
    let principal = match principal_of(state, &session).await {
        Ok(Some(p @ Principal::User { .. })) => p,
        Ok(_) => return redirect("/login", vec![set_cookie(req, SESSION_COOKIE, "", None)]),
        Err(_) => return unavailable(),
    };
    let call = |action: &'static str, params: Vec<(String, String)>| {
        let principal = principal.clone();
        async move {
            api.invoke(req, principal, false, "2015-05-01", action, params)
                .await
        }
    };
    let shown = |enrol, error: Option<&str>| {
        page(
            if error.is_some() { 400 } else { 200 },
            "Bind MFA",
            &enrol_form(enrol, &session.csrf, PATH, error),
            Vec::new(),
        )
    };
    if field(&form, "step") != "bind" {
        let Ok(name) = new_device_name(&session.user_name) else {
            return unavailable();
        };
        return match call(
            "CreateVirtualMFADevice",
            vec![("VirtualMFADeviceName".into(), name)],
        )
        .await
        {
            Ok(created) => shown(&created_enrolment(&created), None),
            Err(e) if e.status() >= 500 => unavailable(),
            Err(e) if e.code() == "NoPermission" => start_page(
                &session.user_name,
                &session.csrf,
                Some(
                    "This account does not let users bind their own MFA devices \
                     (AllowUserToManageMFADevices is off). Ask an administrator to bind one.",
                ),
            ),
            Err(e) => start_page(&session.user_name, &session.csrf, Some(e.message())),
        };
    }
    let enrol = enrolment_from(&form);
    let bound = call(
        "BindMFADevice",
        vec![
            ("UserName".into(), session.user_name.clone()),
            ("SerialNumber".into(), enrol.serial.clone()),
            (
                "AuthenticationCode1".into(),
                field(&form, "code1").to_owned(),
            ),
            (
                "AuthenticationCode2".into(),
                field(&form, "code2").to_owned(),
            ),
        ],
    )
    .await;
    match bound {
        Ok(_) => {}
        Err(e) if e.status() >= 500 => return unavailable(),
        Err(e) => return shown(&enrol, Some(e.message())),
    }
    let attempt = Attempt::of(req, &session, state.clock.now());
    let finished = match Settings::load(state, &session.account_id).await {
        Ok(settings) => finish(state, &attempt, &settings, true, Some(&hash)).await,
        Err(e) => Err(e),
    };
    match finished {
        Ok(Next::Active(token, lifetime)) => redirect(
            "/console",
            vec![set_cookie(req, SESSION_COOKIE, &token, Some(lifetime))],
        ),
        Ok(Next::ChangePassword(token)) => redirect(
            "/login/password",
            vec![set_cookie(req, SESSION_COOKIE, &token, Some(MFA_WINDOW))],
        ),
        Err(Ok(refusal)) => login_page(state, req, Some(&refusal.shown)).await,
        _ => unavailable(),
    }
}
