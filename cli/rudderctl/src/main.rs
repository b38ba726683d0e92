//! `rudderctl`: runs the command line through the library and exits with its code
//! (0 success, 1 for any failure, usage errors included, as kubectl).

use std::process::ExitCode;

use rudderctl::{Io, main_with};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut io = Io::std();
    let code = main_with(std::env::args_os(), &mut io).await;
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
