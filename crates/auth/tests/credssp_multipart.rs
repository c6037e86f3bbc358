//! CredSSP as the sealer of WinRM message encryption: bodies framed by `pssession-wsman`'s multipart code,
//! 16 KiB chunks in `multipart/x-multi-encrypted`, opened by pyspnego's CredSSP acceptor (`unwrap_winrm` per
//! part, as its WinRM mock server does) and by our own acceptor.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pssession_auth::credssp::{CHUNK_SIZE, CredsspClient, CredsspDelegation, CredsspServer, ENCRYPTION_PROTOCOL};
use pssession_auth::winrm_sealing::Sealer;
use pssession_auth::{AcceptStep, ClientAuth, Credentials, InitiatorContext, ServerAuth, UserDatabase};
use pssession_wsman::multipart::{self, EncryptionProtocol, Limits};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;

fn client_sealer(c: &mut CredsspClient) -> Sealer<'_, dyn InitiatorContext + '_> {
    Sealer(c)
}

fn server_sealer(s: &mut CredsspServer) -> Sealer<'_, dyn ServerAuth + '_> {
    Sealer(s)
}

fn envelope(len: usize) -> Vec<u8> {
    let mut e = b"<s:Envelope>".to_vec();
    e.extend((0..len - 25).map(|i| b"abcdefghijklmnopqrstuvwxyz"[i % 26]));
    e.extend_from_slice(b"</s:Envelope>");
    assert_eq!(e.len(), len);
    e
}

struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    dir: std::path::PathBuf,
}

impl Peer {
    fn call(&mut self, line: &str) -> Vec<String> {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        let mut reply = String::new();
        self.stdout.read_line(&mut reply).unwrap();
        let mut f = reply.split_whitespace().map(str::to_owned);
        assert_eq!(f.next().as_deref(), Some("ok"), "{reply}");
        f.collect()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn unb64(s: &str) -> Vec<u8> {
    if s == "-" { Vec::new() } else { STANDARD.decode(s).unwrap() }
}

#[test]
fn chunked_bodies_open_in_pyspnego() {
    let dir = std::env::temp_dir().join(format!("pssession-credssp-mp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("users"), "EXAMPLE:alice:Passw0rd!\n").unwrap();
    let mut child = Command::new(pssession_testkit::python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/credssp_peer.py"))
        .arg("acceptor")
        .arg(dir.join("users"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut peer = Peer { child, stdin, stdout, dir };

    let mut c = CredsspClient::new(
        Credentials::new("EXAMPLE\\alice", "Passw0rd!"),
        None,
        CredsspDelegation::AllowFreshCredentials,
    );
    let mut token = c.step(None).unwrap().unwrap();
    loop {
        let f = peer.call(&format!("step {}", STANDARD.encode(&token)));
        if c.is_complete() {
            break;
        }
        let reply = unb64(&f[0]);
        token = c.step(if reply.is_empty() { None } else { Some(&reply) }).unwrap().unwrap();
    }

    // pypsrp's 40,025-byte message: three 16 KiB chunks in x-multi-encrypted.
    let message = envelope(40_025);
    let body = multipart::encrypt(&mut client_sealer(&mut c), EncryptionProtocol::CredSsp, &message).unwrap();
    assert!(body.content_type.starts_with("multipart/x-multi-encrypted"));
    assert!(body.content_type.contains(ENCRYPTION_PROTOCOL));
    let parts = multipart::parse_parts(&body.body, &Limits::default()).unwrap();
    assert_eq!(parts.len(), 3);
    let mut opened = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(part.length, CHUNK_SIZE.min(message.len() - i * CHUNK_SIZE));
        let f = peer.call(&format!("unwrap {} {}", STANDARD.encode(part.header), STANDARD.encode(part.ciphertext)));
        let plain = unb64(&f[0]);
        assert_eq!(plain.len(), part.length, "pyspnego's Length check");
        opened.extend_from_slice(&plain);
    }
    assert_eq!(opened, message);

    // A short message stays multipart/encrypted, one part.
    let body = multipart::encrypt(&mut client_sealer(&mut c), EncryptionProtocol::CredSsp, b"<s:Envelope/>").unwrap();
    assert!(body.content_type.starts_with("multipart/encrypted"));
    let part = &multipart::parse_parts(&body.body, &Limits::default()).unwrap()[0];
    let f = peer.call(&format!("unwrap {} {}", STANDARD.encode(part.header), STANDARD.encode(part.ciphertext)));
    assert_eq!(unb64(&f[0]), b"<s:Envelope/>");
}

#[test]
fn chunked_bodies_between_our_client_and_server() {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["credssp.test".to_owned()]).unwrap().self_signed(&key).unwrap();
    let mut users = UserDatabase::new();
    users.add(None, "alice", "Passw0rd!");
    let mut server = CredsspServer::new(
        Arc::new(users),
        vec![cert.der().clone()],
        PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap(),
    );
    let mut http = pssession_auth::credssp::CredsspHttpClient::new(CredsspClient::new(
        Credentials::new("alice", "Passw0rd!"),
        None,
        CredsspDelegation::AllowFreshCredentials,
    ));
    let mut authorization = http.step(None).unwrap().unwrap();
    while let AcceptStep::Continue(www) = server.step(&authorization).unwrap() {
        authorization = http.step(Some(&www)).unwrap().unwrap();
    }
    let mut c = http;
    for len in [100usize, CHUNK_SIZE, CHUNK_SIZE + 1, 100_000] {
        let message = envelope(len);
        // client -> server
        let wrapped =
            multipart::encrypt(&mut Sealer(&mut c as &mut dyn ClientAuth), EncryptionProtocol::CredSsp, &message)
                .unwrap();
        assert_eq!(wrapped.content_type.starts_with("multipart/x-multi-encrypted"), len > CHUNK_SIZE);
        let opened = multipart::decrypt(
            &mut server_sealer(&mut server),
            &wrapped.content_type,
            &wrapped.body,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(opened, message);
        // server -> client
        let wrapped =
            multipart::encrypt(&mut server_sealer(&mut server), EncryptionProtocol::CredSsp, &message).unwrap();
        let opened = multipart::decrypt(
            &mut Sealer(&mut c as &mut dyn ClientAuth),
            &wrapped.content_type,
            &wrapped.body,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(opened, message);
    }
}
