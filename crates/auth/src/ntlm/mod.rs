//! NTLMv2 (MS-NLMP): initiator, acceptor, message codec and WinRM sealing.
//!
//! Only NTLMv2 with extended session security is spoken; LM and NTLMv1 responses are refused by the acceptor.

pub(crate) mod client;
pub(crate) mod crypto;
pub(crate) mod keystream;
pub mod messages;
pub(crate) mod server;
pub(crate) mod session;

pub use client::NtlmClient;
pub use server::{ChannelBindingPolicy, NtlmAcceptor};
pub use session::SIGNATURE_LEN;

/// NegotiateFlags bits (MS-NLMP 2.2.2.5) this crate uses.
pub mod flags {
    /// NTLMSSP_NEGOTIATE_UNICODE.
    pub const UNICODE: u32 = 0x0000_0001;
    /// NTLMSSP_REQUEST_TARGET.
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    /// NTLMSSP_NEGOTIATE_SIGN.
    pub const SIGN: u32 = 0x0000_0010;
    /// NTLMSSP_NEGOTIATE_SEAL.
    pub const SEAL: u32 = 0x0000_0020;
    /// NTLMSSP_NEGOTIATE_NTLM.
    pub const NTLM: u32 = 0x0000_0200;
    /// NTLMSSP_NEGOTIATE_ALWAYS_SIGN.
    pub const ALWAYS_SIGN: u32 = 0x0000_8000;
    /// NTLMSSP_TARGET_TYPE_SERVER.
    pub const TARGET_TYPE_SERVER: u32 = 0x0002_0000;
    /// NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY.
    pub const EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    /// NTLMSSP_NEGOTIATE_TARGET_INFO.
    pub const TARGET_INFO: u32 = 0x0080_0000;
    /// NTLMSSP_NEGOTIATE_VERSION.
    pub const VERSION: u32 = 0x0200_0000;
    /// NTLMSSP_NEGOTIATE_128.
    pub const NEGOTIATE_128: u32 = 0x2000_0000;
    /// NTLMSSP_NEGOTIATE_KEY_EXCH.
    pub const KEY_EXCH: u32 = 0x4000_0000;
    /// NTLMSSP_NEGOTIATE_56.
    pub const NEGOTIATE_56: u32 = 0x8000_0000;

    /// The flags our initiator requests.
    pub const CLIENT_DEFAULT: u32 = UNICODE
        | REQUEST_TARGET
        | SIGN
        | SEAL
        | NTLM
        | ALWAYS_SIGN
        | EXTENDED_SESSIONSECURITY
        | TARGET_INFO
        | VERSION
        | NEGOTIATE_128
        | KEY_EXCH
        | NEGOTIATE_56;
}

/// Current time as a Windows FILETIME (100 ns ticks since 1601-01-01).
pub(crate) fn filetime_now() -> u64 {
    let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (unix.as_secs() + 11_644_473_600) * 10_000_000 + u64::from(unix.subsec_nanos() / 100)
}

pub(crate) fn random<const N: usize>() -> Result<[u8; N], crate::AuthError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|_| crate::AuthError::Random)?;
    Ok(buf)
}

#[cfg(test)]
mod tests;
