//! The Receive fast path and `xs:duration` on arbitrary bytes: typed errors, never a panic; decoded stream
//! payloads never exceed three quarters of the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pssession_wsman::duration::XsDuration;
use pssession_wsman::receive::{ReceiveLimits, parse_receive_response};

fuzz_target!(|data: &[u8]| {
    if let Ok(response) = parse_receive_response(data, &ReceiveLimits::default()) {
        let total: usize = response.streams.iter().map(|s| s.data.len()).sum();
        assert!(total <= data.len() / 4 * 3 + 3);
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(d) = XsDuration::parse(text)
    {
        assert_eq!(XsDuration::parse(&d.to_seconds_string()), Ok(d));
    }
});
