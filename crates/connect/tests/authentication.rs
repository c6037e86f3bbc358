//! The transport-facing authenticator against our own acceptors, header by header: the Negotiate dance with
//! message encryption both ways, channel bindings on HTTPS, and the Basic policy.

use std::sync::Arc;

use pssession_auth::credssp::CredsspServer;
use pssession_auth::winrm_sealing::Sealer;
use pssession_auth::{
    AcceptStep, BasicServer, ChannelBindingPolicy, ChannelBindings, Credentials, NegotiateServer, ServerAuth,
    TransportSecurity, UserDatabase,
};
use pssession_connect::authentication::{AuthenticationMechanism, AuthenticationOptions, WinrmAuthenticator};
use pssession_wsman::multipart::{self, EncryptionProtocol, Limits};
use pssession_wsman::transport::{ConnectionInfo, EndpointUri, HttpAuthenticator};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn users() -> Arc<UserDatabase> {
    let mut db = UserDatabase::new();
    db.add(None, "alice", "Passw0rd!");
    Arc::new(db)
}

fn http() -> ConnectionInfo {
    ConnectionInfo {
        endpoint: EndpointUri::from_connection_uri("http://server.test:5985/wsman").unwrap(),
        peer_certificate: None,
    }
}

fn https(certificate: CertificateDer<'static>) -> ConnectionInfo {
    ConnectionInfo {
        endpoint: EndpointUri::from_connection_uri("https://server.test:5986/wsman").unwrap(),
        peer_certificate: Some(certificate),
    }
}

fn options(mechanism: AuthenticationMechanism, password: &str) -> AuthenticationOptions {
    AuthenticationOptions::new(mechanism, Credentials::new("alice", password))
}

/// Runs the 401 dance until the server is satisfied; returns whether the client accepted the final answer.
fn handshake(
    client: &mut WinrmAuthenticator,
    server: &mut dyn ServerAuth,
    connection: &ConnectionInfo,
) -> Result<(), String> {
    let mut authorization = client.start(connection).map_err(|e| e.to_string())?;
    for _ in 0..10 {
        let value = authorization.ok_or("client sent no Authorization")?;
        match server.step(&value) {
            Ok(AcceptStep::Continue(challenge)) => {
                authorization = client.challenge(401, &[challenge]).map_err(|e| e.to_string())?;
            }
            Ok(AcceptStep::Complete(last)) => {
                if let Some(last) = last {
                    client.challenge(200, &[last]).map_err(|e| e.to_string())?;
                }
                return if client.is_established() { Ok(()) } else { Err("client not established".into()) };
            }
            Err(_) => {
                let offer = server.offer().join(", ");
                client.challenge(401, &[offer]).map_err(|e| e.to_string())?;
                return Err("server refused without the client noticing".into());
            }
        }
    }
    Err("too many rounds".into())
}

#[test]
fn negotiate_over_http_encrypts_both_ways() {
    let mut client = WinrmAuthenticator::new(options(AuthenticationMechanism::Negotiate, "Passw0rd!"));
    let mut server = NegotiateServer::new(users());
    handshake(&mut client, &mut server, &http()).unwrap();
    assert_eq!(server.client_identity().unwrap().user, "alice");
    assert_eq!(client.authorization().unwrap(), None, "Negotiate binds to the connection");

    let envelope = b"<s:Envelope>request</s:Envelope>";
    let (content_type, body) = client.encryption().expect("sealing over HTTP").encrypt(envelope).unwrap();
    assert!(content_type.contains("application/HTTP-SPNEGO-session-encrypted"), "{content_type}");
    assert!(!body.windows(envelope.len()).any(|w| w == envelope), "the envelope travels encrypted");
    let plain =
        multipart::decrypt(&mut Sealer(&mut server as &mut dyn ServerAuth), &content_type, &body, &Limits::default())
            .unwrap();
    assert_eq!(plain, envelope);

    let reply = b"<s:Envelope>response</s:Envelope>";
    let sealed =
        multipart::encrypt(&mut Sealer(&mut server as &mut dyn ServerAuth), EncryptionProtocol::Spnego, reply).unwrap();
    let opened = client.encryption().unwrap().decrypt(&sealed.content_type, sealed.body.clone().into()).unwrap();
    assert_eq!(&opened[..], reply);

    // A tampered reply is refused.
    let mut tampered = sealed.body;
    let last = tampered.len() - 30;
    tampered[last] ^= 1;
    assert!(client.encryption().unwrap().decrypt(&sealed.content_type, tampered.into()).is_err());
}

