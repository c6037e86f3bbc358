//! MS-NLMP section 4.2 test vectors (4.2.1 common values, 4.2.4 NTLMv2).

use super::client::{ResponseInputs, compute_response};
use super::crypto::{nt_hash, ntowfv2};
use super::messages::{AV_NB_COMPUTER_NAME, AV_NB_DOMAIN_NAME, Challenge, encode_av_pairs};
use super::session::NtlmSession;
use crate::credentials::Credentials;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn utf16(s: &str) -> Vec<u8> {
    super::crypto::utf16le(s)
}

/// NegotiateFlags of the 4.2.4 example (includes KEY_EXCH, SEAL, SIGN, extended session security).
const FLAGS_4_2_4: u32 = 0xe28a_8233;

fn challenge_4_2_4() -> Challenge {
    Challenge {
        flags: FLAGS_4_2_4,
        server_challenge: [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef],
        target_name: utf16("Server"),
        target_info: encode_av_pairs(&[(AV_NB_DOMAIN_NAME, &utf16("Domain")), (AV_NB_COMPUTER_NAME, &utf16("Server"))]),
    }
}

#[test]
fn ntowfv2_matches_4_2_4_1_1() {
    let key = ntowfv2(&nt_hash("Password"), "User", "Domain");
    assert_eq!(key.to_vec(), hex("0c868a403bfd7a93a3001ef22ef02e3f"));
}

#[test]
fn ntlmv2_response_and_keys_match_4_2_4() {
    let challenge = challenge_4_2_4();
    let creds = Credentials::with_domain("Domain", "User", "Password");
    let inputs = ResponseInputs { client_challenge: [0xaa; 8], timestamp: 0, random_session_key: [0x55; 16] };
    let out = compute_response(&creds, &challenge, &challenge.target_info, &inputs);
    assert_eq!(out.nt_response[..16], hex("68cd0ab851e51c96aabc927bebef6a1c")[..], "NTProofStr");
    assert_eq!(out.session_base_key.to_vec(), hex("8de40ccadbc14a82f15cb0ad0de95ca3"), "SessionBaseKey");
    assert_eq!(out.encrypted_session_key, hex("c5dad2544fc9799094ce1ce90bc9d03e"), "EncryptedRandomSessionKey");
    assert_eq!(out.exported_session_key.to_vec(), vec![0x55; 16]);
    // The blob: header, time 0, client challenge, zero, target info, zero.
    let blob = &out.nt_response[16..];
    assert_eq!(&blob[..8], &[1, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&blob[16..24], &[0xaa; 8]);
    assert_eq!(&blob[28..blob.len() - 4], &challenge.target_info[..]);
}

#[test]
fn sealing_matches_4_2_4_4() {
    let mut client = NtlmSession::new(&[0x55; 16], true, true);
    let wrapped = client.wrap(&utf16("Plaintext"));
    assert_eq!(wrapped.data, hex("54e50165bf1936dc996020c1811b0f06fb5f"), "sealed data");
    assert_eq!(wrapped.header, hex("010000007fb38ec5c55d497600000000"), "signature");
    // The server side of the same key unseals it, and the next message uses sequence number 1.
    let mut server = NtlmSession::new(&[0x55; 16], false, true);
    assert_eq!(server.unwrap(&wrapped.header, &wrapped.data).unwrap(), utf16("Plaintext"));
    let second = client.wrap(b"again");
    assert_eq!(&second.header[12..], &[1, 0, 0, 0]);
    assert_eq!(server.unwrap(&second.header, &second.data).unwrap(), b"again");
}

#[test]
fn replayed_or_tampered_messages_are_rejected() {
    let mut client = NtlmSession::new(&[7; 16], true, true);
    let mut server = NtlmSession::new(&[7; 16], false, true);
    let first = client.wrap(b"first message");
    let mut tampered = first.clone();
    tampered.data[3] ^= 1;
    assert_eq!(server.unwrap(&tampered.header, &tampered.data), Err(crate::AuthError::MessageAltered));
    // The failed attempt consumed keystream and a sequence number: the session is now out of step for good,
    // which is what the transport must treat as fatal.
    let mut server = NtlmSession::new(&[7; 16], false, true);
    assert!(server.unwrap(&first.header, &first.data).is_ok());
    assert!(server.unwrap(&first.header, &first.data).is_err(), "replay accepted");
}
