//! The Kerberos V5 messages of RFC 4120 this crate exchanges, in DER: KDC requests and replies, errors,
//! tickets, AP-REQ/AP-REP and their encrypted parts. Decoding is bounded by the input (no recursion beyond the
//! fixed message structure, every length checked by the DER reader).

use crate::der::{DerReader, OCTET_STRING, SEQUENCE, context, tlv, write_tlv};
use crate::error::{AuthError, malformed};
use crate::kerberos::error::KerberosError;

use super::crypto::EncryptionKey;

const WHAT: &str = "Kerberos message";
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const GENERAL_STRING: u8 = 0x1b;
const GENERALIZED_TIME: u8 = 0x18;

/// `[APPLICATION n]` constructed tag.
pub(crate) const fn application(n: u8) -> u8 {
    0x60 | n
}

/// Message types (RFC 4120 section 5.10).
pub mod msg_type {
    /// AS-REQ.
    pub const AS_REQ: i64 = 10;
    /// AS-REP.
    pub const AS_REP: i64 = 11;
    /// TGS-REQ.
    pub const TGS_REQ: i64 = 12;
    /// TGS-REP.
    pub const TGS_REP: i64 = 13;
    /// AP-REQ.
    pub const AP_REQ: i64 = 14;
    /// AP-REP.
    pub const AP_REP: i64 = 15;
    /// KRB-ERROR.
    pub const KRB_ERROR: i64 = 30;
}

/// Principal name types.
pub mod name_type {
    /// NT-PRINCIPAL.
    pub const PRINCIPAL: i32 = 1;
    /// NT-SRV-INST (krbtgt/REALM).
    pub const SRV_INST: i32 = 2;
    /// NT-SRV-HST (HTTP/host).
    pub const SRV_HST: i32 = 3;
}

/// A principal name without its realm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalName {
    /// The name type (see [`name_type`]).
    pub name_type: i32,
    /// The components (`HTTP`, `host`).
    pub components: Vec<String>,
}

impl PrincipalName {
    /// A name of the given type from `/`-separated components.
    pub fn new(name_type: i32, name: &str) -> Self {
        Self { name_type, components: name.split('/').map(str::to_owned).collect() }
    }

    /// Compares component-wise, ignoring the name type (as MIT does).
    pub fn same_as(&self, other: &Self) -> bool {
        self.components == other.components
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let names: Vec<u8> = self.components.iter().flat_map(|c| tlv(GENERAL_STRING, c.as_bytes())).collect();
        seq(&[(0, int(self.name_type.into())), (1, tlv(SEQUENCE, &names))])
    }

    pub(crate) fn decode(der: &[u8]) -> Result<Self, AuthError> {
        let f = Fields::parse(der)?;
        let name_type = to_i32(f.int(0)?)?;
        let mut names = DerReader::new(f.req(1)?, WHAT);
        let mut list = DerReader::new(names.expect(SEQUENCE)?, WHAT);
        let mut components = Vec::new();
        while !list.is_empty() {
            if components.len() == 16 {
                return Err(malformed(WHAT, "too many principal name components"));
            }
            components.push(string(list.read()?.1)?);
        }
        Ok(Self { name_type, components })
    }
}

impl std::fmt::Display for PrincipalName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.components.join("/"))
    }
}

/// `EncryptedData`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedData {
    /// The encryption type.
    pub etype: i32,
    /// The key version number, when the key is a long-term key.
    pub kvno: Option<u32>,
    /// The ciphertext.
    pub cipher: Vec<u8>,
}

impl EncryptedData {
    pub(crate) fn seal(key: &EncryptionKey, usage: u32, plain: &[u8], kvno: Option<u32>) -> Result<Self, AuthError> {
        Ok(Self { etype: key.enctype(), kvno, cipher: key.encrypt(usage, plain)? })
    }

