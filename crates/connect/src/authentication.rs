//! Connects the authentication mechanisms of `pssession-auth` to the WS-Man HTTP transport.
//!
//! The transport asks an [`HttpAuthenticator`] for `Authorization` values and hands it `WWW-Authenticate`
//! challenges; the mechanisms speak [`ClientAuth`]. [`WinrmAuthenticator`] sits between them: it starts a fresh
//! security context for every TCP connection (NTLM and Kerberos bind to the connection), computes channel bindings
//! from the server certificate on HTTPS, applies the Basic-over-HTTP policy, and once a sealing mechanism is
//! established over plain HTTP it encrypts and decrypts bodies with the `multipart/encrypted` framing of
//! `pssession-wsman`.

use std::fmt;

use bytes::Bytes;
use pssession_auth::{
    AuthError, BasicClient, ChannelBindings, ClientAuth, Credentials, TransportSecurity, WrappedMessage,
    negotiate_client,
};
use pssession_wsman::multipart::{self, EncryptionProtocol, Limits, MessageSealer, SealError, Sealed};
use pssession_wsman::transport::{AuthStepError, ConnectionInfo, HttpAuthenticator, MessageEncryption};
use zeroize::Zeroizing;

/// The `-Authentication` values of Connect-PSSession that this build implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthenticationMechanism {
    /// PowerShell's `Default`: Negotiate with the given credentials.
    Default,
    /// HTTP Basic. Refused over plain HTTP unless unencrypted traffic is explicitly allowed.
    Basic,
    /// Negotiate (SPNEGO), with message encryption over plain HTTP.
    Negotiate,
}

impl AuthenticationMechanism {
    /// The name PowerShell uses for the value (`-Authentication Negotiate`).
    pub fn name(self) -> &'static str {
        match self {
            AuthenticationMechanism::Default => "Default",
            AuthenticationMechanism::Basic => "Basic",
            AuthenticationMechanism::Negotiate => "Negotiate",
        }
    }

    /// Parses a PowerShell `-Authentication` value, ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<Self> {
        [AuthenticationMechanism::Default, AuthenticationMechanism::Basic, AuthenticationMechanism::Negotiate]
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for AuthenticationMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a client authenticates to WinRM.
#[derive(Clone)]
pub struct AuthenticationOptions {
    /// The mechanism.
    pub mechanism: AuthenticationMechanism,
    /// The user's credentials.
    pub credentials: Credentials,
    /// Allow Basic over plain HTTP and unencrypted bodies (WinRM's `AllowUnencrypted`). Off by default.
    pub allow_unencrypted: bool,
    /// The service principal name; `HTTP/<host>` when `None`.
    pub service_principal_name: Option<String>,
}

impl fmt::Debug for AuthenticationOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticationOptions")
            .field("mechanism", &self.mechanism)
            .field("credentials", &self.credentials)
            .field("allow_unencrypted", &self.allow_unencrypted)
            .field("service_principal_name", &self.service_principal_name)
            .finish()
    }
}

impl AuthenticationOptions {
    /// Options for `mechanism` with these credentials and the secure defaults.
    pub fn new(mechanism: AuthenticationMechanism, credentials: Credentials) -> Self {
        AuthenticationOptions { mechanism, credentials, allow_unencrypted: false, service_principal_name: None }
    }
}

/// The transport-facing authenticator: one security context per TCP connection.
pub struct WinrmAuthenticator {
    options: AuthenticationOptions,
    active: Option<Active>,
}

struct Active {
    context: Box<dyn ClientAuth>,
    /// Whether bodies are sealed on this connection (a sealing mechanism over plain HTTP).
    seals: bool,
    /// Basic is stateless: its header goes on every request, not only the first.
    basic_header: Option<Zeroizing<String>>,
}

impl fmt::Debug for WinrmAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WinrmAuthenticator")
            .field("options", &self.options)
            .field("established", &self.is_established())
            .finish()
    }
}

impl WinrmAuthenticator {
    /// An authenticator that has not yet seen a connection.
    pub fn new(options: AuthenticationOptions) -> Self {
        WinrmAuthenticator { options, active: None }
    }

