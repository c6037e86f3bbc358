//! The HTTP face of the contexts: `Authorization` / `WWW-Authenticate` header values.
//!
//! The WS-Man transport drives a [`ClientAuth`]: it sends `step(None)` as the `Authorization` of its first
//! request, passes the `WWW-Authenticate` value of every 401 (and of the final 200, if it carries one, while
//! [`ClientAuth::is_complete`] is false) to `step`, and sends what comes back. The server drives a
//! [`ServerAuth`] with each `Authorization` value.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::cbt::ChannelBindings;
use crate::context::{AcceptorContext, InitiatorContext, WrappedMessage};
use crate::credentials::{ClientIdentity, UserDatabase};
use crate::error::{AuthError, malformed};
use crate::kerberos::KerberosAcceptor;
use crate::ntlm::messages::SIGNATURE as NTLMSSP;
use crate::ntlm::{ChannelBindingPolicy, NtlmAcceptor};
use crate::spnego::SpnegoAcceptor;

/// The longest header value accepted (base64 of [`crate::MAX_TOKEN_LEN`] plus the scheme).
pub const MAX_HEADER_LEN: usize = crate::MAX_TOKEN_LEN / 3 * 4 + 64;

/// A client-side authenticator, as the WS-Man transport sees it.
pub trait ClientAuth: Send {
    /// The HTTP authentication scheme (`Basic`, `Negotiate`, `NTLM`).
    fn scheme(&self) -> &'static str;
    /// The next `Authorization` value. Call with `None` first; then with the `WWW-Authenticate` value of the
    /// response (`None` when the response had none). `Ok(None)`: nothing more to send.
    fn step(&mut self, www_authenticate: Option<&str>) -> Result<Option<String>, AuthError>;
    /// Whether authentication is complete on the client side.
    fn is_complete(&self) -> bool;
    /// Whether [`ClientAuth::wrap`] is available once complete (false for Basic).
    fn can_seal(&self) -> bool;
    /// Seals a message body (WinRM message encryption).
    fn wrap(&mut self, plaintext: &[u8]) -> Result<WrappedMessage, AuthError>;
    /// Unseals a message body from the server.
    fn unwrap(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError>;
}

/// What the server answers after consuming an `Authorization` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptStep {
    /// Answer 401 with this `WWW-Authenticate` value.
    Continue(String),
    /// The client is authenticated; put this `WWW-Authenticate` value (if any) on the successful response.
    Complete(Option<String>),
}

/// A server-side authenticator for one connection.
pub trait ServerAuth: Send {
    /// Consumes one `Authorization` value. An error means: answer 401 (with [`ServerAuth::offer`]) and start over.
    fn step(&mut self, authorization: &str) -> Result<AcceptStep, AuthError>;
    /// Whether the client is authenticated.
    fn is_complete(&self) -> bool;
    /// The authenticated client.
    fn client_identity(&self) -> Option<&ClientIdentity>;
    /// The `WWW-Authenticate` values of the initial 401.
    fn offer(&self) -> Vec<String>;
    /// Seals a message body for the client.
    fn wrap(&mut self, plaintext: &[u8]) -> Result<WrappedMessage, AuthError>;
    /// Unseals a message body from the client.
    fn unwrap(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError>;
    /// Whether a sealed body (`header`, `ciphertext`) is the next message of this complete context's client and
    /// verifies — checked without changing the context. A server uses it to find the context a client keeps
    /// sealing with after its connection closed (pypsrp reconnects and seals with the old context). NTLM
    /// (directly or inside Negotiate) can tell; the default answers no.
    fn verifies_next_seal(&self, _header: &[u8], _ciphertext: &[u8]) -> bool {
        false
    }
}

/// Splits a `WWW-Authenticate`/`Authorization` value into `(scheme, token)` pairs (`Negotiate, NTLM` or
/// `Negotiate YII…`). Token schemes only: parameters of `Basic realm="…"` come back as the token text.
pub fn parse_challenges(value: &str) -> Result<Vec<(&str, Option<&str>)>, AuthError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(AuthError::TooLarge { what: "authentication header", len: value.len() });
    }
    Ok(value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| match item.split_once(char::is_whitespace) {
            Some((scheme, token)) => (scheme, Some(token.trim())),
            None => (item, None),
        })
        .collect())
}

