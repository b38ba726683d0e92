//! The API server load: pods created, read and updated by N closed-loop clients over a
//! few HTTP/2 connections, lists of a large namespace from the watch cache and from
//! quorum, and one write stream fanned out to many watchers.
//!
//! Before the phases, [`Session::prepare`] makes what they read: three namespaces
//! (`<ns>` for create/get/update, `<ns>-list` with `list_pods` pods, `<ns>-watch`),
//! and the pool of pods get and update work on. Pods already there (a second run
//! against the same server) are used as they are.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{Method, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::client::{Connection, Target};
use super::pods::{self, Lines};
use crate::driver::{Bound, KeyPicker, Requester, phase_result, run_closed_loop};
use crate::load::Phase;
use crate::result::{APISERVER_FORMAT, ApiserverRunResult, PhaseResult, Workload};
use crate::{Error, Result};

/// A checked description of a run.
#[derive(Debug, Clone)]
pub struct ApiserverConfig {
    /// What is measured (`etcd`, `rudder`), recorded in the result for `compare`.
    pub label: String,
    pub target: Target,
    /// HTTP/2 connections the create/get/update/list clients share.
    pub conns: usize,
    pub phases: Vec<Phase>,
    /// The bound of each create, get and update phase.
    pub bound: Bound,
    /// Pods get and update work on; at least the largest update concurrency.
    pub pool: usize,
    /// Pods in the namespace the list phases read, and how many lists each makes.
    pub list_pods: usize,
    pub lists: u64,
    /// Writes the watchers watch, one at a time, `watch_interval` apart.
    pub watch_writes: usize,
    pub watch_interval: Duration,
    /// Watch streams per HTTP/2 connection (hyper's server allows 200 by default).
    pub streams_per_conn: usize,
    /// Prefix of the namespaces the run uses.
    pub namespace: String,
    /// How long to wait for the server to be ready, and for the watchers to start.
    pub wait: Duration,
    /// Deadline of each request; a later answer counts as an error.
    pub request_timeout: Duration,
}

/// The phases of a run: creates, gets, then updates at each concurrency, then the
/// two lists (`list_clients` each), then the watch fan-out with `watchers`.
pub fn plan_phases(
    workloads: &[Workload],
    clients: &[usize],
    list_clients: usize,
    watchers: usize,
) -> Vec<Phase> {
    let mut phases = Vec::new();
    for workload in [Workload::Create, Workload::Get, Workload::Update] {
        if workloads.contains(&workload) {
            phases.extend(clients.iter().map(|&clients| Phase { workload, clients }));
        }
    }
    for workload in [Workload::ListCache, Workload::ListQuorum] {
        if workloads.contains(&workload) {
            phases.push(Phase {
                workload,
                clients: list_clients,
            });
        }
    }
    if workloads.contains(&Workload::Watch) {
        phases.push(Phase {
            workload: Workload::Watch,
            clients: watchers,
        });
    }
    phases
}

/// A short tag that keeps the names of this run's new pods apart from earlier runs'.
fn run_tag() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("r{:x}", millis % 0xff_ffff_ffff)
}

/// Connections to the server, checked to answer, with the run's namespaces.
pub struct Session {
    config: ApiserverConfig,
    conns: Vec<Connection>,
    server_version: String,
    tag: String,
}

impl Session {
    /// Opens the connections once the server answers `/readyz`, and reads `/version`.
    pub async fn connect(config: ApiserverConfig) -> Result<Session> {
        if config.conns == 0 || config.streams_per_conn == 0 {
            return Err(Error::Invalid(
                "a run needs a connection and a stream per connection".into(),
            ));
        }
        let first = wait_until_ready(&config).await?;
        let mut conns = vec![first];
        while conns.len() < config.conns {
            conns.push(
                config
                    .target
                    .connect(config.request_timeout)
                    .await
                    .map_err(|reason| Error::Request {
                        what: "opening a connection".into(),
                        reason,
                    })?,
            );
        }
        let version = must(
            &conns[0],
            Method::GET,
            "/version",
            None,
            StatusCode::OK,
            "GET /version",
        )
        .await?;
        let server_version = serde_json::from_slice::<Value>(&version.body)
            .ok()
            .and_then(|v| v["gitVersion"].as_str().map(str::to_string))
            .unwrap_or_else(|| "unknown".to_string());
        Ok(Session {
            config,
            conns,
            server_version,
            tag: run_tag(),
        })
    }

