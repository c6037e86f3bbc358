//! The Kerberos GSS-API mechanism framing (RFC 1964 section 1.1 / RFC 4121): the initial context token
//! around AP-REQ/AP-REP, the authenticator checksum (type 0x8003) and the per-message Wrap and MIC tokens.

use crate::der::{DerReader, OID, tlv};
use crate::error::{AuthError, malformed};

use super::crypto::{EncryptionKey, MAC_LEN};

/// DER content of the Kerberos V5 mechanism OID 1.2.840.113554.1.2.2.
pub const KRB5_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// DER content of Microsoft's (legacy, mis-encoded) Kerberos OID 1.2.840.48018.1.2.2, listed by Windows.
pub const MS_KRB5_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];

/// `TOK_ID` of an AP-REQ inside the initial context token.
pub const TOK_AP_REQ: [u8; 2] = [0x01, 0x00];
/// `TOK_ID` of an AP-REP.
pub const TOK_AP_REP: [u8; 2] = [0x02, 0x00];
/// `TOK_ID` of a KRB-ERROR.
pub const TOK_ERROR: [u8; 2] = [0x03, 0x00];

/// GSS flags carried in the authenticator checksum.
pub mod flags {
    /// GSS_C_DELEG_FLAG.
    pub const DELEG: u32 = 1;
    /// GSS_C_MUTUAL_FLAG.
    pub const MUTUAL: u32 = 2;
    /// GSS_C_REPLAY_FLAG.
    pub const REPLAY: u32 = 4;
    /// GSS_C_SEQUENCE_FLAG.
    pub const SEQUENCE: u32 = 8;
    /// GSS_C_CONF_FLAG.
    pub const CONF: u32 = 16;
    /// GSS_C_INTEG_FLAG.
    pub const INTEG: u32 = 32;
}

/// The checksum type of the GSS authenticator checksum.
pub const GSS_CHECKSUM_TYPE: i32 = 0x8003;

/// Key usages of RFC 4121 section 2.
pub mod usage {
    /// KG-USAGE-ACCEPTOR-SEAL.
    pub const ACCEPTOR_SEAL: u32 = 22;
    /// KG-USAGE-ACCEPTOR-SIGN.
    pub const ACCEPTOR_SIGN: u32 = 23;
    /// KG-USAGE-INITIATOR-SEAL.
    pub const INITIATOR_SEAL: u32 = 24;
    /// KG-USAGE-INITIATOR-SIGN.
    pub const INITIATOR_SIGN: u32 = 25;
}

const WHAT: &str = "Kerberos GSS token";

/// Frames a Kerberos message as a GSS-API initial context token: `60 len 06 09 <krb5 oid> TOK_ID message`.
pub fn frame(tok_id: [u8; 2], message: &[u8]) -> Vec<u8> {
    let mut body = tlv(OID, KRB5_OID);
    body.extend_from_slice(&tok_id);
    body.extend_from_slice(message);
    tlv(0x60, &body)
}

/// Splits a GSS-API framed Kerberos token into `(TOK_ID, message)`. The mechanism OID must be Kerberos (the
/// standard or Microsoft's). Tokens above [`crate::MAX_TOKEN_LEN`] are refused.
pub fn unframe(token: &[u8]) -> Result<([u8; 2], &[u8]), AuthError> {
    if token.len() > crate::MAX_TOKEN_LEN {
        return Err(AuthError::TooLarge { what: WHAT, len: token.len() });
    }
    let mut outer = DerReader::new(token, WHAT);
    let content = outer.expect(0x60)?;
    if !outer.is_empty() {
        return Err(malformed(WHAT, "trailing data"));
    }
    let mut r = DerReader::new(content, WHAT);
    let oid = r.expect(OID)?;
    if oid != KRB5_OID && oid != MS_KRB5_OID {
        return Err(AuthError::Unsupported("GSS-API token of a mechanism other than Kerberos"));
    }
    // The rest (TOK_ID and message) is not a TLV: take it from the end of the OID.
    let rest = &content[2 + oid.len()..];
    let (id, message) = rest.split_at_checked(2).ok_or(malformed(WHAT, "missing TOK_ID"))?;
    Ok(([id[0], id[1]], message))
}

