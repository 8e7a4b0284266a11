#![no_main]
//! The witness's `add-checkpoint` body parser (c2sp.org/tlog-witness) and its decision:
//! never panics; what parses encodes back to the same bytes; deciding against no held
//! checkpoint and against one held at the body's old size never panics either.
use accord_core::witness::{decide, AddCheckpoint};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = AddCheckpoint::parse(data) {
        assert_eq!(req.to_bytes(), data, "a parsed body encodes back to itself");
        let _ = decide(None, &req);
        let root = req.proof.first().copied().unwrap_or_default();
        let _ = decide(Some((req.old, root)), &req);
    }
});
