//! The public-key binding of MS-CSSP 3.1.5: what `pubKeyAuth` carries under the inner session keys.
//!
//! * Version 5 and later (the CVE-2018-0886 fix): `SHA256("CredSSP Client-To-Server Binding Hash\0" || nonce ||
//!   SubjectPublicKey)` from the client, `SHA256("CredSSP Server-To-Client Binding Hash\0" || nonce ||
//!   SubjectPublicKey)` back from the server; `nonce` is the client's 32-byte `clientNonce`.
//! * Versions 2 to 4: the client sends the `SubjectPublicKey` itself, the server returns it with its first byte
//!   incremented by one.

use sha2::{Digest, Sha256};

const CLIENT_MAGIC: &[u8] = b"CredSSP Client-To-Server Binding Hash\0";
const SERVER_MAGIC: &[u8] = b"CredSSP Server-To-Client Binding Hash\0";

/// The value the client encrypts into its `pubKeyAuth`.
pub fn client_binding(public_key: &[u8], nonce: Option<&[u8]>) -> Vec<u8> {
    match nonce {
        Some(nonce) => {
            Sha256::new().chain_update(CLIENT_MAGIC).chain_update(nonce).chain_update(public_key).finalize().to_vec()
        }
        None => public_key.to_vec(),
    }
}

/// The value the server encrypts into its `pubKeyAuth` reply.
pub fn server_binding(public_key: &[u8], nonce: Option<&[u8]>) -> Vec<u8> {
    match nonce {
        Some(nonce) => {
            Sha256::new().chain_update(SERVER_MAGIC).chain_update(nonce).chain_update(public_key).finalize().to_vec()
        }
        None => {
            let mut key = public_key.to_vec();
            if let Some(first) = key.first_mut() {
                *first = first.wrapping_add(1);
            }
            key
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_binding_increments_the_first_byte() {
        assert_eq!(client_binding(&[0x30, 1, 2], None), [0x30, 1, 2]);
        assert_eq!(server_binding(&[0x30, 1, 2], None), [0x31, 1, 2]);
        assert_eq!(server_binding(&[0xff], None), [0x00]);
    }

    #[test]
    fn hashed_binding_differs_by_direction_and_nonce() {
        let key = [0x30u8, 0x82, 1, 0x0a];
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let c = client_binding(&key, Some(&a));
        assert_eq!(c.len(), 32);
        assert_ne!(c, server_binding(&key, Some(&a)));
        assert_ne!(c, client_binding(&key, Some(&b)));
        let mut manual = CLIENT_MAGIC.to_vec();
        manual.extend_from_slice(&a);
        manual.extend_from_slice(&key);
        assert_eq!(c, Sha256::digest(&manual).to_vec());
    }
}
