//! The SecureString session key of protocol versions before 2.4 (MS-PSRP 3.1.5.4.5 / 3.2.5.4.5, 2.2.2.3–2.2.2.5,
//! 2.2.5.1.24).
//!
//! A `<SS>` value travels encrypted with a session key both sides share:
//!
//! 1. the client generates an RSA-2048 key pair the first time it needs the key (it has a SecureString to send, or
//!    the server sent PUBLIC_KEY_REQUEST) and sends PUBLIC_KEY: its public key as a CAPI `PUBLICKEYBLOB`, base64;
//! 2. the server answers ENCRYPTED_SESSION_KEY: a random AES-256 key, RSA PKCS#1 v1.5-encrypted for that public key,
//!    as a CAPI `SIMPLEBLOB`, base64;
//! 3. each SecureString is then AES-256-CBC (zero IV, PKCS#7 padding) of its UTF-16LE text.
//!
//! CAPI blobs store integers little-endian (the modulus, the RSA ciphertext), unlike PKCS#1's big-endian.
//!
//! Nothing here draws randomness itself: key generation, RSA blinding and PKCS#1 padding take the caller's
//! [`TryCryptoRng`] (the driver hands in the OS generator), so a test can pin every byte.

use std::fmt;

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand_core::TryCryptoRng;
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, Pkcs1v15Encrypt};
use zeroize::{Zeroize, Zeroizing};

use crate::messages::{EncryptedSessionKey, PublicKey};

/// The RSA modulus size the client generates, as PowerShell does.
pub const RSA_KEY_BITS: usize = 2048;
/// Length of the AES-256 session key.
pub const SESSION_KEY_LEN: usize = 32;

/// `bType` of a CAPI `PUBLICKEYBLOB`.
const PUBLICKEYBLOB: u8 = 0x06;
/// `bType` of a CAPI `SIMPLEBLOB`.
const SIMPLEBLOB: u8 = 0x01;
/// `bVersion` of both blobs (`CUR_BLOB_VERSION`).
const BLOB_VERSION: u8 = 0x02;
/// `CALG_RSA_KEYX`: the public key's algorithm, and the algorithm that encrypted a `SIMPLEBLOB`'s key.
const CALG_RSA_KEYX: u32 = 0x0000_a400;
/// `CALG_AES_256`: the algorithm of the session key.
const CALG_AES_256: u32 = 0x0000_6610;
/// `RSAPUBKEY.magic`: "RSA1".
const RSA1: u32 = 0x3141_5352;
/// BLOBHEADER (8 bytes) + RSAPUBKEY (12 bytes).
const PUBLICKEYBLOB_HEADER_LEN: usize = 20;
/// BLOBHEADER (8 bytes) + the encrypting ALG_ID (4 bytes).
const SIMPLEBLOB_HEADER_LEN: usize = 12;
/// The largest modulus accepted from a peer's blob; bounds the work a crafted key can cause.
const MAX_PEER_KEY_BITS: u32 = 4096;

/// Why a key blob, a session key or a SecureString was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionKeyError {
    /// The message's text is not base64.
    Base64(String),
    /// A blob is shorter than its header or than the key its header announces.
    Truncated {
        /// Which blob.
        blob: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        len: usize,
    },
    /// A blob carries more bytes than its header accounts for.
    TrailingBytes {
        /// Which blob.
        blob: &'static str,
        /// The extra bytes.
        extra: usize,
    },
    /// A field of a blob header does not have the only value PSRP uses.
    UnexpectedField {
        /// Which blob.
        blob: &'static str,
        /// Which field.
        field: &'static str,
        /// The value found.
        found: u32,
    },
    /// The RSA key is unusable (size, exponent, or components).
    InvalidKey(String),
    /// RSA key generation, encryption or decryption failed.
    Rsa(String),
    /// The random generator failed.
    Random(String),
    /// The decrypted session key is not 32 bytes (the blob was not encrypted for this key pair).
    SessionKeyLength(usize),
    /// A SecureString's ciphertext is not a whole number of AES blocks or its padding is wrong (encrypted with
    /// another key).
    Ciphertext,
    /// A decrypted SecureString is not UTF-16LE text.
    NotUtf16,
}

