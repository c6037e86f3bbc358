//! The NTLMv2 initiator.

use std::fmt;

use zeroize::Zeroizing;

use super::crypto::{Key16, hmac_md5, nt_hash, ntowfv2};
use super::keystream::rc4_once;
use super::messages::{
    AV_CHANNEL_BINDINGS, AV_FLAG_MIC, AV_FLAGS, AV_TARGET_NAME, AV_TIMESTAMP, Authenticate, Challenge, MIC_OFFSET,
    Negotiate, encode_av_pairs, parse_av_pairs,
};
use super::session::NtlmSession;
use super::{filetime_now, flags, random};
use crate::cbt::ChannelBindings;
use crate::context::{InitiatorContext, WrappedMessage};
use crate::credentials::Credentials;
use crate::error::AuthError;

enum State {
    Initial,
    NegotiateSent { negotiate: Vec<u8> },
    Complete { session: Box<NtlmSession> },
    Failed,
}

/// An NTLMv2 initiator: NEGOTIATE → (CHALLENGE) → AUTHENTICATE with MIC, channel bindings and KEY_EXCH.
pub struct NtlmClient {
    credentials: Credentials,
    channel_bindings: Option<ChannelBindings>,
    target_name: Option<String>,
    state: State,
}

impl fmt::Debug for NtlmClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NtlmClient")
            .field("credentials", &self.credentials)
            .field("channel_bindings", &self.channel_bindings)
            .field("target_name", &self.target_name)
            .field("complete", &matches!(self.state, State::Complete { .. }))
            .finish()
    }
}

/// The inputs of an AUTHENTICATE computation that are random or time-dependent, exposed for test vectors.
pub(crate) struct ResponseInputs {
    pub(crate) client_challenge: [u8; 8],
    pub(crate) timestamp: u64,
    pub(crate) random_session_key: [u8; 16],
}

/// The outputs of an AUTHENTICATE computation.
pub(crate) struct ResponseOutputs {
    pub(crate) nt_response: Vec<u8>,
    #[cfg_attr(not(test), allow(dead_code))] // checked against MS-NLMP 4.2.4 in the unit tests
    pub(crate) session_base_key: Key16,
    pub(crate) exported_session_key: Key16,
    pub(crate) encrypted_session_key: Vec<u8>,
}

/// NTLMv2 response and keys (MS-NLMP 3.3.2) for a given target info (already extended by the client).
pub(crate) fn compute_response(
    credentials: &Credentials,
    challenge: &Challenge,
    target_info: &[u8],
    inputs: &ResponseInputs,
) -> ResponseOutputs {
    let hash = Zeroizing::new(nt_hash(credentials.password()));
    let key = ntowfv2(&hash, credentials.user(), credentials.domain());
    let mut blob = vec![1, 1, 0, 0, 0, 0, 0, 0];
    blob.extend_from_slice(&inputs.timestamp.to_le_bytes());
    blob.extend_from_slice(&inputs.client_challenge);
    blob.extend_from_slice(&[0; 4]);
    blob.extend_from_slice(target_info);
    blob.extend_from_slice(&[0; 4]);
    let proof = hmac_md5(&*key, &[&challenge.server_challenge, &blob]);
    let session_base_key = Zeroizing::new(hmac_md5(&*key, &[&proof]));
    let (exported_session_key, encrypted_session_key) = if challenge.flags & flags::KEY_EXCH != 0 {
        let exported = Zeroizing::new(inputs.random_session_key);
        let encrypted = rc4_once(&session_base_key, &exported).to_vec();
        (exported, encrypted)
    } else {
        (session_base_key.clone(), Vec::new())
    };
    let mut nt_response = proof.to_vec();
    nt_response.extend_from_slice(&blob);
    ResponseOutputs { nt_response, session_base_key, exported_session_key, encrypted_session_key }
}

impl NtlmClient {
    /// An initiator for `credentials`. `target_name` is the SPN (e.g. `HTTP/host.example`) put into the
    /// MsvAvTargetName AV pair; `channel_bindings` are the TLS bindings (None over plain HTTP).
    pub fn new(
        credentials: Credentials,
        target_name: Option<String>,
        channel_bindings: Option<ChannelBindings>,
    ) -> Self {
        Self { credentials, channel_bindings, target_name, state: State::Initial }
    }

