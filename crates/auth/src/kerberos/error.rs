//! Why Kerberos failed, in terms a user can act on: each variant says what to do next (run `kinit`, name the
//! service principal, check the clock), and [`KerberosError::Other`] carries the rest (invalid messages, files).

use std::fmt;

/// A Kerberos failure.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KerberosError {
    /// The credential cache is missing or holds no ticket-granting ticket: the user has not run `kinit`.
    NoTicket {
        /// The cache that was read (`FILE:/tmp/krb5cc_1000`).
        cache: String,
    },
    /// The cache's ticket-granting ticket has expired.
    TicketExpired {
        /// The cache.
        cache: String,
        /// Its principal (`alice@CORP.EXAMPLE`).
        principal: String,
    },
    /// The KDC does not know the service principal (`KDC_ERR_S_PRINCIPAL_UNKNOWN`).
    UnknownService {
        /// The principal asked for (`HTTP/server01.corp.example`).
        service: String,
        /// Its realm.
        realm: String,
    },
    /// The KDC does not know the user (`KDC_ERR_C_PRINCIPAL_UNKNOWN`).
    UnknownUser {
        /// The principal.
        principal: String,
    },
    /// The password is wrong (`KDC_ERR_PREAUTH_FAILED`, or an AS-REP that does not decrypt with it).
    WrongPassword {
        /// The principal.
        principal: String,
    },
    /// The clocks of this machine and the KDC or server differ by more than they allow (`KRB_AP_ERR_SKEW`).
    ClockSkew,
    /// No KDC of the realm answered.
    KdcUnreachable {
        /// The realm.
        realm: String,
        /// Each address tried, with what happened.
        attempts: Vec<String>,
    },
    /// No KDC is known for the realm (krb5.conf names none).
    NoKdc {
        /// The realm.
        realm: String,
    },
    /// The credential cache is of a type this implementation cannot read.
    UnsupportedCache {
        /// The type prefix (`KCM`, `KEYRING`, `API`).
        kind: String,
    },
    /// Another error the KDC answered with.
    Kdc {
        /// The KRB-ERROR code (RFC 4120 section 7.5.9).
        code: i32,
        /// Its name (`KDC_ERR_ETYPE_NOSUPP`).
        name: &'static str,
        /// The KDC's text, if any.
        text: Option<String>,
    },
    /// An invalid message or file, or another failure.
    Other(String),
}

impl fmt::Display for KerberosError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoTicket { cache } => {
                write!(f, "no Kerberos ticket in {cache}: run `kinit user@REALM` first (or give a password)")
            }
            Self::TicketExpired { cache, principal } => {
                write!(f, "the Kerberos ticket of {principal} in {cache} has expired: run `kinit {principal}` again")
            }
            Self::UnknownService { service, realm } => write!(
                f,
                "the KDC of {realm} does not know the service principal {service} (KDC_ERR_S_PRINCIPAL_UNKNOWN): if \
                 the server is registered under another name, give it with --service-principal-name (for example \
                 WSMAN/host, or HTTP/host@REALM for another realm)"
            ),
            Self::UnknownUser { principal } => {
                write!(
                    f,
                    "the KDC does not know the user {principal} (KDC_ERR_C_PRINCIPAL_UNKNOWN): check the name and realm"
                )
            }
            Self::WrongPassword { principal } => {
                write!(f, "the password of {principal} is wrong (KDC_ERR_PREAUTH_FAILED)")
            }
            Self::ClockSkew => write!(
                f,
                "the clocks of this machine and the KDC or server differ too much (KRB_AP_ERR_SKEW): synchronise the \
                 clock (NTP)"
            ),
            Self::KdcUnreachable { realm, attempts } => {
                write!(f, "no KDC of realm {realm} answered ({}): check the network and krb5.conf", attempts.join("; "))
            }
            Self::NoKdc { realm } => write!(
                f,
                "no KDC is known for realm {realm}: add it to [realms] in krb5.conf (set KRB5_CONFIG to use another \
                 file)"
            ),
            Self::UnsupportedCache { kind } => write!(
                f,
                "credential cache type {kind}: is not supported (FILE: and DIR: are); point KRB5CCNAME at a FILE: \
                 cache, for example `kinit -c FILE:/tmp/krb5cc_$(id -u)`"
            ),
            Self::Kdc { code, name, text } => {
                write!(f, "KDC error {code} ({name})")?;
                match text {
                    Some(text) => write!(f, ": {text}"),
                    None => Ok(()),
                }
            }
            Self::Other(message) => f.write_str(message),
        }
    }
}

impl From<String> for KerberosError {
    fn from(message: String) -> Self {
        KerberosError::Other(message)
    }
}

impl From<&str> for KerberosError {
    fn from(message: &str) -> Self {
        KerberosError::Other(message.to_owned())
    }
}
