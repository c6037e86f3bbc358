//! Where the sessions are and how to authenticate: `ConnectionArgs` into a [`Client`] with its options,
//! `-OutputBufferingMode`, and PowerShell's reconnect warnings.

use super::*;

/// The environment variable a password may come from.
pub const PASSWORD_ENV: &str = "PSSESSION_PASSWORD";

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    /// A table like PowerShell's default view.
    #[default]
    Table,
    /// JSON.
    Json,
}

/// Where the sessions are and how to authenticate (`-ComputerName`, `-ConnectionUri`, `-Credential`, …).
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// Computers to connect to (`-ComputerName`, alias `-Cn`).
    #[arg(long = "computer-name", visible_alias = "cn", value_delimiter = ',', num_args = 1..)]
    pub computer_name: Vec<String>,
    /// Endpoint URIs (`-ConnectionUri`, alias `-URI`, `-CU`).
    #[arg(long = "connection-uri", visible_aliases = ["uri", "cu"], value_delimiter = ',', num_args = 1..,
          conflicts_with = "computer_name")]
    pub connection_uri: Vec<String>,
    /// Port (`-Port`); 0 or absent = 5985/5986.
    #[arg(long)]
    pub port: Option<u16>,
    /// Use HTTPS (`-UseSSL`).
    #[arg(long = "use-ssl")]
    pub use_ssl: bool,
    /// Application name (`-ApplicationName`), `wsman` by default.
    #[arg(long = "application-name")]
    pub application_name: Option<String>,
    /// Session configuration (`-ConfigurationName`), `Microsoft.PowerShell` by default.
    #[arg(long = "configuration-name")]
    pub configuration_name: Option<String>,
    /// User, as `DOMAIN\user` or `user@REALM` (`-Credential`). The password comes from `--password-stdin`, the
    /// `PSSESSION_PASSWORD` environment variable, or a prompt that does not echo — never from an argument.
    /// Without it, Default, Negotiate and Kerberos use the Kerberos ticket cache (`kinit`, `KRB5CCNAME`).
    #[arg(long)]
    pub credential: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    /// Authentication mechanism (`-Authentication`): Default, Basic, Negotiate, NegotiateWithImplicitCredential
    /// (the Kerberos ticket cache, no password), Kerberos, CredSSP (delegates your password to the server: only
    /// for servers you trust like your own machine), Digest.
    #[arg(long, default_value = "Default")]
    pub authentication: String,
    /// The Kerberos service principal name of the endpoint, `HTTP/<host>` by default (e.g. `WSMAN/host`, or
    /// `HTTP/host@REALM` to name the service realm). PowerShell has no such parameter; Windows always asks for
    /// `HTTP/<host>`.
    #[arg(long = "service-principal-name", value_name = "SPN")]
    pub service_principal_name: Option<String>,
    /// Authenticate with the client certificate of this SHA-1 thumbprint (`-CertificateThumbprint`), looked up
    /// among the `*.pem`/`*.crt` files (certificate and key) of `--certificate-directory`. HTTPS only.
    #[arg(long = "certificate-thumbprint", conflicts_with = "credential")]
    pub certificate_thumbprint: Option<String>,
    /// Where `--certificate-thumbprint` looks; default `$XDG_CONFIG_HOME/pssession/certificates/`.
    #[arg(long = "certificate-directory")]
    pub certificate_directory: Option<PathBuf>,
    /// Follow redirects (`-AllowRedirection`); only with `--connection-uri`.
    #[arg(long = "allow-redirection")]
    pub allow_redirection: bool,
    /// Do not verify the certificate chain (`-SkipCACheck`).
    #[arg(long = "skip-ca-check")]
    pub skip_ca_check: bool,
    /// Do not verify the certificate's name (`-SkipCNCheck`).
    #[arg(long = "skip-cn-check")]
    pub skip_cn_check: bool,
    /// Trust this PEM certificate (a private CA or a test server's self-signed certificate).
    #[arg(long = "trust-certificate")]
    pub trust_certificate: Vec<PathBuf>,
    /// Allow unencrypted traffic over HTTP (`-NoEncryption`; needed for Basic over HTTP).
    #[arg(long = "no-encryption")]
    pub no_encryption: bool,
    /// Redirects followed at most with `--allow-redirection` (`-MaximumRedirection`, 5).
    #[arg(long = "maximum-redirection", default_value_t = 5)]
    pub maximum_redirection: u32,
    /// Culture sent as `wsmv:DataLocale` (`-Culture`); by default your locale (`LC_ALL`, `LC_TIME`, `LANG`, as
    /// PowerShell sends its current culture), else en-US.
    #[arg(long = "culture")]
    pub culture: Option<String>,
    /// UI culture sent as `wsman:Locale` (`-UICulture`); by default your locale for messages (`LC_ALL`,
    /// `LC_MESSAGES`, `LANG`), else en-US.
    #[arg(long = "ui-culture")]
    pub ui_culture: Option<String>,
    /// Largest single object accepted from the server, in MB (`-MaximumReceivedObjectSizeMB`, 200).
    #[arg(long = "maximum-received-object-size-mb", default_value_t = 200)]
    pub maximum_received_object_size_mb: usize,
    /// Most data accepted per command, in MB (`-MaximumReceivedDataSizePerCommandMB`); unlimited by default.
    #[arg(long = "maximum-received-data-size-per-command-mb")]
    pub maximum_received_data_size_per_command_mb: Option<usize>,
    /// WS-Man OperationTimeout in seconds (`-OperationTimeout`, 180).
    #[arg(long = "operation-timeout-sec", default_value_t = 180)]
    pub operation_timeout_sec: u64,
    /// Time to open a connection or session, in seconds (`-OpenTimeout`, 180).
    #[arg(long = "open-timeout-sec", default_value_t = 180)]
    pub open_timeout_sec: u64,
    /// HTTP proxy, `http://host:port`.
    #[arg(long)]
    pub proxy: Option<String>,
    /// How long to keep retrying a request that fails on the network before the session is left disconnected,
    /// in seconds (PowerShell's robust connections: 240). Each attempt is reported on stderr.
    #[arg(long = "max-retry-connection-time-sec", default_value_t = 240)]
    pub max_retry_connection_time_sec: u64,
    /// Most computers contacted at once (`-ThrottleLimit`; 0 = 32).
    #[arg(long = "throttle-limit", default_value_t = 32)]
    pub throttle_limit: usize,
}

