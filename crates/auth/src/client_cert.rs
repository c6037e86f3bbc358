//! Client-certificate authentication (WinRM "Certificate" authentication over HTTPS).
//!
//! **Client side**: [`CertificateCredential`] loads a PEM certificate chain and its private key, or finds one by
//! its SHA-1 thumbprint (as PowerShell's `-CertificateThumbprint`) in a directory. Linux has no certificate
//! store; the convention is the directory [`default_certificate_directory`]
//! (`$XDG_CONFIG_HOME/pssession/certificates/`, else `~/.config/pssession/certificates/`) holding one
//! `<name>.pem` (or `.crt`) per identity with the certificate chain (leaf first) **and** the private key, or the
//! key in a sibling `<name>.key`. Keep the directory private (mode 0700): the keys are unencrypted.
//! The TLS client presents the chain ([`CertificateCredential::chain`], [`CertificateCredential::private_key`]),
//! and every request carries `Authorization:` [`MUTUAL_AUTHORIZATION`].
//!
//! **Server side**: [`CertificateMapping`] maps a presented, already chain-verified client certificate to a local
//! user, by thumbprint or by subject (the UPN of the subject alternative name, its e-mail name, or the subject
//! common name), as WinRM's `WSMan:\localhost\ClientCertificate` mappings do.

use std::fmt;
use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha1::{Digest, Sha1};
use zeroize::{Zeroize, Zeroizing};

use crate::credentials::{ClientIdentity, eq_ignore_case};
use crate::der::{DerReader, OCTET_STRING, OID, SEQUENCE};
use crate::error::AuthError;

/// The `Authorization` header value a WinRM client sends with certificate authentication.
pub const MUTUAL_AUTHORIZATION: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual";

/// The largest certificate/key file read (1 MiB).
pub const MAX_FILE_LEN: u64 = 1024 * 1024;
/// The most files examined in a certificate directory.
pub const MAX_DIRECTORY_ENTRIES: usize = 4096;

/// Why a client certificate could not be loaded, found or mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientCertError {
    /// A file or directory could not be read.
    Io {
        /// The path.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// A file is larger than [`MAX_FILE_LEN`].
    TooLarge {
        /// The path.
        path: PathBuf,
    },
    /// PEM data was malformed.
    Pem(String),
    /// No `CERTIFICATE` block.
    NoCertificate,
    /// No private key (PKCS#8, PKCS#1 or SEC1 block) next to the certificate.
    NoPrivateKey,
    /// The private key does not belong to the certificate, or is of an unsupported type.
    KeyMismatch(String),
    /// The thumbprint is not 40 hexadecimal digits (spaces, colons and case are ignored).
    InvalidThumbprint,
    /// No certificate with this thumbprint in the directory.
    NotFound {
        /// The thumbprint searched for.
        thumbprint: Thumbprint,
        /// The directory searched.
        directory: PathBuf,
    },
    /// The thumbprint matched certificates in several files.
    Ambiguous {
        /// The thumbprint searched for.
        thumbprint: Thumbprint,
        /// The files holding it.
        files: Vec<PathBuf>,
    },
    /// No configuration or home directory to derive the default certificate directory from.
    NoDefaultDirectory,
}

impl fmt::Display for ClientCertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, message } => write!(f, "cannot read {}: {message}", path.display()),
            Self::TooLarge { path } => write!(f, "{} is larger than {MAX_FILE_LEN} bytes", path.display()),
            Self::Pem(e) => write!(f, "invalid PEM: {e}"),
            Self::NoCertificate => f.write_str("no CERTIFICATE block found"),
            Self::NoPrivateKey => f.write_str("no private key found for the certificate"),
            Self::KeyMismatch(e) => write!(f, "the private key does not fit the certificate: {e}"),
            Self::InvalidThumbprint => {
                f.write_str("a certificate thumbprint is 40 hexadecimal digits (SHA-1 of the certificate)")
            }
            Self::NotFound { thumbprint, directory } => {
                write!(f, "no certificate with thumbprint {thumbprint} in {}", directory.display())
            }
            Self::Ambiguous { thumbprint, files } => {
                write!(f, "thumbprint {thumbprint} is in several files:")?;
                for file in files {
                    write!(f, " {}", file.display())?;
                }
                Ok(())
            }
            Self::NoDefaultDirectory => f.write_str("neither XDG_CONFIG_HOME nor HOME is set"),
        }
    }
}

