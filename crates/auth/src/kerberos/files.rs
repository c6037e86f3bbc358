//! MIT file formats: the keytab (version 0x0502) and the `FILE:` credential cache (versions 0x0503/0x0504),
//! as documented in MIT krb5's "Kerberos file formats". Parsers are bounded by the input.

use crate::error::AuthError;
use crate::kerberos::error::KerberosError;

use super::asn1::{PrincipalName, Ticket};
use super::crypto::{EncryptionKey, key_len};

/// The longest counted string or key accepted from a file.
pub const MAX_FIELD_LEN: usize = crate::MAX_TOKEN_LEN;
/// The most principal components accepted.
pub const MAX_COMPONENTS: usize = 16;

fn err(what: &str) -> AuthError {
    AuthError::kerberos(format!("malformed {what}"))
}

/// A big-endian cursor over a file.
struct Cursor<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], AuthError> {
        let (a, b) = self.rest.split_at_checked(n).ok_or_else(|| err(self.what))?;
        self.rest = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, AuthError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, AuthError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, AuthError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn counted16(&mut self) -> Result<&'a [u8], AuthError> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }
    fn counted32(&mut self) -> Result<&'a [u8], AuthError> {
        let n = self.u32()? as usize;
        if n > MAX_FIELD_LEN {
            return Err(err(self.what));
        }
        self.take(n)
    }
    fn text(bytes: &[u8], what: &str) -> Result<String, AuthError> {
        String::from_utf8(bytes.to_vec()).map_err(|_| err(what))
    }
}

/// One keytab entry.
#[derive(Debug, Clone)]
pub struct KeytabEntry {
    /// The realm.
    pub realm: String,
    /// The principal.
    pub principal: PrincipalName,
    /// The key version number.
    pub kvno: u32,
    /// The key.
    pub key: EncryptionKey,
}

/// The AES entries of an MIT keytab (other encryption types are skipped).
#[derive(Debug, Clone, Default)]
pub struct Keytab {
    entries: Vec<KeytabEntry>,
}

impl Keytab {
    /// Parses a keytab file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, AuthError> {
        const WHAT: &str = "keytab";
        let mut c = Cursor { rest: bytes, what: WHAT };
        if c.u16()? != 0x0502 {
            return Err(AuthError::kerberos("unsupported keytab version (only 0x0502)"));
        }
        let mut entries = Vec::new();
        while !c.rest.is_empty() {
            let size = c.u32()? as i32;
            if size < 0 {
                // A hole left by a deleted entry.
                c.take(size.unsigned_abs() as usize)?;
                continue;
            }
            let record = c.take(size as usize)?;
            let mut e = Cursor { rest: record, what: WHAT };
            let count = usize::from(e.u16()?);
            if count == 0 || count > MAX_COMPONENTS {
                return Err(err(WHAT));
            }
            let realm = Cursor::text(e.counted16()?, WHAT)?;
            let mut components = Vec::with_capacity(count);
            for _ in 0..count {
                components.push(Cursor::text(e.counted16()?, WHAT)?);
            }
            let name_type = e.u32()? as i32;
            let _timestamp = e.u32()?;
            let kvno8 = e.u8()?;
            let enctype = i32::from(e.u16()?);
            let key = e.counted16()?;
            let kvno = if e.rest.len() >= 4 {
                match e.u32()? {
                    0 => u32::from(kvno8),
                    k => k,
                }
            } else {
                u32::from(kvno8)
            };
            if key_len(enctype).is_some() {
                entries.push(KeytabEntry {
                    realm,
                    principal: PrincipalName { name_type, components },
                    kvno,
                    key: EncryptionKey::new(enctype, key)?,
                });
            }
        }
        Ok(Self { entries })
    }

    /// Reads and parses a keytab file (`FILE:` prefix allowed).
    pub fn read(path: &str) -> Result<Self, AuthError> {
        let path = path.strip_prefix("FILE:").unwrap_or(path);
        let bytes = std::fs::read(path).map_err(|e| AuthError::kerberos(format!("cannot read keytab {path}: {e}")))?;
        Self::parse(&bytes)
    }

    /// The AES entries.
    pub fn entries(&self) -> &[KeytabEntry] {
        &self.entries
    }

    /// The key for `principal` (any realm when `realm` is `None`), with the given enctype and, when given, kvno;
    /// without a kvno, the highest version.
    pub fn find(
        &self,
        principal: &PrincipalName,
        realm: Option<&str>,
        enctype: i32,
        kvno: Option<u32>,
    ) -> Option<&KeytabEntry> {
        self.entries
            .iter()
            .filter(|e| {
                e.principal.same_as(principal)
                    && realm.is_none_or(|r| r == e.realm)
                    && e.key.enctype() == enctype
                    && kvno.is_none_or(|k| k == e.kvno)
            })
            .max_by_key(|e| e.kvno)
    }
}

