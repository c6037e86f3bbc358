//! The HTTP face of the service: path and method checks, authentication (per TCP connection), WinRM message
//! encryption (`multipart/encrypted`) of bodies both ways, and the AllowUnencrypted policy.
//!
//! Like [`crate::service`], this is bytes in, bytes out: an [`HttpRequest`] and the [`Connection`] state it
//! arrived on give an [`HttpReply`]. [`crate::listener`] runs it over TCP and TLS.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pssession_auth::client_cert::{CertificateMapping, MUTUAL_AUTHORIZATION};
use pssession_auth::credssp::CredsspServer;
use pssession_auth::winrm_sealing::Sealer;
use pssession_auth::{
    AcceptStep, BasicServer, ChannelBindingPolicy, ChannelBindings, ClientIdentity, KerberosAcceptor, Keytab,
    NegotiateServer, ServerAuth, TransportSecurity, UserDatabase,
};
use pssession_wsman::envelope::Limits;
use pssession_wsman::fault::WsmanFault;
use pssession_wsman::identify::{self, IdentifyResponse, is_identify_request, profile};
use pssession_wsman::multipart::{self, EncryptionProtocol};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::time::Instant;

use crate::output::lock;
use crate::service::{Caller, EnvelopeReply, Service};

/// The `Content-Type` of SOAP bodies.
pub const SOAP_CONTENT_TYPE: &str = "application/soap+xml;charset=UTF-8";
/// `wsmid:ProductVendor` of the IdentifyResponse.
pub const PRODUCT_VENDOR: &str = "pssession";
/// `wsmid:ProductVersion` of the IdentifyResponse, in WinRM's format: WinRM 3.0's stack, no OS version (as
/// WinRM answers an unauthenticated Identify).
pub const PRODUCT_VERSION: &str = "OS: 0.0.0 SP: 0.0 Stack: 3.0";

/// An HTTP request as the endpoint sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `POST`, …
    pub method: String,
    /// The request target: path and query (`/wsman?PSVersion=7.4.10`).
    pub target: String,
    /// Header names and values (names compared case-insensitively).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// An HTTP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    /// The status code (200, 401, 500, …).
    pub status: u16,
    /// Headers to send (`Content-Type`, `WWW-Authenticate`, …; repeated names allowed).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpReply {
    fn empty(status: u16) -> Self {
        HttpReply { status, headers: Vec::new(), body: Vec::new() }
    }
}

/// Who may authenticate, and how.
#[derive(Clone)]
pub struct AuthSettings {
    /// Accounts for Basic, Negotiate/NTLM and CredSSP.
    pub users: Arc<UserDatabase>,
    /// The certificate chain and key CredSSP presents inside its own TLS session; `None` disables CredSSP.
    pub credssp: Option<(Vec<CertificateDer<'static>>, Arc<PrivateKeyDer<'static>>)>,
    /// Client certificates to users (HTTPS with a client certificate); `None` disables certificate logons.
    pub certificates: Option<Arc<CertificateMapping>>,
    /// How NTLM channel bindings are checked on HTTPS.
    pub channel_binding_policy: ChannelBindingPolicy,
    /// Kerberos with the service keys of this keytab; `None` disables Kerberos.
    pub kerberos: Option<Arc<Keytab>>,
}

impl fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSettings")
            .field("users", &self.users)
            .field("credssp", &self.credssp.is_some())
            .field("certificates", &self.certificates.is_some())
            .field("channel_binding_policy", &self.channel_binding_policy)
            .field("kerberos", &self.kerberos.is_some())
            .finish()
    }
}

impl AuthSettings {
    /// Password logons against `users`; no CredSSP, no certificates, relaxed channel bindings.
    pub fn new(users: Arc<UserDatabase>) -> Self {
        AuthSettings {
            users,
            credssp: None,
            certificates: None,
            channel_binding_policy: ChannelBindingPolicy::WhenSupported,
            kerberos: None,
        }
    }
}

