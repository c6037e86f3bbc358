//! The HTTP(S) client: one keep-alive connection per authenticated context, as NTLM, Kerberos with encryption and
//! CredSSP bind to the connection they were established on.
//!
//! It posts envelopes, drives the mechanism through `401` challenges, encrypts and decrypts bodies when the
//! mechanism asks for it, follows redirects only when allowed (at most `max_redirections` times, never from HTTPS
//! to HTTP), reconnects and re-authenticates when the server closed the connection before a request was sent, and
//! bounds every wait: connecting (OpenTimeout), and each request (OperationTimeout plus a grace period).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, LOCATION, USER_AGENT, WWW_AUTHENTICATE};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::auth::{AuthStepError, ConnectionInfo, HttpAuthenticator};
use super::tls::{TlsConfigError, TlsOptions, client_config};
use super::uri::{EndpointUri, UriError};

/// The `Content-Type` of a clear SOAP 1.2 envelope.
pub const SOAP_CONTENT_TYPE: &str = "application/soap+xml;charset=UTF-8";

/// Challenge rounds allowed on one request before giving up (NTLM needs 2, CredSSP 5).
const MAX_AUTH_ROUNDS: usize = 10;

/// Transport settings. The defaults are PowerShell's session option defaults.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TransportOptions {
    /// How the server is verified on HTTPS.
    pub tls: TlsOptions,
    /// Time to establish a TCP (and TLS, and proxy) connection: PowerShell's OpenTimeout, 3 minutes.
    pub connect_timeout: Duration,
    /// Time to wait for a response: the WS-Man OperationTimeout (3 minutes) plus a grace period, since the server
    /// answers a timed-out Receive only after that long.
    pub request_timeout: Duration,
    /// Follow HTTP redirects (`-AllowRedirection`). Off by default: a redirect is then an error naming the target.
    pub allow_redirection: bool,
    /// Redirects followed per request at most (MaximumConnectionRedirectionCount, default 5); `None` = unlimited.
    pub max_redirections: Option<u32>,
    /// An HTTP proxy (`http://host:port`): HTTPS goes through a CONNECT tunnel, HTTP in absolute form.
    pub proxy: Option<EndpointUri>,
    /// Largest response body accepted; a larger one is an error, not an allocation.
    pub max_response_bytes: usize,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            tls: TlsOptions::default(),
            connect_timeout: Duration::from_secs(180),
            request_timeout: Duration::from_secs(180 + 30),
            allow_redirection: false,
            max_redirections: Some(5),
            proxy: None,
            max_response_bytes: 16 << 20,
            user_agent: concat!("pssession/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// A response: the HTTP status and the (decrypted) SOAP envelope. `500` carries a WS-Man fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status code: 200 for success, 500 for a fault.
    pub status: u16,
    /// The envelope.
    pub body: Bytes,
}

