//! CredSSP over HTTP: `Authorization: CredSSP <base64 TLS records>` / `WWW-Authenticate: CredSSP <…>`, both
//! ends. An acceptor leg without a token (TLS 1.3, after the client's Finished) is a bare `CredSSP`.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::acceptor::CredsspAcceptor;
use super::client::CredsspClient;
use crate::context::{AcceptorContext, InitiatorContext, WrappedMessage};
use crate::credentials::{ClientIdentity, UserDatabase};
use crate::error::AuthError;
use crate::http::{AcceptStep, ClientAuth, ServerAuth, decode_b64, parse_challenges};

const SCHEME: &str = "CredSSP";

/// The HTTP `CredSSP` client (a [`ClientAuth`]) around a [`CredsspClient`].
///
/// Message encryption uses the CredSSP TLS session: bodies go as
/// `multipart/encrypted;protocol="application/HTTP-CredSSP-session-encrypted"`, and bodies longer than
/// [`super::CHUNK_SIZE`] are sealed chunk by chunk into `multipart/x-multi-encrypted`.
#[derive(Debug)]
pub struct CredsspHttpClient {
    context: CredsspClient,
    started: bool,
}

impl CredsspHttpClient {
    /// Wraps a configured [`CredsspClient`].
    pub fn new(context: CredsspClient) -> Self {
        Self { context, started: false }
    }

    /// The token-level context.
    pub fn context(&self) -> &CredsspClient {
        &self.context
    }
}

impl ClientAuth for CredsspHttpClient {
    fn scheme(&self) -> &'static str {
        SCHEME
    }

    fn step(&mut self, www_authenticate: Option<&str>) -> Result<Option<String>, AuthError> {
        let input = if self.started {
            let mut token = None;
            if let Some(value) = www_authenticate {
                for (scheme, t) in parse_challenges(value)? {
                    if scheme.eq_ignore_ascii_case(SCHEME) {
                        token = t;
                    }
                }
            }
            match token {
                Some(t) => Some(decode_b64(t, "CredSSP token")?),
                // A 401 after the credentials went out: the server refused them.
                None if self.context.is_complete() => return Err(AuthError::Rejected),
                None if self.context.awaits_optional_token() => None,
                None => return Err(AuthError::Rejected),
            }
        } else {
            None
        };
        self.started = true;
        if self.context.is_complete() {
            // Only an error report can follow the credentials.
            return Err(input.map_or(AuthError::Rejected, |t| self.context.decode_late_error(&t)));
        }
        let out = self.context.step(input.as_deref())?;
        Ok(out.map(|t| format!("{SCHEME} {}", STANDARD.encode(t))))
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

/// The HTTP `CredSSP` server authenticator for one connection (a [`ServerAuth`]), creating a fresh
/// [`CredsspAcceptor`] for each attempt.
///
/// A logon refused by the inner authentication is answered with `Ok(AcceptStep::Continue(..))` carrying the
/// `TSRequest` `errorCode` (versions 3, 4, 6+), so the client can report "logon failure"; other failures are
/// `Err`. Either way [`ServerAuth::is_complete`] stays false.
pub struct CredsspServer {
    users: Arc<UserDatabase>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    min_version: u32,
    active: Option<CredsspAcceptor>,
}

impl fmt::Debug for CredsspServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredsspServer")
            .field("users", &self.users)
            .field("min_version", &self.min_version)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

impl Drop for CredsspServer {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

impl CredsspServer {
    /// A server authenticating against `users`, presenting `chain` (leaf first) and `key` inside CredSSP.
    pub fn new(users: Arc<UserDatabase>, chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Self {
        Self { users, chain, key, min_version: 2, active: None }
    }

    /// The lowest CredSSP version accepted from clients (see [`CredsspAcceptor::with_min_version`]).
    pub fn with_min_version(mut self, min_version: u32) -> Self {
        self.min_version = min_version;
        self
    }

    /// The current acceptor (the delegated credentials, once complete).
    pub fn acceptor(&self) -> Option<&CredsspAcceptor> {
        self.active.as_ref()
    }
}

impl ServerAuth for CredsspServer {
    fn step(&mut self, authorization: &str) -> Result<AcceptStep, AuthError> {
        let (scheme, token) =
            authorization.trim().split_once(char::is_whitespace).ok_or(AuthError::MissingToken { scheme: SCHEME })?;
        if !scheme.eq_ignore_ascii_case(SCHEME) {
            return Err(AuthError::Unsupported("authentication scheme"));
        }
        let token = decode_b64(token.trim(), "CredSSP token")?;
        let mut acceptor = match self.active.take() {
            Some(a) if !a.is_complete() => a,
            _ => CredsspAcceptor::new(self.users.clone(), self.chain.clone(), self.key.clone_key())?
                .with_min_version(self.min_version),
        };
        let out = match acceptor.step(&token) {
            Ok(out) => out,
            // A refused logon is answered, as Windows does, with a 401 carrying the TSRequest errorCode; the
            // next attempt starts a fresh acceptor.
            Err(e) => {
                return match acceptor.take_error_token() {
                    Some(t) => Ok(AcceptStep::Continue(format!("{SCHEME} {}", STANDARD.encode(t)))),
                    None => Err(e),
                };
            }
        };
        let complete = acceptor.is_complete();
        self.active = Some(acceptor);
        let header = match out {
            Some(t) if !t.is_empty() => format!("{SCHEME} {}", STANDARD.encode(t)),
            _ => SCHEME.to_owned(),
        };
        if complete {
            Ok(AcceptStep::Complete((header != SCHEME).then_some(header)))
        } else {
            Ok(AcceptStep::Continue(header))
        }
    }

    fn is_complete(&self) -> bool {
        self.active.as_ref().is_some_and(AcceptorContext::is_complete)
    }

    fn client_identity(&self) -> Option<&ClientIdentity> {
        self.active.as_ref().and_then(AcceptorContext::client_identity)
    }

    fn offer(&self) -> Vec<String> {
        vec![SCHEME.to_owned()]
    }

    fn wrap(&mut self, plaintext: &[u8]) -> Result<WrappedMessage, AuthError> {
        self.active.as_mut().ok_or(AuthError::InvalidState("wrap before completion"))?.wrap(plaintext)
    }

    fn unwrap(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError> {
        self.active.as_mut().ok_or(AuthError::InvalidState("unwrap before completion"))?.unwrap(header, data)
    }
}
