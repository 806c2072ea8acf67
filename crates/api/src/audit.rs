//! The audit trail as the dispatcher writes it: one ActionTrail-shaped event per call whose
//! account is known, allowed or refused.
//!
//! A call that changes something gets its event inside the change's own transaction (the
//! handler's store is bound to an [`AuditSlot`]); any other call's event is appended by
//! [`AuditWriter`] in a batch shared with concurrent calls, and the response waits for that
//! commit, so every answered call has its event on disk. [`Sealer`] links events into their
//! account's hash chain in the background and applies the retention setting.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use rampart_model::{AuditRecord, Timestamp};
use rampart_store::{NonceSpend, NonceUse, Store, StoreError};
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, oneshot};

use crate::call::Principal;
use crate::nonce::{one_each, reply_all};
use crate::product::Product;

/// Audit settings.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// Events older than this are deleted (sealed ones only). `None`: kept forever.
    pub retention: Option<Duration>,
    /// How often unsealed events are linked into their chains.
    pub seal_interval: Duration,
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            // ActionTrail's own event history covers 90 days.
            retention: Some(Duration::from_secs(90 * 86_400)),
            seal_interval: Duration::from_millis(200),
        }
    }
}

/// Parameter names whose values never reach the trail. Matched case-insensitively as
/// substrings, so `NewPassword` and `SAMLAssertion` are caught by their stems.
const SECRET_PARAMS: &[&str] = &[
    "password",
    "secret",
    "token",
    "assertion",
    "authenticationcode",
    "privatekey",
    "signature",
];

const REDACTED: &str = "******";

fn is_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_PARAMS.iter().any(|s| lower.contains(s))
}

/// `requestParameters`: the call's business parameters (the protocol's are left out, as
/// ActionTrail does: [`rampart_wire::ClassifiedRequest::business_params`]), secrets masked.
pub(crate) fn request_parameters<'a>(params: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    let mut out = Map::new();
    for (name, value) in params {
        let value = if is_secret(name) { REDACTED } else { value };
        out.insert(name.to_owned(), Value::String(value.to_owned()));
    }
    Value::Object(out)
}

