//! Parameters shared by the subcommands (connection, credentials, session options, output) and the helpers that
//! turn them into a [`Client`], find sessions and print them.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use pssession_auth::Credentials;
use serde::Serialize;
use uuid::Uuid;

use crate::progress::Progress;
use crate::store::{SessionRecord, SessionStore};
use pssession_auth::client_cert::{CertificateCredential, default_certificate_directory};
use pssession_connect::authentication::{AuthenticationMechanism, AuthenticationOptions};
use pssession_connect::fanout::fan_out;
use pssession_connect::options::{ConnectionTarget, OutputBufferingMode, SessionOptions};
use pssession_connect::{Availability, SessionState};
use pssession_connect::{Client, Error, PipelineEvent, PipelineOutput};
use pssession_connect::{ConnectionNotice, ConnectionObserver};
use pssession_connect::{SessionFilter, SessionInfo};
use pssession_format::{FormatOptions, Formatter, Shape, write_json_line};
use pssession_psrp::clixml::Deserializer;
use pssession_wsman::transport::ClientCertificate;

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
        options.skip_ca_check = self.skip_ca_check;
        options.skip_cn_check = self.skip_cn_check;
        options.no_encryption = self.no_encryption;
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
            options
                .trusted_certificates_pem
                .push(std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?);
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
            options.client_certificate = Some(certificate);
        }
        Ok(options)
    }

    /// The credentials: the user from `--credential`, the password from stdin, the environment or a prompt.
    pub fn authentication(&self, fallback_user: Option<&str>) -> Result<AuthenticationOptions, String> {
        if self.certificate_thumbprint.is_some() {
            let mut options =
                AuthenticationOptions::new(AuthenticationMechanism::Certificate, Credentials::new("", ""));
            options.allow_unencrypted = self.no_encryption;
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
            options.allow_unencrypted = self.no_encryption;
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
        options.allow_unencrypted = self.no_encryption;
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

/// Which sessions: `-Session`, `-Name`, `-Id`, `-InstanceId`.
#[derive(Debug, Clone, Args, Default)]
pub struct SessionSelector {
    /// Sessions of this user's store (`-Session`), each named by its local Id, its name or its InstanceId, as
    /// listed by `pssession get`.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub session: Vec<String>,
    /// Session names (`-Name`; wildcards `*` and `?`).
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub name: Vec<String>,
    /// Local session Ids (`-Id`), from this user's session store.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub id: Vec<u32>,
    /// Session InstanceIds (`-InstanceId`).
    #[arg(long = "instance-id", value_delimiter = ',', num_args = 1..)]
    pub instance_id: Vec<Uuid>,
}

impl SessionSelector {
    /// Whether nothing was selected.
    pub fn is_empty(&self) -> bool {
        self.session.is_empty() && self.name.is_empty() && self.id.is_empty() && self.instance_id.is_empty()
    }

    /// The server-side filter.
    pub fn filter(&self) -> SessionFilter {
        SessionFilter { names: self.name.clone(), instance_ids: self.instance_id.clone(), ..SessionFilter::default() }
    }

    /// Whether a stored session is selected.
    pub fn selects(&self, record: &SessionRecord) -> bool {
        (self.session.is_empty() || self.session.iter().any(|s| refers_to(s, record)))
            && (self.name.is_empty() || self.name.iter().any(|n| pssession_connect::wildcard_match(n, &record.name)))
            && (self.id.is_empty() || self.id.contains(&record.id))
            && (self.instance_id.is_empty() || self.instance_id.contains(&record.instance_id))
    }
}

/// Whether `reference` (a `--session` value: local Id, name or InstanceId) names `record`.
fn refers_to(reference: &str, record: &SessionRecord) -> bool {
    let reference = reference.trim();
    reference.parse::<u32>().is_ok_and(|id| id == record.id)
        || Uuid::parse_str(reference).is_ok_and(|id| id == record.instance_id)
        || reference.eq_ignore_ascii_case(&record.name)
}

/// `-WhatIf` and `-Confirm`.
#[derive(Debug, Clone, Copy, Args, Default)]
pub struct ShouldProcessArgs {
    /// Show what would be done, and do nothing (`-WhatIf`, alias `-wi`).
    #[arg(long = "what-if", visible_alias = "wi")]
    pub what_if: bool,
    /// Ask before each session (`-Confirm`, alias `-cf`); the answer is read from standard input: `y` Yes (the
    /// default on an empty line), `a` Yes to All, `n` No, `l` No to All. No answer (end of input) means No.
    #[arg(long, visible_alias = "cf")]
    pub confirm: bool,
}

/// PowerShell's `ShouldProcess`: `-WhatIf` prints what would happen, `-Confirm` asks.
#[derive(Debug)]
pub struct ShouldProcess {
    args: ShouldProcessArgs,
    yes_to_all: bool,
    no_to_all: bool,
}

impl ShouldProcess {
    /// For these arguments.
    pub fn new(args: ShouldProcessArgs) -> Self {
        ShouldProcess { args, yes_to_all: false, no_to_all: false }
    }

    /// Whether `operation` on `target` should be done; prints the What-if line or asks.
    pub fn should_process(&mut self, operation: &str, target: &str) -> bool {
        if self.args.what_if {
            println!("What if: Performing the operation \"{operation}\" on target \"{target}\".");
            return false;
        }
        if !self.args.confirm || self.yes_to_all {
            return true;
        }
        if self.no_to_all {
            return false;
        }
        eprint!(
            "\nConfirm\nAre you sure you want to perform this action?\nPerforming the operation \"{operation}\" on \
             target \"{target}\".\n[Y] Yes  [A] Yes to All  [N] No  [L] No to All (default is \"Y\"): "
        );
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => {
                eprintln!();
                self.no_to_all = true;
                false
            }
            Ok(_) => match line.trim().to_ascii_lowercase().as_str() {
                "" | "y" | "yes" => true,
                "a" => {
                    self.yes_to_all = true;
                    true
                }
                "l" => {
                    self.no_to_all = true;
                    false
                }
                _ => false,
            },
        }
    }
}

/// The ShouldProcess target text of a session.
pub fn session_target(info: &SessionInfo) -> String {
    format!("Name: {}, ComputerName: {}", info.name, info.computer_name)
}

/// The store, with errors as text.
pub fn store() -> Result<SessionStore, String> {
    SessionStore::default_location().map_err(|e| e.to_string())
}

/// Records sessions in the store and returns them with their local Ids.
pub fn remember(
    store: &SessionStore,
    sessions: &[SessionInfo],
    endpoint: &str,
    user: Option<&str>,
) -> Result<Vec<SessionRecord>, String> {
    store
        .update(|s| {
            sessions
                .iter()
                .map(|info| {
                    let record = SessionRecord {
                        id: 0,
                        name: info.name.clone(),
                        instance_id: info.instance_id,
                        computer_name: info.computer_name.clone(),
                        connection_uri: endpoint.to_owned(),
                        configuration_name: info.configuration_name.clone(),
                        user: user.map(str::to_owned),
                        state: info.state,
                        availability: info.availability,
                    };
                    let id = s.upsert(record.clone());
                    SessionRecord { id, ..record }
                })
                .collect()
        })
        .map_err(|e| e.to_string())
}

/// A session located either on the server or in the store, with the client that reaches it.
pub struct Located {
    /// The client.
    pub client: Client,
    /// The session as listed.
    pub info: SessionInfo,
}

/// Finds the selected sessions: on the named computers (Get-PSSession -ComputerName), or in the store (then each
/// session's own endpoint is queried for its current state).
pub async fn locate(connection: &ConnectionArgs, selector: &SessionSelector) -> Result<Vec<Located>, String> {
    if connection.has_target() {
        if !selector.id.is_empty() || !selector.session.is_empty() {
            return Err("--id and --session refer to the local session store; use --name or --instance-id with \
                        --computer-name or --connection-uri"
                .to_owned());
        }
        let auth = connection.authentication(None)?;
        let mut found = Vec::new();
        let mut filter = selector.filter();
        // -ConfigurationName: only the sessions of that configuration (with or without the URI prefix).
        filter.configuration_names.extend(connection.configuration_name.iter().cloned());
        let clients: Vec<Client> =
            connection.targets()?.into_iter().map(|t| connection.client(t, auth.clone())).collect::<Result<_, _>>()?;
        let progress = Rc::new(Progress::stderr("Querying", clients.len()));
        let results = fan_out(
            clients,
            connection.throttle_limit,
            |client| {
                let filter = filter.clone();
                let progress = Rc::clone(&progress);
                async move {
                    let listing = client.list_sessions(&filter).await;
                    progress.advance(client.target().computer_name_str());
                    Ok::<_, Error>((client, listing?))
                }
            },
            |_| Error::MalformedResponse("the query task failed".to_owned()),
        )
        .await;
        drop(progress);
        let mut errors = Vec::new();
        for (client, result) in results {
            match result {
                Ok((client, listing)) => {
                    for skipped in &listing.skipped {
                        let name = if skipped.name.is_empty() {
                            skipped.instance_id.to_string()
                        } else {
                            skipped.name.clone()
                        };
                        eprintln!(
                            "WARNING: session {name} on {} is left out: its commands could not be listed ({})",
                            client.target().computer_name_str(),
                            skipped.reason
                        );
                    }
                    let sessions = listing.sessions;
                    // One client identity (one connection, one WS-Man SessionId) per session, as PowerShell
                    // gives each PSSession its own, so that sessions can be worked on in parallel; and at the
                    // session's own configuration (its ResourceURI), which the query may not have named.
                    for info in sessions {
                        let target = client.target().clone().with_configuration_name(&info.configuration_name);
                        found.push(Located { client: connection.client(target, auth.clone())?, info });
                    }
                }
                Err(e) => errors.push(format!("{}: {e}", client.target().computer_name_str())),
            }
        }
        for e in &errors {
            eprintln!("pssession: {e}");
        }
        if found.is_empty() && !errors.is_empty() {
            return Err("no computer could be queried".to_owned());
        }
        return Ok(found);
    }
    if selector.is_empty() {
        return Err("name the sessions with --name, --id or --instance-id, or give --computer-name".to_owned());
    }
    let records: Vec<SessionRecord> =
        store()?.list().map_err(|e| e.to_string())?.into_iter().filter(|r| selector.selects(r)).collect();
    if records.is_empty() {
        return Err("no session in the local store matches".to_owned());
    }
    let mut located = Vec::new();
    let progress = Progress::stderr("Querying", records.len());
    for record in records {
        let target = ConnectionTarget::connection_uri(&record.connection_uri)
            .map_err(|e| e.to_string())?
            .with_configuration_name(&record.configuration_name)
            .with_display_computer_name(&record.computer_name);
        let auth = connection.authentication(record.user.as_deref())?;
        let client = connection.client(target, auth)?;
        let filter = SessionFilter { instance_ids: vec![record.instance_id], ..SessionFilter::default() };
        let result = client.get_sessions(&filter).await;
        progress.advance(&record.name);
        if !matches!(&result, Ok(sessions) if !sessions.is_empty()) {
            progress.clear();
        }
        match result {
            Ok(mut sessions) if !sessions.is_empty() => {
                located.push(Located { client, info: sessions.remove(0) });
            }
            Ok(_) => {
                eprintln!(
                    "pssession: session {} ({}) no longer exists on {}",
                    record.id, record.name, record.computer_name
                );
                let _ = store()?.update(|s| s.set_state(record.id, SessionState::Broken, Availability::None));
            }
            Err(e) => eprintln!("pssession: {}: {e}", record.computer_name),
        }
    }
    Ok(located)
}

/// One row of the session table.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Row {
    /// Local Id.
    pub id: u32,
    /// Name.
    pub name: String,
    /// InstanceId.
    pub instance_id: Uuid,
    /// ComputerName.
    pub computer_name: String,
    /// ComputerType (`RemoteMachine`), shown by `get` only, as Get-PSSession's table has it and the tables of the
    /// other cmdlets do not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computer_type: Option<String>,
    /// State.
    pub state: String,
    /// ConfigurationName.
    pub configuration_name: String,
    /// Availability.
    pub availability: String,
}