    pub(crate) fn open(&self, key: &EncryptionKey, usage: u32) -> Result<Vec<u8>, AuthError> {
        if self.etype != key.enctype() {
            return Err(AuthError::kerberos(format!(
                "encrypted with enctype {} but the key is enctype {}",
                self.etype,
                key.enctype()
            )));
        }
        key.decrypt(usage, &self.cipher)
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut fields = vec![(0, int(self.etype.into()))];
        if let Some(k) = self.kvno {
            fields.push((1, int(k.into())));
        }
        fields.push((2, tlv(OCTET_STRING, &self.cipher)));
        seq(&fields)
    }

    pub(crate) fn decode(der: &[u8]) -> Result<Self, AuthError> {
        let f = Fields::parse(der)?;
        Ok(Self {
            etype: to_i32(f.int(0)?)?,
            kvno: f.opt(1).map(|v| single(v, INTEGER).and_then(integer).map(|k| k as u32)).transpose()?,
            cipher: f.octets(2)?.to_vec(),
        })
    }
}

/// A ticket, kept with its exact DER so that it is forwarded byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The service's realm.
    pub realm: String,
    /// The service principal.
    pub sname: PrincipalName,
    /// The part encrypted in the service's key.
    pub enc_part: EncryptedData,
    /// The DER of the whole `[APPLICATION 1]` ticket.
    pub der: Vec<u8>,
}

impl Ticket {
    /// Decodes a ticket from its DER (the `[APPLICATION 1]` TLV).
    pub fn decode(der: &[u8]) -> Result<Self, AuthError> {
        let inner = single(der, application(1))?;
        let f = Fields::parse(inner)?;
        if f.int(0)? != 5 {
            return Err(malformed(WHAT, "ticket version is not 5"));
        }
        Ok(Self {
            realm: f.string(1)?,
            sname: PrincipalName::decode(f.req(2)?)?,
            enc_part: EncryptedData::decode(f.req(3)?)?,
            der: der.to_vec(),
        })
    }
}

/// The fields of a KDC reply's encrypted part (`EncKDCRepPart`) this crate uses.
#[derive(Debug, Clone)]
pub struct EncKdcRepPart {
    /// The session key of the ticket.
    pub key: EncryptionKey,
    /// The nonce of the request.
    pub nonce: u32,
    /// Ticket flags.
    pub flags: u32,
    /// Authentication time (Unix seconds).
    pub authtime: i64,
    /// Start time, if different from authtime.
    pub starttime: Option<i64>,
    /// Expiry (Unix seconds).
    pub endtime: i64,
    /// Renewal limit.
    pub renew_till: Option<i64>,
    /// The service realm.
    pub srealm: String,
    /// The service principal.
    pub sname: PrincipalName,
}

impl EncKdcRepPart {
    pub(crate) fn decode(der: &[u8]) -> Result<Self, AuthError> {
        let mut r = DerReader::new(der, WHAT);
        let (tag, inner) = r.read()?;
        // MIT answers AS requests with the EncTGSRepPart tag; both are accepted.
        if tag != application(25) && tag != application(26) {
            return Err(malformed(WHAT, "not an EncKDCRepPart"));
        }
        let f = Fields::parse(single(inner, SEQUENCE)?)?;
        Ok(Self {
            key: decode_key(f.req(0)?)?,
            nonce: f.int(2)? as u32,
            flags: f.opt(4).map(bit_flags).transpose()?.unwrap_or(0),
            authtime: f.time(5)?,
            starttime: f.opt(6).map(|v| single(v, GENERALIZED_TIME).and_then(time)).transpose()?,
            endtime: f.time(7)?,
            renew_till: f.opt(8).map(|v| single(v, GENERALIZED_TIME).and_then(time)).transpose()?,
            srealm: f.string(9)?,
            sname: PrincipalName::decode(f.req(10)?)?,
        })
    }
}

/// AS-REP or TGS-REP.
#[derive(Debug, Clone)]
pub struct KdcRep {
    /// [`msg_type::AS_REP`] or [`msg_type::TGS_REP`].
    pub msg_type: i64,
    /// Pre-authentication data `(type, value)`.
    pub padata: Vec<(i32, Vec<u8>)>,
    /// The client realm.
    pub crealm: String,
    /// The client principal.
    pub cname: PrincipalName,
    /// The issued ticket.
    pub ticket: Ticket,
    /// The part encrypted for the client.
    pub enc_part: EncryptedData,
}

