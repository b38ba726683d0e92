//! One module per subcommand.

pub mod certs;
pub mod down;
pub mod up;
