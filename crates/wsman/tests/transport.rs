//! The HTTP(S) transport against real local servers: keep-alive, 401 rounds, encryption rounds, redirects
//! (refused, followed, limit exceeded, downgrade refused), TLS verification and its escape hatches, timeouts,
//! servers that close mid-response or between requests, oversized responses, and a CONNECT proxy.

mod support;
use support::Anonymous;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1 as server_http1;
use hyper::service::service_fn;
use hyper::{Request, Response as HttpResponse};
use hyper_util::rt::TokioIo;
use pssession_wsman::transport as t;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use t::{
    AuthStepError, ConnectionInfo, EndpointUri, HttpAuthenticator, HttpTransport, MessageEncryption, TlsOptions,
    TransportError, TransportOptions,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// ---------------------------------------------------------------------------------------------- test mechanisms

/// A test mechanism: answers challenge `Token step1` with `Token <secret>`; connection bound.
#[derive(Default)]
struct TokenAuth {
    secret: String,
    starts: Arc<AtomicUsize>,
    established: bool,
    seen_certificate: Arc<Mutex<Option<Vec<u8>>>>,
    encrypt: Option<XorEncryption>,
}

impl HttpAuthenticator for TokenAuth {
    fn scheme(&self) -> &str {
        "Token"
    }
    fn start(&mut self, connection: &ConnectionInfo) -> Result<Option<String>, AuthStepError> {
        self.starts.fetch_add(1, Ordering::SeqCst);
        self.established = false;
        *self.seen_certificate.lock().unwrap() = connection.peer_certificate.as_ref().map(|c| c.to_vec());
        Ok(Some("Token hello".into()))
    }
    fn challenge(&mut self, status: u16, offered: &[String]) -> Result<Option<String>, AuthStepError> {
        if status != 401 {
            return Ok(None);
        }
        if offered.iter().any(|c| c == "Token step1") {
            return Ok(Some(format!("Token {}", self.secret)));
        }
        Ok(None)
    }
    fn authorization(&mut self) -> Result<Option<String>, AuthStepError> {
        self.established = true;
        Ok(None)
    }
    fn is_established(&self) -> bool {
        self.established
    }
    fn encryption(&mut self) -> Option<&mut dyn MessageEncryption> {
        self.encrypt.as_mut().map(|e| e as &mut dyn MessageEncryption)
    }
}

/// A test "encryption": XOR with 0x5A, framed by a content type the test server checks.
struct XorEncryption;

const XOR_TYPE: &str = "multipart/encrypted;protocol=\"application/x-test-xor\"";

fn xor(data: &[u8]) -> Bytes {
    data.iter().map(|b| b ^ 0x5A).collect::<Vec<_>>().into()
}

impl MessageEncryption for XorEncryption {
    fn encrypt(&mut self, envelope: &[u8]) -> Result<(String, Bytes), AuthStepError> {
        Ok((XOR_TYPE.into(), xor(envelope)))
    }
    fn decrypt(&mut self, content_type: &str, body: Bytes) -> Result<Bytes, AuthStepError> {
        if content_type != XOR_TYPE {
            return Err(AuthStepError::new("unexpected content type"));
        }
        Ok(xor(&body))
    }
}

// ---------------------------------------------------------------------------------------------- test servers

type Handler = Arc<dyn Fn(&Request<Bytes>, usize) -> HttpResponse<Full<Bytes>> + Send + Sync>;

struct Server {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

/// An HTTP/1.1 keep-alive server; `handler` gets the request (body collected) and the connection number.
async fn serve(handler: Handler, tls: Option<Arc<rustls::ServerConfig>>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let number = counter.fetch_add(1, Ordering::SeqCst) + 1;
            let handler = handler.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let handler = handler.clone();
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        Ok::<_, Infallible>(handler(&Request::from_parts(parts, body), number))
                    }
                });
                match tls {
                    Some(config) => {
                        if let Ok(stream) = tokio_rustls::TlsAcceptor::from(config).accept(tcp).await {
                            let _ = server_http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                    None => {
                        let _ = server_http1::Builder::new().serve_connection(TokioIo::new(tcp), service).await;
                    }
                }
            });
        }
    });
    Server { addr, connections }
}

