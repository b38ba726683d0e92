//! Group commit on the leader: client writes that arrive together are proposed together, as
//! one raft entry ([`Request::Batch`]), so that they share one append, one fsync of the log on
//! each member and one state-machine write.
//!
//! openraft 0.9 appends each entry on its own and waits for that append's fsync before it
//! takes the next proposal, so without batching every write costs a whole fsync of the
//! leader's raft core. Here at most [`IN_FLIGHT`] batches are in raft at a time; writes that
//! arrive meanwhile queue and form the next batch, so batches grow with the load and a lone
//! write is proposed at once.

use std::sync::Arc;

use openraft::error::{ClientWriteError, RaftError};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::Instrument;

use crate::error::EtcdError;
use crate::mvcc::{Request, Response, ResponseBody};
use crate::types::Raft;

/// Batches proposed but not yet applied. More overlap the leader's fsync of one batch with
/// the replication and apply of the previous ones; fewer make bigger batches.
const IN_FLIGHT: usize = 3;
/// Most writes in one entry, to bound the size of an entry and of an append RPC.
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<Response, EtcdError>>;

/// The leader's write queue; cloning gives another handle on the same queue.
#[derive(Clone)]
pub struct Proposer {
    tx: mpsc::UnboundedSender<(Request, Reply)>,
}

impl Proposer {
    /// Starts the batching task over `raft`; it ends when every handle is dropped.
    pub fn start(raft: Raft) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(raft, rx).instrument(tracing::info_span!("proposer")));
        Self { tx }
    }

    /// Proposes `req` on this member (which should lead) and waits until it is applied.
    /// `NoLeader` means this member does not lead (any more).
    pub async fn propose(&self, req: Request) -> Result<Response, EtcdError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send((req, tx)).map_err(|_| EtcdError::Stopped)?;
        rx.await.unwrap_or(Err(EtcdError::Stopped))
    }
}

async fn run(raft: Raft, mut rx: mpsc::UnboundedReceiver<(Request, Reply)>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        // a slot first: while none is free, writes pile up in the queue for the next batch
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let raft = raft.clone();
        tokio::spawn(async move {
            propose_batch(&raft, batch).await;
            drop(slot);
        });
    }
}

/// Proposes the writes of `batch` as one entry and hands each caller its own answer.
async fn propose_batch(raft: &Raft, batch: Vec<(Request, Reply)>) {
    let (requests, replies): (Vec<Request>, Vec<Reply>) = batch.into_iter().unzip();
    let alone = requests.len() == 1;
    let entry = if alone {
        requests.into_iter().next().expect("a batch has a write")
    } else {
        Request::Batch(requests)
    };
    let answers: Vec<Result<Response, EtcdError>> = match propose(raft, entry).await {
        Err(e) => replies.iter().map(|_| Err(e)).collect(),
        Ok(resp) if alone => vec![Ok(resp)],
        Ok(Response {
            result: Ok(ResponseBody::Batch(responses)),
            ..
        }) if responses.len() == replies.len() => responses.into_iter().map(Ok).collect(),
        Ok(other) => {
            tracing::error!(answer = ?other, "a batch of writes was answered out of shape");
            replies.iter().map(|_| Err(EtcdError::Stopped)).collect()
        }
    };
    for (reply, answer) in replies.into_iter().zip(answers) {
        // a caller that gave up no longer listens; its write stands all the same
        let _ = reply.send(answer);
    }
}

async fn propose(raft: &Raft, req: Request) -> Result<Response, EtcdError> {
    match raft.client_write(req).await {
        Ok(resp) => Ok(resp.data),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => Err(EtcdError::NoLeader),
        Err(RaftError::APIError(e)) => {
            tracing::warn!(error = %e, "a proposal failed");
            Err(EtcdError::Stopped)
        }
        Err(RaftError::Fatal(_)) => Err(EtcdError::Stopped),
    }
}
