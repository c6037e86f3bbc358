//! The HTTP face of the contexts: `Authorization` / `WWW-Authenticate` header values.
//!
//! The WS-Man transport drives a [`ClientAuth`]: it sends `step(None)` as the `Authorization` of its first
//! request, passes the `WWW-Authenticate` value of every 401 (and of the final 200, if it carries one, while
//! [`ClientAuth::is_complete`] is false) to `step`, and sends what comes back. The server drives a
//! [`ServerAuth`] with each `Authorization` value.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::cbt::ChannelBindings;
use crate::context::{AcceptorContext, InitiatorContext, WrappedMessage};
use crate::credentials::{ClientIdentity, UserDatabase};
use crate::error::{AuthError, malformed};
use crate::ntlm::messages::SIGNATURE as NTLMSSP;
use crate::ntlm::{ChannelBindingPolicy, NtlmAcceptor};
use crate::spnego::SpnegoAcceptor;

/// The longest header value accepted (base64 of [`crate::MAX_TOKEN_LEN`] plus the scheme).
pub const MAX_HEADER_LEN: usize = crate::MAX_TOKEN_LEN / 3 * 4 + 64;

/// A client-side authenticator, as the WS-Man transport sees it.
pub trait ClientAuth: Send {
    /// The HTTP authentication scheme (`Basic`, `Negotiate`, `NTLM`).
    fn scheme(&self) -> &'static str;
    /// The next `Authorization` value. Call with `None` first; then with the `WWW-Authenticate` value of the
    /// response (`None` when the response had none). `Ok(None)`: nothing more to send.
    fn step(&mut self, www_authenticate: Option<&str>) -> Result<Option<String>, AuthError>;
    /// Whether authentication is complete on the client side.
    fn is_complete(&self) -> bool;
    /// Whether [`ClientAuth::wrap`] is available once complete (false for Basic).
    fn can_seal(&self) -> bool;
    /// Seals a message body (WinRM message encryption).
    fn wrap(&mut self, plaintext: &[u8]) -> Result<WrappedMessage, AuthError>;
    /// Unseals a message body from the server.
    fn unwrap(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError>;
}

/// What the server answers after consuming an `Authorization` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptStep {
    /// Answer 401 with this `WWW-Authenticate` value.
    Continue(String),
    /// The client is authenticated; put this `WWW-Authenticate` value (if any) on the successful response.
    Complete(Option<String>),
}

/// A server-side authenticator for one connection.
pub trait ServerAuth: Send {
    /// Consumes one `Authorization` value. An error means: answer 401 (with [`ServerAuth::offer`]) and start over.
    fn step(&mut self, authorization: &str) -> Result<AcceptStep, AuthError>;
    /// Whether the client is authenticated.
    fn is_complete(&self) -> bool;
    /// The authenticated client.
    fn client_identity(&self) -> Option<&ClientIdentity>;
    /// The `WWW-Authenticate` values of the initial 401.
    fn offer(&self) -> Vec<String>;
    /// Seals a message body for the client.
    fn wrap(&mut self, plaintext: &[u8]) -> Result<WrappedMessage, AuthError>;
    /// Unseals a message body from the client.
    fn unwrap(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError>;
}

/// Splits a `WWW-Authenticate`/`Authorization` value into `(scheme, token)` pairs (`Negotiate, NTLM` or
/// `Negotiate YII…`). Token schemes only: parameters of `Basic realm="…"` come back as the token text.
pub fn parse_challenges(value: &str) -> Result<Vec<(&str, Option<&str>)>, AuthError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(AuthError::TooLarge { what: "authentication header", len: value.len() });
    }
    Ok(value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| match item.split_once(char::is_whitespace) {
            Some((scheme, token)) => (scheme, Some(token.trim())),
            None => (item, None),
        })
        .collect())
}

fn token_for<'a>(value: &'a str, scheme: &'static str) -> Result<Option<&'a str>, AuthError> {
    Ok(parse_challenges(value)?.into_iter().find(|(s, _)| s.eq_ignore_ascii_case(scheme)).and_then(|(_, t)| t))
}

pub(crate) fn decode_b64(token: &str, what: &'static str) -> Result<Vec<u8>, AuthError> {
    if token.len() > MAX_HEADER_LEN {
        return Err(AuthError::TooLarge { what, len: token.len() });
    }
    STANDARD.decode(token).map_err(|_| malformed(what, "invalid base64"))
}

/// Adapts a token-level [`InitiatorContext`] to HTTP headers under a scheme name.
pub struct HttpInitiator<C> {
    scheme: &'static str,
    context: C,
    started: bool,
}

impl<C: fmt::Debug> fmt::Debug for HttpInitiator<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpInitiator").field("scheme", &self.scheme).field("context", &self.context).finish()
    }
}

impl<C: InitiatorContext> HttpInitiator<C> {
    /// `scheme` is `Negotiate` or `NTLM`. (pypsrp sends raw NTLM under `Negotiate`; so may we.)
    pub fn new(scheme: &'static str, context: C) -> Self {
        Self { scheme, context, started: false }
    }

    /// The token-level context.
    pub fn context(&self) -> &C {
        &self.context
    }
}

