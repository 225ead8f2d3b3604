#![no_main]
//! See `picket::fuzzing::decode_agrees` for the property.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| picket::fuzzing::decode_agrees(data));
