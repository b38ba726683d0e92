//! Rudder's gRPC services, generated from the workspace's `proto/` directory.
//!
//! The etcd v3 API is not here: the store and the API server take it from the
//! `etcd-client` crate (its `build-server` feature), so our wire format is etcd's own.

pub mod grpc_error;

/// The `Api` service components and rudderctl use to reach the API server.
pub mod api {
    pub mod v1 {
        tonic::include_proto!("rudder.api.v1");
    }
}

/// Raft traffic between rudder-store members.
pub mod raft {
    pub mod v1 {
        tonic::include_proto!("rudder.raft.v1");
    }
}
