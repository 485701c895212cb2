//! Split a fetch buffer, verify CRCs, rewrite producer fields, decode (v2 and legacy, every codec), re-encode.
//! Input framing: see the `strait_fuzz` crate docs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strait_fuzz::check_batches(data));