fn token_for<'a>(value: &'a str, scheme: &'static str) -> Result<Option<&'a str>, AuthError> {
    Ok(parse_challenges(value)?.into_iter().find(|(s, _)| s.eq_ignore_ascii_case(scheme)).and_then(|(_, t)| t))
}

pub(crate) fn decode_b64(token: &str, what: &'static str) -> Result<Vec<u8>, AuthError> {
    if token.len() > MAX_HEADER_LEN {
        return Err(AuthError::TooLarge { what, len: token.len() });
    }
    STANDARD.decode(token).map_err(|_| malformed(what, "invalid base64"))
}

/// Adapts a token-level [`InitiatorContext`] to HTTP headers under a scheme name.
pub struct HttpInitiator<C> {
    scheme: &'static str,
    context: C,
    started: bool,
}

impl<C: fmt::Debug> fmt::Debug for HttpInitiator<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpInitiator").field("scheme", &self.scheme).field("context", &self.context).finish()
    }
}

impl<C: InitiatorContext> HttpInitiator<C> {
    /// `scheme` is `Negotiate` or `NTLM`. (pypsrp sends raw NTLM under `Negotiate`; so may we.)
    pub fn new(scheme: &'static str, context: C) -> Self {
        Self { scheme, context, started: false }
    }

    /// The token-level context.
    pub fn context(&self) -> &C {
        &self.context
    }
}

impl<C: InitiatorContext> ClientAuth for HttpInitiator<C> {
    fn scheme(&self) -> &'static str {
        self.scheme
    }

    fn step(&mut self, www_authenticate: Option<&str>) -> Result<Option<String>, AuthError> {
        let input = if self.started {
            let token = www_authenticate.map(|v| token_for(v, self.scheme)).transpose()?.flatten();
            match token {
                Some(t) => Some(decode_b64(t, "authentication token")?),
                None if self.context.is_complete() => return Ok(None),
                // A bare 401 after our last leg: the server refused us.
                None => return Err(AuthError::Rejected),
            }
        } else {
            None
        };
        self.started = true;
        let out = self.context.step(input.as_deref())?;
        Ok(out.map(|t| format!("{} {}", self.scheme, STANDARD.encode(t))))
    }

    fn is_complete(&self) -> bool {
        self.context.is_complete()
    }

    fn can_seal(&self) -> bool {
        true
    }

    fn wrap(&mut self, plaintext: &[u8]) -> Result<WrappedMessage, AuthError> {
        self.context.wrap(plaintext)
    }

    fn unwrap(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError> {
        self.context.unwrap(header, data)
    }
}

/// The server's `Negotiate`/`NTLM`/`Kerberos` authenticator. Under `Negotiate` it sniffs the first token: raw
/// `NTLMSSP\0` (what pypsrp sends with `auth="ntlm"`) goes to a bare NTLM acceptor, anything else to SPNEGO (NTLM,
/// and Kerberos when [`NegotiateServer::with_kerberos`] gave it a keytab; a bare Kerberos token is accepted too).
/// The `Kerberos` scheme (bare GSS tokens, WinRM's `application/HTTP-Kerberos-session-encrypted`) needs the keytab.
///
/// Authorization of Kerberos principals: the KDC vouches for who the client is, the users database says who may
/// log on. A principal is accepted only when it has a single component (`alice@REALM`, never `HTTP/host@REALM`),
/// its realm is a realm of the keytab (no principals of trusting realms), and the users database lists the user
/// with no domain, the realm itself or the realm's first label as domain (`alice`, `WINRM.TEST\alice` or
/// `WINRM\alice` for `alice@WINRM.TEST`). Its password there is not used for Kerberos. The identity is then
/// `ClientIdentity { domain: REALM, user }`.
pub struct NegotiateServer {
    users: Arc<UserDatabase>,
    channel_bindings: Option<(ChannelBindings, ChannelBindingPolicy)>,
    kerberos: Option<KerberosAcceptor>,
    active: Option<(&'static str, Mechanism)>,
}

/// The context of the current exchange.
enum Mechanism {
    Ntlm(NtlmAcceptor),
    Spnego(SpnegoAcceptor),
    Kerberos(KerberosAcceptor),
}

impl Mechanism {
    fn context(&mut self) -> &mut dyn AcceptorContext {
        match self {
            Mechanism::Ntlm(c) => c,
            Mechanism::Spnego(c) => c,
            Mechanism::Kerberos(c) => c,
        }
    }

