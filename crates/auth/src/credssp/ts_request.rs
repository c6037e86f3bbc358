//! The CredSSP messages (MS-CSSP 2.2.1): `TSRequest`, `NegoData`, `TSCredentials`, `TSPasswordCreds`, DER encoded.
//!
//! ```text
//! TSRequest ::= SEQUENCE {
//!     version     [0] INTEGER,
//!     negoTokens  [1] NegoData    OPTIONAL,
//!     authInfo    [2] OCTET STRING OPTIONAL,
//!     pubKeyAuth  [3] OCTET STRING OPTIONAL,
//!     errorCode   [4] INTEGER      OPTIONAL,   -- version 3+
//!     clientNonce [5] OCTET STRING OPTIONAL }  -- version 5+
//! NegoData ::= SEQUENCE OF SEQUENCE { negoToken [0] OCTET STRING }
//! TSCredentials ::= SEQUENCE { credType [0] INTEGER, credentials [1] OCTET STRING }
//! TSPasswordCreds ::= SEQUENCE { domainName [0] OCTET STRING, userName [1] OCTET STRING, password [2] OCTET STRING }
//! ```

use std::fmt;

use zeroize::Zeroizing;

use crate::der::{DerReader, OCTET_STRING, SEQUENCE, context, tlv, write_tlv};
use crate::error::{AuthError, malformed};

const INTEGER: u8 = 0x02;
const WHAT: &str = "CredSSP TSRequest";
const CREDS: &str = "CredSSP TSCredentials";

/// The most `negoTokens` entries accepted in one `TSRequest` (Windows sends one).
pub const MAX_NEGO_TOKENS: usize = 8;
/// The longest `TSRequest`/`TSCredentials` accepted (the tokens inside stay below [`crate::MAX_TOKEN_LEN`]).
pub const MAX_TS_REQUEST_LEN: usize = crate::MAX_TOKEN_LEN + 4096;
/// The length of a `clientNonce` (MS-CSSP: 32 bytes).
pub const NONCE_LEN: usize = 32;

/// `TSCredentials.credType` of password credentials.
pub const CRED_TYPE_PASSWORD: u32 = 1;

/// One CredSSP `TSRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TsRequest {
    /// The sender's highest supported protocol version.
    pub version: u32,
    /// SPNEGO (or raw NTLM/Kerberos) tokens, usually one.
    pub nego_tokens: Vec<Vec<u8>>,
    /// The encrypted `TSCredentials`.
    pub auth_info: Option<Vec<u8>>,
    /// The encrypted public-key binding.
    pub pub_key_auth: Option<Vec<u8>>,
    /// An NTSTATUS the acceptor reports on failure (version 3+).
    pub error_code: Option<u32>,
    /// The 32-byte nonce of the version 5+ binding hash.
    pub client_nonce: Option<Vec<u8>>,
}

