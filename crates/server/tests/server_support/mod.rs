//! Test-only helpers for the WinRM layer: `EchoTestPlugin` (a stand-in for the PowerShell plugin) and request
//! builders. Nothing here is used outside `crates/server/tests`.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use pssession_server::plugin::{BufferMode, OutputSink, Plugin, PluginShell, ShellInfo, SignalCode, Uuid, WsmanFault};
use pssession_server::{Caller, Service, ServiceConfig};
use pssession_wsman::duration::XsDuration;
use pssession_wsman::enumeration::{Enumerate, Pull, Release};
use pssession_wsman::envelope::{Limits, Request, RequestBody, Response, ResponseBody, parse_response};
use pssession_wsman::header::{Header, resource};
use pssession_wsman::ops::{CommandLine, Connect, CreateShell, Disconnect, Receive, Reconnect, Send, Signal};
use tokio::sync::mpsc;

/// Writes every queued fragment into `sink` in order, from one task; counts completed writes in `seen`.
fn ordered_writer(sink: OutputSink, seen: Arc<Mutex<Seen>>) -> mpsc::UnboundedSender<Writing> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Writing>();
    tokio::spawn(async move {
        while let Some(w) = rx.recv().await {
            match w {
                Writing::Data(d) => {
                    sink.write(d).await;
                    *seen.lock().unwrap().writes_completed.entry(sink.target()).or_default() += 1;
                }
                Writing::Finish(code) => sink.finish(code),
            }
        }
    });
    tx
}

/// What a test plugin asks its writer task to do.
pub enum Writing {
    /// Write one fragment.
    Data(Vec<u8>),
    /// Finish the command.
    Finish(i64),
}

/// What the echo plugin saw, for assertions.
#[derive(Debug, Default)]
pub struct Seen {
    /// Shells created (their ShellInfo).
    pub shells: Vec<ShellInfo>,
    /// Signals: (command, code).
    pub signals: Vec<(Option<Uuid>, SignalCode)>,
    /// Closed shells.
    pub closed: Vec<Uuid>,
    /// connectXml payloads received.
    pub connects: Vec<Vec<u8>>,
    /// Completed `OutputSink::write` calls per target (None = the pool).
    pub writes_completed: std::collections::HashMap<Option<Uuid>, usize>,
}

/// TEST-ONLY plugin. Create echoes `creationXml` to the pool output; Send echoes data to the pool or the command;
/// Command echoes its arguments, then:
/// * `finish` — finishes with exit code 0;
/// * `flood:N:SIZE` — writes N fragments of SIZE bytes (byte i = fragment number) then finishes;
/// * anything else — keeps running until signalled.
///
/// A stop signal finishes with exit code 1. Connect answers `connected:` + connectXml, or a plugin fault for
/// `bad`.
#[derive(Default)]
pub struct EchoTestPlugin {
    /// Observations.
    pub seen: Arc<Mutex<Seen>>,
}

struct EchoShell {
    info: ShellInfo,
    pool: mpsc::UnboundedSender<Writing>,
    commands: Mutex<Vec<(Uuid, mpsc::UnboundedSender<Writing>)>>,
    seen: Arc<Mutex<Seen>>,
}

impl Plugin for EchoTestPlugin {
    fn create_shell(
        &self,
        shell: &ShellInfo,
        creation_xml: &[u8],
        output: OutputSink,
    ) -> Result<Arc<dyn PluginShell>, WsmanFault> {
        if creation_xml == b"refuse" {
            return Err(WsmanFault::protocol_version_mismatch("2.3", &shell.machine));
        }
        self.seen.lock().unwrap().shells.push(shell.clone());
        let pool = ordered_writer(output, self.seen.clone());
        if !creation_xml.is_empty() {
            let _ = pool.send(Writing::Data(creation_xml.to_vec()));
        }
        Ok(Arc::new(EchoShell { info: shell.clone(), pool, commands: Mutex::new(Vec::new()), seen: self.seen.clone() }))
    }
}

