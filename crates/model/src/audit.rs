//! The audit trail's records, and the hash chain that makes each account's trail
//! tamper-evident.
//!
//! An event is kept as the JSON text ActionTrail would deliver (`body`), plus copies of the
//! fields searches filter on. The text is what the chain hashes, byte for byte as stored, so
//! no canonical form is needed; the copies are checked against the text on verification, so
//! editing a column to hide an event from searches is caught too.
//!
//! Each account's events are numbered 1, 2, 3… in the order they were sealed into its chain,
//! and link `n` carries `SHA-256(domain ‖ account ‖ n ‖ hash of link n-1 ‖ body)`. Editing,
//! deleting, moving or inserting an event breaks a link or the count, and
//! [`ChainVerifier`] names the event where it breaks.

use std::fmt;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::Timestamp;

/// The hash before an account's first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Separates this use of SHA-256 from any other, and versions the link format.
const DOMAIN: &[u8] = b"rampart-audit-chain-v1\n";

/// One event as the store keeps it: the body, and the fields searches filter on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub event_id: String,
    /// The account whose trail holds the event (ActionTrail's `recipientAccountId`).
    pub account_id: String,
    /// Millisecond precision; the body's `eventTime` has whole seconds.
    pub event_time: Timestamp,
    pub event_name: String,
    /// `Read` or `Write`.
    pub event_rw: String,
    pub service_name: String,
    /// The caller's name as the `User` lookup attribute matches it.
    pub user_name: String,
    /// Empty when the call was not signed with a key.
    pub access_key_id: String,
    pub source_ip: String,
    /// Empty for a successful call.
    pub error_code: String,
    /// `(type, name)` pairs from `referencedResources`.
    pub resources: Vec<(String, String)>,
    /// The event's JSON text.
    pub body: String,
}

/// Why a body cannot be an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an audit event: {0}")]
pub struct AuditBodyError(String);

impl AuditRecord {
    /// The record of an event body, every search field taken from the body itself, and
    /// `event_time` from `at` (which the body's `eventTime` must match to the second).
    pub fn from_event(event: &Value, at: Timestamp) -> Result<Self, AuditBodyError> {
        let body = serde_json::to_string(event).map_err(|e| AuditBodyError(e.to_string()))?;
        let fields = BodyFields::read(event)?;
        if fields.event_time != at.unix_secs() {
            return Err(AuditBodyError(
                "eventTime differs from the record's time".into(),
            ));
        }
        Ok(Self {
            event_id: fields.event_id,
            account_id: fields.account_id,
            event_time: at,
            event_name: fields.event_name,
            event_rw: fields.event_rw,
            service_name: fields.service_name,
            user_name: fields.user_name,
            access_key_id: fields.access_key_id,
            source_ip: fields.source_ip,
            error_code: fields.error_code,
            resources: fields.resources,
            body,
        })
    }

    /// Whether every search field agrees with the body: what verification requires of a
    /// stored record.
    pub fn columns_match_body(&self) -> bool {
        let Ok(event) = serde_json::from_str::<Value>(&self.body) else {
            return false;
        };
        let Ok(fields) = BodyFields::read(&event) else {
            return false;
        };
        let mut resources = self.resources.clone();
        resources.sort();
        fields.event_id == self.event_id
            && fields.account_id == self.account_id
            && fields.event_time == self.event_time.unix_secs()
            && fields.event_name == self.event_name
            && fields.event_rw == self.event_rw
            && fields.service_name == self.service_name
            && fields.user_name == self.user_name
            && fields.access_key_id == self.access_key_id
            && fields.source_ip == self.source_ip
            && fields.error_code == self.error_code
            && fields.resources == resources
    }
}

/// The search fields as the body states them.
struct BodyFields {
    event_id: String,
    account_id: String,
    event_time: i64,
    event_name: String,
    event_rw: String,
    service_name: String,
    user_name: String,
    access_key_id: String,
    source_ip: String,
    error_code: String,
    /// Sorted.
    resources: Vec<(String, String)>,
}

