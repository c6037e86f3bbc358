//! NTLM message codec (MS-NLMP 2.2.1): NEGOTIATE, CHALLENGE, AUTHENTICATE and AV pairs.
//!
//! Parsing never panics: every field offset and length is checked against the message; messages above
//! [`crate::MAX_TOKEN_LEN`] are rejected and at most [`MAX_AV_PAIRS`] AV pairs are read.

use super::flags;
use crate::error::{AuthError, malformed};

/// The NTLMSSP signature that starts every message.
pub const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";
/// The most AV pairs a target info may carry.
pub const MAX_AV_PAIRS: usize = 64;

pub(crate) const AV_EOL: u16 = 0x0000;
pub(crate) const AV_NB_COMPUTER_NAME: u16 = 0x0001;
pub(crate) const AV_NB_DOMAIN_NAME: u16 = 0x0002;
pub(crate) const AV_DNS_COMPUTER_NAME: u16 = 0x0003;
pub(crate) const AV_DNS_DOMAIN_NAME: u16 = 0x0004;
pub(crate) const AV_FLAGS: u16 = 0x0006;
pub(crate) const AV_TIMESTAMP: u16 = 0x0007;
pub(crate) const AV_TARGET_NAME: u16 = 0x0009;
pub(crate) const AV_CHANNEL_BINDINGS: u16 = 0x000a;

/// MsvAvFlags bit: the AUTHENTICATE message carries a MIC.
pub(crate) const AV_FLAG_MIC: u32 = 0x2;

/// Offset of the MIC in an AUTHENTICATE message (after the version field).
pub const MIC_OFFSET: usize = 72;
const AUTHENTICATE_HEADER_LEN: usize = 88;
const CHALLENGE_HEADER_LEN: usize = 56;
const NEGOTIATE_LEN: usize = 40;

/// Version field we send: Windows 10.0 build 20348, NTLMSSP_REVISION_W2K3.
pub(crate) const VERSION: [u8; 8] = [10, 0, 0x7c, 0x4f, 0, 0, 0, 0x0f];

const WHAT: &str = "NTLM message";

fn u16_at(msg: &[u8], at: usize) -> Result<u16, AuthError> {
    let b = msg.get(at..at + 2).ok_or(malformed(WHAT, "truncated header"))?;
    Ok(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(msg: &[u8], at: usize) -> Result<u32, AuthError> {
    let b = msg.get(at..at + 4).ok_or(malformed(WHAT, "truncated header"))?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Reads a (Len, MaxLen, BufferOffset) field descriptor and returns the payload it points at.
fn field(msg: &[u8], at: usize) -> Result<&[u8], AuthError> {
    let len = usize::from(u16_at(msg, at)?);
    let offset = u32_at(msg, at + 4)? as usize;
    if len == 0 {
        return Ok(&[]);
    }
    offset.checked_add(len).and_then(|end| msg.get(offset..end)).ok_or(malformed(WHAT, "field outside the message"))
}

fn field_offset(msg: &[u8], at: usize) -> Result<usize, AuthError> {
    Ok(u32_at(msg, at + 4)? as usize)
}

fn check_header(msg: &[u8], message_type: u32) -> Result<(), AuthError> {
    if msg.len() > crate::MAX_TOKEN_LEN {
        return Err(AuthError::TooLarge { what: WHAT, len: msg.len() });
    }
    if !msg.starts_with(SIGNATURE) {
        return Err(malformed(WHAT, "missing NTLMSSP signature"));
    }
    if u32_at(msg, 8)? != message_type {
        return Err(malformed(WHAT, "unexpected message type"));
    }
    Ok(())
}

pub(crate) fn decode_utf16(bytes: &[u8]) -> Result<String, AuthError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(malformed(WHAT, "odd-length UTF-16 string"));
    }
    let units: Vec<u16> = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    String::from_utf16(&units).map_err(|_| malformed(WHAT, "invalid UTF-16 string"))
}

/// A parsed NEGOTIATE message (only the flags matter to us).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiate {
    /// NegotiateFlags.
    pub flags: u32,
}

impl Negotiate {
    /// Parses a NEGOTIATE message.
    pub fn parse(msg: &[u8]) -> Result<Self, AuthError> {
        check_header(msg, 1)?;
        Ok(Self { flags: u32_at(msg, 12)? })
    }