impl ConnectionArgs {
    /// Whether a remote target was named.
    pub fn has_target(&self) -> bool {
        !self.computer_name.is_empty() || !self.connection_uri.is_empty()
    }

    /// The targets named on the command line.
    pub fn targets(&self) -> Result<Vec<ConnectionTarget>, String> {
        let mut targets = Vec::new();
        for name in &self.computer_name {
            targets.push(
                ConnectionTarget::computer_name(name, self.port, self.use_ssl, self.application_name.as_deref())
                    .map_err(|e| e.to_string())?,
            );
        }
        for uri in &self.connection_uri {
            targets.push(ConnectionTarget::connection_uri(uri).map_err(|e| e.to_string())?);
        }
        Ok(targets.into_iter().map(|t| self.configure(t)).collect())
    }

    fn configure(&self, target: ConnectionTarget) -> ConnectionTarget {
        match &self.configuration_name {
            Some(name) => target.with_configuration_name(name),
            None => target,
        }
    }

    /// The session options these arguments give.
    pub fn session_options(&self) -> Result<SessionOptions, String> {
        let mut options = SessionOptions::default();
        options.operation_timeout = Duration::from_secs(self.operation_timeout_sec.max(1));
        options.max_retry_connection_time = Duration::from_secs(self.max_retry_connection_time_sec);
        options.connection_observer = Some(ConnectionObserver::new(print_connection_notice));
        options.open_timeout = Duration::from_secs(self.open_timeout_sec.max(1));
        options.allow_redirection = self.allow_redirection && !self.connection_uri.is_empty();
        options.tls.dangerous().skip_ca_check(self.skip_ca_check).skip_cn_check(self.skip_cn_check);
        options.dangerous().no_encryption(self.no_encryption);
        options.proxy = self.proxy.clone();
        options.maximum_connection_redirection_count = self.maximum_redirection;
        if let Some(culture) = &self.culture {
            options.culture = culture.clone();
        }
        if let Some(ui_culture) = &self.ui_culture {
            options.ui_culture = ui_culture.clone();
        }
        options.maximum_received_object_size = self.maximum_received_object_size_mb.max(1).saturating_mul(1 << 20);
        options.maximum_received_data_size_per_command =
            self.maximum_received_data_size_per_command_mb.map(|mb| mb.max(1).saturating_mul(1 << 20));
        for path in &self.trust_certificate {
            let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            options.tls.trust_pem(&pem).map_err(|e| format!("--trust-certificate {}: {e}", path.display()))?;
        }
        if let Some(thumbprint) = &self.certificate_thumbprint {
            let directory = match &self.certificate_directory {
                Some(dir) => dir.clone(),
                None => default_certificate_directory().map_err(|e| e.to_string())?,
            };
            let credential = CertificateCredential::find_by_thumbprint(&directory, thumbprint)
                .map_err(|e| format!("--certificate-thumbprint {thumbprint}: {e}"))?;
            let certificate = ClientCertificate::from_pem(
                credential.certificate_pem().as_bytes(),
                credential.private_key_pem().as_bytes(),
            )
            .map_err(|e| format!("--certificate-thumbprint {thumbprint}: {e}"))?;
            options.tls.client_certificate = Some(certificate);
        }
        Ok(options)
    }

