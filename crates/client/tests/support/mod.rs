//! The fake Api server of `rudder_testkit` (feature `fake-api`).

pub use rudder_testkit::fake_api::*;
