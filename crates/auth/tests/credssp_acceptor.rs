//! The CredSSP acceptor: against our own client over the HTTP adapters (TLS 1.2 and 1.3), and against
//! pyspnego 0.12.4's CredSSP initiator (protocol versions 6, 5 and 2), with wrong passwords, foreign delegated
//! credentials and sealing both ways.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pssession_auth::credssp::{
    CredsspAcceptor, CredsspClient, CredsspDelegation, CredsspHttpClient, CredsspServer, CredsspTlsVersions,
};
use pssession_auth::{AcceptStep, AcceptorContext, AuthError, ClientAuth, Credentials, ServerAuth, UserDatabase};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/credssp_peer.py");

fn users() -> Arc<UserDatabase> {
    let mut users = UserDatabase::new();
    users.add(Some("EXAMPLE"), "alice", "Passw0rd!");
    users.add(Some("EXAMPLE"), "bob", "Passw0rd!");
    Arc::new(users)
}

/// An ECDSA certificate from rcgen (the binding uses the raw EC point).
fn ec_certificate() -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["credssp.test".to_owned()]).unwrap().self_signed(&key).unwrap();
    (vec![cert.der().clone()], PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap())
}

/// An RSA certificate made by pyspnego (what WinRM's CredSSP listener uses; pyspnego's initiator only handles RSA).
fn rsa_certificate() -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let out = Command::new(pssession_testkit::python()).arg(SCRIPT).arg("gencert").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut fields = text.split_whitespace().map(|f| STANDARD.decode(f).unwrap());
    let (cert, key) = (fields.next().unwrap(), fields.next().unwrap());
    (vec![CertificateDer::from_pem_slice(&cert).unwrap()], PrivateKeyDer::from_pem_slice(&key).unwrap())
}

fn http_exchange(client: &mut CredsspHttpClient, server: &mut CredsspServer) -> Result<(), AuthError> {
    let mut authorization = client.step(None)?.expect("first token");
    for _ in 0..20 {
        match server.step(&authorization)? {
            AcceptStep::Continue(www) => authorization = client.step(Some(&www))?.expect("next token"),
            AcceptStep::Complete(www) => {
                assert!(www.is_none(), "nothing follows the credentials");
                assert!(client.is_complete());
                return Ok(());
            }
        }
    }
    panic!("no completion");
}

fn client(user: &str, password: &str, versions: CredsspTlsVersions) -> CredsspHttpClient {
    CredsspHttpClient::new(
        CredsspClient::new(
            Credentials::new(user, password),
            Some("HTTP/credssp.test".into()),
            CredsspDelegation::AllowFreshCredentials,
        )
        .with_tls_versions(versions),
    )
}

#[test]
fn our_client_and_acceptor_agree() {
    for (versions, cert) in [
        (CredsspTlsVersions::Tls12And13, ec_certificate()),
        (CredsspTlsVersions::Tls12Only, ec_certificate()),
        (CredsspTlsVersions::Tls12And13, rsa_certificate()),
    ] {
        let mut server = CredsspServer::new(users(), cert.0, cert.1);
        let mut c = client("EXAMPLE\\alice", "Passw0rd!", versions);
        http_exchange(&mut c, &mut server).unwrap();
        assert!(server.is_complete());
        assert_eq!(server.client_identity().unwrap().user, "alice");
        let delegated = server.acceptor().unwrap().delegated_credentials().unwrap();
        assert_eq!((delegated.domain.as_str(), delegated.user.as_str()), ("EXAMPLE", "alice"));
        assert_eq!(delegated.password.as_str(), "Passw0rd!");
        assert_eq!(server.acceptor().unwrap().version(), 6);
        for size in [0usize, 10, 16 * 1024, 40_000] {
            let message: Vec<u8> = (0..size).map(|i| (i % 7) as u8).collect();
            let sealed = c.wrap(&message).unwrap();
            assert_eq!(server.unwrap(&sealed.header, &sealed.data).unwrap(), message);
            let sealed = server.wrap(&message).unwrap();
            assert_eq!(c.unwrap(&sealed.header, &sealed.data).unwrap(), message);
        }
        assert!(!format!("{server:?}").contains("Passw0rd"));
    }
}

#[test]
fn wrong_password_is_refused_and_the_server_restarts() {
    let (chain, key) = ec_certificate();
    let mut server = CredsspServer::new(users(), chain, key);
    let mut bad = client("EXAMPLE\\alice", "nope", CredsspTlsVersions::default());
    // The server answers with the TSRequest errorCode; the client reports it.
    assert_eq!(http_exchange(&mut bad, &mut server), Err(AuthError::CredsspServerError { nt_status: 0xC000_006D }));
    assert!(!server.is_complete());
    // The next attempt on the same connection starts a fresh acceptor.
    let mut good = client("EXAMPLE\\alice", "Passw0rd!", CredsspTlsVersions::default());
    http_exchange(&mut good, &mut server).unwrap();
    assert!(server.is_complete());
}