fn reply(status: u16, body: &'static str) -> HttpResponse<Full<Bytes>> {
    HttpResponse::builder().status(status).body(Full::new(Bytes::from_static(body.as_bytes()))).unwrap()
}

fn header(request: &Request<Bytes>, name: &str) -> Option<String> {
    request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// A CA and a server certificate for `names`, signed by it.
struct Pki {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
    leaf_der: Vec<u8>,
}

fn make_pki(names: &[&str]) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone(), ca.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
    Pki { ca_pem: ca.pem(), server: Arc::new(server), leaf_der: leaf.der().to_vec() }
}

fn trusting(ca_pem: &str) -> TlsOptions {
    let mut tls = TlsOptions::default();
    tls.trust_pem(ca_pem.as_bytes()).unwrap();
    tls.only_extra_roots = true;
    tls
}

fn options(tls: TlsOptions) -> TransportOptions {
    let mut options = TransportOptions::default();
    options.tls = tls;
    options.connect_timeout = Duration::from_secs(5);
    options.request_timeout = Duration::from_secs(5);
    options
}

fn http_uri(addr: SocketAddr) -> EndpointUri {
    EndpointUri::from_connection_uri(&format!("http://{addr}/wsman")).unwrap()
}

fn echo() -> Handler {
    Arc::new(|request, _| HttpResponse::builder().status(200).body(Full::new(request.body().clone())).unwrap())
}

// ---------------------------------------------------------------------------------------------- tests

#[tokio::test]
async fn posts_envelopes_over_one_keep_alive_connection() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let server = serve(
        Arc::new(move |request, _| {
            log.lock().unwrap().push((
                request.uri().to_string(),
                header(request, "content-type"),
                header(request, "host"),
            ));
            HttpResponse::builder().status(200).body(Full::new(request.body().clone())).unwrap()
        }),
        None,
    )
    .await;
    let mut transport =
        HttpTransport::new(http_uri(server.addr), options(TlsOptions::default()), Box::new(Anonymous)).unwrap();
    for i in 0..5 {
        let response = transport.send(Bytes::from(format!("<s:Envelope>{i}</s:Envelope>"))).await.unwrap();
        assert_eq!((response.status, response.body), (200, Bytes::from(format!("<s:Envelope>{i}</s:Envelope>"))));
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].0, "/wsman");
    assert_eq!(seen[0].1.as_deref(), Some("application/soap+xml;charset=UTF-8"));
    assert_eq!(seen[0].2, Some(server.addr.to_string()));
}

#[tokio::test]
async fn faults_come_back_as_status_500() {
    let server = serve(Arc::new(|_, _| reply(500, "<s:Fault/>")), None).await;
    let mut transport =
        HttpTransport::new(http_uri(server.addr), options(TlsOptions::default()), Box::new(Anonymous)).unwrap();
    let response = transport.send(Bytes::from_static(b"x")).await.unwrap();
    assert_eq!((response.status, &response.body[..]), (500, &b"<s:Fault/>"[..]));
}

fn token_server(secret: &'static str) -> Handler {
    Arc::new(move |request, _| match header(request, "authorization").as_deref() {
        Some("Token hello") => {
            HttpResponse::builder().status(401).header("WWW-Authenticate", "Token step1").body(Full::default()).unwrap()
        }
        Some(value) if value == format!("Token {secret}") => reply(200, "<ok/>"),
        // Once authenticated, the connection carries no header (connection-bound mechanism).
        None => reply(200, "<ok/>"),
        Some(_) => HttpResponse::builder()
            .status(401)
            .header("WWW-Authenticate", "Token")
            .header("WWW-Authenticate", "Negotiate")
            .body(Full::default())
            .unwrap(),
    })
}

