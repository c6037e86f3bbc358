//! SPNEGO (RFC 4178) around Kerberos and NTLM: NegTokenInit / NegTokenResp codec, initiator and acceptor with
//! mechListMIC.
//!
//! The initiator offers Kerberos first when it has a [`KerberosClient`] (its AP-REQ is the optimistic token) and
//! NTLM after it; if no Kerberos ticket can be obtained it offers NTLM alone, and if the acceptor picks NTLM it
//! continues with NTLM and protects the mechanism list with mechListMICs (required because NTLM was not its first
//! choice). The acceptor takes Kerberos when it has a keytab ([`KerberosAcceptor`]) and Kerberos is the client's
//! first mechanism; it also accepts a bare Kerberos GSS token (what pypsrp's `auth="kerberos"` sends under the
//! `Negotiate` scheme) and answers with a bare AP-REP.
//!
//! Following Windows (and pyspnego), the NTLM RC4 stream of a direction is restarted after that direction's
//! mechListMIC has been produced or verified; sequence numbers continue.

use std::fmt;
use std::sync::Arc;

use crate::cbt::ChannelBindings;
use crate::context::{AcceptorContext, InitiatorContext, WrappedMessage};
use crate::credentials::{ClientIdentity, Credentials, UserDatabase};
use crate::der::{DerReader, ENUMERATED, OCTET_STRING, OID, SEQUENCE, context, tlv, write_tlv};
use crate::error::{AuthError, malformed};
use crate::kerberos::gss::{KRB5_OID, MS_KRB5_OID};
use crate::kerberos::{KerberosAcceptor, KerberosClient};
use crate::ntlm::{ChannelBindingPolicy, NtlmAcceptor, NtlmClient};

/// DER content of the SPNEGO OID 1.3.6.1.5.5.2.
pub const SPNEGO_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
/// DER content of the NTLMSSP OID 1.3.6.1.4.1.311.2.2.10.
pub const NTLM_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];
/// The most mechanisms a NegTokenInit may list.
pub const MAX_MECH_TYPES: usize = 32;

const WHAT: &str = "SPNEGO token";

/// SPNEGO negState values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NegState {
    /// accept-completed (0).
    AcceptCompleted,
    /// accept-incomplete (1).
    AcceptIncomplete,
    /// reject (2).
    Reject,
    /// request-mic (3).
    RequestMic,
}

impl NegState {
    fn from_byte(b: u8) -> Result<Self, AuthError> {
        Ok(match b {
            0 => Self::AcceptCompleted,
            1 => Self::AcceptIncomplete,
            2 => Self::Reject,
            3 => Self::RequestMic,
            _ => return Err(malformed(WHAT, "unknown negState")),
        })
    }

    fn to_byte(self) -> u8 {
        match self {
            Self::AcceptCompleted => 0,
            Self::AcceptIncomplete => 1,
            Self::Reject => 2,
            Self::RequestMic => 3,
        }
    }
}

/// A decoded SPNEGO token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegToken {
    /// NegTokenInit (wrapped in the GSS-API InitialContextToken).
    Init {
        /// OID contents of the offered mechanisms, most preferred first.
        mech_types: Vec<Vec<u8>>,
        /// The DER encoding of the MechTypeList, as the mechListMIC covers it.
        mech_types_der: Vec<u8>,
        /// The optimistic token of the first mechanism.
        mech_token: Option<Vec<u8>>,
        /// mechListMIC.
        mech_list_mic: Option<Vec<u8>>,
    },
    /// NegTokenResp.
    Resp {
        /// negState.
        neg_state: Option<NegState>,
        /// supportedMech OID content.
        supported_mech: Option<Vec<u8>>,
        /// responseToken.
        response_token: Option<Vec<u8>>,
        /// mechListMIC.
        mech_list_mic: Option<Vec<u8>>,
    },
}

