//! The SecureString session-key parsers fed arbitrary bytes: the CAPI PUBLICKEYBLOB a server reads, the SIMPLEBLOB
//! a client reads, and SecureString ciphertexts. Each must answer with a value or a typed error, never panic; what
//! parses must encode back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pssession_psrp::session_key::{
    SessionKey, encode_public_key_blob, encode_simple_blob, parse_public_key_blob, parse_simple_blob,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = parse_public_key_blob(data) {
        assert_eq!(encode_public_key_blob(&key), data, "a parsed PUBLICKEYBLOB re-encodes byte for byte");
    }
    if let Ok(ciphertext) = parse_simple_blob(data) {
        assert_eq!(encode_simple_blob(&ciphertext), data, "a parsed SIMPLEBLOB re-encodes byte for byte");
    }
    let key = SessionKey::from_bytes([0x5a; 32]);
    if let Ok(text) = key.decrypt(data) {
        assert_eq!(key.encrypt(&text), data, "zero-IV CBC is deterministic");
    }
});
