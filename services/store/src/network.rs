//! The raft transport between members: openraft's RPCs over gRPC with mutual TLS
//! (proto/rudder/raft/v1/raft.proto). Requests and replies travel postcard-encoded in
//! `payload`, errors in `error`, so the proto need not mirror openraft's types. The same
//! service carries client writes and read-index requests a follower forwards to the leader.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::OptionalSend;
use openraft::error::{
    Fatal, InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, ReplicationClosed,
    StreamingError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    SnapshotResponse, VoteRequest, VoteResponse,
};
use rudder_pki::{TlsMaterial, TlsPaths};
use rudder_proto::raft::v1::raft_transport_client::RaftTransportClient;
use rudder_proto::raft::v1::{RaftReply, RaftRequest, SnapshotChunk};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;
use tonic::transport::{Channel, Endpoint};

use crate::db::{decode, encode};
use crate::durability::LocalDurability;
use crate::error::{Error, EtcdError, Result};
use crate::mvcc::{Request, Response};
use crate::types::{Member, NodeId, Snapshot, SnapshotMeta, TypeConfig, Vote};

/// Bytes per snapshot chunk on the wire.
const SNAPSHOT_CHUNK: usize = 1 << 20;

/// What a follower asks the leader to do for a client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Forwarded {
    Write(Request),
    /// The leader's read index: the log index a linearizable read must wait for.
    ReadIndex,
    /// A membership change (MemberAdd, MemberPromote, MemberRemove, MemberUpdate, publish).
    ChangeMembers(MemberChange),
    /// Renew a lease on the leader, whose clock decides expiry.
    LeaseKeepAlive(i64),
    /// Seconds left on a lease by the leader's clock (-1: no such lease).
    LeaseRemaining(i64),
}

/// A membership change, as the Cluster service asks for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum MemberChange {
    /// A new member, as a learner (then promoted) or straight away as a voter.
    Add {
        id: NodeId,
        member: Member,
        learner: bool,
    },
    /// A learner becomes a voter.
    Promote { id: NodeId },
    /// A member leaves.
    Remove { id: NodeId },
    /// A started member records its name and client URLs (etcd's publish).
    Publish {
        id: NodeId,
        name: String,
        client_urls: Vec<String>,
    },
    /// A member's peer URLs change (MemberUpdate).
    UpdatePeers { id: NodeId, peer_urls: Vec<String> },
}

/// The leader's answer to a [`Forwarded`] request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ForwardReply {
    Write(Response),
    ReadIndex(Option<u64>),
    Done,
    /// A lease TTL in seconds.
    Ttl(i64),
}

/// Dials peers, with the member's peer TLS identity when it has one. One HTTP/2 channel per
/// peer URL carries every RPC to that peer (raft's, forwarded writes, read indexes): a new
/// TCP and TLS handshake per request would cost more than the request itself.
#[derive(Clone, Default)]
pub struct PeerNetwork {
    tls: Option<TlsMaterial>,
    channels: Arc<Mutex<HashMap<String, RaftTransportClient<Channel>>>>,
    /// This member's log on disk: a follower's acknowledgement of entries is passed to
    /// raft only once they are on our disk too (see [`crate::durability`]).
    local: Option<LocalDurability>,
}

