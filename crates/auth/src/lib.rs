//! Authentication mechanisms for WinRM as sans-IO security contexts.
//!
//! * [`context`]: the token-level [`InitiatorContext`] / [`AcceptorContext`] traits with WinRM `wrap`/`unwrap`.
//! * [`http`]: the header-level [`ClientAuth`] / [`ServerAuth`] the WS-Man transport and the test server drive.
//! * [`basic`]: Basic, refused over plain HTTP unless unencrypted traffic is explicitly allowed.
//! * [`ntlm`]: NTLMv2 initiator and a verifying acceptor, sealing for WinRM message encryption.
//! * [`spnego`]: Negotiate (SPNEGO) around Kerberos and NTLM, with mechListMIC.
//! * [`kerberos`]: Kerberos V5 initiator (password or `kinit` ccache) and keytab acceptor, RFC 4121 sealing.
//! * [`cbt`]: `tls-server-end-point` channel bindings.
//! * [`credssp`]: CredSSP client and acceptor (delegates the password; opt-in), TLS-session message sealing.
//! * [`digest`]: HTTP Digest client (RFC 7616); the WinRM service itself does not accept Digest.
//! * [`client_cert`]: client certificates (PEM, thumbprint lookup) and server-side mapping to users.
#![forbid(unsafe_code)]

pub mod basic;
pub mod cbt;
pub mod client_cert;
pub mod context;
pub mod credentials;
pub mod credssp;
mod der;
pub mod digest;
pub mod error;
pub mod http;
pub mod kerberos;
pub mod ntlm;
pub mod spnego;
#[cfg(feature = "wsman")]
pub mod winrm_sealing;

pub use basic::{BasicClient, BasicServer, TransportSecurity, check_basic_allowed};
pub use cbt::{ChannelBindings, tls_server_end_point_hash};
pub use context::{AcceptorContext, InitiatorContext, WrappedMessage};
pub use credentials::{ClientIdentity, Credentials, UserDatabase};
pub use error::AuthError;
pub use http::{AcceptStep, ClientAuth, HttpInitiator, NegotiateServer, ServerAuth};
pub use kerberos::{KerberosAcceptor, KerberosClient, KerberosCredential, KerberosError, KerberosOptions, Keytab};
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

/// An HTTP `Negotiate` client that offers Kerberos first and NTLM second.
///
/// With `credentials`, Kerberos obtains tickets with the password (and NTLM uses it if Kerberos is impossible or
/// the server prefers NTLM); without, Kerberos uses the user's `kinit` ticket cache and there is no NTLM
/// fallback (Negotiate with implicit credentials). `target_name` is the SPN (`HTTP/host`, `WSMAN/host`).
pub fn negotiate_kerberos_client(
    credentials: Option<Credentials>,
    target_name: &str,
    options: KerberosOptions,
    channel_bindings: Option<ChannelBindings>,
) -> HttpInitiator<SpnegoClient> {
    let credential = match &credentials {
        Some(c) => KerberosCredential::Password(c.clone()),
        None => KerberosCredential::Cache(None),
    };
    let kerberos =
        KerberosClient::new(credential, target_name, options).with_channel_bindings(channel_bindings.clone());
    let spnego = match credentials {
        Some(c) => SpnegoClient::new(c, Some(target_name.to_owned()), channel_bindings).with_kerberos(kerberos),
        None => SpnegoClient::kerberos_only(kerberos),
    };
    HttpInitiator::new("Negotiate", spnego)
}

/// An HTTP `Kerberos` client (bare Kerberos GSS tokens). When the server answered this scheme, WinRM message
/// encryption uses the protocol `application/HTTP-Kerberos-session-encrypted`.
pub fn kerberos_client(
    credential: KerberosCredential,
    target_name: &str,
    options: KerberosOptions,
    channel_bindings: Option<ChannelBindings>,
) -> HttpInitiator<KerberosClient> {
    HttpInitiator::new(
        "Kerberos",
        KerberosClient::new(credential, target_name, options).with_channel_bindings(channel_bindings),
    )
}

/// An HTTP `NTLM` client (raw NTLMSSP tokens).
pub fn ntlm_client(
    credentials: Credentials,
    target_name: Option<String>,
    channel_bindings: Option<ChannelBindings>,
) -> HttpInitiator<NtlmClient> {
    HttpInitiator::new("NTLM", NtlmClient::new(credentials, target_name, channel_bindings))
}

/// An HTTP `CredSSP` client that **hands the user's plaintext password to the server** once the server has proven
/// its TLS key (see [`credssp`] for the danger). `delegation` is the caller's explicit acknowledgement;
/// `target_name` is the SPN the inner NTLM names (`HTTP/host`).
pub fn credssp_delegating_credentials(
    credentials: Credentials,
    target_name: Option<String>,
    delegation: credssp::CredsspDelegation,
) -> credssp::CredsspHttpClient {
    credssp::CredsspHttpClient::new(credssp::CredsspClient::new(credentials, target_name, delegation))
}

/// Compiles and runs the README's example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
