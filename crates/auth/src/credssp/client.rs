//! The CredSSP initiator (MS-CSSP 3.1.5): TLS handshake, SPNEGO/NTLM inside TLS, public-key binding,
//! delegation of the password, then WinRM message encryption with the TLS session.

use std::fmt;

use zeroize::Zeroizing;

use super::binding::{client_binding, server_binding};
use super::inner::InnerSpnego;
use super::tls::{CredsspTlsVersions, TlsSession, subject_public_key};
use super::ts_request::{NONCE_LEN, TsPasswordCreds, TsRequest};
use super::{CREDSSP_VERSION, CredsspDelegation};
use crate::context::{InitiatorContext, WrappedMessage};
use crate::credentials::{Credentials, constant_time_eq};
use crate::error::{AuthError, malformed};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Initial,
    Handshake,
    /// TLS 1.3: the client's Finished went out alone; the acceptor answers (possibly with nothing) before the first
    /// `TSRequest`.
    HandshakeFinishing,
    Negotiate,
    PubKeySent,
    Complete,
    Failed,
}

/// A CredSSP initiator that **delegates the user's password to the server**.
///
/// Construct it only with [`CredsspDelegation::AllowFreshCredentials`]: at the end of the exchange the server
/// receives the plaintext user name, domain and password (`TSPasswordCreds`), exactly as Windows' "Allow
/// delegating fresh credentials" policy permits. A compromised or impersonated server gets a reusable password.
pub struct CredsspClient {
    credentials: Credentials,
    inner: InnerSpnego,
    tls_versions: CredsspTlsVersions,
    min_version: u32,
    tls: Option<TlsSession>,
    public_key: Vec<u8>,
    nonce: Option<[u8; NONCE_LEN]>,
    peer_version: u32,
    phase: Phase,
}

impl fmt::Debug for CredsspClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredsspClient")
            .field("credentials", &self.credentials)
            .field("inner", &self.inner)
            .field("tls_versions", &self.tls_versions)
            .field("min_version", &self.min_version)
            .field("tls_version", &self.tls.as_ref().and_then(TlsSession::protocol_version))
            .field("peer_version", &self.peer_version)
            .field("phase", &self.phase)
            .finish()
    }
}

impl CredsspClient {
    /// A CredSSP initiator for `credentials`; `target_name` is the SPN the inner NTLM names (`HTTP/host`).
    ///
    /// The `delegation` argument is the caller's acknowledgement that the server will receive the password.
    pub fn new(credentials: Credentials, target_name: Option<String>, delegation: CredsspDelegation) -> Self {
        let CredsspDelegation::AllowFreshCredentials = delegation;
        Self {
            inner: InnerSpnego::new(credentials.clone(), target_name),
            credentials,
            tls_versions: CredsspTlsVersions::default(),
            min_version: 5,
            tls: None,
            public_key: Vec::new(),
            nonce: None,
            peer_version: 0,
            phase: Phase::Initial,
        }
    }

    /// The TLS versions offered (default: 1.2 and 1.3).
    pub fn with_tls_versions(mut self, versions: CredsspTlsVersions) -> Self {
        self.tls_versions = versions;
        self
    }

    /// The lowest CredSSP protocol version accepted from the server (default 5: servers without the
    /// CVE-2018-0886 fix are refused, as Windows' "Mitigated" policy does). Values 2–4 allow them.
    pub fn with_min_version(mut self, min_version: u32) -> Self {
        self.min_version = min_version;
        self
    }

    /// The protocol version the server announced (0 before its first `TSRequest`).
    pub fn peer_version(&self) -> u32 {
        self.peer_version
    }

    /// Whether the next acceptor token may be absent (TLS 1.3: after the client's Finished the acceptor may have
    /// nothing to say).
    pub(crate) fn awaits_optional_token(&self) -> bool {
        self.phase == Phase::HandshakeFinishing
    }

