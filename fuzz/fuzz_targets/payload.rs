#![no_main]
//! Payload decoding and validation: never panics; a valid payload's own encoding is valid.
use accord_core::model::Payload;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Payload::from_bytes(data) {
        let again = Payload::from_bytes(&p.to_bytes()).expect("re-encoded payload parses");
        assert_eq!(again, p);
    }
});
