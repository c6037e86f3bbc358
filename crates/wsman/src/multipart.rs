//! WinRM message encryption framing over HTTP (MS-WSMV 2.2.9.1): `multipart/encrypted` and, for CredSSP messages
//! longer than 16 KiB, `multipart/x-multi-encrypted`.
//!
//! This module is sans-IO byte manipulation. The cryptography belongs to an authentication mechanism, which
//! implements [`MessageSealer`]; [`encrypt`] and [`decrypt`] lay the sealed bytes out as Windows expects:
//!
//! ```text
//! --Encrypted Boundary\r\n
//! \tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n
//! \tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=<plaintext length + padding>\r\n
//! --Encrypted Boundary\r\n
//! \tContent-Type: application/octet-stream\r\n
//! <u32 LE header length><header><ciphertext>--Encrypted Boundary--\r\n
//! ```
//!
//! The receiver splits on the boundary (tolerating whitespace after the leading `--`, as Exchange emits), unwraps
//! each part and rejects a part whose plaintext length differs from its `Length=`.

use std::fmt;

/// The MIME boundary every WinRM implementation uses.
pub const BOUNDARY: &str = "Encrypted Boundary";

/// The plaintext chunk size for `multipart/x-multi-encrypted` (CredSSP only).
pub const CREDSSP_CHUNK_SIZE: usize = 16 * 1024;

/// The `protocol` parameter of the encrypted content type, chosen by the authentication scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EncryptionProtocol {
    /// `application/HTTP-SPNEGO-session-encrypted`: Negotiate and NTLM.
    Spnego,
    /// `application/HTTP-Kerberos-session-encrypted`: when the server answered the `Kerberos` scheme.
    Kerberos,
    /// `application/HTTP-CredSSP-session-encrypted`: CredSSP, chunked by 16 KiB.
    CredSsp,
}

impl EncryptionProtocol {
    /// The protocol's MIME name.
    pub fn mime_type(self) -> &'static str {
        match self {
            EncryptionProtocol::Spnego => "application/HTTP-SPNEGO-session-encrypted",
            EncryptionProtocol::Kerberos => "application/HTTP-Kerberos-session-encrypted",
            EncryptionProtocol::CredSsp => "application/HTTP-CredSSP-session-encrypted",
        }
    }

    /// The protocol with this MIME name (ASCII case-insensitive).
    pub fn from_mime_type(name: &str) -> Option<Self> {
        [EncryptionProtocol::Spnego, EncryptionProtocol::Kerberos, EncryptionProtocol::CredSsp]
            .into_iter()
            .find(|p| p.mime_type().eq_ignore_ascii_case(name.trim()))
    }
}

/// One message sealed by a mechanism.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The bytes written after the 4-byte length: the NTLM signature (16 bytes), the Kerberos RFC 4121 wrap
    /// header, or for CredSSP the TLS record bytes the mechanism counts as its trailer.
    pub header: Vec<u8>,
    /// The encrypted data that follows the header.
    pub ciphertext: Vec<u8>,
    /// Padding bytes the mechanism added to the plaintext (Kerberos); counted in `Length=`.
    pub padding: usize,
}

/// A mechanism's wrap/unwrap for WinRM message encryption; `pssession-auth` implements it per mechanism.
pub trait MessageSealer {
    /// Seals one plaintext message (or one CredSSP chunk).
    fn wrap(&mut self, plaintext: &[u8]) -> Result<Sealed, SealError>;

    /// Unseals one part given the header and the ciphertext; returns the plaintext (padding removed).
    fn unwrap(&mut self, header: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, SealError>;
}

/// A mechanism's wrap or unwrap failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealError {
    /// What went wrong, for people; never contains key material.
    pub message: String,
}

