//! openraft's own storage test suite, run against the rocksdb log store and state machine.

use openraft::StorageError;
use openraft::testing::{StoreBuilder, Suite};
use rudder_store::db;
use rudder_store::log_store::LogStore;
use rudder_store::metrics::StoreMetrics;
use rudder_store::state_machine::StateMachine;
use rudder_store::types::{NodeId, TypeConfig};
use tempfile::TempDir;

/// Each suite case gets a fresh data directory, removed when the guard drops.
struct RocksBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for RocksBuilder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), StorageError<NodeId>> {
        let dir = TempDir::new().expect("temp dir");
        let db = db::open(&dir.path().join("db")).expect("open rocksdb");
        let metrics = StoreMetrics::new();
        let log = LogStore::new(db.clone(), 1, &metrics).expect("log store");
        let sm = StateMachine::open(db, &dir.path().join("snap"), metrics).expect("state machine");
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_storage_suite() {
    if let Err(e) = Suite::test_all(RocksBuilder) {
        panic!("openraft storage suite failed: {e}");
    }
}
