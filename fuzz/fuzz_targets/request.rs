//! A REST request as the API server reads it: request line, headers, body.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rudder_fuzz::request::exercise(data));
