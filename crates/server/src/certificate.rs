//! The HTTPS listener's certificate: given as PEM files, or generated (self-signed) on first start and kept in a
//! state directory so that clients that pinned it keep working across restarts.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// File name of a generated certificate inside the state directory.
pub const GENERATED_CERTIFICATE: &str = "server-certificate.pem";
/// File name of a generated certificate's key inside the state directory.
pub const GENERATED_KEY: &str = "server-key.pem";

/// A certificate chain (leaf first) and its private key.
pub struct ServerCertificate {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl fmt::Debug for ServerCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerCertificate").field("chain_len", &self.chain.len()).field("key", &"<redacted>").finish()
    }
}

/// Where a certificate came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateSource {
    /// Files given by the operator.
    Given,
    /// Generated now and written to these files.
    Generated {
        /// The certificate file written.
        certificate: PathBuf,
    },
    /// Generated on an earlier start and read back.
    Reused {
        /// The certificate file read.
        certificate: PathBuf,
    },
}

impl ServerCertificate {
    /// Reads a PEM certificate chain and a PEM private key.
    pub fn from_pem(certificate_pem: &[u8], key_pem: &[u8]) -> Result<Self, CertificateError> {
        let chain = CertificateDer::pem_slice_iter(certificate_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CertificateError::Pem(format!("certificate: {e}")))?;
        if chain.is_empty() {
            return Err(CertificateError::Pem("certificate: no CERTIFICATE block".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| CertificateError::Pem(format!("key: {e}")))?;
        Ok(ServerCertificate { chain, key })
    }

    /// Reads the chain and key from PEM files.
    pub fn from_pem_files(certificate: &Path, key: &Path) -> Result<Self, CertificateError> {
        Self::from_pem(&read(certificate)?, &read(key)?)
    }

    /// A new self-signed certificate for `names` (DNS names or IP addresses).
    pub fn generate(names: &[String]) -> Result<(Self, String, String), CertificateError> {
        let key = rcgen::KeyPair::generate().map_err(|e| CertificateError::Generate(e.to_string()))?;
        let mut params =
            rcgen::CertificateParams::new(names.to_vec()).map_err(|e| CertificateError::Generate(e.to_string()))?;
        params.distinguished_name.push(rcgen::DnType::CommonName, names.first().cloned().unwrap_or_default());
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "pssession embedded WinRM endpoint");
        let certificate = params.self_signed(&key).map_err(|e| CertificateError::Generate(e.to_string()))?;
        let (certificate_pem, key_pem) = (certificate.pem(), key.serialize_pem());
        let parsed = Self::from_pem(certificate_pem.as_bytes(), key_pem.as_bytes())?;
        Ok((parsed, certificate_pem, key_pem))
    }

    /// The certificate previously generated in `state_dir`, or a new one for `names` written there (key file
    /// readable by the owner only).
    pub fn load_or_generate(state_dir: &Path, names: &[String]) -> Result<(Self, CertificateSource), CertificateError> {
        let certificate_path = state_dir.join(GENERATED_CERTIFICATE);
        let key_path = state_dir.join(GENERATED_KEY);
        if certificate_path.exists() && key_path.exists() {
            let loaded = Self::from_pem_files(&certificate_path, &key_path)?;
            return Ok((loaded, CertificateSource::Reused { certificate: certificate_path }));
        }
        let (generated, certificate_pem, key_pem) = Self::generate(names)?;
        std::fs::create_dir_all(state_dir).map_err(|e| io_error(state_dir, &e))?;
        write_private(&key_path, key_pem.as_bytes())?;
        std::fs::write(&certificate_path, certificate_pem).map_err(|e| io_error(&certificate_path, &e))?;
        Ok((generated, CertificateSource::Generated { certificate: certificate_path }))
    }

    /// The leaf certificate, whose hash is the tls-server-end-point channel binding.
    pub fn leaf(&self) -> &CertificateDer<'static> {
        &self.chain[0]
    }

    /// The rustls server configuration presenting this certificate.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, CertificateError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| CertificateError::Rustls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| CertificateError::Rustls(e.to_string()))?;
        Ok(Arc::new(config))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, CertificateError> {
    std::fs::read(path).map_err(|e| io_error(path, &e))
}

fn io_error(path: &Path, e: &std::io::Error) -> CertificateError {
    CertificateError::Io(format!("{}: {e}", path.display()))
}

fn write_private(path: &Path, contents: &[u8]) -> Result<(), CertificateError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| io_error(path, &e))?;
    file.write_all(contents).map_err(|e| io_error(path, &e))
}

/// Why the certificate could not be loaded or made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateError {
    /// A file could not be read or written.
    Io(String),
    /// PEM data was malformed.
    Pem(String),
    /// Generating the certificate failed.
    Generate(String),
    /// rustls refused the certificate or key.
    Rustls(String),
}

impl fmt::Display for CertificateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertificateError::Io(e) => write!(f, "certificate file: {e}"),
            CertificateError::Pem(e) => write!(f, "invalid PEM: {e}"),
            CertificateError::Generate(e) => write!(f, "cannot generate a certificate: {e}"),
            CertificateError::Rustls(e) => write!(f, "TLS refused the certificate: {e}"),
        }
    }
}

impl std::error::Error for CertificateError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pssession-cert-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn generated_once_then_reused_with_a_private_key_file() {
        let dir = scratch("reuse");
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let (first, source) = ServerCertificate::load_or_generate(&dir, &names).unwrap();
        assert!(matches!(source, CertificateSource::Generated { .. }));
        let (second, source) = ServerCertificate::load_or_generate(&dir, &names).unwrap();
        assert!(matches!(source, CertificateSource::Reused { .. }));
        assert_eq!(first.leaf(), second.leaf());
        second.server_config().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(GENERATED_KEY)).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "key readable by others: {mode:o}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn malformed_pem_is_an_error() {
        assert!(matches!(ServerCertificate::from_pem(b"nope", b"nope"), Err(CertificateError::Pem(_))));
        let (_, certificate, _) = ServerCertificate::generate(&["localhost".to_owned()]).unwrap();
        assert!(matches!(ServerCertificate::from_pem(certificate.as_bytes(), b"nope"), Err(CertificateError::Pem(_))));
        assert!(format!("{:?}", ServerCertificate::generate(&["x".into()]).unwrap().0).contains("<redacted>"));
    }
}
