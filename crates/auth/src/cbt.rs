//! Channel bindings (RFC 5929 `tls-server-end-point`) as NTLM and SPNEGO carry them.

use md5::{Digest, Md5};
use sha2::{Sha224, Sha256, Sha384, Sha512};

use crate::der::{BIT_STRING, DerReader, OID, SEQUENCE, context};
use crate::error::{AuthError, malformed};

/// The prefix of the `tls-server-end-point` application data (RFC 5929 section 4).
pub const TLS_SERVER_END_POINT_PREFIX: &[u8] = b"tls-server-end-point:";

/// Channel bindings: the application data of a `gss_channel_bindings_struct` (the address fields are always empty
/// for HTTP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelBindings {
    application_data: Vec<u8>,
}

impl ChannelBindings {
    /// Bindings with arbitrary application data.
    pub fn from_application_data(application_data: Vec<u8>) -> Self {
        Self { application_data }
    }

    /// `tls-server-end-point` bindings for the server's DER certificate: `b"tls-server-end-point:" + hash`.
    pub fn tls_server_end_point(certificate_der: &[u8]) -> Result<Self, AuthError> {
        let hash = tls_server_end_point_hash(certificate_der)?;
        let mut application_data = TLS_SERVER_END_POINT_PREFIX.to_vec();
        application_data.extend_from_slice(&hash);
        Ok(Self { application_data })
    }

    /// The application data.
    pub fn application_data(&self) -> &[u8] {
        &self.application_data
    }

    /// The MD5 of the flattened `gss_channel_bindings_struct`, as NTLM's `MsvAvChannelBindings` carries it.
    pub(crate) fn ntlm_hash(&self) -> [u8; 16] {
        let mut h = Md5::new();
        // initiator addrtype + address length, acceptor addrtype + address length: all zero.
        h.update([0u8; 16]);
        h.update((self.application_data.len() as u32).to_le_bytes());
        h.update(&self.application_data);
        h.finalize().into()
    }
}

/// The certificate hash for `tls-server-end-point` (RFC 5929 section 4.1): the hash function of the certificate's
/// signature algorithm, except that MD5 and SHA-1 are replaced by SHA-256. Signature algorithms without a hash of
/// their own (Ed25519, unknown OIDs) also use SHA-256, as pypsrp and pyspnego do.
pub fn tls_server_end_point_hash(certificate_der: &[u8]) -> Result<Vec<u8>, AuthError> {
    let hash = signature_hash(certificate_der)?;
    Ok(match hash {
        CertHash::Sha224 => Sha224::digest(certificate_der).to_vec(),
        CertHash::Sha256 => Sha256::digest(certificate_der).to_vec(),
        CertHash::Sha384 => Sha384::digest(certificate_der).to_vec(),
        CertHash::Sha512 => Sha512::digest(certificate_der).to_vec(),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CertHash {
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

const RSA_PREFIX: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
const ECDSA_SHA2_PREFIX: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03];
const HASH_ALG_PREFIX: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02];

const WHAT: &str = "X.509 certificate";

fn signature_hash(certificate_der: &[u8]) -> Result<CertHash, AuthError> {
    let mut outer = DerReader::new(certificate_der, WHAT);
    let cert = outer.expect(SEQUENCE)?;
    if !outer.is_empty() {
        return Err(malformed(WHAT, "trailing data after the certificate"));
    }
    let mut cert = DerReader::new(cert, WHAT);
    cert.expect(SEQUENCE)?; // tbsCertificate
    let mut alg = DerReader::new(cert.expect(SEQUENCE)?, WHAT);
    cert.expect(BIT_STRING)?;
    let oid = alg.expect(OID)?;
    if let Some(rest) = oid.strip_prefix(RSA_PREFIX) {
        return Ok(match rest {
            [12] => CertHash::Sha384,
            [13] => CertHash::Sha512,
            [14] => CertHash::Sha224,
            [10] => pss_hash(&mut alg)?,
            _ => CertHash::Sha256, // md5 (4), sha1 (5), sha256 (11), others
        });
    }
    if let Some(rest) = oid.strip_prefix(ECDSA_SHA2_PREFIX) {
        return Ok(match rest {
            [1] => CertHash::Sha224,
            [3] => CertHash::Sha384,
            [4] => CertHash::Sha512,
            _ => CertHash::Sha256,
        });
    }
    Ok(CertHash::Sha256)
}

/// RSASSA-PSS-params: `[0] hashAlgorithm` (default SHA-1, which maps to SHA-256).
fn pss_hash(alg: &mut DerReader<'_>) -> Result<CertHash, AuthError> {
    if alg.is_empty() {
        return Ok(CertHash::Sha256);
    }
    let mut params = DerReader::new(alg.expect(SEQUENCE)?, WHAT);
    if params.peek_tag() != Some(context(0)) {
        return Ok(CertHash::Sha256);
    }
    let mut hash_alg = DerReader::new(params.expect(context(0))?, WHAT);
    let mut id = DerReader::new(hash_alg.expect(SEQUENCE)?, WHAT);
    let oid = id.expect(OID)?;
    Ok(match oid.strip_prefix(HASH_ALG_PREFIX) {
        Some([2]) => CertHash::Sha384,
        Some([3]) => CertHash::Sha512,
        Some([4]) => CertHash::Sha224,
        _ => CertHash::Sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::der::{tlv, write_tlv};

    fn fake_cert(alg_oid: &[u8], params: Option<Vec<u8>>) -> Vec<u8> {
        let mut alg = tlv(OID, alg_oid);
        if let Some(p) = params {
            alg.extend_from_slice(&p);
        }
        let mut body = tlv(SEQUENCE, &[0x02, 0x01, 0x01]);
        write_tlv(&mut body, SEQUENCE, &alg);
        write_tlv(&mut body, BIT_STRING, &[0, 1, 2, 3]);
        tlv(SEQUENCE, &body)
    }

    #[test]
    fn hash_follows_the_signature_algorithm() {
        let rsa = |n: u8| [RSA_PREFIX, &[n]].concat();
        let ec = |n: u8| [ECDSA_SHA2_PREFIX, &[n]].concat();
        let cases: [(Vec<u8>, usize); 7] =
            [(rsa(4), 32), (rsa(5), 32), (rsa(11), 32), (rsa(12), 48), (rsa(13), 64), (ec(2), 32), (ec(3), 48)];
        for (oid, len) in cases {
            let cert = fake_cert(&oid, None);
            assert_eq!(tls_server_end_point_hash(&cert).unwrap().len(), len, "{oid:02x?}");
        }
        let der = fake_cert(&rsa(5), None);
        assert_eq!(tls_server_end_point_hash(&der).unwrap(), Sha256::digest(&der).to_vec());
    }

    #[test]
    fn pss_uses_its_hash_parameter() {
        let sha384 = tlv(SEQUENCE, &tlv(OID, &[HASH_ALG_PREFIX, &[2]].concat()));
        let params = tlv(SEQUENCE, &tlv(context(0), &sha384));
        let cert = fake_cert(&[RSA_PREFIX, &[10]].concat(), Some(params));
        assert_eq!(tls_server_end_point_hash(&cert).unwrap().len(), 48);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(tls_server_end_point_hash(b"not a certificate").is_err());
        assert!(ChannelBindings::tls_server_end_point(&[0x30, 0x00]).is_err());
    }
}
