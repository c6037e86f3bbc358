//! `pssession serve` — runs the embedded WinRM endpoint until SIGINT or SIGTERM.
//!
//! Prints one line per listener (`listening: http://127.0.0.1:5985/wsman`) once it accepts connections. A port of
//! `0` disables that listener. HTTPS uses `--certificate`/`--key`, or a self-signed certificate generated once in
//! `--state-dir` and reused on later starts (trust that file on clients). `--keytab FILE` adds Kerberos.
//! Then one line per session change (created, disconnected, client lost, connected, deleted).

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use pssession_server::engine::{BuiltinEngine, EngineConfig};
use pssession_server::plugin::Plugin;
use pssession_server::powershell::PowerShellPlugin;
use pssession_server::{CertificateSource, Server, ServerCertificate, ServiceConfig, Users};

/// Arguments of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub listen: IpAddr,
    /// The HTTP port (0 disables HTTP).
    #[arg(long, default_value_t = 5985)]
    pub http_port: u16,
    /// The HTTPS port (0 disables HTTPS).
    #[arg(long, default_value_t = 0)]
    pub https_port: u16,
    /// The users file: one `user:password` per line (`#` comments).
    #[arg(long)]
    pub users_file: Option<PathBuf>,
    /// A single user (demo shortcut), with its password read from the environment variable `--password-env`.
    #[arg(long, requires = "password_env")]
    pub user: Option<String>,
    /// The environment variable holding the password of `--user`.
    #[arg(long, requires = "user")]
    pub password_env: Option<String>,
    /// Accept Basic and unencrypted bodies over plain HTTP (WinRM `AllowUnencrypted`). Dangerous.
    #[arg(long)]
    pub allow_unencrypted: bool,
    /// Offer CredSSP (clients then hand their password to this server).
    #[arg(long)]
    pub credssp: bool,
    /// The HTTPS certificate chain (PEM).
    #[arg(long, requires = "key")]
    pub certificate: Option<PathBuf>,
    /// The HTTPS private key (PEM).
    #[arg(long, requires = "certificate")]
    pub key: Option<PathBuf>,
    /// Accept Kerberos with the service keys of this MIT keytab (`ktutil`/`kadmin ktadd`; AES keys only), for
    /// tickets to any of its principals (e.g. `HTTP/host@REALM`). Principals `user@REALM` of the keytab's realms
    /// log on as `user` when `user` is listed in the users file. Not read from `KRB5_KTNAME` implicitly: Kerberos
    /// is on only when this is given.
    #[arg(long, value_name = "FILE")]
    pub keytab: Option<PathBuf>,
    /// Where a generated HTTPS certificate is kept.
    #[arg(long, default_value = "pssession-serve")]
    pub state_dir: PathBuf,
    /// Seconds a connected session's client may send nothing (no Receive, no keep-alive) before the session is
    /// taken as lost: it becomes Disconnected, its commands keep running, and any client may connect it. 0 never
    /// gives a client up. The default is the WinRM service's (PowerShell's ServerDefaultKeepAliveTimeoutMs).
    #[arg(long, value_name = "SECONDS", default_value_t = 240)]
    pub client_timeout_sec: u64,
}

fn read(path: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs `serve`.
pub async fn run(args: ServeArgs) -> Result<ExitCode, String> {
    let mut users = match &args.users_file {
        Some(path) => Users::load(path).map_err(|e| e.to_string())?,
        None => Users::default(),
    };
    if let (Some(name), Some(var)) = (&args.user, &args.password_env) {
        let password = zeroize::Zeroizing::new(
            std::env::var(var)
                .map_err(|_| format!("the environment variable {var} (password of {name}) is not set"))?,
        );
        users
            .add(pssession_server::User::new(name, &password).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    if users.is_empty() {
        return Err("no users: give --users-file or --user with --password-env".to_owned());
    }
    let mut config = ServiceConfig::default();
    config.allow_unencrypted = args.allow_unencrypted;
    config.client_keepalive_timeout =
        (args.client_timeout_sec != 0).then(|| std::time::Duration::from_secs(args.client_timeout_sec));
    let mut builder = Server::builder().config(config).users(&users).address(args.listen).credssp(args.credssp);
    if let Some(keytab) = &args.keytab {
        builder = builder.keytab_file(&keytab.display().to_string()).map_err(|e| e.to_string())?;
        println!("kerberos: keytab {}", keytab.display());
    }
    if args.http_port != 0 {
        builder = builder.http(args.http_port);
    }
    if args.https_port != 0 || args.credssp {
        let (certificate, key) = match (&args.certificate, &args.key) {
            (Some(c), Some(k)) => (read(c)?, read(k)?),
            _ => {
                let names = vec![args.listen.to_string(), "localhost".to_owned()];
                let (_, source) =
                    ServerCertificate::load_or_generate(&args.state_dir, &names).map_err(|e| e.to_string())?;
                match source {
                    CertificateSource::Generated { certificate } => {
                        println!("certificate: generated {}", certificate.display());
                    }
                    CertificateSource::Reused { certificate } => println!("certificate: {}", certificate.display()),
                    CertificateSource::Given => {}
                }
                let dir = &args.state_dir;
                (
                    read(&dir.join(pssession_server::certificate::GENERATED_CERTIFICATE))?,
                    read(&dir.join(pssession_server::certificate::GENERATED_KEY))?,
                )
            }
        };
        builder = builder.certificate_pem(&certificate, &key).map_err(|e| e.to_string())?;
        if args.https_port != 0 {
            builder = builder.https(args.https_port);
        }
    }

    // The PowerShell plugin, running pipelines on the built-in command engine, serves `Microsoft.PowerShell`.
    let engine = Arc::new(BuiltinEngine::new(EngineConfig::default()));
    let plugin: Arc<dyn Plugin> = Arc::new(PowerShellPlugin::new(engine));
    builder = builder.plugin(pssession_server::DEFAULT_CONFIGURATION, plugin);

    let server = builder.start().await.map_err(|e| e.to_string())?;
    let events = tokio::spawn(print_shell_events(server.service().shell_events()));
    for url in [server.http_url(), server.https_url()].into_iter().flatten() {
        println!("listening: {url}");
    }
    wait_for_shutdown_signal().await?;
    events.abort();
    server.shutdown().await;
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// One line per session change, so whoever runs the endpoint sees clients come, go and get lost.
async fn print_shell_events(mut events: tokio::sync::broadcast::Receiver<pssession_server::ShellEvent>) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(event) => println!("{event}"),
            Err(RecvError::Lagged(missed)) => println!("({missed} session events not shown: too many at once)"),
            Err(RecvError::Closed) => return,
        }
    }
}

#[cfg(unix)]
async fn wait_for_shutdown_signal() -> Result<(), String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.map_err(|e| e.to_string()),
        _ = terminate.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn wait_for_shutdown_signal() -> Result<(), String> {
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())
}
