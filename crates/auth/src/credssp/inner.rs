//! The authentication inside CredSSP: SPNEGO offering NTLM, with the GSS-style wrap CredSSP uses for
//! `pubKeyAuth` and `authInfo` (NTLM: the 16-byte signature followed by the sealed data).
//!
//! It differs from [`crate::spnego::SpnegoClient`] in one point MS-CSSP requires: `pubKeyAuth` is sealed and
//! sent together with the NTLM AUTHENTICATE, before the acceptor's mechListMIC has been seen, so sealing is
//! available as soon as the NTLM keys exist.

use std::fmt;

use crate::context::InitiatorContext;
use crate::credentials::Credentials;
use crate::error::AuthError;
use crate::ntlm::SIGNATURE_LEN;
use crate::spnego::SpnegoClient;

/// SPNEGO/NTLM initiator for the inside of CredSSP: our [`SpnegoClient`] without channel bindings (CredSSP binds
/// to the TLS public key instead), with early sealing and the GSS token layout.
pub(crate) struct InnerSpnego {
    spnego: SpnegoClient,
}

impl fmt::Debug for InnerSpnego {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InnerSpnego").field("spnego", &self.spnego).finish()
    }
}

impl InnerSpnego {
    pub(crate) fn new(credentials: Credentials, target_name: Option<String>) -> Self {
        Self { spnego: SpnegoClient::new(credentials, target_name, None) }
    }

    /// The next SPNEGO token.
    pub(crate) fn step(&mut self, input: Option<&[u8]>) -> Result<Option<Vec<u8>>, AuthError> {
        self.spnego.step(input)
    }

    /// Whether the NTLM keys exist (the AUTHENTICATE was produced): `pubKeyAuth` can be sealed.
    pub(crate) fn has_keys(&self) -> bool {
        self.spnego.has_keys()
    }

    /// Whether the acceptor's mechListMIC has been verified.
    pub(crate) fn is_complete(&self) -> bool {
        self.spnego.is_complete()
    }

    /// GSS wrap: signature followed by the sealed data.
    pub(crate) fn wrap(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, AuthError> {
        let sealed = self.spnego.wrap_with_keys(plaintext)?;
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
        self.spnego.unwrap(header, data)
    }
}
