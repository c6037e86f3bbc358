//! WinRM message encryption through `pssession_wsman::multipart` (feature `wsman`): [`Sealer`] lets the
//! multipart codec seal and open bodies with an authenticated context, client or server side.
//!
//! ```
//! use pssession_auth::{ClientAuth, winrm_sealing::Sealer};
//! use pssession_wsman::multipart::{self, EncryptionProtocol};
//!
//! fn seal(context: &mut dyn ClientAuth, envelope: &[u8]) -> Result<(String, Vec<u8>), multipart::MultipartError> {
//!     let body = multipart::encrypt(&mut Sealer(context), EncryptionProtocol::Spnego, envelope)?;
//!     Ok((body.content_type, body.body))
//! }
//! ```

use pssession_wsman::multipart::{MessageSealer, SealError, Sealed};

use crate::context::{AcceptorContext, InitiatorContext, WrappedMessage};
use crate::error::AuthError;
use crate::http::{ClientAuth, ServerAuth};

/// A context that seals and opens message bodies: either side of an authenticated connection, as the HTTP
/// authenticators ([`ClientAuth`], [`ServerAuth`]) or the mechanisms' contexts ([`InitiatorContext`],
/// [`AcceptorContext`]) see it.
pub trait SealingContext {
    /// Seals a body.
    fn seal(&mut self, plaintext: &[u8]) -> Result<WrappedMessage, AuthError>;
    /// Opens a body sealed by the peer.
    fn open(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError>;
}

// Every side of every mechanism seals the same way.
macro_rules! sealing_context {
    ($($context:path),*) => {$(
        impl SealingContext for dyn $context + '_ {
            fn seal(&mut self, plaintext: &[u8]) -> Result<WrappedMessage, AuthError> {
                self.wrap(plaintext)
            }

            fn open(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError> {
                self.unwrap(header, data)
            }
        }
    )*};
}

sealing_context!(ClientAuth, ServerAuth, InitiatorContext, AcceptorContext);

/// The multipart codec's view of a [`SealingContext`].
pub struct Sealer<'a, C: SealingContext + ?Sized>(pub &'a mut C);

impl<C: SealingContext + ?Sized> MessageSealer for Sealer<'_, C> {
    fn wrap(&mut self, plaintext: &[u8]) -> Result<Sealed, SealError> {
        let WrappedMessage { header, data } = self.0.seal(plaintext).map_err(|e| SealError::new(e.to_string()))?;
        Ok(Sealed { header, ciphertext: data, padding: 0 })
    }

    fn unwrap(&mut self, header: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, SealError> {
        self.0.open(header, ciphertext).map_err(|e| SealError::new(e.to_string()))
    }
}
