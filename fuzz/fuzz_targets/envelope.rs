#![no_main]
//! DSSE envelope parsing: never panics; what parses re-encodes and parses to the same value.
use accord_core::envelope::Envelope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = Envelope::from_json(data) {
        let again = Envelope::from_json(&env.to_json()).expect("re-encoded envelope parses");
        assert_eq!(again, env);
    }
});
