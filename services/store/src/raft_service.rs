//! The peer-facing gRPC service: openraft's RPCs from the leader, and client requests that
//! followers forward to this member when it leads.

use futures::StreamExt;
use rudder_proto::raft::v1::raft_transport_server::RaftTransport;
use rudder_proto::raft::v1::{RaftReply, RaftRequest, SnapshotChunk};
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status, Streaming};

use crate::db::{decode, encode};
use crate::error::{Error, EtcdError};
use crate::lease::Lessor;
use crate::network::{ForwardReply, Forwarded, assemble_snapshot};
use crate::node::RaftNode;

/// The RaftTransport service of one member.
#[derive(Clone)]
pub struct RaftService {
    pub node: RaftNode,
    pub lessor: Lessor,
}

fn bad_request(e: Error) -> Status {
    Status::invalid_argument(format!("undecodable raft message: {e}"))
}

fn reply<T: serde::Serialize, E: serde::Serialize>(
    result: Result<T, E>,
) -> Result<Response<RaftReply>, Status> {
    encode_reply(result).map(Response::new)
}

fn encode_reply<T: serde::Serialize, E: serde::Serialize>(
    result: Result<T, E>,
) -> Result<RaftReply, Status> {
    Ok(match result {
        Ok(v) => RaftReply {
            payload: encode(&v).map_err(Status::from)?,
            error: Vec::new(),
        },
        Err(e) => RaftReply {
            payload: Vec::new(),
            error: encode(&e).map_err(Status::from)?,
        },
    })
}

#[tonic::async_trait]
impl RaftTransport for RaftService {
    /// Answers each request of the leader's stream in order, one at a time (raft appends
    /// are sequential anyway). An undecodable request ends the stream with its error.
    async fn append_entries(
        &self,
        request: Request<Streaming<RaftRequest>>,
    ) -> Result<Response<BoxStream<RaftReply>>, Status> {
        let raft = self.node.raft.clone();
        let replies = request.into_inner().then(move |request| {
            let raft = raft.clone();
            async move {
                let rpc = decode(&request?.payload).map_err(bad_request)?;
                encode_reply(raft.append_entries(rpc).await)
            }
        });
        Ok(Response::new(Box::pin(replies)))
    }

    async fn vote(&self, request: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        let rpc = decode(&request.into_inner().payload).map_err(bad_request)?;
        reply(self.node.raft.vote(rpc).await)
    }

    async fn install_snapshot(
        &self,
        request: Request<Streaming<SnapshotChunk>>,
    ) -> Result<Response<RaftReply>, Status> {
        let mut stream = request.into_inner();
        let mut chunks = Vec::new();
        while let Some(chunk) = stream.message().await? {
            chunks.push(chunk);
        }
        let (vote, snapshot) = assemble_snapshot(chunks).map_err(bad_request)?;
        reply(self.node.raft.install_full_snapshot(vote, snapshot).await)
    }

    async fn forward(&self, request: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        let forwarded: Forwarded = decode(&request.into_inner().payload).map_err(bad_request)?;
        let result: Result<ForwardReply, EtcdError> = match forwarded {
            Forwarded::Write(req) => self
                .node
                .write_local(req)
                .await
                .map(ForwardReply::Write)
                .map_err(Error::into_etcd),
            Forwarded::ReadIndex => self
                .node
                .read_index_local()
                .await
                .map(ForwardReply::ReadIndex)
                .map_err(Error::into_etcd),
            Forwarded::ChangeMembers(change) => self
                .node
                .change_members_local(change)
                .await
                .map(|()| ForwardReply::Done)
                .map_err(Error::into_etcd),
            Forwarded::LeaseKeepAlive(id) => self
                .lessor
                .keep_alive_local(id)
                .await
                .map(ForwardReply::Ttl)
                .map_err(Error::into_etcd),
            Forwarded::LeaseRemaining(id) => Ok(ForwardReply::Ttl(self.lessor.remaining_local(id))),
        };
        // the outcome, success or etcd error, travels in the payload
        reply::<_, ()>(Ok(result))
    }
}