    /// Encodes a NEGOTIATE message without domain or workstation.
    pub fn encode(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(NEGOTIATE_LEN);
        m.extend_from_slice(SIGNATURE);
        m.extend_from_slice(&1u32.to_le_bytes());
        m.extend_from_slice(&self.flags.to_le_bytes());
        for _ in 0..2 {
            m.extend_from_slice(&[0, 0, 0, 0]);
            m.extend_from_slice(&(NEGOTIATE_LEN as u32).to_le_bytes());
        }
        m.extend_from_slice(&VERSION);
        m
    }
}

/// A parsed CHALLENGE message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// NegotiateFlags chosen by the server.
    pub flags: u32,
    /// The 8-byte server challenge.
    pub server_challenge: [u8; 8],
    /// TargetName (raw bytes).
    pub target_name: Vec<u8>,
    /// TargetInfo (raw AV pairs).
    pub target_info: Vec<u8>,
}

impl Challenge {
    /// Parses a CHALLENGE message.
    pub fn parse(msg: &[u8]) -> Result<Self, AuthError> {
        check_header(msg, 2)?;
        let flags = u32_at(msg, 20)?;
        let mut server_challenge = [0u8; 8];
        server_challenge.copy_from_slice(msg.get(24..32).ok_or(malformed(WHAT, "truncated header"))?);
        let target_name = field(msg, 12)?.to_vec();
        let target_info = if flags & flags::TARGET_INFO != 0 { field(msg, 40)?.to_vec() } else { Vec::new() };
        parse_av_pairs(&target_info)?;
        Ok(Self { flags, server_challenge, target_name, target_info })
    }

    /// Encodes a CHALLENGE message.
    pub fn encode(&self) -> Vec<u8> {
        let name_off = CHALLENGE_HEADER_LEN;
        let info_off = name_off + self.target_name.len();
        let mut m = Vec::with_capacity(info_off + self.target_info.len());
        m.extend_from_slice(SIGNATURE);
        m.extend_from_slice(&2u32.to_le_bytes());
        push_field(&mut m, self.target_name.len(), name_off);
        m.extend_from_slice(&self.flags.to_le_bytes());
        m.extend_from_slice(&self.server_challenge);
        m.extend_from_slice(&[0; 8]);
        push_field(&mut m, self.target_info.len(), info_off);
        m.extend_from_slice(&VERSION);
        m.extend_from_slice(&self.target_name);
        m.extend_from_slice(&self.target_info);
        m
    }
}

fn push_field(m: &mut Vec<u8>, len: usize, offset: usize) {
    let len = len as u16;
    m.extend_from_slice(&len.to_le_bytes());
    m.extend_from_slice(&len.to_le_bytes());
    m.extend_from_slice(&(offset as u32).to_le_bytes());
}

/// A parsed AUTHENTICATE message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticate {
    /// NegotiateFlags.
    pub flags: u32,
    /// LmChallengeResponse.
    pub lm_response: Vec<u8>,
    /// NtChallengeResponse (NTProofStr followed by the NTLMv2 client challenge blob).
    pub nt_response: Vec<u8>,
    /// DomainName.
    pub domain: String,
    /// UserName.
    pub user: String,
    /// Workstation.
    pub workstation: String,
    /// EncryptedRandomSessionKey (empty without KEY_EXCH).
    pub encrypted_session_key: Vec<u8>,
    /// The MIC field, when the payload starts after it.
    pub mic: Option<[u8; 16]>,
}

