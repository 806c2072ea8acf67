//! Group commit for signature nonces.
//!
//! Every signed request must record its nonce durably before it is served, which on SQLite
//! means a commit and an fsync per request. A call that changes something records it here,
//! before its handler runs; a call that changes nothing records it with its audit event
//! instead ([`crate::audit::AuditWriter::spend_and_append`]), after it ran and before it
//! answers, so it waits for one commit rather than two. Requests that arrive while a commit is in flight
//! wait for the next one and share it: one transaction records the whole batch, and each
//! request still learns whether its own nonce was fresh. Under light load a batch is one
//! nonce and nothing is delayed; under heavy load the cost per request falls with the batch.

use std::sync::Arc;
use std::time::Duration;

use rampart_model::Timestamp;
use rampart_store::{KeyCheck, NonceUse, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

/// The most nonces one transaction records.
const MAX_BATCH: usize = 512;

struct Pending {
    key_id: String,
    nonce: String,
    now: Timestamp,
    reply: oneshot::Sender<Result<(NonceUse, Option<KeyCheck>), StoreError>>,
}

/// Handle to the batching task; cheap to clone.
#[derive(Clone)]
pub struct NonceBatcher {
    tx: mpsc::Sender<Pending>,
}

impl std::fmt::Debug for NonceBatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceBatcher")
    }
}

impl NonceBatcher {
    /// Starts the task on the current tokio runtime. It ends when every handle is dropped.
    pub fn start(store: Arc<dyn Store>, ttl: Duration) -> Self {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(store, ttl, rx));
        Self { tx }
    }

    /// Records the nonce and reads the key's current state, in the batch's transaction.
    pub async fn use_nonce(
        &self,
        key_id: &str,
        nonce: &str,
        now: Timestamp,
    ) -> Result<(NonceUse, Option<KeyCheck>), StoreError> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            key_id: key_id.to_owned(),
            nonce: nonce.to_owned(),
            now,
            reply,
        };
        let gone = || StoreError::Unavailable("nonce recorder stopped".to_owned());
        self.tx.send(pending).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn run(store: Arc<dyn Store>, ttl: Duration, mut rx: mpsc::Receiver<Pending>) {
    let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // One time for the batch: the latest, so no nonce expires earlier than its own
        // request's time would have made it.
        let now = batch
            .iter()
            .map(|p| p.now)
            .max()
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let pairs: Vec<(String, String)> = batch
            .iter()
            .map(|p| (p.key_id.clone(), p.nonce.clone()))
            .collect();
        let answers = store
            .use_nonces_with_keys(&pairs, now, ttl)
            .await
            .and_then(|uses| one_each(uses, batch.len()));
        reply_all(batch.drain(..).map(|p| p.reply), answers);
    }
}

/// The store's answers for a batch, refused unless there is exactly one per request.
pub(crate) fn one_each<T>(answers: Vec<T>, requests: usize) -> Result<Vec<T>, StoreError> {
    if answers.len() == requests {
        Ok(answers)
    } else {
        Err(StoreError::Internal(
            "nonce batch answered the wrong number of rows".to_owned(),
        ))
    }
}

/// Tells each request of a batch its own answer, or all of them the batch's error.
pub(crate) fn reply_all<T>(
    replies: impl Iterator<Item = oneshot::Sender<Result<T, StoreError>>>,
    answers: Result<Vec<T>, StoreError>,
) {
    match answers {
        Ok(answers) => {
            for (reply, answer) in replies.zip(answers) {
                let _ = reply.send(Ok(answer));
            }
        }
        Err(e) => {
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}
