//! Client certificates: loading PEM, thumbprint selection in a directory (found, not found, ambiguous), a TLS
//! handshake with client authentication against a rustls server that requires it, and mapping the presented
//! certificate to a user.

use std::path::PathBuf;
use std::sync::Arc;

use pssession_auth::ClientIdentity;
use pssession_auth::client_cert::{
    CertMappingError, CertificateCredential, CertificateMapping, CertificateNames, ClientCertError,
    MUTUAL_AUTHORIZATION, MatchedBy, Thumbprint,
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, OtherNameValue,
    SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

const UPN_OID: [u64; 9] = [1, 3, 6, 1, 4, 1, 311, 20, 2];

struct Pki {
    ca_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

impl Pki {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "pssession test CA");
        let key = KeyPair::generate().unwrap();
        let ca = params.self_signed(&key).unwrap();
        Self { ca_der: ca.der().clone(), issuer: Issuer::new(params, key) }
    }

    fn client(&self, cn: &str, upn: Option<&str>) -> Leaf {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if let Some(upn) = upn {
            let mut oid = UPN_OID.to_vec();
            oid.push(3);
            params.subject_alt_names.push(SanType::OtherName((oid, OtherNameValue::Utf8String(upn.into()))));
        }
        self.sign(params)
    }

    fn server(&self) -> Leaf {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params)
    }

    fn sign(&self, params: CertificateParams) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf { cert_pem: cert.pem(), key_pem: key.serialize_pem(), der: cert.der().clone() }
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("pssession-client-cert-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn identity(user: &str) -> ClientIdentity {
    ClientIdentity { domain: String::new(), user: user.into() }
}

#[test]
fn thumbprint_selection_in_a_directory() {
    let pki = Pki::new();
    let (alice, bob, carol) = (pki.client("alice", None), pki.client("bob", None), pki.client("carol", None));
    let dir = TempDir::new("dir");
    std::fs::write(dir.0.join("alice.pem"), format!("{}{}", alice.cert_pem, alice.key_pem)).unwrap();
    std::fs::write(dir.0.join("bob.crt"), &bob.cert_pem).unwrap();
    std::fs::write(dir.0.join("bob.key"), &bob.key_pem).unwrap();
    std::fs::write(dir.0.join("carol.pem"), format!("{}{}", carol.cert_pem, carol.key_pem)).unwrap();
    std::fs::write(dir.0.join("carol-copy.pem"), format!("{}{}", carol.cert_pem, carol.key_pem)).unwrap();
    std::fs::write(dir.0.join("notes.txt"), "not a certificate").unwrap();
    std::fs::write(dir.0.join("broken.pem"), "-----BEGIN CERTIFICATE-----\n!!!\n").unwrap();

    // Found: cert+key in one file, in any spelling of the thumbprint.
    let t = Thumbprint::of(&alice.der).to_string();
    let spaced: String =
        t.to_lowercase().as_bytes().chunks(2).map(|p| std::str::from_utf8(p).unwrap()).collect::<Vec<_>>().join(" ");
    for spelling in [t.clone(), t.to_lowercase(), spaced] {
        let cred = CertificateCredential::find_by_thumbprint(&dir.0, &spelling).unwrap();
        assert_eq!(cred.thumbprint().to_string(), t);
        assert_eq!(cred.chain()[0], alice.der);
    }
    // Found: key in the sibling .key file.
    let cred = CertificateCredential::find_by_thumbprint(&dir.0, &Thumbprint::of(&bob.der).to_string()).unwrap();
    assert_eq!(cred.chain()[0], bob.der);
    // Not found.
    let other = pki.client("dave", None);
    match CertificateCredential::find_by_thumbprint(&dir.0, &Thumbprint::of(&other.der).to_string()) {
        Err(e @ ClientCertError::NotFound { .. }) => assert!(e.to_string().contains("no certificate with thumbprint")),
        other => panic!("{other:?}"),
    }
    // Ambiguous: the same certificate in two files.
    match CertificateCredential::find_by_thumbprint(&dir.0, &Thumbprint::of(&carol.der).to_string()) {
        Err(ClientCertError::Ambiguous { files, .. }) => assert_eq!(files.len(), 2),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        CertificateCredential::find_by_thumbprint(&dir.0, "12:34").err(),
        Some(ClientCertError::InvalidThumbprint)
    );
    assert!(matches!(
        CertificateCredential::find_by_thumbprint(&dir.0.join("missing"), &t),
        Err(ClientCertError::Io { .. })
    ));
}