impl SealError {
    /// An error with this description.
    pub fn new(message: impl Into<String>) -> Self {
        SealError { message: message.into() }
    }
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SealError {}

/// Why an encrypted body could not be built or read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MultipartError {
    /// The `Content-Type` is not `multipart/encrypted` or `multipart/x-multi-encrypted`.
    NotEncrypted,
    /// The `protocol` parameter is missing or names no known protocol.
    UnknownProtocol,
    /// The body does not follow the layout; `offset` is where reading stopped.
    Malformed {
        /// Byte offset in the body.
        offset: usize,
        /// What was expected there.
        expected: &'static str,
    },
    /// A part's protocol differs from the one in the `Content-Type`.
    ProtocolMismatch,
    /// The body holds more parts than [`Limits::max_parts`].
    TooManyParts,
    /// The body, or a part's declared length, exceeds [`Limits::max_body`].
    TooLarge,
    /// A plaintext part's length differs from its `Length=`.
    LengthMismatch {
        /// The declared length.
        declared: usize,
        /// The length after unwrapping.
        actual: usize,
    },
    /// The mechanism failed.
    Seal(SealError),
}

impl fmt::Display for MultipartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MultipartError::NotEncrypted => f.write_str("content type is not multipart/encrypted"),
            MultipartError::UnknownProtocol => f.write_str("missing or unknown encryption protocol"),
            MultipartError::Malformed { offset, expected } => {
                write!(f, "malformed encrypted body at byte {offset}: expected {expected}")
            }
            MultipartError::ProtocolMismatch => f.write_str("part protocol differs from the content type"),
            MultipartError::TooManyParts => f.write_str("too many encrypted parts"),
            MultipartError::TooLarge => f.write_str("encrypted body exceeds the size limit"),
            MultipartError::LengthMismatch { declared, actual } => {
                write!(f, "decrypted part is {actual} bytes, declared {declared}")
            }
            MultipartError::Seal(e) => write!(f, "message sealing failed: {e}"),
        }
    }
}

impl std::error::Error for MultipartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MultipartError::Seal(e) => Some(e),
            _ => None,
        }
    }
}

impl From<SealError> for MultipartError {
    fn from(e: SealError) -> Self {
        MultipartError::Seal(e)
    }
}

/// Limits applied when reading an encrypted body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest body, and the largest declared plaintext, accepted. Default 64 MiB.
    pub max_body: usize,
    /// The most parts accepted. Default 4096 (64 MiB of 16 KiB CredSSP chunks).
    pub max_parts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_body: 64 << 20, max_parts: 4096 }
    }
}

/// An encrypted HTTP body with the `Content-Type` header value to send it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedBody {
    /// The `Content-Type` header value.
    pub content_type: String,
    /// The body bytes.
    pub body: Vec<u8>,
}

/// One part of an encrypted body, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncryptedPart<'a> {
    /// The protocol named by the part.
    pub protocol: EncryptionProtocol,
    /// The declared plaintext length (`Length=`), padding included.
    pub length: usize,
    /// The mechanism header (after the 4-byte length).
    pub header: &'a [u8],
    /// The ciphertext after the header.
    pub ciphertext: &'a [u8],
}

/// The `Content-Type` header value for a body of this protocol; `multi` selects `multipart/x-multi-encrypted`.
pub fn content_type(protocol: EncryptionProtocol, multi: bool) -> String {
    let kind = if multi { "multipart/x-multi-encrypted" } else { "multipart/encrypted" };
    format!("{kind};protocol=\"{}\";boundary=\"{BOUNDARY}\"", protocol.mime_type())
}

/// Seals `plaintext` (a SOAP envelope) with `sealer` and frames it. CredSSP messages longer than
/// [`CREDSSP_CHUNK_SIZE`] are sealed in chunks and sent as `multipart/x-multi-encrypted`.
pub fn encrypt(
    sealer: &mut dyn MessageSealer,
    protocol: EncryptionProtocol,
    plaintext: &[u8],
) -> Result<EncryptedBody, MultipartError> {
    let multi = protocol == EncryptionProtocol::CredSsp && plaintext.len() > CREDSSP_CHUNK_SIZE;
    let mut body = Vec::with_capacity(plaintext.len() + 256);
    if multi {
        for chunk in plaintext.chunks(CREDSSP_CHUNK_SIZE) {
            write_part(&mut body, sealer, protocol, chunk)?;
        }
    } else {
        write_part(&mut body, sealer, protocol, plaintext)?;
    }
    body.extend_from_slice(b"--");
    body.extend_from_slice(BOUNDARY.as_bytes());
    body.extend_from_slice(b"--\r\n");
    Ok(EncryptedBody { content_type: content_type(protocol, multi), body })
}