impl fmt::Display for SessionKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionKeyError::Base64(e) => write!(f, "the key blob is not base64: {e}"),
            SessionKeyError::Truncated { blob, needed, len } => {
                write!(f, "the {blob} has {len} bytes where {needed} are needed")
            }
            SessionKeyError::TrailingBytes { blob, extra } => write!(f, "the {blob} has {extra} unexpected bytes"),
            SessionKeyError::UnexpectedField { blob, field, found } => {
                write!(f, "the {blob}'s {field} is {found:#x}, not the value PSRP uses")
            }
            SessionKeyError::InvalidKey(e) => write!(f, "unusable RSA key: {e}"),
            SessionKeyError::Rsa(e) => write!(f, "RSA operation failed: {e}"),
            SessionKeyError::Random(e) => write!(f, "the random generator failed: {e}"),
            SessionKeyError::SessionKeyLength(n) => {
                write!(f, "the decrypted session key has {n} bytes, not {SESSION_KEY_LEN}")
            }
            SessionKeyError::Ciphertext => f.write_str("the SecureString does not decrypt with the session key"),
            SessionKeyError::NotUtf16 => f.write_str("the decrypted SecureString is not UTF-16 text"),
        }
    }
}

impl std::error::Error for SessionKeyError {}

fn decode_base64(text: &str) -> Result<Vec<u8>, SessionKeyError> {
    STANDARD.decode(text.trim()).map_err(|e| SessionKeyError::Base64(e.to_string()))
}

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    // Callers check the length first; a short slice reads as zero, which every field check rejects.
    bytes.get(at..at + 4).and_then(|b| b.try_into().ok()).map_or(0, u32::from_le_bytes)
}

fn expect_field(blob: &'static str, field: &'static str, found: u32, wanted: u32) -> Result<(), SessionKeyError> {
    if found == wanted { Ok(()) } else { Err(SessionKeyError::UnexpectedField { blob, field, found }) }
}

/// Encodes a public key as a CAPI `PUBLICKEYBLOB` (`BLOBHEADER`, `RSAPUBKEY`, modulus little-endian).
pub fn encode_public_key_blob(key: &rsa::PublicKey) -> Vec<u8> {
    let modulus = key.n().as_ref().to_le_bytes();
    let bytes = key.size();
    let exponent = key.e().to_le_bytes();
    let mut exponent_u32 = [0u8; 4];
    for (dst, src) in exponent_u32.iter_mut().zip(exponent.iter()) {
        *dst = *src;
    }
    let mut out = Vec::with_capacity(PUBLICKEYBLOB_HEADER_LEN + bytes);
    out.extend_from_slice(&[PUBLICKEYBLOB, BLOB_VERSION, 0, 0]);
    out.extend_from_slice(&CALG_RSA_KEYX.to_le_bytes());
    out.extend_from_slice(&RSA1.to_le_bytes());
    out.extend_from_slice(&u32::try_from(bytes * 8).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&exponent_u32);
    let mut modulus = modulus.to_vec();
    modulus.resize(bytes, 0);
    out.extend_from_slice(&modulus);
    out
}

/// Reads a CAPI `PUBLICKEYBLOB` as PowerShell sends it (RSA key exchange, "RSA1", modulus of 1024–4096 bits).
pub fn parse_public_key_blob(blob: &[u8]) -> Result<rsa::PublicKey, SessionKeyError> {
    const WHAT: &str = "PUBLICKEYBLOB";
    if blob.len() < PUBLICKEYBLOB_HEADER_LEN {
        return Err(SessionKeyError::Truncated { blob: WHAT, needed: PUBLICKEYBLOB_HEADER_LEN, len: blob.len() });
    }
    expect_field(WHAT, "bType", u32::from(blob[0]), u32::from(PUBLICKEYBLOB))?;
    expect_field(WHAT, "bVersion", u32::from(blob[1]), u32::from(BLOB_VERSION))?;
    expect_field(WHAT, "reserved", u32::from(u16::from_le_bytes([blob[2], blob[3]])), 0)?;
    expect_field(WHAT, "aiKeyAlg", le_u32(blob, 4), CALG_RSA_KEYX)?;
    expect_field(WHAT, "magic", le_u32(blob, 8), RSA1)?;
    let bits = le_u32(blob, 12);
    if bits == 0 || !bits.is_multiple_of(8) || bits > MAX_PEER_KEY_BITS {
        return Err(SessionKeyError::UnexpectedField { blob: WHAT, field: "bitlen", found: bits });
    }
    let exponent = le_u32(blob, 16);
    let modulus_len = bits as usize / 8;
    let needed = PUBLICKEYBLOB_HEADER_LEN + modulus_len;
    if blob.len() < needed {
        return Err(SessionKeyError::Truncated { blob: WHAT, needed, len: blob.len() });
    }
    if blob.len() > needed {
        return Err(SessionKeyError::TrailingBytes { blob: WHAT, extra: blob.len() - needed });
    }
    // `bitlen` is the modulus' real size: its most significant byte (the blob's last) is not zero.
    if blob[needed - 1] == 0 {
        return Err(SessionKeyError::UnexpectedField { blob: WHAT, field: "bitlen", found: bits });
    }
    let n = BoxedUint::from_le_slice(&blob[PUBLICKEYBLOB_HEADER_LEN..], bits)
        .map_err(|e| SessionKeyError::InvalidKey(format!("{e:?}")))?;
    rsa::PublicKey::new_with_size_limits(n, BoxedUint::from(exponent), 1024..=MAX_PEER_KEY_BITS as usize)
        .map_err(|e| SessionKeyError::InvalidKey(e.to_string()))
}

