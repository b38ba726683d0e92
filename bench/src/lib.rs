//! rudder-bench: load generators that measure Rudder next to a baseline.
//!
//! Two loads: `store`, which speaks the etcd v3 API (through the `etcd-client` crate)
//! and so runs unchanged against rudder-store or a real etcd, and `apiserver`, which
//! speaks Kubernetes REST over HTTPS to any API server; and `compare`, which puts the
//! JSON results of several runs side by side in one table (DESIGN.md §9.5: benchmarks
//! print figures beside a baseline; they never decide a test).
//!
//! The split: [`driver`] is the closed loop both loads share (client tasks, bounds,
//! timing), [`load`] and [`apiserver`] do their I/O, [`stats`], [`result`] and
//! [`compare`] are pure and unit-tested, [`commands`] holds one file per subcommand
//! with its clap arguments.

pub mod apiserver;
pub mod commands;
pub mod compare;
pub mod driver;
pub mod error;
pub mod load;
pub mod result;
pub mod stats;

pub use error::{Error, Result};