/// A security context (Negotiate/NTLM, Kerberos or CredSSP) and the body protocol it seals with. Made on one
/// connection; a complete NTLM context is shared with the endpoint's [`RetainedContexts`] so that the client can
/// go on sealing with it on a later connection.
#[derive(Clone)]
struct Context {
    sealing: Arc<Mutex<Sealing>>,
    protocol: EncryptionProtocol,
}

/// The mechanism state behind a [`Context`], and when a body was last unsealed with it.
struct Sealing {
    auth: Box<dyn ServerAuth>,
    last_used: Instant,
}

impl Context {
    fn new(auth: Box<dyn ServerAuth>, protocol: EncryptionProtocol) -> Self {
        Context { sealing: Arc::new(Mutex::new(Sealing { auth, last_used: Instant::now() })), protocol }
    }

    fn is_complete(&self) -> bool {
        lock(&self.sealing).auth.is_complete()
    }

    fn identity(&self) -> Option<ClientIdentity> {
        lock(&self.sealing).auth.client_identity().cloned()
    }
}

/// The most retained contexts an endpoint keeps; beyond it, the least recently used is dropped. Each holds its
/// keys and at most about one envelope of RC4 keystream generated ahead per direction.
pub const MAX_RETAINED_CONTEXTS: usize = 128;

/// Complete NTLM sealing contexts, kept across connections. WinRM keeps a client's security context when its
/// keep-alive connection closes (http.sys closes idle ones after 2 minutes): pypsrp and pywinrm reconnect and
/// go on sealing bodies with the context they have, without an `Authorization` header. Such a body on a
/// connection without a context is matched to the retained context of the same client address that it verifies
/// against ([`ServerAuth::verifies_next_seal`], which changes nothing), so a wrong guess cannot put another
/// client's context out of step. A context is dropped once unused for the service's idle timeout (the longest
/// an idle shell lives) or when [`MAX_RETAINED_CONTEXTS`] newer ones are kept.
struct RetainedContexts {
    lifetime: Duration,
    entries: Mutex<Vec<Retained>>,
}

struct Retained {
    peer_ip: String,
    context: Context,
}

impl RetainedContexts {
    fn prune(&self, entries: &mut Vec<Retained>) {
        let now = Instant::now();
        entries.retain(|e| now.saturating_duration_since(lock(&e.context.sealing).last_used) < self.lifetime);
    }

    fn retain(&self, conn: &Connection, context: &Context) {
        let mut entries = lock(&self.entries);
        self.prune(&mut entries);
        if entries.len() >= MAX_RETAINED_CONTEXTS {
            let oldest = entries.iter().enumerate().min_by_key(|(_, e)| lock(&e.context.sealing).last_used);
            if let Some((at, _)) = oldest {
                entries.remove(at);
            }
        }
        entries.push(Retained { peer_ip: conn.peer_ip.clone(), context: context.clone() });
    }

    /// The retained context of `conn`'s client that the sealed `part` verifies against.
    fn find(&self, conn: &Connection, part: &multipart::EncryptedPart<'_>) -> Option<Context> {
        let mut entries = lock(&self.entries);
        self.prune(&mut entries);
        entries
            .iter()
            .filter(|e| e.peer_ip == conn.peer_ip && e.context.protocol == part.protocol)
            .find(|e| lock(&e.context.sealing).auth.verifies_next_seal(part.header, part.ciphertext))
            .map(|e| e.context.clone())
    }

    fn len(&self) -> usize {
        lock(&self.entries).len()
    }
}

/// The state of one TCP (or TLS) connection: the security context NTLM and CredSSP bind to it.
pub struct Connection {
    tls: bool,
    peer_ip: String,
    channel_bindings: Option<ChannelBindings>,
    certificate_identity: Option<ClientIdentity>,
    context: Option<Context>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("tls", &self.tls)
            .field("peer_ip", &self.peer_ip)
            .field("certificate_identity", &self.certificate_identity)
            .field("authenticated", &self.context.as_ref().is_some_and(Context::is_complete))
            .finish()
    }
}

