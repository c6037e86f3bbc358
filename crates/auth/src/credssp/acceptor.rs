//! The CredSSP acceptor (server side): TLS with the server's certificate, SPNEGO/NTLM against a
//! [`UserDatabase`], verification of the client's public-key binding, its own binding back, and receipt of the
//! delegated password.

use std::fmt;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use zeroize::Zeroizing;

use super::CREDSSP_VERSION;
use super::binding::{client_binding, server_binding};
use super::tls::{TlsSession, subject_public_key};
use super::ts_request::{TsPasswordCreds, TsRequest};
use crate::context::{AcceptorContext, WrappedMessage};
use crate::credentials::{ClientIdentity, UserDatabase, constant_time_eq, eq_ignore_case};
use crate::error::{AuthError, malformed};
use crate::ntlm::{NtlmAcceptor, SIGNATURE_LEN};
use crate::spnego::SpnegoAcceptor;

const WHAT: &str = "CredSSP TSRequest";

/// The NTSTATUS an acceptor reports in `errorCode` when the inner authentication fails (STATUS_LOGON_FAILURE).
pub const STATUS_LOGON_FAILURE: u32 = 0xC000_006D;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Handshake,
    Negotiate,
    AwaitCredentials,
    Complete,
    Failed,
}

/// A CredSSP acceptor for one connection.
///
/// It authenticates the client with SPNEGO/NTLM against the [`UserDatabase`], checks the client's `pubKeyAuth`
/// against its own certificate's public key (versions 2–6, with the version 5+ nonce hash when the client sends
/// a nonce), and requires the delegated password to be the password of the user who authenticated.
pub struct CredsspAcceptor {
    users: Arc<UserDatabase>,
    tls: TlsSession,
    public_key: Vec<u8>,
    spnego: SpnegoAcceptor,
    min_version: u32,
    version: u32,
    delegated: Option<TsPasswordCreds>,
    error_token: Option<Vec<u8>>,
    phase: Phase,
}

