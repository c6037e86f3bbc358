//! The listeners: HTTP/1.1 over TCP (5985) and over TLS (5986) in front of an [`Endpoint`], built with
//! [`Server::builder`].
//!
//! Each TCP connection has its own authentication state ([`Connection`]): NTLM and CredSSP authenticate the
//! connection, not the request. A complete NTLM context outlives its connection: a client that goes on sealing
//! with it on a new connection is recognised by the endpoint (see [`Endpoint`]). A connection that breaks
//! mid-request (client gone) only ends its own task; the shells it used stay, as on Windows.

use std::convert::Infallible;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use pssession_auth::client_cert::CertificateMapping;
use pssession_auth::{ChannelBindingPolicy, Keytab, UserDatabase};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::config::ServiceConfig;
use crate::endpoint::{AuthSettings, Connection, Endpoint, HttpReply, HttpRequest};
use crate::plugin::Plugin;
use crate::service::Service;
use crate::users::Users;

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// How long a connection may sit without a complete request head (idle keep-alive included) before it is closed:
/// http.sys's default idle connection timeout under WinRM, 2 minutes. Clients that seal with NTLM go on with the
/// same context on the new connection (the endpoint retains it); others re-authenticate.
pub const IDLE_CONNECTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Why the server could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerError {
    /// A listener could not bind.
    Bind {
        /// The address.
        address: SocketAddr,
        /// The cause.
        reason: String,
    },
    /// The TLS configuration is unusable (certificate, key, client CAs).
    Tls(String),
    /// HTTPS was asked for without a certificate.
    NoCertificate,
    /// No listener was enabled.
    NoListener,
    /// The keytab could not be read or holds no usable key.
    Keytab(String),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Bind { address, reason } => write!(f, "cannot listen on {address}: {reason}"),
            ServerError::Tls(reason) => write!(f, "TLS configuration: {reason}"),
            ServerError::NoCertificate => f.write_str("HTTPS needs a certificate and key"),
            ServerError::NoListener => f.write_str("neither the HTTP nor the HTTPS listener is enabled"),
            ServerError::Keytab(reason) => write!(f, "keytab: {reason}"),
        }
    }
}

impl std::error::Error for ServerError {}

/// Entry point of the builder.
#[derive(Debug, Clone, Copy)]
pub struct Server;

impl Server {
    /// A builder: no listener, no user, no plugin, default [`ServiceConfig`], loopback address.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            config: ServiceConfig::default(),
            users: UserDatabase::new(),
            plugins: Vec::new(),
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            http_port: None,
            https_port: None,
            certificate: None,
            client_roots: Vec::new(),
            certificate_mapping: None,
            credssp: false,
            channel_binding_policy: ChannelBindingPolicy::WhenSupported,
            keytab: None,
            idle_connection_timeout: IDLE_CONNECTION_TIMEOUT,
        }
    }
}

/// Configures and starts a server.
pub struct ServerBuilder {
    config: ServiceConfig,
    users: UserDatabase,
    plugins: Vec<(String, Arc<dyn Plugin>)>,
    address: IpAddr,
    http_port: Option<u16>,
    https_port: Option<u16>,
    certificate: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    client_roots: Vec<CertificateDer<'static>>,
    certificate_mapping: Option<CertificateMapping>,
    credssp: bool,
    channel_binding_policy: ChannelBindingPolicy,
    keytab: Option<Arc<Keytab>>,
    idle_connection_timeout: std::time::Duration,
}

