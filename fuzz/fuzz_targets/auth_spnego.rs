//! SPNEGO token parsing and the header-level Negotiate acceptor on arbitrary input: typed errors, never a panic.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use pssession_auth::spnego::NegToken;
use pssession_auth::{AcceptorContext, NegotiateServer, ServerAuth, SpnegoAcceptor, UserDatabase};

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = NegToken::parse(data) {
        // Re-encoding a decoded token gives a token that decodes to the same value.
        assert_eq!(NegToken::parse(&token.encode()).as_ref(), Ok(&token));
    }
    let users = Arc::new(UserDatabase::new());
    let _ = SpnegoAcceptor::new(users.clone()).step(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = NegotiateServer::new(users).step(text);
        let _ = pssession_auth::http::parse_challenges(text);
    }
});