fn write_part(
    body: &mut Vec<u8>,
    sealer: &mut dyn MessageSealer,
    protocol: EncryptionProtocol,
    plaintext: &[u8],
) -> Result<(), MultipartError> {
    let sealed = sealer.wrap(plaintext)?;
    let header_len = u32::try_from(sealed.header.len()).map_err(|_| SealError::new("seal header too long"))?;
    let length = plaintext.len() + sealed.padding;
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\n\tContent-Type: {}\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length={length}\r\n--{BOUNDARY}\r\n\tContent-Type: application/octet-stream\r\n",
            protocol.mime_type()
        )
        .as_bytes(),
    );
    body.extend_from_slice(&header_len.to_le_bytes());
    body.extend_from_slice(&sealed.header);
    body.extend_from_slice(&sealed.ciphertext);
    Ok(())
}

/// Reads the protocol and whether the body may hold several parts from a `Content-Type` value.
pub fn parse_content_type(value: &str) -> Result<(EncryptionProtocol, bool), MultipartError> {
    let mut params = value.split(';');
    let kind = params.next().unwrap_or("").trim();
    let multi = if kind.eq_ignore_ascii_case("multipart/encrypted") {
        false
    } else if kind.eq_ignore_ascii_case("multipart/x-multi-encrypted") {
        true
    } else {
        return Err(MultipartError::NotEncrypted);
    };
    for param in params {
        if let Some((name, v)) = param.split_once('=')
            && name.trim().eq_ignore_ascii_case("protocol")
        {
            let v = v.trim().trim_matches('"');
            return EncryptionProtocol::from_mime_type(v).map(|p| (p, multi)).ok_or(MultipartError::UnknownProtocol);
        }
    }
    Err(MultipartError::UnknownProtocol)
}

/// Splits an encrypted body into its parts without unwrapping them.
pub fn parse_parts<'a>(body: &'a [u8], limits: &Limits) -> Result<Vec<EncryptedPart<'a>>, MultipartError> {
    if body.len() > limits.max_body {
        return Err(MultipartError::TooLarge);
    }
    let mut parts = Vec::new();
    let mut pos = expect_boundary(body, 0)?;
    loop {
        if body.get(pos..pos + 2) == Some(b"--") {
            // Closing boundary; trailing bytes (CRLF) are ignored.
            break;
        }
        pos = expect(body, pos, b"\r\n", "CRLF after boundary")?;
        if parts.len() == limits.max_parts {
            return Err(MultipartError::TooManyParts);
        }
        // First section: protocol and original content, up to the next boundary.
        let end = find_boundary(body, pos).ok_or(MultipartError::Malformed { offset: pos, expected: "boundary" })?;
        let (protocol, length) = parse_part_headers(body.get(pos..end).unwrap_or_default(), pos)?;
        if length > limits.max_body {
            return Err(MultipartError::TooLarge);
        }
        pos = expect_boundary(body, end)?;
        pos = expect(body, pos, b"\r\n", "CRLF after boundary")?;
        pos = skip_blanks(body, pos);
        pos = expect_ci(body, pos, b"Content-Type: application/octet-stream\r\n", "octet-stream content type")?;
        let len_bytes: [u8; 4] = body
            .get(pos..pos + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or(MultipartError::Malformed { offset: pos, expected: "4-byte header length" })?;
        pos += 4;
        let header_len = u32::from_le_bytes(len_bytes) as usize;
        let header = body
            .get(pos..pos.saturating_add(header_len))
            .ok_or(MultipartError::Malformed { offset: pos, expected: "seal header" })?;
        pos += header_len;
        let end = find_boundary(body, pos).ok_or(MultipartError::Malformed { offset: pos, expected: "boundary" })?;
        let ciphertext = body.get(pos..end).unwrap_or_default();
        parts.push(EncryptedPart { protocol, length, header, ciphertext });
        pos = expect_boundary(body, end)?;
    }
    Ok(parts)
}

