//! The rocksdb log store and state machine across reopen, snapshot transfer and the watch
//! feed: what the openraft suite does not look at.

use std::collections::BTreeSet;

use openraft::storage::{RaftLogStorage, RaftStateMachine};
use openraft::{CommittedLeaderId, EntryPayload, Membership, RaftLogReader, RaftSnapshotBuilder};
use rudder_store::db;
use rudder_store::log_store::LogStore;
use rudder_store::metrics::StoreMetrics;
use rudder_store::mvcc::{
    DeleteRangeRequest, PutRequest, RangeRequest, RangeResponse, Request, ResponseBody,
};
use rudder_store::state_machine::StateMachine;
use rudder_store::types::{Entry, LogId, Vote};
use tempfile::TempDir;

fn log_id(index: u64) -> LogId {
    LogId::new(CommittedLeaderId::new(1, 1), index)
}

fn entry(index: u64, req: Request) -> Entry {
    Entry {
        log_id: log_id(index),
        payload: EntryPayload::Normal(req),
    }
}

fn put(key: &str, value: &str, lease: i64) -> Request {
    Request::Put(PutRequest {
        key: key.into(),
        value: value.into(),
        lease,
        ..PutRequest::default()
    })
}

fn all_at(revision: i64) -> RangeRequest {
    RangeRequest {
        key: vec![0],
        range_end: vec![0],
        revision,
        ..RangeRequest::default()
    }
}

fn open_sm(dir: &TempDir) -> StateMachine {
    let db = db::open(&dir.path().join("db")).expect("open db");
    StateMachine::open(db, &dir.path().join("snap"), StoreMetrics::new()).expect("open sm")
}

/// Applies a history with every kind of change; returns the revision reached.
async fn fill(sm: &mut StateMachine) -> i64 {
    let membership = Membership::new(vec![BTreeSet::from([1u64])], None);
    let mut entries = vec![Entry {
        log_id: log_id(1),
        payload: EntryPayload::Membership(membership),
    }];
    let reqs = vec![
        Request::LeaseGrant { id: 7, ttl: 60 },
        put("a", "1", 0),
        put("a", "2", 0),
        put("leased", "x", 7),
        put("b", "1", 0),
        Request::DeleteRange(DeleteRangeRequest {
            key: b"b".to_vec(),
            range_end: Vec::new(),
            prev_kv: false,
        }),
        Request::Compact { revision: 3 },
        put("c", "1", 0),
    ];
    for (i, req) in reqs.into_iter().enumerate() {
        entries.push(entry(i as u64 + 2, req));
    }
    let responses = sm.apply(entries).await.expect("apply");
    for r in &responses {
        assert!(r.result.is_ok(), "{r:?}");
    }
    responses.last().expect("responses").revision
}