    /// The error an acceptor's token after completion reports (a `TSRequest` with `errorCode`), or `Rejected`.
    pub(crate) fn decode_late_error(&mut self, token: &[u8]) -> AuthError {
        let Some(tls) = self.tls.as_mut() else { return AuthError::Rejected };
        match tls.feed(token).and_then(|plain| TsRequest::parse(&plain)) {
            Ok(TsRequest { error_code: Some(nt_status), .. }) => AuthError::CredsspServerError { nt_status },
            _ => AuthError::Rejected,
        }
    }

    fn tls(&mut self) -> Result<&mut TlsSession, AuthError> {
        self.tls.as_mut().ok_or(AuthError::InvalidState("CredSSP TLS session missing"))
    }

    fn send(&mut self, request: &TsRequest) -> Result<Option<Vec<u8>>, AuthError> {
        let encoded = request.encode();
        self.tls()?.encrypt(&encoded).map(Some)
    }

    /// Decrypts and decodes the acceptor's `TSRequest`, turning an `errorCode` into an error.
    fn receive(&mut self, input: Option<&[u8]>) -> Result<TsRequest, AuthError> {
        let input = input.ok_or(AuthError::MissingToken { scheme: "CredSSP" })?;
        let plain = self.tls()?.feed(input)?;
        let request = TsRequest::parse(&plain)?;
        if let Some(nt_status) = request.error_code {
            return Err(AuthError::CredsspServerError { nt_status });
        }
        self.peer_version = request.version;
        Ok(request)
    }

    fn start_negotiation(&mut self) -> Result<Option<Vec<u8>>, AuthError> {
        let cert = self.tls()?.peer_certificate().ok_or(AuthError::Tls("the server sent no certificate".into()))?;
        let public_key = subject_public_key(cert)?;
        self.public_key = public_key;
        let token = self.inner.step(None)?.ok_or(AuthError::InvalidState("no initial SPNEGO token"))?;
        self.phase = Phase::Negotiate;
        self.send(&TsRequest { version: CREDSSP_VERSION, nego_tokens: vec![token], ..Default::default() })
    }

