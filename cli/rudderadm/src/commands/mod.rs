//! One module per subcommand.

pub mod certs;
