//! The etcd v3 KV, Lease, Maintenance and Cluster services, over the member's raft node.
//! Each handler converts the wire request, asks the node, and converts back; errors become
//! etcd's gRPC statuses through `From<Error> for Status` (error.rs).

use std::pin::Pin;

use etcd_client::proto::{
    PbAlarmRequest, PbAlarmResponse, PbClusterService, PbCompactionRequest, PbCompactionResponse,
    PbDefragmentRequest, PbDefragmentResponse, PbDeleteRequest, PbDeleteResponse,
    PbDowngradeRequest, PbDowngradeResponse, PbHashKvRequest, PbHashKvResponse, PbHashRequest,
    PbHashResponse, PbKvService, PbLeaseGrantRequest, PbLeaseGrantResponse,
    PbLeaseKeepAliveRequest, PbLeaseKeepAliveResponse, PbLeaseLeasesRequest, PbLeaseLeasesResponse,
    PbLeaseRevokeRequest, PbLeaseRevokeResponse, PbLeaseService, PbLeaseStatus,
    PbLeaseTimeToLiveRequest, PbLeaseTimeToLiveResponse, PbMaintenanceService, PbMember,
    PbMemberAddRequest, PbMemberAddResponse, PbMemberListRequest, PbMemberListResponse,
    PbMemberPromoteRequest, PbMemberPromoteResponse, PbMemberRemoveRequest, PbMemberRemoveResponse,
    PbMemberUpdateRequest, PbMemberUpdateResponse, PbMoveLeaderRequest, PbMoveLeaderResponse,
    PbPutRequest, PbPutResponse, PbRangeRequest, PbRangeResponse, PbRangeStreamResponse,
    PbSnapshotRequest, PbSnapshotResponse, PbStatusRequest, PbStatusResponse, PbTxnRequest,
    PbTxnResponse,
};
use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::{Instrument, info_span};

use crate::convert;
use crate::error::{Error, EtcdError};
use crate::lease::Lessor;
use crate::mvcc::{self, ResponseBody};
use crate::network::MemberChange;
use crate::node::RaftNode;
use crate::types::Member;

/// The version Status reports: the etcd API level we speak.
pub const ETCD_VERSION: &str = "3.5.0";

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

fn unexpected(body: ResponseBody) -> Status {
    Error::corrupt(format!("unexpected apply result {body:?}")).into()
}

/// The KV service.
#[derive(Clone)]
pub struct KvService {
    pub node: RaftNode,
}

#[tonic::async_trait]
impl PbKvService for KvService {
    async fn range(
        &self,
        request: Request<PbRangeRequest>,
    ) -> Result<Response<PbRangeResponse>, Status> {
        let req = convert::range_from_pb(request.into_inner());
        if !req.serializable {
            self.node.linearizable().await?;
        }
        let (resp, revision) = self.node.sm.read(|st, h| {
            st.mvcc
                .range(h, &req)
                .map(|r| (r, st.mvcc.current_revision()))
        })?;
        Ok(Response::new(convert::range_to_pb(
            resp,
            self.node.header(revision),
        )))
    }

    type RangeStreamStream = BoxStream<PbRangeStreamResponse>;

    async fn range_stream(
        &self,
        _request: Request<PbRangeRequest>,
    ) -> Result<Response<Self::RangeStreamStream>, Status> {
        Err(Status::unimplemented("RangeStream is not supported"))
    }

    async fn put(&self, request: Request<PbPutRequest>) -> Result<Response<PbPutResponse>, Status> {
        let req = convert::put_from_pb(request.into_inner());
        if req.key.is_empty() {
            return Err(Error::from(EtcdError::EmptyKey).into());
        }
        let resp = self.node.write(mvcc::Request::Put(req)).await?;
        match resp.result.map_err(Error::from)? {
            ResponseBody::Put(p) => Ok(Response::new(convert::put_to_pb(
                p,
                self.node.header(resp.revision),
            ))),
            other => Err(unexpected(other)),
        }
    }

    async fn delete_range(
        &self,
        request: Request<PbDeleteRequest>,
    ) -> Result<Response<PbDeleteResponse>, Status> {
        let req = convert::delete_from_pb(request.into_inner());
        if req.key.is_empty() {
            return Err(Error::from(EtcdError::EmptyKey).into());
        }
        let resp = self.node.write(mvcc::Request::DeleteRange(req)).await?;
        match resp.result.map_err(Error::from)? {
            ResponseBody::DeleteRange(d) => Ok(Response::new(convert::delete_to_pb(
                d,
                self.node.header(resp.revision),
            ))),
            other => Err(unexpected(other)),
        }
    }