/// Encodes a CAPI `SIMPLEBLOB` holding an AES-256 key RSA-encrypted (`ciphertext` big-endian, as RSA produces it).
pub fn encode_simple_blob(ciphertext: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SIMPLEBLOB_HEADER_LEN + ciphertext.len());
    out.extend_from_slice(&[SIMPLEBLOB, BLOB_VERSION, 0, 0]);
    out.extend_from_slice(&CALG_AES_256.to_le_bytes());
    out.extend_from_slice(&CALG_RSA_KEYX.to_le_bytes());
    out.extend(ciphertext.iter().rev());
    out
}

/// Reads a CAPI `SIMPLEBLOB` (AES-256 key, RSA key exchange) and returns the RSA ciphertext big-endian.
pub fn parse_simple_blob(blob: &[u8]) -> Result<Vec<u8>, SessionKeyError> {
    const WHAT: &str = "SIMPLEBLOB";
    if blob.len() <= SIMPLEBLOB_HEADER_LEN {
        return Err(SessionKeyError::Truncated { blob: WHAT, needed: SIMPLEBLOB_HEADER_LEN + 1, len: blob.len() });
    }
    expect_field(WHAT, "bType", u32::from(blob[0]), u32::from(SIMPLEBLOB))?;
    expect_field(WHAT, "bVersion", u32::from(blob[1]), u32::from(BLOB_VERSION))?;
    expect_field(WHAT, "reserved", u32::from(u16::from_le_bytes([blob[2], blob[3]])), 0)?;
    expect_field(WHAT, "aiKeyAlg", le_u32(blob, 4), CALG_AES_256)?;
    expect_field(WHAT, "algid", le_u32(blob, 8), CALG_RSA_KEYX)?;
    let ciphertext = &blob[SIMPLEBLOB_HEADER_LEN..];
    if ciphertext.len() > MAX_PEER_KEY_BITS as usize / 8 {
        return Err(SessionKeyError::TrailingBytes {
            blob: WHAT,
            extra: ciphertext.len() - MAX_PEER_KEY_BITS as usize / 8,
        });
    }
    Ok(ciphertext.iter().rev().copied().collect())
}

/// Text that must not linger in memory or in logs: the plaintext of a SecureString. It is wiped when dropped and
/// its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretText(String);

impl SecretText {
    /// Wraps plaintext.
    pub fn new(text: impl Into<String>) -> Self {
        SecretText(text.into())
    }

    /// The plaintext.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SecretText {
    fn from(text: &str) -> Self {
        SecretText(text.to_owned())
    }
}

impl From<String> for SecretText {
    fn from(text: String) -> Self {
        SecretText(text)
    }
}

impl Drop for SecretText {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretText(<redacted>)")
    }
}

/// The AES-256 key that encrypts SecureStrings of one RunspacePool. Wiped when dropped; `Debug` is redacted;
/// equality takes the same time whatever the bytes.
#[derive(Clone)]
pub struct SessionKey([u8; SESSION_KEY_LEN]);