/// KRB-ERROR.
#[derive(Debug, Clone)]
pub struct KrbError {
    /// The error code (RFC 4120 section 7.5.9).
    pub error_code: i32,
    /// The optional text.
    pub e_text: Option<String>,
    /// The optional data (METHOD-DATA for pre-authentication errors).
    pub e_data: Option<Vec<u8>>,
}

impl KrbError {
    /// The error as an [`AuthError`]: credential errors become [`AuthError::LogonDenied`].
    pub fn to_auth_error(&self) -> AuthError {
        match self.error_code {
            // C_PRINCIPAL_UNKNOWN, PREAUTH_FAILED, the integrity check failed (a wrong key on an old KDC),
            // CLIENT_REVOKED, KEY_EXPIRED.
            6 | 24 | 31 | 18 | 23 => AuthError::LogonDenied,
            KRB_AP_ERR_SKEW => AuthError::Kerberos(KerberosError::ClockSkew),
            code => AuthError::Kerberos(KerberosError::Kdc {
                code,
                name: error_name(code),
                text: self.e_text.clone().filter(|t| !t.is_empty()),
            }),
        }
    }
}

/// `KDC_ERR_S_PRINCIPAL_UNKNOWN`: the KDC does not know the service.
pub const KDC_ERR_S_PRINCIPAL_UNKNOWN: i32 = 7;
/// `KRB_AP_ERR_SKEW`: the clocks differ too much.
pub const KRB_AP_ERR_SKEW: i32 = 37;

/// A short name of a KRB-ERROR code.
pub fn error_name(code: i32) -> &'static str {
    match code {
        6 => "KDC_ERR_C_PRINCIPAL_UNKNOWN",
        7 => "KDC_ERR_S_PRINCIPAL_UNKNOWN",
        14 => "KDC_ERR_ETYPE_NOSUPP",
        18 => "KDC_ERR_CLIENT_REVOKED",
        23 => "KDC_ERR_KEY_EXPIRED",
        24 => "KDC_ERR_PREAUTH_FAILED",
        25 => "KDC_ERR_PREAUTH_REQUIRED",
        31 => "KRB_AP_ERR_BAD_INTEGRITY",
        32 => "KRB_AP_ERR_TKT_EXPIRED",
        34 => "KRB_AP_ERR_REPEAT",
        37 => "KRB_AP_ERR_SKEW",
        41 => "KRB_AP_ERR_MODIFIED",
        52 => "KRB_ERR_RESPONSE_TOO_BIG",
        68 => "KDC_ERR_WRONG_REALM",
        _ => "unknown",
    }
}

/// A reply from a KDC.
#[derive(Debug, Clone)]
pub enum KdcReply {
    /// AS-REP or TGS-REP.
    Rep(KdcRep),
    /// KRB-ERROR.
    Error(KrbError),
}

impl KdcReply {
    /// Decodes a KDC reply (without the TCP length prefix).
    pub fn decode(der: &[u8]) -> Result<Self, AuthError> {
        let mut r = DerReader::new(der, WHAT);
        let (tag, inner) = r.read()?;
        let f = Fields::parse(single(inner, SEQUENCE)?)?;
        if tag == application(30) {
            if f.int(1)? != msg_type::KRB_ERROR {
                return Err(malformed(WHAT, "KRB-ERROR with a wrong msg-type"));
            }
            return Ok(Self::Error(KrbError {
                error_code: to_i32(f.int(6)?)?,
                e_text: f.opt(11).map(|v| single(v, GENERAL_STRING).and_then(string)).transpose()?,
                e_data: f.opt(12).map(|v| single(v, OCTET_STRING).map(<[u8]>::to_vec)).transpose()?,
            }));
        }
        let msg_type = f.int(1)?;
        let expected = match tag {
            t if t == application(11) => msg_type::AS_REP,
            t if t == application(13) => msg_type::TGS_REP,
            _ => return Err(malformed(WHAT, "not a KDC reply")),
        };
        if f.int(0)? != 5 || msg_type != expected {
            return Err(malformed(WHAT, "KDC reply with a wrong version or msg-type"));
        }
        Ok(Self::Rep(KdcRep {
            msg_type,
            padata: f.opt(2).map(decode_padata).transpose()?.unwrap_or_default(),
            crealm: f.string(3)?,
            cname: PrincipalName::decode(f.req(4)?)?,
            ticket: Ticket::decode(f.req(5)?)?,
            enc_part: EncryptedData::decode(f.req(6)?)?,
        }))
    }
}