/// A response body with every secret-named member masked, for `responseElements`.
pub(crate) fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if is_secret(k) && v.is_string() {
                        Value::String(REDACTED.to_owned())
                    } else {
                        redact(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// `referencedResources` from the ARNs the call was authorized on.
fn referenced_resources(arns: &[String]) -> Value {
    let mut out: Map<String, Value> = Map::new();
    for arn in arns {
        // acs:<service>:<region>:<account>:<kind>/<name>
        let mut parts = arn.splitn(5, ':');
        let (Some("acs"), Some(service), _, _, Some(resource)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            continue;
        };
        let Some((kind, name)) = resource.split_once('/') else {
            continue;
        };
        if name.is_empty() || name == "*" {
            continue;
        }
        let kind = match kind {
            "user" => "User",
            "group" => "Group",
            "role" => "Role",
            "policy" => "Policy",
            "mfa" => "VirtualMFADevice",
            "oidc-provider" => "OIDCProvider",
            "saml-provider" => "SAMLProvider",
            _ => kind,
        };
        let key = format!("ACS::{}::{kind}", service.to_ascii_uppercase());
        let names = out.entry(key).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = names {
            let name = Value::String(name.to_owned());
            if !list.contains(&name) {
                list.push(name);
            }
        }
    }
    Value::Object(out)
}

/// ActionTrail's `eventRW`.
fn read_or_write(action: &str) -> &'static str {
    if is_read(action) {
        "Read"
    } else {
        "Write"
    }
}

/// Whether an action only reads, by its name as ActionTrail's `eventRW` tells them apart.
/// The dispatcher runs such calls before spending their nonce, on a store handle that
/// refuses writes, so an action misnamed here fails loudly instead of being replayable.
pub(crate) fn is_read(action: &str) -> bool {
    const READS: &[&str] = &[
        "Get", "List", "Lookup", "Decode", "Describe", "Query", "Noop",
    ];
    READS.iter().any(|p| action.starts_with(p))
}

/// `userIdentity`, and the name the `User` lookup attribute matches.
fn user_identity(principal: &Principal, access_key_id: &str, params: &Value) -> (Value, String) {
    match principal {
        Principal::Root { account_id } => (
            json!({
                "type": "root-account",
                "principalId": account_id.as_str(),
                "accountId": account_id.as_str(),
                "accessKeyId": access_key_id,
                "userName": "root",
            }),
            "root".to_owned(),
        ),
        Principal::User {
            account_id,
            user_id,
            user_name,
        } => (
            json!({
                "type": "ram-user",
                "principalId": user_id.as_str(),
                "accountId": account_id.as_str(),
                "accessKeyId": access_key_id,
                "userName": user_name,
            }),
            user_name.clone(),
        ),
        Principal::AssumedRole {
            account_id,
            session,
        } => {
            let name = format!("{}:{}", session.role_name, session.session_name);
            let created = Timestamp::from_unix_secs(session.issued_at)
                .map(|t| t.to_string())
                .unwrap_or_default();
            (
                json!({
                    "type": "assumed-role",
                    "principalId": format!("{}:{}", session.role_id, session.session_name),
                    "accountId": account_id.as_str(),
                    "accessKeyId": access_key_id,
                    "userName": name,
                    "sessionContext": {
                        "attributes": {
                            "mfaAuthenticated": session.mfa.to_string(),
                            "creationDate": created,
                        },
                        "sessionIssuer": {
                            "type": "role",
                            "principalId": session.role_id,
                            "arn": format!("acs:ram::{account_id}:role/{}", session.role_name),
                            "accountId": account_id.as_str(),
                            "userName": session.role_name,
                        },
                    },
                }),
                name,
            )
        }
        Principal::Federated {
            account_id,
            provider_arn,
        } => (
            json!({
                "type": "federated",
                "principalId": provider_arn,
                "accountId": account_id.as_str(),
                "userName": provider_arn,
            }),
            provider_arn.clone(),
        ),
        Principal::Anonymous => {
            // Federated sign-in before its assertion is trusted: named by its provider.
            let provider = ["SAMLProviderArn", "OIDCProviderArn"]
                .iter()
                .find_map(|p| params.get(*p).and_then(Value::as_str))
                .unwrap_or_default()
                .to_owned();
            let kind = if params.get("SAMLProviderArn").is_some() {
                "saml-user"
            } else {
                "oidc-user"
            };
            (
                json!({
                    "type": kind,
                    "principalId": provider,
                    "userName": provider,
                }),
                provider,
            )
        }
    }
}

/// What the dispatcher knows of a call when it writes the call's event.
pub(crate) struct CallFacts<'a> {
    pub event_id: &'a str,
    pub request_id: &'a str,
    /// The trail it goes to.
    pub account_id: &'a str,
    pub now: Timestamp,
    pub product: &'static Product,
    pub action: &'a str,
    pub principal: &'a Principal,
    pub access_key_id: &'a str,
    pub source_ip: Option<IpAddr>,
    pub user_agent: &'a str,
    pub request_parameters: &'a Value,
    pub resources: &'a [String],
}

