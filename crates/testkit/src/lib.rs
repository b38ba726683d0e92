//! What Rudder's integration tests share: loopback ports for the processes they
//! start, and with the `fake-api` feature an in-process fake of the API server's
//! gRPC `Api` service ([`fake_api`]) for the client's and rudderctl's tests.

#[cfg(feature = "fake-api")]
pub mod fake_api;

use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, Ordering};

/// Ports handed to child processes come from below Linux's ephemeral range
/// (32768-60999 by default). A port picked by binding port 0 is ephemeral, and between
/// the test releasing it and the child binding it, any outgoing connection on the
/// machine (an etcdctl, a peer dialling) may take it as its source port: the child
/// then fails with "Address already in use".
const FIRST: u16 = 20000;
const LAST: u16 = 32000;

/// Where this process starts looking: spread by pid, so test binaries that run at the
/// same time rarely walk the same ports.
static NEXT: AtomicU16 = AtomicU16::new(0);

/// A loopback port nobody listens on now, outside the ephemeral range, never handed
/// out twice by this process.
pub fn free_port() -> u16 {
    let span = LAST - FIRST;
    let _ = NEXT.compare_exchange(
        0,
        (std::process::id() % u32::from(span)) as u16 + 1,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..span {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % span;
        let port = FIRST + offset;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {FIRST}..{LAST}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_bindable_and_below_the_ephemeral_range() {
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len());
        for port in ports {
            assert!((FIRST..LAST).contains(&port));
            TcpListener::bind(("127.0.0.1", port)).expect("still free");
        }
    }
}