impl Connection {
    /// A plain HTTP connection from `peer_ip`.
    pub fn plain(peer_ip: &str) -> Self {
        Connection {
            tls: false,
            peer_ip: peer_ip.to_owned(),
            channel_bindings: None,
            certificate_identity: None,
            context: None,
        }
    }

    /// An HTTPS connection from `peer_ip`; `server_leaf` is our certificate (for NTLM channel bindings) and
    /// `client_identity` the user a verified client certificate maps to, if any.
    pub fn tls(peer_ip: &str, server_leaf: Option<&[u8]>, client_identity: Option<ClientIdentity>) -> Self {
        Connection {
            tls: true,
            peer_ip: peer_ip.to_owned(),
            channel_bindings: server_leaf.and_then(|der| ChannelBindings::tls_server_end_point(der).ok()),
            certificate_identity: client_identity,
            context: None,
        }
    }
}

/// The request handler behind the listeners: [`Service`] plus authentication.
#[derive(Clone)]
pub struct Endpoint {
    service: Service,
    auth: AuthSettings,
    retained: Arc<RetainedContexts>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("service", &self.service)
            .field("auth", &self.auth)
            .field("retained_contexts", &self.retained.len())
            .finish()
    }
}

enum Authenticated {
    /// Go on with this identity; put the header (a final token) on the reply.
    Yes(ClientIdentity, Option<String>),
    /// Answer this now (401 rounds, refusals).
    Reply(HttpReply),
}

impl Endpoint {
    /// The endpoint of `service` with these logons.
    pub fn new(service: Service, auth: AuthSettings) -> Self {
        let lifetime = service.config().idle_timeout;
        let retained = Arc::new(RetainedContexts { lifetime, entries: Mutex::new(Vec::new()) });
        Endpoint { service, auth, retained }
    }

    /// How many sealing contexts are kept for clients that reconnect ([`MAX_RETAINED_CONTEXTS`] at most).
    pub fn retained_contexts(&self) -> usize {
        self.retained.len()
    }

    /// A sealed body without `Authorization` on a connection without a context: the retained context of the
    /// same client it verifies against, if any, becomes the connection's.
    fn adopt_retained(&self, conn: &mut Connection, request: &HttpRequest) {
        let limits = multipart::Limits {
            max_body: self.service.config().max_envelope_size() * 2 + 4096,
            ..multipart::Limits::default()
        };
        let Ok(parts) = multipart::parse_parts(&request.body, &limits) else { return };
        let Some(part) = parts.first() else { return };
        if let Some(context) = self.retained.find(conn, part) {
            tracing::debug!(peer = %conn.peer_ip, "sealed body on a new connection: the client's retained context");
            conn.context = Some(context);
        }
    }

    /// The service.
    pub fn service(&self) -> &Service {
        &self.service
    }

    fn offers(&self, conn: &Connection) -> Vec<String> {
        let mut offers = vec!["Negotiate".to_owned()];
        if self.auth.kerberos.is_some() {
            offers.push("Kerberos".to_owned());
        }
        if conn.tls || self.service.config().allow_unencrypted {
            offers.push("Basic realm=\"WSMAN\"".to_owned());
        }
        if self.auth.credssp.is_some() {
            offers.push("CredSSP".to_owned());
        }
        offers
    }