    fn context_ref(&self) -> &dyn AcceptorContext {
        match self {
            Mechanism::Ntlm(c) => c,
            Mechanism::Spnego(c) => c,
            Mechanism::Kerberos(c) => c,
        }
    }

    fn uses_kerberos(&self) -> bool {
        match self {
            Mechanism::Ntlm(_) => false,
            Mechanism::Spnego(c) => c.uses_kerberos(),
            Mechanism::Kerberos(_) => true,
        }
    }
}

impl fmt::Debug for NegotiateServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NegotiateServer")
            .field("users", &self.users)
            .field("channel_bindings", &self.channel_bindings)
            .field("kerberos", &self.kerberos)
            .field("scheme", &self.active.as_ref().map(|a| a.0))
            .finish()
    }
}

impl NegotiateServer {
    /// An authenticator for one connection.
    pub fn new(users: Arc<UserDatabase>) -> Self {
        Self { users, channel_bindings: None, kerberos: None, active: None }
    }

    /// Checks channel bindings (HTTPS: our certificate's `tls-server-end-point`), for NTLM and Kerberos.
    pub fn with_channel_bindings(mut self, bindings: ChannelBindings, policy: ChannelBindingPolicy) -> Self {
        self.channel_bindings = Some((bindings, policy));
        self
    }

    /// Also accepts Kerberos (inside SPNEGO, and the `Kerberos` scheme) with this acceptor's keytab and settings;
    /// each exchange uses a [`KerberosAcceptor::fresh`] copy.
    pub fn with_kerberos(mut self, kerberos: KerberosAcceptor) -> Self {
        self.kerberos = Some(kerberos);
        self
    }

    fn ntlm(&self) -> NtlmAcceptor {
        let acceptor = NtlmAcceptor::new(self.users.clone());
        match &self.channel_bindings {
            Some((b, p)) => acceptor.with_channel_bindings(b.clone(), *p),
            None => acceptor,
        }
    }

    fn kerberos_acceptor(&self) -> Option<KerberosAcceptor> {
        let acceptor = self.kerberos.as_ref()?.fresh();
        Some(match &self.channel_bindings {
            Some((b, p)) => acceptor.with_channel_bindings(b.clone(), *p),
            None => acceptor,
        })
    }

    /// Whether the Kerberos principal that completed `mechanism` may log on (see the type's documentation).
    fn kerberos_authorized(&self, mechanism: &Mechanism) -> bool {
        let (Some(id), Some(kerberos)) = (mechanism.context_ref().client_identity(), &self.kerberos) else {
            return false;
        };
        let realm_known = kerberos.keytab().entries().iter().any(|e| e.realm.eq_ignore_ascii_case(&id.domain));
        realm_known && self.users.authorizes_principal(&id.domain, &id.user)
    }
}

