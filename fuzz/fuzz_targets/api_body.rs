#![no_main]
//! The JSON API's request bodies: a submission (one DSSE envelope) and a cosignature
//! (`{"checkpoint", "cosignature"}`), whose line is then read as a signed-note signature
//! line on a checkpoint: never panic.
use accord_core::checkpoint::SignedCheckpoint;
use accord_server::http::{parse_cosignature_body, parse_envelope};
use libfuzzer_sys::fuzz_target;

/// A checkpoint note of the right shape for the cosignature line to be added to.
const NOTE: &[u8] = b"example.org/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 example.org/log AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = parse_envelope(data) {
        let again = parse_envelope(&env.to_json()).expect("a re-encoded envelope parses");
        assert_eq!(again.to_json(), env.to_json());
    }
    if let Ok((text, line)) = parse_cosignature_body(data) {
        let _ = accord_core::checkpoint::Checkpoint::parse_body(text.as_bytes());
        if let Ok(mut note) = SignedCheckpoint::from_bytes(NOTE) {
            let _ = note.add_signature_line(line.as_bytes());
            let _ = note.cosignatures();
        }
    }
});