impl Row {
    /// The row of a stored session.
    pub fn from_record(record: &SessionRecord) -> Self {
        Row {
            id: record.id,
            name: record.name.clone(),
            instance_id: record.instance_id,
            computer_name: record.computer_name.clone(),
            computer_type: None,
            state: format!("{:?}", record.state),
            configuration_name: record.configuration_name.clone(),
            availability: format!("{:?}", record.availability),
        }
    }

    /// The row with Get-PSSession's `ComputerType` column: `RemoteMachine`, as for every session on a computer
    /// (PowerShell's other values are for containers and Hyper-V VMs, which WS-Man does not reach).
    pub fn with_computer_type(self) -> Self {
        Row { computer_type: Some(REMOTE_MACHINE.to_owned()), ..self }
    }
}

/// Get-PSSession's `ComputerType` of a session on a computer.
pub const REMOTE_MACHINE: &str = "RemoteMachine";

/// Prints rows as PowerShell's table or as JSON.
pub fn print_rows(rows: &[Row], format: OutputFormat) {
    match format {
        OutputFormat::Json => match serde_json::to_string_pretty(rows) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("pssession: {e}"),
        },
        OutputFormat::Table => {
            if rows.is_empty() {
                return;
            }
            print!("{}", render_table(rows));
        }
    }
}

