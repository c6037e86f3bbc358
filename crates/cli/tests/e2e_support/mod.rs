//! End-to-end harness: the embedded WinRM endpoint (crates/server, the PowerShell plugin on the built-in engine)
//! on real loopback sockets — HTTP with NTLM and message encryption, HTTPS with a generated certificate — and the
//! real `pssession` binary run with its own session store (`XDG_STATE_HOME`) and `PSSESSION_PASSWORD`.
//!
//! The plugin is wrapped in [`CountingPlugin`] and the engine in [`ObservedEngine`], which report what the server
//! does as events the tests wait on (never a wall-clock margin): pool Connects (counted, and held by a
//! [`Counters::hold_connects`] gate so that concurrency is observable), shells closed (deleted or expired),
//! pipelines whose output the endpoint holds (its buffer is full) or has all taken, and output held back at a
//! [`Counters::hold_output_after`] gate until the test releases it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pssession_server::certificate::ServerCertificate;
use pssession_server::engine::{
    BuiltinEngine, Engine, EngineConfig, PipelineEvent, PipelineHandle, PipelineInput, PipelineSpec, Runspace, Value,
};
use pssession_server::plugin::{OutputSink, Plugin, PluginShell, ShellInfo, SignalCode, Uuid, WsmanFault};
use pssession_server::powershell::PowerShellPlugin;
use pssession_server::{RunningServer, Server, ServiceConfig};
use tokio::sync::{mpsc, watch};

pub const ALICE: (&str, &str) = ("alice", "Secret123!");
pub const BOB: (&str, &str) = ("bob", "Hunter2!!");

/// How long a test waits for an event before it fails (a hang guard, not a synchronisation margin).
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// Holds pool Connects until as many are in flight as the test expects (see [`Counters::hold_connects`]).
#[derive(Debug, Default)]
struct ConnectGate {
    /// Connects to hold until this many are being handled at once.
    concurrency: usize,
    /// The arrival number of the round's last Connect: it is let through whatever the concurrency.
    last_arrival: usize,
    /// Every Connect that arrived up to this number may go on.
    released_through: usize,
}

/// Counts what the WinRM layer asks of the plugin and what the engine's pipelines do, and wakes every
/// [`Counters::wait_until`] on each change.
#[derive(Debug)]
pub struct Counters {
    /// Pool Connects being handled right now.
    pub connecting: AtomicUsize,
    /// The most pool Connects handled at once.
    pub peak: AtomicUsize,
    /// Pool Connects handled in all.
    pub connects: AtomicUsize,
    /// Shells created.
    pub creates: AtomicUsize,
    /// Plugin shells closed (the shell was removed, or its idle timeout expired).
    pub closes: AtomicUsize,
    /// Pool Connects that reached the plugin (numbers the arrivals for the connect gate).
    connect_arrivals: AtomicUsize,
    /// Times the connect gate gave up waiting for the expected concurrency (after [`HANG_GUARD`]).
    pub gate_timeouts: AtomicUsize,
    connect_gate: Mutex<Option<ConnectGate>>,
    /// Output objects the engine's pipelines handed to the endpoint.
    pub outputs_forwarded: AtomicUsize,
    /// Pipelines whose events the endpoint does not take right now (its event channel is full).
    pub stalled: AtomicUsize,
    /// Pipelines whose output the endpoint has all taken into its buffer (their output is finished).
    pub pipelines_finished: AtomicUsize,
    /// The scripts of the finished pipelines (`Debug` of their spec), in the order they finished.
    pub finished_specs: Mutex<Vec<String>>,
    /// Output objects are held back once this many were forwarded, until [`Counters::release_output`].
    output_hold: Mutex<Option<usize>>,
    changed: watch::Sender<u64>,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            connecting: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            connects: AtomicUsize::new(0),
            creates: AtomicUsize::new(0),
            closes: AtomicUsize::new(0),
            connect_arrivals: AtomicUsize::new(0),
            gate_timeouts: AtomicUsize::new(0),
            connect_gate: Mutex::new(None),
            outputs_forwarded: AtomicUsize::new(0),
            stalled: AtomicUsize::new(0),
            pipelines_finished: AtomicUsize::new(0),
            finished_specs: Mutex::new(Vec::new()),
            output_hold: Mutex::new(None),
            changed: watch::channel(0).0,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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
    pub fn closes(&self) -> usize {
        self.closes.load(Ordering::SeqCst)
    }
    pub fn outputs_forwarded(&self) -> usize {
        self.outputs_forwarded.load(Ordering::SeqCst)
    }
    pub fn stalled(&self) -> usize {
        self.stalled.load(Ordering::SeqCst)
    }
    pub fn pipelines_finished(&self) -> usize {
        self.pipelines_finished.load(Ordering::SeqCst)
    }

    /// Whether a pipeline whose spec contains `script` has finished (the endpoint took all its output).
    pub fn finished(&self, script: &str) -> bool {
        lock(&self.finished_specs).iter().any(|spec| spec.contains(script))
    }

    /// Wakes every waiter: something changed.
    fn changed(&self) {
        self.changed.send_modify(|generation| *generation += 1);
    }