/// One credential from a ccache.
#[derive(Debug, Clone)]
pub struct CachedCredential {
    /// The client realm.
    pub client_realm: String,
    /// The client principal.
    pub client: PrincipalName,
    /// The service realm.
    pub server_realm: String,
    /// The service principal.
    pub server: PrincipalName,
    /// The ticket's session key.
    pub key: EncryptionKey,
    /// Expiry (Unix seconds).
    pub endtime: i64,
    /// The ticket.
    pub ticket: Ticket,
}

/// The usable (AES, non-configuration) credentials of a `FILE:` ccache and its default principal.
#[derive(Debug, Clone)]
pub struct CredentialCache {
    /// The default principal's realm.
    pub realm: String,
    /// The default principal.
    pub principal: PrincipalName,
    /// The credentials, in file order.
    pub credentials: Vec<CachedCredential>,
}

impl CredentialCache {
    /// Parses a ccache file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, AuthError> {
        const WHAT: &str = "credential cache";
        let mut c = Cursor { rest: bytes, what: WHAT };
        let version = c.u16()?;
        match version {
            0x0504 => {
                let len = usize::from(c.u16()?);
                c.take(len)?;
            }
            0x0503 => {}
            _ => return Err(AuthError::kerberos("unsupported credential cache version (only 0x0503/0x0504)")),
        }
        let (realm, principal) = read_principal(&mut c)?;
        let mut credentials = Vec::new();
        while !c.rest.is_empty() {
            let (client_realm, client) = read_principal(&mut c)?;
            let (server_realm, server) = read_principal(&mut c)?;
            let enctype = i32::from(c.u16()?);
            if version == 0x0503 {
                c.u16()?;
            }
            let key = c.counted32()?;
            let _authtime = c.u32()?;
            let _starttime = c.u32()?;
            let endtime = i64::from(c.u32()?);
            let _renew_till = c.u32()?;
            let _is_skey = c.u8()?;
            let _flags = c.u32()?;
            for _ in 0..c.u32()? {
                c.u16()?;
                c.counted32()?;
            }
            for _ in 0..c.u32()? {
                c.u16()?;
                c.counted32()?;
            }
            let ticket = c.counted32()?;
            let _second_ticket = c.counted32()?;
            if server_realm == "X-CACHECONF:" || key_len(enctype).is_none() || ticket.is_empty() {
                continue;
            }
            credentials.push(CachedCredential {
                client_realm,
                client,
                server_realm,
                server,
                key: EncryptionKey::new(enctype, key)?,
                endtime,
                ticket: Ticket::decode(ticket)?,
            });
        }
        Ok(Self { realm, principal, credentials })
    }

    /// Reads the cache at `name`: `FILE:/path` or a path, or a `DIR:` collection (`DIR:/dir` reads the cache its
    /// `primary` file names, `DIR::/dir/tkt…` that one cache). Other types are [`KerberosError::UnsupportedCache`];
    /// a cache that does not exist is [`KerberosError::NoTicket`].
    pub fn read(name: &str) -> Result<Self, AuthError> {
        let path = match name.split_once(':') {
            Some(("FILE", path)) => path.to_owned(),
            Some(("DIR", rest)) => dir_cache_path(name, rest)?,
            Some((kind, _)) if !kind.contains('/') => {
                return Err(AuthError::Kerberos(KerberosError::UnsupportedCache { kind: kind.to_owned() }));
            }
            _ => name.to_owned(),
        };
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => AuthError::Kerberos(KerberosError::NoTicket { cache: name.to_owned() }),
            _ => AuthError::kerberos(format!("cannot read credential cache {path}: {e}")),
        })?;
        Self::parse(&bytes)
    }

    /// Whether the cache holds a ticket-granting ticket of its realm at all, valid or expired.
    pub fn has_tgt(&self) -> bool {
        self.tgt(i64::MIN).is_some()
    }

    /// The default principal as `user@REALM`.
    pub fn principal_text(&self) -> String {
        format!("{}@{}", self.principal, self.realm)
    }

    /// The ticket-granting ticket of the default principal's realm, if present and valid at `now`.
    pub fn tgt(&self, now: i64) -> Option<&CachedCredential> {
        self.credentials.iter().find(|c| {
            c.server.components.len() == 2
                && c.server.components[0] == "krbtgt"
                && c.server.components[1] == self.realm
                && c.server_realm == self.realm
                && c.endtime > now
        })
    }

    /// A valid cached service ticket for `service`@`realm`.
    pub fn service_ticket(&self, service: &PrincipalName, realm: &str, now: i64) -> Option<&CachedCredential> {
        self.credentials.iter().find(|c| c.server.same_as(service) && c.server_realm == realm && c.endtime > now)
    }
}