impl std::error::Error for ClientCertError {}

/// A certificate's SHA-1 thumbprint (what Windows shows and `-CertificateThumbprint` takes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Thumbprint([u8; 20]);

impl Thumbprint {
    /// The thumbprint of a DER certificate.
    pub fn of(certificate_der: &[u8]) -> Self {
        Self(Sha1::digest(certificate_der).into())
    }

    /// Parses 40 hex digits; spaces, colons, a leading invisible U+200E (copied from the Windows dialog) and
    /// case are tolerated.
    pub fn parse(text: &str) -> Result<Self, ClientCertError> {
        let digits: Vec<u8> = text
            .chars()
            .filter(|c| !matches!(c, ' ' | ':' | '\t' | '\u{200e}'))
            .map(|c| c.to_digit(16).map(|d| d as u8).ok_or(ClientCertError::InvalidThumbprint))
            .collect::<Result<_, _>>()?;
        if digits.len() != 40 {
            return Err(ClientCertError::InvalidThumbprint);
        }
        let mut out = [0u8; 20];
        for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = (pair[0] << 4) | pair[1];
        }
        Ok(Self(out))
    }

    /// The raw 20 bytes.
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }
}

impl fmt::Display for Thumbprint {
    /// Upper-case hex without separators, as Windows prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02X}"))
    }
}

impl fmt::Debug for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Thumbprint({self})")
    }
}

/// A client certificate chain with its private key. The key is zeroized on drop and never printed.
pub struct CertificateCredential {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Drop for CertificateCredential {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

impl Clone for CertificateCredential {
    fn clone(&self) -> Self {
        Self { chain: self.chain.clone(), key: self.key.clone_key() }
    }
}

impl fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("thumbprint", &self.thumbprint())
            .field("chain_len", &self.chain.len())
            .field("key", &"<redacted>")
            .finish()
    }
}

fn read_limited(path: &Path) -> Result<Zeroizing<Vec<u8>>, ClientCertError> {
    let io = |e: std::io::Error| ClientCertError::Io { path: path.to_owned(), message: e.to_string() };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() > MAX_FILE_LEN {
        return Err(ClientCertError::TooLarge { path: path.to_owned() });
    }
    std::fs::read(path).map(Zeroizing::new).map_err(io)
}

fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, ClientCertError> {
    CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>().map_err(|e| ClientCertError::Pem(e.to_string()))
}

fn private_key(pem: &[u8]) -> Result<Option<PrivateKeyDer<'static>>, ClientCertError> {
    match PrivateKeyDer::from_pem_slice(pem) {
        Ok(key) => Ok(Some(key)),
        Err(rustls::pki_types::pem::Error::NoItemsFound) => Ok(None),
        Err(e) => Err(ClientCertError::Pem(e.to_string())),
    }
}

impl CertificateCredential {
    /// A chain (PEM `CERTIFICATE` blocks, leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1). The key must
    /// belong to the leaf certificate.
    pub fn from_pem(certificate_pem: &[u8], key_pem: &[u8]) -> Result<Self, ClientCertError> {
        let chain = certificates(certificate_pem)?;
        if chain.is_empty() {
            return Err(ClientCertError::NoCertificate);
        }
        let key = private_key(key_pem)?.ok_or(ClientCertError::NoPrivateKey)?;
        Self::from_der(chain, key)
    }

