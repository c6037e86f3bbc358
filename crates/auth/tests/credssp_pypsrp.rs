//! Real pypsrp 0.9.1 with `auth="credssp"` (requests-credssp 2.0.0 on pyspnego) against our `CredsspServer` over
//! HTTP: the CredSSP legs in `Authorization`/`WWW-Authenticate`, the delegated password, and WinRM message
//! encryption both ways with 16 KiB chunking (`multipart/x-multi-encrypted`) framed by `pssession-wsman`.
//! The tiny HTTP/1.1 server here is test scaffolding; the real one lives in pssession-server.

mod support;

use support::{read_request, respond};

use std::io::BufReader;
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pssession_auth::credssp::CredsspServer;
use pssession_auth::winrm_sealing::Sealer;
use pssession_auth::{AcceptStep, ServerAuth, UserDatabase};
use pssession_wsman::multipart::{self, EncryptionProtocol, Limits};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/credssp_peer.py");
const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/pypsrp_client.py");

#[derive(Default)]
struct Seen {
    /// (user, delegated password) per completed authentication.
    delegated: Vec<(String, String)>,
    /// Content types of decrypted requests.
    content_types: Vec<String>,
}

fn serve(stream: TcpStream, mut auth: CredsspServer, seen: &Mutex<Seen>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let offer = |w: &mut TcpStream| respond(w, "401 Unauthorized", &[("WWW-Authenticate", "CredSSP".into())], b"");
    while let Some(req) = read_request(&mut reader) {
        if let Some(authz) = req.header("Authorization").map(str::to_owned) {
            match auth.step(&authz) {
                Ok(AcceptStep::Continue(www)) => {
                    respond(&mut writer, "401 Unauthorized", &[("WWW-Authenticate", www)], b"");
                    continue;
                }
                Ok(AcceptStep::Complete(_)) => {
                    let creds = auth.acceptor().and_then(|a| a.delegated_credentials()).unwrap();
                    seen.lock().unwrap().delegated.push((creds.user.clone(), creds.password.to_string()));
                }
                Err(_) => {
                    offer(&mut writer);
                    continue;
                }
            }
        }
        if !auth.is_complete() {
            offer(&mut writer);
            continue;
        }
        if req.body.is_empty() {
            respond(&mut writer, "200 OK", &[], b"");
            continue;
        }
        let ctype = req.header("Content-Type").unwrap_or_default().to_owned();
        let plain =
            multipart::decrypt(&mut Sealer(&mut auth as &mut dyn ServerAuth), &ctype, &req.body, &Limits::default())
                .expect("pypsrp's body decrypts");
        seen.lock().unwrap().content_types.push(ctype);
        let reply = [b"<echo>".as_slice(), &plain, b"</echo>"].concat();
        let body =
            multipart::encrypt(&mut Sealer(&mut auth as &mut dyn ServerAuth), EncryptionProtocol::CredSsp, &reply)
                .unwrap();
        respond(&mut writer, "200 OK", &[("Content-Type", body.content_type)], &body.body);
    }
}

fn rsa_certificate() -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let out = Command::new(pssession_testkit::python()).arg(PEER).arg("gencert").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut fields = text.split_whitespace().map(|f| STANDARD.decode(f).unwrap());
    let (cert, key) = (fields.next().unwrap(), fields.next().unwrap());
    (vec![CertificateDer::from_pem_slice(&cert).unwrap()], PrivateKeyDer::from_pem_slice(&key).unwrap())
}

fn run_pypsrp(password: &str) -> (std::process::Output, Arc<Mutex<Seen>>) {
    let mut db = UserDatabase::new();
    db.add(Some("EXAMPLE"), "alice", "Passw0rd!");
    let users = Arc::new(db);
    let (chain, key) = rsa_certificate();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { break };
            let server = CredsspServer::new(users.clone(), chain.clone(), key.clone_key());
            let seen = seen2.clone();
            std::thread::spawn(move || serve(stream, server, &seen));
        }
    });
    let out = Command::new(pssession_testkit::python())
        .args([CLIENT, &port.to_string(), "credssp", "EXAMPLE\\alice", password])
        .output()
        .expect("run pypsrp");
    (out, seen)
}

#[test]
fn pypsrp_credssp_delegates_and_encrypts_against_our_server() {
    let (out, seen) = run_pypsrp("Passw0rd!");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let replies: Vec<Vec<u8>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| STANDARD.decode(l.strip_prefix("reply ").unwrap()).unwrap())
        .collect();
    assert_eq!(replies.len(), 3);
    assert_eq!(replies[0], b"<echo><s:Envelope>message 0</s:Envelope></echo>");
    assert_eq!(replies[1].len(), 6 + 12 + 40_000 + 13 + 7);
    assert_eq!(replies[2], b"<echo><s:Envelope>message 2</s:Envelope></echo>");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.delegated, [("alice".to_owned(), "Passw0rd!".to_owned())]);
    assert_eq!(seen.content_types.len(), 3);
    for (i, ctype) in seen.content_types.iter().enumerate() {
        let (protocol, multi) = multipart::parse_content_type(ctype).unwrap();
        assert_eq!(protocol, EncryptionProtocol::CredSsp);
        assert_eq!(multi, i == 1, "only the 40 KB message is chunked: {ctype}");
    }
}

#[test]
fn pypsrp_credssp_with_a_wrong_password_is_refused() {
    let (out, seen) = run_pypsrp("wrong");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // requests-credssp turns our errorCode into an NTStatusException for STATUS_LOGON_FAILURE.
    assert!(stderr.contains("NTStatusException") && stderr.contains("STATUS_LOGON_FAILURE 0xc000006d"), "{stderr}");
    let seen = seen.lock().unwrap();
    assert!(seen.delegated.is_empty() && seen.content_types.is_empty());
}