    /// WinRM's IdentifyResponse, the same with or without authentication: an `OS: 0.0.0` product version (what
    /// WinRM reports to an unauthenticated caller; this endpoint has no OS version worth disclosing) and the
    /// security profiles this connection offers.
    fn identify_response(&self, conn: &Connection) -> Vec<u8> {
        let mut profiles = Vec::new();
        if conn.tls {
            profiles.push(profile::HTTPS_BASIC);
            profiles.push(profile::HTTPS_SPNEGO_KERBEROS);
            if self.auth.certificates.is_some() {
                profiles.push(profile::HTTPS_MUTUAL);
            }
        } else {
            if self.service.config().allow_unencrypted {
                profiles.push(profile::HTTP_BASIC);
            }
            profiles.push(profile::HTTP_SPNEGO_KERBEROS);
        }
        IdentifyResponse {
            protocol_version: identify::PROTOCOL_VERSION.to_owned(),
            product_vendor: PRODUCT_VENDOR.to_owned(),
            product_version: PRODUCT_VERSION.to_owned(),
            security_profiles: profiles.into_iter().map(str::to_owned).collect(),
        }
        .to_bytes()
    }

    fn envelope_limits(&self) -> Limits {
        Limits { max_envelope: self.service.config().max_envelope_size(), ..Limits::default() }
    }

    fn unauthorized(&self, conn: &Connection) -> HttpReply {
        let mut reply = HttpReply::empty(401);
        for o in self.offers(conn) {
            reply.headers.push(("WWW-Authenticate".to_owned(), o));
        }
        reply
    }

    /// Handles one HTTP request on `conn`.
    pub async fn handle(&self, conn: &mut Connection, request: HttpRequest) -> HttpReply {
        if !request.method.eq_ignore_ascii_case("POST") {
            let mut reply = HttpReply::empty(405);
            reply.headers.push(("Allow".to_owned(), "POST".to_owned()));
            return reply;
        }
        let path = request.target.split(['?', ';']).next().unwrap_or_default();
        if !path.eq_ignore_ascii_case(&self.service.config().path) {
            return HttpReply::empty(404);
        }
        if !request.body.is_empty() && !is_soap_content_type(request.header("Content-Type")) {
            tracing::debug!(
                peer = %conn.peer_ip,
                content_type = request.header("Content-Type").unwrap_or("(none)"),
                "request refused: unsupported Content-Type"
            );
            return HttpReply::empty(415);
        }
        // WinRM answers Identify without authentication (`winrm id -auth:none`, openwsman's `wsman identify`).
        if request.header("Authorization").is_none()
            && !is_multipart(&request)
            && is_identify_request(&request.body, &self.envelope_limits()) == Ok(true)
        {
            tracing::debug!(peer = %conn.peer_ip, "Identify answered without authentication");
            return soap(200, self.identify_response(conn));
        }
        let (identity, final_token) = match self.authenticate(conn, &request) {
            Authenticated::Yes(identity, token) => (identity, token),
            Authenticated::Reply(reply) => return reply,
        };
        let mut reply = self.handle_body(conn, &request, &identity).await;
        if let Some(token) = final_token {
            reply.headers.push(("WWW-Authenticate".to_owned(), token));
        }
        reply
    }