#[test]
fn minimum_version_is_enforced() {
    let (chain, key) = ec_certificate();
    let mut acceptor = CredsspAcceptor::new(users(), chain, key).unwrap().with_min_version(7);
    let mut c = CredsspClient::new(
        Credentials::new("EXAMPLE\\alice", "Passw0rd!"),
        None,
        CredsspDelegation::AllowFreshCredentials,
    );
    use pssession_auth::InitiatorContext;
    let mut token = c.step(None).unwrap().unwrap();
    let err = loop {
        match acceptor.step(&token) {
            Ok(out) => token = c.step(Some(&out.unwrap())).unwrap().unwrap_or_default(),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, AuthError::Unsupported(m) if m.contains("version")));
}

struct PyInitiator {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl PyInitiator {
    fn spawn(user: &str, password: &str, options: &[&str]) -> Self {
        let mut child = Command::new(pssession_testkit::python())
            .arg(SCRIPT)
            .args(["initiator", user, password])
            .args(options)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self { child, stdin, stdout }
    }

    fn call(&mut self, line: &str) -> Result<Vec<String>, String> {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        let mut reply = String::new();
        self.stdout.read_line(&mut reply).unwrap();
        assert!(!reply.is_empty(), "pyspnego peer exited");
        let mut f = reply.split_whitespace().map(str::to_owned);
        match f.next().as_deref() {
            Some("ok") => Ok(f.collect()),
            _ => Err(reply.trim().to_owned()),
        }
    }

    fn step(&mut self, token: &[u8]) -> (Vec<u8>, bool) {
        let arg = if token.is_empty() { "-".to_owned() } else { STANDARD.encode(token) };
        let f = self.call(&format!("step {arg}")).expect("pyspnego initiator step");
        (if f[0] == "-" { Vec::new() } else { STANDARD.decode(&f[0]).unwrap() }, f[1] == "1")
    }
}

impl Drop for PyInitiator {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
    }
}

fn run_py(peer: &mut PyInitiator, acceptor: &mut CredsspAcceptor) -> Result<(), AuthError> {
    let (mut token, _) = peer.step(&[]);
    for _ in 0..20 {
        let out = acceptor.step(&token)?;
        if acceptor.is_complete() {
            return Ok(());
        }
        let (next, _) = peer.step(&out.unwrap_or_default());
        token = next;
    }
    panic!("no completion");
}

#[test]
fn pyspnego_initiator_against_our_acceptor() {
    for options in [&[][..], &["tls=1.2"], &["version=5"], &["version=2"], &["version=4", "tls=1.2"]] {
        let (chain, key) = rsa_certificate();
        let mut acceptor = CredsspAcceptor::new(users(), chain, key).unwrap();
        let mut peer = PyInitiator::spawn("EXAMPLE\\alice", "Passw0rd!", options);
        run_py(&mut peer, &mut acceptor).unwrap_or_else(|e| panic!("{options:?}: {e}"));
        let delegated = acceptor.delegated_credentials().unwrap();
        assert_eq!((delegated.user.as_str(), delegated.password.as_str()), ("alice", "Passw0rd!"));
        let expected_version = options.iter().find_map(|o| o.strip_prefix("version=")).unwrap_or("6");
        assert_eq!(acceptor.version().to_string(), expected_version, "{options:?}");

        // Sealing both ways with pyspnego's wrap_winrm/unwrap_winrm.
        for message in [&b"<s:Envelope/>"[..], &[0x41; 16 * 1024][..]] {
            let sealed = acceptor.wrap(message).unwrap();
            let f = peer
                .call(&format!("unwrap {} {}", STANDARD.encode(&sealed.header), STANDARD.encode(&sealed.data)))
                .unwrap();
            assert_eq!(STANDARD.decode(&f[0]).unwrap(), message);
            let f = peer.call(&format!("wrap {}", STANDARD.encode(message))).unwrap();
            let (h, d) = (STANDARD.decode(&f[0]).unwrap(), STANDARD.decode(&f[1]).unwrap());
            assert_eq!(acceptor.unwrap(&h, &d).unwrap(), message);
        }
    }
}

#[test]
fn pyspnego_initiator_wrong_password_or_foreign_credentials() {
    let (chain, key) = rsa_certificate();
    let mut acceptor = CredsspAcceptor::new(users(), chain.clone(), key.clone_key()).unwrap();
    let mut peer = PyInitiator::spawn("EXAMPLE\\alice", "wrong", &[]);
    assert_eq!(run_py(&mut peer, &mut acceptor), Err(AuthError::LogonDenied));
    assert!(acceptor.delegated_credentials().is_none());
    // The errorCode token makes pyspnego report the NTSTATUS.
    let error = acceptor.take_error_token().expect("version 6 carries errorCode");
    let reply = peer.call(&format!("step {}", STANDARD.encode(&error))).unwrap_err();
    assert!(reply.contains("NTStatus") || reply.to_lowercase().contains("logon"), "{reply}");

    // Authenticated as alice but delegating bob's (valid) credentials: refused.
    let mut acceptor = CredsspAcceptor::new(users(), chain, key).unwrap();
    let mut peer = PyInitiator::spawn("EXAMPLE\\alice", "Passw0rd!", &["delegate=EXAMPLE:bob:Passw0rd!"]);
    assert_eq!(run_py(&mut peer, &mut acceptor), Err(AuthError::LogonDenied));
    assert!(acceptor.delegated_credentials().is_none() && !acceptor.is_complete());
}
