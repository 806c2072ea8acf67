//! Console sign-in at `/login`: a RAM user's logon name and password, then its MFA code
//! when a device is bound, then a console session. Server-rendered HTML, no scripts.
//!
//! What a sign-in enforces: the security preference's `LoginNetworkMasks`, the password
//! policy's `MaxLoginAttemps` (failures are counted from the audit trail, per user and clock
//! hour, and lock the user for the rest of the hour), the password (argon2id; an unknown
//! account or user costs the same hashing work as a wrong password), `MFABindRequired`, and
//! TOTP codes (±1 step, each at most once). Every attempt is an audit event
//! (`ConsoleSignin`); a success commits with its event, the new session and the user's
//! `LastLoginDate` in one transaction.
//!
//! Sessions: a random 256-bit token in an HttpOnly, SameSite=Lax cookie (Secure under TLS),
//! stored only as its SHA-256; a new token at every step, so a token planted before sign-in
//! never becomes a session; absolute expiry after `LoginSessionDuration` hours and idle
//! expiry after an hour (or less); every form carries a CSRF token.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use rampart_model::{AccountId, AuditRecord, Timestamp};
use rampart_store::{
    AuditSlot, ConsoleSession, SessionIdentity, SessionStage, StoreError, TotpUse,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::dispatch::Api;

mod enrol;
mod pages;
mod root;
mod saml;
mod ticket;

use crate::http::{HttpRequest, HttpResponse};
use crate::ram::people::{password_policy_of, security_preference_of, verify_password};
use crate::state::State;
pub use root::{set_root_password, RootPasswordError};

const ONALIYUN: &str = ".onaliyun.com";
const SESSION_COOKIE: &str = "rampart_session";
const LOGIN_COOKIE: &str = "rampart_login";
/// How long a password that passed waits for its MFA code.
const MFA_WINDOW: Duration = Duration::from_secs(300);
/// How long a user who must bind a device has to scan it and enter two codes.
const BIND_WINDOW: Duration = Duration::from_secs(900);
const MAX_IDLE: Duration = Duration::from_secs(3600);
/// Touch a session's idle clock at most this often (a write per page view is waste).
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// Answers the console's paths; `None` for any other path.
pub async fn route(api: &Api, req: &HttpRequest) -> Option<HttpResponse> {
    let state = api.state();
    // The per-address limit covers the console's forms too: otherwise guessing passwords for
    // many users from one address would only ever meet each user's own lockout.
    if req.raw.method == "POST" && is_console_path(&req.raw.path) {
        if let (Some(limiter), Some(ip)) = (&state.ip_limiter, req.source_ip) {
            if let Err(t) = limiter.take(&ip.to_string(), state.clock.now()) {
                let mut response = page(
                    429,
                    "Too many requests",
                    "<p role=\"alert\" class=\"error\">Too many requests from your address. \
                     Wait a moment and try again.</p>",
                    Vec::new(),
                );
                response
                    .headers
                    .push(("retry-after", t.retry_after_ms.div_ceil(1000).to_string()));
                return Some(response);
            }
        }
    }
    if let Some(response) = pages::route(api, req).await {
        return Some(response);
    }
    if let Some(response) = saml::route(api, req).await {
        return Some(response);
    }
    let method = req.raw.method.as_str();
    let response = match (method, req.raw.path.as_str()) {
        ("GET", "/login") => login_page(state, req, None).await,
        ("POST", "/login") => post_login(state, req).await,
        ("GET", "/login/mfa") => mfa_page(state, req, None).await,
        ("GET", "/login/mfa/bind") => enrol::get(api, req).await,
        ("POST", "/login/mfa/bind") => enrol::post(api, req).await,
        ("POST", "/login/mfa") => post_mfa(state, req).await,
        ("GET", "/login/password") => password_page(state, req, None).await,
        ("POST", "/login/password") => post_password(state, req).await,
        ("POST", "/logout") => post_logout(state, req).await,
        (_, "/login" | "/login/mfa" | "/login/mfa/bind" | "/login/password" | "/logout") => page(
            405,
            "Not allowed",
            "<p>That method is not used here.</p>",
            Vec::new(),
        ),
        _ => return None,
    };
    Some(response)
}

fn is_console_path(path: &str) -> bool {
    ["/login", "/logout", "/console", "/saml-role/"]
        .iter()
        .any(|p| path.starts_with(p))
}

// ---------------------------------------------------------------------------------------
// HTTP details

fn cookie<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.raw
        .header_values("cookie")
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

fn form(req: &HttpRequest) -> Vec<(String, String)> {
    let body = String::from_utf8_lossy(&req.raw.body);
    body.split('&')
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

fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

fn random_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Internal(e.to_string()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn set_cookie(req: &HttpRequest, name: &str, value: &str, max_age: Option<Duration>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if req.secure {
        c.push_str("; Secure");
    }
    match max_age {
        Some(age) => c.push_str(&format!("; Max-Age={}", age.as_secs())),
        None => c.push_str("; Max-Age=0"),
    }
    c
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn security_headers() -> Vec<(&'static str, String)> {
    vec![
        ("cache-control", "no-store".to_owned()),
        ("x-frame-options", "DENY".to_owned()),
        ("x-content-type-options", "nosniff".to_owned()),
        ("referrer-policy", "no-referrer".to_owned()),
        (
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; \
             frame-ancestors 'none'"
                .to_owned(),
        ),
    ]
}

fn page(status: u16, title: &str, body: &str, cookies: Vec<String>) -> HttpResponse {
    let mut headers = security_headers();
    headers.extend(cookies.into_iter().map(|c| ("set-cookie", c)));
    HttpResponse {
        status,
        content_type: "text/html; charset=utf-8",
        body: format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{} · Rampart</title><style>body{{font-family:system-ui,sans-serif;\
             max-width:48rem;margin:2rem auto;padding:0 1rem}}label{{display:block;\
             margin-top:1rem}}input,textarea,select{{font-size:1rem;padding:.4rem;width:100%;\
             box-sizing:border-box}}button{{margin-top:1.2rem;font-size:1rem;padding:.5rem 1.2rem}}\
             form.inline{{display:inline}}form.inline button{{margin-top:0}}\
             label.inline{{display:inline}}input[type=radio]{{width:auto}}\
             nav{{margin-bottom:1rem}}table{{border-collapse:collapse;width:100%;margin:1rem 0}}\
             td,th{{border-bottom:1px solid #ccc;padding:.3rem;text-align:left}}\
             .ok{{color:#060;border-left:4px solid #060;padding-left:.6rem}}\
             .error{{color:#a00;border-left:4px solid #a00;padding-left:.6rem}}</style>\
             </head><body><main>\n<h1>{}</h1>\n{body}\n</main></body></html>\n",
            escape(title),
            escape(title)
        ),
        headers,
    }
}

fn redirect(to: &str, cookies: Vec<String>) -> HttpResponse {
    let mut headers = security_headers();
    headers.push(("location", to.to_owned()));
    headers.extend(cookies.into_iter().map(|c| ("set-cookie", c)));
    HttpResponse {
        status: 303,
        content_type: "text/plain; charset=utf-8",
        body: String::new(),
        headers,
    }
}

fn unavailable() -> HttpResponse {
    page(
        503,
        "Service unavailable",
        "<p role=\"alert\" class=\"error\">Sign-in is unavailable right now. Try again shortly.</p>",
        Vec::new(),
    )
}

fn error_block(message: Option<&str>) -> String {
    message
        .map(|m| format!("<p role=\"alert\" class=\"error\">{}</p>", escape(m)))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Sessions

/// The session the request's cookie names, if it is current and at `stage`.
async fn current_session(
    state: &State,
    req: &HttpRequest,
    stage: SessionStage,
    now: Timestamp,
) -> Result<Option<(String, ConsoleSession)>, StoreError> {
    let Some(token) = cookie(req, SESSION_COOKIE) else {
        return Ok(None);
    };
    let hash = token_hash(token);
    let Some(session) = state.store.get_console_session(&hash).await? else {
        return Ok(None);
    };
    let idle_since = now.duration_since(session.last_seen).unwrap_or_default();
    if now >= session.expires_at || idle_since >= session.idle {
        state.store.delete_console_session(&hash).await?;
        return Ok(None);
    }
    if session.stage != stage {
        return Ok(None);
    }
    if stage == SessionStage::Active && idle_since >= TOUCH_EVERY {
        state.store.touch_console_session(&hash, now).await?;
    }
    Ok(Some((hash, session)))
}

/// The current session at `stage`, or the page to answer instead: back to sign-in, or
/// unavailable. The cookie is left alone: it may name a session at another step.
async fn require_session(
    state: &State,
    req: &HttpRequest,
    stage: SessionStage,
) -> Result<(String, ConsoleSession), HttpResponse> {
    match current_session(state, req, stage, state.clock.now()).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(redirect("/login", Vec::new())),
        Err(_) => Err(unavailable()),
    }
}

// ---------------------------------------------------------------------------------------
// Pages

async fn login_page(state: &Arc<State>, req: &HttpRequest, error: Option<&str>) -> HttpResponse {
    let now = state.clock.now();
    if error.is_none() {
        if let Ok(Some(_)) = current_session(state, req, SessionStage::Active, now).await {
            return redirect("/console", Vec::new());
        }
    }
    // Login CSRF: the form's token must come back with the cookie that carries it.
    let Ok(csrf) = random_token() else {
        return unavailable();
    };
    let body = format!(
        "{}<form method=\"post\" action=\"/login\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"logon\">Logon name (user@account alias or ID)</label>\
         <input id=\"logon\" name=\"logon\" autocomplete=\"username\" required autofocus>\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Sign in</button></form>",
        error_block(error)
    );
    let status = if error.is_some() { 401 } else { 200 };
    page(
        status,
        "Sign in",
        &body,
        vec![set_cookie(
            req,
            LOGIN_COOKIE,
            &csrf,
            Some(Duration::from_secs(3600)),
        )],
    )
}

async fn mfa_page(state: &Arc<State>, req: &HttpRequest, error: Option<&str>) -> HttpResponse {
    let (_, session) = match require_session(state, req, SessionStage::Mfa).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let remember = if tickets_allowed(state, &session).await {
        "<label class=\"inline\"><input type=\"checkbox\" id=\"remember\" name=\"remember\" \
         value=\"on\"> Remember this browser for 7 days</label>"
    } else {
        ""
    };
    let body = format!(
        "{}<p>Enter the 6-digit code from the MFA device of {}.</p>\
         <form method=\"post\" action=\"/login/mfa\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label for=\"code\">Authentication code</label>\
         <input id=\"code\" name=\"code\" inputmode=\"numeric\" pattern=\"[0-9]{{6}}\" \
         autocomplete=\"one-time-code\" required autofocus>{remember}\
         <button type=\"submit\">Verify</button></form>",
        error_block(error),
        escape(&session.user_name),
        escape(&session.csrf)
    );
    page(
        if error.is_some() { 401 } else { 200 },
        "MFA",
        &body,
        Vec::new(),
    )
}

/// Whether the session's account lets a browser remember its MFA (`EnableSaveMFATicket`).
async fn tickets_allowed(state: &State, session: &ConsoleSession) -> bool {
    security_preference_of(state.store.as_ref(), &session.account_id)
        .await
        .is_ok_and(|p| p.enable_save_mfa_ticket)
}

async fn post_logout(state: &Arc<State>, req: &HttpRequest) -> HttpResponse {
    let now = state.clock.now();
    let form = form(req);
    let (hash, session) = match require_session(state, req, SessionStage::Active).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    if !rampart_wire::constant_time_eq(field(&form, "csrf"), &session.csrf) {
        return page(
            403,
            "Refused",
            "<p role=\"alert\" class=\"error\">The form was not sent from this console. Nothing was done.</p>",
            Vec::new(),
        );
    }
    if state.store.delete_console_session(&hash).await.is_err() {
        return unavailable();
    }
    let facts = Attempt::of(req, &session, now);
    if let Ok(record) = facts.record("ConsoleSignout", session.mfa, None) {
        let _ = state.audit.append(record).await;
    }
    redirect("/login", vec![set_cookie(req, SESSION_COOKIE, "", None)])
}

// ---------------------------------------------------------------------------------------
// Sign-in

/// Who is trying, for the trail.
struct Attempt {
    event_id: String,
    account_id: AccountId,
    user_name: String,
    identity: SessionIdentity,
    source_ip: Option<IpAddr>,
    user_agent: String,
    now: Timestamp,
}

impl Attempt {
    fn new(req: &HttpRequest, account_id: AccountId, user_name: &str, now: Timestamp) -> Self {
        Self {
            event_id: rampart_model::RequestId::generate()
                .map(|id| id.to_string())
                .unwrap_or_default(),
            account_id,
            user_name: user_name.to_owned(),
            identity: SessionIdentity::User,
            source_ip: req.source_ip,
            user_agent: req.raw.header("user-agent").unwrap_or_default().to_owned(),
            now,
        }
    }

    /// For a session: who it is.
    fn of(req: &HttpRequest, session: &ConsoleSession, now: Timestamp) -> Self {
        Self {
            identity: session.identity.clone(),
            ..Self::new(req, session.account_id.clone(), &session.user_name, now)
        }
    }

    /// ActionTrail's `userIdentity` for each kind of console identity.
    fn user_identity(&self) -> Value {
        let account = self.account_id.as_str();
        match &self.identity {
            SessionIdentity::User => json!({
                "type": "ram-user",
                "accountId": account,
                "userName": self.user_name,
            }),
            SessionIdentity::Root => json!({
                "type": "root-account",
                "principalId": account,
                "accountId": account,
                "userName": "root",
            }),
            SessionIdentity::Role {
                role_id,
                role_name,
                provider_arn,
            } => json!({
                "type": "assumed-role",
                "principalId": format!("{role_id}:{}", self.user_name),
                "accountId": account,
                "userName": format!("{role_name}:{}", self.user_name),
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "role",
                        "arn": format!("acs:ram::{account}:role/{role_name}"),
                        "principalId": role_id,
                        "userName": role_name,
                    },
                    "federatedProvider": provider_arn,
                },
            }),
        }
    }

    /// The event: ActionTrail's `ConsoleSignin` / `ConsoleSignout` shape.
    fn record(
        &self,
        name: &str,
        mfa: bool,
        error: Option<(&str, &str)>,
    ) -> Result<AuditRecord, rampart_model::AuditBodyError> {
        let mut event = json!({
            "eventId": self.event_id,
            "eventVersion": 1,
            "eventTime": self.now.to_string(),
            "eventName": name,
            "eventType": if name.starts_with("Console") { name } else { "ConsoleOperation" },
            "eventRW": "Write",
            "eventCategory": "Management",
            "eventSource": "signin.rampart.local",
            "serviceName": "AasSub",
            "recipientAccountId": self.account_id.as_str(),
            "userIdentity": self.user_identity(),
            "sourceIpAddress": self.source_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            "userAgent": self.user_agent,
            "requestId": self.event_id,
            "additionalEventData": {
                "loginAccount": format!("{}@{}", self.user_name, self.account_id),
                "MFAUsed": mfa.to_string(),
            },
        });
        if let (Some((code, message)), Some(map)) = (error, event.as_object_mut()) {
            map.insert("errorCode".into(), Value::String(code.to_owned()));
            map.insert("errorMessage".into(), Value::String(message.to_owned()));
        }
        AuditRecord::from_event(&event, self.now)
    }
}

/// Why a sign-in did not go through: what the person is told, and the trail's code.
struct Refusal {
    shown: String,
    /// `None`: nothing to record (no account to record it in).
    code: Option<&'static str>,
    detail: String,
    metric: &'static str,
}

impl Refusal {
    fn credentials(code: Option<&'static str>, detail: &str) -> Self {
        Self {
            shown: "The logon name or password is incorrect.".to_owned(),
            code,
            detail: detail.to_owned(),
            metric: "invalid_credentials",
        }
    }
}

enum Next {
    /// A password that passed; the MFA page is next. The pending session's token.
    Mfa(String),
    /// A password that passed; binding a required MFA device is next.
    Bind(String),
    /// Password (and MFA) passed; the password must be changed first. The pending session's
    /// token.
    ChangePassword(String),
    /// Signed in. The session's token and lifetime.
    Active(String, Duration),
}

/// The same argon2id work as a real verification, for unknown accounts and users.
fn dummy_verify(password: &str) {
    static HASH: OnceLock<String> = OnceLock::new();
    let hash = HASH.get_or_init(|| {
        crate::ram::people::hash_password("rampart-dummy-password-never-matches")
            .unwrap_or_default()
    });
    let _ = verify_password(password, hash);
}

/// argon2 is tens of milliseconds of CPU: off the async workers. Every call is one argon2id
/// verification, counted, whether or not there was a hash to verify against.
async fn verify_blocking(state: &State, password: String, hash: Option<String>) -> bool {
    state.metrics.password_check();
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => verify_password(&password, &hash),
        None => {
            dummy_verify(&password);
            false
        }
    })
    .await
    .unwrap_or(false)
}

async fn resolve_account(state: &State, domain: &str) -> Option<AccountId> {
    let domain = domain.trim();
    // IMS's default domain form, `<alias or id>.onaliyun.com`.
    let domain = match domain.len().checked_sub(ONALIYUN.len()) {
        Some(cut)
            if domain.is_char_boundary(cut) && domain[cut..].eq_ignore_ascii_case(ONALIYUN) =>
        {
            &domain[..cut]
        }
        _ => domain,
    };
    if domain.len() == 16 && domain.bytes().all(|b| b.is_ascii_digit()) {
        let id = AccountId::parse(domain).ok()?;
        state.store.get_account(&id).await.ok().map(|a| a.id)
    } else {
        state.store.find_account_by_alias(domain).await.ok()
    }
}

fn network_allows(masks: &str, ip: Option<IpAddr>) -> bool {
    let masks: Vec<_> = masks
        .split(';')
        .filter_map(|m| rampart_policy::value::IpNet::parse(m.trim()))
        .collect();
    if masks.is_empty() {
        return true;
    }
    ip.is_some_and(|ip| masks.iter().any(|m| m.contains(ip)))
}

async fn post_login(state: &Arc<State>, req: &HttpRequest) -> HttpResponse {
    let form = form(req);
    let expected = cookie(req, LOGIN_COOKIE).unwrap_or("");
    if expected.is_empty() || !rampart_wire::constant_time_eq(field(&form, "csrf"), expected) {
        return login_page(
            state,
            req,
            Some("The sign-in form expired or was not sent from this site. Please try again."),
        )
        .await;
    }
    let logon = field(&form, "logon").trim().to_owned();
    let password = field(&form, "password").to_owned();
    match sign_in(state, req, &logon, password).await {
        Ok(Next::Mfa(token)) => redirect(
            "/login/mfa",
            vec![
                set_cookie(req, SESSION_COOKIE, &token, Some(MFA_WINDOW)),
                set_cookie(req, LOGIN_COOKIE, "", None),
            ],
        ),
        Ok(Next::Active(token, lifetime)) => redirect(
            "/console",
            vec![
                set_cookie(req, SESSION_COOKIE, &token, Some(lifetime)),
                set_cookie(req, LOGIN_COOKIE, "", None),
            ],
        ),
        Ok(Next::ChangePassword(token)) => redirect(
            "/login/password",
            vec![
                set_cookie(req, SESSION_COOKIE, &token, Some(MFA_WINDOW)),
                set_cookie(req, LOGIN_COOKIE, "", None),
            ],
        ),
        Ok(Next::Bind(token)) => redirect(
            "/login/mfa/bind",
            vec![
                set_cookie(req, SESSION_COOKIE, &token, Some(BIND_WINDOW)),
                set_cookie(req, LOGIN_COOKIE, "", None),
            ],
        ),
        Err(Ok(refusal)) => login_page(state, req, Some(&refusal.shown)).await,
        Err(Err(_)) => unavailable(),
    }
}

/// Records a refusal (when it has an account) and counts it.
async fn refuse(
    state: &State,
    attempt: Option<&Attempt>,
    refusal: Refusal,
) -> Result<Refusal, StoreError> {
    state.metrics.sign_in(refusal.metric);
    if let (Some(attempt), Some(code)) = (attempt, refusal.code) {
        let record = attempt
            .record("ConsoleSignin", false, Some((code, &refusal.detail)))
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        state.audit.append(record).await?;
    }
    Ok(refusal)
}

type Outcome = Result<Next, Result<Refusal, StoreError>>;

async fn sign_in(state: &Arc<State>, req: &HttpRequest, logon: &str, password: String) -> Outcome {
    let now = state.clock.now();
    let store = state.store.as_ref();
    // `user@<alias or id>[.onaliyun.com]` is a RAM user; the alias or id alone is the
    // account's root identity.
    let (user_name, domain) = match logon.rsplit_once('@') {
        Some((user, domain)) => (Some(user), domain),
        None => (None, logon),
    };
    let account = match user_name {
        Some("") => None,
        _ => resolve_account(state, domain).await,
    };
    let Some(account) = account else {
        verify_blocking(state, password, None).await;
        return Err(refuse(state, None, Refusal::credentials(None, "")).await);
    };
    let Some(user_name) = user_name else {
        let attempt = Attempt {
            identity: SessionIdentity::Root,
            ..Attempt::new(req, account, "root", now)
        };
        return sign_in_root(state, req, attempt, password).await;
    };
    let attempt = Attempt::new(req, account.clone(), user_name, now);
    let settings = Settings::load(state, &account).await?;
    let (policy, preference) = (&settings.policy, &settings.preference);
    if !network_allows(&preference.login_network_masks, req.source_ip) {
        let refusal = Refusal {
            shown: "Sign-in to this account is not allowed from your network address.".to_owned(),
            code: Some("LoginNetworkMaskMismatch"),
            detail: format!(
                "{} is outside the account's LoginNetworkMasks",
                req.source_ip.map(|ip| ip.to_string()).unwrap_or_default()
            ),
            metric: "network_refused",
        };
        return Err(refuse(state, Some(&attempt), refusal).await);
    }
    let profile = match store.get_login_profile(&account, user_name).await {
        Ok(p) => Some(p),
        Err(StoreError::NotFound(_)) => None,
        Err(e) => return Err(Err(e)),
    };
    // The user's own letter case, as stored, so "Alice" and "alice" share one count.
    let attempt = match &profile {
        Some(p) => Attempt {
            user_name: p.user_name.clone(),
            ..attempt
        },
        None => attempt,
    };
    if let Some(locked) = lockout(state, &attempt, policy.max_login_attemps)
        .await
        .map_err(Err)?
    {
        return Err(refuse(state, Some(&attempt), locked).await);
    }
    let hash = profile.as_ref().map(|p| p.password_hash.clone());
    if !verify_blocking(state, password, hash).await {
        let refusal = match profile {
            Some(_) => Refusal::credentials(Some("InvalidPassword"), "the password is not correct"),
            None => Refusal::credentials(
                Some("InvalidUser"),
                "no such user, or it has no console logon",
            ),
        };
        return Err(refuse(state, Some(&attempt), refusal).await);
    }
    let Some(profile) = profile else {
        return Err(Err(StoreError::Internal(
            "verified without a profile".into(),
        )));
    };
    // Checked only after the password, so they tell nothing to someone guessing names.
    if !profile.active {
        let refusal = Refusal {
            shown: "Console sign-in is disabled for this user. Ask an administrator.".to_owned(),
            code: Some("LoginProfileInactive"),
            detail: "the login profile's Status is Inactive".to_owned(),
            metric: "disabled",
        };
        return Err(refuse(state, Some(&attempt), refusal).await);
    }
    if policy.password_status(&profile, now) == "InitialExpired" {
        let refusal = Refusal {
            shown: "Your initial password has expired. Ask an administrator to set a new one."
                .to_owned(),
            code: Some("InitialPasswordExpired"),
            detail: format!(
                "the initial password is older than InitialPasswordAge ({} days)",
                policy.initial_password_age
            ),
            metric: "password_expired",
        };
        return Err(refuse(state, Some(&attempt), refusal).await);
    }
    let mfa_required =
        profile.mfa_bind_required || preference.mfa_operation_for_login == "mandatory";
    match store
        .get_user_mfa_device(&account, &profile.user_name)
        .await
    {
        Ok(_) => mfa_step(state, req, &attempt, &settings).await,
        Err(StoreError::NotFound(_)) if mfa_required => {
            pending(
                state,
                &attempt,
                SessionStage::Bind,
                BIND_WINDOW,
                "mfa_bind_required",
            )
            .await
        }
        Err(StoreError::NotFound(_)) => finish(state, &attempt, &settings, false, None).await,
        Err(e) => Err(Err(e)),
    }
}

/// A password that passed, waiting for its MFA code.
async fn pending_mfa(state: &State, attempt: &Attempt) -> Outcome {
    pending(
        state,
        attempt,
        SessionStage::Mfa,
        MFA_WINDOW,
        "mfa_required",
    )
    .await
}

/// A password that passed, waiting for the next step (`Mfa` or `Bind`) under a new token.
async fn pending(
    state: &State,
    attempt: &Attempt,
    stage: SessionStage,
    window: Duration,
    metric: &'static str,
) -> Outcome {
    let token = random_token().map_err(Err)?;
    let pending = ConsoleSession {
        token_hash: token_hash(&token),
        account_id: attempt.account_id.clone(),
        user_name: attempt.user_name.clone(),
        identity: attempt.identity.clone(),
        stage,
        mfa: false,
        csrf: random_token().map_err(Err)?,
        created_at: attempt.now,
        last_seen: attempt.now,
        expires_at: attempt.now.saturating_add(window),
        idle: window,
    };
    state
        .store
        .create_console_session(&pending, None)
        .await
        .map_err(Err)?;
    state.metrics.sign_in(metric);
    Ok(match stage {
        SessionStage::Bind => Next::Bind(token),
        _ => Next::Mfa(token),
    })
}

/// The root identity's sign-in: its own password (set with `rampart account
/// set-root-password` or on the console), then its own MFA device. RAM's password policy and
/// `LoginNetworkMasks` govern RAM users, not the root identity, as in Alibaba; the
/// `MaxLoginAttemps` lockout is applied to it all the same, since nothing else limits
/// guessing here.
async fn sign_in_root(
    state: &Arc<State>,
    req: &HttpRequest,
    attempt: Attempt,
    password: String,
) -> Outcome {
    let store = state.store.as_ref();
    let login = store
        .get_root_login(&attempt.account_id)
        .await
        .map_err(Err)?;
    let settings = Settings::load(state, &attempt.account_id).await?;
    if let Some(locked) = lockout(state, &attempt, settings.policy.max_login_attemps)
        .await
        .map_err(Err)?
    {
        return Err(refuse(state, Some(&attempt), locked).await);
    }
    let hash = login.as_ref().and_then(|l| l.password_hash.clone());
    let has_password = hash.is_some();
    if !verify_blocking(state, password, hash).await {
        let refusal = if has_password {
            Refusal::credentials(Some("InvalidPassword"), "the password is not correct")
        } else {
            Refusal::credentials(
                Some("InvalidUser"),
                "the root identity has no console password",
            )
        };
        return Err(refuse(state, Some(&attempt), refusal).await);
    }
    if login.as_ref().is_some_and(|l| l.mfa.is_some()) {
        return mfa_step(state, req, &attempt, &settings).await;
    }
    finish(state, &attempt, &settings, false, None).await
}

/// A bound device's step: skipped with a current ticket when `EnableSaveMFATicket` is on
/// (the session then counts as having passed MFA: this browser did, with this device).
async fn mfa_step(
    state: &Arc<State>,
    req: &HttpRequest,
    attempt: &Attempt,
    settings: &Settings,
) -> Outcome {
    if settings.preference.enable_save_mfa_ticket {
        let binding = ticket::device_binding(
            state,
            &attempt.identity,
            &attempt.account_id,
            &attempt.user_name,
        )
        .await
        .map_err(Err)?;
        if binding.is_some_and(|b| ticket::honoured(state, req, attempt, &b)) {
            state.metrics.sign_in("mfa_ticket");
            return finish(state, attempt, settings, true, None).await;
        }
    }
    pending_mfa(state, attempt).await
}

/// The account's password policy and security preference, read once per sign-in step and
/// handed on, rather than re-read by every check that needs them.
struct Settings {
    policy: crate::ram::people::PasswordPolicy,
    preference: crate::ram::people::SecurityPreference,
}

impl Settings {
    async fn load(state: &State, account: &AccountId) -> Result<Self, Result<Refusal, StoreError>> {
        let store = state.store.as_ref();
        let unavailable = |_| Err(StoreError::Unavailable("settings".into()));
        Ok(Self {
            policy: password_policy_of(store, account)
                .await
                .map_err(unavailable)?,
            preference: security_preference_of(store, account)
                .await
                .map_err(unavailable)?,
        })
    }
}

/// `Some(refusal)` when the user has used up this hour's attempts.
async fn lockout(
    state: &State,
    attempt: &Attempt,
    max_attempts: i64,
) -> Result<Option<Refusal>, StoreError> {
    if max_attempts <= 0 {
        return Ok(None);
    }
    let secs = attempt.now.unix_secs();
    let hour = Timestamp::from_unix_secs(secs - secs.rem_euclid(3600))
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    let failures = state
        .store
        .count_sign_in_failures(&attempt.account_id, &attempt.user_name, hour)
        .await?;
    if failures < u64::try_from(max_attempts).unwrap_or(u64::MAX) {
        return Ok(None);
    }
    let until = hour.saturating_add(Duration::from_secs(3600));
    Ok(Some(Refusal {
        shown: format!(
            "Too many failed sign-ins: this user is locked until {until} (UTC). Try again then, \
             or ask an administrator."
        ),
        code: Some("LoginLocked"),
        detail: format!("{failures} failed sign-ins this hour; MaxLoginAttemps is {max_attempts}"),
        metric: "locked",
    }))
}

/// The session, with its event and `LastLoginDate`, in one transaction.
async fn complete(
    state: &Arc<State>,
    attempt: &Attempt,
    lifetime: Duration,
    mfa: bool,
    replaces: Option<&str>,
) -> Outcome {
    let now = attempt.now;
    let token = random_token().map_err(Err)?;
    let session = ConsoleSession {
        token_hash: token_hash(&token),
        account_id: attempt.account_id.clone(),
        user_name: attempt.user_name.clone(),
        identity: attempt.identity.clone(),
        stage: SessionStage::Active,
        mfa,
        csrf: random_token().map_err(Err)?,
        created_at: now,
        last_seen: now,
        expires_at: now.saturating_add(lifetime),
        idle: lifetime.min(MAX_IDLE),
    };
    let record = attempt
        .record("ConsoleSignin", mfa, None)
        .map_err(|e| Err(StoreError::Internal(e.to_string())))?;
    let audited = state.store.audited(Arc::new(AuditSlot::new(record)));
    audited
        .complete_sign_in(&session, replaces, now)
        .await
        .map_err(Err)?;
    state.metrics.sign_in("success");
    Ok(Next::Active(token, lifetime))
}

async fn post_mfa(state: &Arc<State>, req: &HttpRequest) -> HttpResponse {
    let form = form(req);
    let (hash, session) = match require_session(state, req, SessionStage::Mfa).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    if !rampart_wire::constant_time_eq(field(&form, "csrf"), &session.csrf) {
        return mfa_page(
            state,
            req,
            Some("The form was not sent from this site. Please try again."),
        )
        .await;
    }
    let outcome = check_mfa(state, req, &hash, &session, field(&form, "code")).await;
    let mut earned = Vec::new();
    if matches!(outcome, Ok(Next::Active(..) | Next::ChangePassword(_)))
        && field(&form, "remember") == "on"
        && tickets_allowed(state, &session).await
    {
        earned.extend(ticket::issue(state, req, &session, state.clock.now()).await);
    }
    match outcome {
        Ok(Next::Active(token, lifetime)) => {
            earned.push(set_cookie(req, SESSION_COOKIE, &token, Some(lifetime)));
            redirect("/console", earned)
        }
        Ok(Next::ChangePassword(token)) => {
            earned.push(set_cookie(req, SESSION_COOKIE, &token, Some(MFA_WINDOW)));
            redirect("/login/password", earned)
        }
        Ok(Next::Mfa(_) | Next::Bind(_)) => unavailable(),
        Err(Ok(refusal)) if refusal.metric == "locked" => {
            let _ = state.store.delete_console_session(&hash).await;
            let mut response = login_page(state, req, Some(&refusal.shown)).await;
            response
                .headers
                .push(("set-cookie", set_cookie(req, SESSION_COOKIE, "", None)));
            response
        }
        Err(Ok(refusal)) => mfa_page(state, req, Some(&refusal.shown)).await,
        Err(Err(_)) => unavailable(),
    }
}

/// A code that matched: the time step it was generated for, and the device's name.
struct MatchedCode {
    step: u64,
    device: String,
}

/// Which TOTP step (±1 around now) of the session's device `code` belongs to, if any. The
/// root identity's device is its own; a user's is the one bound to it in RAM.
async fn totp_step(
    state: &State,
    session: &ConsoleSession,
    code: &str,
    now: Timestamp,
) -> Result<Option<MatchedCode>, StoreError> {
    let (name, serial, sealed) = match &session.identity {
        SessionIdentity::Root => {
            let device = state
                .store
                .get_root_login(&session.account_id)
                .await?
                .and_then(|l| l.mfa)
                .ok_or(StoreError::NotFound(rampart_store::Entity::UserMfaDevice))?;
            ("root".to_owned(), device.serial_number, device.sealed_seed)
        }
        _ => {
            let device = state
                .store
                .get_user_mfa_device(&session.account_id, &session.user_name)
                .await?;
            (device.name, device.serial_number, device.sealed_seed)
        }
    };
    let seed = crate::ram::mfa::open_seed(&state.master_key, &serial, &sealed)
        .map_err(|_| StoreError::Internal("MFA seed does not open".into()))?;
    let totp = crate::ram::mfa::totp(seed, session.account_id.as_str(), &name)
        .map_err(|_| StoreError::Internal("MFA seed is not usable".into()))?;
    let step_now = u64::try_from(now.unix_secs()).unwrap_or(0) / crate::ram::mfa::STEP_SECS;
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    Ok((step_now.saturating_sub(1)..=step_now + 1)
        .find(|s| {
            rampart_wire::constant_time_eq(&totp.generate(s * crate::ram::mfa::STEP_SECS), code)
        })
        .map(|step| MatchedCode { step, device: name }))
}

async fn check_mfa(
    state: &Arc<State>,
    req: &HttpRequest,
    pending: &str,
    session: &ConsoleSession,
    code: &str,
) -> Outcome {
    let now = state.clock.now();
    let attempt = Attempt::of(req, session, now);
    let settings = Settings::load(state, &session.account_id).await?;
    if let Some(locked) = lockout(state, &attempt, settings.policy.max_login_attemps)
        .await
        .map_err(Err)?
    {
        return Err(refuse(state, Some(&attempt), locked).await);
    }
    let wrong = || Refusal {
        shown: "That code is not valid. Enter the current code from the device.".to_owned(),
        code: Some("InvalidMFACode"),
        detail: "the MFA code is not valid or was used before".to_owned(),
        metric: "invalid_mfa_code",
    };
    let Some(step) = totp_step(state, session, code, now).await.map_err(Err)? else {
        return Err(refuse(state, Some(&attempt), wrong()).await);
    };
    let used = match (&session.identity, step) {
        (SessionIdentity::Root, step) => state
            .store
            .use_root_totp_step(&session.account_id, step.step)
            .await
            .map_err(Err)?,
        (_, step) => state
            .store
            .record_totp_use(&session.account_id, &step.device, step.step)
            .await
            .map_err(Err)?,
    };
    if used == TotpUse::Replayed {
        return Err(refuse(state, Some(&attempt), wrong()).await);
    }
    finish(state, &attempt, &settings, true, Some(pending)).await
}

/// After the password (and MFA): a password change first when one is due, else the
/// session.
async fn finish(
    state: &Arc<State>,
    attempt: &Attempt,
    settings: &Settings,
    mfa: bool,
    replaces: Option<&str>,
) -> Outcome {
    if attempt.identity == SessionIdentity::User {
        if let Some(due) =
            password_change_due(state, attempt, &settings.policy, mfa, replaces).await?
        {
            return due;
        }
    }
    complete(
        state,
        attempt,
        session_lifetime(settings.preference.login_session_duration),
        mfa,
        replaces,
    )
    .await
}

/// `LoginSessionDuration` (hours, 1–24) as a session lifetime.
fn session_lifetime(hours: i64) -> Duration {
    Duration::from_secs(u64::try_from(hours.clamp(1, 24)).unwrap_or(6) * 3600)
}

/// A RAM user's password that must change before the session: `Some(outcome)` with the
/// pending change (or the hard-expiry refusal).
async fn password_change_due(
    state: &Arc<State>,
    attempt: &Attempt,
    policy: &crate::ram::people::PasswordPolicy,
    mfa: bool,
    replaces: Option<&str>,
) -> Result<Option<Outcome>, Result<Refusal, StoreError>> {
    let store = state.store.as_ref();
    let profile = store
        .get_login_profile(&attempt.account_id, &attempt.user_name)
        .await
        .map_err(Err)?;
    let expired = if policy.max_password_age > 0 {
        let history = store
            .list_password_history(&attempt.account_id, &attempt.user_name, 1)
            .await
            .map_err(Err)?;
        let set = history
            .first()
            .map(|h| h.set_date)
            .unwrap_or(profile.create_date);
        let max_age =
            Duration::from_secs(u64::try_from(policy.max_password_age).unwrap_or(0) * 86_400);
        attempt.now.duration_since(set).unwrap_or_default() >= max_age
    } else {
        false
    };
    if expired && policy.hard_expiry {
        let refusal = Refusal {
            shown: "Your password has expired. Only an administrator can reset it now.".to_owned(),
            code: Some("PasswordExpired"),
            detail: format!(
                "the password is older than MaxPasswordAge ({} days) and HardExpiry is on",
                policy.max_password_age
            ),
            metric: "password_expired",
        };
        return Ok(Some(Err(refuse(state, Some(attempt), refusal).await)));
    }
    if expired || profile.password_reset_required {
        let token = random_token().map_err(Err)?;
        let pending = ConsoleSession {
            token_hash: token_hash(&token),
            account_id: attempt.account_id.clone(),
            user_name: attempt.user_name.clone(),
            identity: attempt.identity.clone(),
            stage: SessionStage::Password,
            mfa,
            csrf: random_token().map_err(Err)?,
            created_at: attempt.now,
            last_seen: attempt.now,
            expires_at: attempt.now.saturating_add(MFA_WINDOW),
            idle: MFA_WINDOW,
        };
        store
            .create_console_session(&pending, replaces)
            .await
            .map_err(Err)?;
        state.metrics.sign_in("password_change_required");
        return Ok(Some(Ok(Next::ChangePassword(token))));
    }
    Ok(None)
}

async fn password_page(state: &Arc<State>, req: &HttpRequest, error: Option<&str>) -> HttpResponse {
    let (_, session) = match require_session(state, req, SessionStage::Password).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let body = format!(
        "{}<p>The password of {} must be changed before signing in.</p>\
         <form method=\"post\" action=\"/login/password\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label for=\"new\">New password</label>\
         <input id=\"new\" name=\"new\" type=\"password\" autocomplete=\"new-password\" required autofocus>\
         <label for=\"confirm\">New password again</label>\
         <input id=\"confirm\" name=\"confirm\" type=\"password\" autocomplete=\"new-password\" required>\
         <button type=\"submit\">Change password</button></form>",
        error_block(error),
        escape(&session.user_name),
        escape(&session.csrf)
    );
    page(
        if error.is_some() { 400 } else { 200 },
        "Change password",
        &body,
        Vec::new(),
    )
}

async fn post_password(state: &Arc<State>, req: &HttpRequest) -> HttpResponse {
    let now = state.clock.now();
    let form = form(req);
    let (hash, session) = match require_session(state, req, SessionStage::Password).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    if !rampart_wire::constant_time_eq(field(&form, "csrf"), &session.csrf) {
        return password_page(
            state,
            req,
            Some("The form was not sent from this site. Please try again."),
        )
        .await;
    }
    let new = field(&form, "new").to_owned();
    if new != field(&form, "confirm") {
        return password_page(state, req, Some("The two passwords differ.")).await;
    }
    match change_password(state, req, &session, new).await {
        Ok(Err(message)) => password_page(state, req, Some(&message)).await,
        Ok(Ok(())) => {
            let attempt = Attempt::of(req, &session, now);
            let finished = match Settings::load(state, &session.account_id).await {
                Ok(settings) => finish(state, &attempt, &settings, session.mfa, Some(&hash)).await,
                Err(e) => Err(e),
            };
            match finished {
                Ok(Next::Active(token, lifetime)) => redirect(
                    "/console",
                    vec![set_cookie(req, SESSION_COOKIE, &token, Some(lifetime))],
                ),
                Err(Ok(refusal)) => login_page(state, req, Some(&refusal.shown)).await,
                _ => unavailable(),
            }
        }
        Err(_) => unavailable(),
    }
}

/// Sets the new password if the policy allows it: `Ok(Err(why))` when it does not.
async fn change_password(
    state: &Arc<State>,
    req: &HttpRequest,
    session: &ConsoleSession,
    new: String,
) -> Result<Result<(), String>, StoreError> {
    let store = state.store.as_ref();
    let policy = password_policy_of(store, &session.account_id)
        .await
        .map_err(|_| StoreError::Unavailable("settings".into()))?;
    if policy.check(&session.user_name, &new).is_err() {
        return Ok(Err(format!(
            "The new password does not meet the account's password policy: {} to 32 characters{}{}{}{}.",
            policy.minimum_password_length,
            if policy.require_lowercase_characters { ", a lower-case letter" } else { "" },
            if policy.require_uppercase_characters { ", an upper-case letter" } else { "" },
            if policy.require_numbers { ", a digit" } else { "" },
            if policy.require_symbols { ", a symbol" } else { "" },
        )));
    }
    if let Some(keep) = crate::ram::people::reused(
        store,
        &session.account_id,
        &session.user_name,
        &policy,
        &new,
    )
    .await?
    {
        return Ok(Err(format!(
            "The new password must differ from the last {keep} password(s)."
        )));
    }
    let hashed = tokio::task::spawn_blocking(move || crate::ram::people::hash_password(&new))
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))?
        .map_err(|_| StoreError::Internal("cannot hash the password".into()))?;
    let attempt = Attempt::new(
        req,
        session.account_id.clone(),
        &session.user_name,
        state.clock.now(),
    );
    let record = attempt
        .record("ChangePassword", session.mfa, None)
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    let update = rampart_store::LoginProfileUpdate {
        password_hash: Some(hashed),
        password_reset_required: Some(false),
        password_initial: Some(false),
        ..rampart_store::LoginProfileUpdate::default()
    };
    state
        .store
        .audited(Arc::new(AuditSlot::new(record)))
        .update_login_profile(&session.account_id, &session.user_name, update, attempt.now)
        .await?;
    Ok(Ok(()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn network_masks_allow_only_their_addresses() {
        let ip = |s: &str| Some(s.parse().unwrap());
        assert!(network_allows("", ip("10.0.0.1")));
        assert!(network_allows("10.0.0.0/8; 192.168.1.0/24", ip("10.1.2.3")));
        assert!(!network_allows("10.0.0.0/8", ip("127.0.0.1")));
        assert!(!network_allows("10.0.0.0/8", None));
    }
}
