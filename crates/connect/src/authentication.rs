//! Connects the authentication mechanisms of `pssession-auth` to the WS-Man HTTP transport.
//!
//! The transport asks an [`HttpAuthenticator`] for `Authorization` values and hands it `WWW-Authenticate`
//! challenges; the mechanisms speak [`ClientAuth`]. [`WinrmAuthenticator`] sits between them: it starts a fresh
//! security context for every TCP connection (NTLM and Kerberos bind to the connection), computes channel bindings
//! from the server certificate on HTTPS, applies the Basic-over-HTTP policy, and once a sealing mechanism is
//! established over plain HTTP it encrypts and decrypts bodies with the `multipart/encrypted` framing of
//! `pssession-wsman`.

use std::fmt;

use bytes::Bytes;
use pssession_auth::client_cert::MUTUAL_AUTHORIZATION;
use pssession_auth::credssp::CredsspDelegation;
use pssession_auth::digest::DigestClient;
use pssession_auth::kerberos::Krb5Config;
use pssession_auth::winrm_sealing::Sealer;
use pssession_auth::{
    AuthError, BasicClient, ChannelBindings, ClientAuth, Credentials, HttpInitiator, KerberosClient,
    KerberosCredential, KerberosOptions, SpnegoClient, TransportSecurity, credssp_delegating_credentials,
    kerberos_client, negotiate_kerberos_client,
};
use pssession_wsman::multipart::{self, EncryptionProtocol, Limits};
use pssession_wsman::transport::{AuthStepError, ConnectionInfo, HttpAuthenticator, MessageEncryption};
use zeroize::Zeroizing;

/// The `-Authentication` values of Connect-PSSession that this build implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthenticationMechanism {
    /// PowerShell's `Default`: Negotiate. With a password, Kerberos first (when the target is named by a host
    /// name or an SPN is given) and NTLM when no ticket can be had or the server picks NTLM; without one, the
    /// Kerberos ticket cache (`kinit`).
    Default,
    /// HTTP Basic. Refused over plain HTTP unless unencrypted traffic is explicitly allowed.
    Basic,
    /// Negotiate (SPNEGO), with message encryption over plain HTTP (`application/HTTP-SPNEGO-session-encrypted`);
    /// mechanisms chosen as for [`AuthenticationMechanism::Default`].
    Negotiate,
    /// Negotiate with the user's Kerberos ticket cache (`kinit`; `KRB5CCNAME` honoured) and no password: Kerberos
    /// only, no NTLM fallback. Credentials must not be given.
    NegotiateWithImplicitCredential,
    /// The HTTP `Kerberos` scheme (bare Kerberos tokens; message encryption
    /// `application/HTTP-Kerberos-session-encrypted`). With credentials, tickets are obtained with the password;
    /// without, from the ticket cache.
    Kerberos,
    /// CredSSP: **delegates the user's password to the server** (the server can then act as the user anywhere).
    /// Use only with servers you trust as much as your own machine; PowerShell warns the same way.
    CredSsp,
    /// HTTP Digest (RFC 7616). The WinRM service itself does not accept it; a server that does not offer it gets a
    /// plain error saying so.
    Digest,
    /// A TLS client certificate (`-CertificateThumbprint`): HTTPS only; the certificate itself goes into the
    /// transport's TLS options, this sends WS-Man's `secprofile/https/mutual` Authorization value.
    Certificate,
}

const ALL_MECHANISMS: [AuthenticationMechanism; 8] = [
    AuthenticationMechanism::Default,
    AuthenticationMechanism::Basic,
    AuthenticationMechanism::Negotiate,
    AuthenticationMechanism::NegotiateWithImplicitCredential,
    AuthenticationMechanism::Kerberos,
    AuthenticationMechanism::CredSsp,
    AuthenticationMechanism::Digest,
    AuthenticationMechanism::Certificate,
];