impl<C: InitiatorContext> ClientAuth for HttpInitiator<C> {
    fn scheme(&self) -> &'static str {
        self.scheme
    }

    fn step(&mut self, www_authenticate: Option<&str>) -> Result<Option<String>, AuthError> {
        let input = if self.started {
            let token = www_authenticate.map(|v| token_for(v, self.scheme)).transpose()?.flatten();
            match token {
                Some(t) => Some(decode_b64(t, "authentication token")?),
                None if self.context.is_complete() => return Ok(None),
                // A bare 401 after our last leg: the server refused us.
                None => return Err(AuthError::Rejected),
            }
        } else {
            None
        };
        self.started = true;
        let out = self.context.step(input.as_deref())?;
        Ok(out.map(|t| format!("{} {}", self.scheme, STANDARD.encode(t))))
    }

    fn is_complete(&self) -> bool {
        self.context.is_complete()
    }

    fn can_seal(&self) -> bool {
        true
    }

    fn wrap(&mut self, plaintext: &[u8]) -> Result<WrappedMessage, AuthError> {
        self.context.wrap(plaintext)
    }

    fn unwrap(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError> {
        self.context.unwrap(header, data)
    }
}

/// The server's `Negotiate`/`NTLM` authenticator. Under `Negotiate` it sniffs the first token: raw `NTLMSSP\0`
/// (what pypsrp sends with `auth="ntlm"`) goes to a bare NTLM acceptor, anything else to SPNEGO.
pub struct NegotiateServer {
    users: Arc<UserDatabase>,
    channel_bindings: Option<(ChannelBindings, ChannelBindingPolicy)>,
    active: Option<(&'static str, Box<dyn AcceptorContext>)>,
}

impl fmt::Debug for NegotiateServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NegotiateServer")
            .field("users", &self.users)
            .field("channel_bindings", &self.channel_bindings)
            .field("scheme", &self.active.as_ref().map(|a| a.0))
            .finish()
    }
}

impl NegotiateServer {
    /// An authenticator for one connection.
    pub fn new(users: Arc<UserDatabase>) -> Self {
        Self { users, channel_bindings: None, active: None }
    }

    /// Checks channel bindings (HTTPS: our certificate's `tls-server-end-point`).
    pub fn with_channel_bindings(mut self, bindings: ChannelBindings, policy: ChannelBindingPolicy) -> Self {
        self.channel_bindings = Some((bindings, policy));
        self
    }

    fn ntlm(&self) -> NtlmAcceptor {
        let acceptor = NtlmAcceptor::new(self.users.clone());
        match &self.channel_bindings {
            Some((b, p)) => acceptor.with_channel_bindings(b.clone(), *p),
            None => acceptor,
        }
    }
}

impl ServerAuth for NegotiateServer {
    fn step(&mut self, authorization: &str) -> Result<AcceptStep, AuthError> {
        let (scheme, token) = authorization
            .trim()
            .split_once(char::is_whitespace)
            .ok_or(AuthError::MissingToken { scheme: "Negotiate" })?;
        let scheme: &'static str = if scheme.eq_ignore_ascii_case("Negotiate") {
            "Negotiate"
        } else if scheme.eq_ignore_ascii_case("NTLM") {
            "NTLM"
        } else {
            return Err(AuthError::Unsupported("authentication scheme"));
        };
        let token = decode_b64(token.trim(), "authentication token")?;
        let restart = match &self.active {
            None => true,
            Some((active, ctx)) => *active != scheme || ctx.is_complete(),
        };
        if restart {
            let ctx: Box<dyn AcceptorContext> = if scheme == "NTLM" || token.starts_with(NTLMSSP) {
                Box::new(self.ntlm())
            } else {
                Box::new(SpnegoAcceptor::from_ntlm(self.ntlm()))
            };
            self.active = Some((scheme, ctx));
        }
        let Some((_, ctx)) = self.active.as_mut() else {
            return Err(AuthError::InvalidState("no active context"));
        };
        let out = match ctx.step(&token) {
            Ok(out) => out,
            Err(e) => {
                self.active = None;
                return Err(e);
            }
        };
        let header = out.map(|t| format!("{scheme} {}", STANDARD.encode(t)));
        if ctx.is_complete() {
            Ok(AcceptStep::Complete(header))
        } else {
            header.map(AcceptStep::Continue).ok_or(AuthError::InvalidState("acceptor produced no token"))
        }
    }

    fn is_complete(&self) -> bool {
        self.active.as_ref().is_some_and(|(_, c)| c.is_complete())
    }

    fn client_identity(&self) -> Option<&ClientIdentity> {
        self.active.as_ref().and_then(|(_, c)| c.client_identity())
    }

    fn offer(&self) -> Vec<String> {
        vec!["Negotiate".into(), "NTLM".into()]
    }

    fn wrap(&mut self, plaintext: &[u8]) -> Result<WrappedMessage, AuthError> {
        self.active.as_mut().ok_or(AuthError::InvalidState("wrap before completion"))?.1.wrap(plaintext)
    }

    fn unwrap(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError> {
        self.active.as_mut().ok_or(AuthError::InvalidState("unwrap before completion"))?.1.unwrap(header, data)
    }
}