/// Unwraps an encrypted body received with `content_type`; returns the SOAP envelope.
pub fn decrypt(
    sealer: &mut dyn MessageSealer,
    content_type: &str,
    body: &[u8],
    limits: &Limits,
) -> Result<Vec<u8>, MultipartError> {
    let (protocol, multi) = parse_content_type(content_type)?;
    let parts = parse_parts(body, limits)?;
    if parts.is_empty() || (!multi && parts.len() > 1) {
        return Err(MultipartError::Malformed { offset: 0, expected: "exactly one encrypted part" });
    }
    let mut out = Vec::new();
    for part in parts {
        if part.protocol != protocol {
            return Err(MultipartError::ProtocolMismatch);
        }
        let plain = sealer.unwrap(part.header, part.ciphertext)?;
        if plain.len() != part.length {
            return Err(MultipartError::LengthMismatch { declared: part.length, actual: plain.len() });
        }
        if out.len() + plain.len() > limits.max_body {
            return Err(MultipartError::TooLarge);
        }
        out.extend_from_slice(&plain);
    }
    Ok(out)
}

fn parse_part_headers(section: &[u8], offset: usize) -> Result<(EncryptionProtocol, usize), MultipartError> {
    let malformed = |expected| MultipartError::Malformed { offset, expected };
    let text = std::str::from_utf8(section).map_err(|_| malformed("ASCII part headers"))?;
    let mut protocol = None;
    let mut length = None;
    for line in text.split("\r\n") {
        let line = line.trim();
        let Some((name, value)) = line.split_once(':') else { continue };
        if name.eq_ignore_ascii_case("Content-Type") {
            protocol = Some(EncryptionProtocol::from_mime_type(value).ok_or(MultipartError::UnknownProtocol)?);
        } else if name.eq_ignore_ascii_case("OriginalContent") {
            for param in value.split(';') {
                if let Some((k, v)) = param.split_once('=')
                    && k.trim().eq_ignore_ascii_case("Length")
                {
                    length = Some(v.trim().parse::<usize>().map_err(|_| malformed("decimal Length"))?);
                }
            }
        }
    }
    Ok((protocol.ok_or(malformed("part Content-Type"))?, length.ok_or(malformed("OriginalContent Length"))?))
}

/// Finds the start of the next `--<spaces>Encrypted Boundary` at or after `from`.
fn find_boundary(body: &[u8], from: usize) -> Option<usize> {
    let mut start = from;
    while let Some(rest) = body.get(start..) {
        // The ciphertext before the closing boundary is most of a body: a SIMD search, not a byte loop.
        let i = memchr::memmem::find(rest, b"--")? + start;
        let after = skip_spaces(body, i + 2);
        if body.get(after..after + BOUNDARY.len()) == Some(BOUNDARY.as_bytes()) {
            return Some(i);
        }
        start = i + 1;
    }
    None
}

fn expect_boundary(body: &[u8], pos: usize) -> Result<usize, MultipartError> {
    let pos = expect(body, pos, b"--", "boundary")?;
    let pos = skip_spaces(body, pos);
    expect(body, pos, BOUNDARY.as_bytes(), "boundary")
}

fn expect(body: &[u8], pos: usize, what: &[u8], expected: &'static str) -> Result<usize, MultipartError> {
    if body.get(pos..pos + what.len()) == Some(what) {
        Ok(pos + what.len())
    } else {
        Err(MultipartError::Malformed { offset: pos, expected })
    }
}

fn expect_ci(body: &[u8], pos: usize, what: &[u8], expected: &'static str) -> Result<usize, MultipartError> {
    match body.get(pos..pos + what.len()) {
        Some(b) if b.eq_ignore_ascii_case(what) => Ok(pos + what.len()),
        _ => Err(MultipartError::Malformed { offset: pos, expected }),
    }
}

fn skip_spaces(body: &[u8], mut pos: usize) -> usize {
    while body.get(pos) == Some(&b' ') {
        pos += 1;
    }
    pos
}

fn skip_blanks(body: &[u8], mut pos: usize) -> usize {
    while matches!(body.get(pos), Some(b' ' | b'\t')) {
        pos += 1;
    }
    pos
}