/// One `ETYPE-INFO2-ENTRY`: how the KDC wants the password turned into a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtypeInfo2 {
    /// The encryption type.
    pub etype: i32,
    /// The salt, when not the default.
    pub salt: Option<Vec<u8>>,
    /// The string-to-key parameters (AES: the iteration count, 4 bytes big-endian).
    pub s2kparams: Option<Vec<u8>>,
}

/// PA-DATA types.
pub mod padata_type {
    /// PA-TGS-REQ.
    pub const TGS_REQ: i32 = 1;
    /// PA-ENC-TIMESTAMP.
    pub const ENC_TIMESTAMP: i32 = 2;
    /// PA-ETYPE-INFO2.
    pub const ETYPE_INFO2: i32 = 19;
}

/// Decodes `METHOD-DATA` / `SEQUENCE OF PA-DATA`.
pub fn decode_padata(der: &[u8]) -> Result<Vec<(i32, Vec<u8>)>, AuthError> {
    let mut outer = DerReader::new(single(der, SEQUENCE)?, WHAT);
    let mut out = Vec::new();
    while !outer.is_empty() {
        if out.len() == 64 {
            return Err(malformed(WHAT, "too many PA-DATA"));
        }
        let f = Fields::parse(outer.expect(SEQUENCE)?)?;
        out.push((to_i32(f.int(1)?)?, f.octets(2)?.to_vec()));
    }
    Ok(out)
}

/// Decodes `ETYPE-INFO2`.
pub fn decode_etype_info2(der: &[u8]) -> Result<Vec<EtypeInfo2>, AuthError> {
    let mut outer = DerReader::new(single(der, SEQUENCE)?, WHAT);
    let mut out = Vec::new();
    while !outer.is_empty() {
        if out.len() == 64 {
            return Err(malformed(WHAT, "too many ETYPE-INFO2 entries"));
        }
        let f = Fields::parse(outer.expect(SEQUENCE)?)?;
        out.push(EtypeInfo2 {
            etype: to_i32(f.int(0)?)?,
            salt: f.opt(1).map(|v| DerReader::new(v, WHAT).read().map(|(_, s)| s.to_vec())).transpose()?,
            s2kparams: f.opt(2).map(|v| single(v, OCTET_STRING).map(<[u8]>::to_vec)).transpose()?,
        });
    }
    Ok(out)
}

/// The body of a KDC request.
pub(crate) struct ReqBody<'a> {
    pub kdc_options: u32,
    pub cname: Option<&'a PrincipalName>,
    pub realm: &'a str,
    pub sname: &'a PrincipalName,
    pub till: i64,
    pub nonce: u32,
    pub etypes: &'a [i32],
}

impl ReqBody<'_> {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut fields = vec![(0, bit_string(self.kdc_options))];
        if let Some(c) = self.cname {
            fields.push((1, c.encode()));
        }
        fields.push((2, tlv(GENERAL_STRING, self.realm.as_bytes())));
        fields.push((3, self.sname.encode()));
        fields.push((5, generalized_time(self.till)));
        fields.push((7, int(self.nonce.into())));
        let etypes: Vec<u8> = self.etypes.iter().flat_map(|e| int((*e).into())).collect();
        fields.push((8, tlv(SEQUENCE, &etypes)));
        seq(&fields)
    }
}