impl ServerAuth for NegotiateServer {
    fn step(&mut self, authorization: &str) -> Result<AcceptStep, AuthError> {
        let (scheme, token) = authorization
            .trim()
            .split_once(char::is_whitespace)
            .ok_or(AuthError::MissingToken { scheme: "Negotiate" })?;
        let scheme: &'static str = if scheme.eq_ignore_ascii_case("Negotiate") {
            "Negotiate"
        } else if scheme.eq_ignore_ascii_case("NTLM") {
            "NTLM"
        } else if scheme.eq_ignore_ascii_case("Kerberos") && self.kerberos.is_some() {
            "Kerberos"
        } else {
            return Err(AuthError::Unsupported("authentication scheme"));
        };
        let token = decode_b64(token.trim(), "authentication token")?;
        let restart = match &self.active {
            None => true,
            Some((active, ctx)) => *active != scheme || ctx.context_ref().is_complete(),
        };
        if restart {
            let mechanism = match (scheme, self.kerberos_acceptor()) {
                ("Kerberos", Some(kerberos)) => Mechanism::Kerberos(kerberos),
                ("NTLM", _) => Mechanism::Ntlm(self.ntlm()),
                _ if token.starts_with(NTLMSSP) => Mechanism::Ntlm(self.ntlm()),
                (_, Some(kerberos)) => {
                    Mechanism::Spnego(SpnegoAcceptor::from_ntlm(self.ntlm()).with_kerberos(kerberos))
                }
                (_, None) => Mechanism::Spnego(SpnegoAcceptor::from_ntlm(self.ntlm())),
            };
            self.active = Some((scheme, mechanism));
        }
        let Some((_, mechanism)) = self.active.as_mut() else {
            return Err(AuthError::InvalidState("no active context"));
        };
        let out = match mechanism.context().step(&token) {
            Ok(out) => out,
            Err(e) => {
                self.active = None;
                return Err(e);
            }
        };
        let header = out.map(|t| format!("{scheme} {}", STANDARD.encode(t)));
        let complete = mechanism.context_ref().is_complete();
        if complete && mechanism.uses_kerberos() {
            let authorized = self.active.as_ref().is_some_and(|(_, m)| self.kerberos_authorized(m));
            if !authorized {
                self.active = None;
                return Err(AuthError::LogonDenied);
            }
        }
        if complete {
            Ok(AcceptStep::Complete(header))
        } else {
            header.map(AcceptStep::Continue).ok_or(AuthError::InvalidState("acceptor produced no token"))
        }
    }

    fn is_complete(&self) -> bool {
        self.active.as_ref().is_some_and(|(_, c)| c.context_ref().is_complete())
    }

    fn client_identity(&self) -> Option<&ClientIdentity> {
        self.active.as_ref().and_then(|(_, c)| c.context_ref().client_identity())
    }

    fn offer(&self) -> Vec<String> {
        let mut offer = vec!["Negotiate".to_owned()];
        if self.kerberos.is_some() {
            offer.push("Kerberos".to_owned());
        }
        offer.push("NTLM".to_owned());
        offer
    }

    fn wrap(&mut self, plaintext: &[u8]) -> Result<WrappedMessage, AuthError> {
        self.active.as_mut().ok_or(AuthError::InvalidState("wrap before completion"))?.1.context().wrap(plaintext)
    }

    fn verifies_next_seal(&self, header: &[u8], ciphertext: &[u8]) -> bool {
        match &self.active {
            Some((_, Mechanism::Ntlm(ntlm))) => ntlm.verifies_next_seal(header, ciphertext),
            Some((_, Mechanism::Spnego(spnego))) => spnego.verifies_next_seal(header, ciphertext),
            Some((_, Mechanism::Kerberos(_))) | None => false,
        }
    }

    fn unwrap(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError> {
        self.active
            .as_mut()
            .ok_or(AuthError::InvalidState("unwrap before completion"))?
            .1
            .context()
            .unwrap(header, data)
    }
}

#[cfg(test)]
mod tests {
    //! The server authenticator with Kerberos, against a real MIT KDC (`pssession_testkit::kdc`, which fails the
    //! test loudly when the MIT tools are missing).

    use super::*;
    use crate::credentials::Credentials;
    use crate::kerberos::{KerberosClient, KerberosCredential, KerberosOptions, Keytab, Krb5Config};
    use crate::spnego::SpnegoClient;
    use pssession_testkit::kdc::{PASSWORD, REALM, Realm};

    fn users(entries: &[(Option<&str>, &str)]) -> Arc<UserDatabase> {
        let mut db = UserDatabase::new();
        for (domain, user) in entries {
            db.add(*domain, user, "ntlm-password");
        }
        Arc::new(db)
    }

    fn keytab(realm: &Realm) -> Arc<Keytab> {
        Arc::new(Keytab::read(&realm.keytab_path().display().to_string()).unwrap())
    }

    fn kerberos(realm: &Realm, user: &str, password: &str) -> KerberosClient {
        let options = KerberosOptions { config: Krb5Config::parse(&realm.krb5_conf()), kdc: None, service_realm: None };
        KerberosClient::new(KerberosCredential::Password(Credentials::new(user, password)), "HTTP/localhost", options)
    }

    /// Drives `client` against `server` header by header; the server's error, if any.
    fn run(client: &mut dyn ClientAuth, server: &mut NegotiateServer) -> Result<(), AuthError> {
        let mut value = client.step(None)?.expect("a first token");
        for _ in 0..6 {
            match server.step(&value)? {
                AcceptStep::Continue(challenge) => value = client.step(Some(&challenge))?.expect("a next token"),
                AcceptStep::Complete(last) => {
                    if let Some(last) = last {
                        client.step(Some(&last))?;
                    }
                    assert!(client.is_complete());
                    return Ok(());
                }
            }
        }
        panic!("no completion");
    }

    fn seals(client: &mut dyn ClientAuth, server: &mut NegotiateServer) {
        let w = client.wrap(b"request").unwrap();
        assert_eq!(server.unwrap(&w.header, &w.data).unwrap(), b"request");
        let w = server.wrap(b"response").unwrap();
        assert_eq!(client.unwrap(&w.header, &w.data).unwrap(), b"response");
    }

