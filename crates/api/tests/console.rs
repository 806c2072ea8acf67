//! Console sign-in at `/login`, driven as a browser would: cookies, forms, CSRF tokens,
//! redirects. Every attempt is in the audit trail; a success sets `LastLoginDate`.
//!
//! `cargo test -p rampart-api --test console`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use rampart_api::{HttpRequest, HttpResponse};
use rampart_model::Clock;
use rampart_store::{AuditQuery, AuditRepo, ConsoleRepo};
use rampart_wire::{percent_encode, RawRequest};
use serde_json::Value;
use support::{Client, Server};

const PASSWORD: &str = "Correct-Horse-9";

/// A cookie jar and an address.
struct Browser<'a> {
    server: &'a Server,
    ip: IpAddr,
    cookies: HashMap<String, String>,
    /// The `Set-Cookie` lines of the last response, as sent.
    last_set_cookies: Vec<String>,
}

struct Page {
    status: u16,
    body: String,
    location: Option<String>,
}

impl Page {
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no CSRF field in {}", self.body));
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

impl<'a> Browser<'a> {
    fn new(server: &'a Server) -> Self {
        Self {
            server,
            ip: "127.0.0.1".parse().unwrap(),
            cookies: HashMap::new(),
            last_set_cookies: Vec::new(),
        }
    }

