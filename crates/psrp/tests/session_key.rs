//! The SecureString session key against fixed vectors: pypsrp's recorded exchange with Windows (its fixed RSA key
//! pair, the PUBLIC_KEY it sent, the ENCRYPTED_SESSION_KEY Windows answered), AES-CBC vectors computed with Python
//! `cryptography`, blob round trips and malformed blobs.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pssession_psrp::messages::{EncryptedSessionKey, PublicKey};
use pssession_psrp::session_key::{
    ClientKeyPair, SecretText, SessionKey, SessionKeyError, encode_public_key_blob, encode_simple_blob,
    parse_public_key_blob, parse_simple_blob,
};
use rand_core::{Infallible, TryCryptoRng, TryRng};

/// A deterministic generator for tests (splitmix64): pins key generation and padding, and is no CSPRNG.
struct TestRng(u64);

impl TryRng for TestRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Ok(z ^ (z >> 31))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let word = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

impl TryCryptoRng for TestRng {}

fn hex(text: &str) -> Vec<u8> {
    let text = if text.len() % 2 == 1 { format!("0{text}") } else { text.to_owned() };
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
}

fn recorded() -> BTreeMap<String, String> {
    include_str!("data/pypsrp_session_key_exchange.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once(' ').expect("key value");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn pypsrp_key_pair(data: &BTreeMap<String, String>) -> ClientKeyPair {
    let c = |k: &str| hex(&data[k]);
    ClientKeyPair::from_components(&c("n"), &c("e"), &c("d"), &c("p"), &c("q")).expect("pypsrp key pair")
}

#[test]
fn the_recorded_public_key_is_the_capi_blob_of_pypsrps_key() {
    let data = recorded();
    let pair = pypsrp_key_pair(&data);
    // Our encoding of pypsrp's key is byte for byte what pypsrp sent Windows.
    assert_eq!(pair.public_key_message(), PublicKey { public_key: data["public_key"].clone() });
    let blob = STANDARD.decode(&data["public_key"]).expect("base64");
    assert_eq!(&blob[..20], &[6, 2, 0, 0, 0, 0xa4, 0, 0, b'R', b'S', b'A', b'1', 0, 8, 0, 0, 1, 0, 1, 0]);
    assert_eq!(blob.len(), 20 + 256);
    let parsed = parse_public_key_blob(&blob).expect("parse");
    assert_eq!(encode_public_key_blob(&parsed), blob);
}

#[test]
fn windows_encrypted_session_key_opens_with_pypsrps_key_and_decrypts_the_recorded_secure_string() {
    let data = recorded();
    let pair = pypsrp_key_pair(&data);
    let message = EncryptedSessionKey { encrypted_session_key: data["encrypted_session_key"].clone() };
    let blob = STANDARD.decode(&message.encrypted_session_key).expect("base64");
    assert_eq!(&blob[..12], &[1, 2, 0, 0, 0x10, 0x66, 0, 0, 0, 0xa4, 0, 0]);
    assert_eq!(encode_simple_blob(&parse_simple_blob(&blob).expect("simple blob")), blob);
    let key = pair.decrypt_session_key(&mut TestRng(1), &message).expect("session key");
    // The value Python `cryptography` computes from the same blob and key (RSA PKCS#1 v1.5 of the reversed bytes).
    assert_eq!(key.as_bytes().to_vec(), hex("6d4a21e2b04dcaf4454df18779e72b1ea0fa85fd3817d067e174e4edb3326acd"));
    let ciphertext = STANDARD.decode(&data["secure_string"]).expect("base64");
    assert_eq!(key.decrypt(&ciphertext).expect("decrypt").expose(), "Hello World");
    // Zero IV: the same key and text give pypsrp's exact ciphertext.
    assert_eq!(key.encrypt(&SecretText::from("Hello World")), ciphertext);
}

#[test]
fn secure_strings_match_python_cryptography_vectors() {
    let mut seen = 0;
    for line in include_str!("data/secure_string_vectors.tsv").lines().filter(|l| !l.starts_with('#')) {
        let mut fields = line.split('\t');
        let (key, ciphertext, text) =
            (fields.next().expect("key"), fields.next().expect("ciphertext"), fields.next().expect("text"));
        let key = SessionKey::from_bytes(hex(key).try_into().expect("32 bytes"));
        assert_eq!(key.encrypt(&SecretText::from(text)), hex(ciphertext), "{text}");
        assert_eq!(key.decrypt(&hex(ciphertext)).expect("decrypt").expose(), text);
        seen += 1;
    }
    assert_eq!(seen, 2);
}

#[test]
fn a_generated_key_pair_completes_the_exchange_both_ways() {
    let mut rng = TestRng(42);
    let pair = ClientKeyPair::generate(&mut rng).expect("generate");
    let message = pair.public_key_message();
    let blob = STANDARD.decode(&message.public_key).expect("base64");
    assert_eq!(blob.len(), 20 + 256);
    assert_eq!(encode_public_key_blob(&parse_public_key_blob(&blob).expect("parse")), blob);
    // The server side: a session key encrypted for the client's PUBLIC_KEY.
    let session = SessionKey::generate(&mut rng).expect("random");
    let encrypted = session.encrypt_for(&mut rng, &message).expect("encrypt for");
    let opened = pair.decrypt_session_key(&mut rng, &encrypted).expect("open");
    assert_eq!(opened, session);
    let ss = opened.encrypt(&SecretText::from(""));
    assert_eq!(ss.len(), 16, "an empty string is one block of padding");
    assert_eq!(session.decrypt(&ss).expect("decrypt").expose(), "");
    // A different key pair cannot open it.
    let other = ClientKeyPair::generate(&mut TestRng(7)).expect("generate");
    match other.decrypt_session_key(&mut rng, &encrypted) {
        Err(SessionKeyError::SessionKeyLength(_) | SessionKeyError::Rsa(_)) => {}
        Ok(key) => assert_ne!(key, session),
        Err(e) => panic!("unexpected error {e}"),
    }
    assert!(format!("{session:?} {:?}", SecretText::from("pw")).contains("redacted"));
    assert!(!format!("{:?}", SecretText::from("pw")).contains("pw"));
}

#[test]
fn malformed_blobs_and_ciphertexts_are_typed_errors() {
    let data = recorded();
    let good = STANDARD.decode(&data["public_key"]).expect("base64");
    assert!(matches!(parse_public_key_blob(&good[..10]), Err(SessionKeyError::Truncated { needed: 20, .. })));
    assert!(matches!(parse_public_key_blob(&good[..100]), Err(SessionKeyError::Truncated { needed: 276, .. })));
    let mut longer = good.clone();
    longer.push(0);
    assert!(matches!(parse_public_key_blob(&longer), Err(SessionKeyError::TrailingBytes { extra: 1, .. })));
    let mut bad = good.clone();
    bad[0] = 7;
    assert_eq!(field(parse_public_key_blob(&bad)), "bType");
    let mut bad = good.clone();
    bad[1] = 3;
    assert_eq!(field(parse_public_key_blob(&bad)), "bVersion");
    let mut bad = good.clone();
    bad[5] = 0x24;
    assert_eq!(field(parse_public_key_blob(&bad)), "aiKeyAlg");
    let mut bad = good.clone();
    bad[8] = b'X';
    assert_eq!(field(parse_public_key_blob(&bad)), "magic");
    let mut bad = good.clone();
    bad[12..16].copy_from_slice(&0x10_0000u32.to_le_bytes());
    assert_eq!(field(parse_public_key_blob(&bad)), "bitlen");
    let mut bad = good.clone();
    bad[2] = 1;
    assert_eq!(field(parse_public_key_blob(&bad)), "reserved");
    let mut bad = good.clone();
    bad[275] = 0; // the modulus is shorter than bitlen says
    assert_eq!(field(parse_public_key_blob(&bad)), "bitlen");
    let mut even = good.clone();
    even[20] = 0x70; // an even modulus is no RSA key
    assert!(matches!(parse_public_key_blob(&even), Err(SessionKeyError::InvalidKey(_))));

    let simple = STANDARD.decode(&data["encrypted_session_key"]).expect("base64");
    assert!(matches!(parse_simple_blob(&simple[..12]), Err(SessionKeyError::Truncated { .. })));
    let mut bad = simple.clone();
    bad[4] = 0x0e; // CALG_AES_128
    assert_eq!(field(parse_simple_blob(&bad)), "aiKeyAlg");
    let mut bad = simple.clone();
    bad[3] = 1;
    assert_eq!(field(parse_simple_blob(&bad)), "reserved");
    let mut bad = simple.clone();
    bad[9] = 0;
    assert_eq!(field(parse_simple_blob(&bad)), "algid");
    let pair = pypsrp_key_pair(&data);
    let short = EncryptedSessionKey { encrypted_session_key: STANDARD.encode(&simple[..100]) };
    assert!(matches!(pair.decrypt_session_key(&mut TestRng(3), &short), Err(SessionKeyError::Truncated { .. })));
    let text = EncryptedSessionKey { encrypted_session_key: "not base64!".to_owned() };
    assert!(matches!(pair.decrypt_session_key(&mut TestRng(3), &text), Err(SessionKeyError::Base64(_))));
    let bad_key = PublicKey { public_key: STANDARD.encode(&bad) };
    assert!(SessionKey::from_bytes([0; 32]).encrypt_for(&mut TestRng(3), &bad_key).is_err());

    let key = SessionKey::from_bytes([9; 32]);
    assert_eq!(key.decrypt(&[1, 2, 3]).err(), Some(SessionKeyError::Ciphertext));
    assert_eq!(key.decrypt(&[]).err(), Some(SessionKeyError::Ciphertext));
    let other = SessionKey::from_bytes([8; 32]).encrypt(&SecretText::from("secret text"));
    assert!(key.decrypt(&other).is_err());
    // Valid padding around an odd byte count, and a lone surrogate, are not UTF-16 text.
    let odd = cbc_of(&key, &[0x41]);
    assert_eq!(key.decrypt(&odd).err(), Some(SessionKeyError::NotUtf16));
    let lone = cbc_of(&key, &[0x00, 0xd8]);
    assert_eq!(key.decrypt(&lone).err(), Some(SessionKeyError::NotUtf16));
}

fn field<T>(result: Result<T, SessionKeyError>) -> &'static str {
    match result {
        Err(SessionKeyError::UnexpectedField { field, .. }) => field,
        Err(other) => panic!("expected UnexpectedField, got {other:?}"),
        Ok(_) => panic!("expected UnexpectedField, got a value"),
    }
}

/// AES-256-CBC of raw bytes (not text) under `key`, straight from RustCrypto: ciphertexts whose plaintext is no
/// UTF-16, which the library's own `encrypt` of a `&str` cannot produce.
fn cbc_of(key: &SessionKey, raw: &[u8]) -> Vec<u8> {
    use aes::cipher::block_padding::Pkcs7;
    use aes::cipher::{BlockModeEncrypt, KeyIvInit};
    cbc::Encryptor::<aes::Aes256>::new(&(*key.as_bytes()).into(), &[0u8; 16].into()).encrypt_padded_vec::<Pkcs7>(raw)
}