    /// The credentials: the user from `--credential`, the password from stdin, the environment or a prompt.
    pub fn authentication(&self, fallback_user: Option<&str>) -> Result<AuthenticationOptions, String> {
        if self.certificate_thumbprint.is_some() {
            let mut options =
                AuthenticationOptions::new(AuthenticationMechanism::Certificate, Credentials::new("", ""));
            options.dangerous().allow_unencrypted(self.no_encryption);
            return Ok(options);
        }
        let mechanism = AuthenticationMechanism::from_name(&self.authentication)
            .filter(|m| *m != AuthenticationMechanism::Certificate)
            .ok_or_else(|| {
                format!(
                    "unsupported --authentication {:?} (Default, Basic, Negotiate, NegotiateWithImplicitCredential, \
                     Kerberos, CredSSP, Digest; certificates: --certificate-thumbprint)",
                    self.authentication
                )
            })?;
        let implicit = match (mechanism, &self.credential) {
            (AuthenticationMechanism::NegotiateWithImplicitCredential, Some(_)) => {
                return Err("--authentication NegotiateWithImplicitCredential uses the Kerberos ticket cache: do not \
                            give --credential"
                    .to_owned());
            }
            (AuthenticationMechanism::NegotiateWithImplicitCredential, None) => true,
            (m, None) => fallback_user.is_none() && m.allows_implicit_credentials() && !self.password_stdin,
            (_, Some(_)) => false,
        };
        if implicit {
            let mut options = AuthenticationOptions::implicit(mechanism);
            options.dangerous().allow_unencrypted(self.no_encryption);
            options.service_principal_name = self.service_principal_name.clone();
            return Ok(options);
        }
        let user = self
            .credential
            .as_deref()
            .or(fallback_user)
            .ok_or("--credential is required (DOMAIN\\user or user@REALM)")?;
        let password = self.password(user)?;
        let mut options = AuthenticationOptions::new(mechanism, Credentials::new(user, password.as_str()));
        options.dangerous().allow_unencrypted(self.no_encryption);
        options.service_principal_name = self.service_principal_name.clone();
        Ok(options)
    }

    fn password(&self, user: &str) -> Result<zeroize::Zeroizing<String>, String> {
        if self.password_stdin {
            let mut line = zeroize::Zeroizing::new(String::new());
            std::io::stdin().lock().read_line(&mut line).map_err(|e| format!("cannot read the password: {e}"))?;
            let trimmed = line.trim_end_matches(['\r', '\n']).to_owned();
            return Ok(zeroize::Zeroizing::new(trimmed));
        }
        if let Ok(password) = std::env::var(PASSWORD_ENV) {
            return Ok(zeroize::Zeroizing::new(password));
        }
        if !std::io::stdin().is_terminal() {
            return Err(format!("no password: use --password-stdin, set {PASSWORD_ENV}, or run on a terminal"));
        }
        rpassword::prompt_password(format!("Password for {user}: "))
            .map(zeroize::Zeroizing::new)
            .map_err(|e| format!("cannot read the password: {e}"))
    }

    /// A client for `target`.
    pub fn client(&self, target: ConnectionTarget, auth: AuthenticationOptions) -> Result<Client, String> {
        Client::new(target, self.session_options()?, auth).map_err(|e| e.to_string())
    }
}

/// Parses `-OutputBufferingMode`.
pub fn buffering_mode(text: Option<&str>) -> Result<OutputBufferingMode, String> {
    match text {
        None => Ok(OutputBufferingMode::None),
        Some(t) => OutputBufferingMode::from_name(t)
            .ok_or_else(|| format!("unknown --output-buffering-mode {t:?} (Block, Drop)")),
    }
}

/// Prints PowerShell's robust-connection warnings on stderr.
fn print_connection_notice(notice: &ConnectionNotice) {
    match notice {
        ConnectionNotice::NetworkFailureDetected { computer, retry_for, .. } => {
            let seconds = retry_for.as_secs();
            let span = if seconds % 60 == 0 && seconds > 0 {
                format!("{} minute{}", seconds / 60, if seconds == 60 { "" } else { "s" })
            } else {
                format!("{seconds} seconds")
            };
            eprintln!(
                "WARNING: The network connection to {computer} has been interrupted. Attempting to reconnect for up \
                 to {span}..."
            );
        }
        ConnectionNotice::RetryAttempt { computer, .. } => {
            eprintln!("WARNING: Attempting to reconnect to {computer} ...")
        }
        ConnectionNotice::RetrySucceeded { computer, .. } => {
            eprintln!("WARNING: The network connection to {computer} has been restored.")
        }
        ConnectionNotice::GaveUp { session, computer, .. } => eprintln!(
            "WARNING: Reconnection attempts to {computer} were unsuccessful. Session {session} is left disconnected; \
             the server keeps it and its output."
        ),
        _ => {}
    }
}
