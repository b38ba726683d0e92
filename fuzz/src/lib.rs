//! What the fuzz targets run, as plain functions: libFuzzer drives them from
//! `fuzz_targets/`, and `tests/corpus.rs` replays the committed corpus through them
//! on any toolchain, so an input that once crashed stays a regression test.
//!
//! Both targets hold the server to its rule for bad input: an error is a 4xx
//! Status, never a panic and never a 5xx ([`client_error`]).

pub mod patch;
pub mod request;

/// Fails the run when bad input is answered with anything but a 4xx.
pub fn client_error(what: &str, err: &rudder_apiserver::Error) {
    let code = err.code();
    assert!(
        (400..500).contains(&code),
        "{what}: bad input answered {code}: {err}"
    );
}

/// Runs `step`; an error must be a client error.
pub fn checked<T>(what: &str, step: rudder_apiserver::Result<T>) -> Option<T> {
    match step {
        Ok(value) => Some(value),
        Err(err) => {
            client_error(what, &err);
            None
        }
    }
}