impl Authenticate {
    /// Parses an AUTHENTICATE message. Strings must be Unicode.
    pub fn parse(msg: &[u8]) -> Result<Self, AuthError> {
        check_header(msg, 3)?;
        let flags = u32_at(msg, 60)?;
        if flags & flags::UNICODE == 0 {
            return Err(AuthError::Unsupported("NTLM without NEGOTIATE_UNICODE"));
        }
        let payload_start = [12, 20, 28, 36, 44, 52]
            .into_iter()
            .filter(|&at| u16_at(msg, at).is_ok_and(|len| len > 0))
            .map(|at| field_offset(msg, at))
            .try_fold(usize::MAX, |min, off| off.map(|o| min.min(o)))?;
        let mic = if payload_start >= AUTHENTICATE_HEADER_LEN {
            let mut mic = [0u8; 16];
            mic.copy_from_slice(msg.get(MIC_OFFSET..MIC_OFFSET + 16).ok_or(malformed(WHAT, "truncated MIC"))?);
            Some(mic)
        } else {
            None
        };
        Ok(Self {
            flags,
            lm_response: field(msg, 12)?.to_vec(),
            nt_response: field(msg, 20)?.to_vec(),
            domain: decode_utf16(field(msg, 28)?)?,
            user: decode_utf16(field(msg, 36)?)?,
            workstation: decode_utf16(field(msg, 44)?)?,
            encrypted_session_key: field(msg, 52)?.to_vec(),
            mic,
        })
    }

    /// Encodes the message; the MIC field (at [`MIC_OFFSET`]) holds `mic`, or zeros for the caller to fill.
    pub fn encode(&self) -> Vec<u8> {
        let domain = super::crypto::utf16le(&self.domain);
        let user = super::crypto::utf16le(&self.user);
        let workstation = super::crypto::utf16le(&self.workstation);
        let parts: [&[u8]; 6] =
            [&self.lm_response, &self.nt_response, &domain, &user, &workstation, &self.encrypted_session_key];
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let mut m = Vec::with_capacity(AUTHENTICATE_HEADER_LEN + total);
        m.extend_from_slice(SIGNATURE);
        m.extend_from_slice(&3u32.to_le_bytes());
        let mut offset = AUTHENTICATE_HEADER_LEN;
        for p in parts {
            push_field(&mut m, p.len(), offset);
            offset += p.len();
        }
        m.extend_from_slice(&self.flags.to_le_bytes());
        m.extend_from_slice(&VERSION);
        m.extend_from_slice(&self.mic.unwrap_or([0; 16]));
        for p in parts {
            m.extend_from_slice(p);
        }
        m
    }
}

/// Parses AV pairs up to MsvAvEOL.
pub(crate) fn parse_av_pairs(info: &[u8]) -> Result<Vec<(u16, &[u8])>, AuthError> {
    let mut pairs = Vec::new();
    let mut rest = info;
    if rest.is_empty() {
        return Ok(pairs);
    }
    loop {
        if pairs.len() > MAX_AV_PAIRS {
            return Err(malformed(WHAT, "too many AV pairs"));
        }
        let (head, after) = rest.split_at_checked(4).ok_or(malformed(WHAT, "truncated AV pair"))?;
        let id = u16::from_le_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_le_bytes([head[2], head[3]]));
        let (value, after) = after.split_at_checked(len).ok_or(malformed(WHAT, "AV pair outside target info"))?;
        if id == AV_EOL {
            return Ok(pairs);
        }
        pairs.push((id, value));
        rest = after;
    }
}

/// Encodes AV pairs followed by MsvAvEOL.
pub(crate) fn encode_av_pairs(pairs: &[(u16, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (id, value) in pairs {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&(value.len() as u16).to_le_bytes());
        out.extend_from_slice(value);
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_pointing_outside_are_errors() {
        let mut m = Challenge {
            flags: flags::TARGET_INFO | flags::UNICODE,
            server_challenge: [1; 8],
            target_name: vec![],
            target_info: encode_av_pairs(&[(AV_NB_DOMAIN_NAME, b"D\0")]),
        }
        .encode();
        assert!(Challenge::parse(&m).is_ok());
        m[44] = 0xff; // TargetInfo offset far outside
        assert!(Challenge::parse(&m).is_err());
        assert!(Authenticate::parse(&m).is_err());
        assert!(Negotiate::parse(b"NTLMSSP\0\x01").is_err());
    }

    #[test]
    fn av_pairs_round_trip_and_reject_truncation() {
        let enc = encode_av_pairs(&[(AV_FLAGS, &[2, 0, 0, 0]), (AV_TARGET_NAME, b"H\0")]);
        assert_eq!(parse_av_pairs(&enc).unwrap(), vec![(AV_FLAGS, &[2u8, 0, 0, 0][..]), (AV_TARGET_NAME, &b"H\0"[..])]);
        assert!(parse_av_pairs(&enc[..enc.len() - 2]).is_err());
    }
}