impl AuthenticationMechanism {
    /// The name PowerShell uses for the value (`-Authentication Negotiate`).
    pub fn name(self) -> &'static str {
        match self {
            AuthenticationMechanism::Default => "Default",
            AuthenticationMechanism::Basic => "Basic",
            AuthenticationMechanism::Negotiate => "Negotiate",
            AuthenticationMechanism::NegotiateWithImplicitCredential => "NegotiateWithImplicitCredential",
            AuthenticationMechanism::Kerberos => "Kerberos",
            AuthenticationMechanism::CredSsp => "CredSSP",
            AuthenticationMechanism::Digest => "Digest",
            AuthenticationMechanism::Certificate => "Certificate",
        }
    }

    fn is_implicit_only(self) -> bool {
        self == AuthenticationMechanism::NegotiateWithImplicitCredential
    }

    /// Whether the mechanism can run without a password (the Kerberos ticket cache).
    pub fn allows_implicit_credentials(self) -> bool {
        matches!(
            self,
            AuthenticationMechanism::Default
                | AuthenticationMechanism::Negotiate
                | AuthenticationMechanism::NegotiateWithImplicitCredential
                | AuthenticationMechanism::Kerberos
        )
    }

    /// Parses a PowerShell `-Authentication` value, ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<Self> {
        ALL_MECHANISMS.into_iter().find(|m| m.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for AuthenticationMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a client authenticates to WinRM.
#[derive(Clone)]
pub struct AuthenticationOptions {
    /// The mechanism.
    pub mechanism: AuthenticationMechanism,
    /// The user's credentials; `None`: implicit credentials (the Kerberos ticket cache), for the mechanisms whose
    /// [`AuthenticationMechanism::allows_implicit_credentials`] is true.
    pub credentials: Option<Credentials>,
    /// Basic over plain HTTP and unencrypted bodies ([`DangerousAuthenticationOptions::allow_unencrypted`]).
    allow_unencrypted: bool,
    /// The service principal name Kerberos asks a ticket for (and NTLM names): `HTTP/<host>` when `None`.
    /// `WSMAN/host`, or `HTTP/host@REALM` to name the service realm.
    pub service_principal_name: Option<String>,
    /// The Kerberos configuration (default realm, KDCs, host-to-realm mapping); `None`: `KRB5_CONFIG` or
    /// `/etc/krb5.conf`, read when a connection starts.
    pub kerberos_config: Option<Krb5Config>,
    /// The ticket cache of implicit credentials (`FILE:/path`); `None`: `KRB5CCNAME`, else the configuration's
    /// `default_ccache_name`, else `/tmp/krb5cc_<uid>`.
    pub credential_cache: Option<String>,
}

/// The dangerous half of [`AuthenticationOptions`], from [`AuthenticationOptions::dangerous`].
#[derive(Debug)]
pub struct DangerousAuthenticationOptions<'a> {
    options: &'a mut AuthenticationOptions,
}

impl DangerousAuthenticationOptions<'_> {
    /// Allow Basic over plain HTTP (the password readable on the path) and unencrypted bodies, for servers with
    /// WinRM's `AllowUnencrypted`.
    pub fn allow_unencrypted(&mut self, allow: bool) -> &mut Self {
        self.options.allow_unencrypted = allow;
        self
    }
}

impl fmt::Debug for AuthenticationOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticationOptions")
            .field("mechanism", &self.mechanism)
            .field("credentials", &self.credentials)
            .field("allow_unencrypted", &self.allow_unencrypted)
            .field("service_principal_name", &self.service_principal_name)
            .field("kerberos_config", &self.kerberos_config)
            .field("credential_cache", &self.credential_cache)
            .finish()
    }
}

impl AuthenticationOptions {
    /// Options for `mechanism` with these credentials and the secure defaults.
    pub fn new(mechanism: AuthenticationMechanism, credentials: Credentials) -> Self {
        AuthenticationOptions {
            mechanism,
            credentials: Some(credentials),
            allow_unencrypted: false,
            service_principal_name: None,
            kerberos_config: None,
            credential_cache: None,
        }
    }

