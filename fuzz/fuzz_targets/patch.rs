//! A patch document applied to a stored object, then defaulted and validated.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rudder_fuzz::patch::exercise(data));