impl PartialEq for SessionKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.iter().zip(other.0.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

impl Eq for SessionKey {}

impl SessionKey {
    /// A key from its bytes (e.g. a test's fixed key).
    pub fn from_bytes(bytes: [u8; SESSION_KEY_LEN]) -> Self {
        SessionKey(bytes)
    }

    /// A fresh random key, as the server side draws it.
    pub fn generate<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, SessionKeyError> {
        let mut bytes = [0u8; SESSION_KEY_LEN];
        rng.try_fill_bytes(&mut bytes).map_err(|e| SessionKeyError::Random(e.to_string()))?;
        Ok(SessionKey(bytes))
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; SESSION_KEY_LEN] {
        &self.0
    }

    /// ENCRYPTED_SESSION_KEY for the client that sent `public_key` (the server side of the exchange).
    pub fn encrypt_for<R: TryCryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        public_key: &PublicKey,
    ) -> Result<EncryptedSessionKey, SessionKeyError> {
        let key = parse_public_key_blob(&decode_base64(&public_key.public_key)?)?;
        let ciphertext = key.encrypt(rng, Pkcs1v15Encrypt, &self.0).map_err(|e| SessionKeyError::Rsa(e.to_string()))?;
        Ok(EncryptedSessionKey { encrypted_session_key: STANDARD.encode(encode_simple_blob(&ciphertext)) })
    }

    /// The `<SS>` bytes of `text`: AES-256-CBC, zero IV, PKCS#7, over UTF-16LE.
    pub fn encrypt(&self, text: &SecretText) -> Vec<u8> {
        let utf16: Zeroizing<Vec<u8>> =
            Zeroizing::new(text.expose().encode_utf16().flat_map(u16::to_le_bytes).collect());
        cbc::Encryptor::<aes::Aes256>::new(&self.0.into(), &[0u8; 16].into()).encrypt_padded_vec::<Pkcs7>(&utf16)
    }

    /// The text of `<SS>` bytes encrypted with this key.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<SecretText, SessionKeyError> {
        let plain = Zeroizing::new(
            cbc::Decryptor::<aes::Aes256>::new(&self.0.into(), &[0u8; 16].into())
                .decrypt_padded_vec::<Pkcs7>(ciphertext)
                .map_err(|_| SessionKeyError::Ciphertext)?,
        );
        if !plain.len().is_multiple_of(2) {
            return Err(SessionKeyError::NotUtf16);
        }
        let units: Zeroizing<Vec<u16>> =
            Zeroizing::new(plain.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect());
        String::from_utf16(&units).map(SecretText).map_err(|_| SessionKeyError::NotUtf16)
    }
}

impl Drop for SessionKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

/// The client's RSA key pair of the exchange: sends PUBLIC_KEY, opens ENCRYPTED_SESSION_KEY.
#[derive(Clone)]
pub struct ClientKeyPair {
    private: rsa::PrivateKey,
}

impl ClientKeyPair {
    /// A fresh RSA-2048 key pair (PowerShell's size). Slow in unoptimised builds: the workspace compiles the
    /// bignum crates optimised in the dev profile.
    pub fn generate<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, SessionKeyError> {
        let private = rsa::PrivateKey::new(rng, RSA_KEY_BITS).map_err(|e| SessionKeyError::Rsa(e.to_string()))?;
        Ok(ClientKeyPair { private })
    }

    /// A key pair from its components, big-endian: modulus, public exponent, private exponent and the two
    /// primes (e.g. a recorded client's key, to open what was encrypted for it).
    pub fn from_components(n: &[u8], e: &[u8], d: &[u8], p: &[u8], q: &[u8]) -> Result<Self, SessionKeyError> {
        let uint = BoxedUint::from_be_slice_vartime;
        let private = rsa::PrivateKey::from_components(uint(n), uint(e), uint(d), vec![uint(p), uint(q)])
            .map_err(|e| SessionKeyError::InvalidKey(e.to_string()))?;
        Ok(ClientKeyPair { private })
    }

    /// The public key as a CAPI `PUBLICKEYBLOB`.
    pub fn public_key_blob(&self) -> Vec<u8> {
        encode_public_key_blob(self.private.as_public_key())
    }

    /// The PUBLIC_KEY message body.
    pub fn public_key_message(&self) -> PublicKey {
        PublicKey { public_key: STANDARD.encode(self.public_key_blob()) }
    }

    /// Opens the server's ENCRYPTED_SESSION_KEY. `rng` blinds the RSA operation.
    ///
    /// PKCS#1 v1.5 decryption uses implicit rejection: a ciphertext not made for this key yields a pseudo-random
    /// plaintext rather than an error, which shows as [`SessionKeyError::SessionKeyLength`] here, or as
    /// [`SessionKeyError::Ciphertext`] on the first SecureString.
    pub fn decrypt_session_key<R: TryCryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        message: &EncryptedSessionKey,
    ) -> Result<SessionKey, SessionKeyError> {
        let ciphertext = parse_simple_blob(&decode_base64(&message.encrypted_session_key)?)?;
        if ciphertext.len() != self.private.size() {
            return Err(SessionKeyError::Truncated {
                blob: "SIMPLEBLOB",
                needed: SIMPLEBLOB_HEADER_LEN + self.private.size(),
                len: SIMPLEBLOB_HEADER_LEN + ciphertext.len(),
            });
        }
        let plain = Zeroizing::new(
            self.private
                .decrypt_blinded(rng, Pkcs1v15Encrypt, &ciphertext)
                .map_err(|e| SessionKeyError::Rsa(e.to_string()))?,
        );
        let bytes: [u8; SESSION_KEY_LEN] =
            plain.as_slice().try_into().map_err(|_| SessionKeyError::SessionKeyLength(plain.len()))?;
        Ok(SessionKey(bytes))
    }
}

impl fmt::Debug for ClientKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientKeyPair").field("bits", &(self.private.size() * 8)).finish_non_exhaustive()
    }
}