impl NegToken {
    /// Decodes a token. Tokens above [`crate::MAX_TOKEN_LEN`] are refused.
    pub fn parse(token: &[u8]) -> Result<Self, AuthError> {
        if token.len() > crate::MAX_TOKEN_LEN {
            return Err(AuthError::TooLarge { what: WHAT, len: token.len() });
        }
        let mut outer = DerReader::new(token, WHAT);
        let (tag, content) = outer.read()?;
        if !outer.is_empty() {
            return Err(malformed(WHAT, "trailing data"));
        }
        match tag {
            0x60 => {
                let mut r = DerReader::new(content, WHAT);
                if r.expect(OID)? != SPNEGO_OID {
                    return Err(AuthError::Unsupported("GSS-API token of a mechanism other than SPNEGO"));
                }
                let mut init = DerReader::new(r.expect(context(0))?, WHAT);
                let mut fields = DerReader::new(init.expect(SEQUENCE)?, WHAT);
                let (mut mech_types, mut mech_types_der, mut mech_token, mut mech_list_mic) =
                    (Vec::new(), Vec::new(), None, None);
                let mut last = None;
                while let Some(tag) = fields.peek_tag() {
                    check_order(&mut last, tag)?;
                    let content = fields.read()?.1;
                    match tag {
                        0xa0 => {
                            mech_types_der = content.to_vec();
                            let mut list = DerReader::new(content, WHAT);
                            let mut oids = DerReader::new(list.expect(SEQUENCE)?, WHAT);
                            while !oids.is_empty() {
                                if mech_types.len() == MAX_MECH_TYPES {
                                    return Err(malformed(WHAT, "too many mechTypes"));
                                }
                                mech_types.push(oids.expect(OID)?.to_vec());
                            }
                        }
                        0xa1 => {} // reqFlags: ignored
                        0xa2 => mech_token = Some(DerReader::new(content, WHAT).expect(OCTET_STRING)?.to_vec()),
                        0xa3 => mech_list_mic = Some(DerReader::new(content, WHAT).expect(OCTET_STRING)?.to_vec()),
                        _ => return Err(malformed(WHAT, "unknown NegTokenInit field")),
                    }
                }
                if mech_types.is_empty() {
                    return Err(malformed(WHAT, "NegTokenInit without mechTypes"));
                }
                Ok(Self::Init { mech_types, mech_types_der, mech_token, mech_list_mic })
            }
            0xa1 => {
                let mut fields = DerReader::new(DerReader::new(content, WHAT).expect(SEQUENCE)?, WHAT);
                let (mut neg_state, mut supported_mech, mut response_token, mut mech_list_mic) =
                    (None, None, None, None);
                let mut last = None;
                while let Some(tag) = fields.peek_tag() {
                    check_order(&mut last, tag)?;
                    let mut inner = DerReader::new(fields.read()?.1, WHAT);
                    match tag {
                        0xa0 => match inner.expect(ENUMERATED)? {
                            [b] => neg_state = Some(NegState::from_byte(*b)?),
                            _ => return Err(malformed(WHAT, "negState is not one byte")),
                        },
                        0xa1 => supported_mech = Some(inner.expect(OID)?.to_vec()),
                        0xa2 => response_token = Some(inner.expect(OCTET_STRING)?.to_vec()),
                        0xa3 => mech_list_mic = Some(inner.expect(OCTET_STRING)?.to_vec()),
                        _ => return Err(malformed(WHAT, "unknown NegTokenResp field")),
                    }
                }
                Ok(Self::Resp { neg_state, supported_mech, response_token, mech_list_mic })
            }
            _ => Err(malformed(WHAT, "neither NegTokenInit nor NegTokenResp")),
        }
    }

    /// Encodes the token.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Init { mech_types_der, mech_token, mech_list_mic, .. } => {
                let mut fields = tlv(context(0), mech_types_der);
                if let Some(t) = mech_token {
                    write_tlv(&mut fields, context(2), &tlv(OCTET_STRING, t));
                }
                if let Some(m) = mech_list_mic {
                    write_tlv(&mut fields, context(3), &tlv(OCTET_STRING, m));
                }
                let mut body = tlv(OID, SPNEGO_OID);
                write_tlv(&mut body, context(0), &tlv(SEQUENCE, &fields));
                tlv(0x60, &body)
            }
            Self::Resp { neg_state, supported_mech, response_token, mech_list_mic } => {
                let mut fields = Vec::new();
                if let Some(s) = neg_state {
                    write_tlv(&mut fields, context(0), &tlv(ENUMERATED, &[s.to_byte()]));
                }
                if let Some(m) = supported_mech {
                    write_tlv(&mut fields, context(1), &tlv(OID, m));
                }
                if let Some(t) = response_token {
                    write_tlv(&mut fields, context(2), &tlv(OCTET_STRING, t));
                }
                if let Some(m) = mech_list_mic {
                    write_tlv(&mut fields, context(3), &tlv(OCTET_STRING, m));
                }
                tlv(0xa1, &tlv(SEQUENCE, &fields))
            }
        }
    }
}