    /// Waits until `condition` holds (it is checked after every change); `false` after [`HANG_GUARD`].
    async fn reached(&self, condition: impl Fn(&Counters) -> bool) -> bool {
        let mut changes = self.changed.subscribe();
        let wait = async {
            while !condition(self) {
                // The sender lives as long as `self`.
                let _ = changes.changed().await;
            }
        };
        tokio::time::timeout(HANG_GUARD, wait).await.is_ok()
    }

    /// Waits until `condition` holds; fails the test, naming `what`, after [`HANG_GUARD`].
    pub async fn wait_until(&self, what: &str, condition: impl Fn(&Counters) -> bool) {
        assert!(self.reached(condition).await, "gave up after {HANG_GUARD:?} waiting for {what}");
    }

    /// Holds each of the next `total` pool Connects in the plugin until `concurrency` of them are being handled
    /// at once (the round's last Connect goes on regardless), so that the peak shows the client's real
    /// concurrency: it reaches `concurrency` when the client connects that many in parallel, and exceeds it only
    /// when the client sends more at once.
    pub fn hold_connects(&self, concurrency: usize, total: usize) {
        let arrived = self.connect_arrivals.load(Ordering::SeqCst);
        *lock(&self.connect_gate) =
            Some(ConnectGate { concurrency, last_arrival: arrived + total, released_through: arrived });
    }

    /// A Connect arrived (its number `arrival`, `now` in flight): waits at the gate, if one is set.
    fn pass_connect_gate(&self, arrival: usize, now: usize) {
        {
            let mut gate = lock(&self.connect_gate);
            let Some(g) = gate.as_mut() else { return };
            if arrival > g.last_arrival {
                return;
            }
            if now >= g.concurrency || arrival == g.last_arrival {
                g.released_through = g.released_through.max(arrival);
            }
        }
        self.changed();
        let released = |c: &Counters| lock(&c.connect_gate).as_ref().is_none_or(|g| g.released_through >= arrival);
        // The server runs on a multi-threaded runtime: this worker waits, the others keep serving.
        let passed = tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(self.reached(released)));
        if !passed {
            // The client never reached the concurrency: let everything through; the test's peak check fails.
            self.gate_timeouts.fetch_add(1, Ordering::SeqCst);
            *lock(&self.connect_gate) = None;
            self.changed();
        }
    }

    /// Holds back output objects once `count` more have been handed to the endpoint (over all pipelines), until
    /// [`Counters::release_output`]: the pipeline waits on its next object, still running.
    pub fn hold_output_after(&self, count: usize) {
        *lock(&self.output_hold) = Some(self.outputs_forwarded() + count);
        self.changed();
    }

    /// Lets held output go on.
    pub fn release_output(&self) {
        *lock(&self.output_hold) = None;
        self.changed();
    }

    /// Whether output is being held back at the [`Counters::hold_output_after`] gate.
    pub fn output_held(&self) -> bool {
        lock(&self.output_hold).is_some_and(|count| self.outputs_forwarded() >= count)
    }
}

/// The PowerShell plugin, with every pool Connect counted (and held at the connect gate) and shell closes counted.
pub struct CountingPlugin {
    inner: Arc<dyn Plugin>,
    counters: Arc<Counters>,
}

struct CountingShell {
    inner: Arc<dyn PluginShell>,
    counters: Arc<Counters>,
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
        self.counters.changed();
        Ok(Arc::new(CountingShell { inner, counters: Arc::clone(&self.counters) }))
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
        let counters = &self.counters;
        let arrival = counters.connect_arrivals.fetch_add(1, Ordering::SeqCst) + 1;
        let now = counters.connecting.fetch_add(1, Ordering::SeqCst) + 1;
        counters.peak.fetch_max(now, Ordering::SeqCst);
        counters.pass_connect_gate(arrival, now);
        let result = self.inner.connect(connect_xml);
        counters.connecting.fetch_sub(1, Ordering::SeqCst);
        counters.connects.fetch_add(1, Ordering::SeqCst);
        counters.changed();
        result
    }

    fn close(&self) {
        self.inner.close();
        self.counters.closes.fetch_add(1, Ordering::SeqCst);
        self.counters.changed();
    }
}

/// The built-in engine, with every pipeline's events passed to the endpoint through an observer: it reports a
/// pipeline whose events the endpoint does not take (stalled), one whose output the endpoint took in full
/// (finished), and holds output back at the [`Counters::hold_output_after`] gate.
pub struct ObservedEngine {
    inner: BuiltinEngine,
    counters: Arc<Counters>,
}

struct ObservedRunspace {
    inner: Arc<dyn Runspace>,
    counters: Arc<Counters>,
}

impl Engine for ObservedEngine {
    fn open_runspace(&self) -> Arc<dyn Runspace> {
        Arc::new(ObservedRunspace { inner: self.inner.open_runspace(), counters: Arc::clone(&self.counters) })
    }

    fn ps_version_table(&self) -> Value {
        self.inner.ps_version_table()
    }
}

