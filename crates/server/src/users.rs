//! The endpoint's local users: `pssession serve --users-file FILE`, one `user:password` per line.
//!
//! * Blank lines and lines starting with `#` are ignored.
//! * The user name is everything before the first `:`; the password is everything after it, verbatim (it may
//!   contain `:`). A `DOMAIN\user` name is accepted; the domain part is kept for NTLM's domain check.
//! * Names are compared case-insensitively, as Windows does; duplicates are an error.
//!
//! Passwords live in zeroizing memory and never appear in `Debug` output.

use std::fmt;
use std::path::Path;

use zeroize::Zeroizing;

/// One local user.
#[derive(Clone)]
pub struct User {
    name: String,
    domain: Option<String>,
    password: Zeroizing<String>,
}

impl User {
    /// A user with a password. `name` may be `DOMAIN\user`.
    pub fn new(name: &str, password: &str) -> Result<Self, UsersError> {
        let (domain, user) = match name.split_once('\\') {
            Some((domain, user)) => (Some(domain.to_owned()), user),
            None => (None, name),
        };
        if user.is_empty() {
            return Err(UsersError::EmptyName { line: 0 });
        }
        Ok(User { name: user.to_owned(), domain, password: Zeroizing::new(password.to_owned()) })
    }

    /// The account name without a domain.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The domain given with the name, if any.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// The password, for the acceptors that verify proofs against it.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Whether `name` (with or without a domain, any case) names this user.
    pub fn is_named(&self, name: &str) -> bool {
        let (domain, user) = match name.split_once('\\') {
            Some((domain, user)) => (Some(domain), user),
            None => (None, name),
        };
        let user = user.split_once('@').map_or(user, |(user, _realm)| user);
        user.eq_ignore_ascii_case(&self.name)
            && match (domain, &self.domain) {
                (Some(asked), Some(own)) => asked.eq_ignore_ascii_case(own),
                _ => true,
            }
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("domain", &self.domain)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The set of users the endpoint accepts.
#[derive(Debug, Clone, Default)]
pub struct Users {
    users: Vec<User>,
}

impl Users {
    /// Parses the users file format (see the module documentation).
    pub fn parse(text: &str) -> Result<Self, UsersError> {
        let mut users = Users::default();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let entry = raw.trim_end_matches('\r');
            if entry.trim().is_empty() || entry.trim_start().starts_with('#') {
                continue;
            }
            let (name, password) = entry.split_once(':').ok_or(UsersError::MissingSeparator { line })?;
            let name = name.trim();
            if name.is_empty() {
                return Err(UsersError::EmptyName { line });
            }
            let user = User::new(name, password).map_err(|_| UsersError::EmptyName { line })?;
            users.add(user).map_err(|_| UsersError::Duplicate { line, name: name.to_owned() })?;
        }
        Ok(users)
    }

    /// Reads and parses a users file.
    pub fn load(path: &Path) -> Result<Self, UsersError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| UsersError::Io { path: path.display().to_string(), reason: e.to_string() })?;
        Self::parse(&text)
    }

    /// Adds a user; a second user with the same name is an error.
    pub fn add(&mut self, user: User) -> Result<(), UsersError> {
        if self.users.iter().any(|u| u.name.eq_ignore_ascii_case(&user.name)) {
            return Err(UsersError::Duplicate { line: 0, name: user.name });
        }
        self.users.push(user);
        Ok(())
    }

    /// The user `name` refers to (`user`, `DOMAIN\user` or `user@REALM`), if any.
    pub fn find(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.is_named(name))
    }

    /// Checks a name and password (Basic authentication). The comparison does not stop at the first differing byte.
    pub fn verify_password(&self, name: &str, password: &str) -> Option<&User> {
        let user = self.find(name)?;
        constant_time_eq(user.password.as_bytes(), password.as_bytes()).then_some(user)
    }

    /// The users, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &User> {
        self.users.iter()
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there are no users (the endpoint then accepts nobody).
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut difference = a.len() ^ b.len();
    for (i, byte) in a.iter().enumerate() {
        difference |= usize::from(byte ^ b.get(i).copied().unwrap_or(!byte));
    }
    difference == 0
}

/// Why a users file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsersError {
    /// The file could not be read.
    Io {
        /// The file.
        path: String,
        /// The cause.
        reason: String,
    },
    /// A line has no `:` between user and password.
    MissingSeparator {
        /// 1-based line number.
        line: usize,
    },
    /// A line has an empty user name.
    EmptyName {
        /// 1-based line number (0 when not from a file).
        line: usize,
    },
    /// A user name appears twice.
    Duplicate {
        /// 1-based line number of the second occurrence (0 when not from a file).
        line: usize,
        /// The name.
        name: String,
    },
}

impl fmt::Display for UsersError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsersError::Io { path, reason } => write!(f, "cannot read users file {path}: {reason}"),
            UsersError::MissingSeparator { line } => {
                write!(f, "users file line {line}: expected user:password")
            }
            UsersError::EmptyName { line } => write!(f, "users file line {line}: the user name is empty"),
            UsersError::Duplicate { line, name } => write!(f, "users file line {line}: user {name:?} appears twice"),
        }
    }
}

impl std::error::Error for UsersError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_users_comments_and_passwords_with_colons() {
        let users = Users::parse("# demo users\n\nalice:pa:ss\r\nCORP\\bob:hunter2\ncarol:\n").unwrap();
        assert_eq!(users.len(), 3);
        assert_eq!(users.find("ALICE").unwrap().password(), "pa:ss");
        assert_eq!(users.find("corp\\BOB").unwrap().domain(), Some("CORP"));
        assert!(users.find("OTHER\\bob").is_none());
        assert!(users.find("bob@CORP.EXAMPLE").is_some());
        assert_eq!(users.find("carol").unwrap().password(), "");
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        assert_eq!(Users::parse("alice:x\nnoseparator\n").unwrap_err(), UsersError::MissingSeparator { line: 2 });
        assert_eq!(Users::parse(":x\n").unwrap_err(), UsersError::EmptyName { line: 1 });
        assert_eq!(
            Users::parse("alice:x\nAlice:y\n").unwrap_err(),
            UsersError::Duplicate { line: 2, name: "Alice".into() }
        );
    }

    #[test]
    fn passwords_are_verified_and_never_shown() {
        let users = Users::parse("alice:correct horse\n").unwrap();
        assert!(users.verify_password("alice", "correct horse").is_some());
        assert!(users.verify_password("alice", "correct hors").is_none());
        assert!(users.verify_password("alice", "correct horsee").is_none());
        assert!(users.verify_password("mallory", "correct horse").is_none());
        let debug = format!("{users:?}");
        assert!(!debug.contains("correct horse") && debug.contains("<redacted>"), "{debug}");
    }
}
