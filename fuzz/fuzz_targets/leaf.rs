#![no_main]
//! Leaf decoding: never panics; a leaf that decodes is exactly its own encoding.
use accord_core::entry::LoggedEntry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = LoggedEntry::from_leaf(data) {
        assert_eq!(e.to_leaf(), data);
    }
});