/// Why an exchange with the endpoint failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum TransportError {
    /// The endpoint address is not usable.
    Uri(UriError),
    /// TLS could not be configured.
    TlsConfig(TlsConfigError),
    /// TCP connection (or proxy tunnel) failed.
    Connect {
        /// `host:port`.
        target: String,
        /// The cause.
        reason: String,
    },
    /// The TLS handshake failed, typically because the certificate did not verify.
    Tls {
        /// `host:port`.
        target: String,
        /// rustls's reason.
        reason: String,
    },
    /// No connection within `connect_timeout`.
    ConnectTimeout {
        /// `host:port`.
        target: String,
        /// The limit.
        timeout: Duration,
    },
    /// No response within `request_timeout`.
    RequestTimeout {
        /// The limit.
        timeout: Duration,
    },
    /// The connection failed during the exchange (closed mid-response, reset, malformed HTTP).
    Http(String),
    /// The server refused the credentials.
    AuthenticationFailed {
        /// The mechanism used.
        scheme: String,
        /// What the server offered in `WWW-Authenticate`.
        offered: Vec<String>,
    },
    /// The mechanism failed (bad token, policy such as Basic over HTTP, encryption failure).
    Auth(AuthStepError),
    /// The server redirected and redirection is not allowed.
    RedirectRefused {
        /// The `Location` it redirected to.
        location: String,
    },
    /// More redirects than allowed.
    TooManyRedirects {
        /// The limit.
        limit: u32,
        /// The last `Location`.
        location: String,
    },
    /// A redirect would move credentials from HTTPS to plain HTTP, or its `Location` is unusable.
    RedirectInvalid {
        /// The `Location`.
        location: String,
        /// Why it was refused.
        reason: String,
    },
    /// The response body exceeded `max_response_bytes`.
    ResponseTooLarge {
        /// The limit.
        limit: usize,
    },
    /// An HTTP status other than 200, 401, 500 and redirects.
    UnexpectedStatus {
        /// The status.
        status: u16,
        /// The beginning of the body, for diagnosis.
        body: String,
    },
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Uri(e) => e.fmt(f),
            TransportError::TlsConfig(e) => e.fmt(f),
            TransportError::Connect { target, reason } => write!(f, "cannot connect to {target}: {reason}"),
            TransportError::Tls { target, reason } => write!(f, "TLS handshake with {target} failed: {reason}"),
            TransportError::ConnectTimeout { target, timeout } => {
                write!(f, "connecting to {target} did not complete within {timeout:?}")
            }
            TransportError::RequestTimeout { timeout } => write!(f, "no response within {timeout:?}"),
            TransportError::Http(e) => write!(f, "HTTP exchange failed: {e}"),
            TransportError::AuthenticationFailed { scheme, offered } => write!(
                f,
                "the server rejected the credentials ({scheme} authentication); it offers: {}",
                if offered.is_empty() { "nothing".to_owned() } else { offered.join(", ") }
            ),
            TransportError::Auth(e) => write!(f, "authentication failed: {e}"),
            TransportError::RedirectRefused { location } => write!(
                f,
                "the server redirected the request to {location}; redirection is not allowed (use -AllowRedirection)"
            ),
            TransportError::TooManyRedirects { limit, location } => {
                write!(f, "more than {limit} redirections; the last one pointed to {location}")
            }
            TransportError::RedirectInvalid { location, reason } => {
                write!(f, "refused redirection to {location}: {reason}")
            }
            TransportError::ResponseTooLarge { limit } => write!(f, "response body larger than {limit} bytes"),
            TransportError::UnexpectedStatus { status, body } => write!(f, "unexpected HTTP status {status}: {body}"),
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TransportError::Auth(e) => Some(e),
            _ => None,
        }
    }
}

impl From<AuthStepError> for TransportError {
    fn from(e: AuthStepError) -> Self {
        TransportError::Auth(e)
    }
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// An open, possibly authenticated connection.
struct Connection {
    sender: SendRequest<Full<Bytes>>,
    info: ConnectionInfo,
    /// The `Authorization` value the mechanism chose for the first request.
    first_authorization: Option<Option<String>>,
}

/// Posts envelopes to one endpoint. See the [module documentation](self).
pub struct HttpTransport {
    endpoint: EndpointUri,
    options: TransportOptions,
    tls_config: Option<Arc<ClientConfig>>,
    auth: Box<dyn HttpAuthenticator>,
    connection: Option<Connection>,
}

impl fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransport")
            .field("endpoint", &self.endpoint.to_string())
            .field("scheme", &self.auth.scheme())
            .field("connected", &self.connection.is_some())
            .finish()
    }
}

/// What to do after one HTTP round trip.
enum Next {
    Done(Response),
    Redirect(String),
    /// The connection was closed before the request could be sent: reconnect and start over.
    Reconnect,
}

impl HttpTransport {
    /// A transport to `endpoint` authenticating with `auth`. No connection is made until the first request.
    pub fn new(
        endpoint: EndpointUri,
        options: TransportOptions,
        auth: Box<dyn HttpAuthenticator>,
    ) -> Result<Self, TransportError> {
        let tls_config = if endpoint.is_tls() || options.proxy.is_some() {
            Some(client_config(&options.tls).map_err(TransportError::TlsConfig)?)
        } else {
            None
        };
        Ok(HttpTransport { endpoint, options, tls_config, auth, connection: None })
    }