    async fn txn(&self, request: Request<PbTxnRequest>) -> Result<Response<PbTxnResponse>, Status> {
        let req = convert::txn_from_pb(request.into_inner());
        mvcc::validate_txn(&req).map_err(Error::from)?;
        if mvcc::is_read_only(&req) {
            // a read: linearizable by read index, as etcd serves read-only txns
            self.node.linearizable().await?;
            let (resp, revision) = self.node.sm.read(|st, h| {
                st.mvcc
                    .read_txn(h, &req)
                    .map(|r| (r, st.mvcc.current_revision()))
            })?;
            return Ok(Response::new(convert::txn_to_pb(
                resp,
                self.node.header(revision),
            )));
        }
        let resp = self.node.write(mvcc::Request::Txn(req)).await?;
        match resp.result.map_err(Error::from)? {
            ResponseBody::Txn(t) => Ok(Response::new(convert::txn_to_pb(
                t,
                self.node.header(resp.revision),
            ))),
            other => Err(unexpected(other)),
        }
    }

    async fn compact(
        &self,
        request: Request<PbCompactionRequest>,
    ) -> Result<Response<PbCompactionResponse>, Status> {
        let revision = request.into_inner().revision;
        let resp = self.node.write(mvcc::Request::Compact { revision }).await?;
        resp.result.map_err(Error::from)?;
        Ok(Response::new(PbCompactionResponse {
            header: Some(self.node.header(resp.revision)),
        }))
    }
}

/// The Lease service.
#[derive(Clone)]
pub struct LeaseService {
    pub node: RaftNode,
    pub lessor: Lessor,
}

#[tonic::async_trait]
impl PbLeaseService for LeaseService {
    async fn lease_grant(
        &self,
        request: Request<PbLeaseGrantRequest>,
    ) -> Result<Response<PbLeaseGrantResponse>, Status> {
        let req = request.into_inner();
        let (id, ttl, revision) = self.lessor.grant(req.id, req.ttl).await?;
        Ok(Response::new(PbLeaseGrantResponse {
            header: Some(self.node.header(revision)),
            id,
            ttl,
            error: String::new(),
        }))
    }

    async fn lease_revoke(
        &self,
        request: Request<PbLeaseRevokeRequest>,
    ) -> Result<Response<PbLeaseRevokeResponse>, Status> {
        let revision = self.lessor.revoke(request.into_inner().id).await?;
        Ok(Response::new(PbLeaseRevokeResponse {
            header: Some(self.node.header(revision)),
        }))
    }

    type LeaseKeepAliveStream = ReceiverStream<Result<PbLeaseKeepAliveResponse, Status>>;

    async fn lease_keep_alive(
        &self,
        request: Request<Streaming<PbLeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        let mut requests = request.into_inner();
        let (tx, rx) = mpsc::channel(16);
        let lessor = self.lessor.clone();
        let node = self.node.clone();
        tokio::spawn(
            async move {
                while let Ok(Some(req)) = requests.message().await {
                    // an unknown lease answers TTL 0, as etcd's keep-alive does
                    let reply = match lessor.keep_alive(req.id).await {
                        Ok(ttl) => Ok(PbLeaseKeepAliveResponse {
                            header: Some(node.current_header()),
                            id: req.id,
                            ttl,
                        }),
                        // no leader for the moment (an election): the client keeps sending,
                        // and the next request after the election renews the lease
                        Err(Error::Etcd(EtcdError::NoLeader | EtcdError::Timeout)) => continue,
                        Err(e) => Err(Status::from(e)),
                    };
                    if tx.send(reply).await.is_err() {
                        break;
                    }
                }
            }
            .instrument(info_span!("lease_keep_alive")),
        );
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn lease_time_to_live(
        &self,
        request: Request<PbLeaseTimeToLiveRequest>,
    ) -> Result<Response<PbLeaseTimeToLiveResponse>, Status> {
        let req = request.into_inner();
        self.node.linearizable().await?;
        let header = Some(self.node.current_header());
        let resp = match self.lessor.time_to_live(req.id, req.keys).await {
            Ok(ttl) => PbLeaseTimeToLiveResponse {
                header,
                id: req.id,
                ttl: ttl.remaining,
                granted_ttl: ttl.granted,
                keys: ttl.keys,
            },
            // etcd answers a missing lease with TTL -1, not an error
            Err(Error::Etcd(EtcdError::LeaseNotFound)) => PbLeaseTimeToLiveResponse {
                header,
                id: req.id,
                ttl: -1,
                granted_ttl: 0,
                keys: Vec::new(),
            },
            Err(e) => return Err(e.into()),
        };
        Ok(Response::new(resp))
    }

    async fn lease_leases(
        &self,
        _request: Request<PbLeaseLeasesRequest>,
    ) -> Result<Response<PbLeaseLeasesResponse>, Status> {
        self.node.linearizable().await?;
        Ok(Response::new(PbLeaseLeasesResponse {
            header: Some(self.node.current_header()),
            leases: self
                .lessor
                .leases()
                .into_iter()
                .map(|id| PbLeaseStatus { id })
                .collect(),
        }))
    }
}

/// The Maintenance service.
#[derive(Clone)]
pub struct MaintenanceService {
    pub node: RaftNode,
}

/// etcd's HashKV at `revision` (0: now) over the applied state.
fn hash_kv(node: &RaftNode, revision: i64) -> Result<mvcc::hash::KvHash, Error> {
    node.sm.read(|st, h| st.mvcc.hash_kv(h, revision))
}

#[tonic::async_trait]
impl PbMaintenanceService for MaintenanceService {
    async fn alarm(
        &self,
        _request: Request<PbAlarmRequest>,
    ) -> Result<Response<PbAlarmResponse>, Status> {
        Ok(Response::new(PbAlarmResponse {
            header: Some(self.node.current_header()),
            alarms: Vec::new(),
        }))
    }

