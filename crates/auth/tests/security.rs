//! In-process checks of what the acceptors verify and of the Basic policy, driven through the public API.

use std::sync::Arc;

use pssession_auth::ntlm::messages::Authenticate;
use pssession_auth::{
    AcceptStep, AcceptorContext, AuthError, BasicClient, BasicServer, ChannelBindingPolicy, ChannelBindings,
    ClientAuth, Credentials, InitiatorContext, NegotiateServer, NtlmAcceptor, NtlmClient, ServerAuth,
    TransportSecurity, UserDatabase, negotiate_client, ntlm_client,
};

const PASSWORD: &str = "S3cret-Passw0rd!";

fn users() -> Arc<UserDatabase> {
    let mut db = UserDatabase::new();
    db.add(Some("EXAMPLE"), "alice", PASSWORD).add(None, "bob", "bobs-password");
    Arc::new(db)
}

/// Runs NEGOTIATE and CHALLENGE and returns the client's AUTHENTICATE, for tampering.
fn authenticate_message(client: &mut NtlmClient, server: &mut NtlmAcceptor) -> Vec<u8> {
    let negotiate = client.step(None).unwrap().unwrap();
    let challenge = server.step(&negotiate).unwrap().unwrap();
    client.step(Some(&challenge)).unwrap().unwrap()
}

fn client(user: &str, password: &str) -> NtlmClient {
    NtlmClient::new(Credentials::new(user, password), Some("HTTP/host".into()), None)
}

#[test]
fn ntlm_round_trip_then_wrong_password_and_wrong_user_are_denied() {
    let mut server = NtlmAcceptor::new(users());
    let mut c = client("EXAMPLE\\alice", PASSWORD);
    let auth = authenticate_message(&mut c, &mut server);
    assert_eq!(server.step(&auth), Ok(None));
    assert!(server.is_complete() && c.is_complete());
    let w = c.wrap(b"hello").unwrap();
    assert_eq!(server.unwrap(&w.header, &w.data).unwrap(), b"hello");

    for (user, password) in [("EXAMPLE\\alice", "wrong"), ("EXAMPLE\\carol", PASSWORD), ("OTHER\\alice", PASSWORD)] {
        let mut server = NtlmAcceptor::new(users());
        let mut c = client(user, password);
        let auth = authenticate_message(&mut c, &mut server);
        assert_eq!(server.step(&auth), Err(AuthError::LogonDenied), "{user}/{password}");
        assert!(server.client_identity().is_none());
    }
    // An account without a domain accepts any domain; user names compare case-insensitively.
    let mut server = NtlmAcceptor::new(users());
    let mut c = client("ANYDOM\\BOB", "bobs-password");
    let auth = authenticate_message(&mut c, &mut server);
    assert_eq!(server.step(&auth), Ok(None));
}

#[test]
fn user_name_is_bound_by_the_ntproofstr() {
    // Rewriting the user name on the wire (to another existing account) breaks the NTProofStr.
    let mut server = NtlmAcceptor::new(users());
    let mut c = client("EXAMPLE\\alice", PASSWORD);
    let auth = authenticate_message(&mut c, &mut server);
    let mut parsed = Authenticate::parse(&auth).unwrap();
    parsed.user = "bob".into();
    parsed.domain = String::new();
    assert_eq!(server.step(&parsed.encode()), Err(AuthError::LogonDenied));
}

#[test]
fn mic_stripped_authenticate_is_rejected() {
    // 1. MIC bytes zeroed, flag left in place.
    let mut server = NtlmAcceptor::new(users());
    let mut c = client("EXAMPLE\\alice", PASSWORD);
    let mut auth = authenticate_message(&mut c, &mut server);
    auth[72..88].fill(0);
    assert_eq!(server.step(&auth), Err(AuthError::MicMismatch));

    // 2. MIC field removed entirely (payload moved up to offset 72, as pre-MIC clients lay it out).
    let mut server = NtlmAcceptor::new(users());
    let mut c = client("EXAMPLE\\alice", PASSWORD);
    let auth = authenticate_message(&mut c, &mut server);
    let stripped = strip_mic_field(&auth);
    assert_eq!(server.step(&stripped), Err(AuthError::MicMismatch));

    // 3. MsvAvFlags' MIC bit cleared in the blob and the MIC zeroed: the NTProofStr no longer verifies.
    let mut server = NtlmAcceptor::new(users());
    let mut c = client("EXAMPLE\\alice", PASSWORD);
    let auth = authenticate_message(&mut c, &mut server);
    let mut parsed = Authenticate::parse(&auth).unwrap();
    let blob = &mut parsed.nt_response[16..];
    let flags_at = find_av(blob, 0x0006).expect("MsvAvFlags present");
    blob[flags_at] &= !0x02;
    parsed.mic = Some([0; 16]);
    assert_eq!(server.step(&parsed.encode()), Err(AuthError::LogonDenied));
}