impl EchoShell {
    fn command_writer(&self, id: Uuid) -> Option<mpsc::UnboundedSender<Writing>> {
        self.commands.lock().unwrap().iter().find(|(c, _)| *c == id).map(|(_, w)| w.clone())
    }
}

impl PluginShell for EchoShell {
    fn send(&self, command: Option<Uuid>, _stream: &str, data: &[u8]) -> Result<(), WsmanFault> {
        let writer = match command {
            None => self.pool.clone(),
            Some(c) => {
                self.command_writer(c).ok_or_else(|| WsmanFault::invalid_selectors_command(&self.info.machine))?
            }
        };
        let _ = writer.send(Writing::Data(data.to_vec()));
        Ok(())
    }

    fn command(&self, command_id: Uuid, arguments: &[u8], output: OutputSink) -> Result<(), WsmanFault> {
        let writer = ordered_writer(output, self.seen.clone());
        self.commands.lock().unwrap().push((command_id, writer.clone()));
        let _ = writer.send(Writing::Data(arguments.to_vec()));
        let text = String::from_utf8_lossy(arguments).into_owned();
        if text == "finish" {
            let _ = writer.send(Writing::Finish(0));
        } else if let Some(spec) = text.strip_prefix("flood:") {
            let mut parts = spec.split(':');
            let n: usize = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
            let size: usize = parts.next().and_then(|p| p.parse().ok()).unwrap_or(1);
            for i in 0..n {
                let _ = writer.send(Writing::Data(vec![i as u8; size]));
            }
            let _ = writer.send(Writing::Finish(0));
        }
        Ok(())
    }

    fn signal(&self, command: Option<Uuid>, code: SignalCode) -> Result<(), WsmanFault> {
        self.seen.lock().unwrap().signals.push((command, code.clone()));
        if let Some(c) = command
            && code.is_stop()
            && let Some(w) = self.command_writer(c)
        {
            let _ = w.send(Writing::Finish(1));
        }
        Ok(())
    }

    fn connect(&self, connect_xml: &[u8]) -> Result<Vec<u8>, WsmanFault> {
        self.seen.lock().unwrap().connects.push(connect_xml.to_vec());
        if connect_xml == b"bad" {
            return Err(WsmanFault::plugin_connect_failed("bad connectXml", &self.info.machine));
        }
        let _ = self.pool.send(Writing::Data(b"after-connect".to_vec()));
        let mut out = b"connected:".to_vec();
        out.extend_from_slice(connect_xml);
        Ok(out)
    }

    fn close(&self) {
        self.seen.lock().unwrap().closed.push(self.info.shell_id);
    }
}

/// The PowerShell ResourceURI.
pub const PS_URI: &str = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell";
/// The endpoint address put in `To`.
pub const TO: &str = "http://127.0.0.1:5985/wsman";

/// A service with the echo plugin under `Microsoft.PowerShell`.
pub fn service(config: ServiceConfig) -> (Service, Arc<Mutex<Seen>>) {
    let plugin = EchoTestPlugin::default();
    let seen = plugin.seen.clone();
    let plugin: Arc<dyn Plugin> = Arc::new(plugin);
    (Service::new(config, [("Microsoft.PowerShell".to_owned(), plugin)]), seen)
}

/// A caller.
pub fn user(name: &str) -> Caller {
    Caller::new("", name, "127.0.0.1")
}

/// Builds requests for one client session.
#[derive(Debug, Clone)]
pub struct Client {
    /// The WS-Man SessionId.
    pub session: String,
    /// MaxEnvelopeSize sent.
    pub max_envelope: u32,
    /// OperationTimeout sent.
    pub timeout: XsDuration,
}

impl Client {
    /// A client with a fresh SessionId.
    pub fn new() -> Self {
        Client {
            session: format!("uuid:{}", Uuid::new_v4().to_string().to_uppercase()),
            max_envelope: 153_600,
            timeout: XsDuration::from_secs(20),
        }
    }

