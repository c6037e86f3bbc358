//! The TLS session inside CredSSP, run in memory with rustls: records in, records out, no socket.
//!
//! MS-CSSP does not verify the server's TLS certificate (WinRM's CredSSP listener presents a self-signed one).
//! What protects the client is the public-key binding: the client proves, under the inner SPNEGO session
//! keys, which public key its TLS session was made with, and the acceptor proves the same back
//! (see [`super::binding`]). The handshake signature is still checked, so the peer holds the certificate's key.

use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, Connection, DigitallySignedStruct, ProtocolVersion, ServerConfig, ServerConnection,
    SignatureScheme,
};

use crate::der::{BIT_STRING, DerReader, SEQUENCE};
use crate::error::{AuthError, malformed};

/// Which TLS versions the CredSSP client offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CredsspTlsVersions {
    /// TLS 1.2 and TLS 1.3 (the peer picks; the default).
    #[default]
    Tls12And13,
    /// TLS 1.2 only, as older Windows CredSSP listeners speak.
    Tls12Only,
}

/// The crypto provider of the CredSSP TLS session: ring, AES-GCM suites only (what Schannel offers, and what
/// WinRM's trailer-length convention assumes).
fn provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.retain(|s| {
        matches!(
            s.suite(),
            rustls::CipherSuite::TLS13_AES_256_GCM_SHA384
                | rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
                | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
                | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
                | rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
                | rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        )
    });
    Arc::new(provider)
}

static TLS12_AND_13: [&rustls::SupportedProtocolVersion; 2] = [&rustls::version::TLS13, &rustls::version::TLS12];
static TLS12_ONLY: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS12];

fn versions(v: CredsspTlsVersions) -> &'static [&'static rustls::SupportedProtocolVersion] {
    match v {
        CredsspTlsVersions::Tls12And13 => &TLS12_AND_13,
        CredsspTlsVersions::Tls12Only => &TLS12_ONLY,
    }
}

fn tls_error(e: impl std::fmt::Display) -> AuthError {
    AuthError::Tls(e.to_string())
}

/// Accepts any server certificate (MS-CSSP), but checks handshake signatures against it.
#[derive(Debug)]
struct CredsspServerCertVerifier {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for CredsspServerCertVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// One in-memory TLS session (either side).
pub(crate) struct TlsSession {
    conn: Connection,
}

impl TlsSession {
    /// A client session; the ClientHello is ready in [`TlsSession::take_output`].
    pub(crate) fn client(tls_versions: CredsspTlsVersions) -> Result<Self, AuthError> {
        let provider = provider();
        let mut config = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions(tls_versions))
            .map_err(tls_error)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(CredsspServerCertVerifier { provider }))
            .with_no_client_auth();
        // The server name is not checked and not sent: CredSSP binds the public key instead.
        config.enable_sni = false;
        config.resumption = rustls::client::Resumption::disabled();
        let name = ServerName::try_from("credssp.invalid").map_err(tls_error)?;
        let mut conn = ClientConnection::new(Arc::new(config), name).map_err(tls_error)?;
        conn.set_buffer_limit(None);
        Ok(Self { conn: Connection::Client(conn) })
    }

    /// A server session presenting `chain` with `key`.
    pub(crate) fn server(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Result<Self, AuthError> {
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(versions(CredsspTlsVersions::Tls12And13))
            .map_err(tls_error)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(tls_error)?;
        // TLS 1.3: the tickets are the acceptor's answer to the client's Finished; clients such as
        // requests-credssp need a non-empty token on that leg (resumption itself is never used).
        config.send_tls13_tickets = 2;
        let mut conn = ServerConnection::new(Arc::new(config)).map_err(tls_error)?;
        conn.set_buffer_limit(None);
        Ok(Self { conn: Connection::Server(conn) })
    }

    pub(crate) fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Consumes TLS records from the peer; returns the application data they carried.
    pub(crate) fn feed(&mut self, mut records: &[u8]) -> Result<Vec<u8>, AuthError> {
        let mut plain = Vec::new();
        while !records.is_empty() {
            // An empty read would mean end of stream to rustls; the loop condition prevents it.
            self.conn.read_tls(&mut records).map_err(tls_error)?;
            self.conn.process_new_packets().map_err(tls_error)?;
            self.drain_plaintext(&mut plain)?;
        }
        Ok(plain)
    }

    fn drain_plaintext(&mut self, out: &mut Vec<u8>) -> Result<(), AuthError> {
        let mut buf = [0u8; 4096];
        loop {
            match self.conn.reader().read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => out.extend_from_slice(buf.get(..n).unwrap_or_default()),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(tls_error(e)),
            }
        }
    }

    /// The TLS records waiting to be sent.
    pub(crate) fn take_output(&mut self) -> Result<Vec<u8>, AuthError> {
        let mut out = Vec::new();
        while self.conn.wants_write() {
            self.conn.write_tls(&mut out).map_err(tls_error)?;
        }
        Ok(out)
    }

    /// Encrypts application data into TLS records.
    pub(crate) fn encrypt(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, AuthError> {
        self.conn.writer().write_all(plaintext).map_err(tls_error)?;
        self.take_output()
    }

    /// The peer's leaf certificate.
    pub(crate) fn peer_certificate(&self) -> Option<&CertificateDer<'static>> {
        self.conn.peer_certificates().and_then(<[_]>::first)
    }

    /// The number of bytes of a record counted as the WinRM "header" (pyspnego's and pywinrm's convention: the
    /// TLS trailer length, 17 for TLS 1.3 AES-GCM, 16 for TLS 1.2 AES-GCM).
    pub(crate) fn trailer_len(&self) -> usize {
        if self.conn.protocol_version() == Some(ProtocolVersion::TLSv1_3) { 17 } else { 16 }
    }

    /// The negotiated TLS version, for diagnostics.
    pub(crate) fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.conn.protocol_version()
    }
}

const CERT: &str = "X.509 certificate";

/// The `subjectPublicKey` of a DER certificate (the BIT STRING's bits, without the unused-bits byte): for RSA the
/// PKCS#1 `RSAPublicKey`, which is what MS-CSSP binds.
pub fn subject_public_key(certificate_der: &[u8]) -> Result<Vec<u8>, AuthError> {
    let mut outer = DerReader::new(certificate_der, CERT);
    let mut cert = DerReader::new(outer.expect(SEQUENCE)?, CERT);
    let mut tbs = DerReader::new(cert.expect(SEQUENCE)?, CERT);
    if tbs.peek_tag() == Some(0xa0) {
        tbs.read()?; // version
    }
    tbs.read()?; // serialNumber
    tbs.expect(SEQUENCE)?; // signature
    tbs.expect(SEQUENCE)?; // issuer
    tbs.expect(SEQUENCE)?; // validity
    tbs.expect(SEQUENCE)?; // subject
    let mut spki = DerReader::new(tbs.expect(SEQUENCE)?, CERT);
    spki.expect(SEQUENCE)?; // algorithm
    match spki.expect(BIT_STRING)? {
        [0, key @ ..] if !key.is_empty() => Ok(key.to_vec()),
        _ => Err(malformed(CERT, "subjectPublicKey is empty or not whole bytes")),
    }
}