/// Removes the 16-byte MIC field and shifts every payload offset down by 16.
fn strip_mic_field(auth: &[u8]) -> Vec<u8> {
    let mut out = auth[..72].to_vec();
    out.extend_from_slice(&auth[88..]);
    for at in [12usize, 20, 28, 36, 44, 52] {
        let off = u32::from_le_bytes(out[at + 4..at + 8].try_into().unwrap()) - 16;
        out[at + 4..at + 8].copy_from_slice(&off.to_le_bytes());
    }
    out
}

/// Offset of the value of AV pair `id` in an NTLMv2 blob.
fn find_av(blob: &[u8], id: u16) -> Option<usize> {
    let mut at = 28;
    while at + 4 <= blob.len() {
        let this = u16::from_le_bytes([blob[at], blob[at + 1]]);
        let len = usize::from(u16::from_le_bytes([blob[at + 2], blob[at + 3]]));
        if this == id {
            return Some(at + 4);
        }
        if this == 0 {
            return None;
        }
        at += 4 + len;
    }
    None
}

#[test]
fn channel_binding_policies() {
    let ours = ChannelBindings::from_application_data(b"tls-server-end-point:ours".to_vec());
    let theirs = ChannelBindings::from_application_data(b"tls-server-end-point:theirs".to_vec());
    let run = |client_cbt: Option<ChannelBindings>, policy| {
        let mut server = NtlmAcceptor::new(users()).with_channel_bindings(ours.clone(), policy);
        let mut c = NtlmClient::new(Credentials::new("EXAMPLE\\alice", PASSWORD), None, client_cbt);
        let auth = authenticate_message(&mut c, &mut server);
        server.step(&auth)
    };
    assert_eq!(run(Some(ours.clone()), ChannelBindingPolicy::Required), Ok(None));
    assert_eq!(run(None, ChannelBindingPolicy::Required), Err(AuthError::ChannelBindingsMismatch));
    assert_eq!(run(Some(theirs.clone()), ChannelBindingPolicy::Required), Err(AuthError::ChannelBindingsMismatch));
    assert_eq!(run(None, ChannelBindingPolicy::WhenSupported), Ok(None));
    assert_eq!(run(Some(theirs), ChannelBindingPolicy::WhenSupported), Err(AuthError::ChannelBindingsMismatch));
}

/// Runs a header-level handshake the way the transport and the server would.
fn http_handshake(client: &mut dyn ClientAuth, server: &mut dyn ServerAuth) -> Result<(), AuthError> {
    let mut authorization = client.step(None)?.expect("first Authorization");
    loop {
        match server.step(&authorization)? {
            AcceptStep::Continue(www) => authorization = client.step(Some(&www))?.expect("next Authorization"),
            AcceptStep::Complete(www) => {
                if !client.is_complete() {
                    assert_eq!(client.step(www.as_deref())?, None);
                }
                assert!(client.is_complete());
                return Ok(());
            }
        }
    }
}

#[test]
fn http_negotiate_ntlm_and_raw_ntlm_under_negotiate() {
    let creds = || Credentials::new("EXAMPLE\\alice", PASSWORD);
    // SPNEGO under Negotiate.
    let mut c = negotiate_client(creds(), Some("HTTP/host".into()), None);
    let mut s = NegotiateServer::new(users());
    http_handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.client_identity().unwrap().user, "alice");
    let w = s.wrap(b"from server").unwrap();
    assert_eq!(c.unwrap(&w.header, &w.data).unwrap(), b"from server");
    // NTLM scheme.
    let mut c = ntlm_client(creds(), None, None);
    let mut s = NegotiateServer::new(users());
    http_handshake(&mut c, &mut s).unwrap();
    // Raw NTLMSSP under the Negotiate scheme (pypsrp auth="ntlm") is sniffed.
    let mut c = pssession_auth::HttpInitiator::new("Negotiate", NtlmClient::new(creds(), None, None));
    let mut s = NegotiateServer::new(users());
    http_handshake(&mut c, &mut s).unwrap();
    let w = c.wrap(b"payload").unwrap();
    assert_eq!(s.unwrap(&w.header, &w.data).unwrap(), b"payload");
    // Wrong password over HTTP.
    let mut c = negotiate_client(Credentials::new("EXAMPLE\\alice", "nope"), None, None);
    let mut s = NegotiateServer::new(users());
    assert_eq!(http_handshake(&mut c, &mut s), Err(AuthError::LogonDenied));
    assert!(!s.is_complete());
}

