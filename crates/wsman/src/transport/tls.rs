//! TLS for HTTPS endpoints, with rustls. Verification is on by default against the system's trust store; the two
//! PowerShell escape hatches exist only as explicitly named options:
//!
//! * `skip_ca_check` (`-SkipCACheck`): the chain need not lead to a trusted root; the name must still match and
//!   the handshake signature must still verify.
//! * `skip_cn_check` (`-SkipCNCheck`): the chain must be trusted but the name need not match.
//!
//! With both set only the handshake signature is checked, which proves possession of the certificate's key and
//! nothing about who holds it.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error as TlsError, RootCertStore, SignatureScheme,
};

/// How to verify the server and whether to present a client certificate.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct TlsOptions {
    /// `-SkipCACheck` ([`DangerousTlsOptions::skip_ca_check`]).
    skip_ca_check: bool,
    /// `-SkipCNCheck` ([`DangerousTlsOptions::skip_cn_check`]).
    skip_cn_check: bool,
    /// Extra trusted roots (PEM files), added to the system's.
    pub extra_roots: Vec<PathBuf>,
    /// Extra trusted roots already in memory (see [`TlsOptions::trust_pem`]).
    pub extra_root_certificates: Vec<CertificateDer<'static>>,
    /// Trust only `extra_roots`, not the system's store (for private PKIs and tests).
    pub only_extra_roots: bool,
    /// A client certificate chain and its key, for certificate authentication.
    pub client_certificate: Option<ClientCertificate>,
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("skip_ca_check", &self.skip_ca_check)
            .field("skip_cn_check", &self.skip_cn_check)
            .field("extra_roots", &self.extra_roots)
            .field("extra_root_certificates", &self.extra_root_certificates.len())
            .field("only_extra_roots", &self.only_extra_roots)
            .field("client_certificate", &self.client_certificate.as_ref().map(|_| "<certificate and key>"))
            .finish()
    }
}

impl TlsOptions {
    /// The settings that weaken the server's authentication, kept behind one call so that they stand out where
    /// they are used (rustls' `dangerous()`).
    pub fn dangerous(&mut self) -> DangerousTlsOptions<'_> {
        DangerousTlsOptions { options: self }
    }

    /// Whether the server's chain is accepted without leading to a trusted root.
    pub fn skips_ca_check(&self) -> bool {
        self.skip_ca_check
    }

    /// Whether the server's certificate is accepted without naming the host.
    pub fn skips_cn_check(&self) -> bool {
        self.skip_cn_check
    }

    /// Adds the certificates of a PEM document to the trusted roots.
    pub fn trust_pem(&mut self, pem: &[u8]) -> Result<(), TlsConfigError> {
        for cert in CertificateDer::pem_slice_iter(pem) {
            self.extra_root_certificates.push(cert.map_err(|e| TlsConfigError::Pem(e.to_string()))?);
        }
        Ok(())
    }
}

/// The dangerous half of [`TlsOptions`], from [`TlsOptions::dangerous`].
#[derive(Debug)]
pub struct DangerousTlsOptions<'a> {
    options: &'a mut TlsOptions,
}

impl DangerousTlsOptions<'_> {
    /// `-SkipCACheck`: accept a server whose chain does not lead to a trusted root — anyone who can intercept the
    /// connection can then impersonate the server.
    pub fn skip_ca_check(&mut self, skip: bool) -> &mut Self {
        self.options.skip_ca_check = skip;
        self
    }

    /// `-SkipCNCheck`: accept a certificate that does not name the host — any certificate the roots trust will do.
    pub fn skip_cn_check(&mut self, skip: bool) -> &mut Self {
        self.options.skip_cn_check = skip;
        self
    }
}

/// A client certificate chain and private key.
#[derive(Clone)]
pub struct ClientCertificate {
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
}

impl ClientCertificate {
    /// Reads a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem(certificate_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsConfigError> {
        let chain = CertificateDer::pem_slice_iter(certificate_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsConfigError::Pem(format!("client certificate: {e}")))?;
        if chain.is_empty() {
            return Err(TlsConfigError::Pem("client certificate: no CERTIFICATE block".to_owned()));
        }
        let key =
            PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsConfigError::Pem(format!("client key: {e}")))?;
        Ok(ClientCertificate { chain, key: Arc::new(key) })
    }

    /// The DER certificate chain, leaf first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate").field("chain_len", &self.chain.len()).field("key", &"<redacted>").finish()
    }
}

