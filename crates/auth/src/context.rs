//! The sans-IO boundary: token-level security contexts for the initiator and the acceptor.
//!
//! A context turns tokens into tokens and, once complete, protects WinRM message bodies. It never performs I/O;
//! the HTTP layer ([`crate::http`]) maps tokens to `Authorization`/`WWW-Authenticate` values.

use crate::credentials::ClientIdentity;
use crate::error::AuthError;

/// A message protected for WinRM HTTP message encryption (MS-WSMV 2.2.9.1): `header` goes after the
/// little-endian u32 header length in the `application/octet-stream` part, followed by `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedMessage {
    /// The signature (NTLM: 16 bytes) or token header.
    pub header: Vec<u8>,
    /// The encrypted payload, as long as the plaintext for NTLM.
    pub data: Vec<u8>,
}

/// The client side of a security context.
pub trait InitiatorContext: Send {
    /// Produces the next token. Call first with `None`, then with each token the acceptor returned.
    /// Returns `Ok(None)` when there is nothing (more) to send.
    fn step(&mut self, input: Option<&[u8]>) -> Result<Option<Vec<u8>>, AuthError>;
    /// Whether the context is established (and, where the mechanism has one, the acceptor's final token verified).
    fn is_complete(&self) -> bool;
    /// Seals a message body for the acceptor.
    fn wrap(&mut self, plaintext: &[u8]) -> Result<WrappedMessage, AuthError>;
    /// Unseals and verifies a message body from the acceptor.
    fn unwrap(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError>;
}

/// The server side of a security context.
pub trait AcceptorContext: Send {
    /// Consumes the initiator's token and returns the reply token, if any. After an error the context is
    /// unusable; the server answers 401 and starts a new one.
    fn step(&mut self, input: &[u8]) -> Result<Option<Vec<u8>>, AuthError>;
    /// Whether the client is authenticated.
    fn is_complete(&self) -> bool;
    /// The authenticated client, once complete.
    fn client_identity(&self) -> Option<&ClientIdentity>;
    /// Seals a message body for the initiator.
    fn wrap(&mut self, plaintext: &[u8]) -> Result<WrappedMessage, AuthError>;
    /// Unseals and verifies a message body from the initiator.
    fn unwrap(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError>;
}
