//! CredSSP (MS-CSSP): the client delegates the user's **password** to the server, inside a TLS session
//! authenticated by SPNEGO/NTLM and bound to the TLS server's public key.
//!
//! # Danger
//!
//! The server receives the user's plaintext password at the end of the exchange (`TSPasswordCreds`). This is the
//! point of CredSSP (the remote session can then reach other machines as the user — the "second hop"), and its
//! risk: a compromised server, or anyone who can impersonate it, obtains a reusable password. Windows only
//! delegates when the "Allow delegating fresh credentials" policy names the target. Here the caller must pass
//! [`CredsspDelegation::AllowFreshCredentials`] to construct a client; use CredSSP only with servers you would
//! type the password into.
//!
//! # What protects the exchange
//!
//! The inner TLS certificate is **not** verified (MS-CSSP; WinRM's listener presents a self-signed certificate).
//! The protection is the public-key binding: after NTLM, the client seals a hash of the TLS server's public key
//! under the NTLM session keys (`pubKeyAuth`); the acceptor must prove the same key back before the client sends
//! the password. A man in the middle who terminated the TLS session cannot produce that proof without the
//! user's password. Protocol versions 2–4 use the older binding (the key itself, returned with its first byte
//! incremented), which CVE-2018-0886 showed to be exploitable; [`CredsspClient`] refuses servers below version 5
//! unless [`CredsspClient::with_min_version`] lowers the bar.
//!
//! The inner mechanism is NTLM inside SPNEGO. Kerberos inside CredSSP is not implemented.
//!
//! Both ends exist: [`CredsspClient`] / [`CredsspHttpClient`] for the client, [`CredsspAcceptor`] /
//! [`CredsspServer`] for the test server (it checks the client's binding and that the delegated password is the
//! authenticated user's).

mod acceptor;
mod binding;
mod client;
mod http;
mod inner;
mod tls;
pub mod ts_request;

pub use acceptor::{CredsspAcceptor, STATUS_LOGON_FAILURE};
pub use binding::{client_binding, server_binding};
pub use client::CredsspClient;
pub use http::{CredsspHttpClient, CredsspServer};
pub use tls::{CredsspTlsVersions, subject_public_key};
pub use ts_request::{TsPasswordCreds, TsRequest};

/// The CredSSP protocol version this crate speaks (MS-CSSP version 6).
pub const CREDSSP_VERSION: u32 = 6;

/// The `Content-Type` protocol name of CredSSP-encrypted WinRM bodies.
pub const ENCRYPTION_PROTOCOL: &str = "application/HTTP-CredSSP-session-encrypted";

/// The plaintext chunk size of CredSSP-encrypted WinRM bodies: longer bodies are sealed in 16 KiB pieces and sent
/// as `multipart/x-multi-encrypted` (one TLS record per chunk).
pub const CHUNK_SIZE: usize = 16 * 1024;

/// The caller's acknowledgement that CredSSP hands the user's password to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredsspDelegation {
    /// Delegate fresh (typed-in) credentials: the server receives the plaintext user name, domain and password.
    /// The Windows policy of the same name warns that this exposes the password to the remote computer.
    AllowFreshCredentials,
}