impl std::fmt::Debug for PeerNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerNetwork")
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl PeerNetwork {
    /// Loads the peer TLS files once; `None` dials plain http (loopback only).
    pub fn new(tls: Option<&TlsPaths>) -> Result<Self> {
        let tls = tls
            .map(|paths| paths.load())
            .transpose()
            .map_err(|e| Error::Config(format!("peer TLS: {e}")))?;
        Ok(Self {
            tls,
            channels: Arc::default(),
            local: None,
        })
    }

    /// Holds followers' acknowledgements of appended entries until `local` has them on disk,
    /// which is what lets the log store acknowledge a leader's own entries early.
    pub fn holding_acks_until_durable(mut self, local: LocalDurability) -> Self {
        self.local = Some(local);
        self
    }

    /// The client for the peer at `url`, shared by every caller; it connects on first use
    /// and reconnects after the connection breaks.
    pub fn client(&self, url: &str) -> Result<RaftTransportClient<Channel>> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = channels.get(url) {
            return Ok(client.clone());
        }
        let client = self.dial(url)?;
        channels.insert(url.to_string(), client.clone());
        Ok(client)
    }

    /// A lazily connecting client for the peer at `url`.
    fn dial(&self, url: &str) -> Result<RaftTransportClient<Channel>> {
        let bad = |e: &dyn std::fmt::Display| Error::Config(format!("peer URL {url}: {e}"));
        let mut endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| bad(&e))?
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true);
        if let Some(tls) = &self.tls {
            let host = url
                .split_once("://")
                .map(|(_, rest)| rest)
                .unwrap_or(url)
                .rsplit_once(':')
                .map(|(host, _)| host)
                .unwrap_or("localhost")
                .trim_start_matches('[')
                .trim_end_matches(']');
            let config = tls.tonic_client(host).map_err(|e| bad(&e))?;
            endpoint = endpoint.tls_config(config).map_err(|e| bad(&e))?;
        }
        Ok(RaftTransportClient::new(endpoint.connect_lazy())
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20))
    }

    /// Sends a client request to the leader at `member` and returns its answer.
    pub async fn forward(&self, member: &Member, req: Forwarded) -> Result<ForwardReply> {
        let url = member
            .peer_urls
            .first()
            .ok_or(Error::Etcd(EtcdError::NoLeader))?;
        let mut client = self.client(url)?;
        let reply = client
            .forward(RaftRequest {
                payload: encode(&req)?,
            })
            .await
            .map_err(|status| {
                tracing::debug!(%status, leader = %url, "forwarding failed");
                Error::Etcd(EtcdError::NoLeader)
            })?
            .into_inner();
        let result: Result<ForwardReply, EtcdError> = decode(&reply.payload)?;
        Ok(result?)
    }
}

impl RaftNetworkFactory<TypeConfig> for PeerNetwork {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &Member) -> Self::Network {
        let client = node
            .peer_urls
            .first()
            .ok_or_else(|| format!("member {target:x} has no peer URL"))
            .and_then(|url| self.client(url).map_err(|e| e.to_string()));
        PeerClient {
            target,
            client,
            appends: None,
            local: self.local.clone(),
        }
    }
}

/// The raft client for one peer.
pub struct PeerClient {
    target: NodeId,
    client: Result<RaftTransportClient<Channel>, String>,
    /// The AppendEntries stream to this peer, opened on first use and after a failure.
    appends: Option<AppendStream>,
    local: Option<LocalDurability>,
}

/// An open AppendEntries stream: requests go in, replies come back in the same order.
/// openraft sends one request at a time per peer, so the next reply is always ours.
struct AppendStream {
    requests: mpsc::Sender<RaftRequest>,
    replies: Streaming<RaftReply>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TransportError(String);

fn unreachable<E: std::error::Error>(msg: impl ToString) -> RPCError<NodeId, Member, E> {
    RPCError::Unreachable(Unreachable::new(&TransportError(msg.to_string())))
}

fn network<E: std::error::Error>(msg: impl ToString) -> RPCError<NodeId, Member, E> {
    RPCError::Network(NetworkError::new(&TransportError(msg.to_string())))
}

#[expect(
    clippy::result_large_err,
    reason = "these build the RPCError that openraft's RaftNetwork methods return"
)]
impl PeerClient {
    /// Sends one AppendEntries request on the peer's stream (opening it if needed) and
    /// returns its reply.
    async fn exchange_append<E: std::error::Error>(
        &mut self,
        request: RaftRequest,
    ) -> Result<RaftReply, RPCError<NodeId, Member, E>> {
        let open = match self.appends.take() {
            Some(open) => open,
            None => {
                let (requests, rx) = mpsc::channel(1);
                let replies = self
                    .client()?
                    .append_entries(ReceiverStream::new(rx))
                    .await
                    .map_err(status_error)?
                    .into_inner();
                AppendStream { requests, replies }
            }
        };
        let stream = self.appends.insert(open);
        stream
            .requests
            .send(request)
            .await
            .map_err(|_| unreachable("the append stream closed"))?;
        match stream.replies.message().await {
            Ok(Some(reply)) => Ok(reply),
            Ok(None) => Err(unreachable("the peer closed the append stream")),
            Err(status) => Err(status_error(status)),
        }
    }

    fn client<E: std::error::Error>(
        &self,
    ) -> Result<RaftTransportClient<Channel>, RPCError<NodeId, Member, E>> {
        self.client.clone().map_err(unreachable)
    }

