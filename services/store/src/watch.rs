//! The etcd Watch service: one bidirectional stream carries many watches.
//!
//! Each stream runs one session task. It subscribes to the state machine's applied batches
//! before anything else, so a watch's history replay (read from the revision-keyed history)
//! and the live feed meet without a gap; each watch remembers the next revision it owes the
//! client and skips anything below it, so nothing is sent twice. A session that falls behind
//! the live feed replays from the history instead, so a slow client never loses events.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::proto::{PbWatchRequest, PbWatchRequestUnion, PbWatchResponse, PbWatchService};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};
use tracing::{Instrument, debug, info_span};

use crate::convert::event_to_pb;
use crate::error::{EtcdError, Result};
use crate::mvcc::{Event, EventKind, History, in_range};
use crate::node::RaftNode;
use crate::state_machine::Applied;

/// Records read per history scan while replaying.
const REPLAY_BATCH: usize = 1000;

/// The Watch gRPC service.
#[derive(Clone)]
pub struct WatchService {
    node: RaftNode,
    /// How often watches that asked for progress notifications get one.
    progress_interval: Duration,
    shutdown: CancellationToken,
}

impl WatchService {
    pub fn new(node: RaftNode, progress_interval: Duration, shutdown: CancellationToken) -> Self {
        Self {
            node,
            progress_interval,
            shutdown,
        }
    }
}

#[tonic::async_trait]
impl PbWatchService for WatchService {
    type WatchStream = ReceiverStream<Result<PbWatchResponse, Status>>;

