//! The audit trail's storage: events, their per-account hash chains, and searches.
//!
//! A change and its event commit together: the dispatcher hands a call's handler a store
//! bound to an [`AuditSlot`] ([`AuditRepo::audited`]), and the first write transaction that
//! store commits writes the slot's event in the same transaction. Events of calls that
//! changed nothing (reads, refusals, failures) are appended in batches. Either way an event
//! first lands unsealed; [`AuditRepo::seal_audit_events`] later links it into its account's
//! chain.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rampart_model::{AuditRecord, ChainHead, ChainRow, Timestamp};

use crate::error::StoreError;
use crate::repo::Store;

/// The event of one call in progress, waiting for the call's first committed change.
#[derive(Debug, Default)]
pub struct AuditSlot {
    state: Mutex<SlotState>,
}

#[derive(Debug, Default)]
struct SlotState {
    pending: Option<AuditRecord>,
    recorded: bool,
}

impl AuditSlot {
    pub fn new(record: AuditRecord) -> Self {
        Self {
            state: Mutex::new(SlotState {
                pending: Some(record),
                recorded: false,
            }),
        }
    }

    /// Whether a committed transaction carried the event.
    pub fn recorded(&self) -> bool {
        self.state.lock().map(|s| s.recorded).unwrap_or(false)
    }

    /// The event for a transaction about to commit, if none carried it yet. Give it back
    /// with [`AuditSlot::settle`].
    pub(crate) fn take(&self) -> Option<AuditRecord> {
        let mut state = self.state.lock().ok()?;
        if state.recorded {
            return None;
        }
        state.pending.take()
    }

    /// After the commit that carried `record`: whether it committed.
    pub(crate) fn settle(&self, record: AuditRecord, committed: bool) {
        if let Ok(mut state) = self.state.lock() {
            if committed {
                state.recorded = true;
            } else {
                state.pending = Some(record);
            }
        }
    }
}

/// Which events a search wants. Strings match exactly; `None` matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// `None`: every account (operators' offline searches).
    pub account_id: Option<String>,
    /// Inclusive.
    pub start: Option<Timestamp>,
    /// Inclusive.
    pub end: Option<Timestamp>,
    pub event_id: Option<String>,
    pub event_name: Option<String>,
    pub event_rw: Option<String>,
    pub service_name: Option<String>,
    pub user_name: Option<String>,
    pub access_key_id: Option<String>,
    pub source_ip: Option<String>,
    pub resource_type: Option<String>,
    pub resource_name: Option<String>,
    /// Continue after this event (as [`AuditEventRow::cursor`] gave it).
    pub after: Option<AuditCursor>,
    /// Oldest first (`tail`), else newest first (`LookupEvents`).
    pub oldest_first: bool,
    /// At most this many, 1..=1000.
    pub limit: u32,
}

/// A position in the trail: the event's time and its insertion number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditCursor {
    pub event_time_millis: i64,
    pub pk: i64,
}

/// One event found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEventRow {
    pub cursor: AuditCursor,
    pub record: AuditRecord,
}

#[async_trait]
pub trait AuditRepo: Send + Sync {
    /// This store, with every write transaction it commits also writing `slot`'s event,
    /// once.
    fn audited(&self, slot: Arc<AuditSlot>) -> Arc<dyn Store>;

    /// Appends events in one transaction, unsealed. Event ids are not checked for
    /// uniqueness (request ids are random; an index on them would cost a random page write
    /// per event).
    async fn append_audit_events(&self, records: &[AuditRecord]) -> Result<(), StoreError>;

    /// This store, refusing every write with [`StoreError::Internal`]: the handle of a call
    /// that runs before its nonce is spent, which is safe only because it changes nothing.
    fn read_only(&self) -> Arc<dyn Store>;

    /// For calls that ran before spending their nonce (reads): spends each nonce as
    /// [`crate::NonceRepo::use_nonces`] does and, in the same transaction, appends each event
    /// `(Some(i), record)` whose nonce `i` was fresh and each `(None, record)`. Nothing of a
    /// replayed call is written. Answers in `nonces`' order; an `i` out of range is an error
    /// and writes nothing.
    ///
    /// A nonce with a [`crate::KeyAssumption`] is spent only if its key's current state
    /// bears it out; otherwise it is answered [`crate::NonceUse::KeyChanged`], and neither it
    /// nor its event is written.
    async fn spend_nonces_and_append(
        &self,
        nonces: &[crate::NonceSpend],
        events: Vec<(Option<usize>, AuditRecord)>,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<Vec<crate::NonceUse>, StoreError>;

    /// Links up to `max` unsealed events, oldest first, into their accounts' chains, in one
    /// transaction; returns how many. Safe to run on several nodes at once: they take turns.
    async fn seal_audit_events(&self, max: u32) -> Result<u64, StoreError>;

    /// How soon to seal again after a run that found events to seal, if sooner than the
    /// sealer's usual interval suits this store better. `None`: the usual interval.
    fn busy_seal_interval(&self) -> Option<Duration> {
        None
    }

    async fn search_audit_events(
        &self,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEventRow>, StoreError>;

    /// Every account's chain head, in account order.
    async fn audit_heads(&self) -> Result<Vec<ChainHead>, StoreError>;

    /// Up to `limit` links of `account_id`'s chain after `after_seq`, in order, each with its
    /// event as stored.
    async fn audit_chain(
        &self,
        account_id: &str,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<ChainRow>, StoreError>;

    /// Accounts with events, in order: those without a head have never been sealed.
    async fn audit_accounts(&self) -> Result<Vec<String>, StoreError>;

    /// `account_id`'s events that are in no chain and not waiting to be sealed, and how many
    /// are waiting.
    async fn audit_unchained(&self, account_id: &str) -> Result<(Vec<String>, u64), StoreError>;

    /// Deletes the sealed events older than `before`, moving each account's chain base past
    /// them; returns how many. Unsealed events are kept whatever their age.
    async fn purge_audit_events(&self, before: Timestamp) -> Result<u64, StoreError>;

    /// When the key last signed a call, by the trail.
    async fn access_key_last_used(
        &self,
        access_key_id: &str,
    ) -> Result<Option<Timestamp>, StoreError>;
}