    /// Decodes a reply: the answer, or the peer's raft error.
    fn reply<T, E>(
        &self,
        reply: RaftReply,
    ) -> Result<T, RPCError<NodeId, Member, RaftError<NodeId, E>>>
    where
        T: serde::de::DeserializeOwned,
        E: std::error::Error + serde::de::DeserializeOwned,
    {
        if !reply.error.is_empty() {
            let err: RaftError<NodeId, E> = decode(&reply.error).map_err(network)?;
            return Err(RPCError::RemoteError(RemoteError::new(self.target, err)));
        }
        decode(&reply.payload).map_err(network)
    }
}

fn status_error<E: std::error::Error>(status: tonic::Status) -> RPCError<NodeId, Member, E> {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => unreachable(status.message()),
        _ => network(status.message()),
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, Member, RaftError<NodeId>>> {
        let payload = encode(&rpc).map_err(network)?;
        let started = tokio::time::Instant::now();
        let exchanged = tokio::time::timeout(
            option.hard_ttl(),
            self.exchange_append(RaftRequest { payload }),
        )
        .await;
        let reply = match exchanged {
            Ok(Ok(reply)) => reply,
            failed => {
                // a late reply would answer the next request: start over on a new stream
                self.appends = None;
                return Err(match failed {
                    Ok(Err(e)) => e,
                    _ => unreachable("append entries timed out"),
                });
            }
        };
        let response: AppendEntriesResponse<NodeId> = self.reply(reply)?;
        let acknowledged = match &response {
            AppendEntriesResponse::Success => rpc
                .entries
                .last()
                .map(|e| e.log_id.index)
                .or(rpc.prev_log_id.map(|id| id.index)),
            AppendEntriesResponse::PartialSuccess(matching) => matching.map(|id| id.index),
            AppendEntriesResponse::Conflict | AppendEntriesResponse::HigherVote(_) => None,
        };
        if let (Some(local), Some(index)) = (&self.local, acknowledged) {
            let left = option.hard_ttl().saturating_sub(started.elapsed());
            tokio::time::timeout(left, local.wait_durable(index))
                .await
                .map_err(|_| {
                    unreachable("the local fsync did not finish within the RPC timeout")
                })?;
        }
        Ok(response)
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, Member, RaftError<NodeId, InstallSnapshotError>>,
    > {
        // snapshots travel whole through `full_snapshot`
        Err(network("chunked install_snapshot is not used"))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, Member, RaftError<NodeId>>> {
        let payload = encode(&rpc).map_err(network)?;
        let mut req = tonic::Request::new(RaftRequest { payload });
        req.set_timeout(option.hard_ttl());
        let reply = self
            .client()?
            .vote(req)
            .await
            .map_err(status_error)?
            .into_inner();
        self.reply(reply)
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        _cancel: impl std::future::Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<NodeId>, StreamingError<TypeConfig, Fatal<NodeId>>> {
        let stream_err =
            |msg: String| StreamingError::Unreachable(Unreachable::new(&TransportError(msg)));
        let header =
            encode(&(vote, snapshot.meta.clone())).map_err(|e| stream_err(e.to_string()))?;
        let data = snapshot.snapshot.into_inner();
        let mut chunks: Vec<SnapshotChunk> = data
            .chunks(SNAPSHOT_CHUNK)
            .map(|c| SnapshotChunk {
                header: Vec::new(),
                data: c.to_vec(),
            })
            .collect();
        if chunks.is_empty() {
            chunks.push(SnapshotChunk::default());
        }
        chunks[0].header = header;
        let mut client = self.client.clone().map_err(stream_err)?;
        let reply = client
            .install_snapshot(tokio_stream::iter(chunks))
            .await
            .map_err(|s| stream_err(s.message().to_string()))?
            .into_inner();
        if !reply.error.is_empty() {
            let fatal: Fatal<NodeId> =
                decode(&reply.error).map_err(|e| stream_err(e.to_string()))?;
            return Err(StreamingError::RemoteError(RemoteError::new(
                self.target,
                fatal,
            )));
        }
        decode(&reply.payload).map_err(|e| stream_err(e.to_string()))
    }
}

/// Reassembles a streamed snapshot: the vote and metadata from the first chunk's header,
/// the data from all chunks in order.
pub fn assemble_snapshot(chunks: Vec<SnapshotChunk>) -> Result<(Vote, Snapshot)> {
    let first = chunks
        .first()
        .ok_or_else(|| Error::corrupt("empty snapshot stream"))?;
    let (vote, meta): (Vote, SnapshotMeta) = decode(&first.header)?;
    let data: Vec<u8> = chunks.into_iter().flat_map(|c| c.data).collect();
    Ok((
        vote,
        Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        },
    ))
}
