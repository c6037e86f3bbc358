//! The endpoint over real sockets, driven by our own WS-Man transport: NTLM with message encryption over HTTP,
//! Basic refused over HTTP and accepted over HTTPS, AllowUnencrypted, bad paths and methods, a client that
//! vanishes mid-request, shutdown.

mod server_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use pssession_auth::winrm_sealing::Sealer;
use pssession_auth::{BasicClient, ClientAuth, Credentials, TransportSecurity, negotiate_client};
use pssession_server::plugin::Plugin;
use pssession_server::{RunningServer, Server, ServerCertificate, ServiceConfig};
use pssession_wsman::envelope::ResponseBody;
use pssession_wsman::multipart::{self, EncryptionProtocol};
use pssession_wsman::transport::{
    AuthStepError, ConnectionInfo, EndpointUri, HttpAuthenticator, HttpTransport, MessageEncryption, TransportError,
    TransportOptions,
};
use server_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type MakeAuth = Box<dyn Fn() -> Box<dyn ClientAuth> + Send>;

/// A test authenticator over a `pssession-auth` client mechanism; seals bodies on plain HTTP when `seal`.
struct TestAuth {
    make: MakeAuth,
    context: Option<Box<dyn ClientAuth>>,
    basic_header: Option<String>,
    seal: bool,
    tls: bool,
    decrypted: Arc<AtomicUsize>,
}

impl TestAuth {
    fn new(make: MakeAuth, seal: bool) -> (Self, Arc<AtomicUsize>) {
        let decrypted = Arc::new(AtomicUsize::new(0));
        let auth = TestAuth { make, context: None, basic_header: None, seal, tls: false, decrypted: decrypted.clone() };
        (auth, decrypted)
    }
}

fn step_error(e: impl std::fmt::Display) -> AuthStepError {
    AuthStepError::new(e.to_string())
}

impl HttpAuthenticator for TestAuth {
    fn scheme(&self) -> &str {
        self.context.as_ref().map_or("test", |c| c.scheme())
    }

    fn start(&mut self, connection: &ConnectionInfo) -> Result<Option<String>, AuthStepError> {
        self.tls = connection.is_tls();
        let mut context = (self.make)();
        let first = context.step(None).map_err(step_error)?;
        self.basic_header = if context.can_seal() { None } else { first.clone() };
        self.context = Some(context);
        Ok(first)
    }

    fn challenge(&mut self, status: u16, www_authenticate: &[String]) -> Result<Option<String>, AuthStepError> {
        let Some(context) = self.context.as_mut() else { return Ok(None) };
        let scheme = context.scheme().to_ascii_lowercase();
        let value = www_authenticate.iter().find(|v| {
            let v = v.to_ascii_lowercase();
            v.starts_with(&scheme) && v.len() > scheme.len() + 1
        });
        match value {
            Some(v) if status == 401 => Ok(context.step(Some(v)).ok().flatten()),
            Some(v) => {
                context.step(Some(v)).map_err(step_error)?;
                Ok(None)
            }
            None => Ok(None),
        }
    }

    fn authorization(&mut self) -> Result<Option<String>, AuthStepError> {
        Ok(self.basic_header.clone())
    }

    fn is_established(&self) -> bool {
        self.context.as_ref().is_some_and(|c| c.is_complete())
    }

    fn encryption(&mut self) -> Option<&mut dyn MessageEncryption> {
        let seals = self.seal && !self.tls && self.context.as_ref().is_some_and(|c| c.can_seal());
        if seals { Some(self) } else { None }
    }
}

impl MessageEncryption for TestAuth {
    fn encrypt(&mut self, envelope: &[u8]) -> Result<(String, Bytes), AuthStepError> {
        let context = self.context.as_mut().ok_or_else(|| AuthStepError::new("no context"))?;
        let sealed = multipart::encrypt(&mut Sealer(context.as_mut()), EncryptionProtocol::Spnego, envelope)
            .map_err(step_error)?;
        Ok((sealed.content_type, Bytes::from(sealed.body)))
    }