    /// A DER chain (leaf first) and key; checks that the key belongs to the leaf.
    pub fn from_der(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Result<Self, ClientCertError> {
        if chain.is_empty() {
            return Err(ClientCertError::NoCertificate);
        }
        let provider = rustls::crypto::ring::default_provider();
        rustls::sign::CertifiedKey::from_der(chain.clone(), key.clone_key(), &provider)
            .map_err(|e| ClientCertError::KeyMismatch(e.to_string()))?;
        Ok(Self { chain, key })
    }

    /// A PEM file holding the chain and the key; when it holds no key, the sibling file with the extension
    /// `.key` is read.
    pub fn from_pem_file(path: &Path) -> Result<Self, ClientCertError> {
        let pem = read_limited(path)?;
        let chain = certificates(&pem)?;
        if chain.is_empty() {
            return Err(ClientCertError::NoCertificate);
        }
        let key = match private_key(&pem)? {
            Some(key) => key,
            None => {
                let key_path = path.with_extension("key");
                if !key_path.exists() {
                    return Err(ClientCertError::NoPrivateKey);
                }
                private_key(&read_limited(&key_path)?)?.ok_or(ClientCertError::NoPrivateKey)?
            }
        };
        Self::from_der(chain, key)
    }

    /// Finds the certificate whose leaf has `thumbprint` among the `*.pem` / `*.crt` files of `directory`.
    /// Unreadable or malformed files are skipped; the same certificate in two files is
    /// [`ClientCertError::Ambiguous`].
    pub fn find_by_thumbprint(directory: &Path, thumbprint: &str) -> Result<Self, ClientCertError> {
        let wanted = Thumbprint::parse(thumbprint)?;
        let io = |e: std::io::Error| ClientCertError::Io { path: directory.to_owned(), message: e.to_string() };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(directory).map_err(io)?.take(MAX_DIRECTORY_ENTRIES) {
            let path = entry.map_err(io)?.path();
            let is_cert = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("pem") || e.eq_ignore_ascii_case("crt"));
            if !is_cert || !path.is_file() {
                continue;
            }
            let Ok(pem) = read_limited(&path) else { continue };
            let Ok(chain) = certificates(&pem) else { continue };
            if chain.first().is_some_and(|leaf| Thumbprint::of(leaf) == wanted) {
                files.push(path);
            }
        }
        files.sort();
        match files.as_slice() {
            [] => Err(ClientCertError::NotFound { thumbprint: wanted, directory: directory.to_owned() }),
            [one] => Self::from_pem_file(one),
            _ => Err(ClientCertError::Ambiguous { thumbprint: wanted, files }),
        }
    }

    /// The leaf certificate's thumbprint.
    pub fn thumbprint(&self) -> Thumbprint {
        self.chain.first().map_or(Thumbprint([0; 20]), |leaf| Thumbprint::of(leaf))
    }

    /// The chain, leaf first, for the TLS client configuration.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// A copy of the private key, for the TLS client configuration
    /// (`ClientConfig::with_client_auth_cert(chain, key)`).
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        self.key.clone_key()
    }

    /// The chain as PEM text (leaf first).
    pub fn certificate_pem(&self) -> String {
        self.chain.iter().map(|c| pem_block("CERTIFICATE", c.as_ref())).collect()
    }

    /// The private key as PEM text, in a zeroizing buffer. With the chain this is what
    /// `pssession_wsman::transport::tls::ClientCertificate::from_pem(cert_pem, key_pem)` takes.
    pub fn private_key_pem(&self) -> Zeroizing<String> {
        let (label, der) = match &self.key {
            PrivateKeyDer::Pkcs1(k) => ("RSA PRIVATE KEY", k.secret_pkcs1_der()),
            PrivateKeyDer::Sec1(k) => ("EC PRIVATE KEY", k.secret_sec1_der()),
            PrivateKeyDer::Pkcs8(k) => ("PRIVATE KEY", k.secret_pkcs8_der()),
            _ => ("PRIVATE KEY", &[][..]),
        };
        Zeroizing::new(pem_block(label, der))
    }

    /// The `Authorization` header value to send with every request: [`MUTUAL_AUTHORIZATION`].
    pub fn authorization(&self) -> &'static str {
        MUTUAL_AUTHORIZATION
    }
}

fn pem_block(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der));
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The conventional certificate directory: `$XDG_CONFIG_HOME/pssession/certificates`, else
/// `$HOME/.config/pssession/certificates`.
pub fn default_certificate_directory() -> Result<PathBuf, ClientCertError> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(
            std::env::var_os("HOME").filter(|v| !v.is_empty()).ok_or(ClientCertError::NoDefaultDirectory)?,
        )
        .join(".config"),
    };
    Ok(base.join("pssession").join("certificates"))
}

// ---------------------------------------------------------------------------------------------------------------
// Server side: mapping a client certificate to a user.

const CERT: &str = "client certificate";
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
const OID_UPN: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x14, 0x02, 0x03];

/// The names a certificate is known by, for subject mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateNames {
    /// User principal names from the subject alternative name (`otherName` 1.3.6.1.4.1.311.20.2.3).
    pub upns: Vec<String>,
    /// E-mail names (`rfc822Name`) from the subject alternative name.
    pub emails: Vec<String>,
    /// Common names of the subject.
    pub common_names: Vec<String>,
}

