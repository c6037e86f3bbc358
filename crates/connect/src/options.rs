//! Where a session lives and how to talk to it: New-PSSessionOption's settings and the connection target.

use std::fmt;
use std::time::Duration;

use pssession_wsman::transport::{EndpointUri, TlsOptions, TransportOptions};

use crate::error::Error;

/// The prefix PowerShell prepends to a `-ConfigurationName` that does not have it.
pub const RESOURCE_URI_PREFIX: &str = "http://schemas.microsoft.com/powershell/";

/// The default session configuration.
pub const DEFAULT_CONFIGURATION_NAME: &str = "Microsoft.PowerShell";

/// The shortest idle timeout PowerShell accepts for Disconnect-PSSession: 60 seconds.
pub const MIN_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a session retries a request that failed on the network (PowerShell's robust connections: 4 minutes).
pub const DEFAULT_MAX_RETRY_CONNECTION_TIME: Duration = Duration::from_secs(240);

/// What happened to a session's connection, as PowerShell's `PSConnectionRetryStatus` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionNotice {
    /// The first request failed on the network; retries follow for up to `retry_for`.
    NetworkFailureDetected {
        /// The session's name.
        session: String,
        /// The computer it lives on.
        computer: String,
        /// How long the retries may last.
        retry_for: Duration,
        /// Why the request failed.
        reason: String,
    },
    /// A request is about to be sent again (`attempt` counts from 1).
    RetryAttempt {
        /// The session's name.
        session: String,
        /// The computer it lives on.
        computer: String,
        /// The number of this resend.
        attempt: u32,
    },
    /// A resend got through: the session goes on.
    RetrySucceeded {
        /// The session's name.
        session: String,
        /// The computer it lives on.
        computer: String,
    },
    /// The retries are over: the session is Disconnected on this side, and the server disconnects it when it
    /// sees its client gone.
    GaveUp {
        /// The session's name.
        session: String,
        /// The computer it lives on.
        computer: String,
        /// How many resends were made.
        attempts: u32,
    },
}

/// A callback for [`ConnectionNotice`]s ([`SessionOptions::connection_observer`]).
#[derive(Clone)]
pub struct ConnectionObserver(std::sync::Arc<dyn Fn(&ConnectionNotice) + Send + Sync>);

impl ConnectionObserver {
    /// Calls `notify` with every notice.
    pub fn new(notify: impl Fn(&ConnectionNotice) + Send + Sync + 'static) -> Self {
        ConnectionObserver(std::sync::Arc::new(notify))
    }

    /// Hands `notice` to the callback.
    pub fn notify(&self, notice: &ConnectionNotice) {
        (self.0)(notice);
    }
}

impl fmt::Debug for ConnectionObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConnectionObserver(..)")
    }
}

/// What the server does with output while nobody is connected (`-OutputBufferingMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OutputBufferingMode {
    /// Keep the server's setting (PowerShell's `None`; the server default is Block).
    #[default]
    None,
    /// Pause the command when the output buffer is full.
    Block,
    /// Discard the oldest output when the buffer is full.
    Drop,
}

impl OutputBufferingMode {
    /// The `rsp:BufferMode` text, `None` for the server's setting.
    pub fn wire_name(self) -> Option<&'static str> {
        match self {
            OutputBufferingMode::None => None,
            OutputBufferingMode::Block => Some("Block"),
            OutputBufferingMode::Drop => Some("Drop"),
        }
    }

    /// Parses PowerShell's names (`None`, `Block`, `Drop`), ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<Self> {
        [OutputBufferingMode::None, OutputBufferingMode::Block, OutputBufferingMode::Drop]
            .into_iter()
            .find(|m| m.to_string().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for OutputBufferingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name().unwrap_or("None"))
    }
}