impl fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("config", &self.config)
            .field("address", &self.address)
            .field("http_port", &self.http_port)
            .field("https_port", &self.https_port)
            .field("plugins", &self.plugins.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl ServerBuilder {
    /// The service settings (AllowUnencrypted, timeouts, envelope size, …).
    pub fn config(mut self, config: ServiceConfig) -> Self {
        self.config = config;
        self
    }

    /// Adds the accounts of a users file.
    pub fn users(mut self, users: &Users) -> Self {
        for u in users.iter() {
            self.users.add(u.domain(), u.name(), u.password());
        }
        self
    }

    /// Adds one account (`DOMAIN\user` or `user`).
    pub fn user(mut self, name: &str, password: &str) -> Self {
        match name.split_once('\\') {
            Some((domain, user)) => self.users.add(Some(domain), user, password),
            None => self.users.add(None, name, password),
        };
        self
    }

    /// Registers `plugin` for the ResourceURI `http://schemas.microsoft.com/powershell/<name>`.
    pub fn plugin(mut self, name: &str, plugin: Arc<dyn Plugin>) -> Self {
        self.plugins.push((name.to_owned(), plugin));
        self
    }

    /// The address both listeners bind (default 127.0.0.1).
    pub fn address(mut self, address: IpAddr) -> Self {
        self.address = address;
        self
    }

    /// Enables the HTTP listener on `port`; `0` binds an ephemeral port (see [`RunningServer::http_address`]).
    pub fn http(mut self, port: u16) -> Self {
        self.http_port = Some(port);
        self
    }

    /// Enables the HTTPS listener on `port` (needs [`ServerBuilder::certificate_pem`]); `0` binds an ephemeral
    /// port.
    pub fn https(mut self, port: u16) -> Self {
        self.https_port = Some(port);
        self
    }

    /// The HTTPS certificate chain (leaf first) and private key, PEM.
    pub fn certificate_pem(mut self, certificate: &[u8], key: &[u8]) -> Result<Self, ServerError> {
        let chain = CertificateDer::pem_slice_iter(certificate)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ServerError::Tls(format!("certificate: {e}")))?;
        if chain.is_empty() {
            return Err(ServerError::Tls("certificate: no CERTIFICATE block".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| ServerError::Tls(format!("key: {e}")))?;
        self.certificate = Some((chain, key));
        Ok(self)
    }

    /// Accepts client certificates issued by the CAs in `roots_pem` on HTTPS, mapped to users by `mapping`.
    /// Clients without a certificate can still log on with a password.
    pub fn client_certificates(mut self, roots_pem: &[u8], mapping: CertificateMapping) -> Result<Self, ServerError> {
        for c in CertificateDer::pem_slice_iter(roots_pem) {
            self.client_roots.push(c.map_err(|e| ServerError::Tls(format!("client CA: {e}")))?);
        }
        self.certificate_mapping = Some(mapping);
        Ok(self)
    }

    /// Offers CredSSP (with the HTTPS certificate inside CredSSP's TLS session). Off by default.
    pub fn credssp(mut self, enabled: bool) -> Self {
        self.credssp = enabled;
        self
    }

    /// Accepts Kerberos (inside Negotiate, and the `Kerberos` scheme with `HTTP-Kerberos-session-encrypted`
    /// message encryption) for tickets to any service principal of `keytab`. Which principals may log on: see
    /// [`pssession_auth::NegotiateServer`] — `user@REALM` of a keytab realm whose `user` is listed among the users.
    pub fn keytab(mut self, keytab: Keytab) -> Self {
        self.keytab = Some(Arc::new(keytab));
        self
    }

    /// [`ServerBuilder::keytab`] from an MIT keytab file (`FILE:` prefix optional).
    pub fn keytab_file(self, path: &str) -> Result<Self, ServerError> {
        let keytab = Keytab::read(path).map_err(|e| ServerError::Keytab(format!("{path}: {e}")))?;
        if keytab.entries().is_empty() {
            return Err(ServerError::Keytab(format!("{path}: no AES keys (only AES128/AES256 are supported)")));
        }
        Ok(self.keytab(keytab))
    }

    /// How long a connection may wait for the next request head before it is closed (default
    /// [`IDLE_CONNECTION_TIMEOUT`], http.sys's 2 minutes).
    pub fn idle_connection_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.idle_connection_timeout = timeout;
        self
    }

    /// How NTLM channel bindings are checked on HTTPS (default: when the client sends them).
    pub fn channel_binding_policy(mut self, policy: ChannelBindingPolicy) -> Self {
        self.channel_binding_policy = policy;
        self
    }

    fn tls_config(&self) -> Result<Option<Arc<ServerConfig>>, ServerError> {
        let Some((chain, key)) = &self.certificate else { return Ok(None) };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ServerError::Tls(e.to_string()))?;
        let builder = if self.client_roots.is_empty() {
            builder.with_no_client_auth()
        } else {
            let mut roots = rustls::RootCertStore::empty();
            for c in &self.client_roots {
                roots.add(c.clone()).map_err(|e| ServerError::Tls(format!("client CA: {e}")))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| ServerError::Tls(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        };
        let mut config =
            builder.with_single_cert(chain.clone(), key.clone_key()).map_err(|e| ServerError::Tls(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(Arc::new(config)))
    }

    /// Binds the enabled listeners and starts serving.
    pub async fn start(self) -> Result<RunningServer, ServerError> {
        if self.http_port.is_none() && self.https_port.is_none() {
            return Err(ServerError::NoListener);
        }
        let tls = self.tls_config()?;
        if self.https_port.is_some() && tls.is_none() {
            return Err(ServerError::NoCertificate);
        }
        let mut auth = AuthSettings::new(Arc::new(self.users.clone()));
        auth.channel_binding_policy = self.channel_binding_policy;
        if self.credssp
            && let Some((chain, key)) = &self.certificate
        {
            auth.credssp = Some((chain.clone(), Arc::new(key.clone_key())));
        }
        auth.certificates = self.certificate_mapping.clone().map(Arc::new);
        auth.kerberos = self.keytab.clone();
        let service = Service::new(self.config.clone(), self.plugins.clone());
        let endpoint = Endpoint::new(service.clone(), auth);
        let leaf = self.certificate.as_ref().map(|(chain, _)| chain[0].to_vec());

        let bind = |port: u16| {
            let address = SocketAddr::new(self.address, port);
            async move { TcpListener::bind(address).await.map_err(|e| ServerError::Bind { address, reason: e.to_string() }) }
        };
        let http = match self.http_port {
            Some(p) => Some(bind(p).await?),
            None => None,
        };
        let https = match self.https_port {
            Some(p) => Some(bind(p).await?),
            None => None,
        };
        let (shutdown, watch_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut http_address = None;
        let mut https_address = None;
        if let Some(l) = http {
            http_address = l.local_addr().ok();
            tasks.spawn(accept_loop(
                l,
                None,
                endpoint.clone(),
                self.certificate_mapping.clone(),
                None,
                self.idle_connection_timeout,
                watch_rx.clone(),
            ));
        }
        if let (Some(l), Some(tls)) = (https, tls) {
            https_address = l.local_addr().ok();
            let acceptor = TlsAcceptor::from(tls);
            tasks.spawn(accept_loop(
                l,
                Some(acceptor),
                endpoint.clone(),
                self.certificate_mapping.clone(),
                leaf,
                self.idle_connection_timeout,
                watch_rx.clone(),
            ));
        }
        Ok(RunningServer { http_address, https_address, service, shutdown, tasks })
    }
}

/// A started server.
pub struct RunningServer {
    http_address: Option<SocketAddr>,
    https_address: Option<SocketAddr>,
    service: Service,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningServer")
            .field("http_address", &self.http_address)
            .field("https_address", &self.https_address)
            .finish_non_exhaustive()
    }
}

fn url(scheme: &str, address: SocketAddr, path: &str) -> String {
    match address.ip() {
        IpAddr::V6(ip) => format!("{scheme}://[{ip}]:{}{path}", address.port()),
        IpAddr::V4(ip) => format!("{scheme}://{ip}:{}{path}", address.port()),
    }
}

impl RunningServer {
    /// The bound HTTP address, if the HTTP listener is enabled.
    pub fn http_address(&self) -> Option<SocketAddr> {
        self.http_address
    }

    /// The bound HTTPS address, if the HTTPS listener is enabled.
    pub fn https_address(&self) -> Option<SocketAddr> {
        self.https_address
    }

    /// `http://ADDR:PORT/wsman`, if enabled.
    pub fn http_url(&self) -> Option<String> {
        self.http_address.map(|a| url("http", a, &self.service.config().path))
    }

    /// `https://ADDR:PORT/wsman`, if enabled.
    pub fn https_url(&self) -> Option<String> {
        self.https_address.map(|a| url("https", a, &self.service.config().path))
    }

    /// The WinRM service (shell counts, settings).
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// Stops accepting, ends every connection and deletes every shell (each plugin shell is closed).
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
        self.service.close_all();
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    endpoint: Endpoint,
    mapping: Option<CertificateMapping>,
    leaf: Option<Vec<u8>>,
    idle_timeout: std::time::Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let endpoint = endpoint.clone();
                let tls = tls.clone();
                let mapping = mapping.clone();
                let leaf = leaf.clone();
                connections.spawn(async move {
                    serve_connection(stream, peer, tls, endpoint, mapping, leaf, idle_timeout).await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    endpoint: Endpoint,
    mapping: Option<CertificateMapping>,
    leaf: Option<Vec<u8>>,
    idle_timeout: std::time::Duration,
) {
    let _ = stream.set_nodelay(true);
    let peer_ip = peer.ip().to_string();
    match tls {
        None => serve_http(TokioIo::new(stream), Connection::plain(&peer_ip), endpoint, idle_timeout).await,
        Some(acceptor) => {
            let Ok(Ok(tls_stream)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await else {
                return;
            };
            let identity = tls_stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .zip(mapping.as_ref())
                .and_then(|(cert, mapping)| mapping.map(cert).ok())
                .map(|m| m.identity);
            let connection = Connection::tls(&peer_ip, leaf.as_deref(), identity);
            serve_http(TokioIo::new(tls_stream), connection, endpoint, idle_timeout).await;
        }
    }
}

async fn serve_http<I>(io: I, connection: Connection, endpoint: Endpoint, idle_timeout: std::time::Duration)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let connection = Arc::new(tokio::sync::Mutex::new(connection));
    let max_body = endpoint.service().config().max_envelope_size() * 2 + 64 * 1024;
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let endpoint = endpoint.clone();
        let connection = connection.clone();
        async move {
            let reply = handle(&endpoint, &connection, request, max_body).await;
            Ok::<_, Infallible>(to_response(reply))
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(idle_timeout);
    if let Err(e) = http.serve_connection(io, service).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

async fn handle(
    endpoint: &Endpoint,
    connection: &tokio::sync::Mutex<Connection>,
    request: hyper::Request<Incoming>,
    max_body: usize,
) -> HttpReply {
    let (parts, body) = request.into_parts();
    // A declared Content-Length beyond the limit is refused from the headers, before any of the body is read.
    if hyper::body::Body::size_hint(&body).lower() > max_body as u64 {
        return HttpReply { status: 413, headers: Vec::new(), body: Vec::new() };
    }
    let body = match Limited::new(body, max_body).collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => return HttpReply { status: 413, headers: Vec::new(), body: Vec::new() },
    };
    let headers = parts
        .headers
        .iter()
        .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str().to_owned(), v.to_owned())))
        .collect();
    let target = parts.uri.path_and_query().map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
    let request = HttpRequest { method: parts.method.as_str().to_owned(), target, headers, body };
    let mut connection = connection.lock().await;
    endpoint.handle(&mut connection, request).await
}

fn to_response(reply: HttpReply) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() =
        http::StatusCode::from_u16(reply.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in reply.headers {
        if let (Ok(n), Ok(v)) = (http::HeaderName::from_bytes(name.as_bytes()), http::HeaderValue::from_str(&value)) {
            response.headers_mut().append(n, v);
        }
    }
    response
}