    #[test]
    fn kerberos_scheme_and_spnego_kerberos_map_to_realm_and_user_and_seal() {
        let realm = Realm::start();
        let db = users(&[(None, "alice")]);
        let server = || NegotiateServer::new(db.clone()).with_kerberos(KerberosAcceptor::new(keytab(&realm)));
        assert_eq!(server().offer(), ["Negotiate", "Kerberos", "NTLM"]);
        assert_eq!(NegotiateServer::new(db.clone()).offer(), ["Negotiate", "NTLM"]);

        let mut client = HttpInitiator::new("Kerberos", kerberos(&realm, "alice", PASSWORD));
        let mut s = server();
        run(&mut client, &mut s).unwrap();
        let id = s.client_identity().unwrap();
        assert_eq!((id.domain.as_str(), id.user.as_str()), (REALM, "alice"));
        seals(&mut client, &mut s);

        let spnego = SpnegoClient::new(Credentials::new("alice", PASSWORD), None, None)
            .with_kerberos(kerberos(&realm, "alice", PASSWORD));
        let mut client = HttpInitiator::new("Negotiate", spnego);
        let mut s = server();
        run(&mut client, &mut s).unwrap();
        assert!(client.context().uses_kerberos());
        assert_eq!(s.client_identity().unwrap().domain, REALM);
        seals(&mut client, &mut s);
    }

    #[test]
    fn the_same_server_still_accepts_ntlm_inside_negotiate() {
        let realm = Realm::start();
        let mut db = UserDatabase::new();
        db.add(None, "bob", "B0b!");
        let mut s = NegotiateServer::new(Arc::new(db)).with_kerberos(KerberosAcceptor::new(keytab(&realm)));
        let mut client = crate::negotiate_client(Credentials::new("bob", "B0b!"), None, None);
        run(&mut client, &mut s).unwrap();
        assert_eq!(s.client_identity().unwrap().user, "bob");
        seals(&mut client, &mut s);
    }

    #[test]
    fn kerberos_principals_need_a_listed_user() {
        let realm = Realm::start();
        realm.kadmin("addprinc -pw C4rol! carol");
        // carol has a valid ticket but is not listed; alice is listed under another realm's domain.
        for (db, user, password) in [
            (users(&[(None, "alice")]), "carol", "C4rol!"),
            (users(&[(Some("OTHER.TEST"), "alice")]), "alice", PASSWORD),
        ] {
            let mut s = NegotiateServer::new(db).with_kerberos(KerberosAcceptor::new(keytab(&realm)));
            let mut client = HttpInitiator::new("Kerberos", kerberos(&realm, user, password));
            assert_eq!(run(&mut client, &mut s), Err(AuthError::LogonDenied), "{user}");
            assert!(!s.is_complete() && s.client_identity().is_none());
        }
        // The realm's first label and the realm itself are accepted as the listed domain.
        for domain in ["WINRM", REALM] {
            let mut s = NegotiateServer::new(users(&[(Some(domain), "alice")]))
                .with_kerberos(KerberosAcceptor::new(keytab(&realm)));
            run(&mut HttpInitiator::new("Kerberos", kerberos(&realm, "alice", PASSWORD)), &mut s).unwrap();
        }
    }

    #[test]
    fn the_kerberos_scheme_needs_a_keytab() {
        let mut s = NegotiateServer::new(users(&[(None, "alice")]));
        assert_eq!(s.step("Kerberos YIIB"), Err(AuthError::Unsupported("authentication scheme")));
    }

    #[test]
    fn principal_authorization_rule() {
        let db = users(&[(None, "alice"), (Some("WINRM"), "bob")]);
        assert!(db.authorizes_principal("WINRM.TEST", "alice"));
        assert!(db.authorizes_principal("ANY.TEST", "alice"));
        assert!(db.authorizes_principal("WINRM.TEST", "BOB"));
        assert!(!db.authorizes_principal("OTHER.TEST", "bob"));
        assert!(!db.authorizes_principal("WINRM.TEST", "alice/admin"));
        assert!(!db.authorizes_principal("WINRM.TEST", "HTTP/localhost"));
        assert!(!db.authorizes_principal("WINRM.TEST", "mallory"));
        assert!(!db.authorizes_principal("", "alice"));
    }
}
