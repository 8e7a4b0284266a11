#![no_main]
//! Inclusion and consistency proof verification on arbitrary sizes, indexes and hashes:
//! never panics, never loops without bound.
use accord_core::log::{verify_consistency, verify_inclusion, Hash};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 80 {
        return;
    }
    let a = u64::from_le_bytes(data[0..8].try_into().unwrap_or_default());
    let b = u64::from_le_bytes(data[8..16].try_into().unwrap_or_default());
    let h1 = Hash(data[16..48].try_into().unwrap_or_default());
    let h2 = Hash(data[48..80].try_into().unwrap_or_default());
    let proof: Vec<Hash> = data[80..]
        .chunks_exact(32)
        .map(|c| Hash(c.try_into().unwrap_or_default()))
        .collect();
    let _ = verify_inclusion(&h1, a, b, &proof, &h2);
    let _ = verify_consistency(a, b, &h1, &h2, &proof);
});
