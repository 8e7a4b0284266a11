#![no_main]
//! A write-ahead log record as read back on open (docs/FORMAT.md section 11): never panic,
//! and a record that reads re-encodes to the same bytes.
use accord_ledger::wal::{decode, encode_record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((record, len)) = decode(data) {
        let again = encode_record(&record).expect("a record that reads encodes");
        assert_eq!(again, data[..len], "one encoding per record");
    }
});