impl CertificateNames {
    /// Extracts the names of a DER certificate.
    pub fn of(certificate_der: &[u8]) -> Result<Self, AuthError> {
        let mut names = Self::default();
        let mut outer = DerReader::new(certificate_der, CERT);
        let mut cert = DerReader::new(outer.expect(SEQUENCE)?, CERT);
        let mut tbs = DerReader::new(cert.expect(SEQUENCE)?, CERT);
        if tbs.peek_tag() == Some(0xa0) {
            tbs.read()?;
        }
        tbs.read()?; // serialNumber
        tbs.expect(SEQUENCE)?; // signature
        tbs.expect(SEQUENCE)?; // issuer
        tbs.expect(SEQUENCE)?; // validity
        let mut subject = DerReader::new(tbs.expect(SEQUENCE)?, CERT);
        while !subject.is_empty() {
            let mut rdn = DerReader::new(subject.expect(0x31)?, CERT);
            while !rdn.is_empty() {
                let mut atv = DerReader::new(rdn.expect(SEQUENCE)?, CERT);
                let oid = atv.expect(OID)?;
                let (tag, value) = atv.read()?;
                if oid == OID_COMMON_NAME {
                    names.common_names.push(directory_string(tag, value));
                }
            }
        }
        tbs.expect(SEQUENCE)?; // subjectPublicKeyInfo
        while let Some(tag) = tbs.peek_tag() {
            let (_, content) = tbs.read()?;
            if tag != 0xa3 {
                continue; // issuerUniqueID / subjectUniqueID
            }
            let mut exts = DerReader::new(DerReader::new(content, CERT).expect(SEQUENCE)?, CERT);
            while !exts.is_empty() {
                let mut ext = DerReader::new(exts.expect(SEQUENCE)?, CERT);
                let oid = ext.expect(OID)?;
                if ext.peek_tag() == Some(0x01) {
                    ext.read()?; // critical
                }
                let value = ext.expect(OCTET_STRING)?;
                if oid == OID_SUBJECT_ALT_NAME {
                    names.read_general_names(value)?;
                }
            }
        }
        Ok(names)
    }

    fn read_general_names(&mut self, value: &[u8]) -> Result<(), AuthError> {
        let mut list = DerReader::new(DerReader::new(value, CERT).expect(SEQUENCE)?, CERT);
        while !list.is_empty() {
            let (tag, content) = list.read()?;
            match tag {
                0xa0 => {
                    let mut other = DerReader::new(content, CERT);
                    let type_id = other.expect(OID)?;
                    let mut explicit = DerReader::new(other.expect(0xa0)?, CERT);
                    let (_, text) = explicit.read()?;
                    if type_id == OID_UPN {
                        self.upns.push(String::from_utf8_lossy(text).into_owned());
                    }
                }
                0x81 => self.emails.push(String::from_utf8_lossy(content).into_owned()),
                _ => {}
            }
        }
        Ok(())
    }

    fn all(&self) -> impl Iterator<Item = &String> {
        self.upns.iter().chain(&self.emails).chain(&self.common_names)
    }
}

/// A DirectoryString as text: BMPString (UTF-16BE) decoded, the ASCII/UTF-8 types as UTF-8 (lossily).
fn directory_string(tag: u8, value: &[u8]) -> String {
    if tag == 0x1e {
        let units: Vec<u16> = value.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(value).into_owned()
    }
}

/// Why a client certificate maps to no user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertMappingError {
    /// The certificate could not be parsed.
    Malformed(AuthError),
    /// No rule matches.
    NoMapping {
        /// The certificate's thumbprint.
        thumbprint: Thumbprint,
        /// The names it carries.
        names: CertificateNames,
    },
    /// Subject rules for different users match the certificate's names.
    Ambiguous {
        /// The certificate's thumbprint.
        thumbprint: Thumbprint,
    },
}

impl fmt::Display for CertMappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(e) => write!(f, "client certificate unreadable: {e}"),
            Self::NoMapping { thumbprint, names } => {
                write!(f, "no user is mapped to the client certificate {thumbprint} (names:")?;
                for n in names.all() {
                    write!(f, " {n}")?;
                }
                f.write_str(")")
            }
            Self::Ambiguous { thumbprint } => {
                write!(f, "the client certificate {thumbprint} matches mappings of several users")
            }
        }
    }
}