#[test]
fn negotiate_wrong_password_is_reported_as_rejected() {
    let mut client = WinrmAuthenticator::new(options(AuthenticationMechanism::Default, "wrong"));
    let mut server = NegotiateServer::new(users());
    let error = handshake(&mut client, &mut server, &http()).unwrap_err();
    assert!(error.contains("rejected") || error.contains("failed"), "{error}");
    assert!(!error.contains("wrong\""), "no secret in the message: {error}");
}

#[test]
fn negotiate_over_https_sends_channel_bindings_and_does_not_seal() {
    let key = rcgen::generate_simple_self_signed(vec!["server.test".to_owned()]).unwrap();
    let der = CertificateDer::from(key.cert.der().to_vec());
    let bindings = ChannelBindings::tls_server_end_point(der.as_ref()).unwrap();
    let mut server = NegotiateServer::new(users()).with_channel_bindings(bindings, ChannelBindingPolicy::Required);
    let mut client = WinrmAuthenticator::new(options(AuthenticationMechanism::Negotiate, "Passw0rd!"));
    handshake(&mut client, &mut server, &https(der)).unwrap();
    assert!(client.encryption().is_none(), "TLS protects the bodies");

    // The same server refuses a client that saw a different certificate (a man in the middle).
    let other = rcgen::generate_simple_self_signed(vec!["evil.test".to_owned()]).unwrap();
    let key = rcgen::generate_simple_self_signed(vec!["server.test".to_owned()]).unwrap();
    let bindings = ChannelBindings::tls_server_end_point(key.cert.der()).unwrap();
    let mut server = NegotiateServer::new(users()).with_channel_bindings(bindings, ChannelBindingPolicy::Required);
    let mut client = WinrmAuthenticator::new(options(AuthenticationMechanism::Negotiate, "Passw0rd!"));
    assert!(handshake(&mut client, &mut server, &https(CertificateDer::from(other.cert.der().to_vec()))).is_err());
}

#[test]
fn basic_is_refused_over_http_unless_allowed_and_repeats_its_header() {
    let mut client = WinrmAuthenticator::new(options(AuthenticationMechanism::Basic, "Passw0rd!"));
    let refused = client.start(&http()).unwrap_err();
    let error = refused.to_string();
    assert!(error.contains("Basic") && error.to_lowercase().contains("http"), "{error}");
    // The mechanism's typed error travels along: an embedder matches on it instead of parsing the message.
    let typed = pssession_connect::Error::Transport(pssession_wsman::transport::TransportError::Auth(refused));
    assert_eq!(typed.auth_error(), Some(&pssession_auth::AuthError::BasicOverHttpRefused));

    let mut allowed = options(AuthenticationMechanism::Basic, "Passw0rd!");
    allowed.dangerous().allow_unencrypted(true);
    let mut client = WinrmAuthenticator::new(allowed);
    let mut server = BasicServer::new(users(), TransportSecurity::Plaintext, true).unwrap();
    handshake(&mut client, &mut server, &http()).unwrap();
    assert!(client.encryption().is_none(), "Basic cannot seal");
    let again = client.authorization().unwrap().expect("Basic goes on every request");
    assert!(again.starts_with("Basic "));
    assert!(!format!("{client:?}").contains("Passw0rd"), "Debug redacts the password");
}