#[test]
fn a_server_context_verifies_the_next_sealed_message_without_changing() {
    let creds = || Credentials::new("EXAMPLE\\alice", PASSWORD);
    let clients: [Box<dyn ClientAuth>; 2] = [
        Box::new(negotiate_client(creds(), Some("HTTP/host".into()), None)),
        Box::new(pssession_auth::HttpInitiator::new("Negotiate", NtlmClient::new(creds(), None, None))),
    ];
    for mut c in clients {
        let mut s = NegotiateServer::new(users());
        http_handshake(c.as_mut(), &mut s).unwrap();
        // Another session at the same sequence number (same mechanism, same number of messages).
        let mut other_client = negotiate_client(creds(), None, None);
        let mut other = NegotiateServer::new(users());
        http_handshake(&mut other_client, &mut other).unwrap();
        let big = vec![7u8; 100_000];
        let first = c.wrap(&big).unwrap();
        let second = c.wrap(b"second").unwrap();
        // Asking twice changes nothing; only the next message verifies, and not with a bit flipped.
        assert!(s.verifies_next_seal(&first.header, &first.data) && s.verifies_next_seal(&first.header, &first.data));
        assert!(!s.verifies_next_seal(&second.header, &second.data));
        let mut tampered = first.data.clone();
        tampered[10] ^= 1;
        assert!(!s.verifies_next_seal(&first.header, &tampered));
        assert!(!s.verifies_next_seal(&first.header[..15], &first.data));
        assert_eq!(s.unwrap(&first.header, &first.data).unwrap(), big);
        assert!(
            !s.verifies_next_seal(&first.header, &first.data) && s.verifies_next_seal(&second.header, &second.data)
        );
        assert_eq!(s.unwrap(&second.header, &second.data).unwrap(), b"second");
        // The other session's next message, at its own position, is not this one's, and vice versa.
        let theirs = other_client.wrap(b"other").unwrap();
        let ours = c.wrap(b"third").unwrap();
        assert!(!s.verifies_next_seal(&theirs.header, &theirs.data));
        assert!(!other.verifies_next_seal(&ours.header, &ours.data));
        assert!(other.verifies_next_seal(&theirs.header, &theirs.data));
        assert_eq!(s.unwrap(&ours.header, &ours.data).unwrap(), b"third");
    }
    // Incomplete contexts answer no.
    let incomplete = NegotiateServer::new(users());
    assert!(!incomplete.verifies_next_seal(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], b"x"));
}

#[test]
fn spnego_mech_list_mic_is_required_and_checked() {
    use pssession_auth::spnego::NegToken;
    let run = |tamper: &dyn Fn(Option<Vec<u8>>) -> Option<Vec<u8>>| {
        let mut c = pssession_auth::SpnegoClient::new(Credentials::new("EXAMPLE\\alice", PASSWORD), None, None);
        let mut s = pssession_auth::SpnegoAcceptor::new(users());
        let init = c.step(None).unwrap().unwrap();
        let resp = s.step(&init).unwrap().unwrap();
        let auth = c.step(Some(&resp)).unwrap().unwrap();
        let NegToken::Resp { neg_state, supported_mech, response_token, mech_list_mic } =
            NegToken::parse(&auth).unwrap()
        else {
            panic!("expected NegTokenResp")
        };
        let token = NegToken::Resp { neg_state, supported_mech, response_token, mech_list_mic: tamper(mech_list_mic) };
        s.step(&token.encode())
    };
    assert!(run(&|m| m).is_ok());
    assert_eq!(run(&|_| None), Err(AuthError::MechListMicMismatch));
    assert_eq!(
        run(&|m| m.map(|mut m| {
            m[6] ^= 1;
            m
        })),
        Err(AuthError::MechListMicMismatch)
    );
}

#[test]
fn basic_is_refused_over_http_unless_allowed() {
    let creds = Credentials::new("EXAMPLE\\alice", PASSWORD);
    assert_eq!(
        BasicClient::new(&creds, TransportSecurity::Plaintext, false).unwrap_err(),
        AuthError::BasicOverHttpRefused
    );
    assert_eq!(
        BasicServer::new(users(), TransportSecurity::Plaintext, false).unwrap_err(),
        AuthError::BasicOverHttpRefused
    );
    assert!(AuthError::BasicOverHttpRefused.to_string().contains("unencrypted"));
    for (transport, allow) in [(TransportSecurity::Tls, false), (TransportSecurity::Plaintext, true)] {
        let mut c = BasicClient::new(&creds, transport, allow).unwrap();
        let mut s = BasicServer::new(users(), transport, allow).unwrap();
        http_handshake(&mut c, &mut s).unwrap();
        assert_eq!(s.client_identity().unwrap().domain, "EXAMPLE");
        assert_eq!(c.wrap(b"x"), Err(AuthError::SealingUnavailable));
    }
    let mut c = BasicClient::new(&Credentials::new("EXAMPLE\\alice", "bad"), TransportSecurity::Tls, false).unwrap();
    let mut s = BasicServer::new(users(), TransportSecurity::Tls, false).unwrap();
    assert_eq!(http_handshake(&mut c, &mut s), Err(AuthError::LogonDenied));
    assert_eq!(c.step(Some("Basic realm=\"WSMAN\"")), Err(AuthError::Rejected));
    assert!(s.step("Basic !!!").is_err());
    assert!(s.step("Negotiate abc").is_err());
}

