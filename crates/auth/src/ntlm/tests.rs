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

/// How the hand-built AUTHENTICATE of the MIC tests is laid out.
#[derive(Clone, Copy, Debug)]
enum MicLayout {
    /// No MsvAvFlags and no MIC field: the payload starts right after the version (asyauth/awinrm).
    Absent,
    /// No MsvAvFlags, a zero-filled MIC field left in place.
    ZeroField,
    /// MsvAvFlags announces a MIC and the field holds the correct one, then `tamper` is applied to it.
    Announced { tamper: bool },
}

fn client_negotiate() -> Vec<u8> {
    super::messages::Negotiate { flags: super::flags::CLIENT_DEFAULT }.encode()
}

/// Moves every payload offset of an AUTHENTICATE down by 16 after its MIC field was cut out.
fn remove_mic_field(auth: &mut Vec<u8>) {
    auth.drain(super::messages::MIC_OFFSET..super::messages::MIC_OFFSET + 16);
    for at in [12usize, 20, 28, 36, 44, 52] {
        let off = u32::from_le_bytes(auth[at + 4..at + 8].try_into().unwrap()) - 16;
        auth[at + 4..at + 8].copy_from_slice(&off.to_le_bytes());
    }
}

/// An AUTHENTICATE for alice (password "pw") answering `challenge_msg`, built by hand in `layout`, with the
/// client's end of the session.
fn authenticate_for_challenge(challenge_msg: &[u8], layout: MicLayout) -> (Vec<u8>, NtlmSession) {
    use super::messages::{AV_FLAG_MIC, AV_FLAGS, Authenticate, MIC_OFFSET, parse_av_pairs};
    let challenge = Challenge::parse(challenge_msg).unwrap();
    let mut pairs: Vec<(u16, &[u8])> = parse_av_pairs(&challenge.target_info).unwrap();
    let mic_flag = AV_FLAG_MIC.to_le_bytes();
    if matches!(layout, MicLayout::Announced { .. }) {
        pairs.push((AV_FLAGS, &mic_flag));
    }
    let target_info = encode_av_pairs(&pairs);
    let creds = Credentials::with_domain("EXAMPLE", "alice", "pw");
    let inputs = ResponseInputs { client_challenge: [3; 8], timestamp: 1, random_session_key: [9; 16] };
    let out = compute_response(&creds, &challenge, &target_info, &inputs);
    let mut auth = Authenticate {
        flags: challenge.flags,
        lm_response: vec![0; 24],
        nt_response: out.nt_response,
        domain: "EXAMPLE".into(),
        user: "alice".into(),
        workstation: String::new(),
        encrypted_session_key: out.encrypted_session_key,
        mic: None,
    }
    .encode();
    match layout {
        MicLayout::Absent => remove_mic_field(&mut auth),
        MicLayout::ZeroField => {}
        MicLayout::Announced { tamper } => {
            let mut mic =
                super::crypto::hmac_md5(&*out.exported_session_key, &[&client_negotiate(), challenge_msg, &auth]);
            if tamper {
                mic[5] ^= 0x40;
            }
            auth[MIC_OFFSET..MIC_OFFSET + 16].copy_from_slice(&mic);
        }
    }
    let key_exch = challenge.flags & super::flags::KEY_EXCH != 0;
    (auth, NtlmSession::new(&out.exported_session_key, true, key_exch))
}

fn alice() -> std::sync::Arc<crate::UserDatabase> {
    let mut users = crate::UserDatabase::new();
    users.add(Some("EXAMPLE"), "alice", "pw");
    std::sync::Arc::new(users)
}

/// Runs NEGOTIATE/CHALLENGE against a fresh acceptor and returns it with a hand-built AUTHENTICATE.
fn acceptor_and_authenticate(layout: MicLayout) -> (super::NtlmAcceptor, Vec<u8>, NtlmSession) {
    use crate::AcceptorContext;
    let mut acceptor = super::NtlmAcceptor::new(alice());
    let challenge = acceptor.step(&client_negotiate()).unwrap().unwrap();
    let (auth, client) = authenticate_for_challenge(&challenge, layout);
    (acceptor, auth, client)
}

#[test]
fn authenticate_without_mic_is_accepted_when_msv_av_flags_announce_none() {
    use crate::AcceptorContext;
    for layout in [MicLayout::Absent, MicLayout::ZeroField, MicLayout::Announced { tamper: false }] {
        let (mut acceptor, auth, mut client) = acceptor_and_authenticate(layout);
        assert_eq!(acceptor.step(&auth), Ok(None), "{layout:?}");
        assert_eq!(acceptor.client_identity().map(|i| i.user.as_str()), Some("alice"));
        assert_eq!(acceptor.carried_mic(), matches!(layout, MicLayout::Announced { .. }), "{layout:?}");
        // The sealing keys agree: a message sealed by the client unseals on the acceptor.
        let sealed = client.wrap(b"sealed body");
        assert_eq!(acceptor.unwrap(&sealed.header, &sealed.data).unwrap(), b"sealed body", "{layout:?}");
    }
}

#[test]
fn announced_mic_that_does_not_verify_is_refused() {
    use crate::AcceptorContext;
    let (mut acceptor, auth, _) = acceptor_and_authenticate(MicLayout::Announced { tamper: true });
    assert_eq!(acceptor.step(&auth), Err(crate::AuthError::MicMismatch));
    assert!(acceptor.client_identity().is_none());
    // An announced MIC whose field was cut out entirely is refused the same way.
    let (mut acceptor, mut auth, _) = acceptor_and_authenticate(MicLayout::Announced { tamper: false });
    remove_mic_field(&mut auth);
    assert_eq!(acceptor.step(&auth), Err(crate::AuthError::MicMismatch));
}

#[test]
fn spnego_completes_without_mech_list_mic_only_when_ntlm_carried_no_mic() {
    use crate::spnego::{NTLM_OID, NegState, NegToken};
    use crate::{AcceptorContext, SpnegoAcceptor};
    let run = |layout: MicLayout| {
        let mut spnego = SpnegoAcceptor::new(alice());
        let mut mech_types_der = vec![0x30, (NTLM_OID.len() + 2) as u8, 0x06, NTLM_OID.len() as u8];
        mech_types_der.extend_from_slice(NTLM_OID);
        let init = NegToken::Init {
            mech_types: vec![NTLM_OID.to_vec()],
            mech_types_der,
            mech_token: Some(client_negotiate()),
            mech_list_mic: None,
        };
        let resp = spnego.step(&init.encode()).unwrap().unwrap();
        let NegToken::Resp { response_token: Some(challenge), .. } = NegToken::parse(&resp).unwrap() else {
            panic!("expected a CHALLENGE")
        };
        let (auth, _) = authenticate_for_challenge(&challenge, layout);
        let token =
            NegToken::Resp { neg_state: None, supported_mech: None, response_token: Some(auth), mech_list_mic: None };
        spnego.step(&token.encode()).map(|out| (out, spnego.is_complete()))
    };
    let (out, complete) = run(MicLayout::Absent).unwrap();
    assert!(complete);
    let NegToken::Resp { neg_state, mech_list_mic, .. } = NegToken::parse(&out.unwrap()).unwrap() else {
        panic!("expected NegTokenResp")
    };
    assert_eq!((neg_state, mech_list_mic), (Some(NegState::AcceptCompleted), None));
    // With a MIC in the AUTHENTICATE the mechListMIC stays mandatory.
    assert_eq!(run(MicLayout::Announced { tamper: false }).err(), Some(crate::AuthError::MechListMicMismatch));
}