/// The event, and its record.
pub(crate) fn record(
    facts: &CallFacts<'_>,
    error: Option<(&str, &str)>,
    response: Option<Value>,
) -> Result<AuditRecord, rampart_model::AuditBodyError> {
    let (identity, _) = user_identity(
        facts.principal,
        facts.access_key_id,
        facts.request_parameters,
    );
    let mut event = json!({
        "eventId": facts.event_id,
        "eventVersion": 1,
        "eventTime": facts.now.to_string(),
        "eventName": facts.action,
        "eventType": "ApiCall",
        "eventRW": read_or_write(facts.action),
        "eventCategory": "Management",
        "eventSource": facts.product.host,
        "serviceName": facts.product.name,
        "apiVersion": facts.product.version,
        "recipientAccountId": facts.account_id,
        "userIdentity": identity,
        "sourceIpAddress": facts.source_ip.map(|ip| ip.to_string()).unwrap_or_default(),
        "userAgent": facts.user_agent,
        "requestId": facts.request_id,
        "requestParameters": facts.request_parameters,
        "referencedResources": referenced_resources(facts.resources),
    });
    if let Some(map) = event.as_object_mut() {
        if let Some((code, message)) = error {
            map.insert("errorCode".into(), Value::String(code.to_owned()));
            map.insert("errorMessage".into(), Value::String(message.to_owned()));
        }
        if let Some(response) = response {
            map.insert("responseElements".into(), response);
        }
    }
    AuditRecord::from_event(&event, facts.now)
}

/// The most events one transaction appends.
const MAX_BATCH: usize = 512;

struct Pending {
    record: Option<AuditRecord>,
    /// The nonce of a call that ran before spending it.
    nonce: Option<NonceSpend>,
    now: Timestamp,
    reply: oneshot::Sender<Result<NonceUse, StoreError>>,
}

/// Appends the events of calls that changed nothing, many per transaction, and spends in
/// the same transaction the nonces of the calls that ran before spending theirs.
#[derive(Clone)]
pub struct AuditWriter {
    tx: mpsc::Sender<Pending>,
}

impl std::fmt::Debug for AuditWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditWriter")
    }
}

impl AuditWriter {
    /// Starts the task on the current tokio runtime. It ends when every handle is dropped.
    /// Nonces are remembered for `nonce_ttl`.
    pub fn start(store: Arc<dyn Store>, nonce_ttl: Duration) -> Self {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(write_batches(store, nonce_ttl, rx));
        Self { tx }
    }

    /// Returns once the event is committed.
    pub async fn append(&self, record: AuditRecord) -> Result<(), StoreError> {
        self.send(Some(record), None, Timestamp::UNIX_EPOCH)
            .await
            .map(|_| ())
    }

    /// Spends a call's nonce and, if it was fresh, appends the call's event in the same
    /// transaction; returns once that is committed. A replayed nonce, or one whose key is
    /// not as the call assumed, writes nothing.
    pub async fn spend_and_append(
        &self,
        nonce: NonceSpend,
        record: Option<AuditRecord>,
        now: Timestamp,
    ) -> Result<NonceUse, StoreError> {
        self.send(record, Some(nonce), now).await
    }

