//! The engine's Forwarder::plan on a fetch response (drop markers and aborted data, re-encode, split).
//! Input framing: see `strait_fuzz::check_forward`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strait_fuzz::check_forward(data));
