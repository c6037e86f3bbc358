//! Real pypsrp (0.9.1) authenticates against our `NegotiateServer` over HTTP and exchanges WinRM-encrypted
//! (multipart/encrypted) messages: `auth="negotiate"` (SPNEGO) and `auth="ntlm"` (raw NTLMSSP under the
//! `Negotiate` scheme). The tiny HTTP/1.1 server here is test scaffolding; the real one lives in pssession-server.

mod support;

use support::{read_request, respond};

use std::io::BufReader;
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pssession_auth::{AcceptStep, NegotiateServer, ServerAuth, UserDatabase};

const BOUNDARY: &[u8] = b"--Encrypted Boundary\r\n";
const PROTOCOL: &str = "application/HTTP-SPNEGO-session-encrypted";

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// multipart/encrypted → (expected length, signature, ciphertext) for a single-part body.
fn split_encrypted(body: &[u8]) -> (usize, Vec<u8>, Vec<u8>) {
    let len_at = find(body, b"Length=").unwrap() + 7;
    let len_end = len_at + find(&body[len_at..], b"\r\n").unwrap();
    let expected: usize = std::str::from_utf8(&body[len_at..len_end]).unwrap().parse().unwrap();
    let marker = b"\tContent-Type: application/octet-stream\r\n";
    let start = find(body, marker).unwrap() + marker.len();
    let end = start + find(&body[start..], b"--Encrypted Boundary--").unwrap();
    let payload = &body[start..end];
    let sig_len = u32::from_le_bytes(payload[..4].try_into().unwrap()) as usize;
    (expected, payload[4..4 + sig_len].to_vec(), payload[4 + sig_len..].to_vec())
}

fn encrypted_body(header: &[u8], data: &[u8], plain_len: usize) -> Vec<u8> {
    let mut b = BOUNDARY.to_vec();
    b.extend_from_slice(format!("\tContent-Type: {PROTOCOL}\r\n").as_bytes());
    b.extend_from_slice(
        format!("\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length={plain_len}\r\n").as_bytes(),
    );
    b.extend_from_slice(BOUNDARY);
    b.extend_from_slice(b"\tContent-Type: application/octet-stream\r\n");
    b.extend_from_slice(&(header.len() as u32).to_le_bytes());
    b.extend_from_slice(header);
    b.extend_from_slice(data);
    b.extend_from_slice(b"--Encrypted Boundary--\r\n");
    b
}

/// Serves one connection; counts authentications and decrypted messages.
fn serve(stream: TcpStream, users: Arc<UserDatabase>, counters: &Counters) {
    let Counters { authenticated, decrypted, raw_ntlm } = counters;
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut auth = NegotiateServer::new(users.clone());
    let offer = |w: &mut TcpStream, auth: &NegotiateServer| {
        let headers: Vec<_> = auth.offer().into_iter().map(|o| ("WWW-Authenticate", o)).collect();
        respond(w, "401 Unauthorized", &headers, b"");
    };
    while let Some(req) = read_request(&mut reader) {
        let mut final_header = None;
        if let Some(authz) = req.header("Authorization").map(str::to_owned) {
            // base64("NTLMSSP\0...") starts with "TlRMTVNT".
            if authz.starts_with("Negotiate TlRMTVNT") {
                raw_ntlm.fetch_add(1, Ordering::SeqCst);
            }
            match auth.step(&authz) {
                Ok(AcceptStep::Continue(www)) => {
                    respond(&mut writer, "401 Unauthorized", &[("WWW-Authenticate", www)], b"");
                    continue;
                }
                Ok(AcceptStep::Complete(www)) => {
                    authenticated.fetch_add(1, Ordering::SeqCst);
                    final_header = www;
                }
                Err(_) => {
                    auth = NegotiateServer::new(users.clone());
                    offer(&mut writer, &auth);
                    continue;
                }
            }
        }
        if !auth.is_complete() {
            offer(&mut writer, &auth);
            continue;
        }
        let mut headers: Vec<(&str, String)> = final_header.into_iter().map(|h| ("WWW-Authenticate", h)).collect();
        if req.body.is_empty() {
            respond(&mut writer, "200 OK", &headers, b"");
            continue;
        }
        let ctype = req.header("Content-Type").unwrap_or_default();
        assert!(ctype.starts_with("multipart/encrypted") && ctype.contains(PROTOCOL), "{ctype}");
        let (expected, sig, data) = split_encrypted(&req.body);
        let plain = auth.unwrap(&sig, &data).expect("pypsrp's message unseals");
        assert_eq!(plain.len(), expected);
        decrypted.fetch_add(1, Ordering::SeqCst);
        let reply = [b"<echo>".as_slice(), &plain, b"</echo>"].concat();
        let w = auth.wrap(&reply).unwrap();
        headers.push((
            "Content-Type",
            format!("multipart/encrypted;protocol=\"{PROTOCOL}\";boundary=\"Encrypted Boundary\""),
        ));
        respond(&mut writer, "200 OK", &headers, &encrypted_body(&w.header, &w.data, reply.len()));
    }
}

#[derive(Default)]
struct Counters {
    authenticated: AtomicUsize,
    decrypted: AtomicUsize,
    /// Raw NTLMSSP tokens seen under the `Negotiate` scheme.
    raw_ntlm: AtomicUsize,
}

fn run_pypsrp(auth: &str, password: &str) -> (std::process::Output, [usize; 3]) {
    let mut db = UserDatabase::new();
    db.add(Some("EXAMPLE"), "alice", "Passw0rd!");
    let users = Arc::new(db);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let counters = Arc::new(Counters::default());
    let c2 = counters.clone();
    listener.set_nonblocking(false).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { break };
            let (users, c) = (users.clone(), c2.clone());
            std::thread::spawn(move || serve(stream, users, &c));
        }
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/pypsrp_client.py");
    let out = Command::new(pssession_testkit::python())
        .args([script, &port.to_string(), auth, "EXAMPLE\\alice", password])
        .output()
        .expect("run pypsrp");
    let load = |c: &AtomicUsize| c.load(Ordering::SeqCst);
    (out, [load(&counters.authenticated), load(&counters.decrypted), load(&counters.raw_ntlm)])
}

#[test]
fn pypsrp_negotiate_and_ntlm_authenticate_and_encrypt_against_our_server() {
    for auth in ["negotiate", "ntlm"] {
        let (out, [authenticated, decrypted, raw_ntlm]) = run_pypsrp(auth, "Passw0rd!");
        assert!(out.status.success(), "{auth}: {}", String::from_utf8_lossy(&out.stderr));
        let replies: Vec<Vec<u8>> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| STANDARD.decode(l.strip_prefix("reply ").unwrap()).unwrap())
            .collect();
        assert_eq!(replies.len(), 3);
        assert_eq!(replies[0], b"<echo><s:Envelope>message 0</s:Envelope></echo>");
        assert_eq!(replies[1].len(), 6 + 12 + 40_000 + 13 + 7);
        assert_eq!(authenticated, 1, "{auth}");
        assert_eq!(decrypted, 3, "{auth}");
        // pypsrp auth="ntlm" sends raw NTLMSSP under "Negotiate" (NEGOTIATE + AUTHENTICATE); "negotiate" sends SPNEGO.
        assert_eq!(raw_ntlm, if auth == "ntlm" { 2 } else { 0 }, "{auth}");
    }
}

#[test]
fn pypsrp_with_a_wrong_password_is_refused() {
    let (out, [authenticated, decrypted, _]) = run_pypsrp("negotiate", "wrong");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("AuthenticationError"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!((authenticated, decrypted), (0, 0));
}
