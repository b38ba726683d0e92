//! The closed loop every load shares: N client tasks, each with one request in flight
//! at a time, until the phase's bound; their latencies merged into one phase result.
//!
//! What a request is belongs to the load ([`Requester`]: an etcd put, an HTTPS create of
//! a pod ...); how many are sent, when a phase ends and what is counted lives here once.
//! Every phase is bounded, by a duration or by a request count, so a run always ends.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::Result;
use crate::result::{PhaseResult, Workload};
use crate::stats::Latencies;

/// What ends a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// No new request after this long; requests in flight still complete.
    Duration(Duration),
    /// Exactly this many requests, shared out among the clients.
    Total(u64),
}

/// One client's request: sent, awaited, and judged. The time `request` takes is the
/// latency recorded; an `Err` is a failed request (not in the latencies, counted).
pub trait Requester: Send + 'static {
    fn request(&mut self) -> impl Future<Output = Result<(), String>> + Send;

    /// Checks the answer of the request just made, off the clock (decoding a 10 MB
    /// list is the client's cost, not the server's); an `Err` fails the request.
    fn verify(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// Runs `clients` (one task each) until `bound`, as the phase `workload`.
pub async fn run_closed_loop<R: Requester>(
    workload: Workload,
    clients: Vec<R>,
    bound: Bound,
) -> Result<PhaseResult> {
    let count = clients.len();
    let start = Instant::now();
    let stop = match bound {
        Bound::Duration(d) => Stop::At(start + d),
        Bound::Total(total) => Stop::After {
            total,
            claimed: Arc::new(AtomicU64::new(0)),
        },
    };
    let mut tasks = JoinSet::new();
    for client in clients {
        tasks.spawn(run_client(client, stop.clone(), Latencies::new()?));
    }
    let mut latencies = Latencies::new()?;
    let (mut errors, mut first_error) = (0, None);
    while let Some(joined) = tasks.join_next().await {
        let tally = joined?;
        latencies.merge(&tally.latencies)?;
        errors += tally.errors;
        first_error = first_error.or(tally.first_error);
    }
    Ok(phase_result(
        workload,
        count,
        &latencies,
        errors,
        first_error,
        start.elapsed(),
    ))
}

/// A phase's result from its merged latencies: ops are the successful requests.
pub fn phase_result(
    workload: Workload,
    clients: usize,
    latencies: &Latencies,
    errors: u64,
    first_error: Option<String>,
    elapsed: Duration,
) -> PhaseResult {
    let elapsed = elapsed.as_secs_f64();
    let ops = latencies.count();
    PhaseResult {
        workload,
        clients,
        ops,
        errors,
        first_error,
        elapsed_secs: elapsed,
        ops_per_sec: if elapsed > 0.0 {
            ops as f64 / elapsed
        } else {
            0.0
        },
        latency: latencies.summary(),
    }
}

/// splitmix64: cheap, seedable, and good enough to pick keys uniformly.
#[derive(Debug, Clone)]
pub(crate) struct KeyPicker(pub(crate) u64);

impl KeyPicker {
    pub(crate) fn next(&mut self, key_space: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % key_space.max(1)
    }
}

/// When a client stops sending.
#[derive(Debug, Clone)]
enum Stop {
    At(Instant),
    After { total: u64, claimed: Arc<AtomicU64> },
}

impl Stop {
    /// Whether the client may send one more request (and, by count, claims it).
    fn another(&self) -> bool {
        match self {
            Stop::At(deadline) => Instant::now() < *deadline,
            Stop::After { total, claimed } => claimed.fetch_add(1, Ordering::Relaxed) < *total,
        }
    }
}

/// What one client did in a phase.
struct Tally {
    latencies: Latencies,
    errors: u64,
    first_error: Option<String>,
}

async fn run_client<R: Requester>(mut client: R, stop: Stop, mut latencies: Latencies) -> Tally {
    let (mut errors, mut first_error) = (0, None);
    while stop.another() {
        let sent = Instant::now();
        let answered = client.request().await.map(|()| sent.elapsed());
        match answered.and_then(|latency| client.verify().map(|()| latency)) {
            Ok(latency) => latencies.record(latency),
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    Tally {
        latencies,
        errors,
        first_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_bound_hands_out_exactly_total_requests() {
        let stop = Stop::After {
            total: 5,
            claimed: Arc::new(AtomicU64::new(0)),
        };
        let other = stop.clone();
        let granted = (0..10)
            .filter(|i| {
                if i % 2 == 0 {
                    stop.another()
                } else {
                    other.another()
                }
            })
            .count();
        assert_eq!(granted, 5);
    }

    #[test]
    fn key_picker_stays_in_the_key_space_and_covers_it() {
        let mut picker = KeyPicker(42);
        let mut seen = [false; 10];
        for _ in 0..1000 {
            let n = picker.next(10);
            assert!(n < 10);
            seen[n as usize] = true;
        }
        assert!(seen.iter().all(|&s| s), "{seen:?}");
        assert_eq!(KeyPicker(1).next(0), 0);
    }

    /// Fails every third request.
    struct Flaky(u64);

    impl Requester for Flaky {
        async fn request(&mut self) -> Result<(), String> {
            self.0 += 1;
            if self.0.is_multiple_of(3) {
                Err(format!("request {} failed", self.0))
            } else {
                Ok(())
            }
        }
    }

    #[tokio::test]
    async fn successes_and_failures_add_up_to_the_total() {
        let clients = vec![Flaky(0), Flaky(0)];
        let phase = run_closed_loop(Workload::Get, clients, Bound::Total(12))
            .await
            .unwrap();
        assert_eq!((phase.clients, phase.ops + phase.errors), (2, 12));
        assert!(phase.errors >= 2, "{phase:?}");
        assert!(phase.first_error.unwrap().ends_with("failed"));
    }
}