    /// The endpoint requests go to (after any redirection that was followed).
    pub fn endpoint(&self) -> &EndpointUri {
        &self.endpoint
    }

    /// Whether a connection is open.
    pub fn is_connected(&self) -> bool {
        self.connection.as_ref().is_some_and(|c| !c.sender.is_closed())
    }

    /// Closes the connection; the next request opens and authenticates a new one.
    pub fn disconnect(&mut self) {
        self.connection = None;
    }

    /// Posts `envelope` and returns the server's answer (200 success or 500 fault).
    pub async fn send(&mut self, envelope: Bytes) -> Result<Response, TransportError> {
        let mut redirects = 0u32;
        let mut reconnects = 0;
        loop {
            match self.exchange(&envelope).await? {
                Next::Done(response) => return Ok(response),
                Next::Reconnect if reconnects == 0 => {
                    reconnects += 1;
                    self.connection = None;
                }
                Next::Reconnect => return Err(TransportError::Http("the server keeps closing the connection".into())),
                Next::Redirect(location) => {
                    redirects += 1;
                    self.redirect(&location, redirects)?;
                }
            }
        }
    }

    fn redirect(&mut self, location: &str, count: u32) -> Result<(), TransportError> {
        if !self.options.allow_redirection {
            return Err(TransportError::RedirectRefused { location: location.to_owned() });
        }
        if let Some(limit) = self.options.max_redirections
            && count > limit
        {
            return Err(TransportError::TooManyRedirects { limit, location: location.to_owned() });
        }
        let invalid =
            |reason: &str| TransportError::RedirectInvalid { location: location.to_owned(), reason: reason.to_owned() };
        let uri: Uri = location.parse().map_err(|_| invalid("not a URI"))?;
        let target = if uri.scheme().is_some() {
            EndpointUri::from_absolute(uri).map_err(|e| invalid(&e.to_string()))?
        } else {
            let absolute = format!(
                "{}://{}{}",
                if self.endpoint.is_tls() { "https" } else { "http" },
                self.endpoint.authority(),
                uri.path_and_query().map_or("/", |pq| pq.as_str())
            );
            EndpointUri::from_connection_uri(&absolute).map_err(|e| invalid(&e.to_string()))?
        };
        if self.endpoint.is_tls() && !target.is_tls() {
            return Err(invalid("it would send credentials from HTTPS to unencrypted HTTP"));
        }
        if target.is_tls() && self.tls_config.is_none() {
            self.tls_config = Some(client_config(&self.options.tls).map_err(TransportError::TlsConfig)?);
        }
        self.endpoint = target;
        self.connection = None;
        Ok(())
    }

