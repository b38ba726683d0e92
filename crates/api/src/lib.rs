//! Rudder's object model, shared by the API server, controllers, scheduler,
//! kubelet and CLI.
//!
//! Objects are the `k8s-openapi` types (re-exported as [`k8s`]) and their JSON
//! form; this crate adds what Kubernetes keeps around those types: the table of
//! served resources ([`resource`]), storage keys ([`keys`]), label and field
//! selectors ([`selector`]), resource quantities ([`quantity`]), patches
//! ([`patch`]), server-side apply and managedFields ([`apply`]), defaulting ([`defaults`]), validation ([`validation`]), wire
//! errors ([`status`]), Kubernetes protobuf bodies ([`protobuf`]), the `scale` subresource ([`scale`]) and rollout helpers
//! ([`template`]). Everything here is pure: no I/O, no clocks, no randomness.

#![warn(missing_docs)]

pub use k8s_openapi as k8s;

pub mod apply;
pub mod defaults;
pub mod duration;
pub mod error;
pub mod keys;
pub mod naming;
pub mod patch;
pub mod protobuf;
pub mod quantity;
pub mod resource;
pub mod scale;
pub mod selector;
pub mod status;
pub mod template;
pub mod validation;

pub use error::Error;
