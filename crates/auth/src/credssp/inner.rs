//! The authentication inside CredSSP: SPNEGO offering NTLM, with the GSS-style wrap CredSSP uses for
//! `pubKeyAuth` and `authInfo` (NTLM: the 16-byte signature followed by the sealed data).
//!
//! It differs from [`crate::spnego::SpnegoClient`] in one point MS-CSSP requires: `pubKeyAuth` is sealed and
//! sent together with the NTLM AUTHENTICATE, before the acceptor's mechListMIC has been seen, so sealing is
//! available as soon as the NTLM keys exist.

use std::fmt;

use crate::context::InitiatorContext;
use crate::credentials::Credentials;
use crate::der::{OID, SEQUENCE, tlv};
use crate::error::{AuthError, malformed};
use crate::ntlm::{NtlmClient, SIGNATURE_LEN};
use crate::spnego::{NTLM_OID, NegState, NegToken};

const WHAT: &str = "CredSSP negoToken";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Initial,
    InitSent,
    AuthenticateSent,
    Complete,
}

/// SPNEGO/NTLM initiator for the inside of CredSSP.
pub(crate) struct InnerSpnego {
    ntlm: NtlmClient,
    mech_list: Vec<u8>,
    phase: Phase,
}

impl fmt::Debug for InnerSpnego {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InnerSpnego").field("ntlm", &self.ntlm).field("phase", &self.phase).finish()
    }
}

impl InnerSpnego {
    pub(crate) fn new(credentials: Credentials, target_name: Option<String>) -> Self {
        Self {
            ntlm: NtlmClient::new(credentials, target_name, None),
            mech_list: tlv(SEQUENCE, &tlv(OID, NTLM_OID)),
            phase: Phase::Initial,
        }
    }

    /// The next SPNEGO token.
    pub(crate) fn step(&mut self, input: Option<&[u8]>) -> Result<Option<Vec<u8>>, AuthError> {
        match (self.phase, input) {
            (Phase::Initial, None) => {
                let token = self.ntlm.step(None)?;
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
            (Phase::InitSent, Some(input)) => {
                let NegToken::Resp { neg_state, supported_mech, response_token, .. } = NegToken::parse(input)? else {
                    return Err(malformed(WHAT, "expected NegTokenResp"));
                };
                if neg_state == Some(NegState::Reject) {
                    return Err(AuthError::Rejected);
                }
                if supported_mech.as_deref().is_some_and(|m| m != NTLM_OID) {
                    return Err(AuthError::Unsupported("CredSSP acceptor chose a mechanism other than NTLM"));
                }
                let challenge = response_token.ok_or(AuthError::MissingToken { scheme: "CredSSP" })?;
                let auth = self.ntlm.step(Some(&challenge))?;
                let session = self.ntlm.session_mut().ok_or(AuthError::InvalidState("NTLM incomplete"))?;
                let mic = session.sign(&self.mech_list).to_vec();
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
                let session = self.ntlm.session_mut().ok_or(AuthError::InvalidState("NTLM incomplete"))?;
                session.verify(&self.mech_list, &mic)?;
                session.reset_stream(false);
                self.phase = Phase::Complete;
                Ok(None)
            }
            _ => Err(AuthError::InvalidState("unexpected CredSSP negoToken")),
        }
    }

    /// Whether the NTLM keys exist (the AUTHENTICATE was produced): `pubKeyAuth` can be sealed.
    pub(crate) fn has_keys(&self) -> bool {
        matches!(self.phase, Phase::AuthenticateSent | Phase::Complete)
    }

    /// Whether the acceptor's mechListMIC has been verified.
    pub(crate) fn is_complete(&self) -> bool {
        self.phase == Phase::Complete
    }

    /// GSS wrap: signature followed by the sealed data.
    pub(crate) fn wrap(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, AuthError> {
        if !self.has_keys() {
            return Err(AuthError::InvalidState("CredSSP wrap before the inner keys exist"));
        }
        let sealed = self.ntlm.wrap(plaintext)?;
        let mut out = sealed.header;
        out.extend_from_slice(&sealed.data);
        Ok(out)
    }

    /// GSS unwrap of a token from [`InnerSpnego::wrap`]'s peer.
    pub(crate) fn unwrap(&mut self, token: &[u8]) -> Result<Vec<u8>, AuthError> {
        if !self.is_complete() {
            return Err(AuthError::InvalidState("CredSSP unwrap before the inner context completed"));
        }
        let (header, data) = token.split_at_checked(SIGNATURE_LEN).ok_or(AuthError::MessageAltered)?;
        self.ntlm.unwrap(header, data)
    }
}
