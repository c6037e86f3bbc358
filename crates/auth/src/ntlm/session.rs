//! NTLM message signing and sealing with extended session security (MS-NLMP 3.4.4.2, 3.4.6).

use super::crypto::{CLIENT_SEALING, CLIENT_SIGNING, Key16, SERVER_SEALING, SERVER_SIGNING, derive, hmac_md5};
use rc4::StreamCipher;

use super::keystream::{AHEAD_MIN, Rc4Stream};
use crate::context::WrappedMessage;
use crate::credentials::constant_time_eq;
use crate::error::AuthError;

/// Length of an NTLM signature (version, checksum, sequence number).
pub const SIGNATURE_LEN: usize = 16;

/// One direction of an NTLM session: signing key, RC4 sealing stream, sequence number.
struct Direction {
    sign_key: Key16,
    seal: Rc4Stream,
    seq: u32,
}

impl Direction {
    fn new(exported: &[u8; 16], sign_magic: &[u8], seal_magic: &[u8]) -> Self {
        let seal_key = derive(exported, seal_magic);
        Self { sign_key: derive(exported, sign_magic), seal: Rc4Stream::new(&seal_key), seq: 0 }
    }

    /// MAC over `message` (already sealed or not) with the current sequence number; advances it.
    fn signature(&mut self, message: &[u8], key_exch: bool) -> [u8; SIGNATURE_LEN] {
        let seq = self.seq.to_le_bytes();
        self.seq = self.seq.wrapping_add(1);
        let full = hmac_md5(&*self.sign_key, &[&seq, message]);
        let mut checksum = [0u8; 8];
        checksum.copy_from_slice(&full[..8]);
        if key_exch {
            self.seal.apply(&mut checksum);
        }
        let mut sig = [0u8; SIGNATURE_LEN];
        sig[..4].copy_from_slice(&1u32.to_le_bytes());
        sig[4..12].copy_from_slice(&checksum);
        sig[12..].copy_from_slice(&seq);
        sig
    }
}

impl Direction {
    /// After a large message, the next is likely as large: generate its keystream while the peer works.
    fn prepare_next(&mut self, last_len: usize) {
        if last_len >= AHEAD_MIN {
            // The message and its encrypted checksum.
            self.seal.generate_ahead(last_len + 8);
        }
    }
}

/// The established NTLM session of one side: outgoing and incoming directions.
pub(crate) struct NtlmSession {
    outgoing: Direction,
    incoming: Direction,
    key_exch: bool,
}

impl NtlmSession {
    pub(crate) fn new(exported: &[u8; 16], is_client: bool, key_exch: bool) -> Self {
        let client = || Direction::new(exported, CLIENT_SIGNING, CLIENT_SEALING);
        let server = || Direction::new(exported, SERVER_SIGNING, SERVER_SEALING);
        let (outgoing, incoming) = if is_client { (client(), server()) } else { (server(), client()) };
        Self { outgoing, incoming, key_exch }
    }

    /// Seals `plaintext`: the WinRM header is the 16-byte signature, the data the RC4 ciphertext.
    pub(crate) fn wrap(&mut self, plaintext: &[u8]) -> WrappedMessage {
        let mut data = plaintext.to_vec();
        self.outgoing.seal.apply(&mut data);
        let header = self.outgoing.signature(plaintext, self.key_exch).to_vec();
        self.outgoing.prepare_next(data.len());
        WrappedMessage { header, data }
    }

    /// Unseals and verifies a message sealed by the peer.
    pub(crate) fn unwrap(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError> {
        if header.len() != SIGNATURE_LEN {
            return Err(AuthError::MessageAltered);
        }
        let mut plain = data.to_vec();
        self.incoming.seal.apply(&mut plain);
        let expected = self.incoming.signature(&plain, self.key_exch);
        if !constant_time_eq(&expected, header) {
            return Err(AuthError::MessageAltered);
        }
        self.incoming.prepare_next(plain.len());
        Ok(plain)
    }

    /// Whether (`header`, `data`) is the peer's next sealed message and verifies, checked on a probe of the RC4
    /// stream so that nothing changes: a server finds which of several sessions a message belongs to before it
    /// unseals it (where a wrong guess would put that session out of step for good). The sequence number, in
    /// clear, rules most sessions out before any RC4; the probe then costs RC4 over what the peer sent so far.
    pub(crate) fn verifies_next_incoming(&self, header: &[u8], data: &[u8]) -> bool {
        let seq = self.incoming.seq.to_le_bytes();
        if header.len() != SIGNATURE_LEN || header[..4] != 1u32.to_le_bytes() || header[12..] != seq {
            return false;
        }
        let mut cipher = self.incoming.seal.probe();
        let mut plain = zeroize::Zeroizing::new(data.to_vec());
        cipher.apply_keystream(&mut plain);
        let full = hmac_md5(&*self.incoming.sign_key, &[&seq, &plain]);
        let mut checksum = [0u8; 8];
        checksum.copy_from_slice(&full[..8]);
        if self.key_exch {
            cipher.apply_keystream(&mut checksum);
        }
        constant_time_eq(&checksum, &header[4..12])
    }

    /// Signature over `message` without sealing (SPNEGO mechListMIC).
    pub(crate) fn sign(&mut self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.outgoing.signature(message, self.key_exch)
    }

    /// Verifies a signature from the peer (SPNEGO mechListMIC).
    pub(crate) fn verify(&mut self, message: &[u8], signature: &[u8]) -> Result<(), AuthError> {
        let expected = self.incoming.signature(message, self.key_exch);
        if constant_time_eq(&expected, signature) { Ok(()) } else { Err(AuthError::MechListMicMismatch) }
    }

    /// Restarts the RC4 stream of one direction (after a SPNEGO mechListMIC, as Windows does).
    pub(crate) fn reset_stream(&mut self, outgoing: bool) {
        if outgoing { self.outgoing.seal.reset() } else { self.incoming.seal.reset() }
    }
}