#[tokio::test]
async fn authentication_rounds_run_on_the_connection_and_failures_name_the_offers() {
    let server = serve(token_server("s3cret"), None).await;
    let starts = Arc::new(AtomicUsize::new(0));
    let auth = TokenAuth { secret: "s3cret".into(), starts: starts.clone(), ..TokenAuth::default() };
    let mut transport =
        HttpTransport::new(http_uri(server.addr), options(TlsOptions::default()), Box::new(auth)).unwrap();
    assert_eq!(transport.send(Bytes::from_static(b"a")).await.unwrap().body, Bytes::from_static(b"<ok/>"));
    assert_eq!(transport.send(Bytes::from_static(b"b")).await.unwrap().status, 200);
    assert_eq!(starts.load(Ordering::SeqCst), 1);

    let auth = TokenAuth { secret: "wrong".into(), ..TokenAuth::default() };
    let mut transport =
        HttpTransport::new(http_uri(server.addr), options(TlsOptions::default()), Box::new(auth)).unwrap();
    match transport.send(Bytes::from_static(b"a")).await {
        Err(TransportError::AuthenticationFailed { scheme, offered }) => {
            assert_eq!(scheme, "Token");
            assert_eq!(offered, vec!["Token".to_owned(), "Negotiate".to_owned()]);
        }
        other => panic!("expected an authentication failure, got {other:?}"),
    }
}

#[tokio::test]
async fn encrypting_mechanisms_authenticate_with_empty_bodies_then_seal() {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let log = bodies.clone();
    let inner = token_server("k");
    let server = serve(
        Arc::new(move |request, n| {
            log.lock().unwrap().push((header(request, "content-type"), request.body().clone()));
            if header(request, "authorization").is_none() {
                assert_eq!(header(request, "content-type").as_deref(), Some(XOR_TYPE));
                let plain = xor(request.body());
                return HttpResponse::builder()
                    .status(200)
                    .header("Content-Type", XOR_TYPE)
                    .body(Full::new(xor(&[b"echo:", &plain[..]].concat())))
                    .unwrap();
            }
            inner(request, n)
        }),
        None,
    )
    .await;
    let auth = TokenAuth { secret: "k".into(), encrypt: Some(XorEncryption), ..TokenAuth::default() };
    let mut transport =
        HttpTransport::new(http_uri(server.addr), options(TlsOptions::default()), Box::new(auth)).unwrap();
    let response = transport.send(Bytes::from_static(b"<secret/>")).await.unwrap();
    assert_eq!(response.body, Bytes::from_static(b"echo:<secret/>"));
    let bodies = bodies.lock().unwrap();
    // Two authentication rounds with empty bodies, then the sealed envelope: plaintext never crossed the wire.
    assert_eq!(bodies.len(), 3);
    assert!(bodies[0].1.is_empty() && bodies[1].1.is_empty());
    assert_eq!(bodies[2].1, xor(b"<secret/>"));
}

#[tokio::test]
async fn redirects_are_refused_unless_allowed_then_followed_within_the_limit() {
    let target = serve(echo(), None).await;
    let location = format!("http://{}/wsman", target.addr);
    let redirecting = serve(
        Arc::new(move |_, _| {
            HttpResponse::builder().status(307).header("Location", location.clone()).body(Full::default()).unwrap()
        }),
        None,
    )
    .await;

    let mut transport =
        HttpTransport::new(http_uri(redirecting.addr), options(TlsOptions::default()), Box::new(Anonymous)).unwrap();
    match transport.send(Bytes::from_static(b"x")).await {
        Err(TransportError::RedirectRefused { location }) => assert!(location.contains(&target.addr.to_string())),
        other => panic!("expected a refused redirect, got {other:?}"),
    }

    let mut allowed = options(TlsOptions::default());
    allowed.allow_redirection = true;
    let mut transport = HttpTransport::new(http_uri(redirecting.addr), allowed.clone(), Box::new(Anonymous)).unwrap();
    assert_eq!(transport.send(Bytes::from_static(b"moved")).await.unwrap().body, Bytes::from_static(b"moved"));
    assert_eq!(transport.endpoint().port(), target.addr.port());

    let looping = serve(
        Arc::new(|request, _| {
            let host = header(request, "host").unwrap();
            HttpResponse::builder()
                .status(302)
                .header("Location", format!("http://{host}/again"))
                .body(Full::default())
                .unwrap()
        }),
        None,
    )
    .await;
    allowed.max_redirections = Some(3);
    let mut transport = HttpTransport::new(http_uri(looping.addr), allowed, Box::new(Anonymous)).unwrap();
    match transport.send(Bytes::from_static(b"x")).await {
        Err(TransportError::TooManyRedirects { limit: 3, .. }) => {}
        other => panic!("expected too many redirects, got {other:?}"),
    }
}