    fn new_context(&self, connection: &ConnectionInfo) -> Result<Active, AuthError> {
        let tls = connection.is_tls();
        match self.options.mechanism {
            AuthenticationMechanism::Basic => {
                let security = if tls { TransportSecurity::Tls } else { TransportSecurity::Plaintext };
                let client = BasicClient::new(&self.options.credentials, security, self.options.allow_unencrypted)?;
                Ok(Active { context: Box::new(client), seals: false, basic_header: None })
            }
            AuthenticationMechanism::Default | AuthenticationMechanism::Negotiate => {
                let bindings = match &connection.peer_certificate {
                    Some(certificate) => Some(ChannelBindings::tls_server_end_point(certificate.as_ref())?),
                    None => None,
                };
                let spn = self
                    .options
                    .service_principal_name
                    .clone()
                    .unwrap_or_else(|| format!("HTTP/{}", connection.endpoint.host()));
                let client = negotiate_client(self.options.credentials.clone(), Some(spn), bindings);
                Ok(Active { context: Box::new(client), seals: !tls, basic_header: None })
            }
        }
    }
}

fn step_error(mechanism: AuthenticationMechanism, error: AuthError) -> AuthStepError {
    AuthStepError::new(format!("{mechanism} authentication failed: {error}"))
}

impl HttpAuthenticator for WinrmAuthenticator {
    fn scheme(&self) -> &str {
        self.options.mechanism.name()
    }

    fn start(&mut self, connection: &ConnectionInfo) -> Result<Option<String>, AuthStepError> {
        let mechanism = self.options.mechanism;
        self.active = None;
        let mut active = self.new_context(connection).map_err(|e| step_error(mechanism, e))?;
        let first = active.context.step(None).map_err(|e| step_error(mechanism, e))?;
        if mechanism == AuthenticationMechanism::Basic {
            active.basic_header = first.clone().map(Zeroizing::new);
        }
        self.active = Some(active);
        Ok(first)
    }

    fn challenge(&mut self, status: u16, www_authenticate: &[String]) -> Result<Option<String>, AuthStepError> {
        let mechanism = self.options.mechanism;
        let Some(active) = self.active.as_mut() else {
            return Err(AuthStepError::new("authentication challenge before the connection was started"));
        };
        let scheme = active.context.scheme();
        let ours = www_authenticate.iter().find(|value| {
            value.split(|c: char| c == ',' || c.is_whitespace()).any(|token| token.eq_ignore_ascii_case(scheme))
        });
        if status == 401 && ours.is_none() && !active.context.is_complete() && !www_authenticate.is_empty() {
            return Err(AuthStepError::new(format!(
                "the server does not accept {mechanism} authentication; it offers: {}",
                www_authenticate.join(", ")
            )));
        }
        match active.context.step(ours.map(String::as_str)) {
            Ok(next) => Ok(next),
            Err(AuthError::Rejected) | Err(AuthError::LogonDenied) if status == 401 => Err(AuthStepError::new(
                format!("{mechanism} authentication was rejected by the server: wrong user name or password"),
            )),
            Err(e) => Err(step_error(mechanism, e)),
        }
    }

    fn authorization(&mut self) -> Result<Option<String>, AuthStepError> {
        Ok(self.active.as_ref().and_then(|a| a.basic_header.as_ref()).map(|h| h.to_string()))
    }

    fn is_established(&self) -> bool {
        self.active.as_ref().is_some_and(|a| a.context.is_complete())
    }

    fn encryption(&mut self) -> Option<&mut dyn MessageEncryption> {
        match self.active.as_mut() {
            Some(active) if active.seals => Some(active),
            _ => None,
        }
    }
}

/// Lets `multipart` drive a [`ClientAuth`]'s wrap/unwrap.
struct Sealer<'a>(&'a mut dyn ClientAuth);

impl MessageSealer for Sealer<'_> {
    fn wrap(&mut self, plaintext: &[u8]) -> Result<Sealed, SealError> {
        let WrappedMessage { header, data } = self.0.wrap(plaintext).map_err(|e| SealError::new(e.to_string()))?;
        Ok(Sealed { header, ciphertext: data, padding: 0 })
    }

    fn unwrap(&mut self, header: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, SealError> {
        self.0.unwrap(header, ciphertext).map_err(|e| SealError::new(e.to_string()))
    }
}

impl MessageEncryption for Active {
    fn encrypt(&mut self, envelope: &[u8]) -> Result<(String, Bytes), AuthStepError> {
        let body = multipart::encrypt(&mut Sealer(self.context.as_mut()), EncryptionProtocol::Spnego, envelope)
            .map_err(|e| AuthStepError::new(format!("message encryption failed: {e}")))?;
        Ok((body.content_type, Bytes::from(body.body)))
    }

    fn decrypt(&mut self, content_type: &str, body: Bytes) -> Result<Bytes, AuthStepError> {
        let plain = multipart::decrypt(&mut Sealer(self.context.as_mut()), content_type, &body, &Limits::default())
            .map_err(|e| AuthStepError::new(format!("message decryption failed: {e}")))?;
        Ok(Bytes::from(plain))
    }
}
