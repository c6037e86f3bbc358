//! Kerberos V5 (RFC 4120) with the GSS-API mechanism of RFC 4121, written on RustCrypto primitives.
//!
//! * [`KerberosClient`]: the initiator. Credentials are a password (AS exchange with PA-ENC-TIMESTAMP
//!   pre-authentication, then a TGS exchange for `HTTP/<host>` or another SPN) or the user's `FILE:` credential
//!   cache from `kinit` (`KRB5CCNAME` honoured). KDCs come from `krb5.conf` (`KRB5_CONFIG` honoured) or are
//!   given explicitly. The AP-REQ asks for mutual authentication; the AP-REP is verified.
//! * [`KerberosAcceptor`]: the acceptor, with the service keys of an MIT keytab ([`Keytab`]).
//! * Message protection: RFC 4121 Wrap tokens (AES128/AES256-CTS-HMAC-SHA1-96), laid out for WinRM message
//!   encryption (a 60-byte header for AES), and MIC tokens for the SPNEGO mechListMIC.
//!
//! Only the AES encryption types are implemented (no RC4-HMAC, no DES, no AES-SHA2 of RFC 8009); no
//! cross-realm referrals, no PKINIT, no FAST, no credential delegation.
//!
//! Limits: every token is bounded by [`crate::MAX_TOKEN_LEN`], KDC replies by [`kdc::MAX_KDC_REPLY`], file
//! fields by [`files::MAX_FIELD_LEN`], the PBKDF2 iteration count a KDC may ask for by
//! [`crypto::MAX_ITERATIONS`].

pub mod acceptor;
pub mod asn1;
pub mod client;
pub mod config;
pub mod crypto;
pub mod error;
pub mod files;
pub mod gss;
pub mod kdc;

pub use acceptor::KerberosAcceptor;
pub use client::{KerberosClient, KerberosCredential, KerberosOptions, ServiceTicket, TicketAcquirer};
pub use config::Krb5Config;
pub use crypto::EncryptionKey;
pub use error::KerberosError;
pub use files::{CredentialCache, Keytab};
pub use kdc::{KdcTransport, TcpKdc};

use crate::context::WrappedMessage;

/// Key usage numbers of RFC 4120 section 7.5.1.
pub(crate) mod usage {
    pub const PA_ENC_TIMESTAMP: u32 = 1;
    pub const TICKET: u32 = 2;
    pub const AS_REP_ENC_PART: u32 = 3;
    pub const TGS_REQ_AUTH_CKSUM: u32 = 6;
    pub const TGS_REQ_AUTH: u32 = 7;
    pub const TGS_REP_ENC_PART_SESSION: u32 = 8;
    pub const AP_REQ_AUTH: u32 = 11;
    pub const AP_REP_ENC_PART: u32 = 12;
}

/// The current time as Unix seconds and microseconds.
pub(crate) fn now() -> (i64, u32) {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (i64::try_from(d.as_secs()).unwrap_or(i64::MAX), d.subsec_micros())
}

/// Splits a Wrap token into the WinRM header (token header, confounder, rotated header copy and checksum) and
/// the encrypted data.
pub(crate) fn split_winrm(mut token: Vec<u8>, header_len: usize) -> WrappedMessage {
    let data = token.split_off(header_len.min(token.len()));
    WrappedMessage { header: token, data }
}
