//! Conversions between etcd's wire messages (from `etcd-client`'s `build-server` protos) and
//! the store's domain types, in one place.

use etcd_client::proto::{
    PbCompare, PbDeleteRequest, PbDeleteResponse, PbEvent, PbKeyValue, PbPutRequest, PbPutResponse,
    PbRangeRequest, PbRangeResponse, PbResponseHeader, PbResponseOp, PbTargetUnion, PbTxnOpRequest,
    PbTxnOpResponse, PbTxnRequest, PbTxnResponse,
};

use crate::mvcc::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, DeleteRangeResponse, Event,
    EventKind, KeyValue, PutRequest, PutResponse, RangeRequest, RangeResponse, SortOrder,
    SortTarget, TxnOp, TxnOpResponse, TxnRequest, TxnResponse,
};

pub fn kv_to_pb(kv: KeyValue) -> PbKeyValue {
    PbKeyValue {
        key: kv.key,
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
        value: kv.value,
        lease: kv.lease,
    }
}

/// etcd's `mvccpb.Event`: type 0 is PUT, 1 is DELETE.
pub fn event_to_pb(event: Event, prev_kv: Option<KeyValue>) -> PbEvent {
    PbEvent {
        r#type: match event.kind {
            EventKind::Put => 0,
            EventKind::Delete => 1,
        },
        kv: Some(kv_to_pb(event.kv)),
        prev_kv: prev_kv.map(kv_to_pb),
    }
}

pub fn range_from_pb(r: PbRangeRequest) -> RangeRequest {
    RangeRequest {
        key: r.key,
        range_end: r.range_end,
        limit: r.limit,
        revision: r.revision,
        sort_order: match r.sort_order {
            1 => SortOrder::Ascend,
            2 => SortOrder::Descend,
            _ => SortOrder::None,
        },
        sort_target: match r.sort_target {
            1 => SortTarget::Version,
            2 => SortTarget::Create,
            3 => SortTarget::Mod,
            4 => SortTarget::Value,
            _ => SortTarget::Key,
        },
        serializable: r.serializable,
        keys_only: r.keys_only,
        count_only: r.count_only,
        min_mod_revision: r.min_mod_revision,
        max_mod_revision: r.max_mod_revision,
        min_create_revision: r.min_create_revision,
        max_create_revision: r.max_create_revision,
    }
}

pub fn range_to_pb(r: RangeResponse, header: PbResponseHeader) -> PbRangeResponse {
    PbRangeResponse {
        header: Some(header),
        kvs: r.kvs.into_iter().map(kv_to_pb).collect(),
        more: r.more,
        count: r.count,
    }
}

pub fn put_from_pb(p: PbPutRequest) -> PutRequest {
    PutRequest {
        key: p.key,
        value: p.value,
        lease: p.lease,
        prev_kv: p.prev_kv,
        ignore_value: p.ignore_value,
        ignore_lease: p.ignore_lease,
    }
}

pub fn put_to_pb(p: PutResponse, header: PbResponseHeader) -> PbPutResponse {
    PbPutResponse {
        header: Some(header),
        prev_kv: p.prev_kv.map(kv_to_pb),
    }
}

pub fn delete_from_pb(d: PbDeleteRequest) -> DeleteRangeRequest {
    DeleteRangeRequest {
        key: d.key,
        range_end: d.range_end,
        prev_kv: d.prev_kv,
    }
}

pub fn delete_to_pb(d: DeleteRangeResponse, header: PbResponseHeader) -> PbDeleteResponse {
    PbDeleteResponse {
        header: Some(header),
        deleted: d.deleted,
        prev_kvs: d.prev_kvs.into_iter().map(kv_to_pb).collect(),
    }
}

fn compare_from_pb(c: PbCompare) -> Compare {
    let u = c.target_union;
    let int = |want: fn(&PbTargetUnion) -> Option<i64>| u.as_ref().and_then(want).unwrap_or(0);
    let target = match c.target {
        1 => CompareTarget::Create(int(|u| match u {
            PbTargetUnion::CreateRevision(v) => Some(*v),
            _ => None,
        })),
        2 => CompareTarget::Mod(int(|u| match u {
            PbTargetUnion::ModRevision(v) => Some(*v),
            _ => None,
        })),
        3 => CompareTarget::Value(match &u {
            Some(PbTargetUnion::Value(v)) => v.clone(),
            _ => Vec::new(),
        }),
        4 => CompareTarget::Lease(int(|u| match u {
            PbTargetUnion::Lease(v) => Some(*v),
            _ => None,
        })),
        _ => CompareTarget::Version(int(|u| match u {
            PbTargetUnion::Version(v) => Some(*v),
            _ => None,
        })),
    };
    Compare {
        key: c.key,
        range_end: c.range_end,
        result: match c.result {
            1 => CompareResult::Greater,
            2 => CompareResult::Less,
            3 => CompareResult::NotEqual,
            _ => CompareResult::Equal,
        },
        target,
    }
}

fn ops_from_pb(ops: Vec<etcd_client::proto::PbTxnRequestOp>) -> Vec<TxnOp> {
    ops.into_iter()
        .filter_map(|op| op.request)
        .map(|req| match req {
            PbTxnOpRequest::RequestRange(r) => TxnOp::Range(range_from_pb(r)),
            PbTxnOpRequest::RequestPut(p) => TxnOp::Put(put_from_pb(p)),
            PbTxnOpRequest::RequestDeleteRange(d) => TxnOp::DeleteRange(delete_from_pb(d)),
            PbTxnOpRequest::RequestTxn(t) => TxnOp::Txn(txn_from_pb(t)),
        })
        .collect()
}

pub fn txn_from_pb(t: PbTxnRequest) -> TxnRequest {
    TxnRequest {
        compare: t.compare.into_iter().map(compare_from_pb).collect(),
        success: ops_from_pb(t.success),
        failure: ops_from_pb(t.failure),
    }
}

/// A txn's response; every nested response carries the same header, as etcd's do.
pub fn txn_to_pb(t: TxnResponse, header: PbResponseHeader) -> PbTxnResponse {
    PbTxnResponse {
        header: Some(header),
        succeeded: t.succeeded,
        responses: t
            .responses
            .into_iter()
            .map(|r| PbResponseOp {
                response: Some(match r {
                    TxnOpResponse::Range(r) => {
                        PbTxnOpResponse::ResponseRange(range_to_pb(r, header))
                    }
                    TxnOpResponse::Put(p) => PbTxnOpResponse::ResponsePut(put_to_pb(p, header)),
                    TxnOpResponse::DeleteRange(d) => {
                        PbTxnOpResponse::ResponseDeleteRange(delete_to_pb(d, header))
                    }
                    TxnOpResponse::Txn(t) => PbTxnOpResponse::ResponseTxn(txn_to_pb(t, header)),
                }),
            })
            .collect(),
    }
}

/// True when a txn only reads, so it can be served without going through raft.
pub fn txn_is_read_only(t: &TxnRequest) -> bool {
    t.success.iter().chain(&t.failure).all(|op| match op {
        TxnOp::Range(_) => true,
        TxnOp::Txn(inner) => txn_is_read_only(inner),
        _ => false,
    })
}
