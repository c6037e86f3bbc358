//! NTLMv2 key derivation (MS-NLMP 3.3.2, 3.4.5) and the RC4 stream.

use hmac::{Hmac, KeyInit, Mac};
use md4::Md4;
use md5::{Digest, Md5};
use zeroize::Zeroizing;

/// A 16-byte key that is wiped on drop.
pub(crate) type Key16 = Zeroizing<[u8; 16]>;

pub(crate) fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// NTOWFv1: MD4 of the UTF-16LE password.
pub(crate) fn nt_hash(password: &str) -> [u8; 16] {
    let pw = Zeroizing::new(utf16le(password));
    Md4::digest(&*pw).into()
}

pub(crate) fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    // HMAC accepts keys of any length; the error branch cannot occur.
    let mut mac = match <Hmac<Md5> as KeyInit>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return [0; 16],
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// NTOWFv2 = HMAC_MD5(NT hash, UTF16LE(UPPER(user) + domain)).
pub(crate) fn ntowfv2(nt_hash: &[u8; 16], user: &str, domain: &str) -> Key16 {
    let mut id = utf16le(&user.to_uppercase());
    id.extend_from_slice(&utf16le(domain));
    Zeroizing::new(hmac_md5(nt_hash, &[&id]))
}

/// SIGNKEY/SEALKEY derivation with extended session security and 128-bit keys.
pub(crate) fn derive(exported_session_key: &[u8; 16], magic: &[u8]) -> Key16 {
    let mut h = Md5::new();
    h.update(exported_session_key);
    h.update(magic);
    Zeroizing::new(h.finalize().into())
}

pub(crate) const CLIENT_SIGNING: &[u8] = b"session key to client-to-server signing key magic constant\0";
pub(crate) const SERVER_SIGNING: &[u8] = b"session key to server-to-client signing key magic constant\0";
pub(crate) const CLIENT_SEALING: &[u8] = b"session key to client-to-server sealing key magic constant\0";
pub(crate) const SERVER_SEALING: &[u8] = b"session key to server-to-client sealing key magic constant\0";
