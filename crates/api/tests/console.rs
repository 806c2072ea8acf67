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
use rampart_store::{AuditQuery, AuditRepo};
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
        let mut raw = RawRequest::new(method, path, "");
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
async fn mfa_bind_required_without_a_device_refuses_clearly() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    s.call(&root, "CreateUser", &[("UserName", "bob")])
        .await
        .ok();
    s.call(
        &root,
        "CreateLoginProfile",
        &[
            ("UserName", "bob"),
            ("Password", PASSWORD),
            ("MFABindRequired", "true"),
        ],
    )
    .await
    .ok();
    let mut b = Browser::new(&s);
    let page = b
        .sign_in(&format!("bob@{}", root.account_id), PASSWORD)
        .await;
    assert_eq!(page.status, 401);
    assert!(page.body.contains("An MFA device must be bound"));
    assert_eq!(
        codes(&sign_in_events(&s, &root.account_id).await),
        ["MFABindRequired"]
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
        &[("MaxPasswordAge", "30"), ("HardExpiry", "true")],
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