/// DER: the context-tagged fields of a SEQUENCE appear once each, in ascending tag order.
fn check_order(last: &mut Option<u8>, tag: u8) -> Result<(), AuthError> {
    if last.is_some_and(|l| tag <= l) {
        return Err(malformed(WHAT, "duplicate or out-of-order field"));
    }
    *last = Some(tag);
    Ok(())
}

/// The DER MechTypeList of these mechanism OIDs.
fn mech_list_der(oids: &[&[u8]]) -> Vec<u8> {
    let body: Vec<u8> = oids.iter().flat_map(|o| tlv(OID, o)).collect();
    tlv(SEQUENCE, &body)
}

fn is_kerberos_oid(oid: &[u8]) -> bool {
    oid == KRB5_OID || oid == MS_KRB5_OID
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Initial,
    /// Kerberos AP-REQ sent optimistically (initiator).
    KerberosSent,
    InitSent,
    AuthenticateSent,
    Complete,
    Failed,
}

/// The mechanism in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mech {
    Ntlm,
    Kerberos,
}

/// A SPNEGO initiator offering Kerberos (when configured) and NTLM.
pub struct SpnegoClient {
    ntlm: Option<NtlmClient>,
    kerberos: Option<KerberosClient>,
    /// Why Kerberos was dropped in favour of NTLM (kept for diagnostics).
    kerberos_error: Option<AuthError>,
    mech: Mech,
    mech_list: Vec<u8>,
    phase: Phase,
}

impl fmt::Debug for SpnegoClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpnegoClient")
            .field("ntlm", &self.ntlm)
            .field("kerberos", &self.kerberos)
            .field("mech", &self.mech)
            .field("phase", &self.phase)
            .finish()
    }
}

impl SpnegoClient {
    /// A Negotiate initiator with NTLM inside; arguments as for [`NtlmClient::new`].
    pub fn new(
        credentials: Credentials,
        target_name: Option<String>,
        channel_bindings: Option<ChannelBindings>,
    ) -> Self {
        Self {
            ntlm: Some(NtlmClient::new(credentials, target_name, channel_bindings)),
            kerberos: None,
            kerberos_error: None,
            mech: Mech::Ntlm,
            mech_list: mech_list_der(&[NTLM_OID]),
            phase: Phase::Initial,
        }
    }

    /// Offers Kerberos first, falling back to NTLM when no ticket can be obtained or the acceptor picks NTLM.
    pub fn with_kerberos(mut self, kerberos: KerberosClient) -> Self {
        self.kerberos = Some(kerberos);
        self
    }

    /// A Negotiate initiator with Kerberos only: the implicit-credential case (a `kinit` ccache, no password to
    /// run NTLM with).
    pub fn kerberos_only(kerberos: KerberosClient) -> Self {
        Self {
            ntlm: None,
            kerberos: Some(kerberos),
            kerberos_error: None,
            mech: Mech::Kerberos,
            mech_list: mech_list_der(&[KRB5_OID]),
            phase: Phase::Initial,
        }
    }

    /// Whether Kerberos was negotiated (false: NTLM).
    pub fn uses_kerberos(&self) -> bool {
        self.mech == Mech::Kerberos && self.kerberos.is_some()
    }

    /// Why Kerberos was given up for NTLM, if it was.
    pub fn kerberos_error(&self) -> Option<&AuthError> {
        self.kerberos_error.as_ref()
    }

    fn ntlm_mut(&mut self) -> Result<&mut NtlmClient, AuthError> {
        self.ntlm.as_mut().ok_or(AuthError::Unsupported("the acceptor chose NTLM but no password was given"))
    }

    fn kerberos_mut(&mut self) -> Result<&mut KerberosClient, AuthError> {
        self.kerberos.as_mut().ok_or(AuthError::InvalidState("Kerberos not configured"))
    }

    /// Whether the NTLM session keys exist (the AUTHENTICATE was produced), even if the acceptor's mechListMIC
    /// has not been seen yet. CredSSP seals `pubKeyAuth` at exactly that point (MS-CSSP 3.1.5).
    pub(crate) fn has_keys(&self) -> bool {
        self.mech == Mech::Ntlm && matches!(self.phase, Phase::AuthenticateSent | Phase::Complete)
    }