    fn authenticate(&self, conn: &mut Connection, request: &HttpRequest) -> Authenticated {
        let Some(authorization) = request.header("Authorization").map(str::trim) else {
            if !conn.context.as_ref().is_some_and(Context::is_complete) && is_multipart(request) {
                self.adopt_retained(conn, request);
            }
            // A context authenticated earlier on this connection (or retained for its client) covers later
            // requests.
            return match conn.context.as_ref().filter(|c| c.is_complete()).and_then(Context::identity) {
                Some(id) => Authenticated::Yes(id, None),
                None => Authenticated::Reply(self.unauthorized(conn)),
            };
        };
        if authorization.eq_ignore_ascii_case(MUTUAL_AUTHORIZATION) {
            return match &conn.certificate_identity {
                Some(id) if conn.tls && self.auth.certificates.is_some() => Authenticated::Yes(id.clone(), None),
                _ => Authenticated::Reply(self.unauthorized(conn)),
            };
        }
        let scheme = authorization.split_whitespace().next().unwrap_or_default().to_ascii_lowercase();
        match scheme.as_str() {
            "basic" => {
                conn.context = None;
                let security = if conn.tls { TransportSecurity::Tls } else { TransportSecurity::Plaintext };
                let allow = self.service.config().allow_unencrypted;
                let Ok(mut basic) = BasicServer::new(self.auth.users.clone(), security, allow) else {
                    return Authenticated::Reply(self.unauthorized(conn));
                };
                match basic.step(authorization) {
                    Ok(AcceptStep::Complete(_)) => match basic.client_identity() {
                        Some(id) => Authenticated::Yes(id.clone(), None),
                        None => Authenticated::Reply(self.unauthorized(conn)),
                    },
                    Ok(AcceptStep::Continue(_)) => Authenticated::Reply(self.unauthorized(conn)),
                    Err(e) => {
                        tracing::debug!(scheme = "basic", peer = %conn.peer_ip, error = %e, "authentication refused");
                        Authenticated::Reply(self.unauthorized(conn))
                    }
                }
            }
            "negotiate" | "ntlm" | "credssp" => self.context_step(conn, &scheme, authorization),
            "kerberos" if self.auth.kerberos.is_some() => self.context_step(conn, &scheme, authorization),
            _ => Authenticated::Reply(self.unauthorized(conn)),
        }
    }

    fn context_step(&self, conn: &mut Connection, scheme: &str, authorization: &str) -> Authenticated {
        let credssp = scheme == "credssp";
        let protocol = match scheme {
            "credssp" => EncryptionProtocol::CredSsp,
            "kerberos" => EncryptionProtocol::Kerberos,
            _ => EncryptionProtocol::Spnego,
        };
        let reuse = conn.context.as_ref().is_some_and(|c| c.protocol == protocol && !c.is_complete());
        if !reuse {
            let auth: Box<dyn ServerAuth> = if credssp {
                let Some((chain, key)) = &self.auth.credssp else {
                    return Authenticated::Reply(self.unauthorized(conn));
                };
                Box::new(CredsspServer::new(self.auth.users.clone(), chain.clone(), key.clone_key()))
            } else {
                let mut server = NegotiateServer::new(self.auth.users.clone());
                if let Some(kerberos) = &self.auth.kerberos {
                    server = server.with_kerberos(KerberosAcceptor::new(kerberos.clone()));
                }
                Box::new(match &conn.channel_bindings {
                    Some(b) => server.with_channel_bindings(b.clone(), self.auth.channel_binding_policy),
                    None => server,
                })
            };
            conn.context = Some(Context::new(auth, protocol));
        }
        let Some(context) = conn.context.clone() else {
            return Authenticated::Reply(self.unauthorized(conn));
        };
        let step = lock(&context.sealing).auth.step(authorization);
        match step {
            Ok(AcceptStep::Continue(token)) => {
                let mut reply = HttpReply::empty(401);
                reply.headers.push(("WWW-Authenticate".to_owned(), token));
                Authenticated::Reply(reply)
            }
            Ok(AcceptStep::Complete(token)) => match context.identity() {
                Some(id) => {
                    // Over HTTPS bodies are not sealed, so there is nothing to go on with.
                    if protocol == EncryptionProtocol::Spnego && !conn.tls {
                        self.retained.retain(conn, &context);
                    }
                    Authenticated::Yes(id, token)
                }
                None => {
                    conn.context = None;
                    Authenticated::Reply(self.unauthorized(conn))
                }
            },
            Err(e) => {
                tracing::debug!(scheme, peer = %conn.peer_ip, error = %e, "authentication refused");
                conn.context = None;
                Authenticated::Reply(self.unauthorized(conn))
            }
        }
    }

