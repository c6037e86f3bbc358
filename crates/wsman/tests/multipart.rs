//! Encrypted-body framing: exact bytes against auth.md §3, both directions with a fake sealer, CredSSP chunking,
//! the real NTLM-sealed sample from ironposh (parse only), and typed errors on malformed input.

use pssession_wsman::multipart::{
    self, CREDSSP_CHUNK_SIZE, EncryptionProtocol, Limits, MessageSealer, MultipartError, SealError, Sealed,
};

/// XOR "encryption" with a fixed signature that records the plaintext length, plus optional Kerberos-like padding.
struct FakeSealer {
    key: u8,
    padding: usize,
    wraps: usize,
}

impl MessageSealer for FakeSealer {
    fn wrap(&mut self, plaintext: &[u8]) -> Result<Sealed, SealError> {
        self.wraps += 1;
        let mut ciphertext: Vec<u8> = plaintext.iter().map(|b| b ^ self.key).collect();
        ciphertext.extend(std::iter::repeat_n(0xAA ^ self.key, self.padding));
        let mut header = b"SIG:".to_vec();
        header.extend_from_slice(&(plaintext.len() as u32).to_be_bytes());
        Ok(Sealed { header, ciphertext, padding: self.padding })
    }

    fn unwrap(&mut self, header: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, SealError> {
        if header.len() != 8 || &header[..4] != b"SIG:" {
            return Err(SealError::new("bad signature"));
        }
        let plain: Vec<u8> = ciphertext.iter().map(|b| b ^ self.key).collect();
        // Keep the padding: the declared Length counts it, as pypsrp's Kerberos unwrap sees it.
        Ok(plain)
    }
}

fn sealer() -> FakeSealer {
    FakeSealer { key: 0x5C, padding: 0, wraps: 0 }
}

#[test]
fn spnego_body_has_the_exact_layout() {
    let mut s = sealer();
    let out = multipart::encrypt(&mut s, EncryptionProtocol::Spnego, b"<env/>").unwrap();
    assert_eq!(
        out.content_type,
        "multipart/encrypted;protocol=\"application/HTTP-SPNEGO-session-encrypted\";boundary=\"Encrypted Boundary\""
    );
    let mut expected = b"--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n\
\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=6\r\n--Encrypted Boundary\r\n\
\tContent-Type: application/octet-stream\r\n"
        .to_vec();
    expected.extend_from_slice(&[8, 0, 0, 0]);
    expected.extend_from_slice(b"SIG:\0\0\0\x06");
    expected.extend(b"<env/>".iter().map(|b| b ^ 0x5C));
    expected.extend_from_slice(b"--Encrypted Boundary--\r\n");
    assert_eq!(out.body, expected);

    let plain = multipart::decrypt(&mut s, &out.content_type, &out.body, &Limits::default()).unwrap();
    assert_eq!(plain, b"<env/>");
}

#[test]
fn kerberos_length_counts_padding() {
    let mut s = FakeSealer { key: 1, padding: 3, wraps: 0 };
    let out = multipart::encrypt(&mut s, EncryptionProtocol::Kerberos, b"abcde").unwrap();
    assert!(out.content_type.contains("HTTP-Kerberos-session-encrypted"));
    let parts = multipart::parse_parts(&out.body, &Limits::default()).unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].length, 8);
    assert_eq!(parts[0].protocol, EncryptionProtocol::Kerberos);
    assert_eq!(multipart::decrypt(&mut s, &out.content_type, &out.body, &Limits::default()).unwrap().len(), 8);
}

#[test]
fn credssp_chunks_by_16_kib_and_round_trips() {
    let plaintext: Vec<u8> = (0..40_025u32).map(|i| (i % 251) as u8).collect();
    let mut s = sealer();
    let out = multipart::encrypt(&mut s, EncryptionProtocol::CredSsp, &plaintext).unwrap();
    assert_eq!(s.wraps, 3);
    assert!(out.content_type.starts_with("multipart/x-multi-encrypted;"));
    let parts = multipart::parse_parts(&out.body, &Limits::default()).unwrap();
    let lengths: Vec<usize> = parts.iter().map(|p| p.length).collect();
    assert_eq!(lengths, [CREDSSP_CHUNK_SIZE, CREDSSP_CHUNK_SIZE, 40_025 - 2 * CREDSSP_CHUNK_SIZE]);
    assert_eq!(multipart::decrypt(&mut s, &out.content_type, &out.body, &Limits::default()).unwrap(), plaintext);

    // A small CredSSP message stays a single multipart/encrypted part.
    let small = multipart::encrypt(&mut s, EncryptionProtocol::CredSsp, &plaintext[..CREDSSP_CHUNK_SIZE]).unwrap();
    assert!(small.content_type.starts_with("multipart/encrypted;"));
}

