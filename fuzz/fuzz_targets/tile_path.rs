#![no_main]
//! The server's tile path parser (`GET /tile/...`): never panics; what parses prints back
//! to the same path.
use accord_server::http::parse_tile_path;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(id) = parse_tile_path(s) {
            assert_eq!(id.to_string(), s, "a parsed tile path prints back as itself");
        }
    }
});