    /// The result document so far: everything but the phases.
    pub fn result(&self) -> ApiserverRunResult {
        let (duration_secs, total) = match self.config.bound {
            Bound::Duration(d) => (Some(d.as_secs_f64()), None),
            Bound::Total(n) => (None, Some(n)),
        };
        let watchers = self
            .config
            .phases
            .iter()
            .find(|p| p.workload == Workload::Watch)
            .map_or(0, |p| p.clients);
        ApiserverRunResult {
            format: APISERVER_FORMAT.to_string(),
            label: self.config.label.clone(),
            server_version: self.server_version.clone(),
            server: self.config.target.server.clone(),
            conns: self.config.conns,
            pool: self.config.pool,
            list_pods: self.config.list_pods,
            watchers,
            watch_writes: self.config.watch_writes,
            duration_secs,
            total,
            phases: Vec::new(),
        }
    }

    /// The configured phases, in order.
    pub fn phases(&self) -> Vec<Phase> {
        self.config.phases.clone()
    }

    fn namespace(&self, workload: Workload) -> String {
        let base = &self.config.namespace;
        match workload {
            Workload::ListCache | Workload::ListQuorum => format!("{base}-list"),
            Workload::Watch => format!("{base}-watch"),
            _ => base.clone(),
        }
    }

    /// Makes the namespaces and pods the phases read; `progress` hears what it does.
    pub async fn prepare(&self, progress: impl Fn(String)) -> Result<()> {
        let workloads: Vec<Workload> = self.config.phases.iter().map(|p| p.workload).collect();
        let mut namespaces: Vec<String> = workloads.iter().map(|&w| self.namespace(w)).collect();
        namespaces.dedup();
        for namespace in &namespaces {
            // As a cluster has them: a controller-manager would make the account.
            let made = [
                ("/api/v1/namespaces".to_string(), pods::namespace(namespace)),
                (
                    pods::service_accounts_path(namespace),
                    pods::default_service_account(namespace),
                ),
            ];
            for (path, object) in made {
                let body = serde_json::to_vec(&object).unwrap_or_default();
                let answer = must_send(&self.conns[0], Method::POST, &path, Some(body)).await?;
                if answer.status != StatusCode::CREATED && answer.status != StatusCode::CONFLICT {
                    return Err(Error::Request {
                        what: format!("POST {path} in {namespace}"),
                        reason: answer.expect(StatusCode::CREATED).unwrap_err(),
                    });
                }
            }
        }
        if workloads.contains(&Workload::Get) || workloads.contains(&Workload::Update) {
            let started = Instant::now();
            let names: Vec<String> = (0..self.config.pool).map(pods::pool_name).collect();
            self.ensure_pods(&self.namespace(Workload::Get), names)
                .await?;
            progress(format!(
                "{} pods for get/update ready in {:.1}s",
                self.config.pool,
                started.elapsed().as_secs_f64()
            ));
        }
        if workloads.contains(&Workload::ListCache) || workloads.contains(&Workload::ListQuorum) {
            let started = Instant::now();
            let names: Vec<String> = (0..self.config.list_pods).map(pods::list_name).collect();
            let namespace = self.namespace(Workload::ListCache);
            self.ensure_pods(&namespace, names).await?;
            self.await_cached_list(&namespace, self.config.list_pods)
                .await?;
            progress(format!(
                "{} pods to list ready in {:.1}s",
                self.config.list_pods,
                started.elapsed().as_secs_f64()
            ));
        }
        Ok(())
    }

