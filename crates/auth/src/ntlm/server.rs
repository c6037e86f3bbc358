//! The NTLMv2 acceptor. Unlike sspi's acceptor it verifies the NTProofStr against the stored password of the
//! named user, checks the MIC whenever MsvAvFlags announces one (pyspnego's and Windows' rule: clients such as
//! asyauth send none and do not set the flag), and checks channel bindings according to a policy.

use std::fmt;
use std::sync::Arc;

use super::crypto::{hmac_md5, ntowfv2, utf16le};
use super::keystream::rc4_once;
use super::messages::{
    AV_CHANNEL_BINDINGS, AV_DNS_COMPUTER_NAME, AV_DNS_DOMAIN_NAME, AV_FLAG_MIC, AV_FLAGS, AV_NB_COMPUTER_NAME,
    AV_NB_DOMAIN_NAME, AV_TIMESTAMP, Authenticate, Challenge, MIC_OFFSET, Negotiate, encode_av_pairs, parse_av_pairs,
};
use super::session::NtlmSession;
use super::{filetime_now, flags, random};
use crate::cbt::ChannelBindings;
use crate::context::{AcceptorContext, WrappedMessage};
use crate::credentials::{ClientIdentity, UserDatabase, constant_time_eq};
use crate::error::AuthError;

/// How the acceptor treats the client's channel bindings (MsvAvChannelBindings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelBindingPolicy {
    /// Bindings must be present and match ours (Windows "Strict" extended protection).
    Required,
    /// Bindings, when the client sends non-zero ones, must match; absent or all-zero bindings are accepted
    /// (Windows "Relaxed").
    WhenSupported,
}

enum State {
    Initial,
    ChallengeSent { negotiate: Vec<u8>, challenge: Vec<u8>, server_challenge: [u8; 8] },
    Complete { session: Box<NtlmSession>, identity: ClientIdentity, carried_mic: bool },
    Failed,
}

/// An NTLMv2 acceptor backed by a [`UserDatabase`].
pub struct NtlmAcceptor {
    users: Arc<UserDatabase>,
    channel_bindings: Option<(ChannelBindings, ChannelBindingPolicy)>,
    domain: String,
    computer: String,
    state: State,
}

impl fmt::Debug for NtlmAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NtlmAcceptor")
            .field("channel_bindings", &self.channel_bindings)
            .field("domain", &self.domain)
            .field("computer", &self.computer)
            .field("complete", &matches!(self.state, State::Complete { .. }))
            .finish_non_exhaustive()
    }
}

impl NtlmAcceptor {
    /// An acceptor for the accounts in `users`, announcing NetBIOS domain `WORKGROUP` and computer `PSSESSION`.
    pub fn new(users: Arc<UserDatabase>) -> Self {
        Self {
            users,
            channel_bindings: None,
            domain: "WORKGROUP".into(),
            computer: "PSSESSION".into(),
            state: State::Initial,
        }
    }

    /// Checks the client's channel bindings against `bindings` (our TLS `tls-server-end-point` data).
    pub fn with_channel_bindings(mut self, bindings: ChannelBindings, policy: ChannelBindingPolicy) -> Self {
        self.channel_bindings = Some((bindings, policy));
        self
    }

    /// The NetBIOS domain and computer names announced in the CHALLENGE target info.
    pub fn with_names(mut self, domain: &str, computer: &str) -> Self {
        self.domain = domain.to_owned();
        self.computer = computer.to_owned();
        self
    }

    fn challenge(&mut self, negotiate_msg: &[u8]) -> Result<Vec<u8>, AuthError> {
        let negotiate = Negotiate::parse(negotiate_msg)?;
        let required = flags::UNICODE | flags::EXTENDED_SESSIONSECURITY;
        if negotiate.flags & required != required {
            return Err(AuthError::Unsupported("NTLM client without Unicode or extended session security"));
        }
        let supported = flags::CLIENT_DEFAULT;
        let chosen = (negotiate.flags & supported)
            | flags::REQUEST_TARGET
            | flags::NTLM
            | flags::ALWAYS_SIGN
            | flags::TARGET_INFO
            | flags::TARGET_TYPE_SERVER;
        let server_challenge = random::<8>()?;
        let domain = utf16le(&self.domain);
        let computer = utf16le(&self.computer);
        let dns_domain = utf16le(&self.domain.to_lowercase());
        let dns_computer = utf16le(&self.computer.to_lowercase());
        let timestamp = filetime_now().to_le_bytes();
        let target_info = encode_av_pairs(&[
            (AV_NB_DOMAIN_NAME, &domain),
            (AV_NB_COMPUTER_NAME, &computer),
            (AV_DNS_DOMAIN_NAME, &dns_domain),
            (AV_DNS_COMPUTER_NAME, &dns_computer),
            (AV_TIMESTAMP, &timestamp),
        ]);
        let challenge =
            Challenge { flags: chosen, server_challenge, target_name: domain.clone(), target_info }.encode();
        self.state =
            State::ChallengeSent { negotiate: negotiate_msg.to_vec(), challenge: challenge.clone(), server_challenge };
        Ok(challenge)
    }

