//! The API server's only door to the store: the etcd v3 API through `etcd-client`,
//! the same against rudder-store and a real etcd cluster.
//!
//! Contract: values are opaque bytes (the registry stores object JSON); an object's
//! `resourceVersion` is its key's `mod_revision`; every conditional write is one
//! etcd transaction comparing `mod_revision` (0 meaning "absent"), so two API server
//! replicas on one store can never lose each other's writes.

use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, Txn, TxnOp, TxnOpResponse,
    WatchOptions,
};
use rudder_pki::TlsPaths;

use crate::error::{Error, Result};

/// One key as read from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredValue {
    /// The full key (`/registry/pods/default/web`).
    pub key: Vec<u8>,
    /// The stored bytes.
    pub value: Vec<u8>,
    /// The revision of the key's last change: the object's `resourceVersion`.
    pub mod_revision: i64,
}

/// One page of a range read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangePage {
    /// Keys in order.
    pub items: Vec<StoredValue>,
    /// The store revision the page was read at.
    pub revision: i64,
    /// Whether keys remain in the range past this page.
    pub more: bool,
    /// How many keys the whole range holds at `revision`.
    pub count: i64,
}

/// The result of a compare-and-swap write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Swap {
    /// Written; the new `mod_revision`.
    Done(i64),
    /// The key's revision was not the expected one; what is stored now (None: absent).
    Mismatch(Option<StoredValue>),
}

/// How to reach the store: `--etcd-servers` and the optional mTLS trio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// `http://` or `https://` client URLs.
    pub endpoints: Vec<String>,
    /// Client TLS (`--etcd-cafile`, `--etcd-certfile`, `--etcd-keyfile`).
    pub tls: Option<TlsPaths>,
}

/// A cheap-to-clone handle on the store.
#[derive(Clone)]
pub struct Storage {
    client: Client,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage").finish_non_exhaustive()
    }
}

/// etcd's server name for TLS is the endpoint host; every member certificate carries
/// its loopback and DNS names, so verify against the first endpoint's host.
fn tls_domain(endpoint: &str) -> String {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    let host_port = rest.split('/').next().unwrap_or(rest);
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6).to_string();
    }
    host_port
        .rsplit_once(':')
        .map_or(host_port, |(h, _)| h)
        .to_string()
}

/// The largest store answer taken, as Go's etcd client (math.MaxInt32).
const MAX_RESPONSE_BYTES: usize = i32::MAX as usize;

impl Storage {
    /// Connects to the store. The channel is established lazily by the client and
    /// re-established on failure; a store that is down makes requests fail with 503,
    /// not the server exit.
    pub async fn connect(config: &StoreConfig) -> Result<Self> {
        let mut options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5));
        if let Some(tls) = &config.tls {
            let domain = tls_domain(config.endpoints.first().map_or("", String::as_str));
            let tls = tls
                .tonic_client(&domain)
                .map_err(|e| Error::Startup(format!("etcd client TLS: {e}")))?;
            options = options.with_tls(tls);
        }
        let client = Client::connect(&config.endpoints, Some(options))
            .await
            .map_err(|e| Error::Startup(format!("cannot reach the store: {e}")))?;
        Ok(Storage { client })
    }

    /// A KV client that takes answers of any size the store sends: a list of every
    /// object of a resource is one range (10,000 pods are ~8 MB, past gRPC's 4 MiB
    /// default), as kube-apiserver reads it.
    fn kv(&self) -> etcd_client::KvClient {
        self.client
            .kv_client()
            .max_decoding_message_size(MAX_RESPONSE_BYTES)
    }

    /// Reads one key at the latest revision (a linearizable read).
    pub async fn get(&self, key: &[u8]) -> Result<Option<StoredValue>> {
        let _timer = crate::metrics::store_request("get", key);
        let mut kv = self.kv();
        let resp = kv.get(key, None).await.map_err(map_err)?;
        Ok(resp.kvs().first().map(|kv| StoredValue {
            key: kv.key().to_vec(),
            value: kv.value().to_vec(),
            mod_revision: kv.mod_revision(),
        }))
    }

    /// Reads up to `limit` keys (0: all) in `[start, end)` at `revision` (0: latest).
    pub async fn range(
        &self,
        start: &[u8],
        end: &[u8],
        limit: i64,
        revision: i64,
    ) -> Result<RangePage> {
        let _timer = crate::metrics::store_request("list", start);
        let mut kv = self.kv();
        let mut options = GetOptions::new().with_range(end.to_vec());
        if limit > 0 {
            options = options.with_limit(limit);
        }
        if revision > 0 {
            options = options.with_revision(revision);
        }
        let resp = kv.get(start, Some(options)).await.map_err(map_err)?;
        Ok(RangePage {
            items: resp
                .kvs()
                .iter()
                .map(|kv| StoredValue {
                    key: kv.key().to_vec(),
                    value: kv.value().to_vec(),
                    mod_revision: kv.mod_revision(),
                })
                .collect(),
            revision: resp.header().map_or(0, |h| h.revision()),
            more: resp.more(),
            count: resp.count(),
        })
    }

    /// The store's current revision.
    pub async fn current_revision(&self) -> Result<i64> {
        // A range over one key that never exists: cheap, and linearizable.
        let page = self.range(b"\0", b"\x01", 1, 0).await?;
        Ok(page.revision)
    }

    /// Writes `value` at `key` if the key's `mod_revision` is `expected` (0: the key
    /// must be absent).
    pub async fn swap(&self, key: &[u8], value: Vec<u8>, expected: i64) -> Result<Swap> {
        let txn = Txn::new()
            .when([Compare::mod_revision(key, CompareOp::Equal, expected)])
            .and_then([TxnOp::put(key, value, None)])
            .or_else([TxnOp::get(key, None)]);
        let operation = if expected == 0 { "create" } else { "update" };
        let _timer = crate::metrics::store_request(operation, key);
        self.run_swap(txn).await
    }

    /// Deletes `key` if its `mod_revision` is `expected`.
    pub async fn delete(&self, key: &[u8], expected: i64) -> Result<Swap> {
        let txn = Txn::new()
            .when([Compare::mod_revision(key, CompareOp::Equal, expected)])
            .and_then([TxnOp::delete(key, None)])
            .or_else([TxnOp::get(key, None)]);
        let _timer = crate::metrics::store_request("delete", key);
        self.run_swap(txn).await
    }

    async fn run_swap(&self, txn: Txn) -> Result<Swap> {
        let mut kv = self.kv();
        let resp = kv.txn(txn).await.map_err(map_err)?;
        let revision = resp.header().map_or(0, |h| h.revision());
        if resp.succeeded() {
            return Ok(Swap::Done(revision));
        }
        let current = resp.op_responses().into_iter().find_map(|r| match r {
            TxnOpResponse::Get(get) => get.kvs().first().map(|kv| StoredValue {
                key: kv.key().to_vec(),
                value: kv.value().to_vec(),
                mod_revision: kv.mod_revision(),
            }),
            _ => None,
        });
        Ok(Swap::Mismatch(current))
    }

    /// The underlying client (tests compact through it).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Watches every key under `prefix` from `start_revision` on, with previous
    /// values (a delete's event then carries what was deleted).
    pub async fn watch_prefix(&self, prefix: &[u8], start_revision: i64) -> Result<StoreWatch> {
        let mut watch = self
            .client
            .watch_client()
            .max_decoding_message_size(MAX_RESPONSE_BYTES);
        let options = WatchOptions::new()
            .with_range(rudder_api::keys::prefix_range_end(prefix))
            .with_start_revision(start_revision)
            .with_prev_key()
            .with_progress_notify();
        let stream = watch.watch(prefix, Some(options)).await.map_err(map_err)?;
        Ok(StoreWatch { stream })
    }
}

