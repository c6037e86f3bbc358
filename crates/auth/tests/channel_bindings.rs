//! `tls-server-end-point` hashes of real certificates agree with pypsrp's computation.

use pssession_auth::{ChannelBindings, tls_server_end_point_hash};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn certificate_hash_matches_pypsrp_for_every_signature_algorithm() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/cert_hashes.py");
    let answer = pssession_testkit::run_python_json(&script, &serde_json::json!({}));
    let certs = answer.as_array().expect("a list of certificates");
    assert!(certs.len() >= 8, "{answer}");
    for cert in certs {
        let name = cert["name"].as_str().unwrap();
        let der = unhex(cert["der_hex"].as_str().unwrap());
        let expected = unhex(cert["hash_hex"].as_str().unwrap());
        assert_eq!(tls_server_end_point_hash(&der).unwrap(), expected, "{name}");
        let cbt = ChannelBindings::tls_server_end_point(&der).unwrap();
        assert_eq!(cbt.application_data(), [&b"tls-server-end-point:"[..], &expected].concat(), "{name}");
    }
}
