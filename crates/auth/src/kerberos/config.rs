//! The parts of MIT's `krb5.conf` a client needs: the default realm, the KDCs of each realm, the mapping of
//! host names to realms and the default ccache and keytab names. `KRB5_CONFIG` (a `:`-separated list) is
//! honoured, as MIT does; the default is `/etc/krb5.conf`.

use std::collections::BTreeMap;

use crate::error::AuthError;
use crate::kerberos::error::KerberosError;

/// The decoded configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Krb5Config {
    /// `[libdefaults] default_realm`.
    pub default_realm: Option<String>,
    /// `[libdefaults] default_ccache_name`.
    pub default_ccache_name: Option<String>,
    /// `[libdefaults] default_keytab_name`.
    pub default_keytab_name: Option<String>,
    /// `[realms] REALM = { kdc = host[:port] }`, in file order.
    pub kdcs: BTreeMap<String, Vec<String>>,
    /// `[domain_realm]`: `.example.com` (suffix) or `host.example.com` (exact) to realm.
    pub domain_realm: Vec<(String, String)>,
}

impl Krb5Config {
    /// Reads the files named by `KRB5_CONFIG`, or `/etc/krb5.conf`. Missing files are skipped (as MIT does);
    /// values from earlier files win.
    pub fn from_env() -> Self {
        let list = std::env::var("KRB5_CONFIG").unwrap_or_else(|_| "/etc/krb5.conf".to_owned());
        let mut config = Self::default();
        for path in list.split(':').filter(|p| !p.is_empty()) {
            if let Ok(text) = std::fs::read_to_string(path) {
                config.merge(Self::parse(&text));
            }
        }
        config
    }

    fn merge(&mut self, other: Self) {
        self.default_realm = self.default_realm.take().or(other.default_realm);
        self.default_ccache_name = self.default_ccache_name.take().or(other.default_ccache_name);
        self.default_keytab_name = self.default_keytab_name.take().or(other.default_keytab_name);
        for (realm, kdcs) in other.kdcs {
            self.kdcs.entry(realm).or_insert(kdcs);
        }
        self.domain_realm.extend(other.domain_realm);
    }

    /// Parses the text of a `krb5.conf` (sections, `name = value`, `name = { … }` groups; `#`/`;` comments).
    pub fn parse(text: &str) -> Self {
        let mut config = Self::default();
        let mut section = String::new();
        let mut group: Option<String> = None;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.trim().to_owned();
                group = None;
                continue;
            }
            if line == "}" {
                group = None;
                continue;
            }
            let Some((key, value)) = line.split_once('=') else { continue };
            let (key, value) = (key.trim(), value.trim());
            if value == "{" {
                group = Some(key.to_owned());
                continue;
            }
            match (section.as_str(), group.as_deref(), key) {
                ("libdefaults", None, "default_realm") => config.default_realm = Some(value.to_owned()),
                ("libdefaults", None, "default_ccache_name") => config.default_ccache_name = Some(value.to_owned()),
                ("libdefaults", None, "default_keytab_name") => config.default_keytab_name = Some(value.to_owned()),
                ("realms", Some(realm), "kdc") => {
                    config.kdcs.entry(realm.to_owned()).or_default().push(value.to_owned());
                }
                ("domain_realm", None, _) => config.domain_realm.push((key.to_lowercase(), value.to_owned())),
                _ => {}
            }
        }
        config
    }

    /// The realm of `host` by `[domain_realm]` (exact names first, then the longest `.suffix`), else the
    /// default realm.
    pub fn realm_of_host(&self, host: &str) -> Option<String> {
        let host = host.to_lowercase();
        if let Some((_, realm)) = self.domain_realm.iter().find(|(k, _)| !k.starts_with('.') && *k == host) {
            return Some(realm.clone());
        }
        self.domain_realm
            .iter()
            .filter(|(k, _)| k.starts_with('.') && (host.ends_with(k.as_str()) || host == k[1..]))
            .max_by_key(|(k, _)| k.len())
            .map(|(_, r)| r.clone())
            .or_else(|| self.default_realm.clone())
    }

    /// The KDC addresses of `realm` as `host:port` (port 88 added when absent).
    pub fn kdcs_of(&self, realm: &str) -> Result<Vec<String>, AuthError> {
        let list = self
            .kdcs
            .get(realm)
            .filter(|l| !l.is_empty())
            .ok_or_else(|| AuthError::Kerberos(KerberosError::NoKdc { realm: realm.to_owned() }))?;
        Ok(list.iter().map(|k| with_default_port(k)).collect())
    }

    /// The ccache name: `KRB5CCNAME`, else `default_ccache_name`, else `FILE:/tmp/krb5cc_<uid>`; `%{uid}` is
    /// expanded.
    pub fn ccache_name(&self) -> String {
        let name = std::env::var("KRB5CCNAME")
            .ok()
            .filter(|n| !n.is_empty())
            .or_else(|| self.default_ccache_name.clone())
            .unwrap_or_else(|| "FILE:/tmp/krb5cc_%{uid}".to_owned());
        name.replace("%{uid}", &current_uid().map(|u| u.to_string()).unwrap_or_default())
    }

    /// The keytab name: `KRB5_KTNAME`, else `default_keytab_name`, else `FILE:/etc/krb5.keytab`.
    pub fn keytab_name(&self) -> String {
        std::env::var("KRB5_KTNAME")
            .ok()
            .filter(|n| !n.is_empty())
            .or_else(|| self.default_keytab_name.clone())
            .unwrap_or_else(|| "FILE:/etc/krb5.keytab".to_owned())
    }
}

fn with_default_port(kdc: &str) -> String {
    let kdc = kdc.trim();
    if kdc.starts_with('[') {
        if kdc.contains("]:") { kdc.to_owned() } else { format!("{kdc}:88") }
    } else if kdc.contains(':') {
        kdc.to_owned()
    } else {
        format!("{kdc}:88")
    }
}

/// The real user id, read from `/proc/self/status` (no libc calls in this crate).
fn current_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|v| v.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_realms_and_domains() {
        let c = Krb5Config::parse(
            "[libdefaults]\n  default_realm = WINRM.TEST\n  default_ccache_name = FILE:/tmp/cc\n# c\n[realms]\n  \
             WINRM.TEST = {\n    kdc = 127.0.0.1:18888\n    kdc = kdc2\n  }\n  OTHER.TEST = {\n  admin_server = x\n  }\n\
             [domain_realm]\n  localhost = WINRM.TEST\n  .corp.example = CORP.EXAMPLE\n",
        );
        assert_eq!(c.default_realm.as_deref(), Some("WINRM.TEST"));
        assert_eq!(c.kdcs_of("WINRM.TEST").unwrap(), vec!["127.0.0.1:18888", "kdc2:88"]);
        assert!(c.kdcs_of("OTHER.TEST").is_err());
        assert_eq!(c.realm_of_host("LOCALHOST").as_deref(), Some("WINRM.TEST"));
        assert_eq!(c.realm_of_host("a.corp.example").as_deref(), Some("CORP.EXAMPLE"));
        assert_eq!(c.realm_of_host("elsewhere").as_deref(), Some("WINRM.TEST"));
    }
}