/// One change of one key, as the store reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreEvent {
    /// The key.
    pub key: Vec<u8>,
    /// The new value; None for a delete.
    pub value: Option<Vec<u8>>,
    /// The value before the change, when there was one.
    pub prev_value: Option<Vec<u8>>,
    /// The revision of the change.
    pub mod_revision: i64,
}

/// What one read of a store watch gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreWatchMessage {
    /// Changes, in revision order.
    Events(Vec<StoreEvent>),
    /// No change, but the store is at this revision (progress notification).
    Progress(i64),
}

/// A store watch on one prefix.
pub struct StoreWatch {
    stream: etcd_client::WatchStream,
}

impl std::fmt::Debug for StoreWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreWatch").finish_non_exhaustive()
    }
}

impl StoreWatch {
    /// The next message; `Ok(None)` when the store ended the watch, `Expired` when
    /// it was cancelled for compaction.
    pub async fn next(&mut self) -> Result<Option<StoreWatchMessage>> {
        loop {
            let Some(resp) = self.stream.message().await.map_err(map_err)? else {
                return Ok(None);
            };
            if resp.canceled() {
                if resp.compact_revision() > 0 {
                    return Err(Error::Expired(format!(
                        "store watch compacted at revision {}",
                        resp.compact_revision()
                    )));
                }
                return Ok(None);
            }
            if resp.created() && resp.events().is_empty() {
                continue;
            }
            let revision = resp.header().map_or(0, |h| h.revision());
            if resp.events().is_empty() {
                return Ok(Some(StoreWatchMessage::Progress(revision)));
            }
            let events = resp
                .events()
                .iter()
                .filter_map(|e| {
                    let kv = e.kv()?;
                    Some(StoreEvent {
                        key: kv.key().to_vec(),
                        value: (e.event_type() == EventType::Put).then(|| kv.value().to_vec()),
                        prev_value: e.prev_kv().map(|p| p.value().to_vec()),
                        mod_revision: kv.mod_revision(),
                    })
                })
                .collect();
            return Ok(Some(StoreWatchMessage::Events(events)));
        }
    }
}

/// etcd's answers for revisions it no longer (or does not yet) hold become the
/// Kubernetes errors clients know; everything else is a store failure (503).
fn map_err(err: etcd_client::Error) -> Error {
    if let etcd_client::Error::GRpcStatus(status) = &err {
        let message = status.message();
        if message.contains("required revision has been compacted") {
            return Error::Expired(message.to_string());
        }
        if message.contains("required revision is a future revision") {
            return Error::Timeout(message.to_string());
        }
    }
    Error::from(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_domain_is_the_endpoint_host() {
        assert_eq!(tls_domain("https://127.0.0.1:2379"), "127.0.0.1");
        assert_eq!(tls_domain("https://store-0.rudder:2379/"), "store-0.rudder");
        assert_eq!(tls_domain("https://[::1]:2379"), "::1");
        assert_eq!(tls_domain("localhost"), "localhost");
    }
}