/// The settings of `New-PSSessionOption` this library implements. Defaults are PowerShell's.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SessionOptions {
    /// Longest a single WS-Man operation may take (`-OperationTimeout`, 3 minutes). A Receive that sees no data in
    /// this time is answered with a timeout fault and simply repeated.
    pub operation_timeout: Duration,
    /// Longest to wait for the connection and the session to open (`-OpenTimeout`, 3 minutes).
    pub open_timeout: Duration,
    /// How long the server keeps a disconnected session (`-IdleTimeout`); `None` = the server's default.
    pub idle_timeout: Option<Duration>,
    /// Output buffering while disconnected (`-OutputBufferingMode`).
    pub output_buffering_mode: OutputBufferingMode,
    /// How many times a request that failed on the network is sent again at least before the session gives up
    /// and is Disconnected (`-MaxConnectionRetryCount`, 5). Receives are only resent to a server that retains
    /// their responses (see the crate README, "Nothing lost"); Disconnect, Reconnect and Signal always are.
    pub max_connection_retry_count: u32,
    /// How long, at least, the session keeps retrying a request that fails on the network before it gives up
    /// (PowerShell's robust connections: "Attempting to reconnect for up to 4 minutes"; 4 minutes). It gives up
    /// once both this time has passed since the first failure and `max_connection_retry_count` resends were made,
    /// so `Duration::ZERO` leaves only the count. Measured on tokio's clock (tests pause it).
    pub max_retry_connection_time: Duration,
    /// Told about each network failure, retry and give-up ([`ConnectionNotice`]), besides the `tracing` warning
    /// the library logs for each; the CLI prints PowerShell's warnings from it.
    pub connection_observer: Option<ConnectionObserver>,
    /// Redirects followed at most (`-MaximumRedirection`, 5); only with [`SessionOptions::allow_redirection`].
    pub maximum_connection_redirection_count: u32,
    /// Follow redirects (`-AllowRedirection`).
    pub allow_redirection: bool,
    /// `-NoEncryption` ([`DangerousSessionOptions::no_encryption`]).
    no_encryption: bool,
    /// `wsmv:DataLocale` (`-Culture`). By default the user's locale, as PowerShell sends its current culture:
    /// see [`Cultures::from_environment`]; `en-US` when the environment names none.
    pub culture: String,
    /// `wsman:Locale` (`-UICulture`). By default the user's locale for messages, else `en-US`.
    pub ui_culture: String,
    /// Largest single object received (`-MaximumReceivedObjectSizeMB`, 200 MiB).
    pub maximum_received_object_size: usize,
    /// Most data received per command (`-MaximumReceivedDataSizePerCommandMB`); `None` = unlimited.
    pub maximum_received_data_size_per_command: Option<usize>,
    /// An HTTP proxy, `http://host:port`.
    pub proxy: Option<String>,
    /// `wsman:MaxEnvelopeSize` in bytes (512000, PowerShell's default for protocol 2.2+).
    pub max_envelope_size: usize,
    /// How HTTPS verifies the server and which client certificate it presents: extra trusted roots
    /// (`TlsOptions::trust_pem`), the client certificate of `-CertificateThumbprint` (with
    /// [`crate::authentication::AuthenticationMechanism::Certificate`]; its key never appears in Debug output),
    /// and `-SkipCACheck`/`-SkipCNCheck` through `tls.dangerous()`.
    pub tls: TlsOptions,
}

/// The dangerous half of [`SessionOptions`], from [`SessionOptions::dangerous`].
#[derive(Debug)]
pub struct DangerousSessionOptions<'a> {
    options: &'a mut SessionOptions,
}

impl DangerousSessionOptions<'_> {
    /// `-NoEncryption`: send bodies unencrypted over HTTP (and allow Basic there), where anyone on the path reads
    /// them. Needed only for servers configured with `AllowUnencrypted`.
    pub fn no_encryption(&mut self, unencrypted: bool) -> &mut Self {
        self.options.no_encryption = unencrypted;
        self
    }
}

/// The culture names PowerShell would send for a POSIX user's locale settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cultures {
    /// `wsmv:DataLocale`: formatting of numbers and dates (`LC_ALL`, else `LC_TIME`, else `LANG`).
    pub culture: String,
    /// `wsman:Locale`: the language of messages (`LC_ALL`, else `LC_MESSAGES`, else `LANG`).
    pub ui_culture: String,
}

/// The culture used when the environment names none (or only `C`/`POSIX`).
pub const FALLBACK_CULTURE: &str = "en-US";

impl Cultures {
    /// From the process environment, with POSIX precedence: a set, non-empty `LC_ALL` wins, then the category
    /// variable, then `LANG`.
    pub fn from_environment() -> Self {
        Cultures::from_variables(|name| std::env::var(name).ok())
    }

    /// From `variable` (a lookup of environment variables by name), for [`Cultures::from_environment`] and tests.
    pub fn from_variables(variable: impl Fn(&str) -> Option<String>) -> Self {
        let pick = |category: &str| {
            ["LC_ALL", category, "LANG"]
                .into_iter()
                .filter_map(|name| variable(name).filter(|v| !v.is_empty()))
                .next()
                .and_then(|value| culture_name(&value))
                .unwrap_or_else(|| FALLBACK_CULTURE.to_owned())
        };
        Cultures { culture: pick("LC_TIME"), ui_culture: pick("LC_MESSAGES") }
    }
}

