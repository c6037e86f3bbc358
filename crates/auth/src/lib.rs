//! Authentication mechanisms for WinRM as sans-IO security contexts.
//!
//! * [`context`]: the token-level [`InitiatorContext`] / [`AcceptorContext`] traits with WinRM `wrap`/`unwrap`.
//! * [`http`]: the header-level [`ClientAuth`] / [`ServerAuth`] the WS-Man transport and the test server drive.
//! * [`basic`]: Basic, refused over plain HTTP unless unencrypted traffic is explicitly allowed.
//! * [`ntlm`]: NTLMv2 initiator and a verifying acceptor, sealing for WinRM message encryption.
//! * [`spnego`]: Negotiate (SPNEGO) around NTLM, with mechListMIC.
//! * [`cbt`]: `tls-server-end-point` channel bindings.
//!
//! Kerberos, CredSSP, Digest and client certificates are not implemented yet.
#![forbid(unsafe_code)]

pub mod basic;
pub mod cbt;
pub mod context;
pub mod credentials;
mod der;
pub mod error;
pub mod http;
pub mod ntlm;
pub mod spnego;

pub use basic::{BasicClient, BasicServer, TransportSecurity, check_basic_allowed};
pub use cbt::{ChannelBindings, tls_server_end_point_hash};
pub use context::{AcceptorContext, InitiatorContext, WrappedMessage};
pub use credentials::{ClientIdentity, Credentials, UserDatabase};
pub use error::AuthError;
pub use http::{AcceptStep, ClientAuth, HttpInitiator, NegotiateServer, ServerAuth};
pub use ntlm::{ChannelBindingPolicy, NtlmAcceptor, NtlmClient};
pub use spnego::{SpnegoAcceptor, SpnegoClient};

/// The largest authentication token accepted from a peer (64 KiB; NTLM messages are a few hundred bytes,
/// Kerberos tickets with large PACs stay well below).
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// An HTTP `Negotiate` client (SPNEGO with NTLM inside).
pub fn negotiate_client(
    credentials: Credentials,
    target_name: Option<String>,
    channel_bindings: Option<ChannelBindings>,
) -> HttpInitiator<SpnegoClient> {
    HttpInitiator::new("Negotiate", SpnegoClient::new(credentials, target_name, channel_bindings))
}

/// An HTTP `NTLM` client (raw NTLMSSP tokens).
pub fn ntlm_client(
    credentials: Credentials,
    target_name: Option<String>,
    channel_bindings: Option<ChannelBindings>,
) -> HttpInitiator<NtlmClient> {
    HttpInitiator::new("NTLM", NtlmClient::new(credentials, target_name, channel_bindings))
}

/// Compiles and runs the README's example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
