#![no_main]
//! The JSON API's query strings (commitment filters, proofs, listing, as_of): never panic.
use accord_server::http::{
    parse_as_of_query, parse_consistency_query, parse_filter_query, parse_inclusion_query,
    parse_list_query,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(q) = std::str::from_utf8(data) {
        let _ = parse_filter_query(q);
        let _ = parse_inclusion_query(q);
        let _ = parse_consistency_query(q);
        let _ = parse_list_query(q);
        let _ = parse_as_of_query(q);
    }
});
