//! The Kerberos parsers on arbitrary input: KDC replies, AP-REQ/AP-REP, GSS framing, Wrap and MIC tokens, MIT
//! keytab and ccache files, krb5.conf, and the keytab acceptor (alone and inside SPNEGO). Typed errors, never a
//! panic, never an allocation the input did not pay for.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use pssession_auth::kerberos::asn1::{ApReq, KdcReply, Ticket, decode_ap_rep, decode_etype_info2, decode_padata};
use pssession_auth::kerberos::crypto::{AES256_CTS_HMAC_SHA1_96, EncryptionKey};
use pssession_auth::kerberos::gss::{self, MessageProtection};
use pssession_auth::kerberos::{CredentialCache, Keytab, Krb5Config};
use pssession_auth::{AcceptorContext, KerberosAcceptor, SpnegoAcceptor, UserDatabase};

fuzz_target!(|data: &[u8]| {
    let _ = KdcReply::decode(data);
    let _ = ApReq::decode(data);
    let _ = decode_ap_rep(data);
    let _ = Ticket::decode(data);
    let _ = decode_padata(data);
    let _ = decode_etype_info2(data);
    if let Ok((id, message)) = gss::unframe(data) {
        // Re-framing a decoded token gives the same bytes back for the standard OID.
        if data.get(4..13) == Some(gss::KRB5_OID) {
            assert_eq!(gss::frame(id, message), data);
        }
    }
    let _ = Keytab::parse(data);
    let _ = CredentialCache::parse(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let config = Krb5Config::parse(text);
        let _ = config.realm_of_host("host.example.test");
    }

    // Per-message tokens under a fixed key, both roles.
    let Ok(key) = EncryptionKey::new(AES256_CTS_HMAC_SHA1_96, &[7; 32]) else { return };
    let _ = key.decrypt(11, data);
    for initiator in [true, false] {
        let mut p = MessageProtection::new(key.clone(), true, initiator, 0, 0);
        let _ = p.unwrap(data);
        let _ = p.verify_mic(b"mech list", data);
    }

    // The acceptors: an AES key for HTTP/localhost that no fuzzed ticket can be encrypted under by chance.
    let mut keytab = vec![0x05, 0x02];
    let mut entry = Vec::new();
    entry.extend_from_slice(&2u16.to_be_bytes());
    for part in [&b"WINRM.TEST"[..], b"HTTP", b"localhost"] {
        entry.extend_from_slice(&(part.len() as u16).to_be_bytes());
        entry.extend_from_slice(part);
    }
    entry.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 18, 0, 32]);
    entry.extend_from_slice(&[7; 32]);
    keytab.extend_from_slice(&(entry.len() as u32).to_be_bytes());
    keytab.extend_from_slice(&entry);
    let Ok(keytab) = Keytab::parse(&keytab) else { return };
    let keytab = Arc::new(keytab);
    let _ = KerberosAcceptor::new(keytab.clone()).step(data);
    let _ = SpnegoAcceptor::new(Arc::new(UserDatabase::new())).with_kerberos(KerberosAcceptor::new(keytab)).step(data);
});