/// Why a TLS configuration could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// A root or client certificate file could not be read.
    Io(String),
    /// PEM data was malformed.
    Pem(String),
    /// No trusted root is available (no system store and no extra roots).
    NoRoots,
    /// rustls refused the configuration.
    Rustls(String),
}

impl fmt::Display for TlsConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsConfigError::Io(e) => write!(f, "cannot read TLS material: {e}"),
            TlsConfigError::Pem(e) => write!(f, "invalid PEM: {e}"),
            TlsConfigError::NoRoots => f.write_str("no trusted root certificates: the system store is empty"),
            TlsConfigError::Rustls(e) => write!(f, "TLS configuration refused: {e}"),
        }
    }
}

impl std::error::Error for TlsConfigError {}

/// The crypto provider used for every TLS session of this crate.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the rustls client configuration for `options`.
pub fn client_config(options: &TlsOptions) -> Result<Arc<ClientConfig>, TlsConfigError> {
    let provider = provider();
    let extras = !options.extra_roots.is_empty() || !options.extra_root_certificates.is_empty();
    let mut roots = match (options.only_extra_roots, extras) {
        (true, _) => RootCertStore::empty(),
        // The common case shares one store: reading and parsing the system's roots took ~4 ms per transport,
        // which a fan-out to a thousand HTTPS sessions paid a thousand times.
        (false, false) => return finish(options, provider, system_roots()),
        (false, true) => system_roots().as_ref().clone(),
    };
    for path in &options.extra_roots {
        let pem = std::fs::read(path).map_err(|e| TlsConfigError::Io(format!("{}: {e}", path.display())))?;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| TlsConfigError::Pem(format!("{}: {e}", path.display())))?;
            roots.add(cert).map_err(|e| TlsConfigError::Rustls(format!("{}: {e}", path.display())))?;
        }
    }
    for cert in &options.extra_root_certificates {
        roots.add(cert.clone()).map_err(|e| TlsConfigError::Rustls(e.to_string()))?;
    }
    finish(options, provider, Arc::new(roots))
}

/// The system's trust store, read once per process (individual unreadable certificates are skipped, as every TLS
/// client does).
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut roots = RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            Arc::new(roots)
        })
        .clone()
}

/// The client configuration over `roots`: the verifier the options ask for, and the client certificate.
fn finish(
    options: &TlsOptions,
    provider: Arc<CryptoProvider>,
    roots: Arc<RootCertStore>,
) -> Result<Arc<ClientConfig>, TlsConfigError> {
    let verifier: Arc<dyn ServerCertVerifier> = if options.skip_ca_check {
        Arc::new(SkipChainVerifier { provider: provider.clone(), check_name: !options.skip_cn_check })
    } else {
        if roots.is_empty() {
            return Err(TlsConfigError::NoRoots);
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| TlsConfigError::Rustls(e.to_string()))?;
        if options.skip_cn_check { Arc::new(SkipNameVerifier { inner: webpki }) } else { webpki }
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsConfigError::Rustls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match &options.client_certificate {
        Some(cert) => builder
            .with_client_auth_cert(cert.chain.clone(), cert.key.clone_key())
            .map_err(|e| TlsConfigError::Rustls(e.to_string()))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// `-SkipCNCheck`: full chain validation, name mismatches forgiven.
#[derive(Debug)]
struct SkipNameVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for SkipNameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        match self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(TlsError::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `-SkipCACheck`: no chain validation; the name still has to match unless `-SkipCNCheck` too.
#[derive(Debug)]
struct SkipChainVerifier {
    provider: Arc<CryptoProvider>,
    check_name: bool,
}

impl ServerCertVerifier for SkipChainVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        if self.check_name {
            let cert = webpki::EndEntityCert::try_from(end_entity)
                .map_err(|_| TlsError::InvalidCertificate(CertificateError::BadEncoding))?;
            cert.verify_is_valid_for_subject_name(server_name)
                .map_err(|_| TlsError::InvalidCertificate(CertificateError::NotValidForName))?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
