//! The Digest client against a Python RFC 7616 server (`tests/py/digest_server.py`, itself checked against the
//! Digest client of `requests`): MD5, SHA-256, `-sess`, userhash, stale nonces, wrong password, and a server
//! without Digest (the WinRM case).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use pssession_auth::digest::DigestClient;
use pssession_auth::{AuthError, ClientAuth, Credentials};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/digest_server.py");

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(options: &[&str]) -> Self {
        let mut child = Command::new(pssession_testkit::python())
            .arg(SCRIPT)
            .arg("serve")
            .args(options)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the Digest server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("port ").expect("port line").parse().unwrap();
        Self { child, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Response {
    status: u16,
    www_authenticate: Vec<String>,
    body: String,
}

/// One keep-alive connection speaking just enough HTTP/1.1.
struct Connection {
    reader: BufReader<TcpStream>,
}

impl Connection {
    fn open(port: u16) -> Self {
        Self { reader: BufReader::new(TcpStream::connect(("127.0.0.1", port)).unwrap()) }
    }

    fn post(&mut self, authorization: Option<&str>) -> Response {
        let body = "<s:Envelope/>";
        let mut request = format!("POST /wsman HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n", body.len());
        if let Some(a) = authorization {
            request.push_str(&format!("Authorization: {a}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        self.reader.get_mut().write_all(request.as_bytes()).unwrap();
        let mut status_line = String::new();
        self.reader.read_line(&mut status_line).unwrap();
        let status = status_line.split_whitespace().nth(1).unwrap().parse().unwrap();
        let (mut www_authenticate, mut length) = (Vec::new(), 0usize);
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            if name.eq_ignore_ascii_case("WWW-Authenticate") {
                www_authenticate.push(value.trim().to_owned());
            } else if name.eq_ignore_ascii_case("Content-Length") {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).unwrap();
        Response { status, www_authenticate, body: String::from_utf8(body).unwrap() }
    }
}

fn digest(password: &str) -> DigestClient {
    DigestClient::new(&Credentials::new("alice", password), "POST", "/wsman")
}

/// The transport's loop: first request, then answer each 401 (all challenge headers joined).
fn authenticate(conn: &mut Connection, client: &mut DigestClient) -> Result<Response, AuthError> {
    let mut authorization = client.step(None)?;
    for _ in 0..5 {
        let response = conn.post(authorization.as_deref());
        if response.status != 401 {
            return Ok(response);
        }
        let joined = response.www_authenticate.join(", ");
        authorization = client.step(if joined.is_empty() { None } else { Some(&joined) })?;
    }
    panic!("no end to 401s");
}

#[test]
fn python_server_agrees_with_requests() {
    let out = Command::new(pssession_testkit::python()).arg(SCRIPT).arg("selftest").output().unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("selftest ok"), "{out:?}");
}

#[test]
fn sha256_md5_and_sess_variants() {
    for (offer, expect) in [
        ("SHA-256,MD5", "algorithm=SHA-256"),
        ("MD5", "algorithm=MD5"),
        ("MD5,SHA-256", "algorithm=SHA-256"),
        ("SHA-256-sess", "algorithm=SHA-256-sess"),
        ("MD5-sess", "algorithm=MD5-sess"),
        ("SHA-512-256", "algorithm=SHA-512-256"),
    ] {
        let server = Server::start(&[&format!("algorithms={offer}")]);
        let mut conn = Connection::open(server.port);
        let mut client = digest("Passw0rd!");
        let response = authenticate(&mut conn, &mut client).unwrap();
        assert_eq!(response.status, 200, "{offer}");
        assert!(
            response.body.contains("user=alice nc=00000001") && response.body.contains(expect),
            "{offer}: {}",
            response.body
        );
        assert!(client.is_complete() && !client.can_seal());
        // Later requests on the connection: nc increases under the same nonce.
        for n in 2..=3 {
            let next = client.authorization().unwrap();
            let response = conn.post(Some(&next));
            assert_eq!(response.status, 200);
            assert!(response.body.contains(&format!("nc={n:08x}")), "{}", response.body);
        }
    }
}

#[test]
fn userhash() {
    let server = Server::start(&["userhash=1"]);
    let mut conn = Connection::open(server.port);
    let response = authenticate(&mut conn, &mut digest("Passw0rd!")).unwrap();
    assert_eq!(response.status, 200);
    assert!(response.body.starts_with("user=alice"));
}

#[test]
fn stale_nonce_is_renewed_without_failing() {
    let server = Server::start(&["stale-after=1"]);
    let mut conn = Connection::open(server.port);
    let mut client = digest("Passw0rd!");
    assert_eq!(authenticate(&mut conn, &mut client).unwrap().status, 200);
    // The nonce is used up: the next request gets 401 stale=true, which the client answers with the new nonce.
    let response = conn.post(Some(&client.authorization().unwrap()));
    assert_eq!(response.status, 401);
    assert!(response.www_authenticate.iter().all(|w| w.contains("stale=true")));
    let retry = client.step(Some(&response.www_authenticate.join(", "))).unwrap().unwrap();
    let response = conn.post(Some(&retry));
    assert_eq!(response.status, 200);
    assert!(response.body.contains("nc=00000001"));
}

#[test]
fn wrong_password_is_rejected() {
    let server = Server::start(&[]);
    let mut conn = Connection::open(server.port);
    assert_eq!(authenticate(&mut conn, &mut digest("wrong")).err(), Some(AuthError::Rejected));
}

#[test]
fn server_without_digest_says_winrm_has_none() {
    let server = Server::start(&["offer=Negotiate"]);
    let mut conn = Connection::open(server.port);
    let err = authenticate(&mut conn, &mut digest("Passw0rd!")).err().unwrap();
    assert_eq!(err, AuthError::DigestNotOffered);
    assert!(err.to_string().contains(
        "the WinRM service does not accept Digest authentication; use Negotiate, Kerberos, CredSSP or Basic over HTTPS"
    ));
}