    /// The setting that weakens security (`AllowUnencrypted`), kept behind one call so that it stands out where it
    /// is used (rustls' `dangerous()`).
    pub fn dangerous(&mut self) -> DangerousAuthenticationOptions<'_> {
        DangerousAuthenticationOptions { options: self }
    }

    /// Whether Basic over plain HTTP and unencrypted bodies are allowed.
    pub fn allows_unencrypted(&self) -> bool {
        self.allow_unencrypted
    }

    /// Options for `mechanism` with implicit credentials (the Kerberos ticket cache) and the secure defaults.
    pub fn implicit(mechanism: AuthenticationMechanism) -> Self {
        AuthenticationOptions { credentials: None, ..AuthenticationOptions::new(mechanism, Credentials::new("", "")) }
    }

    /// Sets the service principal name (`HTTP/host`, `WSMAN/host`, `HTTP/host@REALM`).
    pub fn with_service_principal_name(mut self, spn: impl Into<String>) -> Self {
        self.service_principal_name = Some(spn.into());
        self
    }

    /// Sets the Kerberos configuration instead of `KRB5_CONFIG`/`/etc/krb5.conf`.
    pub fn with_kerberos_config(mut self, config: Krb5Config) -> Self {
        self.kerberos_config = Some(config);
        self
    }

    /// Sets the ticket cache of implicit credentials instead of `KRB5CCNAME`.
    pub fn with_credential_cache(mut self, name: impl Into<String>) -> Self {
        self.credential_cache = Some(name.into());
        self
    }
}

/// The transport-facing authenticator: one security context per TCP connection.
pub struct WinrmAuthenticator {
    options: AuthenticationOptions,
    active: Option<Active>,
}

struct Active {
    context: Context,
    /// The `multipart/encrypted` protocol when bodies are sealed on this connection (a sealing mechanism over
    /// plain HTTP), `None` when they travel in clear.
    seals: Option<EncryptionProtocol>,
    /// Stateless schemes send a value on every request: Basic its header, a client certificate the mutual value.
    every_request: Option<Zeroizing<String>>,
}

/// Digest needs its own type: every later request carries a fresh `nc`, which only `DigestClient` computes.
enum Context {
    Generic(Box<dyn ClientAuth>),
    Digest(DigestClient),
    /// Client-certificate authentication happens in TLS; nothing to exchange in HTTP.
    Certificate,
}

impl Context {
    fn client(&mut self) -> Option<&mut dyn ClientAuth> {
        match self {
            Context::Generic(c) => Some(c.as_mut()),
            Context::Digest(c) => Some(c),
            Context::Certificate => None,
        }
    }

    fn scheme(&self) -> &'static str {
        match self {
            Context::Generic(c) => c.scheme(),
            Context::Digest(c) => c.scheme(),
            Context::Certificate => "Certificate",
        }
    }

    fn is_complete(&self) -> bool {
        match self {
            Context::Generic(c) => c.is_complete(),
            Context::Digest(c) => c.is_complete(),
            Context::Certificate => true,
        }
    }
}

impl fmt::Debug for WinrmAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WinrmAuthenticator")
            .field("options", &self.options)
            .field("established", &self.is_established())
            .finish()
    }
}

impl WinrmAuthenticator {
    /// An authenticator that has not yet seen a connection.
    pub fn new(options: AuthenticationOptions) -> Self {
        WinrmAuthenticator { options, active: None }
    }

    fn spn(&self, connection: &ConnectionInfo) -> String {
        self.options.service_principal_name.clone().unwrap_or_else(|| format!("HTTP/{}", connection.endpoint.host()))
    }

    fn password(&self) -> Result<&Credentials, AuthError> {
        self.options.credentials.as_ref().ok_or(AuthError::Unsupported(
            "this mechanism needs a user name and password (only Negotiate and Kerberos use the ticket cache)",
        ))
    }

    fn cache(&self) -> KerberosCredential {
        KerberosCredential::Cache(self.options.credential_cache.clone())
    }

    fn kerberos_options(&self) -> KerberosOptions {
        match &self.options.kerberos_config {
            Some(config) => KerberosOptions { config: config.clone(), kdc: None, service_realm: None },
            None => KerberosOptions::default(),
        }
    }