    /// A header for `body` on `resource_uri`, targeting `shell` if given.
    pub fn header(&self, body: &RequestBody, resource_uri: &str, shell: Option<&str>) -> Header {
        let mut h = Header::request(
            body.action(),
            TO,
            resource_uri,
            &format!("uuid:{}", Uuid::new_v4().to_string().to_uppercase()),
        )
        .with_max_envelope_size(self.max_envelope)
        .with_operation_timeout(self.timeout)
        .with_session_id(&self.session)
        .with_locale("en-US", "en-US");
        if let Some(s) = shell {
            h = h.with_shell_id(s);
        }
        h
    }

    /// The envelope of `body`.
    pub fn envelope(&self, body: RequestBody, resource_uri: &str, shell: Option<&str>) -> Vec<u8> {
        let header = self.header(&body, resource_uri, shell);
        Request::new(header, body).to_bytes()
    }

    /// Create (ShellId chosen by the client).
    pub fn create(&self, shell_id: &str, creation_xml: &[u8]) -> Vec<u8> {
        let body = CreateShell::powershell(shell_id, Some("Runspace1"), Bytes::copy_from_slice(creation_xml));
        let header =
            self.header(&RequestBody::Create(body.clone()), PS_URI, None).with_option("protocolversion", "2.3", true);
        Request::new(header, RequestBody::Create(body)).to_bytes()
    }

    /// Command.
    pub fn command(&self, shell: &str, command_id: &str, arguments: &[u8]) -> Vec<u8> {
        self.envelope(RequestBody::Command(CommandLine::powershell(command_id, None, arguments)), PS_URI, Some(shell))
    }

    /// Send.
    pub fn send(&self, shell: &str, command: Option<&str>, data: &[u8]) -> Vec<u8> {
        self.envelope(RequestBody::Send(Send::one("stdin", command, Bytes::copy_from_slice(data))), PS_URI, Some(shell))
    }

    /// Receive.
    pub fn receive(&self, shell: &str, command: Option<&str>) -> Vec<u8> {
        let body = Receive { streams: "stdout".to_owned(), command_id: command.map(str::to_owned) };
        self.envelope(RequestBody::Receive(body), PS_URI, Some(shell))
    }

    /// Signal.
    pub fn signal(&self, shell: &str, command: Option<&str>, code: SignalCode) -> Vec<u8> {
        self.envelope(RequestBody::Signal(Signal { command_id: command.map(str::to_owned), code }), PS_URI, Some(shell))
    }

    /// Delete.
    pub fn delete(&self, shell: &str) -> Vec<u8> {
        self.envelope(RequestBody::Delete, PS_URI, Some(shell))
    }

    /// Get on the shell.
    pub fn get(&self, shell: &str) -> Vec<u8> {
        self.envelope(RequestBody::Get, resource::SHELL, Some(shell))
    }

    /// Disconnect.
    pub fn disconnect(&self, shell: &str, idle_secs: Option<u64>, mode: Option<BufferMode>) -> Vec<u8> {
        let body = Disconnect { idle_timeout: idle_secs.map(XsDuration::from_secs), buffer_mode: mode };
        self.envelope(RequestBody::Disconnect(body), PS_URI, Some(shell))
    }

    /// Reconnect (the shell, or one command).
    pub fn reconnect(&self, shell: &str, command: Option<&str>) -> Vec<u8> {
        let body = Reconnect { command_id: command.map(str::to_owned), buffer_mode: None };
        self.envelope(RequestBody::Reconnect(body), PS_URI, Some(shell))
    }

    /// Connect (the pool with connectXml, or one command).
    pub fn connect(&self, shell: &str, command: Option<&str>, connect_xml: Option<&[u8]>) -> Vec<u8> {
        let body = Connect {
            command_id: command.map(str::to_owned),
            connect_xml: connect_xml.map(Bytes::copy_from_slice),
            buffer_mode: None,
        };
        self.envelope(RequestBody::Connect(body), PS_URI, Some(shell))
    }