    fn decrypt(&mut self, content_type: &str, body: Bytes) -> Result<Bytes, AuthStepError> {
        let context = self.context.as_mut().ok_or_else(|| AuthStepError::new("no context"))?;
        let plain =
            multipart::decrypt(&mut Sealer(context.as_mut()), content_type, &body, &multipart::Limits::default())
                .map_err(step_error)?;
        self.decrypted.fetch_add(1, Ordering::SeqCst);
        Ok(Bytes::from(plain))
    }
}

fn ntlm(user: &'static str, password: &'static str) -> MakeAuth {
    Box::new(move || Box::new(negotiate_client(Credentials::new(user, password), None, None)))
}

fn basic(user: &'static str, password: &'static str) -> MakeAuth {
    Box::new(move || {
        // The client side allows Basic everywhere, so the server's own policy is what is tested.
        Box::new(BasicClient::new(&Credentials::new(user, password), TransportSecurity::Plaintext, true).unwrap())
    })
}

fn echo_plugin() -> Arc<dyn Plugin> {
    Arc::new(EchoTestPlugin::default())
}

struct Tls {
    certificate_pem: String,
    key_pem: String,
}

fn tls() -> Tls {
    let (_, certificate_pem, key_pem) =
        ServerCertificate::generate(&["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    Tls { certificate_pem, key_pem }
}

async fn start(config: ServiceConfig, tls: Option<&Tls>) -> RunningServer {
    let mut builder = Server::builder()
        .config(config)
        .user("alice", "Secret1!")
        .plugin("Microsoft.PowerShell", echo_plugin())
        .http(0);
    if let Some(t) = tls {
        builder = builder.certificate_pem(t.certificate_pem.as_bytes(), t.key_pem.as_bytes()).unwrap().https(0);
    }
    builder.start().await.unwrap()
}

fn transport(url: &str, auth: TestAuth, tls: Option<&Tls>) -> HttpTransport {
    let mut options = TransportOptions::default();
    options.request_timeout = Duration::from_secs(30);
    if let Some(t) = tls {
        options.tls.trust_pem(t.certificate_pem.as_bytes()).unwrap();
        options.tls.only_extra_roots = true;
    }
    HttpTransport::new(EndpointUri::from_connection_uri(url).unwrap(), options, Box::new(auth)).unwrap()
}

async fn exchange(t: &mut HttpTransport, envelope: Vec<u8>) -> Result<ResponseBody, TransportError> {
    let response = t.send(Bytes::from(envelope)).await?;
    let parsed = parse(&response.body);
    assert_eq!(response.status == 500, matches!(parsed.body, ResponseBody::Fault(_)));
    Ok(parsed.body)
}

/// Create + Receive (the creationXml echo) + Delete through `t`.
async fn round_trip(t: &mut HttpTransport) {
    let client = Client::new();
    let shell = guid();
    let created = exchange(t, client.create(&shell, b"hello")).await.unwrap();
    assert!(matches!(created, ResponseBody::Create(_)), "{created:?}");
    match exchange(t, client.receive(&shell, None)).await.unwrap() {
        ResponseBody::Receive(r) => assert_eq!(r.streams[0].data.as_ref(), b"hello"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(exchange(t, client.delete(&shell)).await.unwrap(), ResponseBody::Delete));
}

#[tokio::test]
async fn ntlm_with_message_encryption_over_http() {
    let server = start(ServiceConfig::default(), None).await;
    let (auth, decrypted) = TestAuth::new(ntlm("alice", "Secret1!"), true);
    let mut t = transport(&server.http_url().unwrap(), auth, None);
    round_trip(&mut t).await;
    // Every response came back sealed.
    assert_eq!(decrypted.load(Ordering::SeqCst), 3);
    server.shutdown().await;
}

#[tokio::test]
async fn unencrypted_bodies_over_http_are_refused_by_default() {
    let server = start(ServiceConfig::default(), None).await;
    let (auth, _) = TestAuth::new(ntlm("alice", "Secret1!"), false);
    let mut t = transport(&server.http_url().unwrap(), auth, None);
    let body = exchange(&mut t, Client::new().create(&guid(), b"")).await.unwrap();
    assert_eq!(fault_code(&body), 5);
    assert_eq!(server.service().shell_count(), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_password_is_refused() {
    let server = start(ServiceConfig::default(), None).await;
    let (auth, _) = TestAuth::new(ntlm("alice", "wrong"), true);
    let mut t = transport(&server.http_url().unwrap(), auth, None);
    let result = exchange(&mut t, Client::new().create(&guid(), b"")).await;
    assert!(matches!(result, Err(TransportError::AuthenticationFailed { .. })), "{result:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn basic_is_refused_over_http() {
    let server = start(ServiceConfig::default(), None).await;
    let (auth, _) = TestAuth::new(basic("alice", "Secret1!"), false);
    let mut t = transport(&server.http_url().unwrap(), auth, None);
    let result = exchange(&mut t, Client::new().create(&guid(), b"")).await;
    match result {
        Err(TransportError::AuthenticationFailed { offered, .. }) => {
            assert!(offered.iter().all(|o| !o.to_ascii_lowercase().starts_with("basic")), "{offered:?}");
        }
        other => panic!("{other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn basic_over_http_when_unencrypted_is_allowed() {
    let mut config = ServiceConfig::default();
    config.allow_unencrypted = true;
    let server = start(config, None).await;
    let (auth, _) = TestAuth::new(basic("alice", "Secret1!"), false);
    let mut t = transport(&server.http_url().unwrap(), auth, None);
    round_trip(&mut t).await;
    server.shutdown().await;
}

#[tokio::test]
async fn basic_and_ntlm_over_https() {
    let tls = tls();
    let server = start(ServiceConfig::default(), Some(&tls)).await;
    let url = server.https_url().unwrap();
    let (auth, _) = TestAuth::new(basic("alice", "Secret1!"), false);
    round_trip(&mut transport(&url, auth, Some(&tls))).await;
    let (auth, decrypted) = TestAuth::new(ntlm("alice", "Secret1!"), true);
    round_trip(&mut transport(&url, auth, Some(&tls))).await;
    // Over TLS the bodies travel unsealed.
    assert_eq!(decrypted.load(Ordering::SeqCst), 0);
    let (auth, _) = TestAuth::new(basic("alice", "nope"), false);
    let result = exchange(&mut transport(&url, auth, Some(&tls)), Client::new().create(&guid(), b"")).await;
    assert!(matches!(result, Err(TransportError::AuthenticationFailed { .. })), "{result:?}");
    server.shutdown().await;
}

async fn raw_status(address: std::net::SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await.unwrap().unwrap();
    String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn paths_methods_and_vanishing_clients() {
    let mut config = ServiceConfig::default();
    config.allow_unencrypted = true;
    let server = start(config, None).await;
    let address = server.http_address().unwrap();
    let status = raw_status(address, "GET /wsman HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").await;
    assert!(status.contains(" 405"), "{status}");
    let status = raw_status(address, "POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").await;
    assert!(status.contains(" 404"), "{status}");
    let status =
        raw_status(address, "POST /wsman?PSVersion=7.4.10 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").await;
    assert!(status.contains(" 401"), "{status}");

    // A shell, then a client that sends half a request and vanishes, and one that vanishes during a long poll.
    let (auth, _) = TestAuth::new(basic("alice", "Secret1!"), false);
    let url = server.http_url().unwrap();
    let mut t = transport(&url, auth, None);
    let client = Client::new();
    let shell = guid();
    exchange(&mut t, client.create(&shell, b"")).await.unwrap();
    {
        let mut s = TcpStream::connect(address).await.unwrap();
        s.write_all(b"POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n<s:Envelope").await.unwrap();
    }
    {
        // A Receive long poll (20 s OperationTimeout) on a raw connection, Basic as alice.
        let body = client.receive(&shell, None);
        let mut request = format!(
            "POST /wsman HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWxpY2U6U2VjcmV0MSE=\r\n\
             Content-Type: application/soap+xml;charset=UTF-8\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(&body);
        let mut s = TcpStream::connect(address).await.unwrap();
        s.write_all(&request).await.unwrap();
        // The test and the server share this one-thread runtime: on the paused clock, a second passes only once
        // the server has nothing left to do with the request, so "no answer within 1 s" means it is waiting.
        tokio::time::pause();
        let mut byte = [0u8; 1];
        let pending = tokio::time::timeout(Duration::from_secs(1), s.read(&mut byte)).await;
        tokio::time::resume();
        assert!(pending.is_err(), "the long poll should still be waiting: {pending:?}");
        // The client vanishes: the server sees the end of its stream and closes the connection unanswered, which
        // drops the waiting Receive (it must not take the data sent next).
        s.shutdown().await.unwrap();
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut rest)).await;
        assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "the server closes the connection: {closed:?}");
        assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    }
    // The server is up and the shell is intact.
    exchange(&mut t, client.send(&shell, None, b"still here")).await.unwrap();
    match exchange(&mut t, client.receive(&shell, None)).await.unwrap() {
        ResponseBody::Receive(r) => assert_eq!(r.streams[0].data.as_ref(), b"still here"),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.service().shell_count(), 1);
    server.shutdown().await;
    assert!(TcpStream::connect(address).await.is_err(), "the listener is closed after shutdown");
}

#[tokio::test]
async fn shutdown_closes_every_plugin_shell() {
    let plugin = EchoTestPlugin::default();
    let seen = plugin.seen.clone();
    let plugin: Arc<dyn Plugin> = Arc::new(plugin);
    let mut config = ServiceConfig::default();
    config.allow_unencrypted = true;
    let server =
        Server::builder().config(config).user("alice", "Secret1!").plugin("Microsoft.PowerShell", plugin).http(0);
    let server = server.start().await.unwrap();
    let (auth, _) = TestAuth::new(basic("alice", "Secret1!"), false);
    let mut t = transport(&server.http_url().unwrap(), auth, None);
    exchange(&mut t, Client::new().create(&guid(), b"")).await.unwrap();
    server.shutdown().await;
    let seen: &Mutex<Seen> = &seen;
    assert_eq!(seen.lock().unwrap().closed.len(), 1);
}

#[tokio::test]
async fn credssp_over_https() {
    let tls = tls();
    let server = Server::builder()
        .user("alice", "Secret1!")
        .plugin("Microsoft.PowerShell", echo_plugin())
        .certificate_pem(tls.certificate_pem.as_bytes(), tls.key_pem.as_bytes())
        .unwrap()
        .https(0)
        .credssp(true)
        .start()
        .await
        .unwrap();
    let make: MakeAuth = Box::new(|| {
        Box::new(pssession_auth::credssp_delegating_credentials(
            Credentials::new("alice", "Secret1!"),
            None,
            pssession_auth::credssp::CredsspDelegation::AllowFreshCredentials,
        ))
    });
    let (auth, _) = TestAuth::new(make, false);
    round_trip(&mut transport(&server.https_url().unwrap(), auth, Some(&tls))).await;
    server.shutdown().await;
}

/// Sends WinRM's certificate-authentication `Authorization` value; the TLS layer presents the certificate.
struct CertificateAuth;

impl HttpAuthenticator for CertificateAuth {
    fn scheme(&self) -> &str {
        "Certificate"
    }

    fn start(&mut self, _connection: &ConnectionInfo) -> Result<Option<String>, AuthStepError> {
        Ok(Some(pssession_auth::client_cert::MUTUAL_AUTHORIZATION.to_owned()))
    }

    fn challenge(&mut self, _status: u16, _www: &[String]) -> Result<Option<String>, AuthStepError> {
        Ok(None)
    }

    fn authorization(&mut self) -> Result<Option<String>, AuthStepError> {
        Ok(Some(pssession_auth::client_cert::MUTUAL_AUTHORIZATION.to_owned()))
    }

    fn is_established(&self) -> bool {
        true
    }

    fn encryption(&mut self) -> Option<&mut dyn MessageEncryption> {
        None
    }
}

struct ClientPki {
    ca_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl ClientPki {
    fn new() -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, "pssession test client CA");
        let key = rcgen::KeyPair::generate().unwrap();
        let ca = params.self_signed(&key).unwrap();
        ClientPki { ca_pem: ca.pem(), issuer: rcgen::Issuer::new(params, key) }
    }

    /// A client certificate for `cn`: (certificate PEM, key PEM).
    fn client(&self, cn: &str) -> (String, String) {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

#[tokio::test]
async fn client_certificate_logon_over_https() {
    let tls = tls();
    let pki = ClientPki::new();
    let mut mapping = pssession_auth::client_cert::CertificateMapping::new();
    mapping.map_subject("alice-cert", pssession_auth::ClientIdentity { domain: String::new(), user: "alice".into() });
    let plugin = EchoTestPlugin::default();
    let seen = plugin.seen.clone();
    let server = Server::builder()
        .user("alice", "Secret1!")
        .plugin("Microsoft.PowerShell", Arc::new(plugin))
        .certificate_pem(tls.certificate_pem.as_bytes(), tls.key_pem.as_bytes())
        .unwrap()
        .client_certificates(pki.ca_pem.as_bytes(), mapping)
        .unwrap()
        .https(0)
        .start()
        .await
        .unwrap();
    let url = server.https_url().unwrap();
    let with_certificate = |cn: Option<&str>| {
        let mut options = TransportOptions::default();
        options.tls.trust_pem(tls.certificate_pem.as_bytes()).unwrap();
        options.tls.only_extra_roots = true;
        if let Some(cn) = cn {
            let (cert, key) = pki.client(cn);
            options.tls.client_certificate =
                Some(pssession_wsman::transport::ClientCertificate::from_pem(cert.as_bytes(), key.as_bytes()).unwrap());
        }
        HttpTransport::new(EndpointUri::from_connection_uri(&url).unwrap(), options, Box::new(CertificateAuth)).unwrap()
    };
    round_trip(&mut with_certificate(Some("alice-cert"))).await;
    assert_eq!(seen.lock().unwrap().shells[0].owner, "alice");
    // A certificate no rule maps, and no certificate at all, are refused.
    for cn in [Some("mallory"), None] {
        let result = exchange(&mut with_certificate(cn), Client::new().create(&guid(), b"")).await;
        assert!(matches!(result, Err(TransportError::AuthenticationFailed { .. })), "{result:?}");
    }
    // Password logons still work on the same listener.
    let (auth, _) = TestAuth::new(basic("alice", "Secret1!"), false);
    round_trip(&mut transport(&url, auth, Some(&tls))).await;
    server.shutdown().await;
}

/// Sends one raw request with `Connection: close` and returns the whole response (head and body).
async fn raw_exchange(address: std::net::SocketAddr, head: &str, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = format!("{head}Host: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n", body.len());
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut response)).await.unwrap().unwrap();
    String::from_utf8(response).unwrap()
}

#[tokio::test]
async fn identify_over_the_listener_needs_no_credentials() {
    // `wsman identify` / `winrm id -auth:none`: no Authorization, plain HTTP, AllowUnencrypted off.
    let server = start(ServiceConfig::default(), None).await;
    let address = server.http_address().unwrap();
    let body = pssession_wsman::identify::request_bytes();
    let response =
        raw_exchange(address, "POST /wsman HTTP/1.1\r\nContent-Type: application/soap+xml;charset=UTF-8\r\n", &body)
            .await;
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let identify = pssession_wsman::identify::IdentifyResponse::parse(
        body.as_bytes(),
        &pssession_wsman::envelope::Limits::default(),
    )
    .unwrap();
    assert_eq!(identify.protocol_version, pssession_wsman::identify::PROTOCOL_VERSION);
    assert!(identify.product_version.ends_with("Stack: 3.0"), "{identify:?}");
    server.shutdown().await;
}

/// A raw HTTP/1.1 client connection: one request at a time, each response read by its Content-Length.
struct RawHttp {
    stream: TcpStream,
    buffer: Vec<u8>,
}

/// A response: status, headers, body.
type RawResponse = (u16, Vec<(String, String)>, Vec<u8>);

impl RawHttp {
    async fn connect(address: std::net::SocketAddr) -> Self {
        RawHttp { stream: TcpStream::connect(address).await.unwrap(), buffer: Vec::new() }
    }

    async fn read_more(&mut self) -> usize {
        let mut chunk = [0u8; 16 * 1024];
        let n = tokio::time::timeout(Duration::from_secs(60), self.stream.read(&mut chunk)).await.unwrap().unwrap();
        self.buffer.extend_from_slice(&chunk[..n]);
        n
    }

    async fn request(&mut self, headers: &[(&str, &str)], body: &[u8]) -> RawResponse {
        let mut head = format!("POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n", body.len());
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        self.stream.write_all(head.as_bytes()).await.unwrap();
        self.stream.write_all(body).await.unwrap();
        let end = loop {
            if let Some(at) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
            assert!(self.read_more().await > 0, "connection closed before a response");
        };
        let head = String::from_utf8(self.buffer[..end].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length: usize = headers.iter().find(|(n, _)| n == "content-length").map_or(0, |(_, v)| v.parse().unwrap());
        while self.buffer.len() < end + 4 + length {
            assert!(self.read_more().await > 0, "connection closed inside a body");
        }
        let body = self.buffer[end + 4..end + 4 + length].to_vec();
        self.buffer.drain(..end + 4 + length);
        (status, headers, body)
    }

    /// Waits until the server closes the connection.
    async fn closed_by_server(&mut self) {
        while self.read_more().await > 0 {}
    }
}

fn raw_header<'a>(response: &'a RawResponse, name: &str) -> Option<&'a str> {
    response.1.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Seals `envelope`, posts it without `Authorization` on `conn` and unseals the answer.
async fn sealed_exchange(conn: &mut RawHttp, auth: &mut dyn ClientAuth, envelope: &[u8]) -> (u16, ResponseBody) {
    let sealed = multipart::encrypt(&mut Sealer(auth), EncryptionProtocol::Spnego, envelope).unwrap();
    let response = conn.request(&[("Content-Type", &sealed.content_type)], &sealed.body).await;
    let content_type = raw_header(&response, "Content-Type").expect("a sealed answer").to_owned();
    let plain =
        multipart::decrypt(&mut Sealer(auth), &content_type, &response.2, &multipart::Limits::default()).unwrap();
    (response.0, parse(&plain).body)
}

#[tokio::test]
async fn a_sealed_session_survives_the_idle_connection_timeout() {
    // The issue-21 scenario: the endpoint closes an idle keep-alive connection; the client opens a new one and
    // seals the next body with the context it has, without authenticating again (pypsrp, pywinrm).
    let server = Server::builder()
        .user("alice", "Secret1!")
        .plugin("Microsoft.PowerShell", echo_plugin())
        .http(0)
        .idle_connection_timeout(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let address = server.http_address().unwrap();
    let mut auth: Box<dyn ClientAuth> = Box::new(negotiate_client(Credentials::new("alice", "Secret1!"), None, None));
    let mut first = RawHttp::connect(address).await;
    let mut token = auth.step(None).unwrap().unwrap();
    loop {
        let response = first.request(&[("Authorization", &token)], b"").await;
        let www = raw_header(&response, "WWW-Authenticate").map(str::to_owned);
        if response.0 == 200 {
            if !auth.is_complete() {
                assert_eq!(auth.step(www.as_deref()).unwrap(), None);
            }
            break;
        }
        assert_eq!(response.0, 401);
        token = auth.step(www.as_deref()).unwrap().unwrap();
    }
    let client = Client::new();
    let shell = guid();
    let (status, body) = sealed_exchange(&mut first, auth.as_mut(), &client.create(&shell, b"hello")).await;
    assert_eq!(status, 200, "{body:?}");

    // Idle past the timeout: the server closes the connection.
    first.closed_by_server().await;

    let mut second = RawHttp::connect(address).await;
    match sealed_exchange(&mut second, auth.as_mut(), &client.receive(&shell, None)).await {
        (200, ResponseBody::Receive(r)) => assert_eq!(r.streams[0].data.as_ref(), b"hello"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        sealed_exchange(&mut second, auth.as_mut(), &client.delete(&shell)).await,
        (200, ResponseBody::Delete)
    ));
    assert_eq!(server.service().shell_count(), 0);
    server.shutdown().await;
}