/// A whole AS-REQ/TGS-REQ around an encoded body.
pub(crate) fn kdc_req(msg_type: i64, padata: &[(i32, Vec<u8>)], body: &[u8]) -> Vec<u8> {
    let mut fields = vec![(1, int(5)), (2, int(msg_type))];
    if !padata.is_empty() {
        let list: Vec<u8> =
            padata.iter().flat_map(|(t, v)| seq(&[(1, int((*t).into())), (2, tlv(OCTET_STRING, v))])).collect();
        fields.push((3, tlv(SEQUENCE, &list)));
    }
    fields.push((4, body.to_vec()));
    let tag = if msg_type == msg_type::AS_REQ { application(10) } else { application(12) };
    tlv(tag, &seq(&fields))
}

/// `PA-ENC-TS-ENC`.
pub(crate) fn pa_enc_ts_enc(now: i64, usec: u32) -> Vec<u8> {
    seq(&[(0, generalized_time(now)), (1, int(usec.into()))])
}

/// `EncryptionKey`.
pub(crate) fn encode_key(key: &EncryptionKey) -> Vec<u8> {
    seq(&[(0, int(key.enctype().into())), (1, tlv(OCTET_STRING, key.value()))])
}

pub(crate) fn decode_key(der: &[u8]) -> Result<EncryptionKey, AuthError> {
    let f = Fields::parse(der)?;
    EncryptionKey::new(to_i32(f.int(0)?)?, f.octets(1)?)
}

/// `Authenticator` (the parts this crate produces and checks).
#[derive(Debug, Clone)]
pub struct Authenticator {
    /// The client realm.
    pub crealm: String,
    /// The client principal.
    pub cname: PrincipalName,
    /// `(cksumtype, checksum)`.
    pub cksum: Option<(i32, Vec<u8>)>,
    /// Microseconds of `ctime`.
    pub cusec: u32,
    /// Client time (Unix seconds).
    pub ctime: i64,
    /// The initiator's subkey.
    pub subkey: Option<EncryptionKey>,
    /// The initiator's initial sequence number.
    pub seq_number: Option<u32>,
}

impl Authenticator {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut fields = vec![(0, int(5)), (1, tlv(GENERAL_STRING, self.crealm.as_bytes())), (2, self.cname.encode())];
        if let Some((t, c)) = &self.cksum {
            fields.push((3, seq(&[(0, int((*t).into())), (1, tlv(OCTET_STRING, c))])));
        }
        fields.push((4, int(self.cusec.into())));
        fields.push((5, generalized_time(self.ctime)));
        if let Some(k) = &self.subkey {
            fields.push((6, encode_key(k)));
        }
        if let Some(s) = self.seq_number {
            fields.push((7, int(s.into())));
        }
        tlv(application(2), &seq(&fields))
    }

    pub(crate) fn decode(der: &[u8]) -> Result<Self, AuthError> {
        let f = Fields::parse(single(single(der, application(2))?, SEQUENCE)?)?;
        if f.int(0)? != 5 {
            return Err(malformed(WHAT, "authenticator version is not 5"));
        }
        let cksum = f
            .opt(3)
            .map(|v| -> Result<_, AuthError> {
                let c = Fields::parse(v)?;
                Ok((to_i32(c.int(0)?)?, c.octets(1)?.to_vec()))
            })
            .transpose()?;
        Ok(Self {
            crealm: f.string(1)?,
            cname: PrincipalName::decode(f.req(2)?)?,
            cksum,
            cusec: f.int(4)? as u32,
            ctime: f.time(5)?,
            subkey: f.opt(6).map(decode_key).transpose()?,
            seq_number: f.opt(7).map(|v| single(v, INTEGER).and_then(integer).map(|s| s as u32)).transpose()?,
        })
    }
}

/// `AP-REQ`.
#[derive(Debug, Clone)]
pub struct ApReq {
    /// AP options (mutual-required = `0x2000_0000`).
    pub ap_options: u32,
    /// The service ticket.
    pub ticket: Ticket,
    /// The authenticator, encrypted in the ticket's session key.
    pub authenticator: EncryptedData,
}