    async fn watch(
        &self,
        request: Request<Streaming<PbWatchRequest>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let (tx, rx) = mpsc::channel(256);
        let session = Session {
            node: self.node.clone(),
            applied: self.node.sm.subscribe(),
            tx,
            watchers: BTreeMap::new(),
            next_id: 0,
        };
        let progress = self.progress_interval;
        let shutdown = self.shutdown.clone();
        tokio::spawn(
            session
                .run(request.into_inner(), progress, shutdown)
                .instrument(info_span!("watch_stream")),
        );
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// One watch of a stream.
#[derive(Debug)]
struct Watcher {
    key: Vec<u8>,
    range_end: Vec<u8>,
    prev_kv: bool,
    no_put: bool,
    no_delete: bool,
    progress_notify: bool,
    /// The first revision not yet sent.
    next_rev: i64,
}

impl Watcher {
    fn wants(&self, ev: &Event) -> bool {
        ev.kv.mod_revision >= self.next_rev
            && in_range(&ev.kv.key, &self.key, &self.range_end)
            && match ev.kind {
                EventKind::Put => !self.no_put,
                EventKind::Delete => !self.no_delete,
            }
    }
}

/// The client went away: the session ends.
struct Gone;

struct Session {
    node: RaftNode,
    applied: broadcast::Receiver<Arc<Applied>>,
    tx: mpsc::Sender<Result<PbWatchResponse, Status>>,
    watchers: BTreeMap<i64, Watcher>,
    next_id: i64,
}

impl Session {
    async fn run(
        mut self,
        mut requests: Streaming<PbWatchRequest>,
        progress: Duration,
        shutdown: CancellationToken,
    ) {
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + progress, progress);
        let result: Result<(), Gone> = async {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return Err(Gone),
                    msg = requests.message() => match msg {
                        Ok(Some(req)) => self.handle(req).await?,
                        Ok(None) => return Err(Gone),
                        Err(status) => {
                            debug!(%status, "watch stream ended");
                            return Err(Gone);
                        }
                    },
                    batch = self.applied.recv() => match batch {
                        Ok(batch) if batch.resync => {
                            debug!("state replaced by a snapshot; replaying from history");
                            self.catch_up_all().await?;
                        }
                        Ok(batch) => self.deliver(&batch).await?,
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            debug!(missed, "watch stream lagged; replaying from history");
                            self.catch_up_all().await?;
                        }
                        Err(broadcast::error::RecvError::Closed) => return Err(Gone),
                    },
                    _ = ticker.tick() => self.notify_progress().await?,
                }
            }
        }
        .await;
        let _ = result;
        self.node.metrics.watchers.sub(self.watchers.len() as i64);
    }

    async fn send(&self, resp: PbWatchResponse) -> Result<(), Gone> {
        self.tx.send(Ok(resp)).await.map_err(|_| Gone)
    }

    async fn send_error(&self, err: crate::Error) -> Result<(), Gone> {
        let _ = self.tx.send(Err(err.into())).await;
        Err(Gone)
    }

    fn response(&self, watch_id: i64, revision: i64) -> PbWatchResponse {
        PbWatchResponse {
            header: Some(self.node.header(revision)),
            watch_id,
            ..PbWatchResponse::default()
        }
    }

    async fn handle(&mut self, req: PbWatchRequest) -> Result<(), Gone> {
        match req.request_union {
            Some(PbWatchRequestUnion::CreateRequest(create)) => {
                let current = self.node.sm.current_revision();
                let id = if create.watch_id != 0 {
                    create.watch_id
                } else {
                    while self.watchers.contains_key(&self.next_id) {
                        self.next_id += 1;
                    }
                    self.next_id
                };
                if self.watchers.contains_key(&id) {
                    return self
                        .send(PbWatchResponse {
                            created: true,
                            canceled: true,
                            cancel_reason: "etcdserver: duplicate watch ID".into(),
                            ..self.response(id, current)
                        })
                        .await;
                }
                if create.watch_id == 0 {
                    self.next_id += 1;
                }
                self.send(PbWatchResponse {
                    created: true,
                    ..self.response(id, current)
                })
                .await?;
                let watcher = Watcher {
                    key: create.key,
                    range_end: create.range_end,
                    prev_kv: create.prev_kv,
                    no_put: create.filters.contains(&0),
                    no_delete: create.filters.contains(&1),
                    progress_notify: create.progress_notify,
                    next_rev: if create.start_revision > 0 {
                        create.start_revision
                    } else {
                        current + 1
                    },
                };
                let replay = watcher.next_rev <= current;
                self.watchers.insert(id, watcher);
                self.node.metrics.watchers.inc();
                if replay {
                    self.catch_up(id).await?;
                }
                Ok(())
            }
            Some(PbWatchRequestUnion::CancelRequest(cancel)) => {
                if self.watchers.remove(&cancel.watch_id).is_some() {
                    self.node.metrics.watchers.dec();
                    let current = self.node.sm.current_revision();
                    self.send(PbWatchResponse {
                        canceled: true,
                        ..self.response(cancel.watch_id, current)
                    })
                    .await?;
                }
                Ok(())
            }
            Some(PbWatchRequestUnion::ProgressRequest(_)) => {
                let current = self.node.sm.current_revision();
                self.send(self.response(-1, current)).await
            }
            None => Ok(()),
        }
    }

    /// Sends watch `id` everything the history holds from its next revision on, then leaves it
    /// owed nothing up to the current revision. A watch whose next revision was compacted away
    /// is cancelled with the compaction revision, as etcd does.
    async fn catch_up(&mut self, id: i64) -> Result<(), Gone> {
        loop {
            let Some(w) = self.watchers.get(&id) else {
                return Ok(());
            };
            let scanned = self.node.sm.read(|st, history| -> Result<_> {
                let compacted = st.mvcc.compacted_revision();
                if w.next_rev < compacted {
                    return Ok(Err(compacted));
                }
                let current = st.mvcc.current_revision();
                let records = history.scan(w.next_rev, REPLAY_BATCH)?;
                let full = records.len() >= REPLAY_BATCH;
                let last = records.last().map(|(r, _)| r.main);
                let mut events = Vec::new();
                for (rev, rec) in records {
                    let ev = Event::from_record(rev, rec);
                    if !w.wants(&ev) {
                        continue;
                    }
                    let prev = if w.prev_kv {
                        st.mvcc.prev_kv(history, &ev.kv.key, rev.main)?
                    } else {
                        None
                    };
                    events.push(event_to_pb(ev, prev));
                }
                let next = match (full, last) {
                    (true, Some(last)) => last + 1,
                    _ => current + 1,
                };
                Ok(Ok((events, next, current)))
            });
            let (events, next, current) = match scanned {
                Ok(Ok(v)) => v,
                Ok(Err(compacted)) => {
                    self.watchers.remove(&id);
                    self.node.metrics.watchers.dec();
                    return self
                        .send(PbWatchResponse {
                            canceled: true,
                            compact_revision: compacted,
                            cancel_reason: EtcdError::Compacted.to_string(),
                            ..self.response(id, current_or(&self.node))
                        })
                        .await;
                }
                Err(e) => return self.send_error(e).await,
            };
            if let Some(w) = self.watchers.get_mut(&id) {
                w.next_rev = next;
            }
            if !events.is_empty() {
                self.send(PbWatchResponse {
                    events,
                    ..self.response(id, current)
                })
                .await?;
            }
            if next > current {
                return Ok(());
            }
        }
    }

    async fn catch_up_all(&mut self) -> Result<(), Gone> {
        let ids: Vec<i64> = self.watchers.keys().copied().collect();
        for id in ids {
            self.catch_up(id).await?;
        }
        Ok(())
    }

    /// Sends each watch the events of one applied batch that it has not seen.
    async fn deliver(&mut self, batch: &Applied) -> Result<(), Gone> {
        let node = &self.node;
        let mut out = Vec::new();
        let mut failed = None;
        'watchers: for (id, w) in &mut self.watchers {
            if w.next_rev > batch.revision {
                continue;
            }
            let wanted: Vec<&Event> = batch.events.iter().filter(|e| w.wants(e)).collect();
            w.next_rev = batch.revision + 1;
            if wanted.is_empty() {
                continue;
            }
            let mut events = Vec::with_capacity(wanted.len());
            for ev in wanted {
                let prev = if w.prev_kv {
                    match node
                        .sm
                        .read(|st, h| st.mvcc.prev_kv(h, &ev.kv.key, ev.kv.mod_revision))
                    {
                        Ok(prev) => prev,
                        Err(e) => {
                            failed = Some(e);
                            break 'watchers;
                        }
                    }
                } else {
                    None
                };
                events.push(event_to_pb(ev.clone(), prev));
            }
            out.push((*id, events));
        }
        if let Some(e) = failed {
            return self.send_error(e).await;
        }
        for (id, events) in out {
            self.send(PbWatchResponse {
                events,
                ..self.response(id, batch.revision)
            })
            .await?;
        }
        Ok(())
    }

    async fn notify_progress(&self) -> Result<(), Gone> {
        let current = self.node.sm.current_revision();
        for (id, w) in &self.watchers {
            if w.progress_notify && w.next_rev > current {
                self.send(self.response(*id, current)).await?;
            }
        }
        Ok(())
    }
}

fn current_or(node: &RaftNode) -> i64 {
    node.sm.current_revision()
}
