//! The envelope codec on arbitrary bytes, in both roles: the request parser (server) and the response parser
//! (client) return typed errors, never panic; whatever request parses is rebuilt and must parse back to the same value (minus the unknown-header
//! diagnostics); whatever response parses is rebuilt and must parse again. The Identify reader and the
//! IdentifyResponse parser get the same bytes; a parsed IdentifyResponse rebuilds to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pssession_wsman::envelope::{Limits, parse_request, parse_response};
use pssession_wsman::identify::{IdentifyResponse, is_identify_request};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_envelope: 1 << 20, ..Limits::default() };
    if let Ok(mut request) = parse_request(data, &limits) {
        // Unknown mustUnderstand headers are a parse-side diagnostic; the builder writes only known headers.
        request.header.not_understood.clear();
        let again = parse_request(&request.to_bytes(), &Limits::default());
        assert_eq!(again.as_ref(), Ok(&request));
    }
    if let Ok(response) = parse_response(data, &limits) {
        // Rebuilding normalises text; it must still parse.
        let rebuilt = response.to_bytes();
        assert!(parse_response(&rebuilt, &Limits::default()).is_ok());
    }
    let _ = is_identify_request(data, &limits);
    if let Ok(identify) = IdentifyResponse::parse(data, &limits) {
        assert_eq!(IdentifyResponse::parse(&identify.to_bytes(), &Limits::default()), Ok(identify));
    }
});
