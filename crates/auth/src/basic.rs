//! HTTP Basic authentication (RFC 7617) with WinRM's policy: refused over plain HTTP unless the caller explicitly
//! allows unencrypted traffic (WinRM's `AllowUnencrypted`).

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::context::WrappedMessage;
use crate::credentials::{ClientIdentity, Credentials, UserDatabase};
use crate::error::{AuthError, malformed};
use crate::http::{AcceptStep, ClientAuth, ServerAuth, decode_b64};

/// Whether the HTTP connection runs inside TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportSecurity {
    /// HTTPS.
    Tls,
    /// Plain HTTP.
    Plaintext,
}

/// The policy decision: Basic is allowed over TLS, and over plain HTTP only when `allow_unencrypted` is set.
pub fn check_basic_allowed(transport: TransportSecurity, allow_unencrypted: bool) -> Result<(), AuthError> {
    match (transport, allow_unencrypted) {
        (TransportSecurity::Tls, _) | (TransportSecurity::Plaintext, true) => Ok(()),
        (TransportSecurity::Plaintext, false) => Err(AuthError::BasicOverHttpRefused),
    }
}

/// The Basic client: one `Authorization: Basic …` value, no message sealing.
pub struct BasicClient {
    header: Zeroizing<String>,
    sent: bool,
}

impl fmt::Debug for BasicClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicClient").field("header", &"<redacted>").field("sent", &self.sent).finish()
    }
}

impl BasicClient {
    /// A Basic client; fails with [`AuthError::BasicOverHttpRefused`] per [`check_basic_allowed`].
    /// The user is sent as `DOMAIN\user` when a domain is set.
    pub fn new(
        credentials: &Credentials,
        transport: TransportSecurity,
        allow_unencrypted: bool,
    ) -> Result<Self, AuthError> {
        check_basic_allowed(transport, allow_unencrypted)?;
        let user = if credentials.domain().is_empty() {
            credentials.user().to_owned()
        } else {
            format!("{}\\{}", credentials.domain(), credentials.user())
        };
        let pair = Zeroizing::new(format!("{user}:{}", credentials.password()));
        Ok(Self { header: Zeroizing::new(format!("Basic {}", STANDARD.encode(pair.as_bytes()))), sent: false })
    }
}

impl ClientAuth for BasicClient {
    fn scheme(&self) -> &'static str {
        "Basic"
    }

    fn step(&mut self, www_authenticate: Option<&str>) -> Result<Option<String>, AuthError> {
        match (self.sent, www_authenticate) {
            (false, _) => {
                self.sent = true;
                Ok(Some(self.header.to_string()))
            }
            // A 401 answering our credentials means they were refused.
            (true, Some(_)) => Err(AuthError::Rejected),
            (true, None) => Ok(None),
        }
    }

    fn is_complete(&self) -> bool {
        self.sent
    }

    fn can_seal(&self) -> bool {
        false
    }

    fn wrap(&mut self, _plaintext: &[u8]) -> Result<WrappedMessage, AuthError> {
        Err(AuthError::SealingUnavailable)
    }

    fn unwrap(&mut self, _header: &[u8], _data: &[u8]) -> Result<Vec<u8>, AuthError> {
        Err(AuthError::SealingUnavailable)
    }
}

/// The Basic acceptor, checking passwords against a [`UserDatabase`].
#[derive(Debug)]
pub struct BasicServer {
    users: Arc<UserDatabase>,
    identity: Option<ClientIdentity>,
}

impl BasicServer {
    /// A Basic acceptor; fails with [`AuthError::BasicOverHttpRefused`] per [`check_basic_allowed`].
    pub fn new(
        users: Arc<UserDatabase>,
        transport: TransportSecurity,
        allow_unencrypted: bool,
    ) -> Result<Self, AuthError> {
        check_basic_allowed(transport, allow_unencrypted)?;
        Ok(Self { users, identity: None })
    }
}

impl ServerAuth for BasicServer {
    fn step(&mut self, authorization: &str) -> Result<AcceptStep, AuthError> {
        let (scheme, token) =
            authorization.trim().split_once(' ').ok_or(AuthError::MissingToken { scheme: "Basic" })?;
        if !scheme.eq_ignore_ascii_case("Basic") {
            return Err(AuthError::Unsupported("authentication scheme"));
        }
        let decoded = Zeroizing::new(decode_b64(token.trim(), "Basic credentials")?);
        let text = std::str::from_utf8(&decoded).map_err(|_| malformed("Basic credentials", "not UTF-8"))?;
        let (user, password) = text.split_once(':').ok_or(malformed("Basic credentials", "no ':'"))?;
        let (domain, user) = user.split_once('\\').unwrap_or(("", user));
        if !self.users.verify_password(domain, user, password) {
            return Err(AuthError::LogonDenied);
        }
        self.identity = Some(ClientIdentity { domain: domain.to_owned(), user: user.to_owned() });
        Ok(AcceptStep::Complete(None))
    }

    fn is_complete(&self) -> bool {
        self.identity.is_some()
    }

    fn client_identity(&self) -> Option<&ClientIdentity> {
        self.identity.as_ref()
    }

    fn offer(&self) -> Vec<String> {
        vec!["Basic realm=\"WSMAN\"".into()]
    }

    fn wrap(&mut self, _plaintext: &[u8]) -> Result<WrappedMessage, AuthError> {
        Err(AuthError::SealingUnavailable)
    }

    fn unwrap(&mut self, _header: &[u8], _data: &[u8]) -> Result<Vec<u8>, AuthError> {
        Err(AuthError::SealingUnavailable)
    }
}