/// The .NET culture name of a POSIX locale: `de_DE.UTF-8@euro` → `de-DE`, `fr` → `fr`; `None` for `C`, `POSIX`
/// and anything that is not `language[_TERRITORY]` in ASCII letters.
pub fn culture_name(locale: &str) -> Option<String> {
    let base = locale.split(['.', '@']).next().unwrap_or_default();
    let (language, territory) = match base.split_once('_') {
        Some((language, territory)) => (language, Some(territory)),
        None => (base, None),
    };
    let letters = |text: &str, range: std::ops::RangeInclusive<usize>| {
        range.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphabetic())
    };
    if !letters(language, 2..=3) || language.eq_ignore_ascii_case("C") {
        return None;
    }
    let language = language.to_ascii_lowercase();
    match territory {
        None => Some(language),
        Some(territory) if letters(territory, 2..=3) => Some(format!("{language}-{}", territory.to_ascii_uppercase())),
        Some(_) => None,
    }
}

impl Default for SessionOptions {
    fn default() -> Self {
        let cultures = Cultures::from_environment();
        SessionOptions {
            operation_timeout: Duration::from_secs(180),
            open_timeout: Duration::from_secs(180),
            idle_timeout: None,
            output_buffering_mode: OutputBufferingMode::None,
            max_connection_retry_count: 5,
            max_retry_connection_time: DEFAULT_MAX_RETRY_CONNECTION_TIME,
            connection_observer: None,
            maximum_connection_redirection_count: 5,
            allow_redirection: false,
            no_encryption: false,
            culture: cultures.culture,
            ui_culture: cultures.ui_culture,
            maximum_received_object_size: 200 << 20,
            maximum_received_data_size_per_command: None,
            proxy: None,
            max_envelope_size: 512_000,
            tls: TlsOptions::default(),
        }
    }
}

impl SessionOptions {
    /// The setting that weakens message security (`-NoEncryption`), kept behind one call so that it stands out where
    /// it is used (rustls' `dangerous()`); the TLS ones are `tls.dangerous()`.
    pub fn dangerous(&mut self) -> DangerousSessionOptions<'_> {
        DangerousSessionOptions { options: self }
    }

    /// Whether bodies go unencrypted over HTTP.
    pub fn sends_unencrypted(&self) -> bool {
        self.no_encryption
    }

    /// The HTTP transport settings these options imply.
    pub fn transport_options(&self) -> Result<TransportOptions, Error> {
        let mut options = TransportOptions::default();
        options.tls = self.tls.clone();
        options.connect_timeout = self.open_timeout;
        options.request_timeout = self.operation_timeout + Duration::from_secs(30);
        options.allow_redirection = self.allow_redirection;
        options.max_redirections =
            Some(if self.allow_redirection { self.maximum_connection_redirection_count } else { 0 });
        options.proxy = match &self.proxy {
            Some(proxy) => {
                Some(EndpointUri::from_connection_uri(proxy).map_err(|e| Error::InvalidOption(format!("proxy: {e}")))?)
            }
            None => None,
        };
        Ok(options)
    }
}

/// Where the sessions are: `-ComputerName` (+ `-Port`, `-UseSSL`, `-ApplicationName`) or `-ConnectionUri`, and the
/// session configuration (`-ConfigurationName`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionTarget {
    endpoint: EndpointUri,
    computer_name: String,
    configuration_name: String,
}

impl ConnectionTarget {
    /// `-ComputerName name [-Port p] [-UseSSL] [-ApplicationName app]`.
    pub fn computer_name(
        computer_name: &str,
        port: Option<u16>,
        use_ssl: bool,
        application_name: Option<&str>,
    ) -> Result<Self, Error> {
        let endpoint = EndpointUri::from_computer_name(computer_name, port, use_ssl, application_name)
            .map_err(|e| Error::InvalidTarget(e.to_string()))?;
        Ok(ConnectionTarget {
            endpoint,
            computer_name: computer_name.trim().to_owned(),
            configuration_name: DEFAULT_CONFIGURATION_NAME.to_owned(),
        })
    }

    /// `-ConnectionUri uri`.
    pub fn connection_uri(uri: &str) -> Result<Self, Error> {
        let endpoint = EndpointUri::from_connection_uri(uri).map_err(|e| Error::InvalidTarget(e.to_string()))?;
        let computer_name = endpoint.host().to_owned();
        Ok(ConnectionTarget { endpoint, computer_name, configuration_name: DEFAULT_CONFIGURATION_NAME.to_owned() })
    }

    /// Sets `-ConfigurationName`; a name without the `http://schemas.microsoft.com/powershell/` prefix gets it.
    pub fn with_configuration_name(mut self, name: &str) -> Self {
        let name = name.trim();
        self.configuration_name = match name.strip_prefix(RESOURCE_URI_PREFIX) {
            Some(short) => short.to_owned(),
            None if name.is_empty() => DEFAULT_CONFIGURATION_NAME.to_owned(),
            None if name.contains("://") => name.to_owned(),
            None => name.to_owned(),
        };
        self
    }

    /// Replaces the computer name shown for sessions (e.g. the name a stored session was found under).
    pub fn with_display_computer_name(mut self, computer_name: &str) -> Self {
        self.computer_name = computer_name.trim().to_owned();
        self
    }