    async fn send(&mut self, method: &str, path: &str, form: &[(&str, &str)]) -> Page {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let mut raw = RawRequest::new(method, path, query);
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            raw.headers.push(("Cookie".into(), jar.join("; ")));
        }
        raw.headers
            .push(("User-Agent".into(), "console-test/1.0".into()));
        if !form.is_empty() {
            let body: Vec<String> = form
                .iter()
                .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
                .collect();
            raw.body = body.join("&").into_bytes();
            raw.headers.push((
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
        }
        let mut req = HttpRequest::new(raw);
        req.source_ip = Some(self.ip);
        let response: HttpResponse = self.server.api.handle(req).await;
        self.last_set_cookies.clear();
        let mut location = None;
        for (name, value) in &response.headers {
            match *name {
                "set-cookie" => {
                    self.last_set_cookies.push(value.clone());
                    let pair = value.split(';').next().unwrap();
                    let (k, v) = pair.split_once('=').unwrap();
                    if v.is_empty() || value.contains("Max-Age=0") {
                        self.cookies.remove(k);
                    } else {
                        self.cookies.insert(k.to_owned(), v.to_owned());
                    }
                }
                "location" => location = Some(value.clone()),
                _ => {}
            }
        }
        Page {
            status: response.status,
            body: response.body,
            location,
        }
    }

    /// The sign-in form, filled in and sent.
    async fn sign_in(&mut self, logon: &str, password: &str) -> Page {
        let form = self.send("GET", "/login", &[]).await;
        assert_eq!(form.status, 200, "{}", form.body);
        let csrf = form.csrf();
        self.send(
            "POST",
            "/login",
            &[("csrf", &csrf), ("logon", logon), ("password", password)],
        )
        .await
    }
}

async fn user_with_password(s: &Server, root: &Client, name: &str) {
    s.call(root, "CreateUser", &[("UserName", name)]).await.ok();
    s.call(
        root,
        "CreateLoginProfile",
        &[("UserName", name), ("Password", PASSWORD)],
    )
    .await
    .ok();
}

async fn sign_in_events(s: &Server, account: &str) -> Vec<Value> {
    s.store
        .search_audit_events(&AuditQuery {
            account_id: Some(account.to_owned()),
            event_name: Some("ConsoleSignin".into()),
            oldest_first: true,
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_str(&r.record.body).unwrap())
        .collect()
}

fn codes(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["errorCode"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_sign_in_opens_a_session_and_is_recorded() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    user_with_password(&s, &root, "alice").await;
    let mut b = Browser::new(&s);

    let form = b.send("GET", "/login", &[]).await;
    assert_eq!(form.status, 200);
    let login_cookie = b.last_set_cookies[0].clone();
    assert!(login_cookie.starts_with("rampart_login="));
    assert!(login_cookie.contains("HttpOnly") && login_cookie.contains("SameSite=Lax"));
    assert!(!login_cookie.contains("Secure"), "plain HTTP here");
    let pre_login: Vec<String> = b.cookies.values().cloned().collect();

    let logon = format!("alice@{}", root.account_id);
    let done = b
        .send(
            "POST",
            "/login",
            &[
                ("csrf", &form.csrf()),
                ("logon", &logon),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/console"));
    let session = b.cookies.get("rampart_session").unwrap().clone();
    assert!(
        !pre_login.contains(&session),
        "a new session id after sign-in"
    );
    let set = b
        .last_set_cookies
        .iter()
        .find(|c| c.starts_with("rampart_session="))
        .unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Max-Age=21600")
    );

    let console = b.send("GET", "/console", &[]).await;
    assert_eq!(console.status, 200);
    assert!(console.body.contains("<strong id=\"who\">alice</strong>"));
    assert!(console.body.contains("<span id=\"mfa\">no</span>"));

    // Recorded, with LastLoginDate from the same transaction.
    let events = sign_in_events(&s, &root.account_id).await;
    assert_eq!(codes(&events), [""]);
    assert_eq!(events[0]["userIdentity"]["userName"], "alice");
    assert_eq!(events[0]["sourceIpAddress"], "127.0.0.1");
    assert_eq!(events[0]["userAgent"], "console-test/1.0");
    assert_eq!(events[0]["additionalEventData"]["MFAUsed"], "false");
    let user = s
        .call(&root, "GetUser", &[("UserName", "alice")])
        .await
        .ok();
    assert_eq!(
        user["User"]["LastLoginDate"],
        s.clock.now().to_string().as_str()
    );

    // Sign-out needs the session's CSRF token.
    let refused = b.send("POST", "/logout", &[("csrf", "guess")]).await;
    assert_eq!(refused.status, 403);
    assert_eq!(b.send("GET", "/console", &[]).await.status, 200);
    let out = b
        .send("POST", "/logout", &[("csrf", &console.csrf())])
        .await;
    assert_eq!(out.location.as_deref(), Some("/login"));
    assert!(!b.cookies.contains_key("rampart_session"));
    // The old token is dead even if replayed.
    b.cookies.insert("rampart_session".into(), session);
    let after = b.send("GET", "/console", &[]).await;
    assert_eq!(after.location.as_deref(), Some("/login"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_their_csrf_token_do_nothing() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    user_with_password(&s, &root, "alice").await;
    let logon = format!("alice@{}", root.account_id);
    let mut b = Browser::new(&s);
    // No login cookie at all (a cross-site form post).
    let page = b
        .send(
            "POST",
            "/login",
            &[("csrf", "x"), ("logon", &logon), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, 401);
    assert!(page.body.contains("expired"));
    assert!(!b.cookies.contains_key("rampart_session"));
    // A cookie, but the form's token is not it.
    b.send("GET", "/login", &[]).await;
    let page = b
        .send(
            "POST",
            "/login",
            &[
                ("csrf", "forged"),
                ("logon", &logon),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, 401);
    assert!(!b.cookies.contains_key("rampart_session"));
    assert!(sign_in_events(&s, &root.account_id).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_lock_the_user_for_the_rest_of_the_hour() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    user_with_password(&s, &root, "alice").await;
    s.call(&root, "SetPasswordPolicy", &[("MaxLoginAttemps", "3")])
        .await
        .ok();
    s.call(&root, "SetAccountAlias", &[("AccountAlias", "acme-corp")])
        .await
        .ok();
    let mut b = Browser::new(&s);
    // The alias names the account too; the user's letter case does not matter.
    for _ in 0..3 {
        let page = b.sign_in("Alice@acme-corp", "Wrong-Password-1").await;
        assert_eq!(page.status, 401);
        assert!(page
            .body
            .contains("The logon name or password is incorrect."));
    }
    let locked = b.sign_in("alice@acme-corp", PASSWORD).await;
    assert_eq!(locked.status, 401);
    assert!(
        locked.body.contains("locked until 2026-11-22T11:00:00Z"),
        "{}",
        locked.body
    );
    assert!(!b.cookies.contains_key("rampart_session"));
    let events = sign_in_events(&s, &root.account_id).await;
    assert_eq!(
        codes(&events),
        [
            "InvalidPassword",
            "InvalidPassword",
            "InvalidPassword",
            "LoginLocked"
        ]
    );
    assert!(events[3]["errorMessage"]
        .as_str()
        .unwrap()
        .contains("3 failed sign-ins this hour"));
    // The next hour starts afresh.
    s.clock.advance(Duration::from_secs(3600));
    let page = b.sign_in("alice@acme-corp", PASSWORD).await;
    assert_eq!(page.location.as_deref(), Some("/console"), "{}", page.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_users_and_wrong_passwords_look_alike() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    user_with_password(&s, &root, "alice").await;
    let mut b = Browser::new(&s);
    let wrong = b
        .sign_in(&format!("alice@{}", root.account_id), "Nope-Nope-1")
        .await;
    let unknown = b
        .sign_in(&format!("mallory@{}", root.account_id), "Nope-Nope-1")
        .await;
    let no_account = b.sign_in("alice@0000000000000000", "Nope-Nope-1").await;
    let no_at = b.sign_in("alice", "Nope-Nope-1").await;
    for page in [&unknown, &no_account, &no_at] {
        assert_eq!(page.status, wrong.status);
        assert!(page
            .body
            .contains("The logon name or password is incorrect."));
    }
    // The trail tells them apart for the account's administrators.
    assert_eq!(
        codes(&sign_in_events(&s, &root.account_id).await),
        ["InvalidPassword", "InvalidUser"]
    );
    let metrics = s.api.state().metrics.render();
    assert!(
        metrics.contains("rampart_console_sign_ins_total{outcome=\"invalid_credentials\"} 4"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_network_masks_refuse_other_addresses() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    user_with_password(&s, &root, "alice").await;
    s.call(
        &root,
        "SetSecurityPreference",
        &[("LoginNetworkMasks", "10.0.0.0/8")],
    )
    .await
    .ok();
    let logon = format!("alice@{}", root.account_id);
    let mut b = Browser::new(&s);
    let page = b.sign_in(&logon, PASSWORD).await;
    assert_eq!(page.status, 401);
    assert!(page.body.contains("not allowed from your network address"));
    let mut inside = Browser::new(&s);
    inside.ip = "10.1.2.3".parse().unwrap();
    let page = inside.sign_in(&logon, PASSWORD).await;
    assert_eq!(page.location.as_deref(), Some("/console"));
    assert_eq!(
        codes(&sign_in_events(&s, &root.account_id).await),
        ["LoginNetworkMaskMismatch", ""]
    );
}

fn totp_at(seed_base32: &str, account: &str, name: &str, secs: u64) -> String {
    let seed = totp_rs::Secret::Encoded(seed_base32.to_owned())
        .to_bytes()
        .unwrap();
    let t = totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        seed,
        Some("Rampart".into()),
        format!("{name}@{account}"),
    )
    .unwrap();
    t.generate(secs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_mfa_device_asks_for_a_code_once_per_code() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    user_with_password(&s, &root, "alice").await;
    let device = s
        .call(
            &root,
            "CreateVirtualMFADevice",
            &[("VirtualMFADeviceName", "alice-phone")],
        )
        .await
        .ok();
    let seed = device["VirtualMFADevice"]["Base32StringSeed"]
        .as_str()
        .unwrap()
        .to_owned();
    let serial = device["VirtualMFADevice"]["SerialNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = || u64::try_from(s.clock.now().unix_secs()).unwrap();
    let code = |secs: u64| totp_at(&seed, &root.account_id, "alice-phone", secs);
    s.call(
        &root,
        "BindMFADevice",
        &[
            ("UserName", "alice"),
            ("SerialNumber", &serial),
            ("AuthenticationCode1", &code(now() - 30)),
            ("AuthenticationCode2", &code(now())),
        ],
    )
    .await
    .ok();
    s.clock.advance(Duration::from_secs(90));

    let logon = format!("alice@{}", root.account_id);
    let mut b = Browser::new(&s);
    let step = b.sign_in(&logon, PASSWORD).await;
    assert_eq!(
        step.location.as_deref(),
        Some("/login/mfa"),
        "{}",
        step.body
    );
    // Not signed in yet.
    assert_eq!(
        b.send("GET", "/console", &[]).await.location.as_deref(),
        Some("/login")
    );
    let form = b.send("GET", "/login/mfa", &[]).await;
    assert_eq!(form.status, 200);
    let wrong = b
        .send(
            "POST",
            "/login/mfa",
            &[("csrf", &form.csrf()), ("code", "000000")],
        )
        .await;
    assert_eq!(wrong.status, 401);
    let pending = b.cookies.get("rampart_session").unwrap().clone();
    let good = code(now());
    let done = b
        .send(
            "POST",
            "/login/mfa",
            &[("csrf", &form.csrf()), ("code", &good)],
        )
        .await;
    assert_eq!(done.location.as_deref(), Some("/console"), "{}", done.body);
    assert_ne!(
        b.cookies.get("rampart_session").unwrap(),
        &pending,
        "new id after MFA"
    );
    let console = b.send("GET", "/console", &[]).await;
    assert!(console.body.contains("<span id=\"mfa\">yes</span>"));

    // The same code again, in another sign-in: refused.
    let mut again = Browser::new(&s);
    again.sign_in(&logon, PASSWORD).await;
    let form = again.send("GET", "/login/mfa", &[]).await;
    let replay = again
        .send(
            "POST",
            "/login/mfa",
            &[("csrf", &form.csrf()), ("code", &good)],
        )
        .await;
    assert_eq!(replay.status, 401);
    let events = sign_in_events(&s, &root.account_id).await;
    assert_eq!(codes(&events), ["InvalidMFACode", "", "InvalidMFACode"]);
    assert_eq!(events[1]["additionalEventData"]["MFAUsed"], "true");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_bind_required_walks_the_user_through_binding_before_the_session() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    for user in ["bob", "dan"] {
        s.call(&root, "CreateUser", &[("UserName", user)])
            .await
            .ok();
        s.call(
            &root,
            "CreateLoginProfile",
            &[
                ("UserName", user),
                ("Password", PASSWORD),
                ("MFABindRequired", "true"),
            ],
        )
        .await
        .ok();
    }
    let mut b = Browser::new(&s);
    let page = b
        .sign_in(&format!("bob@{}", root.account_id), PASSWORD)
        .await;
    assert_eq!(
        page.location.as_deref(),
        Some("/login/mfa/bind"),
        "{}",
        page.body
    );
    // Not signed in until a device is bound.
    assert_eq!(
        b.send("GET", "/console", &[]).await.location.as_deref(),
        Some("/login")
    );
    let start = b.send("GET", "/login/mfa/bind", &[]).await;
    assert!(start.body.contains("must bind an MFA device"));
    let csrf = start.csrf();
    let enrol = b.send("POST", "/login/mfa/bind", &[("csrf", &csrf)]).await;
    assert_eq!(enrol.status, 200, "{}", enrol.body);
    assert!(enrol.body.contains("src=\"data:image/png;base64,iVBOR"));
    let seed = hidden_value(&enrol, "seed");
    let serial = hidden_value(&enrol, "serial");
    let name = serial.rsplit('/').next().unwrap().to_owned();
    let now = u64::try_from(s.clock.now().unix_secs()).unwrap();
    let code = |secs| totp_at(&seed, &root.account_id, &name, secs);
    let again = submit_enrolment(&mut b, &enrol, "/login/mfa/bind", "000000", &code(now)).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(
        again.body.contains("id=\"mfa-qr\""),
        "the same device, to try again"
    );
    let done = submit_enrolment(
        &mut b,
        &enrol,
        "/login/mfa/bind",
        &code(now - 30),
        &code(now),
    )
    .await;
    assert_eq!(done.location.as_deref(), Some("/console"), "{}", done.body);
    let console = b.send("GET", "/console", &[]).await;
    assert!(console.body.contains("<span id=\"mfa\">yes</span>"));
    let info = s
        .call(&root, "GetUserMFAInfo", &[("UserName", "bob")])
        .await
        .ok();
    assert_eq!(info["MFADevice"]["SerialNumber"], serial.as_str());
    // From now on bob signs in with the device.
    sign_out(&mut b).await;
    let page = b
        .sign_in(&format!("bob@{}", root.account_id), PASSWORD)
        .await;
    assert_eq!(page.location.as_deref(), Some("/login/mfa"));

    // Where users may not manage their own devices, the step says so clearly.
    s.call(
        &root,
        "SetSecurityPreference",
        &[("AllowUserToManageMFADevices", "false")],
    )
    .await
    .ok();
    let mut d = Browser::new(&s);
    d.sign_in(&format!("dan@{}", root.account_id), PASSWORD)
        .await;
    let start = d.send("GET", "/login/mfa/bind", &[]).await;
    let refused = d
        .send("POST", "/login/mfa/bind", &[("csrf", &start.csrf())])
        .await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.body.contains("AllowUserToManageMFADevices is off"),
        "{}",
        refused.body
    );
    assert_eq!(
        d.send("GET", "/console", &[]).await.location.as_deref(),
        Some("/login")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_password_change_comes_before_the_session() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    s.call(&root, "CreateUser", &[("UserName", "carol")])
        .await
        .ok();
    s.call(
        &root,
        "CreateLoginProfile",
        &[
            ("UserName", "carol"),
            ("Password", PASSWORD),
            ("PasswordResetRequired", "true"),
        ],
    )
    .await
    .ok();
    s.call(
        &root,
        "SetPasswordPolicy",
        &[("PasswordReusePrevention", "3"), ("RequireSymbols", "true")],
    )
    .await
    .ok();
    let logon = format!("carol@{}", root.account_id);
    let mut b = Browser::new(&s);
    let step = b.sign_in(&logon, PASSWORD).await;
    assert_eq!(
        step.location.as_deref(),
        Some("/login/password"),
        "{}",
        step.body
    );
    assert_eq!(
        b.send("GET", "/console", &[]).await.location.as_deref(),
        Some("/login")
    );
    let form = b.send("GET", "/login/password", &[]).await;
    let csrf = form.csrf();
    for (new, confirm, why) in [
        ("Another-Pass-1", "Another-Pass-2", "differ"),
        ("weakweak", "weakweak", "password policy"),
        (PASSWORD, PASSWORD, "must differ from the last 3"),
    ] {
        let page = b
            .send(
                "POST",
                "/login/password",
                &[("csrf", &csrf), ("new", new), ("confirm", confirm)],
            )
            .await;
        assert_eq!(page.status, 400, "{new}");
        assert!(page.body.contains(why), "{why}: {}", page.body);
    }
    let fresh = "Fresh-Password-7";
    let done = b
        .send(
            "POST",
            "/login/password",
            &[("csrf", &csrf), ("new", fresh), ("confirm", fresh)],
        )
        .await;
    assert_eq!(done.location.as_deref(), Some("/console"), "{}", done.body);
    // The old password is gone; the new one signs in with no detour.
    let mut again = Browser::new(&s);
    assert_eq!(again.sign_in(&logon, PASSWORD).await.status, 401);
    assert_eq!(
        again.sign_in(&logon, fresh).await.location.as_deref(),
        Some("/console")
    );
    let profile = s
        .call(&root, "GetLoginProfile", &[("UserName", "carol")])
        .await
        .ok();
    assert_eq!(profile["LoginProfile"]["PasswordResetRequired"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_password_under_hard_expiry_needs_an_administrator() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    user_with_password(&s, &root, "dave").await;
    s.call(
        &root,
        "SetPasswordPolicy",
        // InitialPasswordAge off: dave's administrator-set password would expire first.
        &[
            ("MaxPasswordAge", "30"),
            ("HardExpiry", "true"),
            ("InitialPasswordAge", "0"),
        ],
    )
    .await
    .ok();
    let logon = format!("dave@{}", root.account_id);
    let mut b = Browser::new(&s);
    assert_eq!(
        b.sign_in(&logon, PASSWORD).await.location.as_deref(),
        Some("/console")
    );
    s.clock.advance(Duration::from_secs(31 * 86_400));
    let mut later = Browser::new(&s);
    let page = later.sign_in(&logon, PASSWORD).await;
    assert_eq!(page.status, 401);
    assert!(page.body.contains("Only an administrator can reset it"));
    // Without HardExpiry the user changes it at sign-in instead.
    s.call(&root, "SetPasswordPolicy", &[("HardExpiry", "false")])
        .await
        .ok();
    let page = later.sign_in(&logon, PASSWORD).await;
    assert_eq!(page.location.as_deref(), Some("/login/password"));
    assert_eq!(
        codes(&sign_in_events(&s, &root.account_id).await),
        ["", "PasswordExpired"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_password_through_the_api_follows_the_policy() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let erin = s.user_with_key(&root, "erin").await;
    s.call(
        &root,
        "CreateLoginProfile",
        &[("UserName", "erin"), ("Password", PASSWORD)],
    )
    .await
    .ok();
    s.call(
        &root,
        "SetPasswordPolicy",
        &[("PasswordReusePrevention", "2")],
    )
    .await
    .ok();
    let change = |old: &'static str, new: &'static str| {
        let (s, erin) = (&s, &erin);
        async move {
            s.call(
                erin,
                "ChangePassword",
                &[("OldPassword", old), ("NewPassword", new)],
            )
            .await
        }
    };
    change("Not-The-Password-1", "Second-Pass-2")
        .await
        .err(400, "InvalidParameter.OldPassword");
    change(PASSWORD, "short")
        .await
        .err(400, "InvalidParameter.Password.TooWeak");
    change(PASSWORD, PASSWORD)
        .await
        .err(400, "InvalidParameter.Password.Reused");
    change(PASSWORD, "Second-Pass-2").await.ok();
    // The one before is still among the last two.
    change("Second-Pass-2", PASSWORD)
        .await
        .err(400, "InvalidParameter.Password.Reused");
    change("Second-Pass-2", "Third-Pass-3").await.ok();
    let mut b = Browser::new(&s);
    let page = b
        .sign_in(&format!("erin@{}", root.account_id), "Third-Pass-3")
        .await;
    assert_eq!(page.location.as_deref(), Some("/console"));
}

// ---------------------------------------------------------------------------------------
// The signed-in console: root, MFA, AccessKeys and administration

/// The value of a hidden or visible field `name` in a page.
fn hidden_value(page: &Page, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in {}", page.body));
    let rest = &page.body[at + marker.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

fn password_checks(s: &Server) -> u64 {
    let metrics = s.api.state().metrics.render();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("rampart_console_password_checks_total "))
        .map_or(0, |n| n.trim().parse().unwrap())
}

/// Submits an MFA enrolment form as a browser does: every hidden field it carries, and the
/// two codes typed in.
async fn submit_enrolment(
    b: &mut Browser<'_>,
    enrol: &Page,
    action: &str,
    code1: &str,
    code2: &str,
) -> Page {
    let mut form: Vec<(String, String)> = Vec::new();
    let mut rest = enrol.body.as_str();
    while let Some(at) = rest.find("<input type=\"hidden\" name=\"") {
        rest = &rest[at + 27..];
        let name = &rest[..rest.find('"').unwrap()];
        let value_at = rest.find("value=\"").unwrap() + 7;
        let value = &rest[value_at..value_at + rest[value_at..].find('"').unwrap()];
        // Taken as written: these values (tokens, Base64, serials) contain nothing HTML escapes.
        form.push((name.to_owned(), value.to_owned()));
    }
    form.push(("code1".into(), code1.into()));
    form.push(("code2".into(), code2.into()));
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    b.send("POST", action, &fields).await
}

/// Binds a virtual MFA device through the console's pages, as the signed-in person does:
/// returns the seed (Base32) and the device name TOTP labels use.
async fn bind_mfa_on_console(s: &Server, b: &mut Browser<'_>, account: &str) -> (String, String) {
    let mfa = b.send("GET", "/console/mfa", &[]).await;
    assert_eq!(mfa.status, 200, "{}", mfa.body);
    assert!(mfa.body.contains("id=\"mfa-none\""));
    let enrol = b
        .send("POST", "/console/mfa/new", &[("csrf", &mfa.csrf())])
        .await;
    assert_eq!(enrol.status, 200, "{}", enrol.body);
    assert!(
        enrol.body.contains("src=\"data:image/png;base64,iVBOR"),
        "a PNG QR code"
    );
    let seed = hidden_value(&enrol, "seed");
    let serial = hidden_value(&enrol, "serial");
    let name = serial.rsplit('/').next().unwrap().to_owned();
    let now = u64::try_from(s.clock.now().unix_secs()).unwrap();
    let code = |secs| totp_at(&seed, account, &name, secs);
    // Two codes that are not consecutive are refused, and the form comes back.
    let again = submit_enrolment(b, &enrol, "/console/mfa/bind", &code(now - 60), &code(now)).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(again.body.contains("id=\"mfa-qr\""));
    let bound = submit_enrolment(b, &enrol, "/console/mfa/bind", &code(now - 30), &code(now)).await;
    assert_eq!(bound.status, 200, "{}", bound.body);
    assert!(
        bound.body.contains("The MFA device is bound."),
        "{}",
        bound.body
    );
    assert!(bound
        .body
        .contains(&format!("<code id=\"mfa-serial\">{serial}</code>")));
    (seed, name)
}

/// Signs out through the console's form.
async fn sign_out(b: &mut Browser<'_>) {
    let home = b.send("GET", "/console", &[]).await;
    let out = b.send("POST", "/logout", &[("csrf", &home.csrf())]).await;
    assert_eq!(out.location.as_deref(), Some("/login"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_names_and_wrong_passwords_cost_one_argon2_verification_each() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    user_with_password(&s, &root, "alice").await;
    let mut b = Browser::new(&s);
    let tries = [
        format!("alice@{}", root.account_id),   // wrong password
        format!("mallory@{}", root.account_id), // no such user
        "alice@0000000000000000".to_owned(),    // no such account
        "no-such-alias".to_owned(),             // no such account (root form)
        root.account_id.clone(),                // a root identity without a password
    ];
    for (i, logon) in tries.iter().enumerate() {
        let before = password_checks(&s);
        let page = b.sign_in(logon, "Wrong-Password-1").await;
        assert_eq!(page.status, 401, "{logon}");
        assert!(page
            .body
            .contains("The logon name or password is incorrect."));
        assert_eq!(password_checks(&s), before + 1, "attempt {i} ({logon})");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_identity_signs_in_with_its_own_password_and_mfa() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let account = rampart_model::AccountId::parse(&root.account_id).unwrap();
    // Too short for a root password.
    assert!(matches!(
        rampart_api::console::set_root_password(&s.store, &account, "short", s.clock.now()).await,
        Err(rampart_api::console::RootPasswordError::Length)
    ));
    rampart_api::console::set_root_password(&s.store, &account, PASSWORD, s.clock.now())
        .await
        .unwrap();
    s.call(&root, "SetAccountAlias", &[("AccountAlias", "acme-corp")])
        .await
        .ok();

    let mut b = Browser::new(&s);
    assert_eq!(
        b.sign_in(&root.account_id, "Wrong-Password-1").await.status,
        401
    );
    // The alias in IMS's default-domain form names the account too.
    let page = b.sign_in("acme-corp.onaliyun.com", PASSWORD).await;
    assert_eq!(page.location.as_deref(), Some("/console"), "{}", page.body);
    let home = b.send("GET", "/console", &[]).await;
    assert!(home
        .body
        .contains("<strong id=\"who\">root</strong> (root identity)"));
    assert!(home.body.contains(&format!(
        "<code id=\"arn\">acs:ram::{}:root</code>",
        root.account_id
    )));
    let events = sign_in_events(&s, &root.account_id).await;
    assert_eq!(codes(&events), ["InvalidPassword", ""]);
    assert_eq!(events[1]["userIdentity"]["type"], "root-account");

    let account_mfa = || async {
        s.call(&root, "GetAccountMFAInfo", &[("Version", "2019-08-15")])
            .await
            .ok()["IsMFAEnable"]
            .clone()
    };
    assert_eq!(account_mfa().await, false);
    let (seed, name) = bind_mfa_on_console(&s, &mut b, &root.account_id).await;
    assert_eq!(name, "root");
    assert_eq!(account_mfa().await, true);
    assert!(s
        .store
        .get_root_login(&account)
        .await
        .unwrap()
        .unwrap()
        .mfa
        .is_some());
    sign_out(&mut b).await;

    let step = b.sign_in(&root.account_id, PASSWORD).await;
    assert_eq!(
        step.location.as_deref(),
        Some("/login/mfa"),
        "{}",
        step.body
    );
    let form = b.send("GET", "/login/mfa", &[]).await;
    // The code that proved the device at binding does not open a session.
    let now = u64::try_from(s.clock.now().unix_secs()).unwrap();
    let used = totp_at(&seed, &root.account_id, "root", now);
    let replay = b
        .send(
            "POST",
            "/login/mfa",
            &[("csrf", &form.csrf()), ("code", &used)],
        )
        .await;
    assert_eq!(replay.status, 401, "{}", replay.body);
    s.clock.advance(Duration::from_secs(30));
    let fresh = totp_at(&seed, &root.account_id, "root", now + 30);
    let done = b
        .send(
            "POST",
            "/login/mfa",
            &[("csrf", &form.csrf()), ("code", &fresh)],
        )
        .await;
    assert_eq!(done.location.as_deref(), Some("/console"), "{}", done.body);
    let home = b.send("GET", "/console", &[]).await;
    assert!(home.body.contains("<span id=\"mfa\">yes</span>"));

    // The root identity changes its own password on the console.
    let pw = b.send("GET", "/console/password", &[]).await;
    let wrong_old = b
        .send(
            "POST",
            "/console/password",
            &[
                ("csrf", &pw.csrf()),
                ("old", "Not-The-Password-1"),
                ("new", "Another-Password-2"),
                ("confirm", "Another-Password-2"),
            ],
        )
        .await;
    assert_eq!(wrong_old.status, 400);
    let changed = b
        .send(
            "POST",
            "/console/password",
            &[
                ("csrf", &pw.csrf()),
                ("old", PASSWORD),
                ("new", "Another-Password-2"),
                ("confirm", "Another-Password-2"),
            ],
        )
        .await;
    assert!(
        changed.body.contains("Your password was changed."),
        "{}",
        changed.body
    );

    // Unbinding takes the MFA step away from the next sign-in.
    let mfa = b.send("GET", "/console/mfa", &[]).await;
    let unbound = b
        .send("POST", "/console/mfa/unbind", &[("csrf", &mfa.csrf())])
        .await;
    assert!(unbound.body.contains("id=\"mfa-none\""), "{}", unbound.body);
    sign_out(&mut b).await;
    let page = b.sign_in(&root.account_id, "Another-Password-2").await;
    assert_eq!(page.location.as_deref(), Some("/console"), "{}", page.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_actions_are_authorized_and_audited_like_the_api() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    user_with_password(&s, &root, "alice").await;
    let mut b = Browser::new(&s);
    let page = b
        .sign_in(&format!("alice@{}.onaliyun.com", root.account_id), PASSWORD)
        .await;
    assert_eq!(page.location.as_deref(), Some("/console"), "{}", page.body);

    // No policy yet: a clear refusal, and nothing done.
    let refused = b.send("GET", "/console/users", &[]).await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("id=\"refusal\""));
    assert!(
        refused.body.contains("<code>ram:ListUsers</code>"),
        "{}",
        refused.body
    );
    let csrf = refused.csrf();
    let create = b
        .send(
            "POST",
            "/console/users",
            &[("csrf", &csrf), ("name", "bob")],
        )
        .await;
    assert_eq!(create.status, 403);
    assert!(create.body.contains("<code>ram:CreateUser</code>"));
    s.call(&root, "GetUser", &[("UserName", "bob")])
        .await
        .err(404, "EntityNotExist.User");

    s.call(
        &root,
        "AttachPolicyToUser",
        &[
            ("PolicyType", "System"),
            ("PolicyName", "AliyunRAMFullAccess"),
            ("UserName", "alice"),
        ],
    )
    .await
    .ok();
    // Effective at once: the console reads the same policy cache epoch as the API.
    let users = b.send("GET", "/console/users", &[]).await;
    assert_eq!(users.status, 200, "{}", users.body);
    assert!(users.body.contains(">alice</a>"));
    let created = b
        .send(
            "POST",
            "/console/users",
            &[("csrf", &csrf), ("name", "bob"), ("display", "Bob")],
        )
        .await;
    assert!(
        created.body.contains("Created user bob."),
        "{}",
        created.body
    );
    assert_eq!(
        s.call(&root, "GetUser", &[("UserName", "bob")]).await.ok()["User"]["DisplayName"],
        "Bob"
    );
    let dup = b
        .send(
            "POST",
            "/console/users",
            &[("csrf", &csrf), ("name", "bob")],
        )
        .await;
    assert_eq!(dup.status, 400);
    assert!(
        dup.body.contains("EntityAlreadyExists.User"),
        "{}",
        dup.body
    );

    // Attach and detach on the user's page.
    let attach = b
        .send(
            "POST",
            "/console/attach",
            &[
                ("csrf", &csrf),
                ("kind", "user"),
                ("name", "bob"),
                ("policy", "ReadOnlyAccess"),
                ("type", "System"),
            ],
        )
        .await;
    assert!(
        attach.body.contains("Attached ReadOnlyAccess."),
        "{}",
        attach.body
    );
    let listed = s
        .call(&root, "ListPoliciesForUser", &[("UserName", "bob")])
        .await
        .ok();
    assert_eq!(
        listed["Policies"]["Policy"][0]["PolicyName"],
        "ReadOnlyAccess"
    );
    let page = b.send("GET", "/console/user?name=bob", &[]).await;
    assert!(page.body.contains("<td>ReadOnlyAccess</td>"));
    let detach = b
        .send(
            "POST",
            "/console/detach",
            &[
                ("csrf", &csrf),
                ("kind", "user"),
                ("name", "bob"),
                ("policy", "ReadOnlyAccess"),
                ("type", "System"),
            ],
        )
        .await;
    assert!(
        detach.body.contains("Detached ReadOnlyAccess."),
        "{}",
        detach.body
    );
    let listed = s
        .call(&root, "ListPoliciesForUser", &[("UserName", "bob")])
        .await
        .ok();
    assert_eq!(listed["Policies"]["Policy"].as_array().unwrap().len(), 0);

    // Groups, roles and policies are created the same way.
    let group = b
        .send(
            "POST",
            "/console/groups",
            &[("csrf", &csrf), ("name", "ops")],
        )
        .await;
    assert!(group.body.contains("Created group ops."), "{}", group.body);
    let trust = format!(
        "{{\"Version\":\"1\",\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\
         \"Principal\":{{\"RAM\":[\"acs:ram::{}:root\"]}}}}]}}",
        root.account_id
    );
    let role = b
        .send(
            "POST",
            "/console/roles",
            &[("csrf", &csrf), ("name", "deployer"), ("document", &trust)],
        )
        .await;
    assert!(
        role.body.contains("Created role deployer."),
        "{}",
        role.body
    );
    let bad = b
        .send(
            "POST",
            "/console/policies",
            &[
                ("csrf", &csrf),
                ("name", "broken"),
                ("document", "{not json"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("MalformedPolicyDocument"), "{}", bad.body);
    s.call(
        &root,
        "GetPolicy",
        &[("PolicyName", "broken"), ("PolicyType", "Custom")],
    )
    .await
    .err(404, "EntityNotExist.Policy");

    // The trail shows who did it, from the console (no AccessKey).
    let events = s
        .store
        .search_audit_events(&AuditQuery {
            account_id: Some(root.account_id.clone()),
            event_name: Some("CreateUser".into()),
            oldest_first: true,
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let bodies: Vec<Value> = events
        .iter()
        .map(|r| serde_json::from_str(&r.record.body).unwrap())
        .collect();
    let by_alice: Vec<&Value> = bodies
        .iter()
        .filter(|e| e["userIdentity"]["userName"] == "alice")
        .collect();
    assert_eq!(by_alice.len(), 3, "{bodies:?}");
    assert_eq!(by_alice[0]["errorCode"], "NoPermission");
    assert_eq!(by_alice[1]["requestParameters"]["UserName"], "bob");
    assert_eq!(by_alice[2]["errorCode"], "EntityAlreadyExists.User");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_present_is_true_only_in_sessions_that_passed_mfa() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    user_with_password(&s, &root, "alice").await;
    let policy = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:ListUsers",
        "Resource":"*","Condition":{"Bool":{"acs:MFAPresent":"true"}}}]}"#;
    s.call(
        &root,
        "CreatePolicy",
        &[("PolicyName", "ListWithMfa"), ("PolicyDocument", policy)],
    )
    .await
    .ok();
    s.call(
        &root,
        "AttachPolicyToUser",
        &[
            ("PolicyType", "Custom"),
            ("PolicyName", "ListWithMfa"),
            ("UserName", "alice"),
        ],
    )
    .await
    .ok();
    let logon = format!("alice@{}", root.account_id);
    let mut b = Browser::new(&s);
    b.sign_in(&logon, PASSWORD).await;
    let refused = b.send("GET", "/console/users", &[]).await;
    assert_eq!(refused.status, 403);
    assert!(
        refused.body.contains("did not pass MFA"),
        "{}",
        refused.body
    );

    // Self-service binding (AllowUserToManageMFADevices is on by default).
    let (seed, name) = bind_mfa_on_console(&s, &mut b, &root.account_id).await;
    sign_out(&mut b).await;
    s.clock.advance(Duration::from_secs(60));
    b.sign_in(&logon, PASSWORD).await;
    let form = b.send("GET", "/login/mfa", &[]).await;
    let now = u64::try_from(s.clock.now().unix_secs()).unwrap();
    let code = totp_at(&seed, &root.account_id, &name, now);
    let done = b
        .send(
            "POST",
            "/login/mfa",
            &[("csrf", &form.csrf()), ("code", &code)],
        )
        .await;
    assert_eq!(done.location.as_deref(), Some("/console"), "{}", done.body);
    let allowed = b.send("GET", "/console/users", &[]).await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    // The user's own device shows in RAM as bound to alice.
    let info = s
        .call(&root, "GetUserMFAInfo", &[("UserName", "alice")])
        .await
        .ok();
    assert!(info["MFADevice"]["SerialNumber"]
        .as_str()
        .unwrap()
        .ends_with(&format!("mfa/{name}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_access_keys_follow_the_security_preference() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    user_with_password(&s, &root, "alice").await;
    let mut b = Browser::new(&s);
    b.sign_in(&format!("alice@{}", root.account_id), PASSWORD)
        .await;
    let keys = b.send("GET", "/console/keys", &[]).await;
    // Listing one's own keys is not self-service by default either.
    assert_eq!(keys.status, 403, "{}", keys.body);
    let csrf = keys.csrf();
    let refused = b
        .send("POST", "/console/keys/create", &[("csrf", &csrf)])
        .await;
    assert_eq!(refused.status, 403);
    let listed = s
        .call(&root, "ListAccessKeys", &[("UserName", "alice")])
        .await
        .ok();
    assert_eq!(
        listed["AccessKeys"]["AccessKey"].as_array().unwrap().len(),
        0
    );

    s.call(
        &root,
        "SetSecurityPreference",
        &[("AllowUserToManageAccessKeys", "true")],
    )
    .await
    .ok();
    let created = b
        .send("POST", "/console/keys/create", &[("csrf", &csrf)])
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let secret_at = created.body.find("<code id=\"new-key-secret\">").unwrap() + 26;
    let secret = &created.body[secret_at..secret_at + 30];
    assert!(
        secret.bytes().all(|c| c.is_ascii_alphanumeric()),
        "{secret}"
    );
    let id_at = created.body.find("<code id=\"new-key-id\">").unwrap() + 22;
    let id = created.body[id_at..id_at + 24].to_owned();
    assert!(id.starts_with("LTAI"));
    // Shown once: the list page never shows it again.
    let again = b.send("GET", "/console/keys", &[]).await;
    assert!(again.body.contains(&id) && !again.body.contains(secret));

    let disable = b
        .send(
            "POST",
            "/console/keys/status",
            &[("csrf", &csrf), ("key", &id), ("status", "Inactive")],
        )
        .await;
    assert_eq!(disable.location.as_deref(), Some("/console/keys"));
    let listed = s
        .call(&root, "ListAccessKeys", &[("UserName", "alice")])
        .await
        .ok();
    assert_eq!(listed["AccessKeys"]["AccessKey"][0]["Status"], "Inactive");
    let delete = b
        .send(
            "POST",
            "/console/keys/delete",
            &[("csrf", &csrf), ("key", &id)],
        )
        .await;
    assert_eq!(delete.location.as_deref(), Some("/console/keys"));
    let listed = s
        .call(&root, "ListAccessKeys", &[("UserName", "alice")])
        .await
        .ok();
    assert_eq!(
        listed["AccessKeys"]["AccessKey"].as_array().unwrap().len(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_form_needs_its_csrf_token() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let account = rampart_model::AccountId::parse(&root.account_id).unwrap();
    rampart_api::console::set_root_password(&s.store, &account, PASSWORD, s.clock.now())
        .await
        .unwrap();
    let mut b = Browser::new(&s);
    b.sign_in(&root.account_id, PASSWORD).await;
    let before = s.call(&root, "ListUsers", &[]).await.ok()["Users"].clone();
    let forms: [(&str, &[(&str, &str)]); 13] = [
        (
            "/console/password",
            &[
                ("old", PASSWORD),
                ("new", "Xx-123456789"),
                ("confirm", "Xx-123456789"),
            ],
        ),
        ("/console/mfa/new", &[]),
        (
            "/console/mfa/bind",
            &[("code1", "000000"), ("code2", "000000")],
        ),
        ("/console/mfa/unbind", &[]),
        ("/console/keys/create", &[]),
        (
            "/console/keys/status",
            &[("key", &root.key_id), ("status", "Inactive")],
        ),
        ("/console/keys/delete", &[("key", &root.key_id)]),
        ("/console/users", &[("name", "forged")]),
        ("/console/groups", &[("name", "forged")]),
        ("/console/roles", &[("name", "forged"), ("document", "{}")]),
        (
            "/console/policies",
            &[("name", "forged"), ("document", "{}")],
        ),
        (
            "/console/attach",
            &[
                ("kind", "user"),
                ("name", "x"),
                ("policy", "ReadOnlyAccess"),
            ],
        ),
        (
            "/console/detach",
            &[
                ("kind", "user"),
                ("name", "x"),
                ("policy", "ReadOnlyAccess"),
            ],
        ),
    ];
    for (path, fields) in forms {
        for csrf in [None, Some("forged-token")] {
            let mut form: Vec<(&str, &str)> = fields.to_vec();
            if let Some(token) = csrf {
                form.push(("csrf", token));
            }
            let page = b.send("POST", path, &form).await;
            assert_eq!(page.status, 403, "{path} {csrf:?}: {}", page.body);
            assert!(page.body.contains("Nothing was done."));
        }
    }
    assert_eq!(s.call(&root, "ListUsers", &[]).await.ok()["Users"], before);
    // The root key still works (not disabled or deleted), and the password is unchanged.
    sign_out(&mut b).await;
    let page = b.sign_in(&root.account_id, PASSWORD).await;
    assert_eq!(page.location.as_deref(), Some("/console"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactive_logons_and_expired_initial_passwords_refuse_and_mandatory_mfa_asks_to_bind() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    for name in ["alice", "bob", "carol"] {
        user_with_password(&s, &root, name).await;
    }
    let ims = |action: &'static str, params: Vec<(&'static str, String)>| {
        let s = &s;
        let root = &root;
        async move {
            let mut all: Vec<(&str, &str)> = vec![("Version", "2019-08-15")];
            all.extend(params.iter().map(|(k, v)| (*k, v.as_str())));
            s.call(root, action, &all).await.ok()
        }
    };
    let upn = |name: &str| format!("{name}@{}.onaliyun.com", root.account_id);
    // IMS's Status=Inactive turns console logon off.
    ims(
        "UpdateLoginProfile",
        vec![
            ("UserPrincipalName", upn("alice")),
            ("Status", "Inactive".into()),
        ],
    )
    .await;
    let mut b = Browser::new(&s);
    let page = b.sign_in(&upn("alice"), PASSWORD).await;
    assert_eq!(page.status, 401);
    assert!(
        page.body.contains("Console sign-in is disabled"),
        "{}",
        page.body
    );
    // …but a wrong password still reads as a wrong password.
    let page = b.sign_in(&upn("alice"), "Wrong-Password-1").await;
    assert!(page
        .body
        .contains("The logon name or password is incorrect."));

    // An administrator's (initial) password expires after InitialPasswordAge days.
    ims(
        "SetPasswordPolicy",
        vec![("InitialPasswordAge", "1".into())],
    )
    .await;
    s.clock.advance(Duration::from_secs(86_400));
    let page = b.sign_in(&upn("bob"), PASSWORD).await;
    assert_eq!(page.status, 401);
    assert!(
        page.body.contains("initial password has expired"),
        "{}",
        page.body
    );

    // MFAOperationForLogin=mandatory: no device, so binding one comes first.
    ims(
        "SetPasswordPolicy",
        vec![("InitialPasswordAge", "0".into())],
    )
    .await;
    ims(
        "SetSecurityPreference",
        vec![("MFAOperationForLogin", "mandatory".into())],
    )
    .await;
    let page = b.sign_in(&upn("carol"), PASSWORD).await;
    assert_eq!(
        page.location.as_deref(),
        Some("/login/mfa/bind"),
        "{}",
        page.body
    );
    let events = sign_in_events(&s, &root.account_id).await;
    assert_eq!(
        codes(&events),
        [
            "LoginProfileInactive",
            "InvalidPassword",
            "InitialPasswordExpired"
        ]
    );
}

/// Creates and binds a virtual MFA device to `user` through the API; returns its seed.
async fn bind_device(s: &Server, root: &Client, user: &str, device: &str) -> String {
    let created = s
        .call(
            root,
            "CreateVirtualMFADevice",
            &[("VirtualMFADeviceName", device)],
        )
        .await
        .ok();
    let seed = created["VirtualMFADevice"]["Base32StringSeed"]
        .as_str()
        .unwrap()
        .to_owned();
    let serial = created["VirtualMFADevice"]["SerialNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = u64::try_from(s.clock.now().unix_secs()).unwrap();
    s.call(
        root,
        "BindMFADevice",
        &[
            ("UserName", user),
            ("SerialNumber", &serial),
            (
                "AuthenticationCode1",
                &totp_at(&seed, &root.account_id, device, now - 30),
            ),
            (
                "AuthenticationCode2",
                &totp_at(&seed, &root.account_id, device, now),
            ),
        ],
    )
    .await
    .ok();
    seed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remembered_browser_skips_mfa_for_seven_days_when_the_account_allows() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    user_with_password(&s, &root, "alice").await;
    let seed = bind_device(&s, &root, "alice", "alice-phone").await;
    s.clock.advance(Duration::from_secs(60));
    let logon = format!("alice@{}", root.account_id);
    let first = seed.clone();
    let code = |s: &Server| {
        totp_at(
            &first,
            &root.account_id,
            "alice-phone",
            u64::try_from(s.clock.now().unix_secs()).unwrap(),
        )
    };

    // Off by default: no offer to remember.
    let mut b = Browser::new(&s);
    b.sign_in(&logon, PASSWORD).await;
    let form = b.send("GET", "/login/mfa", &[]).await;
    assert!(!form.body.contains("id=\"remember\""));

    s.call(
        &root,
        "SetSecurityPreference",
        &[("EnableSaveMFATicket", "true")],
    )
    .await
    .ok();
    let form = b.send("GET", "/login/mfa", &[]).await;
    assert!(form.body.contains("Remember this browser for 7 days"));
    let done = b
        .send(
            "POST",
            "/login/mfa",
            &[
                ("csrf", &form.csrf()),
                ("code", &code(&s)),
                ("remember", "on"),
            ],
        )
        .await;
    assert_eq!(done.location.as_deref(), Some("/console"), "{}", done.body);
    let ticket = b
        .last_set_cookies
        .iter()
        .find(|c| c.starts_with("rampart_mfa_ticket="))
        .unwrap()
        .clone();
    assert!(ticket.contains("HttpOnly") && ticket.contains("Max-Age=604800"));
    sign_out(&mut b).await;

    // The same browser, later: straight in, and the session counts as MFA.
    s.clock.advance(Duration::from_secs(3 * 86_400));
    let page = b.sign_in(&logon, PASSWORD).await;
    assert_eq!(page.location.as_deref(), Some("/console"), "{}", page.body);
    assert!(b
        .send("GET", "/console", &[])
        .await
        .body
        .contains("<span id=\"mfa\">yes</span>"));
    sign_out(&mut b).await;

    // Another browser, or an altered ticket, is asked for the code.
    let mut other = Browser::new(&s);
    let page = other.sign_in(&logon, PASSWORD).await;
    assert_eq!(page.location.as_deref(), Some("/login/mfa"));
    let mut forged = Browser::new(&s);
    let value = b.cookies["rampart_mfa_ticket"].clone();
    let flipped = if value.ends_with('A') { "B" } else { "A" };
    forged.cookies.insert(
        "rampart_mfa_ticket".into(),
        format!("{}{flipped}", &value[..value.len() - 1]),
    );
    let page = forged.sign_in(&logon, PASSWORD).await;
    assert_eq!(page.location.as_deref(), Some("/login/mfa"));

    // Turning the preference off stops honouring tickets.
    s.call(
        &root,
        "SetSecurityPreference",
        &[("EnableSaveMFATicket", "false")],
    )
    .await
    .ok();
    let page = b.sign_in(&logon, PASSWORD).await;
    assert_eq!(page.location.as_deref(), Some("/login/mfa"));
    s.call(
        &root,
        "SetSecurityPreference",
        &[("EnableSaveMFATicket", "true")],
    )
    .await
    .ok();

    // Another device voids it.
    s.call(&root, "UnbindMFADevice", &[("UserName", "alice")])
        .await
        .ok();
    let seed = bind_device(&s, &root, "alice", "alice-new-phone").await;
    let page = b.sign_in(&logon, PASSWORD).await;
    assert_eq!(page.location.as_deref(), Some("/login/mfa"));

    // And seven days end it.
    s.clock.advance(Duration::from_secs(60));
    let form = b.send("GET", "/login/mfa", &[]).await;
    let now = u64::try_from(s.clock.now().unix_secs()).unwrap();
    let code = totp_at(&seed, &root.account_id, "alice-new-phone", now);
    let done = b
        .send(
            "POST",
            "/login/mfa",
            &[("csrf", &form.csrf()), ("code", &code), ("remember", "on")],
        )
        .await;
    assert_eq!(done.location.as_deref(), Some("/console"), "{}", done.body);
    sign_out(&mut b).await;
    s.clock.advance(Duration::from_secs(6 * 86_400));
    let page = b.sign_in(&logon, PASSWORD).await;
    assert_eq!(
        page.location.as_deref(),
        Some("/console"),
        "day 6: still remembered"
    );
    sign_out(&mut b).await;
    s.clock.advance(Duration::from_secs(86_400));
    let page = b.sign_in(&logon, PASSWORD).await;
    assert_eq!(
        page.location.as_deref(),
        Some("/login/mfa"),
        "day 7: asked again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_codes_are_accepted_one_step_either_way_and_once() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    user_with_password(&s, &root, "alice").await;
    let seed = bind_device(&s, &root, "alice", "alice-phone").await;
    s.clock.advance(Duration::from_secs(300));
    let logon = format!("alice@{}", root.account_id);
    let now = u64::try_from(s.clock.now().unix_secs()).unwrap();
    let at = |secs: u64| totp_at(&seed, &root.account_id, "alice-phone", secs);
    let mut b = Browser::new(&s);
    b.sign_in(&logon, PASSWORD).await;
    let form = b.send("GET", "/login/mfa", &[]).await;
    let csrf = form.csrf();
    // Two steps off either way: refused (the clock skew a device may have is one step).
    for code in [at(now - 60), at(now + 60), "12345".to_owned()] {
        let page = b
            .send("POST", "/login/mfa", &[("csrf", &csrf), ("code", &code)])
            .await;
        assert_eq!(page.status, 401, "{code}");
    }
    // One step behind: accepted.
    let done = b
        .send(
            "POST",
            "/login/mfa",
            &[("csrf", &csrf), ("code", &at(now - 30))],
        )
        .await;
    assert_eq!(done.location.as_deref(), Some("/console"), "{}", done.body);
    // One step ahead works too, once: a second sign-in with the same code is a replay.
    sign_out(&mut b).await;
    b.sign_in(&logon, PASSWORD).await;
    let form = b.send("GET", "/login/mfa", &[]).await;
    let ahead = at(now + 30);
    let ok = b
        .send(
            "POST",
            "/login/mfa",
            &[("csrf", &form.csrf()), ("code", &ahead)],
        )
        .await;
    assert_eq!(ok.location.as_deref(), Some("/console"), "{}", ok.body);
    sign_out(&mut b).await;
    b.sign_in(&logon, PASSWORD).await;
    let form = b.send("GET", "/login/mfa", &[]).await;
    let replay = b
        .send(
            "POST",
            "/login/mfa",
            &[("csrf", &form.csrf()), ("code", &ahead)],
        )
        .await;
    assert_eq!(replay.status, 401);
}
