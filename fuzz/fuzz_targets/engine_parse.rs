//! The engine's script parser must return a script or a typed error for any text, never panic or overflow
//! the stack.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pssession_server::engine::parser::parse_script;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(error) = parse_script(&text) {
        assert!(!error.error_id.is_empty());
        assert!(error.offset <= text.len());
    }
});
