//! The API server load (`rudder-bench apiserver`): Kubernetes REST over HTTPS with a
//! client certificate, as client-go speaks it, against any API server URL.
//!
//! [`client`] does the HTTPS and HTTP/2, [`pods`] holds the objects, paths and the
//! pure bookkeeping of the watch fan-out, [`session`] prepares the namespaces and runs
//! the phases through the closed loop of [`crate::driver`].

pub mod client;
pub mod pods;
pub mod session;

pub use client::Target;
pub use session::{ApiserverConfig, Session, plan_phases};