/// The file of a `DIR:` cache name: `DIR::/dir/tktXYZ` names one cache of the collection; `DIR:/dir` the one its
/// `primary` file names (MIT krb5's DIR type: `primary` holds the file name of the collection's current cache).
fn dir_cache_path(name: &str, rest: &str) -> Result<String, AuthError> {
    if let Some(single) = rest.strip_prefix(':') {
        return Ok(single.to_owned());
    }
    let dir = std::path::Path::new(rest);
    let primary = match std::fs::read_to_string(dir.join("primary")) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(AuthError::Kerberos(KerberosError::NoTicket { cache: name.to_owned() }));
        }
        Err(e) => return Err(AuthError::kerberos(format!("cannot read {}/primary: {e}", dir.display()))),
    };
    let file = primary.trim();
    // The primary names a file inside the directory, never a path elsewhere.
    if file.is_empty() || file.contains('/') || file == "." || file == ".." {
        return Err(AuthError::kerberos(format!("{}/primary does not name a cache file", dir.display())));
    }
    Ok(dir.join(file).display().to_string())
}

fn read_principal(c: &mut Cursor<'_>) -> Result<(String, PrincipalName), AuthError> {
    let what = c.what;
    let name_type = c.u32()? as i32;
    let count = c.u32()? as usize;
    if count > MAX_COMPONENTS {
        return Err(err(what));
    }
    let realm = Cursor::text(c.counted32()?, what)?;
    let mut components = Vec::with_capacity(count);
    for _ in 0..count {
        components.push(Cursor::text(c.counted32()?, what)?);
    }
    Ok((realm, PrincipalName { name_type, components }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dir_primary_names_a_file_inside_its_directory() {
        let dir = std::env::temp_dir().join(format!("pssession-dir-ccache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rest = dir.display().to_string();
        std::fs::write(dir.join("primary"), "tkt\n").unwrap();
        assert_eq!(dir_cache_path("DIR:x", &rest).unwrap(), dir.join("tkt").display().to_string());
        for bad in ["../../etc/passwd", "..", "", "/tmp/x"] {
            std::fs::write(dir.join("primary"), bad).unwrap();
            assert!(dir_cache_path("DIR:x", &rest).is_err(), "{bad:?}");
        }
        std::fs::remove_file(dir.join("primary")).unwrap();
        assert_eq!(
            dir_cache_path("DIR:x", &rest),
            Err(AuthError::Kerberos(KerberosError::NoTicket { cache: "DIR:x".to_owned() }))
        );
        assert_eq!(dir_cache_path("DIR::/a/tktB", ":/a/tktB").unwrap(), "/a/tktB");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn entry(components: &[&str], enctype: u16, key: &[u8], kvno: u8) -> Vec<u8> {
        let mut e = Vec::new();
        e.extend_from_slice(&(components.len() as u16).to_be_bytes());
        e.extend_from_slice(&10u16.to_be_bytes());
        e.extend_from_slice(b"WINRM.TEST");
        for c in components {
            e.extend_from_slice(&(c.len() as u16).to_be_bytes());
            e.extend_from_slice(c.as_bytes());
        }
        e.extend_from_slice(&1u32.to_be_bytes());
        e.extend_from_slice(&0u32.to_be_bytes());
        e.push(kvno);
        e.extend_from_slice(&enctype.to_be_bytes());
        e.extend_from_slice(&(key.len() as u16).to_be_bytes());
        e.extend_from_slice(key);
        let mut out = (e.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&e);
        out
    }

    #[test]
    fn keytab_entries_holes_and_lookup() {
        let mut kt = vec![0x05, 0x02];
        kt.extend(entry(&["HTTP", "localhost"], 18, &[1; 32], 2));
        kt.extend_from_slice(&(-4i32).to_be_bytes());
        kt.extend_from_slice(&[0; 4]);
        kt.extend(entry(&["HTTP", "localhost"], 23, &[2; 16], 2)); // RC4: skipped
        kt.extend(entry(&["HTTP", "localhost"], 17, &[3; 16], 3));
        let kt = Keytab::parse(&kt).unwrap();
        assert_eq!(kt.entries().len(), 2);
        let name = PrincipalName::new(1, "HTTP/localhost");
        assert_eq!(kt.find(&name, Some("WINRM.TEST"), 18, None).unwrap().kvno, 2);
        assert!(kt.find(&name, None, 17, Some(2)).is_none());
        assert!(kt.find(&PrincipalName::new(1, "host/localhost"), None, 18, None).is_none());
    }

    #[test]
    fn truncated_files_are_errors() {
        let mut kt = vec![0x05, 0x02];
        kt.extend(entry(&["HTTP", "localhost"], 18, &[1; 32], 2));
        for n in 3..kt.len() {
            assert!(Keytab::parse(&kt[..n]).is_err(), "{n}");
        }
        assert!(Keytab::parse(&[0x05, 0x01]).is_err());
        assert!(CredentialCache::parse(&[0x05, 0x04, 0x00]).is_err());
        assert!(CredentialCache::parse(&[0x05, 0x02]).is_err());
    }
}