impl BodyFields {
    fn read(event: &Value) -> Result<Self, AuditBodyError> {
        let text = |path: &[&str]| -> String {
            let mut v = event;
            for p in path {
                match v.get(p) {
                    Some(next) => v = next,
                    None => return String::new(),
                }
            }
            v.as_str().unwrap_or_default().to_owned()
        };
        let event_id = text(&["eventId"]);
        if event_id.is_empty() {
            return Err(AuditBodyError("no eventId".into()));
        }
        let account_id = text(&["recipientAccountId"]);
        if account_id.is_empty() {
            return Err(AuditBodyError("no recipientAccountId".into()));
        }
        let event_time = Timestamp::parse(&text(&["eventTime"]))
            .map_err(|_| AuditBodyError("eventTime is not a time".into()))?
            .unix_secs();
        let resources = referenced_resources(event);
        Ok(Self {
            event_id,
            account_id,
            event_time,
            event_name: text(&["eventName"]),
            event_rw: text(&["eventRW"]),
            service_name: text(&["serviceName"]),
            user_name: text(&["userIdentity", "userName"]),
            access_key_id: text(&["userIdentity", "accessKeyId"]),
            source_ip: text(&["sourceIpAddress"]),
            error_code: text(&["errorCode"]),
            resources,
        })
    }
}

/// The `(type, name)` pairs of an event's `referencedResources`, sorted.
pub fn referenced_resources(event: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(map) = event.get("referencedResources").and_then(Value::as_object) {
        for (kind, names) in map {
            for name in names.as_array().into_iter().flatten() {
                out.push((kind.clone(), name.as_str().unwrap_or_default().to_owned()));
            }
        }
    }
    out.sort();
    out
}

/// The hash of link `seq` of `account_id`'s chain, in lower-case hex.
pub fn chain_hash(account_id: &str, seq: i64, prev_hash: &str, body: &str) -> String {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(account_id.as_bytes());
    h.update(b"\n");
    h.update(seq.to_string().as_bytes());
    h.update(b"\n");
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(body.as_bytes());
    let digest = h.finalize();
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// One link as stored, with its event as stored (`None`: the event row is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainRow {
    pub seq: i64,
    pub event_id: String,
    pub prev_hash: String,
    pub hash: String,
    pub event: Option<AuditRecord>,
}

/// Where an account's chain stands: `seq`/`hash` of its last link, and `base_seq`/`base_hash`
/// of the last link removed by retention (0 and [`GENESIS_HASH`] if none was).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub account_id: String,
    pub base_seq: i64,
    pub base_hash: String,
    pub seq: i64,
    pub hash: String,
}

/// What verification found wrong, each naming the event concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainProblem {
    /// The event's text (or its position) is not what its link sealed.
    Altered { seq: i64, event_id: String },
    /// The link is there, its event is not.
    EventDeleted { seq: i64, event_id: String },
    /// Links numbered `from..=to` are gone.
    LinksMissing { from: i64, to: i64 },
    /// The link does not follow from the one before it.
    LinkBroken { seq: i64, event_id: String },
    /// The search columns disagree with the event's text.
    ColumnsEdited { seq: i64, event_id: String },
    /// The event is sealed under another event's link or account.
    Misplaced { seq: i64, event_id: String },
    /// The chain ends before its head says it does.
    Truncated { last_seq: i64, head_seq: i64 },
    /// An event that is neither sealed nor waiting to be: written around the server.
    Unchained { event_id: String },
}

impl fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainProblem::Altered { seq, event_id } => write!(
                f,
                "event {event_id} (#{seq}) was altered or moved: its text does not match its link"
            ),
            ChainProblem::EventDeleted { seq, event_id } => {
                write!(f, "event {event_id} (#{seq}) was deleted")
            }
            ChainProblem::LinksMissing { from, to } if from == to => {
                write!(f, "event #{from} was deleted together with its link")
            }
            ChainProblem::LinksMissing { from, to } => {
                write!(f, "events #{from}..#{to} were deleted together with their links")
            }
            ChainProblem::LinkBroken { seq, event_id } => write!(
                f,
                "event {event_id} (#{seq}) does not follow the event before it: the chain was reordered or rewritten there"
            ),
            ChainProblem::ColumnsEdited { seq, event_id } => write!(
                f,
                "event {event_id} (#{seq}) has search fields that disagree with its text"
            ),
            ChainProblem::Misplaced { seq, event_id } => write!(
                f,
                "event {event_id} (#{seq}) is sealed under a link that names another event or account"
            ),
            ChainProblem::Truncated { last_seq, head_seq } => write!(
                f,
                "the trail ends at #{last_seq} but #{head_seq} events were sealed: the last ones were deleted"
            ),
            ChainProblem::Unchained { event_id } => write!(
                f,
                "event {event_id} is in no chain and not waiting to be sealed: it was written around Rampart"
            ),
        }
    }
}

/// Checks one account's chain, link by link in `seq` order; feed it every stored link
/// after `head.base_seq`.
#[derive(Debug)]
pub struct ChainVerifier {
    head: ChainHead,
    next_seq: i64,
    prev_hash: String,
    checked: u64,
    problems: Vec<ChainProblem>,
}