impl fmt::Debug for CredsspAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredsspAcceptor")
            .field("spnego", &self.spnego)
            .field("min_version", &self.min_version)
            .field("version", &self.version)
            .field("delegated", &self.delegated)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl CredsspAcceptor {
    /// An acceptor presenting `chain` (leaf first) with `key` in its TLS session.
    pub fn new(
        users: Arc<UserDatabase>,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, AuthError> {
        let leaf = chain.first().ok_or(AuthError::Tls("no server certificate".into()))?;
        let public_key = subject_public_key(leaf)?;
        let tls = TlsSession::server(chain, key)?;
        Ok(Self {
            spnego: SpnegoAcceptor::from_ntlm(NtlmAcceptor::new(users.clone())),
            users,
            tls,
            public_key,
            min_version: 2,
            version: 0,
            delegated: None,
            error_token: None,
            phase: Phase::Handshake,
        })
    }

    /// The lowest CredSSP version accepted from clients (default 2; 5 refuses clients without the
    /// CVE-2018-0886 fix).
    pub fn with_min_version(mut self, min_version: u32) -> Self {
        self.min_version = min_version;
        self
    }

    /// The credentials the client delegated, once complete. They hold the user's plaintext password.
    pub fn delegated_credentials(&self) -> Option<&TsPasswordCreds> {
        self.delegated.as_ref()
    }

    /// The negotiated CredSSP version (0 before the first `TSRequest`).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// After a failed [`AcceptorContext::step`] in which the inner authentication was refused: the token to send
    /// back (a TLS-protected `TSRequest` whose `errorCode` is [`STATUS_LOGON_FAILURE`]), for protocol versions 3, 4
    /// and 6+ which carry one. Versions 2 and 5 get no token; nor do other failures.
    pub fn take_error_token(&mut self) -> Option<Vec<u8>> {
        self.error_token.take()
    }

    fn prepare_error(&mut self, nt_status: u32) {
        if matches!(self.version, 3 | 4) || self.version >= 6 {
            let request = TsRequest { version: CREDSSP_VERSION, error_code: Some(nt_status), ..Default::default() };
            self.error_token = self.tls.encrypt(&request.encode()).ok();
        }
    }

    fn send(&mut self, request: &TsRequest) -> Result<Option<Vec<u8>>, AuthError> {
        self.tls.encrypt(&request.encode()).map(Some)
    }

    /// GSS unwrap of an NTLM-sealed token: the 16-byte signature, then the data.
    fn gss_unwrap(&mut self, token: &[u8]) -> Result<Vec<u8>, AuthError> {
        let (header, data) = token.split_at_checked(SIGNATURE_LEN).ok_or(AuthError::MessageAltered)?;
        self.spnego.unwrap(header, data)
    }

    fn gss_wrap(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, AuthError> {
        let sealed = self.spnego.wrap(plaintext)?;
        let mut out = sealed.header;
        out.extend_from_slice(&sealed.data);
        Ok(out)
    }

    fn negotiate(&mut self, plain: &[u8]) -> Result<Option<Vec<u8>>, AuthError> {
        let request = TsRequest::parse(plain)?;
        if self.version == 0 {
            self.version = request.version.min(CREDSSP_VERSION);
            if self.version < self.min_version {
                return Err(AuthError::Unsupported("CredSSP client protocol version below the configured minimum"));
            }
        }
        let out = match request.nego_tokens.first() {
            Some(token) => match self.spnego.step(token) {
                Ok(out) => out,
                Err(e) => {
                    self.prepare_error(STATUS_LOGON_FAILURE);
                    return Err(e);
                }
            },
            None => None,
        };
        let Some(sealed) = request.pub_key_auth else {
            let out = out.ok_or(AuthError::MissingToken { scheme: "CredSSP" })?;
            return self.send(&TsRequest { version: CREDSSP_VERSION, nego_tokens: vec![out], ..Default::default() });
        };
        if !self.spnego.is_complete() {
            return Err(AuthError::InvalidState("pubKeyAuth before the inner authentication completed"));
        }
        let nonce = match (self.version >= 5, request.client_nonce.as_deref()) {
            (true, Some(n)) => Some(n),
            (true, None) => return Err(malformed(WHAT, "version 5+ pubKeyAuth without clientNonce")),
            (false, _) => None,
        };
        let got = self.gss_unwrap(&sealed)?;
        if !constant_time_eq(&got, &client_binding(&self.public_key, nonce)) {
            return Err(AuthError::PublicKeyBindingMismatch);
        }
        let proof = server_binding(&self.public_key, nonce);
        let pub_key_auth = self.gss_wrap(&proof)?;
        self.phase = Phase::AwaitCredentials;
        self.send(&TsRequest {
            version: CREDSSP_VERSION,
            nego_tokens: out.into_iter().collect(),
            pub_key_auth: Some(pub_key_auth),
            ..Default::default()
        })
    }

    fn credentials(&mut self, plain: &[u8]) -> Result<Option<Vec<u8>>, AuthError> {
        let request = TsRequest::parse(plain)?;
        let sealed = request.auth_info.ok_or(malformed(WHAT, "no authInfo"))?;
        let encoded = Zeroizing::new(self.gss_unwrap(&sealed)?);
        let creds = TsPasswordCreds::parse_ts_credentials(&encoded)?;
        let identity = self.spnego.client_identity().ok_or(AuthError::InvalidState("no authenticated client"))?;
        // The delegated password must be the authenticated user's: no delegating someone else's account.
        if !eq_ignore_case(&creds.user, &identity.user)
            || !self.users.verify_password(&creds.domain, &creds.user, &creds.password)
        {
            return Err(AuthError::LogonDenied);
        }
        self.delegated = Some(creds);
        self.phase = Phase::Complete;
        Ok(None)
    }

    fn advance(&mut self, input: &[u8]) -> Result<Option<Vec<u8>>, AuthError> {
        match self.phase {
            Phase::Handshake => {
                let plain = self.tls.feed(input)?;
                let out = self.tls.take_output()?;
                if self.tls.is_handshaking() {
                    return Ok(Some(out));
                }
                self.phase = Phase::Negotiate;
                if !plain.is_empty() {
                    // The client sent its first TSRequest right behind its Finished.
                    if !out.is_empty() {
                        return Err(malformed(WHAT, "TSRequest before the handshake completed"));
                    }
                    return self.negotiate(&plain);
                }
                // TLS 1.2: our ChangeCipherSpec and Finished; TLS 1.3: nothing (an empty token).
                Ok(Some(out))
            }
            Phase::Negotiate => {
                let plain = self.tls.feed(input)?;
                self.negotiate(&plain)
            }
            Phase::AwaitCredentials => {
                let plain = self.tls.feed(input)?;
                self.credentials(&plain)
            }
            Phase::Complete | Phase::Failed => Err(AuthError::InvalidState("CredSSP acceptor not expecting tokens")),
        }
    }
}

impl AcceptorContext for CredsspAcceptor {
    fn step(&mut self, input: &[u8]) -> Result<Option<Vec<u8>>, AuthError> {
        if self.phase == Phase::Failed {
            return Err(AuthError::InvalidState("CredSSP acceptor failed earlier"));
        }
        self.advance(input).inspect_err(|_| self.phase = Phase::Failed)
    }

    fn is_complete(&self) -> bool {
        self.phase == Phase::Complete
    }

    fn client_identity(&self) -> Option<&ClientIdentity> {
        if self.is_complete() { self.spnego.client_identity() } else { None }
    }

    fn wrap(&mut self, plaintext: &[u8]) -> Result<WrappedMessage, AuthError> {
        if !self.is_complete() {
            return Err(AuthError::InvalidState("wrap before completion"));
        }
        let mut records = self.tls.encrypt(plaintext)?;
        let data = records.split_off(self.tls.trailer_len().min(records.len()));
        Ok(WrappedMessage { header: records, data })
    }

    fn unwrap(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError> {
        if !self.is_complete() {
            return Err(AuthError::InvalidState("unwrap before completion"));
        }
        let mut records = header.to_vec();
        records.extend_from_slice(data);
        self.tls.feed(&records).map_err(|_| AuthError::MessageAltered)
    }
}
