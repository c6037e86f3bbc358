//! End-to-end harness: the embedded WinRM endpoint (crates/server, the PowerShell plugin on the built-in engine)
//! on real loopback sockets — HTTP with NTLM and message encryption, HTTPS with a generated certificate — and the
//! real `pssession` binary run with its own session store (`XDG_STATE_HOME`) and `PSSESSION_PASSWORD`.
//!
//! The plugin is wrapped in [`CountingPlugin`], which counts pool Connects, the most running at once, and can make
//! each Connect take a while so that concurrency is observable.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pssession_server::certificate::ServerCertificate;
use pssession_server::engine::{BuiltinEngine, EngineConfig};
use pssession_server::plugin::{OutputSink, Plugin, PluginShell, ShellInfo, SignalCode, Uuid, WsmanFault};
use pssession_server::powershell::PowerShellPlugin;
use pssession_server::{RunningServer, Server, ServiceConfig};

pub const ALICE: (&str, &str) = ("alice", "Secret123!");
pub const BOB: (&str, &str) = ("bob", "Hunter2!!");

/// Counts what the WinRM layer asks of the plugin.
#[derive(Debug, Default)]
pub struct Counters {
    /// Pool Connects being handled right now.
    pub connecting: AtomicUsize,
    /// The most pool Connects handled at once.
    pub peak: AtomicUsize,
    /// Pool Connects handled in all.
    pub connects: AtomicUsize,
    /// Shells created.
    pub creates: AtomicUsize,
}

impl Counters {
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
    pub fn connects(&self) -> usize {
        self.connects.load(Ordering::SeqCst)
    }
    pub fn creates(&self) -> usize {
        self.creates.load(Ordering::SeqCst)
    }
}

/// The PowerShell plugin, with every pool Connect counted and held for `connect_delay`.
pub struct CountingPlugin {
    inner: Arc<dyn Plugin>,
    counters: Arc<Counters>,
    connect_delay: Duration,
}

struct CountingShell {
    inner: Arc<dyn PluginShell>,
    counters: Arc<Counters>,
    connect_delay: Duration,
}

impl Plugin for CountingPlugin {
    fn create_shell(
        &self,
        shell: &ShellInfo,
        creation_xml: &[u8],
        output: OutputSink,
    ) -> Result<Arc<dyn PluginShell>, WsmanFault> {
        let inner = self.inner.create_shell(shell, creation_xml, output)?;
        self.counters.creates.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::new(CountingShell { inner, counters: Arc::clone(&self.counters), connect_delay: self.connect_delay }))
    }
}

impl PluginShell for CountingShell {
    fn send(&self, command: Option<Uuid>, stream: &str, data: &[u8]) -> Result<(), WsmanFault> {
        self.inner.send(command, stream, data)
    }

    fn command(&self, command_id: Uuid, arguments: &[u8], output: OutputSink) -> Result<(), WsmanFault> {
        self.inner.command(command_id, arguments, output)
    }

    fn signal(&self, command: Option<Uuid>, code: SignalCode) -> Result<(), WsmanFault> {
        self.inner.signal(command, code)
    }

    fn connect(&self, connect_xml: &[u8]) -> Result<Vec<u8>, WsmanFault> {
        let now = self.counters.connecting.fetch_add(1, Ordering::SeqCst) + 1;
        self.counters.peak.fetch_max(now, Ordering::SeqCst);
        if !self.connect_delay.is_zero() {
            // The server runs on a multi-threaded runtime: this worker blocks, the others keep serving.
            tokio::task::block_in_place(|| std::thread::sleep(self.connect_delay));
        }
        let result = self.inner.connect(connect_xml);
        self.counters.connecting.fetch_sub(1, Ordering::SeqCst);
        self.counters.connects.fetch_add(1, Ordering::SeqCst);
        result
    }

    fn close(&self) {
        self.inner.close()
    }
}

/// How to start the endpoints.
#[derive(Clone)]
pub struct Setup {
    pub servers: usize,
    pub https: bool,
    /// A second session configuration served by the same plugin (besides `Microsoft.PowerShell`).
    pub extra_configuration: Option<String>,
    /// The names the HTTPS certificate is for.
    pub certificate_names: Vec<String>,
    pub config: ServiceConfig,
    pub connect_delay: Duration,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            servers: 1,
            https: false,
            extra_configuration: None,
            certificate_names: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            config: ServiceConfig::default(),
            connect_delay: Duration::ZERO,
        }
    }
}