#[test]
fn loading_checks_the_key_and_round_trips_pem() {
    let pki = Pki::new();
    let (alice, bob) = (pki.client("alice", None), pki.client("bob", None));
    let cred = CertificateCredential::from_pem(alice.cert_pem.as_bytes(), alice.key_pem.as_bytes()).unwrap();
    assert_eq!(cred.authorization(), MUTUAL_AUTHORIZATION);
    assert_eq!(MUTUAL_AUTHORIZATION, "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual");
    // The PEM forms load again (what the wsman transport's ClientCertificate::from_pem takes).
    let again =
        CertificateCredential::from_pem(cred.certificate_pem().as_bytes(), cred.private_key_pem().as_bytes()).unwrap();
    assert_eq!(again.thumbprint(), cred.thumbprint());
    assert!(matches!(
        CertificateCredential::from_pem(alice.cert_pem.as_bytes(), bob.key_pem.as_bytes()),
        Err(ClientCertError::KeyMismatch(_))
    ));
    assert_eq!(
        CertificateCredential::from_pem(alice.cert_pem.as_bytes(), b"").err(),
        Some(ClientCertError::NoPrivateKey)
    );
    assert_eq!(
        CertificateCredential::from_pem(b"", alice.key_pem.as_bytes()).err(),
        Some(ClientCertError::NoCertificate)
    );
    let debug = format!("{cred:?}");
    assert!(debug.contains("redacted") && !debug.contains("PRIVATE"), "{debug}");
}

fn pump(client: &mut ClientConnection, server: &mut ServerConnection) -> Result<(), rustls::Error> {
    for _ in 0..10 {
        let mut buf = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            server.read_tls(&mut &buf[..]).unwrap();
            server.process_new_packets()?;
        }
        let mut buf = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            client.read_tls(&mut &buf[..]).unwrap();
            client.process_new_packets()?;
        }
        if !client.is_handshaking() && !server.is_handshaking() {
            return Ok(());
        }
    }
    panic!("handshake did not finish");
}

fn configs(pki: &Pki, client_cert: Option<&CertificateCredential>) -> (ClientConnection, ServerConnection) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca_der.clone()).unwrap();
    let roots = Arc::new(roots);
    let server_leaf = pki.server();
    let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone()).build().unwrap();
    let server_config = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![server_leaf.der.clone()],
            PrivateKeyDer::from_pem_slice(server_leaf.key_pem.as_bytes()).unwrap(),
        )
        .unwrap();
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let client_config = match client_cert {
        Some(cred) => builder.with_client_auth_cert(cred.chain().to_vec(), cred.private_key()).unwrap(),
        None => builder.with_no_client_auth(),
    };
    let client = ClientConnection::new(Arc::new(client_config), ServerName::try_from("localhost").unwrap()).unwrap();
    let server = ServerConnection::new(Arc::new(server_config)).unwrap();
    (client, server)
}

#[test]
fn tls_handshake_with_client_authentication_and_mapping() {
    let pki = Pki::new();
    let alice = pki.client("Alice Example", Some("alice@example.test"));
    let cred = CertificateCredential::from_pem(alice.cert_pem.as_bytes(), alice.key_pem.as_bytes()).unwrap();

    let (mut client, mut server) = configs(&pki, Some(&cred));
    pump(&mut client, &mut server).unwrap();
    let presented = server.peer_certificates().expect("client certificate")[0].clone();
    assert_eq!(presented, alice.der);

    let names = CertificateNames::of(&presented).unwrap();
    assert_eq!(names.upns, ["alice@example.test"]);
    assert_eq!(names.common_names, ["Alice Example"]);

    let mut mapping = CertificateMapping::new();
    mapping.map_subject("ALICE@example.test", identity("alice"));
    let m = mapping.map(&presented).unwrap();
    assert_eq!(m.identity, identity("alice"));
    assert_eq!(m.matched_by, MatchedBy::Subject("alice@example.test".into()));

    // Thumbprint rules win.
    mapping.map_thumbprint(Thumbprint::of(&presented), identity("admin"));
    let m = mapping.map(&presented).unwrap();
    assert_eq!((m.identity, m.matched_by), (identity("admin"), MatchedBy::Thumbprint));

    // No mapping / conflicting mappings are typed errors.
    let bob = pki.client("bob", None);
    match mapping.map(&bob.der) {
        Err(e @ CertMappingError::NoMapping { .. }) => assert!(e.to_string().contains("bob")),
        other => panic!("{other:?}"),
    }
    let mut conflicting = CertificateMapping::new();
    conflicting.map_subject("alice@example.test", identity("alice")).map_subject("Alice Example", identity("eve"));
    assert!(matches!(conflicting.map(&alice.der), Err(CertMappingError::Ambiguous { .. })));
}

#[test]
fn server_requiring_client_auth_refuses_a_client_without_certificate() {
    let pki = Pki::new();
    let (mut client, mut server) = configs(&pki, None);
    assert!(pump(&mut client, &mut server).is_err());

    // A certificate from another CA is refused too.
    let other = Pki::new();
    let mallory = other.client("mallory", Some("alice@example.test"));
    let cred = CertificateCredential::from_pem(mallory.cert_pem.as_bytes(), mallory.key_pem.as_bytes()).unwrap();
    let (mut client, mut server) = configs(&pki, Some(&cred));
    assert!(pump(&mut client, &mut server).is_err());
}
