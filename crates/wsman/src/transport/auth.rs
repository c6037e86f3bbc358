//! The boundary between the HTTP transport and an authentication mechanism.
//!
//! The transport owns connections and HTTP; a mechanism (Basic, NTLM, Negotiate, Kerberos, CredSSP, a client
//! certificate) owns tokens and keys. The transport asks the mechanism for `Authorization` header values and hands
//! it `WWW-Authenticate` challenges; once the mechanism is established, the transport asks it to encrypt request
//! bodies and decrypt response bodies (WinRM message encryption over HTTP). Connection-bound mechanisms (NTLM,
//! Kerberos with encryption, CredSSP) are restarted whenever the transport opens a new connection.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use rustls::pki_types::CertificateDer;

use super::uri::EndpointUri;

/// What a mechanism may know about the connection it authenticates.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// The endpoint the connection goes to.
    pub endpoint: EndpointUri,
    /// The server's leaf certificate on HTTPS, for channel bindings (RFC 5929 tls-server-end-point).
    pub peer_certificate: Option<CertificateDer<'static>>,
}

impl ConnectionInfo {
    /// Whether the connection is protected by TLS.
    pub fn is_tls(&self) -> bool {
        self.endpoint.is_tls()
    }
}

/// An authentication mechanism as the transport drives it. Implemented by `pssession-auth`'s mechanisms.
pub trait HttpAuthenticator: Send {
    /// The scheme name, for messages (`Basic`, `Negotiate`, `Kerberos`, `CredSSP`, …).
    fn scheme(&self) -> &str;

    /// A new connection was opened: forget any per-connection state and return the `Authorization` value for the
    /// first request, or `None` to send it without one.
    fn start(&mut self, connection: &ConnectionInfo) -> Result<Option<String>, AuthStepError>;

    /// The server answered with `status` and these `WWW-Authenticate` values. Returns the next `Authorization`
    /// value to retry with, or `None` when there is nothing left to try (the server refused).
    ///
    /// Also called for a successful response that carries a final token (mutual authentication), where the
    /// returned value is ignored.
    fn challenge(&mut self, status: u16, www_authenticate: &[String]) -> Result<Option<String>, AuthStepError>;

    /// The `Authorization` value for a later request on an established connection; `None` for mechanisms bound to
    /// the connection, which send nothing once established.
    fn authorization(&mut self) -> Result<Option<String>, AuthStepError>;

    /// Whether the exchange on the current connection has completed.
    fn is_established(&self) -> bool;

    /// The message encryption this mechanism applies to bodies once established, or `None` when bodies travel in
    /// clear (HTTPS, or Basic where allowed). While a mechanism that encrypts is not yet established, the transport
    /// sends its authentication rounds with empty bodies and the envelope only once sealed.
    fn encryption(&mut self) -> Option<&mut dyn MessageEncryption>;
}

/// WinRM message encryption of bodies (`multipart/encrypted`), provided by an established mechanism.
pub trait MessageEncryption: Send {
    /// Encrypts a request body; returns the `Content-Type` header value and the body to send.
    fn encrypt(&mut self, envelope: &[u8]) -> Result<(String, Bytes), AuthStepError>;

    /// Decrypts a response body sent with `content_type`; returns the SOAP envelope.
    fn decrypt(&mut self, content_type: &str, body: Bytes) -> Result<Bytes, AuthStepError>;
}

/// A mechanism's failure, carried through the transport to the caller: a message for people and, when the
/// mechanism has one, its typed error as [`std::error::Error::source`] (an embedder downcasts it, e.g. to
/// `pssession_auth::AuthError`, to tell "no Kerberos ticket" from "wrong password").
#[derive(Debug, Clone)]
pub struct AuthStepError {
    /// What went wrong, for people; never contains a secret.
    pub message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl AuthStepError {
    /// An error with this description.
    pub fn new(message: impl Into<String>) -> Self {
        AuthStepError { message: message.into(), source: None }
    }

    /// The same error, caused by `source` (the mechanism's own error).
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }
}

/// Equal when the messages are: the source is the same failure seen by type.
impl PartialEq for AuthStepError {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message
    }
}

impl Eq for AuthStepError {}

impl fmt::Display for AuthStepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AuthStepError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}