impl Runspace for ObservedRunspace {
    fn start_pipeline(
        &self,
        spec: PipelineSpec,
        input: PipelineInput,
        events: mpsc::Sender<PipelineEvent>,
    ) -> PipelineHandle {
        let description = format!("{spec:?}");
        // One slot: the pipeline waits as soon as the observer does.
        let (observed, mut from_pipeline) = mpsc::channel(1);
        let counters = Arc::clone(&self.counters);
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    event = from_pipeline.recv() => event,
                    // The endpoint is gone: dropping `from_pipeline` stops the pipeline, as it would directly.
                    () = events.closed() => None,
                };
                let Some(event) = event else { return };
                let last = matches!(event, PipelineEvent::State(_));
                if matches!(event, PipelineEvent::Output(_)) {
                    let open = |c: &Counters| lock(&c.output_hold).is_none_or(|count| c.outputs_forwarded() < count);
                    counters.wait_until("the test to release the held output", open).await;
                }
                let is_output = matches!(event, PipelineEvent::Output(_));
                let sent = match events.try_send(event) {
                    Ok(()) => true,
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                    Err(mpsc::error::TrySendError::Full(event)) => {
                        counters.stalled.fetch_add(1, Ordering::SeqCst);
                        counters.changed();
                        let sent = events.send(event).await.is_ok();
                        counters.stalled.fetch_sub(1, Ordering::SeqCst);
                        sent
                    }
                };
                if !sent {
                    return;
                }
                if is_output {
                    counters.outputs_forwarded.fetch_add(1, Ordering::SeqCst);
                }
                counters.changed();
                if last {
                    break;
                }
            }
            // The endpoint drops its receiver once it has written the last event into the output buffer.
            events.closed().await;
            lock(&counters.finished_specs).push(description);
            counters.pipelines_finished.fetch_add(1, Ordering::SeqCst);
            counters.changed();
        });
        self.inner.start_pipeline(spec, input, observed)
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
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            servers: 1,
            https: false,
            extra_configuration: None,
            certificate_names: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            config: ServiceConfig::default(),
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
                let engine = ObservedEngine {
                    inner: BuiltinEngine::new(EngineConfig::default()),
                    counters: Arc::clone(&counters),
                };
                let plugin: Arc<dyn Plugin> = Arc::new(CountingPlugin {
                    inner: Arc::new(PowerShellPlugin::new(Arc::new(engine))),
                    counters: Arc::clone(&counters),
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

    /// Waits (blocking) until `condition` holds; fails the test, naming `what`, after [`HANG_GUARD`].
    #[track_caller]
    pub fn wait_until(&self, what: &str, condition: impl Fn(&Counters) -> bool) {
        self.runtime.block_on(self.counters.wait_until(what, condition));
    }

    /// Waits until server `i` holds a pipeline's output in its full buffer (Block mode): the endpoint does not take
    /// the pipeline's next event, and still has not taken it after serving another request — its writer waits for
    /// room in the buffer, it is not merely behind.
    pub async fn output_blocked(&self, i: usize) {
        let address = self.servers[i].http_address().expect("http listener");
        loop {
            self.counters.wait_until("the pipeline to wait for the endpoint", |c| c.stalled() > 0).await;
            let forwarded = self.counters.outputs_forwarded();
            round_trip(address).await;
            if self.counters.stalled() > 0 && self.counters.outputs_forwarded() == forwarded {
                return;
            }
        }
    }

    /// Shells alive on server `i`.
    pub fn shell_count(&self, i: usize) -> usize {
        self.servers[i].service().shell_count()
    }
}

/// One request to the endpoint at `address` (a `GET`, which it refuses at once), answered.
async fn round_trip(address: std::net::SocketAddr) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
        stream.write_all(b"GET /wsman HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.expect("request");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.expect("answer");
        assert!(answer.starts_with(b"HTTP/1.1 "), "{}", String::from_utf8_lossy(&answer));
    };
    tokio::time::timeout(HANG_GUARD, exchange).await.expect("the endpoint answers");
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

/// Sends `signal` (`INT`, `TERM`) to the child, as a terminal or a service manager would.
pub fn signal(child: &std::process::Child, signal: &str) {
    let status = Command::new("kill").arg(format!("-{signal}")).arg(child.id().to_string()).status().expect("kill");
    assert!(status.success(), "kill -{signal} failed");
}

/// Reads lines from `reader` until one satisfies `wanted`, returning every line read (panics at end of stream).
pub fn read_until(reader: &mut impl std::io::BufRead, wanted: impl Fn(&str) -> bool) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let read = reader.read_line(&mut line).expect("read");
        assert!(read > 0, "the stream ended before the expected line; read so far: {lines:?}");
        let line = line.trim_end().to_owned();
        let done = wanted(&line);
        lines.push(line);
        if done {
            return lines;
        }
    }
}

/// The tick numbers in `text` (`tick N` lines).
pub fn ticks(text: &str) -> Vec<u32> {
    text.lines().filter_map(|l| l.strip_prefix("tick ")).map(|n| n.parse().expect("tick number")).collect()
}
