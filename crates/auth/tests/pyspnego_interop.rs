//! Interop with pyspnego 0.12.4 (the pinned test peer) as acceptor and as initiator, NTLM and Negotiate,
//! with channel bindings and WinRM sealing in both directions.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pssession_auth::{
    AcceptorContext, AuthError, ChannelBindingPolicy, ChannelBindings, Credentials, InitiatorContext, NtlmAcceptor,
    NtlmClient, SpnegoAcceptor, SpnegoClient, UserDatabase,
};

const CBT: &[u8] = b"tls-server-end-point:0123456789abcdef0123456789abcdef";

struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    _dir: Option<TempDir>,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn b64(data: Option<&[u8]>) -> String {
    match data {
        Some(d) if !d.is_empty() => STANDARD.encode(d),
        _ => "-".into(),
    }
}

fn unb64(s: &str) -> Vec<u8> {
    if s == "-" { Vec::new() } else { STANDARD.decode(s).expect("peer sent base64") }
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

impl Peer {
    fn spawn(args: &[&str], dir: Option<TempDir>) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/spnego_peer.py");
        let mut child = Command::new(pssession_testkit::python())
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the pyspnego peer");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Self { child, stdin, stdout, _dir: dir }
    }

    fn acceptor(protocol: &str, cbt: Option<&[u8]>) -> Self {
        let dir = std::env::temp_dir().join(format!("pssession-auth-{}-{protocol}-{}", std::process::id(), rand_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ntlm_users");
        std::fs::write(&file, "EXAMPLE:alice:Passw0rd!\n").unwrap();
        let cbt = cbt.map_or("-".into(), hex);
        Self::spawn(&["acceptor", protocol, file.to_str().unwrap(), &cbt], Some(TempDir(dir)))
    }

    fn initiator(protocol: &str, user: &str, password: &str, cbt: Option<&[u8]>) -> Self {
        let cbt = cbt.map_or("-".into(), hex);
        Self::spawn(&["initiator", protocol, user, password, &cbt], None)
    }

    /// Sends one request; `Ok(fields)` or `Err(message)`.
    fn call(&mut self, line: &str) -> Result<Vec<String>, String> {
        writeln!(self.stdin, "{line}").expect("write to peer");
        self.stdin.flush().expect("flush");
        let mut reply = String::new();
        self.stdout.read_line(&mut reply).expect("read from peer");
        assert!(!reply.is_empty(), "pyspnego peer exited (see stderr)");
        let mut fields = reply.split_whitespace().map(str::to_owned);
        match fields.next().as_deref() {
            Some("ok") => Ok(fields.collect()),
            _ => Err(reply.trim().to_owned()),
        }
    }

    /// One step: (token, complete).
    fn step(&mut self, token: Option<&[u8]>) -> Result<(Vec<u8>, bool), String> {
        let f = self.call(&format!("step {}", b64(token)))?;
        Ok((unb64(&f[0]), f[1] == "1"))
    }

    fn wrap(&mut self, data: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let f = self.call(&format!("wrap {}", b64(Some(data)))).expect("peer wrap");
        (unb64(&f[0]), unb64(&f[1]))
    }

    fn unwrap(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
        self.call(&format!("unwrap {} {}", b64(Some(header)), b64(Some(data)))).map(|f| unb64(&f[0]))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
    }
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn users() -> Arc<UserDatabase> {
    let mut db = UserDatabase::new();
    db.add(Some("EXAMPLE"), "alice", "Passw0rd!");
    Arc::new(db)
}

/// Drives our initiator against the pyspnego acceptor until both sides are done.
fn handshake_with_peer_acceptor(ours: &mut dyn InitiatorContext, peer: &mut Peer) -> Result<(), String> {
    let mut token = ours.step(None).map_err(|e| e.to_string())?;
    while let Some(t) = token.take() {
        let (reply, peer_complete) = peer.step(Some(&t))?;
        if reply.is_empty() {
            assert!(peer_complete, "peer returned no token without completing");
            break;
        }
        token = ours.step(Some(&reply)).map_err(|e| e.to_string())?;
    }
    assert!(ours.is_complete(), "our initiator is not complete");
    Ok(())
}

/// Drives the pyspnego initiator against our acceptor.
fn handshake_with_peer_initiator(ours: &mut dyn AcceptorContext, peer: &mut Peer) -> Result<(), AuthError> {
    let (mut token, _) = peer.step(None).expect("peer first token");
    loop {
        let reply = ours.step(&token)?;
        match reply {
            Some(r) => {
                let (next, complete) = peer.step(Some(&r)).expect("peer accepted our token");
                if next.is_empty() {
                    assert!(complete && ours.is_complete(), "handshake stalled");
                    return Ok(());
                }
                token = next;
            }
            None => {
                assert!(ours.is_complete());
                return Ok(());
            }
        }
    }
}

fn exchange_sealed_initiator(ours: &mut dyn InitiatorContext, peer: &mut Peer) {
    for i in 0..3 {
        let msg = format!("<s:Envelope>request {i}</s:Envelope>").repeat(1 + i * 500);
        let w = ours.wrap(msg.as_bytes()).unwrap();
        assert_eq!(w.header.len(), 16);
        assert_ne!(w.data, msg.as_bytes());
        assert_eq!(peer.unwrap(&w.header, &w.data).expect("peer unwraps ours"), msg.as_bytes());
        let reply = format!("reply {i}").repeat(1 + i * 300);
        let (h, d) = peer.wrap(reply.as_bytes());
        assert_eq!(ours.unwrap(&h, &d).expect("we unwrap the peer's"), reply.as_bytes());
    }
    let (h, mut d) = peer.wrap(b"tampered");
    d[0] ^= 0x80;
    assert_eq!(ours.unwrap(&h, &d), Err(AuthError::MessageAltered));
}

fn exchange_sealed_acceptor(ours: &mut dyn AcceptorContext, peer: &mut Peer) {
    for i in 0..3 {
        let msg = format!("request {i}").repeat(1 + i * 700);
        let (h, d) = peer.wrap(msg.as_bytes());
        assert_eq!(ours.unwrap(&h, &d).expect("we unwrap the peer's"), msg.as_bytes());
        let reply = format!("<s:Envelope>reply {i}</s:Envelope>").repeat(1 + i * 200);
        let w = ours.wrap(reply.as_bytes()).unwrap();
        assert_eq!(peer.unwrap(&w.header, &w.data).expect("peer unwraps ours"), reply.as_bytes());
    }
}

#[test]
fn our_ntlm_initiator_against_pyspnego_acceptor_with_cbt_and_sealing() {
    let mut peer = Peer::acceptor("ntlm", Some(CBT));
    let creds = Credentials::new("EXAMPLE\\alice", "Passw0rd!");
    let cbt = ChannelBindings::from_application_data(CBT.to_vec());
    let mut ours = NtlmClient::new(creds, Some("HTTP/winrm.example.test".into()), Some(cbt));
    handshake_with_peer_acceptor(&mut ours, &mut peer).expect("pyspnego accepts our NTLM");
    assert_eq!(peer.call("principal").unwrap(), vec!["EXAMPLE\\alice"]);
    exchange_sealed_initiator(&mut ours, &mut peer);
}

#[test]
fn our_negotiate_initiator_against_pyspnego_acceptor_with_cbt_and_sealing() {
    let mut peer = Peer::acceptor("negotiate", Some(CBT));
    let creds = Credentials::new("EXAMPLE\\alice", "Passw0rd!");
    let cbt = ChannelBindings::from_application_data(CBT.to_vec());
    let mut ours = SpnegoClient::new(creds, Some("HTTP/winrm.example.test".into()), Some(cbt));
    handshake_with_peer_acceptor(&mut ours, &mut peer).expect("pyspnego accepts our SPNEGO");
    exchange_sealed_initiator(&mut ours, &mut peer);
}

#[test]
fn our_initiators_without_cbt_against_pyspnego_without_cbt() {
    for protocol in ["ntlm", "negotiate"] {
        let mut peer = Peer::acceptor(protocol, None);
        let creds = Credentials::new("EXAMPLE\\alice", "Passw0rd!");
        let mut ours: Box<dyn InitiatorContext> = if protocol == "ntlm" {
            Box::new(NtlmClient::new(creds, None, None))
        } else {
            Box::new(SpnegoClient::new(creds, None, None))
        };
        handshake_with_peer_acceptor(ours.as_mut(), &mut peer).expect(protocol);
        exchange_sealed_initiator(ours.as_mut(), &mut peer);
    }
}

#[test]
fn pyspnego_rejects_our_wrong_password_and_cbt_mismatch() {
    for protocol in ["ntlm", "negotiate"] {
        let mut peer = Peer::acceptor(protocol, Some(CBT));
        let creds = Credentials::new("EXAMPLE\\alice", "wrong");
        let cbt = ChannelBindings::from_application_data(CBT.to_vec());
        let mut ours: Box<dyn InitiatorContext> = if protocol == "ntlm" {
            Box::new(NtlmClient::new(creds, None, Some(cbt)))
        } else {
            Box::new(SpnegoClient::new(creds, None, Some(cbt)))
        };
        let err = handshake_with_peer_acceptor(ours.as_mut(), &mut peer).expect_err("wrong password accepted");
        eprintln!("{protocol} wrong password: {err}");
        assert!(err.contains("Invalid NTLM response"), "{protocol}: {err}");

        let mut peer = Peer::acceptor(protocol, Some(CBT));
        let creds = Credentials::new("EXAMPLE\\alice", "Passw0rd!");
        let other = ChannelBindings::from_application_data(b"tls-server-end-point:other".to_vec());
        let mut ours: Box<dyn InitiatorContext> = if protocol == "ntlm" {
            Box::new(NtlmClient::new(creds, None, Some(other)))
        } else {
            Box::new(SpnegoClient::new(creds, None, Some(other)))
        };
        let err = handshake_with_peer_acceptor(ours.as_mut(), &mut peer).expect_err("CBT mismatch accepted");
        eprintln!("{protocol} CBT mismatch: {err}");
        assert!(err.contains("BadBindingsError"), "{protocol}: {err}");
    }
}

#[test]
fn pyspnego_ntlm_initiator_against_our_acceptor_with_cbt_and_sealing() {
    let mut peer = Peer::initiator("ntlm", "EXAMPLE\\alice", "Passw0rd!", Some(CBT));
    let mut ours = NtlmAcceptor::new(users())
        .with_channel_bindings(ChannelBindings::from_application_data(CBT.to_vec()), ChannelBindingPolicy::Required);
    handshake_with_peer_initiator(&mut ours, &mut peer).expect("we accept pyspnego NTLM");
    let id = ours.client_identity().unwrap();
    assert_eq!((id.domain.as_str(), id.user.as_str()), ("EXAMPLE", "alice"));
    exchange_sealed_acceptor(&mut ours, &mut peer);
}

#[test]
fn pyspnego_negotiate_initiator_against_our_acceptor_with_cbt_and_sealing() {
    let mut peer = Peer::initiator("negotiate", "EXAMPLE\\alice", "Passw0rd!", Some(CBT));
    let mut ours = SpnegoAcceptor::new(users())
        .with_channel_bindings(ChannelBindings::from_application_data(CBT.to_vec()), ChannelBindingPolicy::Required);
    handshake_with_peer_initiator(&mut ours, &mut peer).expect("we accept pyspnego SPNEGO");
    exchange_sealed_acceptor(&mut ours, &mut peer);
}

#[test]
fn our_acceptors_reject_pyspnego_wrong_password_wrong_user_and_cbt_mismatch() {
    let cbt = || ChannelBindings::from_application_data(CBT.to_vec());
    for protocol in ["ntlm", "negotiate"] {
        let make = || -> Box<dyn AcceptorContext> {
            if protocol == "ntlm" {
                Box::new(NtlmAcceptor::new(users()).with_channel_bindings(cbt(), ChannelBindingPolicy::Required))
            } else {
                Box::new(SpnegoAcceptor::new(users()).with_channel_bindings(cbt(), ChannelBindingPolicy::Required))
            }
        };
        let cases: [(&str, &str, Option<&[u8]>, AuthError); 4] = [
            ("EXAMPLE\\alice", "wrong", Some(CBT), AuthError::LogonDenied),
            ("EXAMPLE\\mallory", "Passw0rd!", Some(CBT), AuthError::LogonDenied),
            ("OTHERDOM\\alice", "Passw0rd!", Some(CBT), AuthError::LogonDenied),
            ("EXAMPLE\\alice", "Passw0rd!", Some(b"tls-server-end-point:other"), AuthError::ChannelBindingsMismatch),
        ];
        for (user, password, peer_cbt, expected) in cases {
            let mut peer = Peer::initiator(protocol, user, password, peer_cbt);
            let mut ours = make();
            let err = handshake_with_peer_initiator(ours.as_mut(), &mut peer).expect_err("must be rejected");
            assert_eq!(err, expected, "{protocol} {user}");
            assert!(!ours.is_complete());
        }
        // No bindings at all while they are required.
        let mut peer = Peer::initiator(protocol, "EXAMPLE\\alice", "Passw0rd!", None);
        let mut ours = make();
        let err = handshake_with_peer_initiator(ours.as_mut(), &mut peer).expect_err("missing CBT accepted");
        assert_eq!(err, AuthError::ChannelBindingsMismatch);
    }
}
