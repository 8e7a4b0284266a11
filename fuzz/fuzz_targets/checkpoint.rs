#![no_main]
//! Signed notes, checkpoints, cosignatures and verifier keys: never panic.
use accord_core::checkpoint::SignedCheckpoint;
use accord_core::keys::VerifierKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(note) = SignedCheckpoint::from_bytes(data) {
        let again = SignedCheckpoint::from_bytes(&note.to_bytes()).expect("re-encoded note parses");
        assert_eq!(again.to_bytes(), note.to_bytes());
        let _ = note.cosignatures();
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(k) = VerifierKey::parse(s) {
            assert_eq!(k.to_string(), s);
        }
    }
});