/// The table text (`Id Name ComputerName State ConfigurationName Availability`), with Get-PSSession's
/// `ComputerType` column after `ComputerName` when the rows have one ([`Row::with_computer_type`]).
pub fn render_table(rows: &[Row]) -> String {
    let with_type = rows.iter().any(|r| r.computer_type.is_some());
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut cells = vec![r.id.to_string(), r.name.clone(), r.computer_name.clone()];
            if with_type {
                cells.push(r.computer_type.clone().unwrap_or_default());
            }
            cells.extend([r.state.clone(), r.configuration_name.clone(), r.availability.clone()]);
            cells
        })
        .collect();
    // Id and Availability are right-aligned, as in PowerShell's view.
    if with_type {
        render_columns(
            &["Id", "Name", "ComputerName", "ComputerType", "State", "ConfigurationName", "Availability"],
            &[0, 6],
            &cells,
        )
    } else {
        render_columns(&["Id", "Name", "ComputerName", "State", "ConfigurationName", "Availability"], &[0, 5], &cells)
    }
}

/// A PowerShell-style table: a blank line, headers, dashes under each header, the rows, a blank line. Columns
/// are as wide as their widest cell; those listed in `right_aligned` are right-aligned.
pub fn render_columns(headers: &[&str], right_aligned: &[usize], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter().filter_map(|c| c.get(i)).map(|c| c.chars().count()).chain([headers[i].len()]).max().unwrap_or(0)
        })
        .collect();
    let line = |values: &[&str]| {
        let mut out = String::new();
        for (i, width) in widths.iter().enumerate() {
            let value = values.get(i).copied().unwrap_or("");
            let cell = if right_aligned.contains(&i) { format!("{value:>width$}") } else { format!("{value:<width$}") };
            out.push_str(&cell);
            out.push(' ');
        }
        let mut out = out.trim_end_matches(' ').to_owned();
        out.push('\n');
        out
    };
    let mut out = String::from("\n");
    out.push_str(&line(headers));
    let dashes: Vec<String> = headers.iter().map(|h| "-".repeat(h.len())).collect();
    out.push_str(&line(&dashes.iter().map(String::as_str).collect::<Vec<_>>()));
    for row in rows {
        out.push_str(&line(&row.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    out.push('\n');
    out
}

/// How pipeline output objects are printed (`receive`, `invoke`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ObjectFormat {
    /// As PowerShell's host shows them: each type's view, else a table up to four properties and a list above.
    #[default]
    Text,
    /// Always tables (`Format-Table`).
    Table,
    /// Always lists (`Format-List`).
    List,
    /// One JSON value per object on stdout (JSON Lines); the other streams as JSON objects on stderr.
    Json,
    /// Each object's raw CLIXML, one per line.
    Clixml,
}

impl ObjectFormat {
    /// How the session rows a command prints besides objects are shown: JSON for `json`, else the table.
    pub fn rows(self) -> OutputFormat {
        match self {
            ObjectFormat::Json => OutputFormat::Json,
            _ => OutputFormat::Table,
        }
    }
}

/// The environment variable with the terminal's width (shells set it); 120 columns when absent.
pub const COLUMNS_ENV: &str = "COLUMNS";

/// The width tables are cut to: `$COLUMNS`, else 120 (a Windows console's default).
pub fn terminal_width() -> usize {
    std::env::var(COLUMNS_ENV).ok().and_then(|c| c.trim().parse().ok()).filter(|&w: &usize| w > 0).unwrap_or(120)
}

/// How long a table waits for more rows before fixing its column widths, as PowerShell's table writer does.
pub const TABLE_GROUPING_PAUSE: Duration = Duration::from_millis(300);

/// Prints pipeline events one at a time as they arrive, like a PowerShell host: output objects to stdout
/// through [`pssession_format::Formatter`] (or as JSON Lines, or raw CLIXML), the other streams to stderr with
/// their prefixes (as JSON objects with their stream name in JSON mode). What a table holds back is printed by
/// [`OutputPrinter::finish`], which dropping the printer also does.
pub struct OutputPrinter {
    format: ObjectFormat,
    /// One deserializer for the stream: objects of one shape are read by matching the first one's markup.
    de: Deserializer,
    formatter: Formatter,
    /// The text of the current object, reused from one object to the next.
    text: String,
    /// Since when the formatter has held rows back.
    pending_since: Option<Instant>,
    failed: bool,
}

impl OutputPrinter {
    /// A printer in this format, cut to the terminal's width.
    pub fn new(format: ObjectFormat) -> Self {
        let shape = match format {
            ObjectFormat::Table => Shape::Table,
            ObjectFormat::List => Shape::List,
            _ => Shape::Auto,
        };
        OutputPrinter {
            format,
            de: Deserializer::default(),
            formatter: Formatter::new(FormatOptions { width: terminal_width(), shape }),
            text: String::new(),
            pending_since: None,
            failed: false,
        }
    }

    /// Whether an error record or a failed state was printed.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Prints one event.
    pub fn print(&mut self, output: &PipelineOutput) {
        match &output.event {
            PipelineEvent::Output(value) => self.print_object(value),
            PipelineEvent::Error(record) => {
                self.failed = true;
                self.print_record("Error", record, || render_error_record(record));
            }
            PipelineEvent::Warning(record) => self.print_record("Warning", record, || format!("WARNING: {record}")),
            PipelineEvent::Verbose(record) => self.print_record("Verbose", record, || format!("VERBOSE: {record}")),
            PipelineEvent::Debug(record) => self.print_record("Debug", record, || format!("DEBUG: {record}")),
            PipelineEvent::Information(record) => self.print_record("Information", record, || record.to_string()),
            PipelineEvent::Progress(record) if self.format == ObjectFormat::Json => {
                self.print_record("Progress", record, String::new)
            }
            PipelineEvent::State { error: Some(error), .. } => {
                self.failed = true;
                if self.format == ObjectFormat::Json {
                    let line = serde_json::json!({
                        "Stream": "Error",
                        "Message": error.message,
                        "FullyQualifiedErrorId": error.fully_qualified_error_id,
                    });
                    write_stderr(&format!("{line}\n"));
                } else {
                    self.flush_table();
                    write_stderr(&format!("{error}\n"));
                }
            }
            _ => {}
        }
    }

    fn print_object(&mut self, value: &pssession_psrp::client::Clixml) {
        self.text.clear();
        match self.format {
            ObjectFormat::Clixml => {
                self.text.push_str(value.as_str());
                self.text.push('\n');
            }
            ObjectFormat::Json => match value.value_with(&mut self.de) {
                Ok(object) => write_json_line(&object, &mut self.text),
                Err(e) => {
                    let line = serde_json::json!({
                        "Stream": "Output",
                        "Message": format!("unreadable output object: {e}"),
                        "Clixml": value.as_str(),
                    });
                    write_stderr(&format!("{line}\n"));
                }
            },
            ObjectFormat::Text | ObjectFormat::Table | ObjectFormat::List => {
                match value.value_with(&mut self.de) {
                    Ok(object) => self.formatter.write(&object, &mut self.text),
                    Err(_) => {
                        // Not readable as an object: its text as the record readers see it, on a line of its own.
                        self.formatter.finish(&mut self.text);
                        self.text.push_str(&value.to_display_string_with(&mut self.de));
                        self.text.push('\n');
                    }
                }
                if self.formatter.has_pending() {
                    let since = *self.pending_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= TABLE_GROUPING_PAUSE {
                        self.formatter.flush(&mut self.text);
                    }
                }
                if !self.formatter.has_pending() {
                    self.pending_since = None;
                }
            }
        }
        write_stdout(&self.text);
    }

    /// A record of another stream: its text on stderr, or `{"Stream": …, "Message": …, "Record": …}` in JSON mode.
    fn print_record(&mut self, stream: &str, record: &pssession_psrp::client::Clixml, text: impl FnOnce() -> String) {
        if self.format == ObjectFormat::Json {
            let value = record.value_with(&mut self.de).map(|v| v.to_json()).unwrap_or(serde_json::Value::Null);
            let message = match stream {
                "Progress" => serde_json::Value::Null,
                _ => serde_json::Value::String(record.to_display_string_with(&mut self.de)),
            };
            let line = serde_json::json!({ "Stream": stream, "Message": message, "Record": value });
            write_stderr(&format!("{line}\n"));
        } else {
            // Rows held back for their widths were produced before this record: they go out first.
            self.flush_table();
            write_stderr(&format!("{}\n", text()));
        }
    }

    /// Fixes a held-back table's widths once no object has come for [`TABLE_GROUPING_PAUSE`], as PowerShell's
    /// table writer does, so a slow command's first rows show before it ends.
    pub fn flush_after_pause(&mut self) {
        if self.pending_since.is_some_and(|since| since.elapsed() >= TABLE_GROUPING_PAUSE) {
            self.flush_table();
        }
    }

    fn flush_table(&mut self) {
        if self.formatter.has_pending() {
            self.text.clear();
            self.formatter.flush(&mut self.text);
            write_stdout(&self.text);
            self.pending_since = None;
        }
    }

    /// Prints what the formatter holds back and closes its last table or list.
    pub fn finish(&mut self) {
        self.text.clear();
        self.formatter.finish(&mut self.text);
        write_stdout(&self.text);
        self.pending_since = None;
    }
}

impl Drop for OutputPrinter {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Runs `receive` (whose sink prints through `printer`), giving the printer a chance every
/// [`TABLE_GROUPING_PAUSE`] to print a table it holds back ([`OutputPrinter::flush_after_pause`]).
pub async fn with_table_pauses<F: std::future::Future>(
    printer: &std::cell::RefCell<OutputPrinter>,
    receive: F,
) -> F::Output {
    let mut receive = std::pin::pin!(receive);
    loop {
        tokio::select! {
            output = &mut receive => return output,
            // The sink borrows the printer only while `receive` is polled, never across this arm.
            () = tokio::time::sleep(TABLE_GROUPING_PAUSE) => printer.borrow_mut().flush_after_pause(),
        }
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn write_stdout(text: &str) {
    use std::io::Write as _;
    if !text.is_empty() {
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }
}

fn write_stderr(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// An error record as Windows PowerShell's host prints it: the message, then the category and the error id.
/// Anything that is not a readable ErrorRecord prints as its text.
pub fn render_error_record(record: &pssession_psrp::client::Clixml) -> String {
    use pssession_psrp::messages::ErrorRecord;
    let Ok(typed) = record.value().map_err(|_| ()).and_then(|v| ErrorRecord::from_value(&v).map_err(|_| ())) else {
        return record.to_string();
    };
    let mut text = record.to_string();
    if !typed.reason.is_empty() || !typed.activity.is_empty() {
        text.push_str(&format!("\n    + CategoryInfo          : {}", typed.category_message()));
    }
    if !typed.fully_qualified_error_id.is_empty() {
        text.push_str(&format!("\n    + FullyQualifiedErrorId : {}", typed.fully_qualified_error_id));
    }
    text
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

/// Records a session a subcommand leaves behind; for one it left because of Ctrl-C (`interrupted`), also says on
/// stderr how to resume it.
pub fn remember_left(
    store: &SessionStore,
    info: SessionInfo,
    client: &Client,
    interrupted: bool,
) -> Result<Vec<SessionRecord>, String> {
    let (name, instance_id) = (info.name.clone(), info.instance_id);
    let records = remember(store, &[info], &endpoint_of(client), user_of(client).as_deref())?;
    if interrupted {
        crate::interrupt::print_resume_hint(&name, instance_id);
    }
    Ok(records)
}

/// Records in the store what a failed operation says about session `instance_id`: gone from the server (Broken), or
/// cut off by the network for longer than the client retried (Disconnected: the server keeps it, and disconnects
/// it on its side when it sees the client gone, so a later `pssession receive` resumes it).
pub fn record_failure(store: &SessionStore, instance_id: Uuid, error: &Error) -> Result<(), String> {
    match error {
        Error::SessionNotFound { instance_id } => {
            store.update(|s| s.mark_broken(*instance_id)).map_err(|e| e.to_string())?;
        }
        Error::ConnectionInterrupted { .. } => {
            store.update(|s| s.mark_disconnected(instance_id)).map_err(|e| e.to_string())?;
        }
        _ => {}
    }
    Ok(())
}

/// The owner a session is recorded with.
pub fn user_of(client: &Client) -> Option<String> {
    client.user().map(str::to_owned)
}

/// The endpoint text a session is recorded with.
pub fn endpoint_of(client: &Client) -> String {
    client.target().endpoint().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_records_render_like_windows_powershell() {
        use pssession_psrp::messages::{ErrorCategory, ErrorRecord, MessageBody};
        let mut record = ErrorRecord::new(
            "The term 'foo' is not recognized as the name of a cmdlet.",
            "System.Management.Automation.CommandNotFoundException",
            "CommandNotFoundException",
            ErrorCategory::OBJECT_NOT_FOUND,
        );
        record.target_name = "foo".into();
        record.target_type = "String".into();
        let clixml =
            pssession_psrp::client::Clixml::new(bytes::Bytes::from(record.encode()[3..].to_vec())).expect("utf-8");
        assert_eq!(
            render_error_record(&clixml),
            "The term 'foo' is not recognized as the name of a cmdlet.\n    \
             + CategoryInfo          : ObjectNotFound: (foo:String) [], CommandNotFoundException\n    \
             + FullyQualifiedErrorId : CommandNotFoundException"
        );
        let plain = pssession_psrp::client::Clixml::new(bytes::Bytes::from_static(b"<S>just text</S>")).expect("utf-8");
        assert_eq!(render_error_record(&plain), "just text");
    }

    #[test]
    fn session_option_flags_reach_the_session_options() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            connection: ConnectionArgs,
        }
        let defaults = Cli::parse_from(["pssession"]).connection.session_options().expect("options");
        assert_eq!(defaults.maximum_connection_redirection_count, 5);
        assert_eq!(defaults.maximum_received_object_size, 200 << 20);
        assert_eq!(defaults.maximum_received_data_size_per_command, None);
        let environment = pssession_connect::options::Cultures::from_environment();
        assert_eq!((defaults.culture, defaults.ui_culture), (environment.culture, environment.ui_culture));
        let cli = Cli::parse_from([
            "pssession",
            "--maximum-redirection",
            "2",
            "--culture",
            "de-DE",
            "--ui-culture",
            "fr-FR",
            "--maximum-received-object-size-mb",
            "10",
            "--maximum-received-data-size-per-command-mb",
            "50",
        ]);
        let options = cli.connection.session_options().expect("options");
        assert_eq!(options.maximum_connection_redirection_count, 2);
        assert_eq!((options.culture.as_str(), options.ui_culture.as_str()), ("de-DE", "fr-FR"));
        assert_eq!(options.maximum_received_object_size, 10 << 20);
        assert_eq!(options.maximum_received_data_size_per_command, Some(50 << 20));
    }

    #[test]
    fn table_looks_like_get_pssession() {
        let rows = [Row {
            id: 1,
            name: "ITTask".to_owned(),
            instance_id: Uuid::nil(),
            computer_name: "Server01".to_owned(),
            computer_type: None,
            state: "Disconnected".to_owned(),
            configuration_name: "Microsoft.PowerShell".to_owned(),
            availability: "None".to_owned(),
        }];
        assert_eq!(
            render_table(&rows),
            "\nId Name   ComputerName State        ConfigurationName    Availability\n\
             -- ----   ------------ -----        -----------------    ------------\n\
             \x201 ITTask Server01     Disconnected Microsoft.PowerShell         None\n\n"
        );
        let rows = rows.map(Row::with_computer_type);
        assert_eq!(
            render_table(&rows),
            "\nId Name   ComputerName ComputerType  State        ConfigurationName    Availability\n\
             -- ----   ------------ ------------  -----        -----------------    ------------\n\
             \x201 ITTask Server01     RemoteMachine Disconnected Microsoft.PowerShell         None\n\n"
        );
        let json = serde_json::to_value(&rows[0]).expect("json");
        assert_eq!(json["ComputerType"], "RemoteMachine");
        let json = serde_json::to_value(Row { computer_type: None, ..rows[0].clone() }).expect("json");
        assert!(json.get("ComputerType").is_none(), "only get has the column: {json}");
    }

    #[test]
    fn selector_matches_stored_sessions() {
        let record = SessionRecord {
            id: 3,
            name: "ITTask".to_owned(),
            instance_id: Uuid::from_u128(9),
            computer_name: "s".to_owned(),
            connection_uri: "http://s:5985/wsman".to_owned(),
            configuration_name: "Microsoft.PowerShell".to_owned(),
            user: None,
            state: SessionState::Disconnected,
            availability: Availability::None,
        };
        let by_name = SessionSelector { name: vec!["it*".to_owned()], ..SessionSelector::default() };
        assert!(by_name.selects(&record));
        let by_id = SessionSelector { id: vec![4], ..SessionSelector::default() };
        assert!(!by_id.selects(&record));
        assert!(SessionSelector::default().is_empty());
        assert_eq!(buffering_mode(Some("drop")), Ok(OutputBufferingMode::Drop));
        assert!(buffering_mode(Some("x")).is_err());
    }
}