impl std::error::Error for CertMappingError {}

/// How a certificate was matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchedBy {
    /// By its thumbprint.
    Thumbprint,
    /// By one of its names (UPN, e-mail or common name), given here.
    Subject(String),
}

/// The result of a successful mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateMatch {
    /// The local user.
    pub identity: ClientIdentity,
    /// The rule that matched.
    pub matched_by: MatchedBy,
}

#[derive(Debug, Clone)]
enum Rule {
    Thumbprint(Thumbprint, ClientIdentity),
    Subject(String, ClientIdentity),
}

/// Maps verified client certificates to local users. Thumbprint rules win over subject rules; subject names
/// compare case-insensitively.
///
/// The mapping does not verify the certificate: the TLS server must already have checked the chain against the
/// client CA(s) it trusts (rustls `WebPkiClientVerifier`), which is what limits who can present a given subject.
#[derive(Debug, Clone, Default)]
pub struct CertificateMapping {
    rules: Vec<Rule>,
}

impl CertificateMapping {
    /// No rules: every certificate is refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps the certificate with this thumbprint to `identity`.
    pub fn map_thumbprint(&mut self, thumbprint: Thumbprint, identity: ClientIdentity) -> &mut Self {
        self.rules.push(Rule::Thumbprint(thumbprint, identity));
        self
    }

    /// Maps certificates naming `subject` (UPN such as `alice@example.test`, e-mail, or common name) to
    /// `identity`.
    pub fn map_subject(&mut self, subject: &str, identity: ClientIdentity) -> &mut Self {
        self.rules.push(Rule::Subject(subject.to_owned(), identity));
        self
    }

    /// The user for a presented leaf certificate (DER).
    pub fn map(&self, leaf_der: &[u8]) -> Result<CertificateMatch, CertMappingError> {
        let thumbprint = Thumbprint::of(leaf_der);
        let names = CertificateNames::of(leaf_der).map_err(CertMappingError::Malformed)?;
        for rule in &self.rules {
            if let Rule::Thumbprint(t, identity) = rule
                && *t == thumbprint
            {
                return Ok(CertificateMatch { identity: identity.clone(), matched_by: MatchedBy::Thumbprint });
            }
        }
        let mut found: Option<CertificateMatch> = None;
        for rule in &self.rules {
            let Rule::Subject(subject, identity) = rule else { continue };
            let Some(name) = names.all().find(|n| eq_ignore_case(n, subject)) else { continue };
            match &found {
                Some(m) if m.identity != *identity => return Err(CertMappingError::Ambiguous { thumbprint }),
                Some(_) => {}
                None => {
                    found = Some(CertificateMatch {
                        identity: identity.clone(),
                        matched_by: MatchedBy::Subject(name.clone()),
                    })
                }
            }
        }
        found.ok_or(CertMappingError::NoMapping { thumbprint, names })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprints_parse_leniently() {
        let t = Thumbprint::parse("0a1B2c3D4e5F60718293a4b5c6d7e8f901234567").unwrap();
        assert_eq!(t.to_string(), "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567");
        assert_eq!(Thumbprint::parse("0a 1b 2c 3d 4e 5f 60 71 82 93 a4 b5 c6 d7 e8 f9 01 23 45 67").unwrap(), t);
        assert_eq!(
            Thumbprint::parse("\u{200e}0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:01:23:45:67").unwrap(),
            t
        );
        for bad in
            ["", "0a1b", "zz1B2c3D4e5F60718293a4b5c6d7e8f901234567", "0a1B2c3D4e5F60718293a4b5c6d7e8f90123456789"]
        {
            assert_eq!(Thumbprint::parse(bad), Err(ClientCertError::InvalidThumbprint), "{bad}");
        }
    }

    #[test]
    fn directory_strings() {
        assert_eq!(directory_string(0x1e, &[0x00, 0x61, 0x00, 0xe4]), "a\u{e4}");
        assert_eq!(directory_string(0x0c, "\u{e4}b".as_bytes()), "\u{e4}b");
        assert_eq!(directory_string(0x13, b"Alice"), "Alice");
    }

    #[test]
    fn garbage_certificates_are_errors() {
        assert!(CertificateNames::of(b"nope").is_err());
        let m = CertificateMapping::new();
        assert!(matches!(m.map(&[0x30, 0x00]), Err(CertMappingError::Malformed(_))));
    }
}