#[test]
fn debug_output_never_contains_secrets() {
    let creds = Credentials::new("EXAMPLE\\alice", PASSWORD);
    let shown = format!("{creds:?} {:?}", BasicClient::new(&creds, TransportSecurity::Tls, false).unwrap());
    assert!(shown.contains("alice"));
    assert!(!shown.contains(PASSWORD), "{shown}");
    let mut c = NtlmClient::new(creds.clone(), None, None);
    let mut s = NtlmAcceptor::new(users());
    let auth = authenticate_message(&mut c, &mut s);
    s.step(&auth).unwrap();
    let shown = format!("{c:?} {s:?} {:?} {:?}", users(), negotiate_client(creds, None, None));
    assert!(!shown.contains(PASSWORD), "{shown}");
    // The Basic header is base64 of user:password; it must not leak either.
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("EXAMPLE\\alice:{PASSWORD}"));
    let basic =
        format!("{:?}", BasicClient::new(&Credentials::new("EXAMPLE\\alice", PASSWORD), TransportSecurity::Tls, false));
    assert!(!basic.contains(&b64));
}

#[test]
fn malformed_tokens_are_typed_errors() {
    let mut s = NegotiateServer::new(users());
    for bad in ["Negotiate", "Negotiate ####", "Negotiate AAAA", "NTLM TlRMTVNTUAAB", "Kerberos AAAA"] {
        assert!(s.step(bad).is_err(), "{bad}");
    }
    let huge = format!("Negotiate {}", "A".repeat(200_000));
    assert!(matches!(s.step(&huge), Err(AuthError::TooLarge { .. })));
    let mut c = negotiate_client(Credentials::new("a", "b"), None, None);
    c.step(None).unwrap();
    assert!(c.step(Some("Negotiate oQcwBaADCgEC")).is_err()); // reject
    assert_eq!(c.step(None), Err(AuthError::Rejected));
}

#[test]
fn spnego_acceptor_handles_ntlm_as_second_choice() {
    use pssession_auth::spnego::{NTLM_OID, NegState, NegToken};
    const KRB5_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
    // MechTypeList [krb5, NTLM] with an (unusable) optimistic Kerberos token.
    let mut list = vec![0x06, KRB5_OID.len() as u8];
    list.extend_from_slice(KRB5_OID);
    list.extend_from_slice(&[0x06, NTLM_OID.len() as u8]);
    list.extend_from_slice(NTLM_OID);
    let mech_types_der = [&[0x30, list.len() as u8][..], &list].concat();
    let init = NegToken::Init {
        mech_types: vec![KRB5_OID.to_vec(), NTLM_OID.to_vec()],
        mech_types_der: mech_types_der.clone(),
        mech_token: Some(vec![0x60, 0x00]),
        mech_list_mic: None,
    };
    let mut server = pssession_auth::SpnegoAcceptor::new(users());
    let reply = NegToken::parse(&server.step(&init.encode()).unwrap().unwrap()).unwrap();
    let NegToken::Resp { neg_state, supported_mech, response_token, .. } = reply else { panic!("{reply:?}") };
    assert_eq!(neg_state, Some(NegState::RequestMic));
    assert_eq!(supported_mech.as_deref(), Some(NTLM_OID));
    assert_eq!(response_token, None);

    let mut ntlm = client("EXAMPLE\\alice", PASSWORD);
    let resp = |token: Vec<u8>, mic: Option<Vec<u8>>| {
        NegToken::Resp { neg_state: None, supported_mech: None, response_token: Some(token), mech_list_mic: mic }
            .encode()
    };
    let reply = server.step(&resp(ntlm.step(None).unwrap().unwrap(), None)).unwrap().unwrap();
    let NegToken::Resp { response_token: Some(challenge), .. } = NegToken::parse(&reply).unwrap() else {
        panic!("no CHALLENGE")
    };
    let auth = ntlm.step(Some(&challenge)).unwrap().unwrap();
    // Without a mechListMIC over [krb5, NTLM] the acceptor refuses (the list could have been downgraded).
    assert_eq!(server.step(&resp(auth, None)), Err(AuthError::MechListMicMismatch));
}