    /// Creates the pods `names` in `namespace` with 64 concurrent clients; a pod that
    /// is already there counts as made.
    async fn ensure_pods(&self, namespace: &str, names: Vec<String>) -> Result<()> {
        let names = Arc::new(names);
        let next = Arc::new(AtomicUsize::new(0));
        let mut tasks = JoinSet::new();
        for c in 0..64 {
            let conn = self.conns[c % self.conns.len()].clone();
            let (names, next, namespace) = (names.clone(), next.clone(), namespace.to_string());
            tasks.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(name) = names.get(i) else {
                        return Ok(());
                    };
                    let body = serde_json::to_vec(&pods::pod(&namespace, name)).unwrap_or_default();
                    let answer = must_send(
                        &conn,
                        Method::POST,
                        &pods::pods_path(&namespace),
                        Some(body),
                    )
                    .await?;
                    if answer.status != StatusCode::CREATED && answer.status != StatusCode::CONFLICT
                    {
                        return Err(Error::Request {
                            what: format!("creating pod {namespace}/{name}"),
                            reason: answer.expect(StatusCode::CREATED).unwrap_err(),
                        });
                    }
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done??;
        }
        Ok(())
    }

    /// Waits (up to `wait`) until a list from the cache holds `expected` pods: a
    /// resourceVersion=0 list may lag the writes just made, and the cache-list phase
    /// must measure lists of the whole namespace.
    async fn await_cached_list(&self, namespace: &str, expected: usize) -> Result<()> {
        let path = format!("{}?resourceVersion=0", pods::pods_path(namespace));
        let deadline = Instant::now() + self.config.wait;
        loop {
            let answer = must(
                &self.conns[0],
                Method::GET,
                &path,
                None,
                StatusCode::OK,
                "listing pods from the cache",
            )
            .await?;
            let held = pods::count_items(&answer.body).map_err(|reason| Error::Request {
                what: format!("GET {path}"),
                reason,
            })?;
            if held == expected {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Request {
                    what: format!("GET {path}"),
                    reason: format!(
                        "the cache held {held} of {expected} pods after {:?}",
                        self.config.wait
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs one phase to its bound and reports what it achieved.
    pub async fn run_phase(&self, phase: Phase) -> Result<PhaseResult> {
        let clients = phase.clients.max(1);
        let namespace = self.namespace(phase.workload);
        let conn = |c: usize| self.conns[c % self.conns.len()].clone();
        match phase.workload {
            Workload::Create => {
                let clients = (0..clients)
                    .map(|c| Create {
                        conn: conn(c),
                        path: pods::pods_path(&namespace),
                        namespace: namespace.clone(),
                        prefix: format!("{}-c{clients}-{c}-", self.tag),
                        sequence: 0,
                    })
                    .collect();
                run_closed_loop(phase.workload, clients, self.config.bound).await
            }
            Workload::Get => {
                let clients = (0..clients)
                    .map(|c| Get {
                        conn: conn(c),
                        namespace: namespace.clone(),
                        pool: self.config.pool,
                        picker: KeyPicker(((c as u64) << 32) ^ clients as u64),
                    })
                    .collect();
                run_closed_loop(phase.workload, clients, self.config.bound).await
            }
            Workload::Update => {
                if clients > self.config.pool {
                    return Err(Error::Invalid(format!(
                        "{clients} update clients need a pool of at least {clients} pods"
                    )));
                }
                let mut updaters = Vec::with_capacity(clients);
                for c in 0..clients {
                    // Each client owns one pod: no conflicts between clients, so a 409
                    // means the server lost track of a resourceVersion.
                    let path = pods::pod_path(&namespace, &pods::pool_name(c));
                    let answer = must(
                        &conn(c),
                        Method::GET,
                        &path,
                        None,
                        StatusCode::OK,
                        "reading a pool pod",
                    )
                    .await?;
                    let object =
                        serde_json::from_slice(&answer.body).map_err(|e| Error::Request {
                            what: format!("GET {path}"),
                            reason: e.to_string(),
                        })?;
                    updaters.push(Update {
                        conn: conn(c),
                        path,
                        object,
                        sequence: 0,
                    });
                }
                run_closed_loop(phase.workload, updaters, self.config.bound).await
            }
            Workload::ListCache | Workload::ListQuorum => {
                let query = if phase.workload == Workload::ListCache {
                    "?resourceVersion=0"
                } else {
                    ""
                };
                let clients = (0..clients)
                    .map(|c| List {
                        conn: conn(c),
                        path: format!("{}{query}", pods::pods_path(&namespace)),
                        expected: self.config.list_pods,
                        body: None,
                    })
                    .collect();
                run_closed_loop(phase.workload, clients, Bound::Total(self.config.lists)).await
            }
            Workload::Watch => self.fan_out(&namespace, clients).await,
            Workload::Put | Workload::Range => Err(Error::Invalid(format!(
                "{} is not an API server workload",
                phase.workload.name()
            ))),
        }
    }

    /// `watchers` watches on `namespace`, then `watch_writes` pod creates one at a
    /// time; each event's delay is its receipt minus its write's acknowledgement.
    async fn fan_out(&self, namespace: &str, watchers: usize) -> Result<PhaseResult> {
        let config = &self.config;
        let listed = must(
            &self.conns[0],
            Method::GET,
            &format!("{}?limit=1", pods::pods_path(namespace)),
            None,
            StatusCode::OK,
            "listing the watch namespace",
        )
        .await?;
        let list: Value = serde_json::from_slice(&listed.body).unwrap_or_default();
        let rv = pods::resource_version(&list).unwrap_or("0").to_string();
        let path = format!(
            "{}?watch=true&resourceVersion={rv}",
            pods::pods_path(namespace)
        );

        let stream_conns = watchers.div_ceil(config.streams_per_conn);
        let mut conns = Vec::with_capacity(stream_conns);
        for _ in 0..stream_conns {
            conns.push(
                config
                    .target
                    .connect(config.request_timeout)
                    .await
                    .map_err(|reason| Error::Request {
                        what: "opening a watch connection".into(),
                        reason,
                    })?,
            );
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let (ready_tx, mut ready_rx) = mpsc::channel(watchers);
        let prefix = format!("{}-w-", self.tag);
        let mut tasks = JoinSet::new();
        for w in 0..watchers {
            tasks.spawn(watch_stream(
                conns[w / config.streams_per_conn].clone(),
                path.clone(),
                prefix.clone(),
                config.watch_writes,
                ready_tx.clone(),
                stop_rx.clone(),
            ));
        }
        drop(ready_tx);
        let deadline = tokio::time::Instant::now() + config.wait;
        let (mut ready, mut errors, mut first_error) = (0, 0u64, None);
        while ready + errors < watchers as u64 {
            match tokio::time::timeout_at(deadline, ready_rx.recv()).await {
                Ok(Some(Ok(()))) => ready += 1,
                Ok(Some(Err(e))) => {
                    errors += 1;
                    first_error.get_or_insert(e);
                }
                Ok(None) | Err(_) => break,
            }
        }
        if ready < watchers as u64 {
            let _ = stop_tx.send(true);
            return Err(Error::Request {
                what: format!("starting {watchers} watchers"),
                reason: format!(
                    "{ready} started within {:?}; {}",
                    config.wait,
                    first_error.unwrap_or_else(|| "the others did not answer".into())
                ),
            });
        }

        let started = Instant::now();
        let mut acks = HashMap::new();
        let writer = &self.conns[0];
        for i in 0..config.watch_writes {
            let name = format!("{prefix}{i}");
            let body = serde_json::to_vec(&pods::pod(namespace, &name)).unwrap_or_default();
            let answer = writer
                .send(Method::POST, &pods::pods_path(namespace), Some(body))
                .await
                .and_then(|a| a.expect(StatusCode::CREATED));
            let acked = Instant::now();
            match answer {
                Ok(_) => {
                    acks.insert(name, acked);
                }
                Err(e) => {
                    errors += watchers as u64;
                    first_error.get_or_insert(format!("write {name}: {e}"));
                }
            }
            tokio::time::sleep(config.watch_interval).await;
        }
        // Each watcher ends once it has every write; the rest are stopped after the
        // request deadline has passed since the last write.
        let mut receipts = Vec::with_capacity(watchers);
        let grace = tokio::time::Instant::now() + config.request_timeout;
        loop {
            match tokio::time::timeout_at(grace, tasks.join_next()).await {
                Ok(Some(joined)) => {
                    let watched = joined?;
                    if let Some(e) = watched.error {
                        first_error.get_or_insert(e);
                    }
                    receipts.push(watched.receipts);
                }
                Ok(None) => break,
                Err(_) => {
                    let _ = stop_tx.send(true);
                    while let Some(joined) = tasks.join_next().await {
                        receipts.push(joined?.receipts);
                    }
                    break;
                }
            }
        }
        let delivery = pods::delivery(&acks, &receipts)?;
        errors += delivery.missed;
        if delivery.missed > 0 {
            first_error.get_or_insert(format!("{} events never arrived", delivery.missed));
        }
        let elapsed = delivery
            .last_receipt
            .map_or(started.elapsed(), |last| last.duration_since(started));
        Ok(phase_result(
            Workload::Watch,
            watchers,
            &delivery.latencies,
            errors,
            first_error,
            elapsed,
        ))
    }
}

/// Waits until `/readyz` answers 200 on a fresh connection, and returns it.
async fn wait_until_ready(config: &ApiserverConfig) -> Result<Connection> {
    let deadline = Instant::now() + config.wait;
    loop {
        let last = match config.target.connect(config.request_timeout).await {
            Ok(conn) => match conn.send(Method::GET, "/readyz", None).await {
                Ok(answer) if answer.status == StatusCode::OK => return Ok(conn),
                Ok(answer) => format!("/readyz: {}", answer.status),
                Err(e) => e,
            },
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            return Err(Error::NotReady {
                endpoint: config.target.server.clone(),
                waited: config.wait,
                last,
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn must_send(
    conn: &Connection,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<super::client::Answer> {
    let what = format!("{method} {path}");
    conn.send(method, path, body)
        .await
        .map_err(|reason| Error::Request { what, reason })
}

async fn must(
    conn: &Connection,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
    expected: StatusCode,
    what: &str,
) -> Result<super::client::Answer> {
    must_send(conn, method, path, body)
        .await?
        .expect(expected)
        .map_err(|reason| Error::Request {
            what: what.to_string(),
            reason,
        })
}

/// What one watcher saw.
struct Watched {
    receipts: Vec<(String, Instant)>,
    error: Option<String>,
}

/// One watcher: opens the stream, says it is ready, then notes when each event of
/// this run's writes arrives until it has `writes` of them or is stopped.
async fn watch_stream(
    conn: Connection,
    path: String,
    prefix: String,
    writes: usize,
    ready: mpsc::Sender<Result<(), String>>,
    mut stop: watch::Receiver<bool>,
) -> Watched {
    let mut watched = Watched {
        receipts: Vec::with_capacity(writes),
        error: None,
    };
    let mut body = match conn.stream(&path).await {
        Ok((StatusCode::OK, body)) => body,
        Ok((status, _)) => {
            let _ = ready.send(Err(format!("watch: {status}"))).await;
            return watched;
        }
        Err(e) => {
            let _ = ready.send(Err(format!("watch: {e}"))).await;
            return watched;
        }
    };
    let _ = ready.send(Ok(())).await;
    let mut lines = Lines::default();
    while watched.receipts.len() < writes {
        let frame = tokio::select! {
            _ = stop.changed() => break,
            frame = body.frame() => frame,
        };
        let at = Instant::now();
        let chunk = match frame {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(chunk) => chunk,
                Err(_) => continue,
            },
            Some(Err(e)) => {
                watched.error = Some(format!("watch stream: {e}"));
                break;
            }
            None => {
                watched.error = Some("the server ended the watch".into());
                break;
            }
        };
        for line in lines.push(&chunk) {
            match pods::parse_event(&line) {
                Ok(event) if event.name.starts_with(&prefix) => {
                    watched.receipts.push((event.name, at));
                }
                Ok(_) => {}
                Err(e) => {
                    watched.error.get_or_insert(e);
                }
            }
        }
    }
    watched
}

/// POSTs new pods, each under a name of its own.
struct Create {
    conn: Connection,
    path: String,
    namespace: String,
    prefix: String,
    sequence: u64,
}

impl Requester for Create {
    async fn request(&mut self) -> Result<(), String> {
        self.sequence += 1;
        let name = format!("{}{}", self.prefix, self.sequence);
        let body = serde_json::to_vec(&pods::pod(&self.namespace, &name)).unwrap_or_default();
        self.conn
            .send(Method::POST, &self.path, Some(body))
            .await?
            .expect(StatusCode::CREATED)
            .map(drop)
    }
}

/// GETs pool pods at random.
struct Get {
    conn: Connection,
    namespace: String,
    pool: usize,
    picker: KeyPicker,
}

impl Requester for Get {
    async fn request(&mut self) -> Result<(), String> {
        let name = pods::pool_name(self.picker.next(self.pool as u64) as usize);
        self.conn
            .send(Method::GET, &pods::pod_path(&self.namespace, &name), None)
            .await?
            .expect(StatusCode::OK)
            .map(drop)
    }
}

/// PUTs its own pod with a new annotation and the resourceVersion of its last write,
/// as a controller updates what it owns.
struct Update {
    conn: Connection,
    path: String,
    object: Value,
    sequence: u64,
}

impl Requester for Update {
    async fn request(&mut self) -> Result<(), String> {
        self.sequence += 1;
        let changed = pods::with_sequence(self.object.clone(), self.sequence);
        let body = serde_json::to_vec(&changed).unwrap_or_default();
        let answer = self
            .conn
            .send(Method::PUT, &self.path, Some(body))
            .await?
            .expect(StatusCode::OK)?;
        self.object = serde_json::from_slice(&answer.body)
            .map_err(|e| format!("the updated pod is not JSON: {e}"))?;
        Ok(())
    }
}

/// GETs a whole namespace of pods; the item count is checked off the clock.
struct List {
    conn: Connection,
    path: String,
    expected: usize,
    body: Option<bytes::Bytes>,
}

impl Requester for List {
    async fn request(&mut self) -> Result<(), String> {
        let answer = self
            .conn
            .send(Method::GET, &self.path, None)
            .await?
            .expect(StatusCode::OK)?;
        self.body = Some(answer.body);
        Ok(())
    }

    fn verify(&mut self) -> Result<(), String> {
        let body = self.body.take().unwrap_or_default();
        match pods::count_items(&body)? {
            n if n == self.expected => Ok(()),
            n => Err(format!("the list held {n} pods, not {}", self.expected)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_in_issue_order() {
        let all = [
            Workload::Watch,
            Workload::Update,
            Workload::ListQuorum,
            Workload::Create,
            Workload::ListCache,
            Workload::Get,
        ];
        let phases: Vec<(Workload, usize)> = plan_phases(&all, &[1, 16], 1, 1000)
            .iter()
            .map(|p| (p.workload, p.clients))
            .collect();
        assert_eq!(
            phases,
            vec![
                (Workload::Create, 1),
                (Workload::Create, 16),
                (Workload::Get, 1),
                (Workload::Get, 16),
                (Workload::Update, 1),
                (Workload::Update, 16),
                (Workload::ListCache, 1),
                (Workload::ListQuorum, 1),
                (Workload::Watch, 1000),
            ]
        );
        let only_lists = plan_phases(&[Workload::ListCache], &[1, 16], 2, 1000);
        assert_eq!(only_lists.len(), 1);
        assert_eq!(only_lists[0].clients, 2);
    }

    #[test]
    fn run_tags_are_name_safe() {
        let tag = run_tag();
        assert!(tag.starts_with('r') && tag.len() <= 11, "{tag}");
        assert!(
            tag.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
        );
    }
}
