//! User credentials (client side) and the user table of an acceptor (server side).
//!
//! Secrets live in [`Zeroizing`] buffers and never appear in `Debug` output.

use std::fmt;

use zeroize::Zeroizing;

use crate::ntlm::crypto::nt_hash;

/// A user name, optional domain and password, as a client presents them.
///
/// `Debug` prints the user and domain but never the password.
#[derive(Clone)]
pub struct Credentials {
    user: String,
    domain: String,
    password: Zeroizing<String>,
}

impl Credentials {
    /// Credentials from a user specification and a password.
    ///
    /// `user` may be `DOMAIN\user`, `user@domain.example` (a UPN, kept whole as the NTLM user name with an empty
    /// domain, as Windows does) or a bare `user`.
    pub fn new(user: &str, password: impl Into<String>) -> Self {
        let (domain, user) = match user.split_once('\\') {
            Some((domain, user)) => (domain.to_owned(), user.to_owned()),
            None => (String::new(), user.to_owned()),
        };
        Self { user, domain, password: Zeroizing::new(password.into()) }
    }

    /// Credentials with an explicit domain (may be empty).
    pub fn with_domain(domain: &str, user: &str, password: impl Into<String>) -> Self {
        Self { user: user.to_owned(), domain: domain.to_owned(), password: Zeroizing::new(password.into()) }
    }

    /// The user name (without domain).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The domain, empty when none was given.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub(crate) fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("domain", &self.domain)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// One account known to an acceptor. Only the NT hash (MD4 of the UTF-16LE password) is kept.
#[derive(Clone)]
struct Account {
    domain: Option<String>,
    user: String,
    nt_hash: Zeroizing<[u8; 16]>,
}

/// The accounts an acceptor (the test server) authenticates against.
///
/// User names compare case-insensitively (as Windows does). An account added with a domain only matches that
/// domain (case-insensitively); one added without a domain matches any domain the client names.
/// `Debug` lists user names only, never hashes.
#[derive(Clone, Default)]
pub struct UserDatabase {
    accounts: Vec<Account>,
}

impl UserDatabase {
    /// An empty table (every logon is denied).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an account. `domain = None` accepts any domain.
    pub fn add(&mut self, domain: Option<&str>, user: &str, password: &str) -> &mut Self {
        self.accounts.push(Account {
            domain: domain.map(str::to_owned),
            user: user.to_owned(),
            nt_hash: Zeroizing::new(nt_hash(password)),
        });
        self
    }

    /// The NT hash of the account matching `domain`/`user`, if any.
    pub(crate) fn lookup(&self, domain: &str, user: &str) -> Option<&[u8; 16]> {
        self.accounts
            .iter()
            .find(|a| eq_ignore_case(&a.user, user) && a.domain.as_deref().is_none_or(|d| eq_ignore_case(d, domain)))
            .map(|a| &*a.nt_hash)
    }

    /// Whether the Kerberos principal `user@realm` names a listed account: `user` has a single component
    /// (no `/`, no `@`) and an account of that name has no domain, the realm itself, or the realm's first label
    /// (`WINRM` for `WINRM.TEST`) as its domain. Whether the realm is trusted is the caller's decision.
    pub fn authorizes_principal(&self, realm: &str, user: &str) -> bool {
        if user.is_empty() || user.contains(['/', '@']) || realm.is_empty() {
            return false;
        }
        let netbios = realm.split('.').next().unwrap_or(realm);
        self.accounts.iter().any(|a| {
            eq_ignore_case(&a.user, user)
                && a.domain.as_deref().is_none_or(|d| eq_ignore_case(d, realm) || eq_ignore_case(d, netbios))
        })
    }

    /// Whether `password` is the password of `domain`/`user` (constant-time comparison of the hashes).
    pub(crate) fn verify_password(&self, domain: &str, user: &str, password: &str) -> bool {
        let candidate = Zeroizing::new(nt_hash(password));
        self.lookup(domain, user).is_some_and(|stored| constant_time_eq(stored, &*candidate))
    }
}

impl fmt::Debug for UserDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.accounts.iter().map(|a| (&a.domain, &a.user))).finish()
    }
}

/// The authenticated client, as the acceptor reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The domain the client named (may be empty).
    pub domain: String,
    /// The user name the client named.
    pub user: String,
}

pub(crate) fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.chars().flat_map(char::to_uppercase).eq(b.chars().flat_map(char::to_uppercase))
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
