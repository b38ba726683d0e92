//! MVCC unit tests: every expectation below is what etcd 3.4 answers for the same sequence.

use super::*;

/// A keyspace with its history, applying requests as the state machine would.
#[derive(Default)]
struct Store {
    mvcc: Mvcc,
    history: MemHistory,
    events: Vec<Event>,
}

impl Store {
    fn apply(&mut self, req: Request) -> Response {
        let mut ws = WriteSet::default();
        let resp = self
            .mvcc
            .apply(&self.history, &mut ws, &req)
            .expect("apply");
        self.events.extend(self.history.commit(ws));
        resp
    }

    fn put(&mut self, key: &str, value: &str) -> i64 {
        let resp = self.apply(Request::Put(put(key, value)));
        resp.result.expect("put accepted");
        resp.revision
    }

    fn del(&mut self, key: &str, range_end: &str) -> DeleteRangeResponse {
        match self
            .apply(Request::DeleteRange(DeleteRangeRequest {
                key: key.into(),
                range_end: range_end.into(),
                prev_kv: true,
            }))
            .result
        {
            Ok(ResponseBody::DeleteRange(d)) => d,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn range(&self, req: RangeRequest) -> Result<RangeResponse> {
        self.mvcc.range(&self.history, &req)
    }

    fn get(&self, key: &str) -> Option<KeyValue> {
        self.range(get(key)).unwrap().kvs.into_iter().next()
    }

    fn get_at(&self, key: &str, rev: i64) -> Result<Option<KeyValue>> {
        self.range(RangeRequest {
            revision: rev,
            ..get(key)
        })
        .map(|r| r.kvs.into_iter().next())
    }

    fn txn(&mut self, txn: TxnRequest) -> (i64, TxnResponse) {
        let resp = self.apply(Request::Txn(txn));
        match resp.result {
            Ok(ResponseBody::Txn(t)) => (resp.revision, t),
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn put(key: &str, value: &str) -> PutRequest {
    PutRequest {
        key: key.into(),
        value: value.into(),
        ..PutRequest::default()
    }
}

fn get(key: &str) -> RangeRequest {
    RangeRequest {
        key: key.into(),
        ..RangeRequest::default()
    }
}

fn prefix(p: &str) -> RangeRequest {
    let mut end = p.as_bytes().to_vec();
    *end.last_mut().unwrap() += 1;
    RangeRequest {
        key: p.into(),
        range_end: end,
        ..RangeRequest::default()
    }
}

fn keys(resp: &RangeResponse) -> Vec<String> {
    resp.kvs
        .iter()
        .map(|kv| String::from_utf8(kv.key.clone()).unwrap())
        .collect()
}

fn cmp(key: &str, result: CompareResult, target: CompareTarget) -> Compare {
    Compare {
        key: key.into(),
        range_end: Vec::new(),
        result,
        target,
    }
}

#[test]
fn an_empty_store_is_at_revision_one_and_each_write_takes_the_next() {
    let mut s = Store::default();
    assert_eq!(s.mvcc.current_revision(), 1);
    assert_eq!(s.put("a", "1"), 2);
    assert_eq!(s.put("b", "1"), 3);
    assert_eq!(s.put("a", "2"), 4);
    let a = s.get("a").unwrap();
    assert_eq!(
        (
            a.create_revision,
            a.mod_revision,
            a.version,
            a.value.as_slice()
        ),
        (2, 4, 2, &b"2"[..])
    );
}

#[test]
fn a_delete_ends_a_generation_and_a_recreate_starts_a_new_one() {
    let mut s = Store::default();
    s.put("k", "v1"); // 2
    s.put("k", "v2"); // 3
    let d = s.del("k", "");
    assert_eq!(d.deleted, 1);
    assert_eq!(d.prev_kvs[0].value, b"v2");
    assert_eq!(s.mvcc.current_revision(), 4);
    assert_eq!(s.get("k"), None);
    s.put("k", "v3"); // 5
    let k = s.get("k").unwrap();
    assert_eq!((k.create_revision, k.mod_revision, k.version), (5, 5, 1));
}

#[test]
fn deleting_nothing_does_not_take_a_revision() {
    let mut s = Store::default();
    s.put("a", "1");
    let d = s.del("zz", "");
    assert_eq!(d.deleted, 0);
    assert_eq!(s.mvcc.current_revision(), 2);
}

#[test]
fn history_reads_see_the_key_as_it_was() {
    let mut s = Store::default();
    s.put("k", "v1"); // 2
    s.put("k", "v2"); // 3
    s.del("k", ""); // 4
    s.put("k", "v3"); // 5
    assert_eq!(s.get_at("k", 1).unwrap(), None);
    assert_eq!(s.get_at("k", 2).unwrap().unwrap().value, b"v1");
    assert_eq!(s.get_at("k", 3).unwrap().unwrap().version, 2);
    assert_eq!(s.get_at("k", 4).unwrap(), None);
    assert_eq!(s.get_at("k", 5).unwrap().unwrap().value, b"v3");
    let err = s.get_at("k", 6).unwrap_err();
    assert!(matches!(err, Error::Etcd(EtcdError::FutureRevision)));
    assert_eq!(
        err.to_string(),
        "etcdserver: mvcc: required revision is a future revision"
    );
}

#[test]
fn compaction_forgets_history_but_keeps_what_was_live() {
    let mut s = Store::default();
    s.put("a", "1"); // 2
    s.put("a", "2"); // 3
    s.put("b", "1"); // 4
    s.del("b", ""); // 5
    s.put("a", "3"); // 6
    let resp = s.apply(Request::Compact { revision: 5 });
    assert_eq!(resp.result, Ok(ResponseBody::Compact));
    assert_eq!(resp.revision, 6, "compaction takes no revision");

    let err = s.get_at("a", 4).unwrap_err();
    assert_eq!(
        err.to_string(),
        "etcdserver: mvcc: required revision has been compacted"
    );
    // the compaction revision itself is still readable
    assert_eq!(s.get_at("a", 5).unwrap().unwrap().value, b"2");
    assert_eq!(s.get_at("b", 5).unwrap(), None);
    assert_eq!(s.get("a").unwrap().version, 3);
    // rev 2 (a's first version), b's put and its tombstone are gone from history
    let left: Vec<i64> = s.history.records.keys().map(|r| r.main).collect();
    assert_eq!(left, vec![3, 6]);
    // compacting again at or below fails; above now too
    assert_eq!(
        s.apply(Request::Compact { revision: 5 }).result,
        Err(EtcdError::Compacted)
    );
    assert_eq!(
        s.apply(Request::Compact { revision: 7 }).result,
        Err(EtcdError::FutureRevision)
    );
}

#[test]
fn range_counts_every_match_even_when_limit_cuts() {
    let mut s = Store::default();
    for k in ["p/a", "p/b", "p/c", "q"] {
        s.put(k, "v");
    }
    let r = s
        .range(RangeRequest {
            limit: 2,
            ..prefix("p/")
        })
        .unwrap();
    assert_eq!(keys(&r), vec!["p/a", "p/b"]);
    assert_eq!((r.count, r.more), (3, true));

    let r = s
        .range(RangeRequest {
            limit: 3,
            ..prefix("p/")
        })
        .unwrap();
    assert_eq!((r.count, r.more), (3, false));

    let r = s
        .range(RangeRequest {
            count_only: true,
            ..prefix("p/")
        })
        .unwrap();
    assert_eq!((r.kvs.len(), r.count), (0, 3));

    let r = s
        .range(RangeRequest {
            keys_only: true,
            ..prefix("p/")
        })
        .unwrap();
    assert!(
        r.kvs
            .iter()
            .all(|kv| kv.value.is_empty() && kv.mod_revision > 0)
    );

    // from-key: every key ≥ "p/b"
    let r = s
        .range(RangeRequest {
            key: b"p/b".to_vec(),
            range_end: vec![0],
            ..RangeRequest::default()
        })
        .unwrap();
    assert_eq!(keys(&r), vec!["p/b", "p/c", "q"]);
}

#[test]
fn range_sorts_before_cutting() {
    let mut s = Store::default();
    s.put("a", "3");
    s.put("b", "1");
    s.put("c", "2");
    s.put("b", "4"); // b now has the highest mod revision
    let all = RangeRequest {
        key: vec![0],
        range_end: vec![0],
        ..RangeRequest::default()
    };
    let r = s
        .range(RangeRequest {
            sort_order: SortOrder::Descend,
            sort_target: SortTarget::Mod,
            limit: 2,
            ..all.clone()
        })
        .unwrap();
    assert_eq!(keys(&r), vec!["b", "c"]);
    assert_eq!((r.count, r.more), (3, true));
    let r = s
        .range(RangeRequest {
            sort_order: SortOrder::Ascend,
            sort_target: SortTarget::Value,
            ..all.clone()
        })
        .unwrap();
    assert_eq!(keys(&r), vec!["c", "a", "b"]);
    let r = s
        .range(RangeRequest {
            sort_order: SortOrder::Descend,
            ..all
        })
        .unwrap();
    assert_eq!(keys(&r), vec!["c", "b", "a"]);
}

#[test]
fn keys_and_values_are_arbitrary_bytes() {
    let mut s = Store::default();
    let key = vec![0xff, 0x00, 0xfe];
    let mut ws = WriteSet::default();
    s.mvcc
        .apply(
            &s.history,
            &mut ws,
            &Request::Put(PutRequest {
                key: key.clone(),
                value: vec![0, 159, 146, 150],
                ..PutRequest::default()
            }),
        )
        .unwrap();
    s.history.commit(ws);
    let r = s
        .range(RangeRequest {
            key: vec![0xff],
            range_end: vec![0],
            ..RangeRequest::default()
        })
        .unwrap();
    assert_eq!(r.kvs[0].key, key);
    assert_eq!(r.kvs[0].value, vec![0, 159, 146, 150]);
}

#[test]
fn txn_compares_every_target() {
    let mut s = Store::default();
    s.put("k", "v"); // 2
    s.put("k", "w"); // 3
    use CompareResult::*;
    use CompareTarget::*;
    let cases = [
        (cmp("k", Equal, Version(2)), true),
        (cmp("k", Greater, Version(1)), true),
        (cmp("k", Less, Version(2)), false),
        (cmp("k", Equal, Create(2)), true),
        (cmp("k", Equal, Mod(3)), true),
        (cmp("k", NotEqual, Mod(3)), false),
        (cmp("k", Equal, Value(b"w".to_vec())), true),
        (cmp("k", Greater, Value(b"a".to_vec())), true),
        (cmp("k", Equal, Lease(0)), true),
        // a missing key compares as zeroes, except on its value, which always fails
        (cmp("missing", Equal, Version(0)), true),
        (cmp("missing", Equal, Create(0)), true),
        (cmp("missing", Equal, Value(Vec::new())), false),
        (cmp("missing", NotEqual, Value(b"x".to_vec())), false),
    ];
    for (c, expected) in cases {
        let (_, t) = s.txn(TxnRequest {
            compare: vec![c.clone()],
            ..TxnRequest::default()
        });
        assert_eq!(t.succeeded, expected, "{c:?}");
    }
    // a range compare holds only if it holds for every key
    s.put("k2", "w");
    let mut c = cmp("k", Equal, Value(b"w".to_vec()));
    c.range_end = b"l".to_vec();
    assert!(
        s.txn(TxnRequest {
            compare: vec![c.clone()],
            ..TxnRequest::default()
        })
        .1
        .succeeded
    );
    s.put("k3", "x");
    assert!(
        !s.txn(TxnRequest {
            compare: vec![c],
            ..TxnRequest::default()
        })
        .1
        .succeeded
    );
}

#[test]
fn txn_writes_share_one_revision_and_reads_see_them() {
    let mut s = Store::default();
    s.put("a", "old"); // 2
    let (rev, t) = s.txn(TxnRequest {
        compare: vec![cmp(
            "a",
            CompareResult::Equal,
            CompareTarget::Value(b"old".to_vec()),
        )],
        success: vec![
            TxnOp::Put(put("a", "new")),
            TxnOp::Put(put("b", "1")),
            TxnOp::Range(get("b")),
        ],
        failure: vec![TxnOp::Put(put("failed", "1"))],
    });
    assert!(t.succeeded);
    assert_eq!(rev, 3);
    let TxnOpResponse::Range(r) = &t.responses[2] else {
        panic!("range response expected")
    };
    assert_eq!((r.count, r.kvs[0].mod_revision), (1, 3));
    let (_, t) = s.txn(TxnRequest {
        success: vec![TxnOp::Range(RangeRequest {
            key: vec![0],
            range_end: vec![0],
            ..RangeRequest::default()
        })],
        ..TxnRequest::default()
    });
    let TxnOpResponse::Range(r) = &t.responses[0] else {
        panic!("range response expected")
    };
    assert_eq!(keys(r), vec!["a", "b"]);
    assert!(r.kvs.iter().all(|kv| kv.mod_revision == 3));
    assert_eq!(
        s.mvcc.current_revision(),
        3,
        "a read-only txn takes no revision"
    );
    assert_eq!(s.get("failed"), None);
}

#[test]
fn txn_range_inside_a_write_sees_its_own_put() {
    let mut s = Store::default();
    let (rev, t) = s.txn(TxnRequest {
        success: vec![TxnOp::Put(put("x", "1")), TxnOp::Range(get("x"))],
        ..TxnRequest::default()
    });
    assert_eq!(rev, 2);
    let TxnOpResponse::Range(r) = &t.responses[1] else {
        panic!()
    };
    assert_eq!(r.kvs[0].value, b"1");
}

#[test]
fn nested_txn_compares_against_the_state_before_the_outer_txn() {
    let mut s = Store::default();
    s.put("a", "1");
    let (_, t) = s.txn(TxnRequest {
        success: vec![
            TxnOp::Put(put("a", "2")),
            TxnOp::Txn(TxnRequest {
                compare: vec![cmp(
                    "a",
                    CompareResult::Equal,
                    CompareTarget::Value(b"1".to_vec()),
                )],
                success: vec![TxnOp::Put(put("seen-old", "1"))],
                failure: vec![TxnOp::Put(put("seen-new", "1"))],
            }),
        ],
        ..TxnRequest::default()
    });
    let TxnOpResponse::Txn(inner) = &t.responses[1] else {
        panic!()
    };
    assert!(inner.succeeded);
    assert!(s.get("seen-old").is_some());
}

#[test]
fn txn_with_a_missing_lease_changes_nothing() {
    let mut s = Store::default();
    let resp = s.apply(Request::Txn(TxnRequest {
        success: vec![
            TxnOp::Put(put("a", "1")),
            TxnOp::Put(PutRequest {
                lease: 42,
                ..put("b", "1")
            }),
        ],
        ..TxnRequest::default()
    }));
    assert_eq!(resp.result, Err(EtcdError::LeaseNotFound));
    assert_eq!(resp.revision, 1);
    assert_eq!(s.get("a"), None);
    assert_eq!(
        EtcdError::LeaseNotFound.to_string(),
        "etcdserver: requested lease not found"
    );
}

#[test]
fn validate_txn_refuses_duplicate_keys_and_too_many_ops() {
    let dup = TxnRequest {
        success: vec![TxnOp::Put(put("a", "1")), TxnOp::Put(put("a", "2"))],
        ..TxnRequest::default()
    };
    assert_eq!(validate_txn(&dup), Err(EtcdError::DuplicateKey));
    let overlap = TxnRequest {
        failure: vec![
            TxnOp::Put(put("p/a", "1")),
            TxnOp::DeleteRange(DeleteRangeRequest {
                key: b"p/".to_vec(),
                range_end: b"p0".to_vec(),
                prev_kv: false,
            }),
        ],
        ..TxnRequest::default()
    };
    assert_eq!(validate_txn(&overlap), Err(EtcdError::DuplicateKey));
    let many = TxnRequest {
        success: (0..129)
            .map(|i| TxnOp::Put(put(&i.to_string(), "v")))
            .collect(),
        ..TxnRequest::default()
    };
    assert_eq!(validate_txn(&many), Err(EtcdError::TooManyOps));
    let fine = TxnRequest {
        success: vec![TxnOp::Put(put("a", "1"))],
        failure: vec![TxnOp::Put(put("a", "2"))],
        ..TxnRequest::default()
    };
    assert_eq!(validate_txn(&fine), Ok(()));
}

#[test]
fn put_keeps_value_or_lease_of_an_existing_key_only() {
    let mut s = Store::default();
    let r = s.apply(Request::Put(PutRequest {
        ignore_value: true,
        ..put("a", "")
    }));
    assert_eq!(r.result, Err(EtcdError::KeyNotFound));
    s.apply(Request::LeaseGrant { id: 7, ttl: 60 })
        .result
        .unwrap();
    s.apply(Request::Put(PutRequest {
        lease: 7,
        ..put("a", "v")
    }))
    .result
    .unwrap();
    let r = s.apply(Request::Put(PutRequest {
        ignore_value: true,
        ignore_lease: true,
        prev_kv: true,
        ..put("a", "")
    }));
    let Ok(ResponseBody::Put(p)) = r.result else {
        panic!("{r:?}")
    };
    assert_eq!(p.prev_kv.unwrap().value, b"v");
    let a = s.get("a").unwrap();
    assert_eq!((a.value.as_slice(), a.lease, a.version), (&b"v"[..], 7, 2));
}

#[test]
fn leases_attach_keys_and_revoke_deletes_them_in_one_revision() {
    let mut s = Store::default();
    assert_eq!(
        s.apply(Request::LeaseGrant { id: 5, ttl: 10 }).result,
        Ok(ResponseBody::LeaseGrant { id: 5, ttl: 10 })
    );
    assert_eq!(
        s.apply(Request::LeaseGrant { id: 5, ttl: 10 }).result,
        Err(EtcdError::LeaseExists)
    );
    for k in ["l/a", "l/b"] {
        s.apply(Request::Put(PutRequest {
            lease: 5,
            ..put(k, "v")
        }))
        .result
        .unwrap();
    }
    s.put("l/c", "v");
    // re-putting l/b without a lease detaches it
    s.put("l/b", "v2");
    let lease = s.mvcc.lease(5).unwrap();
    assert_eq!(
        lease.keys.iter().cloned().collect::<Vec<_>>(),
        vec![b"l/a".to_vec()]
    );
    let before = s.mvcc.current_revision();
    let r = s.apply(Request::LeaseRevoke { id: 5 });
    assert_eq!(r.result, Ok(ResponseBody::LeaseRevoke));
    assert_eq!(r.revision, before + 1);
    assert_eq!(s.get("l/a"), None);
    assert!(s.get("l/b").is_some());
    assert!(s.mvcc.lease(5).is_none());
    assert_eq!(
        s.apply(Request::LeaseRevoke { id: 5 }).result,
        Err(EtcdError::LeaseNotFound)
    );
    assert_eq!(
        s.apply(Request::LeaseGrant {
            id: 6,
            ttl: MAX_LEASE_TTL + 1
        })
        .result,
        Err(EtcdError::LeaseTtlTooLarge)
    );
}

#[test]
fn delete_events_carry_only_key_and_mod_revision() {
    let mut s = Store::default();
    s.put("a", "1");
    s.del("a", "");
    assert_eq!(s.events.len(), 2);
    assert_eq!(s.events[0].kind, EventKind::Put);
    assert_eq!(
        s.events[1],
        Event {
            kind: EventKind::Delete,
            kv: KeyValue {
                key: b"a".to_vec(),
                mod_revision: 3,
                ..KeyValue::default()
            }
        }
    );
}

#[test]
fn watch_replay_yields_history_in_order_with_prev_kv() {
    let mut s = Store::default();
    s.put("w/a", "1"); // 2
    s.put("x", "1"); // 3
    s.put("w/a", "2"); // 4
    s.txn(TxnRequest {
        success: vec![TxnOp::Put(put("w/b", "1")), TxnOp::Put(put("w/c", "1"))],
        ..TxnRequest::default()
    }); // 5.0, 5.1
    s.del("w/", "w0"); // 6.0..6.2
    let records = s.history.scan(3, usize::MAX).unwrap();
    let events = replay_events(records, b"w/", b"w0");
    let summary: Vec<(EventKind, String, i64)> = events
        .iter()
        .map(|e| {
            (
                e.kind,
                String::from_utf8(e.kv.key.clone()).unwrap(),
                e.kv.mod_revision,
            )
        })
        .collect();
    use EventKind::*;
    assert_eq!(
        summary,
        vec![
            (Put, "w/a".into(), 4),
            (Put, "w/b".into(), 5),
            (Put, "w/c".into(), 5),
            (Delete, "w/a".into(), 6),
            (Delete, "w/b".into(), 6),
            (Delete, "w/c".into(), 6),
        ]
    );
    // what the live events said is what replay says
    let live: Vec<&Event> = s
        .events
        .iter()
        .filter(|e| e.kv.mod_revision >= 3 && e.kv.key.starts_with(b"w/"))
        .collect();
    assert_eq!(live.len(), events.len());
    assert!(live.iter().zip(&events).all(|(a, b)| *a == b));

    let prev = s.mvcc.prev_kv(&s.history, b"w/a", 4).unwrap().unwrap();
    assert_eq!((prev.value.as_slice(), prev.mod_revision), (&b"1"[..], 2));
    let prev = s.mvcc.prev_kv(&s.history, b"w/a", 6).unwrap().unwrap();
    assert_eq!(prev.value, b"2");
    assert_eq!(s.mvcc.prev_kv(&s.history, b"w/b", 5).unwrap(), None);
}

#[test]
fn a_keyspace_rebuilt_from_history_answers_the_same() {
    let mut s = Store::default();
    s.apply(Request::LeaseGrant { id: 9, ttl: 30 })
        .result
        .unwrap();
    s.put("a", "1");
    s.put("a", "2");
    s.apply(Request::Put(PutRequest {
        lease: 9,
        ..put("b", "1")
    }))
    .result
    .unwrap();
    s.del("a", "");
    s.put("a", "3");
    s.put("c", "1");
    s.apply(Request::Compact { revision: 4 }).result.unwrap();
    s.put("c", "2");

    let mut rebuilt = Mvcc::restored(s.mvcc.current_revision(), s.mvcc.compacted_revision());
    rebuilt.restore_lease(&LeaseRecord { id: 9, ttl: 30 });
    for (rev, rec) in &s.history.records {
        rebuilt.restore_record(*rev, rec);
    }
    for rev in 4..=s.mvcc.current_revision() {
        let all = RangeRequest {
            key: vec![0],
            range_end: vec![0],
            revision: rev,
            ..RangeRequest::default()
        };
        assert_eq!(
            rebuilt.range(&s.history, &all).unwrap(),
            s.mvcc.range(&s.history, &all).unwrap(),
            "at revision {rev}"
        );
    }
    assert_eq!(rebuilt.lease(9), s.mvcc.lease(9));
    assert_eq!(rebuilt.current_revision(), s.mvcc.current_revision());
}