/// The authenticator checksum of RFC 4121 section 4.1.1: `Lgth=16 | Bnd | Flags` (no delegation).
pub fn authenticator_checksum(bindings_md5: Option<[u8; 16]>, gss_flags: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(24);
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&bindings_md5.unwrap_or([0; 16]));
    out.extend_from_slice(&gss_flags.to_le_bytes());
    out
}

/// Parses an authenticator checksum to `(Bnd, Flags)`.
pub fn parse_authenticator_checksum(checksum: &[u8]) -> Result<([u8; 16], u32), AuthError> {
    if checksum.len() < 24 || checksum[..4] != 16u32.to_le_bytes() {
        return Err(malformed(WHAT, "GSS authenticator checksum too short or with a wrong Lgth"));
    }
    let mut bnd = [0u8; 16];
    bnd.copy_from_slice(&checksum[4..20]);
    let gss_flags = u32::from_le_bytes([checksum[20], checksum[21], checksum[22], checksum[23]]);
    Ok((bnd, gss_flags))
}

/// Token flag: sent by the acceptor.
const SENT_BY_ACCEPTOR: u8 = 0x01;
/// Token flag: confidentiality (encrypted Wrap token).
const SEALED: u8 = 0x02;
/// Token flag: the acceptor's subkey protects the token.
const ACCEPTOR_SUBKEY: u8 = 0x04;

/// The per-message protection of an established Kerberos context (RFC 4121 section 4.2).
#[derive(Debug, Clone)]
pub struct MessageProtection {
    key: EncryptionKey,
    acceptor_subkey: bool,
    is_initiator: bool,
    send_seq: u64,
    /// The next sequence number expected from the peer (messages must arrive in order, as over HTTP).
    recv_seq: u64,
}

/// Bytes of the token header.
const HEADER: usize = 16;
/// The Right Rotation Count this crate writes: the encrypted header copy and the checksum move to the front, so
/// the ciphertext of the data is contiguous (what Windows and MIT's IOV wrap produce for WinRM).
const RRC: usize = HEADER + MAC_LEN;

impl MessageProtection {
    /// Protection with `key` (the acceptor subkey if `acceptor_subkey`, else the initiator subkey or session key).
    pub fn new(key: EncryptionKey, acceptor_subkey: bool, is_initiator: bool, send_seq: u32, recv_seq: u32) -> Self {
        Self { key, acceptor_subkey, is_initiator, send_seq: send_seq.into(), recv_seq: recv_seq.into() }
    }

    fn our_flags(&self) -> u8 {
        (if self.is_initiator { 0 } else { SENT_BY_ACCEPTOR }) | if self.acceptor_subkey { ACCEPTOR_SUBKEY } else { 0 }
    }

    fn seal_usage(&self, ours: bool) -> u32 {
        if self.is_initiator == ours { usage::INITIATOR_SEAL } else { usage::ACCEPTOR_SEAL }
    }

    fn sign_usage(&self, ours: bool) -> u32 {
        if self.is_initiator == ours { usage::INITIATOR_SIGN } else { usage::ACCEPTOR_SIGN }
    }