    /// Whether Negotiate with a password offers Kerberos first: when an SPN is given, or the target is named by a
    /// host name. As on Windows, a target named by its IP address gets NTLM (no KDC knows `HTTP/192.0.2.7`).
    fn tries_kerberos(&self, connection: &ConnectionInfo) -> bool {
        let host = connection.endpoint.host().trim_start_matches('[').trim_end_matches(']');
        self.options.service_principal_name.is_some() || host.parse::<std::net::IpAddr>().is_err()
    }

    fn new_context(&self, connection: &ConnectionInfo) -> Result<Active, AuthError> {
        let tls = connection.is_tls();
        match self.options.mechanism {
            AuthenticationMechanism::Basic => {
                let security = if tls { TransportSecurity::Tls } else { TransportSecurity::Plaintext };
                let client = BasicClient::new(self.password()?, security, self.options.allow_unencrypted)?;
                Ok(Active { context: Context::Generic(Box::new(client)), seals: None, every_request: None })
            }
            AuthenticationMechanism::Default
            | AuthenticationMechanism::Negotiate
            | AuthenticationMechanism::NegotiateWithImplicitCredential => {
                let bindings = channel_bindings(connection)?;
                let spn = self.spn(connection);
                let client: HttpInitiator<SpnegoClient> = match &self.options.credentials {
                    Some(_) if self.options.mechanism.is_implicit_only() => {
                        return Err(AuthError::Unsupported(
                            "NegotiateWithImplicitCredential uses the Kerberos ticket cache: give no credentials",
                        ));
                    }
                    Some(credentials) if self.tries_kerberos(connection) => {
                        negotiate_kerberos_client(Some(credentials.clone()), &spn, self.kerberos_options(), bindings)
                    }
                    Some(credentials) => pssession_auth::negotiate_client(credentials.clone(), Some(spn), bindings),
                    None => {
                        let kerberos = KerberosClient::new(self.cache(), &spn, self.kerberos_options())
                            .with_channel_bindings(bindings);
                        HttpInitiator::new("Negotiate", SpnegoClient::kerberos_only(kerberos))
                    }
                };
                let seals = (!tls).then_some(EncryptionProtocol::Spnego);
                Ok(Active { context: Context::Generic(Box::new(client)), seals, every_request: None })
            }
            AuthenticationMechanism::Kerberos => {
                let credential = match &self.options.credentials {
                    Some(credentials) => KerberosCredential::Password(credentials.clone()),
                    None => self.cache(),
                };
                let client = kerberos_client(
                    credential,
                    &self.spn(connection),
                    self.kerberos_options(),
                    channel_bindings(connection)?,
                );
                let seals = (!tls).then_some(EncryptionProtocol::Kerberos);
                Ok(Active { context: Context::Generic(Box::new(client)), seals, every_request: None })
            }
            AuthenticationMechanism::CredSsp => {
                let client = credssp_delegating_credentials(
                    self.password()?.clone(),
                    Some(self.spn(connection)),
                    CredsspDelegation::AllowFreshCredentials,
                );
                let seals = (!tls).then_some(EncryptionProtocol::CredSsp);
                Ok(Active { context: Context::Generic(Box::new(client)), seals, every_request: None })
            }
            AuthenticationMechanism::Digest => {
                let client = DigestClient::new(self.password()?, "POST", connection.endpoint.path_and_query());
                Ok(Active { context: Context::Digest(client), seals: None, every_request: None })
            }
            AuthenticationMechanism::Certificate => {
                if !tls {
                    return Err(AuthError::Unsupported("client certificate authentication needs HTTPS"));
                }
                let every_request = Some(Zeroizing::new(MUTUAL_AUTHORIZATION.to_owned()));
                Ok(Active { context: Context::Certificate, seals: None, every_request })
            }
        }
    }
}

fn channel_bindings(connection: &ConnectionInfo) -> Result<Option<ChannelBindings>, AuthError> {
    match &connection.peer_certificate {
        Some(certificate) => Ok(Some(ChannelBindings::tls_server_end_point(certificate.as_ref())?)),
        None => Ok(None),
    }
}

fn step_error(mechanism: AuthenticationMechanism, error: AuthError) -> AuthStepError {
    AuthStepError::new(format!("{mechanism} authentication failed: {error}")).with_source(error)
}