/// Running endpoints (each with an HTTP listener, and HTTPS when asked) on a runtime of their own.
pub struct Endpoints {
    pub runtime: tokio::runtime::Runtime,
    pub servers: Vec<RunningServer>,
    pub counters: Arc<Counters>,
    /// The HTTPS certificate (PEM) when HTTPS is on.
    pub certificate_pem: Option<String>,
}

impl Endpoints {
    pub fn start(setup: Setup) -> Self {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("runtime");
        let counters = Arc::new(Counters::default());
        let certificate = setup.https.then(|| {
            let (_, certificate, key) =
                ServerCertificate::generate(&setup.certificate_names).expect("self-signed certificate");
            (certificate, key)
        });
        let servers = runtime.block_on(async {
            let mut servers = Vec::new();
            for _ in 0..setup.servers {
                let plugin: Arc<dyn Plugin> = Arc::new(CountingPlugin {
                    inner: Arc::new(PowerShellPlugin::new(Arc::new(BuiltinEngine::new(EngineConfig::default())))),
                    counters: Arc::clone(&counters),
                    connect_delay: setup.connect_delay,
                });
                let mut builder = Server::builder()
                    .config(setup.config.clone())
                    .user(ALICE.0, ALICE.1)
                    .user(BOB.0, BOB.1)
                    .plugin(pssession_server::DEFAULT_CONFIGURATION, Arc::clone(&plugin))
                    .http(0);
                if let Some(name) = &setup.extra_configuration {
                    builder = builder.plugin(name, plugin);
                }
                if let Some((certificate, key)) = &certificate {
                    builder =
                        builder.certificate_pem(certificate.as_bytes(), key.as_bytes()).expect("certificate").https(0);
                }
                servers.push(builder.start().await.expect("server starts"));
            }
            servers
        });
        Endpoints { runtime, servers, counters, certificate_pem: certificate.map(|(c, _)| c) }
    }

    /// `http://127.0.0.1:port/wsman` of server `i`.
    pub fn http_uri(&self, i: usize) -> String {
        format!("http://{}/wsman", self.servers[i].http_address().expect("http listener"))
    }

    /// `https://127.0.0.1:port/wsman` of server `i`.
    pub fn https_uri(&self, i: usize) -> String {
        format!("https://{}/wsman", self.servers[i].https_address().expect("https listener"))
    }

    /// The HTTP port of server `i`.
    pub fn http_port(&self, i: usize) -> u16 {
        self.servers[i].http_address().expect("http listener").port()
    }

    /// Shells alive on server `i`.
    pub fn shell_count(&self, i: usize) -> usize {
        self.servers[i].service().shell_count()
    }
}

/// A fresh directory under the system temp dir.
pub fn tempdir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pssession-e2e-{label}-{}-{}", std::process::id(), Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// One user on one machine: a session store of its own and a password in `PSSESSION_PASSWORD`.
pub struct Machine {
    pub state: PathBuf,
    pub user: String,
    pub password: String,
}

/// What a `pssession` run gave.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Self {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "pssession failed:\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        &self.stdout
    }

    /// Asserts failure (exit status 1) and returns stderr.
    #[track_caller]
    pub fn failed(&self) -> &str {
        assert_eq!(self.code, 1, "pssession should have failed:\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        &self.stderr
    }

    /// stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

impl Machine {
    pub fn new(label: &str, user: (&str, &str)) -> Self {
        Machine { state: tempdir(label), user: user.0.to_owned(), password: user.1.to_owned() }
    }

    /// Runs `pssession args… --credential user` with no standard input.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_input(args, "")
    }

    /// Runs `pssession args… --credential user` with `input` on standard input (for `--confirm`).
    pub fn run_with_input(&self, args: &[&str], input: &str) -> Run {
        use std::io::Write;
        let subcommand = args.first().copied().unwrap_or_default();
        let mut command = Command::new(env!("CARGO_BIN_EXE_pssession"));
        command.args(args);
        if !matches!(subcommand, "serve" | "demo") && !args.contains(&"--credential") {
            command.args(["--credential", &self.user]);
        }
        let mut child = command
            .env("XDG_STATE_HOME", &self.state)
            .env("PSSESSION_PASSWORD", &self.password)
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pssession");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input.as_bytes()).expect("write stdin");
        drop(stdin);
        Run::from(child.wait_with_output().expect("pssession output"))
    }

    /// Starts `pssession args… --credential user` with stdout and stderr piped and no standard input, for tests
    /// that read its output as it comes and signal it. The child keeps the default signal dispositions, as from a
    /// terminal.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pssession"));
        command.args(args);
        if !args.contains(&"--credential") {
            command.args(["--credential", &self.user]);
        }
        command
            .env("XDG_STATE_HOME", &self.state)
            .env("PSSESSION_PASSWORD", &self.password)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pssession")
    }

    /// The session store file's records.
    pub fn store(&self) -> Vec<pssession_cli::store::SessionRecord> {
        pssession_cli::store::SessionStore::at(self.state.join("pssession/sessions.json")).list().expect("store")
    }
}