    /// Wraps `plaintext` with confidentiality. Returns the whole token; for WinRM the first
    /// [`MessageProtection::winrm_header_len`] bytes are the header and the rest is the encrypted data.
    pub fn wrap(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, AuthError> {
        let mut header = [0u8; HEADER];
        header[..2].copy_from_slice(&[0x05, 0x04]);
        header[2] = self.our_flags() | SEALED;
        header[3] = 0xff;
        // EC = 0 (AES-CTS needs no padding); RRC = 0 in the encrypted copy.
        header[8..].copy_from_slice(&self.send_seq.to_be_bytes());
        self.send_seq = self.send_seq.wrapping_add(1);
        let mut inner = Vec::with_capacity(plaintext.len() + HEADER);
        inner.extend_from_slice(plaintext);
        inner.extend_from_slice(&header);
        let mut sealed = self.key.encrypt(self.seal_usage(true), &inner)?;
        sealed.rotate_right(RRC);
        header[6..8].copy_from_slice(&(RRC as u16).to_be_bytes());
        let mut token = header.to_vec();
        token.extend_from_slice(&sealed);
        Ok(token)
    }

    /// The WinRM header length of a wrapped message: token header, confounder, rotated header copy and
    /// checksum (60 bytes for AES).
    pub fn winrm_header_len(&self) -> usize {
        HEADER + 16 + RRC
    }

    /// Unwraps a Wrap token from the peer (sealed or integrity-only), checking the direction, the subkey flag,
    /// the sequence number and the integrity.
    pub fn unwrap(&mut self, token: &[u8]) -> Result<Vec<u8>, AuthError> {
        if token.len() < HEADER || token[..2] != [0x05, 0x04] || token[3] != 0xff {
            return Err(malformed(WHAT, "not a Wrap token"));
        }
        let token_flags = token[2];
        self.check_flags(token_flags)?;
        let ec = usize::from(u16::from_be_bytes([token[4], token[5]]));
        let rrc = usize::from(u16::from_be_bytes([token[6], token[7]]));
        let seq = u64::from_be_bytes(token[8..16].try_into().map_err(|_| malformed(WHAT, "short header"))?);
        let mut body = token[HEADER..].to_vec();
        if !body.is_empty() {
            let r = rrc % body.len();
            body.rotate_left(r);
        }
        let plaintext = if token_flags & SEALED != 0 {
            let inner = self.key.decrypt(self.seal_usage(false), &body)?;
            if inner.len() < HEADER + ec {
                return Err(AuthError::MessageAltered);
            }
            let (data, copy) = inner.split_at(inner.len() - HEADER);
            // The encrypted header copy has RRC = 0; everything else equals the received header.
            let mut expected = [0u8; HEADER];
            expected.copy_from_slice(&token[..HEADER]);
            expected[6] = 0;
            expected[7] = 0;
            if copy != expected {
                return Err(AuthError::MessageAltered);
            }
            data[..data.len() - ec].to_vec()
        } else {
            // Integrity only: plaintext | checksum, EC is the checksum length.
            if ec != MAC_LEN || body.len() < MAC_LEN {
                return Err(malformed(WHAT, "integrity-only Wrap token with a wrong EC"));
            }
            let (data, mac) = body.split_at(body.len() - MAC_LEN);
            let mut hdr = [0u8; HEADER];
            hdr.copy_from_slice(&token[..HEADER]);
            hdr[4..8].fill(0);
            self.key.verify_checksum(self.sign_usage(false), &[data, &hdr], mac)?;
            data.to_vec()
        };
        self.check_seq(seq)?;
        Ok(plaintext)
    }

    /// A MIC token over `data` (RFC 4121 section 4.2.6.1), as the SPNEGO mechListMIC uses.
    pub fn get_mic(&mut self, data: &[u8]) -> Vec<u8> {
        let mut header = [0xffu8; HEADER];
        header[..2].copy_from_slice(&[0x04, 0x04]);
        header[2] = self.our_flags();
        header[8..].copy_from_slice(&self.send_seq.to_be_bytes());
        self.send_seq = self.send_seq.wrapping_add(1);
        let mac = self.key.checksum(self.sign_usage(true), &[data, &header]);
        let mut token = header.to_vec();
        token.extend_from_slice(&mac);
        token
    }

    /// Verifies the peer's MIC token over `data`.
    pub fn verify_mic(&mut self, data: &[u8], token: &[u8]) -> Result<(), AuthError> {
        if token.len() != HEADER + MAC_LEN || token[..2] != [0x04, 0x04] || token[3..8] != [0xff; 5] {
            return Err(malformed(WHAT, "not a MIC token"));
        }
        self.check_flags(token[2])?;
        self.key.verify_checksum(self.sign_usage(false), &[data, &token[..HEADER]], &token[HEADER..])?;
        let seq = u64::from_be_bytes(token[8..16].try_into().map_err(|_| malformed(WHAT, "short header"))?);
        self.check_seq(seq)
    }

    fn check_flags(&self, token_flags: u8) -> Result<(), AuthError> {
        let from_acceptor = token_flags & SENT_BY_ACCEPTOR != 0;
        if from_acceptor != self.is_initiator {
            return Err(AuthError::kerberos("token sent in the wrong direction (reflected?)"));
        }
        if (token_flags & ACCEPTOR_SUBKEY != 0) != self.acceptor_subkey {
            return Err(AuthError::MessageAltered);
        }
        Ok(())
    }

    fn check_seq(&mut self, seq: u64) -> Result<(), AuthError> {
        if seq != self.recv_seq {
            return Err(AuthError::kerberos(format!(
                "sequence number {seq} where {} was expected (replayed or reordered message)",
                self.recv_seq
            )));
        }
        self.recv_seq = self.recv_seq.wrapping_add(1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::crypto::{AES128_CTS_HMAC_SHA1_96, AES256_CTS_HMAC_SHA1_96};
    use super::*;

    fn pair(enctype: i32, subkey: bool) -> (MessageProtection, MessageProtection) {
        let len = if enctype == AES128_CTS_HMAC_SHA1_96 { 16 } else { 32 };
        let key = EncryptionKey::new(enctype, &vec![9u8; len]).unwrap();
        (MessageProtection::new(key.clone(), subkey, true, 5, 9), MessageProtection::new(key, subkey, false, 9, 5))
    }

    #[test]
    fn wrap_unwrap_both_directions() {
        for enctype in [AES128_CTS_HMAC_SHA1_96, AES256_CTS_HMAC_SHA1_96] {
            let (mut client, mut server) = pair(enctype, true);
            for len in [0usize, 1, 16, 100, 40_000] {
                let msg: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let tok = client.wrap(&msg).unwrap();
                assert_eq!(tok.len(), msg.len() + client.winrm_header_len());
                assert_eq!(server.unwrap(&tok).unwrap(), msg);
                let tok = server.wrap(&msg).unwrap();
                assert_eq!(client.unwrap(&tok).unwrap(), msg);
            }
        }
    }

    #[test]
    fn tamper_reflection_and_replay_are_rejected() {
        let (mut client, mut server) = pair(AES256_CTS_HMAC_SHA1_96, true);
        let tok = client.wrap(b"hello").unwrap();
        let mut bad = tok.clone();
        bad[40] ^= 0x80;
        assert_eq!(server.unwrap(&bad), Err(AuthError::MessageAltered));
        // Our own token back at us (reflection).
        assert!(client.unwrap(&tok).is_err());
        assert_eq!(server.unwrap(&tok).unwrap(), b"hello");
        // The same token again (replay).
        assert!(server.unwrap(&tok).is_err());
    }

    #[test]
    fn mic_round_trip() {
        let (mut client, mut server) = pair(AES128_CTS_HMAC_SHA1_96, false);
        let mic = client.get_mic(b"mech list");
        server.verify_mic(b"mech list", &mic).unwrap();
        let mic = server.get_mic(b"mech list");
        assert!(client.verify_mic(b"other", &mic).is_err());
    }

    #[test]
    fn framing_round_trips_and_rejects_other_mechanisms() {
        let tok = frame(TOK_AP_REQ, b"\x6e\x00");
        assert_eq!(unframe(&tok).unwrap(), (TOK_AP_REQ, &b"\x6e\x00"[..]));
        let mut other = tok.clone();
        other[6] ^= 1;
        assert!(unframe(&other).is_err());
    }
}