#[tokio::test]
async fn https_to_http_redirects_are_refused() {
    let pki = make_pki(&["localhost"]);
    let plain = serve(echo(), None).await;
    let location = format!("http://{}/wsman", plain.addr);
    let secure = serve(
        Arc::new(move |_, _| {
            HttpResponse::builder().status(301).header("Location", location.clone()).body(Full::default()).unwrap()
        }),
        Some(pki.server.clone()),
    )
    .await;
    let mut allowed = options(trusting(&pki.ca_pem));
    allowed.allow_redirection = true;
    let uri = EndpointUri::from_connection_uri(&format!("https://localhost:{}/wsman", secure.addr.port())).unwrap();
    let mut transport = HttpTransport::new(uri, allowed, Box::new(Anonymous)).unwrap();
    match transport.send(Bytes::from_static(b"x")).await {
        Err(TransportError::RedirectInvalid { reason, .. }) => assert!(reason.contains("HTTPS to unencrypted HTTP")),
        other => panic!("expected a refused downgrade, got {other:?}"),
    }
}

#[tokio::test]
async fn tls_is_verified_by_default_and_escape_hatches_are_explicit() {
    let pki = make_pki(&["localhost"]);
    let server = serve(echo(), Some(pki.server.clone())).await;
    let by_name = EndpointUri::from_connection_uri(&format!("https://localhost:{}/wsman", server.addr.port())).unwrap();
    let by_address = EndpointUri::from_connection_uri(&format!("https://{}/wsman", server.addr)).unwrap();

    // Trusted CA and matching name: works, and the mechanism sees the server certificate (channel bindings).
    let seen = Arc::new(Mutex::new(None));
    let auth = TokenAuth { seen_certificate: seen.clone(), ..TokenAuth::default() };
    let mut ok = HttpTransport::new(by_name.clone(), options(trusting(&pki.ca_pem)), Box::new(auth)).unwrap();
    assert_eq!(ok.send(Bytes::from_static(b"hi")).await.unwrap().status, 200);
    assert_eq!(seen.lock().unwrap().as_deref(), Some(&pki.leaf_der[..]));

    // Untrusted CA: refused.
    let other = make_pki(&["localhost"]);
    let mut untrusted =
        HttpTransport::new(by_name.clone(), options(trusting(&other.ca_pem)), Box::new(Anonymous)).unwrap();
    assert!(matches!(untrusted.send(Bytes::from_static(b"x")).await, Err(TransportError::Tls { .. })));

    // -SkipCACheck: accepted although untrusted, the name still has to match.
    let mut skip_ca = trusting(&other.ca_pem);
    skip_ca.dangerous().skip_ca_check(true);
    let mut transport = HttpTransport::new(by_name.clone(), options(skip_ca.clone()), Box::new(Anonymous)).unwrap();
    assert_eq!(transport.send(Bytes::from_static(b"x")).await.unwrap().status, 200);
    let mut transport = HttpTransport::new(by_address.clone(), options(skip_ca.clone()), Box::new(Anonymous)).unwrap();
    assert!(matches!(transport.send(Bytes::from_static(b"x")).await, Err(TransportError::Tls { .. })));

    // Name mismatch with a trusted CA: refused; -SkipCNCheck: accepted.
    let mut transport =
        HttpTransport::new(by_address.clone(), options(trusting(&pki.ca_pem)), Box::new(Anonymous)).unwrap();
    assert!(matches!(transport.send(Bytes::from_static(b"x")).await, Err(TransportError::Tls { .. })));
    let mut skip_cn = trusting(&pki.ca_pem);
    skip_cn.dangerous().skip_cn_check(true);
    let mut transport = HttpTransport::new(by_address, options(skip_cn), Box::new(Anonymous)).unwrap();
    assert_eq!(transport.send(Bytes::from_static(b"x")).await.unwrap().status, 200);
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    let mut short = options(TlsOptions::default());
    short.request_timeout = Duration::from_millis(300);
    let mut transport = HttpTransport::new(http_uri(addr), short, Box::new(Anonymous)).unwrap();
    assert!(matches!(transport.send(Bytes::from_static(b"x")).await, Err(TransportError::RequestTimeout { .. })));

    // A TLS endpoint that accepts TCP but never answers the handshake: the connect timeout covers TLS.
    let mut short = options(TlsOptions::default());
    short.connect_timeout = Duration::from_millis(300);
    short.tls.dangerous().skip_ca_check(true);
    let uri = EndpointUri::from_connection_uri(&format!("https://localhost:{}/wsman", addr.port())).unwrap();
    let mut transport = HttpTransport::new(uri, short, Box::new(Anonymous)).unwrap();
    assert!(matches!(transport.send(Bytes::from_static(b"x")).await, Err(TransportError::ConnectTimeout { .. })));
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let mut transport =
        HttpTransport::new(http_uri(addr), options(TlsOptions::default()), Box::new(Anonymous)).unwrap();
    assert!(matches!(transport.send(Bytes::from_static(b"x")).await, Err(TransportError::Connect { .. })));
}