    /// Seals once the keys exist, before completion: only for CredSSP's `pubKeyAuth`, which travels with the
    /// AUTHENTICATE. WinRM message encryption uses [`InitiatorContext::wrap`], which requires completion.
    pub(crate) fn wrap_with_keys(&mut self, plaintext: &[u8]) -> Result<WrappedMessage, AuthError> {
        if !self.has_keys() {
            return Err(AuthError::InvalidState("wrap before the NTLM keys exist"));
        }
        self.ntlm_mut()?.wrap(plaintext)
    }

    fn advance(&mut self, input: Option<&[u8]>) -> Result<Option<Vec<u8>>, AuthError> {
        match (self.phase, input) {
            (Phase::Initial, None) => {
                if let Some(kerberos) = self.kerberos.as_mut() {
                    match kerberos.step(None) {
                        Ok(token) => {
                            let mut oids = vec![KRB5_OID];
                            if self.ntlm.is_some() {
                                oids.push(NTLM_OID);
                            }
                            self.mech = Mech::Kerberos;
                            self.mech_list = mech_list_der(&oids);
                            self.phase = Phase::KerberosSent;
                            return Ok(Some(
                                NegToken::Init {
                                    mech_types: oids.iter().map(|o| o.to_vec()).collect(),
                                    mech_types_der: self.mech_list.clone(),
                                    mech_token: token,
                                    mech_list_mic: None,
                                }
                                .encode(),
                            ));
                        }
                        Err(e) if self.ntlm.is_some() => {
                            self.kerberos = None;
                            self.kerberos_error = Some(e);
                        }
                        Err(e) => return Err(e),
                    }
                }
                let token = self.ntlm_mut()?.step(None)?;
                self.mech = Mech::Ntlm;
                self.mech_list = mech_list_der(&[NTLM_OID]);
                self.phase = Phase::InitSent;
                Ok(Some(
                    NegToken::Init {
                        mech_types: vec![NTLM_OID.to_vec()],
                        mech_types_der: self.mech_list.clone(),
                        mech_token: token,
                        mech_list_mic: None,
                    }
                    .encode(),
                ))
            }
            (Phase::KerberosSent, Some(input)) => {
                let NegToken::Resp { neg_state, supported_mech, response_token, mech_list_mic } =
                    NegToken::parse(input)?
                else {
                    return Err(malformed(WHAT, "expected NegTokenResp"));
                };
                if neg_state == Some(NegState::Reject) {
                    return Err(AuthError::Rejected);
                }
                if supported_mech.as_deref() == Some(NTLM_OID) {
                    // The acceptor prefers NTLM: start it in the next NegTokenResp; MICs protect the list.
                    let negotiate = self.ntlm_mut()?.step(None)?;
                    self.kerberos = None;
                    self.mech = Mech::Ntlm;
                    self.phase = Phase::InitSent;
                    return Ok(Some(
                        NegToken::Resp {
                            neg_state: None,
                            supported_mech: None,
                            response_token: negotiate,
                            mech_list_mic: None,
                        }
                        .encode(),
                    ));
                }
                if supported_mech.as_deref().is_some_and(|m| !is_kerberos_oid(m)) {
                    return Err(AuthError::Unsupported("acceptor chose a mechanism we did not offer"));
                }
                let ap_rep = response_token.ok_or(AuthError::MissingToken { scheme: "Negotiate" })?;
                let mech_list = self.mech_list.clone();
                self.phase = Phase::Complete;
                let kerberos = self.kerberos.as_mut().ok_or(AuthError::InvalidState("Kerberos not configured"))?;
                kerberos.step(Some(&ap_rep))?;
                let protection =
                    kerberos.protection_mut().ok_or(AuthError::InvalidState("Kerberos context incomplete"))?;
                if let Some(mic) = &mech_list_mic {
                    protection.verify_mic(&mech_list, mic).map_err(|_| AuthError::MechListMicMismatch)?;
                }
                if neg_state == Some(NegState::AcceptCompleted) {
                    return Ok(None);
                }
                // accept-incomplete / request-mic: the acceptor wants our mechListMIC.
                let ours = protection.get_mic(&mech_list);
                Ok(Some(
                    NegToken::Resp {
                        neg_state: None,
                        supported_mech: None,
                        response_token: None,
                        mech_list_mic: Some(ours),
                    }
                    .encode(),
                ))
            }
            (Phase::Complete, Some(input)) if self.mech == Mech::Kerberos => {
                // The acceptor's final accept-completed after our mechListMIC.
                match NegToken::parse(input)? {
                    NegToken::Resp { neg_state: Some(NegState::Reject), .. } => Err(AuthError::Rejected),
                    NegToken::Resp { .. } => Ok(None),
                    NegToken::Init { .. } => Err(malformed(WHAT, "expected NegTokenResp")),
                }
            }
            (Phase::InitSent, Some(input)) => {
                let NegToken::Resp { neg_state, supported_mech, response_token, .. } = NegToken::parse(input)? else {
                    return Err(malformed(WHAT, "expected NegTokenResp"));
                };
                if neg_state == Some(NegState::Reject) {
                    return Err(AuthError::Rejected);
                }
                if supported_mech.as_deref().is_some_and(|m| m != NTLM_OID) {
                    return Err(AuthError::Unsupported("acceptor chose a mechanism other than NTLM"));
                }
                let challenge = response_token.ok_or(AuthError::MissingToken { scheme: "Negotiate" })?;
                let mech_list = self.mech_list.clone();
                let ntlm = self.ntlm_mut()?;
                let auth = ntlm.step(Some(&challenge))?;
                let session = ntlm.session_mut().ok_or(AuthError::InvalidState("NTLM incomplete"))?;
                let mic = session.sign(&mech_list).to_vec();
                session.reset_stream(true);
                self.phase = Phase::AuthenticateSent;
                Ok(Some(
                    NegToken::Resp {
                        neg_state: None,
                        supported_mech: None,
                        response_token: auth,
                        mech_list_mic: Some(mic),
                    }
                    .encode(),
                ))
            }
            (Phase::AuthenticateSent, Some(input)) => {
                let NegToken::Resp { neg_state, mech_list_mic, .. } = NegToken::parse(input)? else {
                    return Err(malformed(WHAT, "expected NegTokenResp"));
                };
                if neg_state != Some(NegState::AcceptCompleted) {
                    return Err(AuthError::Rejected);
                }
                let mic = mech_list_mic.ok_or(AuthError::MechListMicMismatch)?;
                let mech_list = self.mech_list.clone();
                let session = self.ntlm_mut()?.session_mut().ok_or(AuthError::InvalidState("NTLM incomplete"))?;
                session.verify(&mech_list, &mic)?;
                session.reset_stream(false);
                self.phase = Phase::Complete;
                Ok(None)
            }
            (Phase::Complete, None) => Ok(None),
            (Phase::AuthenticateSent, None) => Err(AuthError::MissingToken { scheme: "Negotiate" }),
            _ => Err(AuthError::InvalidState("unexpected SPNEGO input")),
        }
    }
}