    fn authenticate(&mut self, negotiate: &[u8], challenge_msg: &[u8]) -> Result<Vec<u8>, AuthError> {
        let challenge = Challenge::parse(challenge_msg)?;
        let required = flags::UNICODE | flags::EXTENDED_SESSIONSECURITY | flags::TARGET_INFO;
        if challenge.flags & required != required {
            return Err(AuthError::Unsupported(
                "NTLM server without Unicode, extended session security or target info",
            ));
        }
        let pairs = parse_av_pairs(&challenge.target_info)?;
        let timestamp = pairs
            .iter()
            .find(|(id, _)| *id == AV_TIMESTAMP)
            .and_then(|(_, v)| <[u8; 8]>::try_from(*v).ok())
            .map(u64::from_le_bytes);
        let av_flags = pairs
            .iter()
            .find(|(id, _)| *id == AV_FLAGS)
            .and_then(|(_, v)| <[u8; 4]>::try_from(*v).ok())
            .map_or(0, u32::from_le_bytes)
            | AV_FLAG_MIC;
        let av_flags = av_flags.to_le_bytes();
        let cbt = self.channel_bindings.as_ref().map_or([0; 16], ChannelBindings::ntlm_hash);
        let spn = self.target_name.as_deref().map(super::crypto::utf16le);
        let mut out_pairs: Vec<(u16, &[u8])> = pairs
            .iter()
            .filter(|(id, _)| ![AV_FLAGS, AV_CHANNEL_BINDINGS, AV_TARGET_NAME].contains(id))
            .copied()
            .collect();
        out_pairs.push((AV_FLAGS, &av_flags));
        out_pairs.push((AV_CHANNEL_BINDINGS, &cbt));
        if let Some(spn) = &spn {
            out_pairs.push((AV_TARGET_NAME, spn));
        }
        let target_info = encode_av_pairs(&out_pairs);
        let inputs = ResponseInputs {
            client_challenge: random()?,
            timestamp: timestamp.unwrap_or_else(filetime_now),
            random_session_key: random()?,
        };
        let out = compute_response(&self.credentials, &challenge, &target_info, &inputs);
        let message = Authenticate {
            flags: challenge.flags,
            lm_response: vec![0; 24],
            nt_response: out.nt_response,
            domain: self.credentials.domain().to_owned(),
            user: self.credentials.user().to_owned(),
            workstation: String::new(),
            encrypted_session_key: out.encrypted_session_key,
            mic: None,
        };
        let mut auth = message.encode();
        let mic = hmac_md5(&*out.exported_session_key, &[negotiate, challenge_msg, &auth]);
        auth[MIC_OFFSET..MIC_OFFSET + 16].copy_from_slice(&mic);
        let key_exch = challenge.flags & flags::KEY_EXCH != 0;
        self.state = State::Complete { session: Box::new(NtlmSession::new(&out.exported_session_key, true, key_exch)) };
        Ok(auth)
    }

    pub(crate) fn session_mut(&mut self) -> Option<&mut NtlmSession> {
        match &mut self.state {
            State::Complete { session } => Some(session),
            _ => None,
        }
    }
}

impl InitiatorContext for NtlmClient {
    fn step(&mut self, input: Option<&[u8]>) -> Result<Option<Vec<u8>>, AuthError> {
        match (std::mem::replace(&mut self.state, State::Failed), input) {
            (State::Initial, None) => {
                let negotiate = Negotiate { flags: flags::CLIENT_DEFAULT }.encode();
                self.state = State::NegotiateSent { negotiate: negotiate.clone() };
                Ok(Some(negotiate))
            }
            (State::NegotiateSent { negotiate }, Some(challenge)) => self.authenticate(&negotiate, challenge).map(Some),
            (State::Complete { session }, None) => {
                self.state = State::Complete { session };
                Ok(None)
            }
            (State::Initial | State::NegotiateSent { .. }, _) => Err(AuthError::InvalidState("unexpected NTLM input")),
            (State::Complete { .. }, Some(_)) => Err(AuthError::InvalidState("NTLM already complete")),
            (State::Failed, _) => Err(AuthError::InvalidState("NTLM context failed earlier")),
        }
    }

    fn is_complete(&self) -> bool {
        matches!(self.state, State::Complete { .. })
    }

    fn wrap(&mut self, plaintext: &[u8]) -> Result<WrappedMessage, AuthError> {
        Ok(self.session_mut().ok_or(AuthError::InvalidState("wrap before completion"))?.wrap(plaintext))
    }

    fn unwrap(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError> {
        self.session_mut().ok_or(AuthError::InvalidState("unwrap before completion"))?.unwrap(header, data)
    }
}