#[tokio::test]
async fn a_server_closing_mid_response_is_an_http_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = tcp.read(&mut buf).await;
            let _ = tcp.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n<s:Envelope>trunc").await;
        }
    });
    let mut transport =
        HttpTransport::new(http_uri(addr), options(TlsOptions::default()), Box::new(Anonymous)).unwrap();
    assert!(matches!(transport.send(Bytes::from_static(b"x")).await, Err(TransportError::Http(_))));
}

#[tokio::test]
async fn a_connection_closed_between_requests_is_reopened_and_reauthenticated() {
    // The server closes the connection after every successful answer (keeping it through the 401 rounds).
    let server = serve(
        Arc::new(|request, n| {
            let mut response = token_server("s")(request, n);
            if response.status() == 200 {
                response.headers_mut().insert("Connection", "close".parse().unwrap());
            }
            response
        }),
        None,
    )
    .await;
    let starts = Arc::new(AtomicUsize::new(0));
    let auth = TokenAuth { secret: "s".into(), starts: starts.clone(), ..TokenAuth::default() };
    let mut transport =
        HttpTransport::new(http_uri(server.addr), options(TlsOptions::default()), Box::new(auth)).unwrap();
    for _ in 0..3 {
        assert_eq!(transport.send(Bytes::from_static(b"x")).await.unwrap().status, 200);
    }
    assert!(starts.load(Ordering::SeqCst) >= 3, "each new connection restarts authentication");
}

#[tokio::test]
async fn oversized_responses_are_refused() {
    let server = serve(
        Arc::new(|_, _| HttpResponse::builder().status(200).body(Full::new(Bytes::from(vec![b'x'; 1 << 20]))).unwrap()),
        None,
    )
    .await;
    let mut small = options(TlsOptions::default());
    small.max_response_bytes = 64 << 10;
    let mut transport = HttpTransport::new(http_uri(server.addr), small, Box::new(Anonymous)).unwrap();
    assert!(matches!(
        transport.send(Bytes::from_static(b"x")).await,
        Err(TransportError::ResponseTooLarge { limit: 65536 })
    ));
}

#[tokio::test]
async fn https_goes_through_a_connect_proxy() {
    let pki = make_pki(&["localhost"]);
    let server = serve(echo(), Some(pki.server.clone())).await;
    let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = proxy.local_addr().unwrap();
    let tunnels = Arc::new(Mutex::new(Vec::new()));
    let log = tunnels.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = proxy.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let line = String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_owned();
                log.lock().unwrap().push(line.clone());
                let target = line.split_whitespace().nth(1).unwrap_or_default().replace("localhost", "127.0.0.1");
                let Ok(mut upstream) = TcpStream::connect(target).await else { return };
                let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    let mut through_proxy = options(trusting(&pki.ca_pem));
    through_proxy.proxy = Some(EndpointUri::from_connection_uri(&format!("http://{proxy_addr}/")).unwrap());
    let uri = EndpointUri::from_connection_uri(&format!("https://localhost:{}/wsman", server.addr.port())).unwrap();
    let mut transport = HttpTransport::new(uri, through_proxy, Box::new(Anonymous)).unwrap();
    assert_eq!(transport.send(Bytes::from_static(b"tunnelled")).await.unwrap().body, Bytes::from_static(b"tunnelled"));
    assert_eq!(tunnels.lock().unwrap().as_slice(), [format!("CONNECT localhost:{} HTTP/1.1", server.addr.port())]);
}