impl InitiatorContext for SpnegoClient {
    fn step(&mut self, input: Option<&[u8]>) -> Result<Option<Vec<u8>>, AuthError> {
        if self.phase == Phase::Failed {
            return Err(AuthError::InvalidState("SPNEGO context failed earlier"));
        }
        self.advance(input).inspect_err(|_| self.phase = Phase::Failed)
    }

    fn is_complete(&self) -> bool {
        self.phase == Phase::Complete
    }

    fn wrap(&mut self, plaintext: &[u8]) -> Result<WrappedMessage, AuthError> {
        if !self.is_complete() {
            return Err(AuthError::InvalidState("wrap before completion"));
        }
        match self.mech {
            Mech::Kerberos => self.kerberos_mut()?.wrap(plaintext),
            Mech::Ntlm => self.ntlm_mut()?.wrap(plaintext),
        }
    }

    fn unwrap(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError> {
        if !self.is_complete() {
            return Err(AuthError::InvalidState("unwrap before completion"));
        }
        match self.mech {
            Mech::Kerberos => self.kerberos_mut()?.unwrap(header, data),
            Mech::Ntlm => self.ntlm_mut()?.unwrap(header, data),
        }
    }
}

/// A SPNEGO acceptor that negotiates Kerberos (with a keytab) or NTLM.
pub struct SpnegoAcceptor {
    ntlm: NtlmAcceptor,
    kerberos: Option<KerberosAcceptor>,
    mech: Mech,
    mech_list: Vec<u8>,
    phase: Phase,
    /// NTLM was not the client's first choice: its NEGOTIATE comes in the next NegTokenResp.
    awaiting_negotiate: bool,
    /// We answered request-mic (NTLM was not the first choice), so the mechListMIC is mandatory (RFC 4178 5).
    mic_requested: bool,
}

impl fmt::Debug for SpnegoAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpnegoAcceptor")
            .field("ntlm", &self.ntlm)
            .field("kerberos", &self.kerberos)
            .field("mech", &self.mech)
            .field("phase", &self.phase)
            .finish()
    }
}