fn snapshot_of(sm: &StateMachine, revision: i64) -> Vec<RangeResponse> {
    (3..=revision)
        .map(|rev| sm.range(&all_at(rev)).expect("range"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_machine_rebuilds_itself_from_rocksdb_on_reopen() {
    let dir = TempDir::new().expect("temp dir");
    let mut sm = open_sm(&dir);
    let revision = fill(&mut sm).await;
    assert_eq!(revision, 7);
    let before = snapshot_of(&sm, revision);
    let applied = sm.applied_state().await.expect("applied");
    drop(sm);

    let mut reopened = open_sm(&dir);
    assert_eq!(reopened.applied_state().await.expect("applied"), applied);
    assert_eq!(reopened.current_revision(), revision);
    assert_eq!(snapshot_of(&reopened, revision), before);
    reopened.read(|st, _| {
        assert_eq!(st.mvcc.compacted_revision(), 3);
        let lease = st.mvcc.lease(7).expect("lease survives");
        assert_eq!(
            lease.keys.iter().cloned().collect::<Vec<_>>(),
            vec![b"leased".to_vec()]
        );
    });
    // and it keeps counting from where it was
    let r = reopened
        .apply(vec![entry(20, put("d", "1", 0))])
        .await
        .expect("apply");
    assert_eq!(r[0].revision, revision + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_installed_elsewhere_reproduces_the_keyspace() {
    let leader_dir = TempDir::new().expect("temp dir");
    let mut leader = open_sm(&leader_dir);
    let revision = fill(&mut leader).await;
    let snap = leader
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .expect("build");

    let follower_dir = TempDir::new().expect("temp dir");
    let mut follower = open_sm(&follower_dir);
    // the follower had diverging data that the snapshot must replace
    follower
        .apply(vec![entry(1, put("stale", "x", 0))])
        .await
        .expect("apply");
    follower
        .install_snapshot(&snap.meta, snap.snapshot)
        .await
        .expect("install");
    assert_eq!(
        snapshot_of(&follower, revision),
        snapshot_of(&leader, revision)
    );
    assert_eq!(
        follower.applied_state().await.expect("applied"),
        leader.applied_state().await.expect("applied")
    );
    assert!(
        follower
            .range(&all_at(0))
            .expect("range")
            .kvs
            .iter()
            .all(|kv| kv.key != b"stale")
    );
    let current = follower
        .get_current_snapshot()
        .await
        .expect("current")
        .expect("some");
    assert_eq!(current.meta, snap.meta);
    // installed state is durable
    drop(follower);
    let reopened = open_sm(&follower_dir);
    assert_eq!(
        snapshot_of(&reopened, revision),
        snapshot_of(&leader, revision)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_receive_each_applied_batch() {
    let dir = TempDir::new().expect("temp dir");
    let mut sm = open_sm(&dir);
    let mut feed = sm.subscribe();
    sm.apply(vec![entry(1, put("w", "1", 0)), entry(2, put("w", "2", 0))])
        .await
        .expect("apply");
    let batch = feed.recv().await.expect("batch");
    assert_eq!(batch.revision, 3);
    let revs: Vec<i64> = batch.events.iter().map(|e| e.kv.mod_revision).collect();
    assert_eq!(revs, vec![2, 3]);
    let resp = sm
        .apply(vec![entry(3, Request::LeaseRevoke { id: 99 })])
        .await
        .expect("apply");
    assert!(matches!(
        resp[0].result,
        Err(rudder_store::EtcdError::LeaseNotFound)
    ));
    assert!(!matches!(resp[0].result, Ok(ResponseBody::Empty)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_and_vote_survive_reopen() {
    let dir = TempDir::new().expect("temp dir");
    let metrics = StoreMetrics::new();
    {
        let db = db::open(&dir.path().join("db")).expect("open db");
        let mut log = LogStore::new(db, 1, &metrics).expect("log");
        log.save_vote(&Vote::new(3, 1)).await.expect("vote");
        for i in 1..=5 {
            openraft::storage::RaftLogStorageExt::blocking_append(
                &mut log,
                [Entry {
                    log_id: log_id(i),
                    payload: EntryPayload::Blank,
                }],
            )
            .await
            .expect("append");
        }
        log.purge(log_id(2)).await.expect("purge");
        log.truncate(log_id(5)).await.expect("truncate");
    }
    let db = db::open(&dir.path().join("db")).expect("reopen db");
    let mut log = LogStore::new(db, 1, &metrics).expect("log");
    assert_eq!(log.read_vote().await.expect("vote"), Some(Vote::new(3, 1)));
    let state = log.get_log_state().await.expect("state");
    assert_eq!(state.last_purged_log_id, Some(log_id(2)));
    assert_eq!(state.last_log_id, Some(log_id(4)));
    let entries = log.try_get_log_entries(0..10).await.expect("entries");
    let indexes: Vec<u64> = entries.iter().map(|e| e.log_id.index).collect();
    assert_eq!(indexes, vec![3, 4]);
    assert!(
        metrics.wal_fsync_seconds.get_sample_count() >= 5,
        "each append waited for an fsync"
    );
}

/// Appends `entries` and waits for openraft's flushed callback.
async fn append(log: &mut LogStore, entries: Vec<Entry>) {
    openraft::storage::RaftLogStorageExt::blocking_append(log, entries)
        .await
        .expect("append");
}

fn voters(ids: &[u64]) -> Entry {
    let voters: BTreeSet<u64> = ids.iter().copied().collect();
    Entry {
        log_id: log_id(1),
        payload: EntryPayload::Membership(Membership::new(vec![voters], None)),
    }
}

/// The log of member 1, leader of term 1, opened on `dir`; a fresh log first records a
/// membership of `members` voters.
async fn leader_log(dir: &TempDir, metrics: &StoreMetrics, members: &[u64]) -> LogStore {
    let db = db::open(&dir.path().join("db")).expect("open db");
    let mut log = LogStore::new(db, 1, metrics).expect("log");
    if log
        .get_log_state()
        .await
        .expect("state")
        .last_log_id
        .is_none()
    {
        log.save_vote(&Vote::new_committed(1, 1))
            .await
            .expect("vote");
        append(&mut log, vec![voters(members)]).await;
    }
    log
}

async fn append_puts(log: &mut LogStore, indexes: std::ops::RangeInclusive<u64>) {
    for i in indexes {
        append(log, vec![entry(i, Request::Compact { revision: 1 })]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_voter_leader_reports_entries_flushed_only_once_on_disk() {
    let dir = TempDir::new().expect("temp dir");
    let metrics = StoreMetrics::new();
    let mut log = leader_log(&dir, &metrics, &[1]).await;
    let durability = log.durability();
    for i in 2..=20 {
        append_puts(&mut log, i..=i).await;
        assert!(
            durability.is_durable(i),
            "entry {i} was reported flushed before its fsync"
        );
    }
    assert_eq!(metrics.log_appends_acked_early.get(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_of_three_reports_its_entries_early_and_they_reach_the_disk() {
    let dir = TempDir::new().expect("temp dir");
    let metrics = StoreMetrics::new();
    {
        let mut log = leader_log(&dir, &metrics, &[1, 2, 3]).await;
        let durability = log.durability();
        assert!(
            durability.is_durable(1),
            "membership entries are never early"
        );
        append_puts(&mut log, 2..=20).await;
        assert_eq!(metrics.log_appends_acked_early.get(), 19);
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            durability.wait_durable(20),
        )
        .await
        .expect("the flusher covers early-acknowledged entries");
    }
    // Reopened, the log knows from its own entries that it leads three members.
    let mut log = leader_log(&dir, &metrics, &[1, 2, 3]).await;
    assert_eq!(
        log.try_get_log_entries(0..100)
            .await
            .expect("entries")
            .len(),
        20
    );
    append_puts(&mut log, 21..=21).await;
    assert_eq!(metrics.log_appends_acked_early.get(), 20);
    // Truncating the membership entry away leaves a log that cannot tell: fsync first.
    log.truncate(log_id(1)).await.expect("truncate");
    append_puts(&mut log, 1..=1).await;
    assert_eq!(metrics.log_appends_acked_early.get(), 20);
}