impl TsRequest {
    /// Decodes a `TSRequest`; inputs above [`MAX_TS_REQUEST_LEN`] are refused.
    pub fn parse(data: &[u8]) -> Result<Self, AuthError> {
        if data.len() > MAX_TS_REQUEST_LEN {
            return Err(AuthError::TooLarge { what: WHAT, len: data.len() });
        }
        let mut outer = DerReader::new(data, WHAT);
        let body = outer.expect(SEQUENCE)?;
        if !outer.is_empty() {
            return Err(malformed(WHAT, "trailing data"));
        }
        let mut fields = DerReader::new(body, WHAT);
        let mut req = TsRequest::default();
        let mut last: Option<u8> = None;
        let mut have_version = false;
        while let Some(tag) = fields.peek_tag() {
            if last.is_some_and(|l| tag <= l) {
                return Err(malformed(WHAT, "duplicate or out-of-order field"));
            }
            last = Some(tag);
            let mut inner = DerReader::new(fields.read()?.1, WHAT);
            match tag {
                0xa0 => {
                    req.version = parse_u32(inner.expect(INTEGER)?, WHAT)?;
                    have_version = true;
                }
                0xa1 => {
                    let mut list = DerReader::new(inner.expect(SEQUENCE)?, WHAT);
                    while !list.is_empty() {
                        if req.nego_tokens.len() == MAX_NEGO_TOKENS {
                            return Err(malformed(WHAT, "too many negoTokens"));
                        }
                        let mut entry = DerReader::new(list.expect(SEQUENCE)?, WHAT);
                        let mut token = DerReader::new(entry.expect(context(0))?, WHAT);
                        req.nego_tokens.push(token.expect(OCTET_STRING)?.to_vec());
                    }
                }
                0xa2 => req.auth_info = Some(inner.expect(OCTET_STRING)?.to_vec()),
                0xa3 => req.pub_key_auth = Some(inner.expect(OCTET_STRING)?.to_vec()),
                0xa4 => req.error_code = Some(parse_nt_status(inner.expect(INTEGER)?)?),
                0xa5 => {
                    let nonce = inner.expect(OCTET_STRING)?;
                    if nonce.len() != NONCE_LEN {
                        return Err(malformed(WHAT, "clientNonce is not 32 bytes"));
                    }
                    req.client_nonce = Some(nonce.to_vec());
                }
                _ => return Err(malformed(WHAT, "unknown field")),
            }
            if !inner.is_empty() {
                return Err(malformed(WHAT, "trailing data in a field"));
            }
        }
        if !have_version {
            return Err(malformed(WHAT, "no version"));
        }
        Ok(req)
    }

    /// Encodes the request.
    pub fn encode(&self) -> Vec<u8> {
        let mut fields = tlv(context(0), &integer(i64::from(self.version)));
        if !self.nego_tokens.is_empty() {
            let mut list = Vec::new();
            for token in &self.nego_tokens {
                write_tlv(&mut list, SEQUENCE, &tlv(context(0), &tlv(OCTET_STRING, token)));
            }
            write_tlv(&mut fields, context(1), &tlv(SEQUENCE, &list));
        }
        if let Some(v) = &self.auth_info {
            write_tlv(&mut fields, context(2), &tlv(OCTET_STRING, v));
        }
        if let Some(v) = &self.pub_key_auth {
            write_tlv(&mut fields, context(3), &tlv(OCTET_STRING, v));
        }
        if let Some(code) = self.error_code {
            // NTSTATUS values are 32-bit; Windows encodes them as a signed 32-bit INTEGER.
            write_tlv(&mut fields, context(4), &integer(i64::from(code as i32)));
        }
        if let Some(v) = &self.client_nonce {
            write_tlv(&mut fields, context(5), &tlv(OCTET_STRING, v));
        }
        tlv(SEQUENCE, &fields)
    }
}

/// `TSPasswordCreds` inside `TSCredentials`: what the server receives when credentials are delegated.
/// `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct TsPasswordCreds {
    /// The domain (may be empty).
    pub domain: String,
    /// The user name.
    pub user: String,
    /// The plaintext password.
    pub password: Zeroizing<String>,
}

