#![no_main]
//! Audit bundles: parsing and offline verification never panic, whatever the bytes.
use accord_core::bundle::Bundle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = Bundle::from_json(data) {
        let _ = b.verify(None, None);
    }
});
