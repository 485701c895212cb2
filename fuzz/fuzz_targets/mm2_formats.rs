//! MM2 internal topic readers on a key/value split of the input.
//! Input framing: see `strait_fuzz::check_mm2_formats`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strait_fuzz::check_mm2_formats(data));