impl fmt::Debug for TsPasswordCreds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsPasswordCreds")
            .field("domain", &self.domain)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl TsPasswordCreds {
    /// Encodes `TSCredentials { credType = 1, credentials = TSPasswordCreds }` (strings in UTF-16LE).
    /// The result holds the password: it is returned in a zeroizing buffer.
    pub fn encode_ts_credentials(&self) -> Zeroizing<Vec<u8>> {
        let utf16 = |s: &str| Zeroizing::new(s.encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>());
        let mut inner = Zeroizing::new(Vec::new());
        write_tlv(&mut inner, context(0), &tlv(OCTET_STRING, &utf16(&self.domain)));
        write_tlv(&mut inner, context(1), &tlv(OCTET_STRING, &utf16(&self.user)));
        write_tlv(&mut inner, context(2), &Zeroizing::new(tlv(OCTET_STRING, &utf16(&self.password))));
        let creds = Zeroizing::new(tlv(SEQUENCE, &inner));
        let mut outer = Zeroizing::new(tlv(context(0), &integer(i64::from(CRED_TYPE_PASSWORD))));
        write_tlv(&mut outer, context(1), &Zeroizing::new(tlv(OCTET_STRING, &creds)));
        Zeroizing::new(tlv(SEQUENCE, &outer))
    }

    /// Decodes `TSCredentials` holding password credentials (credType 1). Smart-card (2) and Remote Guard (6)
    /// credentials are refused as unsupported.
    pub fn parse_ts_credentials(data: &[u8]) -> Result<Self, AuthError> {
        if data.len() > MAX_TS_REQUEST_LEN {
            return Err(AuthError::TooLarge { what: CREDS, len: data.len() });
        }
        let mut outer = DerReader::new(data, CREDS);
        let body = outer.expect(SEQUENCE)?;
        if !outer.is_empty() {
            return Err(malformed(CREDS, "trailing data"));
        }
        let mut fields = DerReader::new(body, CREDS);
        let cred_type = parse_u32(DerReader::new(fields.expect(context(0))?, CREDS).expect(INTEGER)?, CREDS)?;
        if cred_type != CRED_TYPE_PASSWORD {
            return Err(AuthError::Unsupported("CredSSP credentials other than a password"));
        }
        let creds = DerReader::new(fields.expect(context(1))?, CREDS).expect(OCTET_STRING)?;
        if !fields.is_empty() {
            return Err(malformed(CREDS, "trailing data"));
        }
        let mut outer = DerReader::new(creds, CREDS);
        let mut pw = DerReader::new(outer.expect(SEQUENCE)?, CREDS);
        let mut text = |tag: u8| -> Result<Zeroizing<String>, AuthError> {
            let raw = DerReader::new(pw.expect(context(tag))?, CREDS).expect(OCTET_STRING)?;
            utf16_string(raw)
        };
        let domain = text(0)?;
        let user = text(1)?;
        let password = text(2)?;
        Ok(Self { domain: domain.to_string(), user: user.to_string(), password })
    }
}

fn utf16_string(raw: &[u8]) -> Result<Zeroizing<String>, AuthError> {
    if !raw.len().is_multiple_of(2) {
        return Err(malformed(CREDS, "odd-length UTF-16 string"));
    }
    let units = Zeroizing::new(raw.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect::<Vec<u16>>());
    String::from_utf16(&units).map(Zeroizing::new).map_err(|_| malformed(CREDS, "invalid UTF-16"))
}

/// The minimal two's complement DER encoding of `value` as an INTEGER TLV.
fn integer(value: i64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let mut start = 0;
    while start < bytes.len() - 1 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    tlv(INTEGER, &bytes[start..])
}

/// A signed INTEGER of at most 8 content bytes.
fn parse_i64(content: &[u8], what: &'static str) -> Result<i64, AuthError> {
    if content.is_empty() || content.len() > 8 {
        return Err(malformed(what, "INTEGER of unsupported length"));
    }
    let negative = content.first().is_some_and(|b| b & 0x80 != 0);
    let init: i64 = if negative { -1 } else { 0 };
    Ok(content.iter().fold(init, |acc, &b| (acc << 8) | i64::from(b)))
}

fn parse_u32(content: &[u8], what: &'static str) -> Result<u32, AuthError> {
    u32::try_from(parse_i64(content, what)?).map_err(|_| malformed(what, "INTEGER out of range"))
}