#[test]
fn several_parts_are_refused_under_single_part_content_type() {
    let plaintext = vec![7u8; 20_000];
    let mut s = sealer();
    let out = multipart::encrypt(&mut s, EncryptionProtocol::CredSsp, &plaintext).unwrap();
    let single = multipart::content_type(EncryptionProtocol::CredSsp, false);
    assert!(matches!(
        multipart::decrypt(&mut s, &single, &out.body, &Limits::default()),
        Err(MultipartError::Malformed { .. })
    ));
}

#[test]
fn exchange_style_space_after_dashes_is_accepted() {
    let mut s = sealer();
    let out = multipart::encrypt(&mut s, EncryptionProtocol::Spnego, b"hello").unwrap();
    let spaced = String::from_utf8_lossy(&out.body).replace("--Encrypted Boundary", "-- Encrypted Boundary");
    // XOR with 0x5C keeps "hello" printable, so the lossy round trip is exact.
    let plain = multipart::decrypt(&mut s, &out.content_type, spaced.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(plain, b"hello");
}

#[test]
fn length_mismatch_and_protocol_mismatch_are_typed() {
    let mut s = sealer();
    let out = multipart::encrypt(&mut s, EncryptionProtocol::Spnego, b"hello").unwrap();
    let lying = String::from_utf8_lossy(&out.body).replace("Length=5", "Length=6");
    assert_eq!(
        multipart::decrypt(&mut s, &out.content_type, lying.as_bytes(), &Limits::default()),
        Err(MultipartError::LengthMismatch { declared: 6, actual: 5 })
    );
    let kerberos = multipart::content_type(EncryptionProtocol::Kerberos, false);
    assert_eq!(
        multipart::decrypt(&mut s, &kerberos, &out.body, &Limits::default()),
        Err(MultipartError::ProtocolMismatch)
    );
    assert_eq!(
        multipart::decrypt(&mut s, "application/soap+xml;charset=UTF-8", &out.body, &Limits::default()),
        Err(MultipartError::NotEncrypted)
    );
    assert_eq!(
        multipart::decrypt(
            &mut s,
            "multipart/encrypted;boundary=\"Encrypted Boundary\"",
            &out.body,
            &Limits::default()
        ),
        Err(MultipartError::UnknownProtocol)
    );
}

#[test]
fn every_truncation_is_a_typed_error() {
    let mut s = sealer();
    let out = multipart::encrypt(&mut s, EncryptionProtocol::Spnego, b"some envelope").unwrap();
    for cut in 0..out.body.len() - 2 {
        let r = multipart::decrypt(&mut s, &out.content_type, &out.body[..cut], &Limits::default());
        assert!(r.is_err(), "truncation at {cut} accepted");
    }
}

#[test]
fn limits_are_enforced() {
    let mut s = sealer();
    let out = multipart::encrypt(&mut s, EncryptionProtocol::CredSsp, &[1u8; 40_000]).unwrap();
    let few = Limits { max_parts: 2, ..Limits::default() };
    assert_eq!(multipart::parse_parts(&out.body, &few), Err(MultipartError::TooManyParts));
    let small = Limits { max_body: 1000, ..Limits::default() };
    assert_eq!(multipart::parse_parts(&out.body, &small), Err(MultipartError::TooLarge));
}

#[test]
fn real_ntlm_sealed_sample_parses() {
    let hex = pssession_testkit::read_fixture(
        "other-projects/ironposh/crates/ironposh-client-core/test_data/real_encrypted_soap.txt",
    );
    let hex = std::str::from_utf8(&hex).unwrap().trim();
    let body: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    let parts = multipart::parse_parts(&body, &Limits::default()).unwrap();
    assert_eq!(parts.len(), 1);
    let part = parts[0];
    assert_eq!(part.protocol, EncryptionProtocol::Spnego);
    assert_eq!(part.length, 2162);
    // NTLM: a 16-byte signature (version 1) and an RC4 ciphertext as long as the plaintext.
    assert_eq!(part.header.len(), 16);
    assert_eq!(&part.header[..4], &[1, 0, 0, 0]);
    assert_eq!(part.ciphertext.len(), 2162);
}