/// `ap-options` bit `mutual-required`.
pub const AP_MUTUAL_REQUIRED: u32 = 0x2000_0000;

impl ApReq {
    /// Encodes the AP-REQ.
    pub fn encode(&self) -> Vec<u8> {
        tlv(
            application(14),
            &seq(&[
                (0, int(5)),
                (1, int(msg_type::AP_REQ)),
                (2, bit_string(self.ap_options)),
                (3, self.ticket.der.clone()),
                (4, self.authenticator.encode()),
            ]),
        )
    }

    /// Decodes an AP-REQ.
    pub fn decode(der: &[u8]) -> Result<Self, AuthError> {
        let f = Fields::parse(single(single(der, application(14))?, SEQUENCE)?)?;
        if f.int(0)? != 5 || f.int(1)? != msg_type::AP_REQ {
            return Err(malformed(WHAT, "AP-REQ with a wrong version or msg-type"));
        }
        Ok(Self {
            ap_options: bit_flags(f.req(2)?)?,
            ticket: Ticket::decode(f.req(3)?)?,
            authenticator: EncryptedData::decode(f.req(4)?)?,
        })
    }
}

/// `EncAPRepPart`.
#[derive(Debug, Clone)]
pub struct EncApRepPart {
    /// The client time of the authenticator.
    pub ctime: i64,
    /// Its microseconds.
    pub cusec: u32,
    /// The acceptor's subkey.
    pub subkey: Option<EncryptionKey>,
    /// The acceptor's initial sequence number.
    pub seq_number: Option<u32>,
}

impl EncApRepPart {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut fields = vec![(0, generalized_time(self.ctime)), (1, int(self.cusec.into()))];
        if let Some(k) = &self.subkey {
            fields.push((2, encode_key(k)));
        }
        if let Some(s) = self.seq_number {
            fields.push((3, int(s.into())));
        }
        tlv(application(27), &seq(&fields))
    }

    pub(crate) fn decode(der: &[u8]) -> Result<Self, AuthError> {
        let f = Fields::parse(single(single(der, application(27))?, SEQUENCE)?)?;
        Ok(Self {
            ctime: f.time(0)?,
            cusec: f.int(1)? as u32,
            subkey: f.opt(2).map(decode_key).transpose()?,
            seq_number: f.opt(3).map(|v| single(v, INTEGER).and_then(integer).map(|s| s as u32)).transpose()?,
        })
    }
}

/// Encodes an AP-REP around its encrypted part.
pub(crate) fn ap_rep(enc_part: &EncryptedData) -> Vec<u8> {
    tlv(application(15), &seq(&[(0, int(5)), (1, int(msg_type::AP_REP)), (2, enc_part.encode())]))
}

/// Decodes an AP-REP to its encrypted part.
pub fn decode_ap_rep(der: &[u8]) -> Result<EncryptedData, AuthError> {
    let f = Fields::parse(single(single(der, application(15))?, SEQUENCE)?)?;
    if f.int(0)? != 5 || f.int(1)? != msg_type::AP_REP {
        return Err(malformed(WHAT, "AP-REP with a wrong version or msg-type"));
    }
    EncryptedData::decode(f.req(2)?)
}

/// The parts of `EncTicketPart` an acceptor checks.
#[derive(Debug, Clone)]
pub struct EncTicketPart {
    /// Ticket flags.
    pub flags: u32,
    /// The session key.
    pub key: EncryptionKey,
    /// The client realm.
    pub crealm: String,
    /// The client principal.
    pub cname: PrincipalName,
    /// Start of validity (`starttime`, else `authtime`).
    pub starttime: i64,
    /// End of validity.
    pub endtime: i64,
}

/// Ticket flag `invalid` (postdated, not yet validated).
pub const TICKET_INVALID: u32 = 0x0100_0000;

