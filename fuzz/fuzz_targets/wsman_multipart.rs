//! `multipart/encrypted` parsing of arbitrary bytes with an identity sealer: typed errors, never a panic; a body
//! that decrypts (and holds no boundary marker) re-frames and decrypts to the same plaintext.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pssession_wsman::multipart::{self, EncryptionProtocol, Limits, MessageSealer, SealError, Sealed};

struct Identity;

impl MessageSealer for Identity {
    fn wrap(&mut self, plaintext: &[u8]) -> Result<Sealed, SealError> {
        Ok(Sealed { header: vec![0; 16], ciphertext: plaintext.to_vec(), padding: 0 })
    }
    fn unwrap(&mut self, _header: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, SealError> {
        Ok(ciphertext.to_vec())
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_body: 1 << 20, max_parts: 64 };
    let _ = multipart::parse_parts(data, &limits);
    for protocol in [EncryptionProtocol::Spnego, EncryptionProtocol::CredSsp] {
        let content_type = multipart::content_type(protocol, protocol == EncryptionProtocol::CredSsp);
        // With an identity sealer the plaintext is the ciphertext; plaintext joining parts into a boundary
        // marker cannot be re-framed, which a real cipher never produces.
        if let Ok(plain) = multipart::decrypt(&mut Identity, &content_type, data, &limits)
            && !plain.windows(multipart::BOUNDARY.len()).any(|w| w == multipart::BOUNDARY.as_bytes())
        {
            let again = multipart::encrypt(&mut Identity, protocol, &plain).expect("identity seals");
            let back = multipart::decrypt(&mut Identity, &again.content_type, &again.body, &limits);
            assert_eq!(back.as_deref(), Ok(&plain[..]));
        }
    }
});