    async fn status(
        &self,
        _request: Request<PbStatusRequest>,
    ) -> Result<Response<PbStatusResponse>, Status> {
        let (leader, raft_index, raft_term, applied, is_learner) = {
            let m = self.node.raft.metrics();
            let m = m.borrow();
            let learner = m
                .membership_config
                .membership()
                .learner_ids()
                .any(|id| id == self.node.id);
            (
                m.current_leader.unwrap_or(0),
                m.last_log_index.unwrap_or(0),
                m.current_term,
                m.last_applied.map_or(0, |l| l.index),
                learner,
            )
        };
        let db = self.node.db.clone();
        let size = tokio::task::spawn_blocking(move || crate::db::size_bytes(&db))
            .await
            .unwrap_or(0) as i64;
        Ok(Response::new(PbStatusResponse {
            header: Some(self.node.current_header()),
            version: ETCD_VERSION.into(),
            db_size: size,
            leader,
            raft_index,
            raft_term,
            raft_applied_index: applied,
            errors: Vec::new(),
            db_size_in_use: size,
            is_learner,
            ..PbStatusResponse::default()
        }))
    }

    async fn defragment(
        &self,
        _request: Request<PbDefragmentRequest>,
    ) -> Result<Response<PbDefragmentResponse>, Status> {
        let db = self.node.db.clone();
        tokio::task::spawn_blocking(move || {
            for cf in [crate::db::CF_KV, crate::db::CF_LEASE, crate::db::CF_LOG] {
                db.compact_range_cf(crate::db::cf(&db, cf), None::<&[u8]>, None::<&[u8]>);
            }
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(PbDefragmentResponse {
            header: Some(self.node.current_header()),
        }))
    }

    async fn hash(
        &self,
        _request: Request<PbHashRequest>,
    ) -> Result<Response<PbHashResponse>, Status> {
        let node = self.node.clone();
        // etcd hashes its whole database file here; the keyspace's hash is our equivalent
        let kv = tokio::task::spawn_blocking(move || hash_kv(&node, 0))
            .await
            .map_err(|e| Status::internal(e.to_string()))??;
        Ok(Response::new(PbHashResponse {
            header: Some(self.node.header(kv.revision)),
            hash: kv.hash,
        }))
    }

    async fn hash_kv(
        &self,
        request: Request<PbHashKvRequest>,
    ) -> Result<Response<PbHashKvResponse>, Status> {
        let revision = request.into_inner().revision;
        let node = self.node.clone();
        let kv = tokio::task::spawn_blocking(move || hash_kv(&node, revision))
            .await
            .map_err(|e| Status::internal(e.to_string()))??;
        Ok(Response::new(PbHashKvResponse {
            header: Some(self.node.current_header()),
            hash: kv.hash,
            compact_revision: kv.compacted,
            hash_revision: kv.revision,
        }))
    }

    type SnapshotStream = ReceiverStream<Result<PbSnapshotResponse, Status>>;

    async fn snapshot(
        &self,
        _request: Request<PbSnapshotRequest>,
    ) -> Result<Response<Self::SnapshotStream>, Status> {
        let sm = self.node.sm.clone();
        let data = tokio::task::spawn_blocking(move || sm.export().map(with_checksum))
            .await
            .map_err(|e| Status::internal(e.to_string()))??;
        let header = self.node.current_header();
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(
            async move {
                const CHUNK: usize = 64 * 1024;
                let total = data.len();
                let mut sent = 0;
                for chunk in data.chunks(CHUNK) {
                    sent += chunk.len();
                    let resp = PbSnapshotResponse {
                        header: Some(header),
                        remaining_bytes: (total - sent) as u64,
                        blob: chunk.to_vec(),
                        version: ETCD_VERSION.into(),
                    };
                    if tx.send(Ok(resp)).await.is_err() {
                        return;
                    }
                }
            }
            .instrument(info_span!("snapshot_stream")),
        );
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn move_leader(
        &self,
        _request: Request<PbMoveLeaderRequest>,
    ) -> Result<Response<PbMoveLeaderResponse>, Status> {
        Err(Status::unimplemented("MoveLeader is not supported"))
    }

    async fn downgrade(
        &self,
        _request: Request<PbDowngradeRequest>,
    ) -> Result<Response<PbDowngradeResponse>, Status> {
        Err(Status::unimplemented("Downgrade is not supported"))
    }
}

/// Pads a snapshot to a multiple of 512 bytes and appends its SHA-256, the layout etcd's
/// snapshot stream has and `etcdctl snapshot save` checks (size % 512 == 32).
fn with_checksum(mut data: Vec<u8>) -> Vec<u8> {
    data.resize(data.len().div_ceil(512) * 512, 0);
    let digest = ring::digest::digest(&ring::digest::SHA256, &data);
    data.extend_from_slice(digest.as_ref());
    data
}

/// The Cluster service.
#[derive(Clone)]
pub struct ClusterService {
    pub node: RaftNode,
}

impl ClusterService {
    fn members(&self) -> Vec<PbMember> {
        let m = self.node.raft.metrics();
        let m = m.borrow();
        let membership = m.membership_config.membership();
        let learners: Vec<u64> = membership.learner_ids().collect();
        membership
            .nodes()
            .map(|(id, member)| PbMember {
                id: *id,
                name: member.name.clone(),
                peer_ur_ls: member.peer_urls.clone(),
                client_ur_ls: member.client_urls.clone(),
                is_learner: learners.contains(id),
            })
            .collect()
    }
}

/// Checks the peer URLs a MemberAdd or MemberUpdate carries; returns the first.
fn check_peer_urls(urls: &[String]) -> Result<&str, Status> {
    let first = urls
        .first()
        .ok_or_else(|| Status::invalid_argument("etcdserver: no peer URLs given"))?;
    for url in urls {
        crate::config::parse_endpoint(url).map_err(|e| Status::invalid_argument(e.to_string()))?;
    }
    Ok(first)
}

#[tonic::async_trait]
impl PbClusterService for ClusterService {
    async fn member_add(
        &self,
        request: Request<PbMemberAddRequest>,
    ) -> Result<Response<PbMemberAddResponse>, Status> {
        let req = request.into_inner();
        let id = crate::types::node_id_of(check_peer_urls(&req.peer_ur_ls)?);
        let member = Member {
            name: String::new(),
            peer_urls: req.peer_ur_ls.clone(),
            client_urls: Vec::new(),
        };
        self.node
            .change_members(MemberChange::Add {
                id,
                member,
                learner: req.is_learner,
            })
            .await?;
        Ok(Response::new(PbMemberAddResponse {
            header: Some(self.node.current_header()),
            member: Some(PbMember {
                id,
                name: String::new(),
                peer_ur_ls: req.peer_ur_ls,
                client_ur_ls: Vec::new(),
                is_learner: req.is_learner,
            }),
            members: self.members(),
        }))
    }

    async fn member_remove(
        &self,
        request: Request<PbMemberRemoveRequest>,
    ) -> Result<Response<PbMemberRemoveResponse>, Status> {
        let id = request.into_inner().id;
        self.node
            .change_members(MemberChange::Remove { id })
            .await?;
        Ok(Response::new(PbMemberRemoveResponse {
            header: Some(self.node.current_header()),
            members: self.members(),
        }))
    }

    async fn member_update(
        &self,
        request: Request<PbMemberUpdateRequest>,
    ) -> Result<Response<PbMemberUpdateResponse>, Status> {
        let req = request.into_inner();
        check_peer_urls(&req.peer_ur_ls)?;
        self.node
            .change_members(MemberChange::UpdatePeers {
                id: req.id,
                peer_urls: req.peer_ur_ls,
            })
            .await?;
        Ok(Response::new(PbMemberUpdateResponse {
            header: Some(self.node.current_header()),
            members: self.members(),
        }))
    }

    async fn member_list(
        &self,
        request: Request<PbMemberListRequest>,
    ) -> Result<Response<PbMemberListResponse>, Status> {
        if request.into_inner().linearizable {
            self.node.linearizable().await?;
        }
        Ok(Response::new(PbMemberListResponse {
            header: Some(self.node.current_header()),
            members: self.members(),
        }))
    }

    async fn member_promote(
        &self,
        request: Request<PbMemberPromoteRequest>,
    ) -> Result<Response<PbMemberPromoteResponse>, Status> {
        let id = request.into_inner().id;
        self.node
            .change_members(MemberChange::Promote { id })
            .await?;
        Ok(Response::new(PbMemberPromoteResponse {
            header: Some(self.node.current_header()),
            members: self.members(),
        }))
    }
}