impl EncTicketPart {
    /// Encodes a ticket part (used by tests to mint tickets with a known key).
    pub fn encode(&self, authtime: i64) -> Vec<u8> {
        tlv(
            application(3),
            &seq(&[
                (0, bit_string(self.flags)),
                (1, encode_key(&self.key)),
                (2, tlv(GENERAL_STRING, self.crealm.as_bytes())),
                (3, self.cname.encode()),
                (4, seq(&[(0, int(0)), (1, tlv(OCTET_STRING, b""))])),
                (5, generalized_time(authtime)),
                (6, generalized_time(self.starttime)),
                (7, generalized_time(self.endtime)),
            ]),
        )
    }

    pub(crate) fn decode(der: &[u8]) -> Result<Self, AuthError> {
        let f = Fields::parse(single(single(der, application(3))?, SEQUENCE)?)?;
        let authtime = f.time(5)?;
        Ok(Self {
            flags: bit_flags(f.req(0)?)?,
            key: decode_key(f.req(1)?)?,
            crealm: f.string(2)?,
            cname: PrincipalName::decode(f.req(3)?)?,
            starttime: f.opt(6).map(|v| single(v, GENERALIZED_TIME).and_then(time)).transpose()?.unwrap_or(authtime),
            endtime: f.time(7)?,
        })
    }
}

// ---- DER primitives ----

/// A SEQUENCE of explicitly tagged fields `[n] value`.
pub(crate) fn seq(fields: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (n, v) in fields {
        write_tlv(&mut body, context(*n), v);
    }
    tlv(SEQUENCE, &body)
}

pub(crate) fn int(v: i64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    tlv(INTEGER, &bytes[start..])
}

fn bit_string(flags: u32) -> Vec<u8> {
    let mut c = vec![0u8];
    c.extend_from_slice(&flags.to_be_bytes());
    tlv(BIT_STRING, &c)
}

pub(crate) fn generalized_time(unix: i64) -> Vec<u8> {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let s = format!("{y:04}{m:02}{d:02}{:02}{:02}{:02}Z", secs / 3600, secs / 60 % 60, secs % 60);
    tlv(GENERALIZED_TIME, s.as_bytes())
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `KerberosTime` (`YYYYMMDDHHMMSSZ`) to Unix seconds.
fn time(content: &[u8]) -> Result<i64, AuthError> {
    if content.len() != 15 || content[14] != b'Z' || !content[..14].iter().all(u8::is_ascii_digit) {
        return Err(malformed(WHAT, "KerberosTime is not YYYYMMDDHHMMSSZ"));
    }
    let n = |r: std::ops::Range<usize>| content[r].iter().fold(0i64, |a, &b| a * 10 + i64::from(b - b'0'));
    let (month, day) = (n(4..6) as u32, n(6..8) as u32);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(malformed(WHAT, "KerberosTime out of range"));
    }
    Ok(days_from_civil(n(0..4), month, day) * 86_400 + n(8..10) * 3600 + n(10..12) * 60 + n(12..14))
}

fn integer(content: &[u8]) -> Result<i64, AuthError> {
    if content.is_empty() || content.len() > 8 {
        return Err(malformed(WHAT, "INTEGER of unsupported length"));
    }
    let init = if content[0] & 0x80 != 0 { -1i64 } else { 0 };
    Ok(content.iter().fold(init, |acc, &b| (acc << 8) | i64::from(b)))
}

fn to_i32(v: i64) -> Result<i32, AuthError> {
    i32::try_from(v).map_err(|_| malformed(WHAT, "Int32 out of range"))
}

fn string(content: &[u8]) -> Result<String, AuthError> {
    String::from_utf8(content.to_vec()).map_err(|_| malformed(WHAT, "string is not UTF-8"))
}

/// Flags from a BIT STRING (the first 32 bits, MSB first).
fn bit_flags(der: &[u8]) -> Result<u32, AuthError> {
    let c = single(der, BIT_STRING)?;
    let bits = c.get(1..).ok_or(malformed(WHAT, "empty BIT STRING"))?;
    let mut b = [0u8; 4];
    for (dst, src) in b.iter_mut().zip(bits) {
        *dst = *src;
    }
    Ok(u32::from_be_bytes(b))
}