#[test]
fn a_server_offering_another_scheme_gets_a_clear_error() {
    let mut client = WinrmAuthenticator::new(options(AuthenticationMechanism::Negotiate, "Passw0rd!"));
    client.start(&http()).unwrap();
    let error = client.challenge(401, &["Basic realm=\"WSMAN\"".to_owned()]).unwrap_err().to_string();
    assert!(error.contains("does not accept Negotiate") && error.contains("Basic"), "{error}");
}

#[test]
fn mechanism_names_parse_like_powershell() {
    assert_eq!(AuthenticationMechanism::from_name("negotiate"), Some(AuthenticationMechanism::Negotiate));
    assert_eq!(AuthenticationMechanism::from_name("Basic"), Some(AuthenticationMechanism::Basic));
    assert_eq!(AuthenticationMechanism::from_name("Default"), Some(AuthenticationMechanism::Default));
    assert_eq!(AuthenticationMechanism::from_name("credssp"), Some(AuthenticationMechanism::CredSsp));
    assert_eq!(AuthenticationMechanism::from_name("Digest"), Some(AuthenticationMechanism::Digest));
    assert_eq!(AuthenticationMechanism::from_name("bogus"), None);
}

#[test]
fn credssp_over_http_delegates_and_encrypts_with_the_credssp_protocol() {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["server.test".to_owned()]).unwrap().self_signed(&key).unwrap();
    let private = PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let mut server = CredsspServer::new(users(), vec![cert.der().clone()], private);
    let mut client = WinrmAuthenticator::new(options(AuthenticationMechanism::CredSsp, "Passw0rd!"));
    handshake(&mut client, &mut server, &http()).unwrap();
    assert_eq!(server.client_identity().unwrap().user, "alice");
    let delegated = server.acceptor().unwrap().delegated_credentials().unwrap();
    assert_eq!(delegated.user, "alice");

    let envelope = vec![b'x'; 40_000];
    let (content_type, body) = client.encryption().expect("CredSSP seals over HTTP").encrypt(&envelope).unwrap();
    assert!(content_type.contains("HTTP-CredSSP-session-encrypted"), "{content_type}");
    assert!(content_type.starts_with("multipart/x-multi-encrypted"), "40 kB is chunked: {content_type}");
    let plain =
        multipart::decrypt(&mut Sealer(&mut server as &mut dyn ServerAuth), &content_type, &body, &Limits::default())
            .unwrap();
    assert_eq!(plain, envelope);
}

#[test]
fn digest_against_winrm_says_plainly_that_winrm_does_not_accept_it() {
    let mut client = WinrmAuthenticator::new(options(AuthenticationMechanism::Digest, "Passw0rd!"));
    assert_eq!(client.start(&http()).unwrap(), None, "Digest sends its first request bare");
    let error = client.challenge(401, &["Negotiate".to_owned(), "Kerberos".to_owned()]).unwrap_err().to_string();
    assert!(error.contains("the WinRM service does not accept Digest"), "{error}");
}

#[test]
fn client_certificates_need_https_and_send_the_mutual_value_on_every_request() {
    let mut client = WinrmAuthenticator::new(options(AuthenticationMechanism::Certificate, ""));
    let error = client.start(&http()).unwrap_err().to_string();
    assert!(error.contains("HTTPS"), "{error}");

    let key = rcgen::generate_simple_self_signed(vec!["server.test".to_owned()]).unwrap();
    let mut client = WinrmAuthenticator::new(options(AuthenticationMechanism::Certificate, ""));
    let mutual = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual";
    let first = client.start(&https(CertificateDer::from(key.cert.der().to_vec()))).unwrap();
    assert_eq!(first.as_deref(), Some(mutual));
    assert!(client.is_established());
    assert_eq!(client.authorization().unwrap().as_deref(), Some(mutual));
    assert!(client.encryption().is_none());
    assert!(client.challenge(401, &[]).is_err(), "a 401 means the certificate was refused");
}