/// Replaces GUIDs and loopback ports with placeholders so that snapshots are stable.
pub fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if i + 36 <= chars.len() {
            let candidate: String = chars[i..i + 36].iter().collect();
            if Uuid::parse_str(&candidate).is_ok() && candidate.chars().filter(|c| *c == '-').count() == 4 {
                out.push_str("<GUID>");
                i += 36;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    let mut masked = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(at) = rest.find("127.0.0.1:") {
        masked.push_str(&rest[..at + "127.0.0.1:".len()]);
        rest = &rest[at + "127.0.0.1:".len()..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 {
            masked.push_str("<PORT>");
        }
        rest = &rest[digits..];
    }
    masked.push_str(rest);
    masked
}

/// Writes `contents` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write file");
    path
}

/// A tiny HTTP server that answers every request with `307 Temporary Redirect` to a `Location`: another URI, or
/// (when `None`) itself, forever. Counts the requests it got.
pub struct Redirector {
    pub uri: String,
    pub hits: Arc<AtomicUsize>,
}

impl Redirector {
    /// Starts on an ephemeral loopback port of `runtime`.
    pub fn start(runtime: &tokio::runtime::Runtime, location: Option<String>) -> Self {
        use http_body_util::Full;
        use hyper::server::conn::http1;
        use hyper::service::service_fn;
        use hyper_util::rt::TokioIo;

        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
        let uri = format!("http://{}/wsman", listener.local_addr().expect("address"));
        let location = location.unwrap_or_else(|| uri.clone());
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        runtime.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let location = location.clone();
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let service = service_fn(move |_request: hyper::Request<hyper::body::Incoming>| {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let response = hyper::Response::builder()
                            .status(307)
                            .header("Location", location.as_str())
                            .body(Full::new(bytes::Bytes::new()));
                        async move { response }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(tcp), service).await;
                });
            }
        });
        Redirector { uri, hits }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Shared list of strings for observations across threads.
pub type Log = Arc<Mutex<Vec<String>>>;

/// A library client of `user` on `uri`, with Negotiate (NTLM to the loopback address) and `options`.
pub fn client_with(
    uri: &str,
    user: (&str, &str),
    options: pssession_connect::SessionOptions,
) -> pssession_connect::Client {
    use pssession_connect::authentication::{AuthenticationMechanism, AuthenticationOptions};
    let target = pssession_connect::ConnectionTarget::connection_uri(uri).expect("uri");
    let auth = AuthenticationOptions::new(
        AuthenticationMechanism::Negotiate,
        pssession_auth::Credentials::new(user.0, user.1),
    );
    pssession_connect::Client::new(target, options, auth).expect("client")
}

/// [`client_with`] the default session options.
pub fn client(uri: &str, user: (&str, &str)) -> pssession_connect::Client {
    client_with(uri, user, pssession_connect::SessionOptions::default())
}

/// The display text of every output object among `events`, in order.
pub fn output_texts(events: &[pssession_connect::PipelineOutput]) -> Vec<String> {
    events
        .iter()
        .filter_map(|o| match &o.event {
            pssession_connect::PipelineEvent::Output(value) => Some(value.to_display_string()),
            _ => None,
        })
        .collect()
}
