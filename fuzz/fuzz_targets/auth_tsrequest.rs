//! CredSSP TSRequest / TSCredentials, the Digest challenge parser, certificate field extraction and the CredSSP
//! client's handling of a hostile first answer: never a panic, hang or unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pssession_auth::client_cert::CertificateNames;
use pssession_auth::credssp::{CredsspClient, CredsspDelegation, TsPasswordCreds, TsRequest, subject_public_key};
use pssession_auth::digest::DigestChallenge;
use pssession_auth::{Credentials, InitiatorContext};

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = TsRequest::parse(data) {
        // What parses re-encodes to something that parses to the same value.
        assert_eq!(TsRequest::parse(&req.encode()).ok(), Some(req));
    }
    if let Ok(creds) = TsPasswordCreds::parse_ts_credentials(data) {
        let again = TsPasswordCreds::parse_ts_credentials(&creds.encode_ts_credentials());
        assert_eq!(again.ok(), Some(creds));
    }
    let _ = DigestChallenge::parse_all(&String::from_utf8_lossy(data));
    let _ = subject_public_key(data);
    let _ = CertificateNames::of(data);

    let mut client =
        CredsspClient::new(Credentials::new("alice", "pw"), None, CredsspDelegation::AllowFreshCredentials);
    if client.step(None).is_ok() {
        let _ = client.step(Some(data));
    }
});