impl SpnegoAcceptor {
    /// A Negotiate acceptor for the accounts in `users`.
    pub fn new(users: Arc<UserDatabase>) -> Self {
        Self::from_ntlm(NtlmAcceptor::new(users))
    }

    /// A Negotiate acceptor around a configured NTLM acceptor (names, channel bindings).
    pub fn from_ntlm(ntlm: NtlmAcceptor) -> Self {
        Self {
            ntlm,
            kerberos: None,
            mech: Mech::Ntlm,
            mech_list: Vec::new(),
            phase: Phase::Initial,
            awaiting_negotiate: false,
            mic_requested: false,
        }
    }

    /// Also accepts Kerberos, with the keys of this acceptor's keytab.
    pub fn with_kerberos(mut self, kerberos: KerberosAcceptor) -> Self {
        self.kerberos = Some(kerberos);
        self
    }

    /// Checks the client's channel bindings (NTLM and, when configured, Kerberos).
    pub fn with_channel_bindings(self, bindings: ChannelBindings, policy: ChannelBindingPolicy) -> Self {
        Self {
            kerberos: self.kerberos.map(|k| k.with_channel_bindings(bindings.clone(), policy)),
            ntlm: self.ntlm.with_channel_bindings(bindings, policy),
            ..self
        }
    }

    /// Whether Kerberos was negotiated (false: NTLM).
    pub fn uses_kerberos(&self) -> bool {
        self.mech == Mech::Kerberos
    }

    fn kerberos_mut(&mut self) -> Result<&mut KerberosAcceptor, AuthError> {
        self.kerberos.as_mut().ok_or(AuthError::InvalidState("Kerberos not configured"))
    }

    /// Whether (`header`, `data`) is the client's next sealed message and verifies, without changing the context:
    /// NTLM only (see [`crate::ServerAuth::verifies_next_seal`]).
    pub(crate) fn verifies_next_seal(&self, header: &[u8], data: &[u8]) -> bool {
        self.phase == Phase::Complete && self.mech == Mech::Ntlm && self.ntlm.verifies_next_seal(header, data)
    }

