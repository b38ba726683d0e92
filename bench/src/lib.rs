//! rudder-bench: load generators that measure Rudder next to a baseline.
//!
//! Today one load: `store`, which speaks the etcd v3 API (through the `etcd-client`
//! crate) and so runs unchanged against rudder-store or a real etcd, and `compare`,
//! which puts the JSON results of several such runs side by side in one table
//! (DESIGN.md §9.5: benchmarks print figures beside a baseline; they never decide a test).
//!
//! The split: [`load`] does the I/O (connections, client tasks, timing), [`stats`],
//! [`result`] and [`compare`] are pure and unit-tested, [`commands`] holds one file per
//! subcommand with its clap arguments.

pub mod commands;
pub mod compare;
pub mod error;
pub mod load;
pub mod result;
pub mod stats;

pub use error::{Error, Result};
