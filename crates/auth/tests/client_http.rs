//! Our HTTP-level clients (`ClientAuth`) against a pyspnego HTTP acceptor (`tests/py/spnego_http_server.py`):
//! the 401 token dance over one keep-alive connection, the final SPNEGO token on the 200, and
//! multipart/encrypted bodies both ways.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use pssession_auth::{AuthError, ClientAuth, Credentials, HttpInitiator, NtlmClient, negotiate_client, ntlm_client};

const PROTOCOL: &str = "application/HTTP-SPNEGO-session-encrypted";

struct Server {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Server {
    fn start(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("pssession-auth-http-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let users = dir.join("ntlm_users");
        std::fs::write(&users, "EXAMPLE:alice:Passw0rd!\n").unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/spnego_http_server.py");
        let mut child = Command::new(pssession_testkit::python())
            .args([script, users.to_str().unwrap()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the pyspnego HTTP server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("port ").expect("server announces its port").parse().unwrap();
        Self { child, port, dir }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Response {
    status: u16,
    www_authenticate: Vec<String>,
    body: Vec<u8>,
}

fn post(
    conn: &mut BufReader<TcpStream>,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Response {
    let mut req = format!("POST /wsman HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n", body.len());
    if let Some(a) = authorization {
        req.push_str(&format!("Authorization: {a}\r\n"));
    }
    if let Some(c) = content_type {
        req.push_str(&format!("Content-Type: {c}\r\n"));
    }
    req.push_str("\r\n");
    let stream = conn.get_mut();
    stream.write_all(req.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut status_line = String::new();
    conn.read_line(&mut status_line).unwrap();
    let status = status_line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let (mut www_authenticate, mut len) = (Vec::new(), 0);
    loop {
        let mut h = String::new();
        conn.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        if k.eq_ignore_ascii_case("WWW-Authenticate") {
            www_authenticate.push(v.trim().to_owned());
        } else if k.eq_ignore_ascii_case("Content-Length") {
            len = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; len];
    conn.read_exact(&mut body).unwrap();
    Response { status, www_authenticate, body }
}

/// The transport's authentication loop: empty POST, then tokens until 200.
fn authenticate(conn: &mut BufReader<TcpStream>, client: &mut dyn ClientAuth) -> Result<(), AuthError> {
    let first = post(conn, None, None, b"");
    assert_eq!(first.status, 401);
    assert!(first.www_authenticate.iter().any(|w| w.eq_ignore_ascii_case(client.scheme())));
    let mut authorization = client.step(None)?.expect("first token");
    loop {
        let r = post(conn, Some(&authorization), None, b"");
        let www = (!r.www_authenticate.is_empty()).then(|| r.www_authenticate.join(", "));
        match r.status {
            200 => {
                if !client.is_complete() {
                    assert_eq!(client.step(www.as_deref())?, None);
                }
                return Ok(());
            }
            401 => authorization = client.step(www.as_deref())?.ok_or(AuthError::Rejected)?,
            other => panic!("unexpected status {other}"),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).expect("marker present")
}

fn sealed_round_trip(conn: &mut BufReader<TcpStream>, client: &mut dyn ClientAuth, message: &[u8]) -> Vec<u8> {
    let w = client.wrap(message).unwrap();
    let mut body = b"--Encrypted Boundary\r\n".to_vec();
    body.extend_from_slice(format!("\tContent-Type: {PROTOCOL}\r\n").as_bytes());
    body.extend_from_slice(
        format!("\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length={}\r\n", message.len()).as_bytes(),
    );
    body.extend_from_slice(b"--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n");
    body.extend_from_slice(&(w.header.len() as u32).to_le_bytes());
    body.extend_from_slice(&w.header);
    body.extend_from_slice(&w.data);
    body.extend_from_slice(b"--Encrypted Boundary--\r\n");
    let ctype = format!("multipart/encrypted;protocol=\"{PROTOCOL}\";boundary=\"Encrypted Boundary\"");
    let r = post(conn, None, Some(&ctype), &body);
    assert_eq!(r.status, 200, "server could not unseal our message");
    let marker = b"\tContent-Type: application/octet-stream\r\n";
    let start = find(&r.body, marker) + marker.len();
    let end = start + find(&r.body[start..], b"--Encrypted Boundary--");
    let payload = &r.body[start..end];
    let sig_len = u32::from_le_bytes(payload[..4].try_into().unwrap()) as usize;
    client.unwrap(&payload[4..4 + sig_len], &payload[4 + sig_len..]).expect("we unseal the server's reply")
}

#[test]
fn our_clients_authenticate_and_encrypt_against_a_pyspnego_http_server() {
    let server = Server::start("ok");
    let creds = || Credentials::new("EXAMPLE\\alice", "Passw0rd!");
    let clients: Vec<Box<dyn ClientAuth>> = vec![
        Box::new(negotiate_client(creds(), Some("HTTP/localhost".into()), None)),
        Box::new(ntlm_client(creds(), Some("HTTP/localhost".into()), None)),
        Box::new(HttpInitiator::new("Negotiate", NtlmClient::new(creds(), None, None))),
    ];
    for mut client in clients {
        let mut conn = BufReader::new(TcpStream::connect(("127.0.0.1", server.port)).unwrap());
        authenticate(&mut conn, client.as_mut()).expect("authenticated");
        assert!(client.is_complete());
        for i in 0..3 {
            let msg = format!("<s:Envelope>{}</s:Envelope>", "y".repeat(i * 20_000));
            let reply = sealed_round_trip(&mut conn, client.as_mut(), msg.as_bytes());
            assert_eq!(reply, format!("<echo>{msg}</echo>").as_bytes());
        }
    }
}

#[test]
fn a_wrong_password_ends_in_rejected() {
    let server = Server::start("bad");
    let mut client = negotiate_client(Credentials::new("EXAMPLE\\alice", "nope"), None, None);
    let mut conn = BufReader::new(TcpStream::connect(("127.0.0.1", server.port)).unwrap());
    assert_eq!(authenticate(&mut conn, &mut client), Err(AuthError::Rejected));
    assert!(!client.is_complete());
}