/// One account's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub account_id: String,
    /// Links checked.
    pub checked: u64,
    pub problems: Vec<ChainProblem>,
}

impl ChainVerifier {
    pub fn new(head: ChainHead) -> Self {
        Self {
            next_seq: head.base_seq + 1,
            prev_hash: head.base_hash.clone(),
            head,
            checked: 0,
            problems: Vec::new(),
        }
    }

    pub fn check(&mut self, row: &ChainRow) {
        self.checked += 1;
        if row.seq > self.next_seq {
            self.problems.push(ChainProblem::LinksMissing {
                from: self.next_seq,
                to: row.seq - 1,
            });
        }
        let named = |seq: i64| (seq, row.event_id.clone());
        // A link whose own hash is right but whose predecessor differs was re-pointed.
        if row.prev_hash != self.prev_hash {
            let (seq, event_id) = named(row.seq);
            self.problems
                .push(ChainProblem::LinkBroken { seq, event_id });
        }
        match &row.event {
            None => {
                let (seq, event_id) = named(row.seq);
                self.problems
                    .push(ChainProblem::EventDeleted { seq, event_id });
            }
            Some(event) => {
                let (seq, event_id) = named(row.seq);
                if event.event_id != row.event_id || event.account_id != self.head.account_id {
                    self.problems
                        .push(ChainProblem::Misplaced { seq, event_id });
                } else if chain_hash(&self.head.account_id, row.seq, &row.prev_hash, &event.body)
                    != row.hash
                {
                    self.problems.push(ChainProblem::Altered { seq, event_id });
                } else if !event.columns_match_body() {
                    self.problems
                        .push(ChainProblem::ColumnsEdited { seq, event_id });
                }
            }
        }
        self.next_seq = row.seq + 1;
        self.prev_hash = row.hash.clone();
    }

    /// The verdict, given the account's events that are in no chain and not queued for one.
    pub fn finish(mut self, unchained: Vec<String>) -> ChainReport {
        let last_seq = self.next_seq - 1;
        if last_seq < self.head.seq {
            self.problems.push(ChainProblem::Truncated {
                last_seq,
                head_seq: self.head.seq,
            });
        } else if last_seq == self.head.seq && self.prev_hash != self.head.hash {
            // The last link was rewritten after sealing.
            self.problems.push(ChainProblem::Truncated {
                last_seq,
                head_seq: self.head.seq,
            });
        }
        for event_id in unchained {
            self.problems.push(ChainProblem::Unchained { event_id });
        }
        ChainReport {
            account_id: self.head.account_id,
            checked: self.checked,
            problems: self.problems,
        }
    }
}

