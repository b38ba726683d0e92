//! The single-node cluster of `rudderadm up` and `down`: [`plan`] says what runs,
//! [`supervisor`] runs it, [`pids`] lets a later `down` find it.

pub mod pids;
pub mod plan;
pub mod probe;
pub mod supervisor;