    async fn send(
        &self,
        record: Option<AuditRecord>,
        nonce: Option<NonceSpend>,
        now: Timestamp,
    ) -> Result<NonceUse, StoreError> {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Unavailable("audit writer stopped".to_owned());
        let pending = Pending {
            record,
            nonce,
            now,
            reply,
        };
        self.tx.send(pending).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn write_batches(
    store: Arc<dyn Store>,
    nonce_ttl: Duration,
    mut rx: mpsc::Receiver<Pending>,
) {
    let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // One time for the batch: the latest, so no nonce expires earlier than its own
        // request's time would have made it.
        let now = batch
            .iter()
            .map(|p| p.now)
            .max()
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let mut nonces: Vec<NonceSpend> = Vec::new();
        let mut events: Vec<(Option<usize>, AuditRecord)> = Vec::with_capacity(batch.len());
        let mut positions: Vec<Option<usize>> = Vec::with_capacity(batch.len());
        for p in &mut batch {
            let position = p.nonce.take().map(|n| {
                nonces.push(n);
                nonces.len() - 1
            });
            if let Some(record) = p.record.take() {
                events.push((position, record));
            }
            positions.push(position);
        }
        let answers = store
            .spend_nonces_and_append(&nonces, events, now, nonce_ttl)
            .await
            .and_then(|uses| one_each(uses, nonces.len()))
            .map(|uses| {
                positions
                    .iter()
                    .map(|position| {
                        position
                            .and_then(|i| uses.get(i).copied())
                            .unwrap_or(NonceUse::Fresh)
                    })
                    .collect()
            });
        reply_all(batch.drain(..).map(|p| p.reply), answers);
    }
}

/// Links events into their chains every `seal_interval`, or sooner while there are events to
/// seal if the store asks for it ([`rampart_store::AuditRepo::busy_seal_interval`]); hourly,
/// applies retention and deletes expired console sessions.
/// Every node runs one; they take turns through the store.
pub(crate) fn start_sealer(
    store: Arc<dyn Store>,
    clock: Arc<dyn rampart_model::Clock>,
    options: AuditOptions,
) {
    tokio::spawn(async move {
        let busy = store
            .busy_seal_interval()
            .map_or(options.seal_interval, |b| b.min(options.seal_interval));
        // When a run last found events: for one usual interval after that the sealer keeps
        // the busy pace, so a lull of a few milliseconds between events does not send it
        // back to the long one.
        let mut last_found: Option<std::time::Instant> = None;
        let mut last_purge: Option<std::time::Instant> = None;
        loop {
            // Drain what accumulated; a failure (database away) is retried next time.
            loop {
                match store.seal_audit_events(SEAL_BATCH).await {
                    Ok(n) => {
                        if n > 0 {
                            last_found = Some(std::time::Instant::now());
                        }
                        if n < u64::from(SEAL_BATCH) {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "sealing audit events failed; retrying");
                        break;
                    }
                }
            }
            if last_purge.is_none_or(|t| t.elapsed() >= PURGE_EVERY) {
                last_purge = Some(std::time::Instant::now());
                let now = clock.now();
                if let Some(retention) = options.retention {
                    if let Err(e) = store
                        .purge_audit_events(now.saturating_sub(retention))
                        .await
                    {
                        tracing::warn!(error = %e, "audit retention purge failed");
                    }
                }
                // Expired console sessions nobody came back to.
                if let Err(e) = store.purge_console_sessions(now).await {
                    tracing::warn!(error = %e, "purging expired console sessions failed");
                }
            }
            let busy_lately = last_found.is_some_and(|t| t.elapsed() < options.seal_interval);
            tokio::time::sleep(if busy_lately {
                busy
            } else {
                options.seal_interval
            })
            .await;
        }
    });
}

// Small, and the loop drains a backlog anyway: a seal holds the SQLite writer briefly, and on
// PostgreSQL the rows it reads (bodies included) pass through a pooled connection's buffers,
// which keep their largest size — at 5,000 a batch the two-minute soak's RSS grew 15-18 %,
// at 200 under 8 %.
const SEAL_BATCH: u32 = 200;
const PURGE_EVERY: Duration = Duration::from_secs(3600);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked() {
        let params = [
            ("UserName", "alice"),
            ("Password", "Hunter2!x"),
            ("SAMLAssertion", "PHNhbWw+"),
            ("AuthenticationCode1", "123456"),
        ];
        let v = request_parameters(params.into_iter());
        assert_eq!(
            v,
            json!({"UserName": "alice", "Password": "******", "SAMLAssertion": "******",
                   "AuthenticationCode1": "******"})
        );
        let body = json!({"Credentials": {"AccessKeyId": "STS.x", "AccessKeySecret": "s",
                          "SecurityToken": "t"}});
        assert_eq!(
            redact(&body),
            json!({"Credentials": {"AccessKeyId": "STS.x", "AccessKeySecret": "******",
                   "SecurityToken": "******"}})
        );
    }

    #[test]
    fn resources_are_named_as_actiontrail_does() {
        let v = referenced_resources(&[
            "acs:ram::123:user/alice".into(),
            "acs:ram::123:policy/ReadOnly".into(),
            "acs:ram::123:user/alice".into(),
            "acs:ram::123:role/*".into(),
            "*".into(),
        ]);
        assert_eq!(
            v,
            json!({"ACS::RAM::User": ["alice"], "ACS::RAM::Policy": ["ReadOnly"]})
        );
    }
}