/// The links that continue `head`'s chain over `events` (already in sealing order), and the
/// new head.
pub fn seal<'a>(
    head: &ChainHead,
    events: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> (Vec<(i64, String, String, String)>, ChainHead) {
    let mut seq = head.seq;
    let mut prev = head.hash.clone();
    let mut links = Vec::new();
    for (event_id, body) in events {
        seq += 1;
        let hash = chain_hash(&head.account_id, seq, &prev, body);
        links.push((seq, event_id.to_owned(), prev, hash.clone()));
        prev = hash;
    }
    let new_head = ChainHead {
        seq,
        hash: prev,
        ..head.clone()
    };
    (links, new_head)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(n: i64) -> AuditRecord {
        let at = Timestamp::from_unix_secs(1_700_000_000 + n).unwrap();
        let event = json!({
            "eventId": format!("E-{n}"),
            "recipientAccountId": "1000000000000001",
            "eventTime": at.to_string(),
            "eventName": "CreateUser",
            "eventRW": "Write",
            "serviceName": "Ram",
            "userIdentity": {"userName": "root", "accessKeyId": "LTAIxxxx"},
            "sourceIpAddress": "127.0.0.1",
            "referencedResources": {"ACS::RAM::User": [format!("u{n}")]},
        });
        AuditRecord::from_event(&event, at).unwrap()
    }

    fn head() -> ChainHead {
        ChainHead {
            account_id: "1000000000000001".into(),
            base_seq: 0,
            base_hash: GENESIS_HASH.into(),
            seq: 0,
            hash: GENESIS_HASH.into(),
        }
    }

    /// Five sealed events, as the store would return them, and the head after them.
    fn chain() -> (Vec<ChainRow>, ChainHead) {
        let records: Vec<AuditRecord> = (1..=5).map(record).collect();
        let (links, new_head) = seal(
            &head(),
            records
                .iter()
                .map(|r| (r.event_id.as_str(), r.body.as_str())),
        );
        let rows = links
            .into_iter()
            .zip(records)
            .map(|((seq, event_id, prev_hash, hash), r)| ChainRow {
                seq,
                event_id,
                prev_hash,
                hash,
                event: Some(r),
            })
            .collect();
        (rows, new_head)
    }

    fn verify(rows: &[ChainRow], head: ChainHead) -> Vec<ChainProblem> {
        let mut v = ChainVerifier::new(head);
        for r in rows {
            v.check(r);
        }
        v.finish(Vec::new()).problems
    }

    #[test]
    fn an_intact_chain_verifies() {
        let (rows, head) = chain();
        assert_eq!(verify(&rows, head), vec![]);
    }

    #[test]
    fn an_edited_body_is_named() {
        let (mut rows, head) = chain();
        let e = rows[2].event.as_mut().unwrap();
        e.body = e.body.replace("CreateUser", "DeleteUser");
        assert_eq!(
            verify(&rows, head),
            vec![ChainProblem::Altered {
                seq: 3,
                event_id: "E-3".into()
            }]
        );
    }

    #[test]
    fn an_edited_search_column_is_named() {
        let (mut rows, head) = chain();
        rows[1].event.as_mut().unwrap().user_name = "someone-else".into();
        assert_eq!(
            verify(&rows, head),
            vec![ChainProblem::ColumnsEdited {
                seq: 2,
                event_id: "E-2".into()
            }]
        );
    }

    #[test]
    fn a_deleted_event_is_named_with_or_without_its_link() {
        let (mut rows, head) = chain();
        rows[3].event = None;
        assert_eq!(
            verify(&rows, head.clone()),
            vec![ChainProblem::EventDeleted {
                seq: 4,
                event_id: "E-4".into()
            }]
        );
        let (mut rows, head) = chain();
        rows.remove(1);
        let problems = verify(&rows, head);
        assert_eq!(
            problems[0],
            ChainProblem::LinksMissing { from: 2, to: 2 },
            "{problems:?}"
        );
        assert!(problems.contains(&ChainProblem::LinkBroken {
            seq: 3,
            event_id: "E-3".into()
        }));
    }

    #[test]
    fn swapped_events_are_named() {
        // Two events' texts swapped between their links: what reordering rows looks like.
        let (mut rows, head) = chain();
        let a = rows[1].event.take();
        rows[1].event = rows[2].event.take();
        rows[2].event = a;
        let problems = verify(&rows, head);
        assert_eq!(
            problems,
            vec![
                ChainProblem::Misplaced {
                    seq: 2,
                    event_id: "E-2".into()
                },
                ChainProblem::Misplaced {
                    seq: 3,
                    event_id: "E-3".into()
                }
            ]
        );
        // The links themselves renumbered, each keeping its event.
        let (mut rows, head) = chain();
        rows.swap(1, 2);
        rows[1].seq = 2;
        rows[2].seq = 3;
        let problems = verify(&rows, head);
        assert!(
            problems.contains(&ChainProblem::Altered {
                seq: 2,
                event_id: "E-3".into()
            }),
            "{problems:?}"
        );
    }

    #[test]
    fn deleting_the_last_events_is_seen_through_the_head() {
        let (mut rows, head) = chain();
        rows.truncate(3);
        assert_eq!(
            verify(&rows, head),
            vec![ChainProblem::Truncated {
                last_seq: 3,
                head_seq: 5
            }]
        );
    }

    #[test]
    fn a_retention_base_continues_the_chain() {
        let (rows, head) = chain();
        let base = ChainHead {
            base_seq: 2,
            base_hash: rows[1].hash.clone(),
            ..head
        };
        assert_eq!(verify(&rows[2..], base), vec![]);
    }

    #[test]
    fn unchained_events_are_named() {
        let (rows, head) = chain();
        let mut v = ChainVerifier::new(head);
        for r in &rows {
            v.check(r);
        }
        let report = v.finish(vec!["E-forged".into()]);
        assert_eq!(
            report.problems,
            vec![ChainProblem::Unchained {
                event_id: "E-forged".into()
            }]
        );
        assert_eq!(report.checked, 5);
    }

    #[test]
    fn a_record_takes_its_fields_from_the_body() {
        let r = record(7);
        assert_eq!(r.event_id, "E-7");
        assert_eq!(r.user_name, "root");
        assert_eq!(
            r.resources,
            vec![("ACS::RAM::User".to_owned(), "u7".to_owned())]
        );
        assert!(r.columns_match_body());
        let late = Timestamp::from_unix_secs(1).unwrap();
        let event: Value = serde_json::from_str(&r.body).unwrap();
        assert!(AuditRecord::from_event(&event, late).is_err());
    }
}