impl HttpAuthenticator for WinrmAuthenticator {
    fn scheme(&self) -> &str {
        self.options.mechanism.name()
    }

    fn start(&mut self, connection: &ConnectionInfo) -> Result<Option<String>, AuthStepError> {
        let mechanism = self.options.mechanism;
        self.active = None;
        let mut active = self.new_context(connection).map_err(|e| step_error(mechanism, e))?;
        let first = match active.context.client() {
            Some(client) => client.step(None).map_err(|e| step_error(mechanism, e))?,
            None => active.every_request.as_ref().map(|v| v.to_string()),
        };
        if mechanism == AuthenticationMechanism::Basic {
            active.every_request = first.clone().map(Zeroizing::new);
        }
        self.active = Some(active);
        Ok(first)
    }

    fn challenge(&mut self, status: u16, www_authenticate: &[String]) -> Result<Option<String>, AuthStepError> {
        let mechanism = self.options.mechanism;
        let Some(active) = self.active.as_mut() else {
            return Err(AuthStepError::new("authentication challenge before the connection was started"));
        };
        let scheme = active.context.scheme();
        let ours = www_authenticate.iter().find(|value| {
            value.split(|c: char| c == ',' || c.is_whitespace()).any(|token| token.eq_ignore_ascii_case(scheme))
        });
        // Digest explains its own absence (the WinRM service never offers it); others get the offer list.
        let digest = matches!(active.context, Context::Digest(_));
        if status == 401 && ours.is_none() && !digest && !active.context.is_complete() && !www_authenticate.is_empty() {
            return Err(AuthStepError::new(format!(
                "the server does not accept {mechanism} authentication; it offers: {}",
                www_authenticate.join(", ")
            )));
        }
        let Some(client) = active.context.client() else {
            return Err(AuthStepError::new(
                "the server refused the client certificate (no mapping to a user, or not trusted)",
            ));
        };
        let input = if digest { www_authenticate.first() } else { ours };
        match client.step(input.map(String::as_str)) {
            Ok(next) => Ok(next),
            Err(AuthError::Rejected) | Err(AuthError::LogonDenied) if status == 401 => Err(AuthStepError::new(
                format!("{mechanism} authentication was rejected by the server: wrong user name or password"),
            )),
            Err(e) => Err(step_error(mechanism, e)),
        }
    }

    fn authorization(&mut self) -> Result<Option<String>, AuthStepError> {
        let mechanism = self.options.mechanism;
        match self.active.as_mut() {
            Some(Active { context: Context::Digest(digest), .. }) if digest.is_complete() => {
                digest.authorization().map(Some).map_err(|e| step_error(mechanism, e))
            }
            Some(active) => Ok(active.every_request.as_ref().map(|h| h.to_string())),
            None => Ok(None),
        }
    }

    fn is_established(&self) -> bool {
        self.active.as_ref().is_some_and(|a| a.context.is_complete())
    }

    fn encryption(&mut self) -> Option<&mut dyn MessageEncryption> {
        match self.active.as_mut() {
            Some(active) if active.seals.is_some() => Some(active),
            _ => None,
        }
    }
}

impl MessageEncryption for Active {
    fn encrypt(&mut self, envelope: &[u8]) -> Result<(String, Bytes), AuthStepError> {
        let protocol = self.seals.ok_or_else(|| AuthStepError::new("this connection does not seal bodies"))?;
        let client = self.context.client().ok_or_else(|| AuthStepError::new("no security context to seal with"))?;
        let body = multipart::encrypt(&mut Sealer(client), protocol, envelope)
            .map_err(|e| AuthStepError::new(format!("message encryption failed: {e}")))?;
        Ok((body.content_type, Bytes::from(body.body)))
    }

    fn decrypt(&mut self, content_type: &str, body: Bytes) -> Result<Bytes, AuthStepError> {
        let client = self.context.client().ok_or_else(|| AuthStepError::new("no security context to unseal with"))?;
        let plain = multipart::decrypt(&mut Sealer(client), content_type, &body, &Limits::default())
            .map_err(|e| AuthStepError::new(format!("message decryption failed: {e}")))?;
        Ok(Bytes::from(plain))
    }
}