    /// Enumerate shells (optimized or not).
    pub fn enumerate_shells(&self, optimize: bool, max_elements: Option<u32>) -> Vec<u8> {
        let body = Enumerate { optimize, max_elements, filter: None };
        self.envelope(RequestBody::Enumerate(body), resource::SHELL, None)
    }

    /// Enumerate the commands of a shell.
    pub fn enumerate_commands(&self, shell: &str) -> Vec<u8> {
        let mut body = Enumerate::optimized(Some(shell));
        body.max_elements = Some(32000);
        self.envelope(RequestBody::Enumerate(body), resource::SHELL_COMMAND, None)
    }

    /// Pull.
    pub fn pull(&self, context: &str, max_elements: Option<u32>) -> Vec<u8> {
        self.envelope(RequestBody::Pull(Pull { context: context.to_owned(), max_elements }), resource::SHELL, None)
    }

    /// Release.
    pub fn release(&self, context: &str) -> Vec<u8> {
        self.envelope(RequestBody::Release(Release { context: context.to_owned() }), resource::SHELL, None)
    }
}

/// Parses a response envelope.
pub fn parse(bytes: &[u8]) -> Response {
    parse_response(bytes, &Limits::default()).expect("response parses")
}

/// Sends `envelope` as `caller` and parses the answer, checking the HTTP status matches success/fault.
pub async fn call(service: &Service, caller: &Caller, envelope: &[u8]) -> ResponseBody {
    let reply = service.handle_envelope(caller, envelope).await;
    let response = parse(&reply.body);
    match (&response.body, reply.status) {
        (ResponseBody::Fault(_), 500) => {}
        (ResponseBody::Fault(f), s) => panic!("fault with status {s}: {f:?}"),
        (_, 200) => {}
        (b, s) => panic!("status {s} for {b:?}"),
    }
    response.body
}

/// The `f:WSManFault/@Code` of a fault body; panics on success.
pub fn fault_code(body: &ResponseBody) -> u32 {
    match body {
        ResponseBody::Fault(f) => f.wsman_code.expect("fault has a code"),
        other => panic!("expected a fault, got {other:?}"),
    }
}

/// Receives until `predicate` is satisfied by the collected stream data or a Done arrives; returns
/// (fragments, done exit code).
pub async fn receive_all(
    service: &Service,
    caller: &Caller,
    client: &Client,
    shell: &str,
    command: Option<&str>,
    rounds: usize,
) -> (Vec<Vec<u8>>, Option<i64>) {
    let mut data = Vec::new();
    for _ in 0..rounds {
        match call(service, caller, &client.receive(shell, command)).await {
            ResponseBody::Receive(r) => {
                data.extend(r.streams.iter().map(|s| s.data.to_vec()));
                if let Some(cs) = r.command_state
                    && cs.is_done()
                {
                    return (data, cs.exit_code);
                }
            }
            ResponseBody::Fault(f) if f.wsman_code == Some(0x8033_8029) => return (data, None),
            other => panic!("unexpected {other:?}"),
        }
    }
    (data, None)
}

/// A new upper-case GUID text.
pub fn guid() -> String {
    Uuid::new_v4().to_string().to_uppercase()
}

/// The endpoint as `pssession serve` runs it — the PowerShell plugin on the built-in engine — on an HTTP port of
/// its own, with one user: what the third-party client tests drive.
pub async fn powershell_endpoint(user: (&str, &str)) -> pssession_server::RunningServer {
    use pssession_server::engine::{BuiltinEngine, EngineConfig};
    use pssession_server::powershell::PowerShellPlugin;
    let plugin: Arc<dyn Plugin> =
        Arc::new(PowerShellPlugin::new(Arc::new(BuiltinEngine::new(EngineConfig::default()))));
    pssession_server::Server::builder()
        .user(user.0, user.1)
        .plugin(pssession_server::DEFAULT_CONFIGURATION, plugin)
        .http(0)
        .start()
        .await
        .expect("server starts")
}