    /// One request, including its authentication rounds, on the current connection.
    async fn exchange(&mut self, envelope: &Bytes) -> Result<Next, TransportError> {
        if !self.is_connected() {
            self.connection = None;
            let connection = self.connect().await?;
            self.connection = Some(connection);
        }
        let Some(connection) = self.connection.as_mut() else {
            return Err(TransportError::Http("no connection".into()));
        };
        let mut authorization = match connection.first_authorization.take() {
            Some(first) => first,
            None => self.auth.authorization()?,
        };
        for _ in 0..MAX_AUTH_ROUNDS {
            let established = self.auth.is_established();
            let (content_type, body) = match self.auth.encryption() {
                Some(encryption) if established => encryption.encrypt(envelope)?,
                // Until a mechanism that encrypts is established, authentication rounds carry no envelope.
                Some(_) => (SOAP_CONTENT_TYPE.to_owned(), Bytes::new()),
                None => (SOAP_CONTENT_TYPE.to_owned(), envelope.clone()),
            };
            let sent_envelope = !body.is_empty() || envelope.is_empty();
            let request = self.build_request(content_type, body, authorization.as_deref())?;
            let Some(connection) = self.connection.as_mut() else {
                return Err(TransportError::Http("no connection".into()));
            };
            // hyper takes a request only once the connection task has finished the previous exchange and asks
            // for the next one; on a busy machine that task may not have run yet, so wait for it rather than
            // mistaking "not ready" for a closed connection.
            let sending = async {
                match connection.sender.ready().await {
                    Ok(()) => Some(connection.sender.try_send_request(request).await),
                    Err(_) => None,
                }
            };
            let response = match tokio::time::timeout(self.options.request_timeout, sending).await {
                Err(_) => {
                    self.connection = None;
                    return Err(TransportError::RequestTimeout { timeout: self.options.request_timeout });
                }
                // Closed by the server before this request went out (a keep-alive connection it timed out).
                Ok(None) => return Ok(Next::Reconnect),
                Ok(Some(Err(e))) if e.message().is_some() => return Ok(Next::Reconnect),
                Ok(Some(Err(e))) => {
                    self.connection = None;
                    return Err(TransportError::Http(e.into_error().to_string()));
                }
                Ok(Some(Ok(response))) => response,
            };
            let status = response.status();
            // Header values are never logged: they carry tokens and, for Basic, the password.
            tracing::debug!(
                endpoint = %self.endpoint,
                scheme = self.auth.scheme(),
                status = status.as_u16(),
                sent_envelope,
                "WS-Man HTTP round trip"
            );
            let challenges: Vec<String> = response
                .headers()
                .get_all(WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_owned))
                .collect();
            let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let content_type =
                response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            let body = self.read_body(response.into_body()).await?;

            if status == StatusCode::UNAUTHORIZED {
                match self.auth.challenge(status.as_u16(), &challenges)? {
                    Some(next) => {
                        authorization = Some(next);
                        continue;
                    }
                    None => {
                        self.connection = None;
                        return Err(TransportError::AuthenticationFailed {
                            scheme: self.auth.scheme().to_owned(),
                            offered: challenges,
                        });
                    }
                }
            }
            if status.is_redirection() {
                let location = location.ok_or_else(|| TransportError::UnexpectedStatus {
                    status: status.as_u16(),
                    body: "redirect without a Location header".into(),
                })?;
                return Ok(Next::Redirect(location));
            }
            if !challenges.is_empty() {
                // A final token on success (mutual authentication); the mechanism checks it.
                self.auth.challenge(status.as_u16(), &challenges)?;
            }
            if !sent_envelope {
                // The authentication round that established encryption carried no envelope: send it now, sealed.
                authorization = self.auth.authorization()?;
                continue;
            }
            let body = match self.auth.encryption() {
                Some(encryption) if content_type.starts_with("multipart/") => {
                    encryption.decrypt(&content_type, body)?
                }
                _ => body,
            };
            return match status.as_u16() {
                200 | 500 => Ok(Next::Done(Response { status: status.as_u16(), body })),
                other => Err(TransportError::UnexpectedStatus {
                    status: other,
                    body: String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
                }),
            };
        }
        self.connection = None;
        Err(TransportError::AuthenticationFailed { scheme: self.auth.scheme().to_owned(), offered: Vec::new() })
    }

    fn build_request(
        &self,
        content_type: String,
        body: Bytes,
        authorization: Option<&str>,
    ) -> Result<Request<Full<Bytes>>, TransportError> {
        // Through a plain-HTTP proxy the request line carries the absolute URI.
        let target = if self.options.proxy.is_some() && !self.endpoint.is_tls() {
            self.endpoint.uri().to_string()
        } else {
            self.endpoint.path_and_query().to_owned()
        };
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(target)
            .header(HOST, self.endpoint.authority())
            .header(USER_AGENT, &self.options.user_agent)
            .header(CONTENT_TYPE, content_type)
            .header(CONTENT_LENGTH, body.len());
        if let Some(value) = authorization {
            builder = builder.header(AUTHORIZATION, value);
        }
        builder.body(Full::new(body)).map_err(|e| TransportError::Http(e.to_string()))
    }

    async fn read_body(&mut self, body: hyper::body::Incoming) -> Result<Bytes, TransportError> {
        let limit = self.options.max_response_bytes;
        // A declared Content-Length beyond the limit is refused from the headers, without waiting for the body.
        if hyper::body::Body::size_hint(&body).lower() > limit as u64 {
            self.connection = None;
            return Err(TransportError::ResponseTooLarge { limit });
        }
        match tokio::time::timeout(self.options.request_timeout, Limited::new(body, limit).collect()).await {
            Err(_) => {
                self.connection = None;
                Err(TransportError::RequestTimeout { timeout: self.options.request_timeout })
            }
            Ok(Ok(collected)) => Ok(collected.to_bytes()),
            Ok(Err(e)) => {
                self.connection = None;
                if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                    Err(TransportError::ResponseTooLarge { limit })
                } else {
                    Err(TransportError::Http(e.to_string()))
                }
            }
        }
    }

    /// Opens a connection (through the proxy, with TLS when needed) and starts authentication on it.
    async fn connect(&mut self) -> Result<Connection, TransportError> {
        let target = self.endpoint.authority();
        let timeout = self.options.connect_timeout;
        let (io, peer_certificate) = tokio::time::timeout(timeout, self.open_stream())
            .await
            .map_err(|_| TransportError::ConnectTimeout { target: target.clone(), timeout })??;
        let (sender, driver) = http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| TransportError::Connect { target, reason: e.to_string() })?;
        // The connection task ends when the sender is dropped or the server closes the socket.
        tokio::spawn(async move {
            let _ = driver.await;
        });
        tracing::debug!(endpoint = %self.endpoint, tls = self.endpoint.is_tls(), "connection opened");
        let info = ConnectionInfo { endpoint: self.endpoint.clone(), peer_certificate };
        let first = self.auth.start(&info)?;
        Ok(Connection { sender, info, first_authorization: Some(first) })
    }

    async fn open_stream(
        &self,
    ) -> Result<(Box<dyn Io>, Option<rustls::pki_types::CertificateDer<'static>>), TransportError> {
        let target = self.endpoint.authority();
        let (host, port) = match &self.options.proxy {
            Some(proxy) => (proxy.host().to_owned(), proxy.port()),
            None => (self.endpoint.host().to_owned(), self.endpoint.port()),
        };
        let mut tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| TransportError::Connect { target: format!("{host}:{port}"), reason: e.to_string() })?;
        let _ = tcp.set_nodelay(true);
        if self.options.proxy.is_some() && self.endpoint.is_tls() {
            tunnel(&mut tcp, &target).await?;
        }
        if !self.endpoint.is_tls() {
            return Ok((Box::new(tcp), None));
        }
        let config = self
            .tls_config
            .clone()
            .ok_or_else(|| TransportError::Tls { target: target.clone(), reason: "TLS not configured".into() })?;
        let server_name = ServerName::try_from(self.endpoint.host().to_owned())
            .map_err(|e| TransportError::Tls { target: target.clone(), reason: e.to_string() })?;
        let tls = TlsConnector::from(config)
            .connect(server_name, tcp)
            .await
            .map_err(|e| TransportError::Tls { target: target.clone(), reason: e.to_string() })?;
        let peer = tls.get_ref().1.peer_certificates().and_then(|chain| chain.first()).map(|c| c.clone().into_owned());
        Ok((Box::new(tls), peer))
    }

    /// The mechanism driving authentication.
    pub fn authenticator(&mut self) -> &mut dyn HttpAuthenticator {
        self.auth.as_mut()
    }

    /// The open connection's details, if connected.
    pub fn connection_info(&self) -> Option<&ConnectionInfo> {
        self.connection.as_ref().map(|c| &c.info)
    }
}

/// Opens a CONNECT tunnel through an HTTP proxy.
async fn tunnel(stream: &mut TcpStream, target: &str) -> Result<(), TransportError> {
    let failed = |reason: String| TransportError::Connect { target: target.to_owned(), reason };
    let request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.map_err(|e| failed(format!("proxy: {e}")))?;
    // Read the proxy's answer up to the blank line, bounded.
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 8192 {
            return Err(failed("proxy: response header too long".into()));
        }
        let n = stream.read(&mut byte).await.map_err(|e| failed(format!("proxy: {e}")))?;
        if n == 0 {
            return Err(failed("proxy closed the connection".into()));
        }
        head.push(byte[0]);
    }
    let status_line = String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_owned();
    let ok = status_line.split_whitespace().nth(1).is_some_and(|code| code.starts_with('2'));
    if ok { Ok(()) } else { Err(failed(format!("proxy refused the tunnel: {status_line}"))) }
}