    fn advance(&mut self, input: Option<&[u8]>) -> Result<Option<Vec<u8>>, AuthError> {
        match self.phase {
            Phase::Initial => {
                if input.is_some() {
                    return Err(AuthError::InvalidState("CredSSP starts without input"));
                }
                let mut tls = TlsSession::client(self.tls_versions)?;
                let hello = tls.take_output()?;
                self.tls = Some(tls);
                self.phase = Phase::Handshake;
                Ok(Some(hello))
            }
            Phase::Handshake => {
                let input = input.ok_or(AuthError::MissingToken { scheme: "CredSSP" })?;
                let tls = self.tls()?;
                if !tls.feed(input)?.is_empty() {
                    return Err(malformed("CredSSP TLS handshake", "application data during the handshake"));
                }
                let out = tls.take_output()?;
                if tls.is_handshaking() {
                    if out.is_empty() {
                        return Err(malformed("CredSSP TLS handshake", "the server's flight was incomplete"));
                    }
                    return Ok(Some(out));
                }
                if out.is_empty() {
                    self.start_negotiation()
                } else {
                    self.phase = Phase::HandshakeFinishing;
                    Ok(Some(out))
                }
            }
            Phase::HandshakeFinishing => {
                if let Some(input) = input
                    && !self.tls()?.feed(input)?.is_empty()
                {
                    return Err(malformed("CredSSP TLS handshake", "application data before the first TSRequest"));
                }
                self.start_negotiation()
            }
            Phase::Negotiate => {
                let request = self.receive(input)?;
                let token = request.nego_tokens.first().ok_or(AuthError::MissingToken { scheme: "CredSSP" })?;
                let out = self.inner.step(Some(token))?;
                if !self.inner.has_keys() {
                    let out = out.ok_or(AuthError::InvalidState("no SPNEGO token to send"))?;
                    return self.send(&TsRequest {
                        version: CREDSSP_VERSION,
                        nego_tokens: vec![out],
                        ..Default::default()
                    });
                }
                let selected = self.peer_version.min(CREDSSP_VERSION);
                if selected < self.min_version {
                    return Err(AuthError::Unsupported(
                        "CredSSP server protocol version below the configured minimum (no CVE-2018-0886 fix)",
                    ));
                }
                self.nonce = if selected >= 5 { Some(crate::ntlm::random()?) } else { None };
                let binding = client_binding(&self.public_key, self.nonce.as_ref().map(|n| &n[..]));
                let pub_key_auth = self.inner.wrap(&binding)?;
                self.phase = Phase::PubKeySent;
                self.send(&TsRequest {
                    version: CREDSSP_VERSION,
                    nego_tokens: out.into_iter().collect(),
                    pub_key_auth: Some(pub_key_auth),
                    client_nonce: self.nonce.map(|n| n.to_vec()),
                    ..Default::default()
                })
            }
            Phase::PubKeySent => {
                let request = self.receive(input)?;
                if let Some(token) = request.nego_tokens.first() {
                    // SPNEGO: the acceptor's accept-completed with its mechListMIC.
                    self.inner.step(Some(token))?;
                }
                if !self.inner.is_complete() {
                    return Err(AuthError::MechListMicMismatch);
                }
                let sealed = request.pub_key_auth.ok_or(malformed("CredSSP TSRequest", "no pubKeyAuth"))?;
                let got = self.inner.unwrap(&sealed)?;
                let expected = server_binding(&self.public_key, self.nonce.as_ref().map(|n| &n[..]));
                if !constant_time_eq(&got, &expected) {
                    return Err(AuthError::PublicKeyBindingMismatch);
                }
                let creds = TsPasswordCreds {
                    domain: self.credentials.domain().to_owned(),
                    user: self.credentials.user().to_owned(),
                    password: Zeroizing::new(self.credentials.password().to_owned()),
                };
                let encoded = creds.encode_ts_credentials();
                let auth_info = self.inner.wrap(&encoded)?;
                self.phase = Phase::Complete;
                let request = Zeroizing::new(
                    TsRequest { version: CREDSSP_VERSION, auth_info: Some(auth_info), ..Default::default() }.encode(),
                );
                self.tls()?.encrypt(&request).map(Some)
            }
            Phase::Complete => match input {
                None => Ok(None),
                Some(_) => Err(AuthError::InvalidState("CredSSP already complete")),
            },
            Phase::Failed => Err(AuthError::InvalidState("CredSSP context failed earlier")),
        }
    }
}

impl InitiatorContext for CredsspClient {
    fn step(&mut self, input: Option<&[u8]>) -> Result<Option<Vec<u8>>, AuthError> {
        if self.phase == Phase::Complete {
            return self.advance(input);
        }
        self.advance(input).inspect_err(|_| self.phase = Phase::Failed)
    }

    fn is_complete(&self) -> bool {
        self.phase == Phase::Complete
    }

    /// Encrypts a WinRM message body with the TLS session. `header` is the first TLS-trailer-length bytes of the
    /// records (16 for TLS 1.2 AES-GCM, 17 for TLS 1.3), `data` the rest, as pywinrm and pyspnego split them; a
    /// receiver concatenates both. Callers chunk bodies at 16 KiB (`multipart/x-multi-encrypted`).
    fn wrap(&mut self, plaintext: &[u8]) -> Result<WrappedMessage, AuthError> {
        if !self.is_complete() {
            return Err(AuthError::InvalidState("wrap before completion"));
        }
        let tls = self.tls()?;
        let mut records = tls.encrypt(plaintext)?;
        let data = records.split_off(tls.trailer_len().min(records.len()));
        Ok(WrappedMessage { header: records, data })
    }

    fn unwrap(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError> {
        if !self.is_complete() {
            return Err(AuthError::InvalidState("unwrap before completion"));
        }
        let mut records = header.to_vec();
        records.extend_from_slice(data);
        self.tls()?.feed(&records).map_err(|_| AuthError::MessageAltered)
    }
}