/// The content of the only TLV in `der`, which must carry `tag`.
pub(crate) fn single(der: &[u8], tag: u8) -> Result<&[u8], AuthError> {
    let mut r = DerReader::new(der, WHAT);
    let content = r.expect(tag)?;
    if !r.is_empty() {
        return Err(malformed(WHAT, "trailing data"));
    }
    Ok(content)
}

/// The explicitly tagged fields of a SEQUENCE (given as the SEQUENCE TLV or its content), by tag number.
struct Fields<'a> {
    values: [Option<&'a [u8]>; 16],
}

impl<'a> Fields<'a> {
    /// `der` is a SEQUENCE TLV.
    fn parse(der: &'a [u8]) -> Result<Self, AuthError> {
        let content = if der.first() == Some(&SEQUENCE) { single(der, SEQUENCE)? } else { der };
        let mut r = DerReader::new(content, WHAT);
        let mut values = [None; 16];
        let mut last: Option<u8> = None;
        while !r.is_empty() {
            let (tag, v) = r.read()?;
            if tag & 0xe0 != 0xa0 || tag & 0x1f >= 16 {
                return Err(malformed(WHAT, "unexpected field tag"));
            }
            let n = tag & 0x1f;
            if last.is_some_and(|l| n <= l) {
                return Err(malformed(WHAT, "duplicate or out-of-order field"));
            }
            last = Some(n);
            values[usize::from(n)] = Some(v);
        }
        Ok(Self { values })
    }

    fn opt(&self, n: usize) -> Option<&'a [u8]> {
        self.values[n]
    }

    fn req(&self, n: usize) -> Result<&'a [u8], AuthError> {
        self.values[n].ok_or(malformed(WHAT, "missing required field"))
    }

    fn int(&self, n: usize) -> Result<i64, AuthError> {
        integer(single(self.req(n)?, INTEGER)?)
    }

    fn string(&self, n: usize) -> Result<String, AuthError> {
        let mut r = DerReader::new(self.req(n)?, WHAT);
        string(r.read()?.1)
    }

    fn time(&self, n: usize) -> Result<i64, AuthError> {
        time(single(self.req(n)?, GENERALIZED_TIME)?)
    }

    fn octets(&self, n: usize) -> Result<&'a [u8], AuthError> {
        single(self.req(n)?, OCTET_STRING)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_minimal_and_round_trip() {
        for v in [0i64, 1, 127, 128, 255, 256, -1, -128, -129, 0x7fff_ffff, 0xffff_ffff, i64::MIN, i64::MAX] {
            let enc = int(v);
            assert_eq!(integer(single(&enc, INTEGER).unwrap()).unwrap(), v, "{v}");
        }
        assert_eq!(int(128), vec![2, 2, 0, 128]);
        assert_eq!(int(-1), vec![2, 1, 0xff]);
    }

    #[test]
    fn times_round_trip() {
        for t in [0i64, 951_782_400, 1_700_000_000, 4_102_444_799] {
            assert_eq!(time(single(&generalized_time(t), GENERALIZED_TIME).unwrap()).unwrap(), t);
        }
        assert_eq!(generalized_time(1_700_000_000)[2..], *b"20231114221320Z");
        assert!(time(b"2023111422132xZ").is_err());
    }

    #[test]
    fn authenticator_round_trips() {
        let key = EncryptionKey::new(super::super::crypto::AES128_CTS_HMAC_SHA1_96, &[7; 16]).unwrap();
        let a = Authenticator {
            crealm: "WINRM.TEST".into(),
            cname: PrincipalName::new(name_type::PRINCIPAL, "alice"),
            cksum: Some((0x8003, vec![1; 24])),
            cusec: 12,
            ctime: 1_700_000_000,
            subkey: Some(key),
            seq_number: Some(0x8000_0001),
        };
        let back = Authenticator::decode(&a.encode()).unwrap();
        assert_eq!(back.cname, a.cname);
        assert_eq!(back.cksum, a.cksum);
        assert_eq!(back.seq_number, a.seq_number);
        assert_eq!(back.subkey, a.subkey);
    }
}