/// errorCode: Windows sends a signed 32-bit value, pyspnego the unsigned one; both map to the same NTSTATUS.
fn parse_nt_status(content: &[u8]) -> Result<u32, AuthError> {
    let v = parse_i64(content, WHAT)?;
    if let Ok(signed) = i32::try_from(v) {
        Ok(signed as u32)
    } else {
        u32::try_from(v).map_err(|_| malformed(WHAT, "errorCode out of range"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_field() {
        let req = TsRequest {
            version: 6,
            nego_tokens: vec![vec![1, 2, 3], vec![0; 300]],
            auth_info: Some(vec![9; 10]),
            pub_key_auth: Some(vec![8; 200]),
            error_code: Some(0xC000_006D),
            client_nonce: Some(vec![7; 32]),
        };
        assert_eq!(TsRequest::parse(&req.encode()).unwrap(), req);
        let minimal = TsRequest { version: 2, ..Default::default() };
        assert_eq!(minimal.encode(), [0x30, 0x05, 0xa0, 0x03, 0x02, 0x01, 0x02]);
        assert_eq!(TsRequest::parse(&minimal.encode()).unwrap(), minimal);
    }

    #[test]
    fn error_code_signed_and_unsigned_forms() {
        // Windows: signed 32-bit (c0 00 00 6d); pyspnego: positive (00 c0 00 00 6d).
        for content in [&[0xc0, 0x00, 0x00, 0x6d][..], &[0x00, 0xc0, 0x00, 0x00, 0x6d]] {
            let mut fields = tlv(context(0), &integer(6));
            write_tlv(&mut fields, context(4), &tlv(INTEGER, content));
            let req = TsRequest::parse(&tlv(SEQUENCE, &fields)).unwrap();
            assert_eq!(req.error_code, Some(0xC000_006D));
        }
    }

    #[test]
    fn integers_are_minimal() {
        assert_eq!(integer(0), [2, 1, 0]);
        assert_eq!(integer(127), [2, 1, 127]);
        assert_eq!(integer(128), [2, 2, 0, 128]);
        assert_eq!(integer(-1), [2, 1, 0xff]);
        assert_eq!(integer(i64::from(0xC000_006Du32 as i32)), [2, 4, 0xc0, 0, 0, 0x6d]);
        for v in [0, 1, 127, 128, 255, 256, -1, -128, -129, i64::from(i32::MIN), i64::from(u32::MAX)] {
            let enc = integer(v);
            assert_eq!(parse_i64(&enc[2..], "t").unwrap(), v);
        }
    }

    #[test]
    fn credentials_round_trip_and_redact() {
        let creds = TsPasswordCreds {
            domain: "EXAMPLE".into(),
            user: "alice".into(),
            password: Zeroizing::new("Pässw0rd!".into()),
        };
        let enc = creds.encode_ts_credentials();
        assert_eq!(TsPasswordCreds::parse_ts_credentials(&enc).unwrap(), creds);
        assert!(!format!("{creds:?}").contains("w0rd"));
    }

    #[test]
    fn bad_input_is_an_error() {
        let good = TsRequest { version: 6, nego_tokens: vec![vec![1]], ..Default::default() }.encode();
        for cut in 0..good.len() {
            assert!(TsRequest::parse(&good[..cut]).is_err());
        }
        // version missing, out of order, wrong nonce length
        assert!(TsRequest::parse(&tlv(SEQUENCE, &[])).is_err());
        let mut f = tlv(context(3), &tlv(OCTET_STRING, b"x"));
        write_tlv(&mut f, context(0), &integer(6));
        assert!(TsRequest::parse(&tlv(SEQUENCE, &f)).is_err());
        let mut f = tlv(context(0), &integer(6));
        write_tlv(&mut f, context(5), &tlv(OCTET_STRING, &[0; 16]));
        assert!(TsRequest::parse(&tlv(SEQUENCE, &f)).is_err());
        let mut f = tlv(context(0), &integer(-1));
        write_tlv(&mut f, context(2), &tlv(OCTET_STRING, &[0; 16]));
        assert!(TsRequest::parse(&tlv(SEQUENCE, &f)).is_err());
        assert!(TsPasswordCreds::parse_ts_credentials(&[0x30, 0x00]).is_err());
    }
}
