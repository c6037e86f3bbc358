//! The crate's error type.

use std::fmt;

/// Why authentication or message protection failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// Basic authentication was requested over a connection without TLS and the caller did not allow
    /// unencrypted traffic. The transport should surface this to the user unchanged.
    BasicOverHttpRefused,
    /// A token or header from the peer could not be decoded.
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A token exceeded the documented size limit ([`crate::MAX_TOKEN_LEN`]).
    TooLarge {
        /// What was being decoded.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// The peer's `WWW-Authenticate`/`Authorization` header did not carry the expected scheme or token.
    MissingToken {
        /// The scheme that was expected.
        scheme: &'static str,
    },
    /// The credentials were rejected (unknown user, wrong password, bad NTProofStr).
    LogonDenied,
    /// The NTLM message integrity code (MIC) was missing or did not verify.
    MicMismatch,
    /// The SPNEGO mechListMIC was missing or did not verify.
    MechListMicMismatch,
    /// The channel bindings of the peer did not match ours (or were absent while required).
    ChannelBindingsMismatch,
    /// The peer offered no mechanism or flags we accept.
    Unsupported(&'static str),
    /// The peer rejected the authentication (SPNEGO `reject`, or HTTP 401 after the last leg).
    Rejected,
    /// A method was called in a state where it is not valid (e.g. wrap before completion, step after completion).
    InvalidState(&'static str),
    /// A sealed message's signature did not verify (tampered, reordered or wrong key).
    MessageAltered,
    /// The mechanism cannot protect messages (Basic).
    SealingUnavailable,
    /// The operating system's random number generator failed.
    Random,
    /// Digest authentication was configured but the server offered no `Digest` challenge. The WinRM service itself
    /// never accepts Digest.
    DigestNotOffered,
    /// A CredSSP acceptor answered with an `errorCode` (an NTSTATUS value, e.g. `0xC000006D` logon failure).
    CredsspServerError {
        /// The NTSTATUS the server reported.
        nt_status: u32,
    },
    /// The CredSSP public-key binding (`pubKeyAuth`) did not verify: the TLS session was not made with the
    /// peer that authenticated (a man in the middle), or the peer is broken.
    PublicKeyBindingMismatch,
    /// The TLS session inside CredSSP failed.
    Tls(String),
    /// Kerberos failed: no or an expired ticket, an unknown service principal, an unreachable KDC, clock skew, or an
    /// invalid message; [`crate::KerberosError`] says which, and what to do about it.
    Kerberos(crate::kerberos::error::KerberosError),
}

impl AuthError {
    /// A Kerberos failure described by `message` (invalid messages and files; the typed causes are built directly).
    pub(crate) fn kerberos(message: impl Into<crate::kerberos::error::KerberosError>) -> Self {
        AuthError::Kerberos(message.into())
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BasicOverHttpRefused => f.write_str(
                "Basic authentication over unencrypted HTTP refused; use HTTPS or explicitly allow unencrypted traffic",
            ),
            Self::Malformed { what, reason } => write!(f, "malformed {what}: {reason}"),
            Self::TooLarge { what, len } => write!(f, "{what} too large ({len} bytes)"),
            Self::MissingToken { scheme } => write!(f, "no {scheme} token in the peer's authentication header"),
            Self::LogonDenied => f.write_str("logon denied: unknown user or wrong password"),
            Self::MicMismatch => f.write_str("NTLM message integrity code missing or invalid"),
            Self::MechListMicMismatch => f.write_str("SPNEGO mechListMIC missing or invalid"),
            Self::ChannelBindingsMismatch => f.write_str("channel bindings do not match"),
            Self::Unsupported(what) => write!(f, "unsupported: {what}"),
            Self::Rejected => f.write_str("the peer rejected the authentication"),
            Self::InvalidState(what) => write!(f, "invalid state: {what}"),
            Self::MessageAltered => f.write_str("message signature did not verify"),
            Self::SealingUnavailable => f.write_str("this mechanism cannot seal messages"),
            Self::Random => f.write_str("the system random number generator failed"),
            Self::DigestNotOffered => f.write_str(
                "the server offered no Digest authentication: the WinRM service does not accept Digest \
                 authentication; use Negotiate, Kerberos, CredSSP or Basic over HTTPS",
            ),
            Self::CredsspServerError { nt_status } => {
                write!(f, "the CredSSP server reported error NTSTATUS 0x{nt_status:08X}")?;
                if matches!(*nt_status, 0xC000_006D | 0x8009_030C) {
                    f.write_str(" (logon failure: unknown user or wrong password)")?;
                }
                Ok(())
            }
            Self::PublicKeyBindingMismatch => {
                f.write_str("CredSSP public key binding did not verify: possible man in the middle on the TLS session")
            }
            Self::Tls(e) => write!(f, "CredSSP TLS session failed: {e}"),
            Self::Kerberos(e) => write!(f, "Kerberos: {e}"),
        }
    }
}

impl std::error::Error for AuthError {}

pub(crate) fn malformed(what: &'static str, reason: &'static str) -> AuthError {
    AuthError::Malformed { what, reason }
}