    /// The endpoint address.
    pub fn endpoint(&self) -> &EndpointUri {
        &self.endpoint
    }

    /// The computer name as the user gave it (the host of a ConnectionUri).
    pub fn computer_name_str(&self) -> &str {
        &self.computer_name
    }

    /// The configuration name without the prefix (`Microsoft.PowerShell`), or a full foreign URI.
    pub fn configuration_name(&self) -> &str {
        &self.configuration_name
    }

    /// The `wsman:ResourceURI` of the configuration.
    pub fn resource_uri(&self) -> String {
        if self.configuration_name.contains("://") {
            self.configuration_name.clone()
        } else {
            format!("{RESOURCE_URI_PREFIX}{}", self.configuration_name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_locales_become_culture_names() {
        assert_eq!(culture_name("de_DE.UTF-8").as_deref(), Some("de-DE"));
        assert_eq!(culture_name("fr_CA.ISO-8859-1@euro").as_deref(), Some("fr-CA"));
        assert_eq!(culture_name("ja").as_deref(), Some("ja"));
        assert_eq!(culture_name("en_us").as_deref(), Some("en-US"));
        for none in ["C", "C.UTF-8", "POSIX", "", "de_DE1", "x", "de-DE;rm"] {
            assert_eq!(culture_name(none), None, "{none}");
        }
    }

    #[test]
    fn cultures_follow_posix_precedence() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned())
        };
        let c = Cultures::from_variables(env(&[("LANG", "de_DE.UTF-8")]));
        assert_eq!((c.culture.as_str(), c.ui_culture.as_str()), ("de-DE", "de-DE"));
        let c = Cultures::from_variables(env(&[("LANG", "de_DE.UTF-8"), ("LC_MESSAGES", "en_GB.UTF-8")]));
        assert_eq!((c.culture.as_str(), c.ui_culture.as_str()), ("de-DE", "en-GB"));
        let c = Cultures::from_variables(env(&[("LANG", "de_DE.UTF-8"), ("LC_TIME", "sv_SE"), ("LC_ALL", "fr_FR")]));
        assert_eq!((c.culture.as_str(), c.ui_culture.as_str()), ("fr-FR", "fr-FR"));
        // An empty LC_ALL does not count; C and unset fall back to en-US.
        let c = Cultures::from_variables(env(&[("LC_ALL", ""), ("LANG", "C.UTF-8")]));
        assert_eq!((c.culture.as_str(), c.ui_culture.as_str()), ("en-US", "en-US"));
        let c = Cultures::from_variables(env(&[]));
        assert_eq!((c.culture.as_str(), c.ui_culture.as_str()), ("en-US", "en-US"));
    }

    #[test]
    fn configuration_name_gets_the_prefix_once() {
        let t = ConnectionTarget::computer_name("server01", None, false, None).expect("target");
        assert_eq!(t.resource_uri(), "http://schemas.microsoft.com/powershell/Microsoft.PowerShell");
        let t = t.with_configuration_name("ITTasks");
        assert_eq!(t.configuration_name(), "ITTasks");
        assert_eq!(t.resource_uri(), "http://schemas.microsoft.com/powershell/ITTasks");
        let t = t.with_configuration_name("http://schemas.microsoft.com/powershell/Microsoft.PowerShell32");
        assert_eq!(t.configuration_name(), "Microsoft.PowerShell32");
        assert_eq!(t.endpoint().to_string(), "http://server01:5985/wsman");
    }

    #[test]
    fn connection_uri_and_ssl_ports() {
        let t = ConnectionTarget::computer_name("srv", Some(0), true, None).expect("target");
        assert_eq!(t.endpoint().port(), 5986);
        let t = ConnectionTarget::connection_uri("https://srv.example/").expect("uri");
        assert_eq!(t.endpoint().to_string(), "https://srv.example:443/wsman");
        assert_eq!(t.computer_name_str(), "srv.example");
        assert!(ConnectionTarget::connection_uri("ftp://x").is_err());
    }

    #[test]
    fn buffering_mode_names() {
        assert_eq!(OutputBufferingMode::from_name("drop"), Some(OutputBufferingMode::Drop));
        assert_eq!(OutputBufferingMode::Block.wire_name(), Some("Block"));
        assert_eq!(OutputBufferingMode::None.wire_name(), None);
        assert_eq!(OutputBufferingMode::from_name("x"), None);
    }

    #[test]
    fn transport_options_follow_session_options() {
        let mut o = SessionOptions::default();
        assert_eq!(o.transport_options().expect("ok").max_redirections, Some(0));
        o.allow_redirection = true;
        let t = o.transport_options().expect("ok");
        assert_eq!(t.max_redirections, Some(5));
        assert!(t.allow_redirection);
    }
}