    fn advance(&mut self, input: &[u8]) -> Result<Option<Vec<u8>>, AuthError> {
        if self.phase == Phase::Initial
            && self.kerberos.is_some()
            && crate::kerberos::gss::unframe(input).is_ok_and(|(id, _)| id == crate::kerberos::gss::TOK_AP_REQ)
        {
            // A bare Kerberos GSS token under Negotiate: answer with a bare AP-REP.
            let out = self.kerberos_mut()?.step(input)?;
            self.mech = Mech::Kerberos;
            self.phase = Phase::Complete;
            return Ok(out);
        }
        let token = NegToken::parse(input)?;
        match (self.phase, token) {
            (Phase::Initial, NegToken::Init { mech_types, mech_types_der, mech_token: Some(tok), .. })
                if self.kerberos.is_some() && is_kerberos_oid(&mech_types[0]) =>
            {
                let ap_rep = self.kerberos_mut()?.step(&tok)?;
                self.mech = Mech::Kerberos;
                self.mech_list = mech_types_der;
                self.phase = Phase::Complete;
                // Kerberos was the initiator's first choice: the mechListMIC exchange is optional (RFC 4178
                // section 5), and Windows and MIT complete here.
                Ok(Some(
                    NegToken::Resp {
                        neg_state: Some(NegState::AcceptCompleted),
                        supported_mech: Some(mech_types[0].clone()),
                        response_token: ap_rep,
                        mech_list_mic: None,
                    }
                    .encode(),
                ))
            }
            (Phase::Initial, NegToken::Init { mech_types, mech_types_der, mech_token, .. }) => {
                let position = mech_types
                    .iter()
                    .position(|m| m == NTLM_OID)
                    .ok_or(AuthError::Unsupported("no common SPNEGO mechanism"))?;
                self.mech_list = mech_types_der;
                self.phase = Phase::InitSent;
                let (neg_state, response_token) = match (position, mech_token) {
                    (0, Some(tok)) => (NegState::AcceptIncomplete, self.ntlm.step(&tok)?),
                    _ => {
                        self.awaiting_negotiate = true;
                        self.mic_requested = true;
                        (NegState::RequestMic, None)
                    }
                };
                Ok(Some(
                    NegToken::Resp {
                        neg_state: Some(neg_state),
                        supported_mech: Some(NTLM_OID.to_vec()),
                        response_token,
                        mech_list_mic: None,
                    }
                    .encode(),
                ))
            }
            (Phase::InitSent, NegToken::Resp { neg_state, response_token, mech_list_mic, .. }) => {
                if neg_state == Some(NegState::Reject) {
                    return Err(AuthError::Rejected);
                }
                let token = response_token.ok_or(AuthError::MissingToken { scheme: "Negotiate" })?;
                if self.awaiting_negotiate {
                    self.awaiting_negotiate = false;
                    let challenge = self.ntlm.step(&token)?;
                    return Ok(Some(
                        NegToken::Resp {
                            neg_state: Some(NegState::AcceptIncomplete),
                            supported_mech: None,
                            response_token: challenge,
                            mech_list_mic: None,
                        }
                        .encode(),
                    ));
                }
                self.ntlm.step(&token)?;
                let mic_required = self.mic_requested || self.ntlm.carried_mic();
                let session = self.ntlm.session_mut().ok_or(AuthError::InvalidState("NTLM incomplete"))?;
                let Some(mic) = mech_list_mic else {
                    if mic_required {
                        return Err(AuthError::MechListMicMismatch);
                    }
                    // NTLM was the first choice and its AUTHENTICATE had no MIC (asyauth): the mechanism list
                    // is not protected, as with pyspnego's acceptor; the NTProofStr still binds the logon.
                    self.phase = Phase::Complete;
                    return Ok(Some(
                        NegToken::Resp {
                            neg_state: Some(NegState::AcceptCompleted),
                            supported_mech: None,
                            response_token: None,
                            mech_list_mic: None,
                        }
                        .encode(),
                    ));
                };
                session.verify(&self.mech_list, &mic)?;
                session.reset_stream(false);
                let ours = session.sign(&self.mech_list).to_vec();
                session.reset_stream(true);
                self.phase = Phase::Complete;
                Ok(Some(
                    NegToken::Resp {
                        neg_state: Some(NegState::AcceptCompleted),
                        supported_mech: None,
                        response_token: None,
                        mech_list_mic: Some(ours),
                    }
                    .encode(),
                ))
            }
            _ => Err(AuthError::InvalidState("unexpected SPNEGO token")),
        }
    }
}

impl AcceptorContext for SpnegoAcceptor {
    fn step(&mut self, input: &[u8]) -> Result<Option<Vec<u8>>, AuthError> {
        if matches!(self.phase, Phase::Failed | Phase::Complete) {
            return Err(AuthError::InvalidState("SPNEGO context not expecting tokens"));
        }
        self.advance(input).inspect_err(|_| self.phase = Phase::Failed)
    }

    fn is_complete(&self) -> bool {
        self.phase == Phase::Complete
    }

    fn client_identity(&self) -> Option<&ClientIdentity> {
        match (self.is_complete(), self.mech, &self.kerberos) {
            (false, _, _) => None,
            (true, Mech::Kerberos, Some(k)) => k.client_identity(),
            (true, _, _) => self.ntlm.client_identity(),
        }
    }

    fn wrap(&mut self, plaintext: &[u8]) -> Result<WrappedMessage, AuthError> {
        if !self.is_complete() {
            return Err(AuthError::InvalidState("wrap before completion"));
        }
        match self.mech {
            Mech::Kerberos => self.kerberos_mut()?.wrap(plaintext),
            Mech::Ntlm => self.ntlm.wrap(plaintext),
        }
    }

    fn unwrap(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError> {
        if !self.is_complete() {
            return Err(AuthError::InvalidState("unwrap before completion"));
        }
        match self.mech {
            Mech::Kerberos => self.kerberos_mut()?.unwrap(header, data),
            Mech::Ntlm => self.ntlm.unwrap(header, data),
        }
    }
}
