//! CredSSP client against pyspnego 0.12.4's CredSSP acceptor (the pinned test peer): full handshake over TLS 1.3
//! and 1.2, credentials delivered, WinRM wrap/unwrap both ways, legacy protocol versions, wrong password,
//! tampered public-key binding.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pssession_auth::credssp::{CredsspClient, CredsspDelegation, CredsspHttpClient, CredsspTlsVersions};
use pssession_auth::{AuthError, ClientAuth, Credentials, InitiatorContext};

struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    dir: std::path::PathBuf,
}

fn b64(data: &[u8]) -> String {
    if data.is_empty() { "-".into() } else { STANDARD.encode(data) }
}

fn unb64(s: &str) -> Vec<u8> {
    if s == "-" { Vec::new() } else { STANDARD.decode(s).expect("peer sent base64") }
}

impl Peer {
    fn acceptor(options: &[&str]) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pssession-credssp-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ntlm_users");
        std::fs::write(&file, "EXAMPLE:alice:Passw0rd!\n").unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/credssp_peer.py");
        let mut child = Command::new(pssession_testkit::python())
            .arg(script)
            .arg("acceptor")
            .arg(&file)
            .args(options)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the pyspnego CredSSP peer");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self { child, stdin, stdout, dir }
    }

    fn call(&mut self, line: &str) -> Result<Vec<String>, String> {
        writeln!(self.stdin, "{line}").expect("write to peer");
        self.stdin.flush().unwrap();
        let mut reply = String::new();
        self.stdout.read_line(&mut reply).expect("read from peer");
        assert!(!reply.is_empty(), "pyspnego peer exited (see stderr)");
        let mut fields = reply.split_whitespace().map(str::to_owned);
        match fields.next().as_deref() {
            Some("ok") => Ok(fields.collect()),
            _ => Err(reply.trim().to_owned()),
        }
    }

    fn step(&mut self, token: &[u8]) -> Result<(Vec<u8>, bool), String> {
        let f = self.call(&format!("step {}", b64(token)))?;
        Ok((unb64(&f[0]), f[1] == "1"))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[derive(Debug)]
enum Failure {
    Client(AuthError),
    Peer(String),
}

fn client(user: &str, password: &str) -> CredsspClient {
    CredsspClient::new(
        Credentials::new(user, password),
        Some("HTTP/winrm.example.test".into()),
        CredsspDelegation::AllowFreshCredentials,
    )
}

/// Runs the exchange to completion; returns the number of legs.
fn handshake(client: &mut CredsspClient, peer: &mut Peer) -> Result<usize, Failure> {
    let mut token = client.step(None).map_err(Failure::Client)?.expect("ClientHello");
    for leg in 1..20 {
        let (reply, peer_complete) = peer.step(&token).map_err(Failure::Peer)?;
        if client.is_complete() {
            assert!(peer_complete, "the acceptor completes on the credentials");
            assert!(reply.is_empty());
            return Ok(leg);
        }
        let input = if reply.is_empty() { None } else { Some(&reply[..]) };
        token = client.step(input).map_err(Failure::Client)?.expect("a token while incomplete");
    }
    panic!("no completion after 20 legs");
}

fn check_credentials_and_sealing(client: &mut CredsspClient, peer: &mut Peer, domain: &str, user: &str) {
    let creds = peer.call("credentials").expect("delegated credentials");
    let text = |s: &str| String::from_utf8(unb64(s)).unwrap();
    assert_eq!((text(&creds[0]), text(&creds[1]), text(&creds[2])), (domain.into(), user.into(), "Passw0rd!".into()));

    for size in [0usize, 1, 1000, 16 * 1024] {
        let message: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let sealed = client.wrap(&message).unwrap();
        let f = peer.call(&format!("unwrap {} {}", b64(&sealed.header), b64(&sealed.data))).expect("peer unwrap");
        assert_eq!(unb64(&f[0]), message, "client -> server, {size} bytes");

        let f = peer.call(&format!("wrap {}", b64(&message))).expect("peer wrap");
        let (header, data) = (unb64(&f[0]), unb64(&f[1]));
        assert_eq!(client.unwrap(&header, &data).unwrap(), message, "server -> client, {size} bytes");
    }
    // A tampered record fails (and the TLS session is dead afterwards, like any TLS connection).
    let mut sealed = client.wrap(b"<s:Envelope/>").unwrap();
    let f = peer.call("wrap PGVjaG8vPg==").unwrap();
    let (header, mut data) = (unb64(&f[0]), unb64(&f[1]));
    let last = data.len() - 1;
    data[last] ^= 1;
    assert_eq!(client.unwrap(&header, &data), Err(AuthError::MessageAltered));
    sealed.data[0] ^= 1;
    assert!(peer.call(&format!("unwrap {} {}", b64(&sealed.header), b64(&sealed.data))).is_err());
}

#[test]
fn tls13_version6_delegates_and_seals() {
    let mut peer = Peer::acceptor(&[]);
    let mut client = client("EXAMPLE\\alice", "Passw0rd!");
    handshake(&mut client, &mut peer).unwrap();
    assert_eq!(client.peer_version(), 6);
    let info = peer.call("info").unwrap();
    assert_eq!(info, ["6", "TLSv1.3"]);
    let sealed = client.wrap(b"x").unwrap();
    assert_eq!(sealed.header.len(), 17, "TLS 1.3 trailer convention");
    let f = peer.call(&format!("unwrap {} {}", b64(&sealed.header), b64(&sealed.data))).unwrap();
    assert_eq!(unb64(&f[0]), b"x");
    check_credentials_and_sealing(&mut client, &mut peer, "EXAMPLE", "alice");
}

#[test]
fn tls12_version6_delegates_and_seals() {
    let mut peer = Peer::acceptor(&[]);
    let mut client = client("EXAMPLE\\alice", "Passw0rd!").with_tls_versions(CredsspTlsVersions::Tls12Only);
    handshake(&mut client, &mut peer).unwrap();
    assert_eq!(peer.call("info").unwrap(), ["6", "TLSv1.2"]);
    let sealed = client.wrap(b"x").unwrap();
    assert_eq!(sealed.header.len(), 16, "TLS 1.2 AES-GCM trailer convention");
    let f = peer.call(&format!("unwrap {} {}", b64(&sealed.header), b64(&sealed.data))).unwrap();
    assert_eq!(unb64(&f[0]), b"x");
    check_credentials_and_sealing(&mut client, &mut peer, "EXAMPLE", "alice");
}

#[test]
fn peer_limited_to_tls12_is_fine() {
    let mut peer = Peer::acceptor(&["tls=1.2"]);
    let mut client = client("EXAMPLE\\alice", "Passw0rd!");
    handshake(&mut client, &mut peer).unwrap();
    assert_eq!(peer.call("info").unwrap(), ["6", "TLSv1.2"]);
    check_credentials_and_sealing(&mut client, &mut peer, "EXAMPLE", "alice");
}

#[test]
fn legacy_versions_need_an_explicit_minimum() {
    for version in ["2", "3", "4"] {
        // Refused by default (no CVE-2018-0886 fix) ...
        let mut peer = Peer::acceptor(&[&format!("version={version}")]);
        let mut c = client("EXAMPLE\\alice", "Passw0rd!");
        match handshake(&mut c, &mut peer) {
            Err(Failure::Client(AuthError::Unsupported(m))) => assert!(m.contains("version"), "{m}"),
            other => panic!("version {version}: {other:?}"),
        }
        // ... and working with the legacy binding (first byte + 1) when allowed.
        let mut peer = Peer::acceptor(&[&format!("version={version}")]);
        let mut c = client("EXAMPLE\\alice", "Passw0rd!").with_min_version(2);
        handshake(&mut c, &mut peer).unwrap();
        assert_eq!(c.peer_version().to_string(), version);
        check_credentials_and_sealing(&mut c, &mut peer, "EXAMPLE", "alice");
    }
}

#[test]
fn version5_uses_the_nonce_binding() {
    let mut peer = Peer::acceptor(&["version=5"]);
    let mut c = client("EXAMPLE\\alice", "Passw0rd!");
    handshake(&mut c, &mut peer).unwrap();
    assert_eq!(c.peer_version(), 5);
    check_credentials_and_sealing(&mut c, &mut peer, "EXAMPLE", "alice");
}

#[test]
fn wrong_password_is_reported_by_the_acceptor() {
    let mut peer = Peer::acceptor(&[]);
    let mut c = client("EXAMPLE\\alice", "wrong");
    match handshake(&mut c, &mut peer) {
        // pyspnego reports SEC_E_LOGON_DENIED; Windows STATUS_LOGON_FAILURE.
        Err(Failure::Client(e @ AuthError::CredsspServerError { nt_status: 0x8009_030C })) => {
            assert!(e.to_string().contains("logon failure"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert!(!c.is_complete());
    assert!(peer.call("credentials").is_err(), "nothing was delegated");
}

#[test]
fn wrong_user_is_refused_and_nothing_delegated() {
    let mut peer = Peer::acceptor(&[]);
    let mut c = client("EXAMPLE\\mallory", "Passw0rd!");
    assert!(matches!(handshake(&mut c, &mut peer), Err(Failure::Client(AuthError::CredsspServerError { .. }))));
    assert!(peer.call("credentials").is_err());
}

#[test]
fn corrupted_server_proof_stops_the_client_before_delegation() {
    let mut peer = Peer::acceptor(&["tamper=server-proof"]);
    let mut c = client("EXAMPLE\\alice", "Passw0rd!");
    match handshake(&mut c, &mut peer) {
        Err(Failure::Client(AuthError::PublicKeyBindingMismatch)) => {}
        other => panic!("{other:?}"),
    }
    assert!(!c.is_complete());
    assert!(peer.call("credentials").is_err(), "the password was not sent");
    assert!(c.wrap(b"x").is_err());
}

#[test]
fn acceptor_with_another_key_rejects_our_binding() {
    // The acceptor's notion of its public key differs from the TLS certificate we saw: as when a man in the
    // middle terminates our TLS session. The acceptor must refuse our pubKeyAuth.
    let mut peer = Peer::acceptor(&["tamper=key"]);
    let mut c = client("EXAMPLE\\alice", "Passw0rd!");
    match handshake(&mut c, &mut peer) {
        Err(Failure::Peer(m)) => assert!(m.contains("BadBindings") || m.contains("Public key"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(!c.is_complete());
}

#[test]
fn http_client_speaks_the_credssp_scheme() {
    let mut peer = Peer::acceptor(&[]);
    let mut http = CredsspHttpClient::new(client("EXAMPLE\\alice", "Passw0rd!"));
    assert_eq!(http.scheme(), "CredSSP");
    let mut authorization = http.step(None).unwrap().expect("first Authorization");
    loop {
        let token = STANDARD.decode(authorization.strip_prefix("CredSSP ").expect("scheme prefix")).unwrap();
        let (reply, done) = peer.step(&token).unwrap();
        if http.is_complete() {
            assert!(done);
            break;
        }
        // The acceptor's reply as a 401's WWW-Authenticate (bare scheme when it has no token).
        let www = if reply.is_empty() { "CredSSP".to_owned() } else { format!("CredSSP {}", STANDARD.encode(&reply)) };
        authorization = http.step(Some(&www)).unwrap().expect("next Authorization");
    }
    assert!(http.can_seal());
    let sealed = http.wrap(b"<s:Envelope/>").unwrap();
    let f = peer.call(&format!("unwrap {} {}", b64(&sealed.header), b64(&sealed.data))).unwrap();
    assert_eq!(unb64(&f[0]), b"<s:Envelope/>");
    // A 401 after the credentials is a refusal.
    assert_eq!(http.step(Some("CredSSP")), Err(AuthError::Rejected));
}

#[test]
fn debug_output_never_shows_the_password() {
    let c = client("EXAMPLE\\alice", "Sup3rS3cret!");
    let text = format!("{c:?} {:?}", CredsspHttpClient::new(client("a", "Sup3rS3cret!")));
    assert!(!text.contains("Sup3rS3cret"), "{text}");
    assert!(!format!("{c:?}").is_empty());
}