    async fn handle_body(&self, conn: &mut Connection, request: &HttpRequest, identity: &ClientIdentity) -> HttpReply {
        let caller = Caller::new(&identity.domain, &identity.user, &conn.peer_ip);
        let content_type = request.header("Content-Type").unwrap_or_default();
        let machine = self.service.config().machine_name.clone();
        let encrypted = is_multipart(request);
        let (envelope, seal_with) = if encrypted {
            let Some(context) = conn.context.as_ref().filter(|c| c.is_complete()) else {
                return HttpReply::empty(400);
            };
            let limits = multipart::Limits {
                max_body: self.service.config().max_envelope_size() * 2 + 4096,
                ..multipart::Limits::default()
            };
            let mut sealing = lock(&context.sealing);
            sealing.last_used = Instant::now();
            match multipart::decrypt(&mut Sealer(sealing.auth.as_mut()), content_type, &request.body, &limits) {
                Ok(plain) => (plain, Some(context.protocol)),
                Err(e) => {
                    tracing::debug!(error = %e, "cannot decrypt the request body");
                    return HttpReply::empty(400);
                }
            }
        } else if request.body.is_empty() {
            // The last authentication round of a sealing mechanism carries no envelope.
            return HttpReply::empty(200);
        } else {
            // Windows answers HTTP 500 and logs "unencrypted message received" (pywinrm#129); the fault body
            // says why.
            if !conn.tls && !self.service.config().allow_unencrypted {
                let mut fault = WsmanFault::access_denied(&machine);
                fault.message = Some(
                    "The WinRM service refuses unencrypted traffic: AllowUnencrypted is false. Use HTTPS or an \
                     authentication that encrypts messages (Negotiate). "
                        .to_owned(),
                );
                let reply = pssession_wsman::envelope::Response::reply(
                    &Default::default(),
                    pssession_wsman::envelope::ResponseBody::Fault(fault),
                    &format!("uuid:{}", crate::shell::id_text(uuid::Uuid::new_v4())),
                );
                return soap(500, reply.to_bytes());
            }
            (request.body.clone(), None)
        };
        let answer = if is_identify_request(&envelope, &self.envelope_limits()) == Ok(true) {
            tracing::debug!(user = %caller.user, "Identify");
            EnvelopeReply { status: 200, body: self.identify_response(conn) }
        } else {
            self.service.handle_envelope(&caller, &envelope).await
        };
        match seal_with {
            None => soap(answer.status, answer.body),
            Some(protocol) => {
                let Some(context) = conn.context.as_ref() else { return HttpReply::empty(500) };
                let sealed =
                    multipart::encrypt(&mut Sealer(lock(&context.sealing).auth.as_mut()), protocol, &answer.body);
                match sealed {
                    Ok(sealed) => HttpReply {
                        status: answer.status,
                        headers: vec![("Content-Type".to_owned(), sealed.content_type)],
                        body: sealed.body,
                    },
                    Err(e) => {
                        tracing::debug!(error = %e, "cannot encrypt the response body");
                        HttpReply::empty(500)
                    }
                }
            }
        }
    }
}

/// Whether a body of this `Content-Type` can be an envelope: SOAP (`application/soap+xml`, any parameters) or
/// WinRM-encrypted SOAP (`multipart/encrypted`, `multipart/x-multi-encrypted`).
fn is_soap_content_type(content_type: Option<&str>) -> bool {
    let Some(media_type) = content_type.and_then(|c| c.split(';').next()) else { return false };
    ["application/soap+xml", "multipart/encrypted", "multipart/x-multi-encrypted"]
        .iter()
        .any(|t| media_type.trim().eq_ignore_ascii_case(t))
}

/// Whether the body is WinRM-encrypted (`multipart/encrypted`, `multipart/x-multi-encrypted`).
fn is_multipart(request: &HttpRequest) -> bool {
    request.header("Content-Type").unwrap_or_default().trim_start().to_ascii_lowercase().starts_with("multipart/")
}

fn soap(status: u16, body: Vec<u8>) -> HttpReply {
    HttpReply { status, headers: vec![("Content-Type".to_owned(), SOAP_CONTENT_TYPE.to_owned())], body }
}