    fn authenticate(
        &mut self,
        negotiate: &[u8],
        challenge: &[u8],
        server_challenge: &[u8; 8],
        auth_msg: &[u8],
    ) -> Result<(), AuthError> {
        let auth = Authenticate::parse(auth_msg)?;
        // NTLMv2 response: NTProofStr (16) + blob header (28) at least; NTLMv1 (24 bytes) is refused.
        let (proof, blob) = auth.nt_response.split_at_checked(16).ok_or(AuthError::Unsupported("NTLMv1 response"))?;
        let av_info = match blob.split_at_checked(28) {
            Some(([1, 1, ..], av_info)) => av_info,
            _ => return Err(AuthError::Unsupported("NTLMv1 or anonymous response")),
        };
        let nt_hash = self.users.lookup(&auth.domain, &auth.user).ok_or(AuthError::LogonDenied)?;
        let key = ntowfv2(nt_hash, &auth.user, &auth.domain);
        let expected = hmac_md5(&*key, &[server_challenge, blob]);
        if !constant_time_eq(&expected, proof) {
            return Err(AuthError::LogonDenied);
        }
        // The AV pairs are covered by the NTProofStr, so their flags and bindings are authentic from here on.
        let pairs = parse_av_pairs(av_info)?;
        let av = |want: u16| pairs.iter().find(|(id, _)| *id == want).map(|(_, v)| *v);
        let av_flags = av(AV_FLAGS).and_then(|v| <[u8; 4]>::try_from(v).ok()).map_or(0, u32::from_le_bytes);
        // The flag is authentic (covered by the NTProofStr), so a client that announced a MIC cannot have it
        // stripped; one that did not announce it has nothing to check.
        let mic = if av_flags & AV_FLAG_MIC != 0 { Some(auth.mic.ok_or(AuthError::MicMismatch)?) } else { None };
        let session_base_key = zeroize::Zeroizing::new(hmac_md5(&*key, &[&expected]));
        let key_exch = auth.flags & flags::KEY_EXCH != 0;
        let exported = if key_exch {
            let encrypted = <[u8; 16]>::try_from(auth.encrypted_session_key.as_slice())
                .map_err(|_| crate::error::malformed("NTLM message", "EncryptedRandomSessionKey is not 16 bytes"))?;
            rc4_once(&session_base_key, &encrypted)
        } else {
            session_base_key
        };
        if let Some(mic) = mic {
            let mut zeroed = auth_msg.to_vec();
            zeroed.get_mut(MIC_OFFSET..MIC_OFFSET + 16).ok_or(AuthError::MicMismatch)?.fill(0);
            let expected_mic = hmac_md5(&*exported, &[negotiate, challenge, &zeroed]);
            if !constant_time_eq(&expected_mic, &mic) {
                return Err(AuthError::MicMismatch);
            }
        }
        if let Some((bindings, policy)) = &self.channel_bindings {
            let sent = av(AV_CHANNEL_BINDINGS).filter(|v| v.iter().any(|&b| b != 0));
            match (sent, policy) {
                (None, ChannelBindingPolicy::WhenSupported) => {}
                (None, ChannelBindingPolicy::Required) => return Err(AuthError::ChannelBindingsMismatch),
                (Some(sent), _) => {
                    if !constant_time_eq(sent, &bindings.ntlm_hash()) {
                        return Err(AuthError::ChannelBindingsMismatch);
                    }
                }
            }
        }
        self.state = State::Complete {
            session: Box::new(NtlmSession::new(&exported, false, key_exch)),
            identity: ClientIdentity { domain: auth.domain, user: auth.user },
            carried_mic: mic.is_some(),
        };
        Ok(())
    }

    /// Whether the completed AUTHENTICATE announced (and so carried a verified) MIC: SPNEGO then requires the
    /// mechListMIC too, as Windows and pyspnego do.
    pub(crate) fn carried_mic(&self) -> bool {
        matches!(self.state, State::Complete { carried_mic: true, .. })
    }

    /// Whether (`header`, `data`) is the client's next sealed message and verifies, without changing the session
    /// (see [`crate::ServerAuth::verifies_next_seal`]).
    pub(crate) fn verifies_next_seal(&self, header: &[u8], data: &[u8]) -> bool {
        matches!(&self.state, State::Complete { session, .. } if session.verifies_next_incoming(header, data))
    }

    pub(crate) fn session_mut(&mut self) -> Option<&mut NtlmSession> {
        match &mut self.state {
            State::Complete { session, .. } => Some(session),
            _ => None,
        }
    }
}

impl AcceptorContext for NtlmAcceptor {
    fn step(&mut self, input: &[u8]) -> Result<Option<Vec<u8>>, AuthError> {
        match std::mem::replace(&mut self.state, State::Failed) {
            State::Initial => self.challenge(input).map(Some),
            State::ChallengeSent { negotiate, challenge, server_challenge } => {
                self.authenticate(&negotiate, &challenge, &server_challenge, input).map(|()| None)
            }
            State::Complete { .. } => Err(AuthError::InvalidState("NTLM already complete")),
            State::Failed => Err(AuthError::InvalidState("NTLM context failed earlier")),
        }
    }

    fn is_complete(&self) -> bool {
        matches!(self.state, State::Complete { .. })
    }

    fn client_identity(&self) -> Option<&ClientIdentity> {
        match &self.state {
            State::Complete { identity, .. } => Some(identity),
            _ => None,
        }
    }

    fn wrap(&mut self, plaintext: &[u8]) -> Result<WrappedMessage, AuthError> {
        Ok(self.session_mut().ok_or(AuthError::InvalidState("wrap before completion"))?.wrap(plaintext))
    }

    fn unwrap(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError> {
        self.session_mut().ok_or(AuthError::InvalidState("unwrap before completion"))?.unwrap(header, data)
    }
}
