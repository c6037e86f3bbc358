//! NTLM message parsing of arbitrary bytes: typed errors, never a panic; the acceptor and the initiator fed
//! arbitrary tokens fail cleanly.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use pssession_auth::ntlm::messages::{Authenticate, Challenge, Negotiate};
use pssession_auth::{AcceptorContext, Credentials, InitiatorContext, NtlmAcceptor, NtlmClient, UserDatabase};

fn users() -> Arc<UserDatabase> {
    static USERS: OnceLock<Arc<UserDatabase>> = OnceLock::new();
    USERS
        .get_or_init(|| {
            let mut db = UserDatabase::new();
            db.add(None, "alice", "Passw0rd!");
            Arc::new(db)
        })
        .clone()
}

fuzz_target!(|data: &[u8]| {
    let _ = Negotiate::parse(data);
    if let Ok(challenge) = Challenge::parse(data) {
        // What parses re-encodes and parses to the same value.
        assert_eq!(Challenge::parse(&challenge.encode()).as_ref(), Ok(&challenge));
    }
    if let Ok(auth) = Authenticate::parse(data) {
        let _ = Authenticate::parse(&auth.encode());
    }
    // The initiator consuming an arbitrary CHALLENGE.
    let mut client = NtlmClient::new(Credentials::new("EXAMPLE\\alice", "Passw0rd!"), None, None);
    if client.step(None).is_ok() {
        let _ = client.step(Some(data));
    }
    // The acceptor consuming an arbitrary NEGOTIATE, and an arbitrary AUTHENTICATE after a real NEGOTIATE.
    let _ = NtlmAcceptor::new(users()).step(data);
    let mut acceptor = NtlmAcceptor::new(users());
    let negotiate = NtlmClient::new(Credentials::new("alice", "x"), None, None).step(None);
    if let Ok(Some(negotiate)) = negotiate
        && acceptor.step(&negotiate).is_ok()
    {
        assert!(acceptor.step(data).is_err() || acceptor.is_complete());
    }
});
