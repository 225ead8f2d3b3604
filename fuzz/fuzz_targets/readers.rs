#![no_main]
//! See `picket::fuzzing::readers_agree` for the property.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| picket::fuzzing::readers_agree(data));
