//! A simulated WinRM endpoint behind the [`WsmanExchange`] seam, for tests of the client flows while the
//! embedded server (crates/server) is not available: shells per user with Windows' Disconnect/Reconnect/Connect
//! ownership rules (protocol.md §3.5), optimized enumeration, and pipelines whose output is produced at once and
//! buffered, at most two objects per ReceiveResponse.
//!
//! A pipeline's script is a `;`-separated list of `Write-Output 'x'` statements; anything else fails the pipeline.

#![allow(dead_code)]

pub mod http;
pub mod xml;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use pssession_connect::exchange::{ExchangeFuture, Response};
use pssession_connect::psrp::client::PipelineEvent;
use pssession_connect::{PipelineOutput, WsmanExchange};
use pssession_psrp::{Defragmenter, Destination, Fragmenter, Message, MessageType};
use uuid::Uuid;
use xml::Element;

const NS: &str = "xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" \
xmlns:x=\"http://schemas.xmlsoap.org/ws/2004/09/transfer\" xmlns:n=\"http://schemas.xmlsoap.org/ws/2004/09/enumeration\" \
xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\" xmlns:rsp=\"http://schemas.microsoft.com/wbem/wsman/1/windows/shell\"";

#[derive(Debug)]
struct Command {
    line: String,
    out: VecDeque<Bytes>,
    finished: bool,
}

#[derive(Debug)]
struct Shell {
    user: String,
    name: String,
    resource_uri: String,
    rpid: Uuid,
    connected: bool,
    owner_session: Uuid,
    fragmenter: Fragmenter,
    pool_out: VecDeque<Bytes>,
    commands: HashMap<Uuid, Command>,
    idle_timeout: String,
    buffer_mode: String,
    /// Commands left disconnected by a pool Reconnect (with `command_reconnect_ignored`) until a command Connect.
    commands_disconnected: std::collections::HashSet<Uuid>,
}

impl Shell {
    fn queue(&mut self, message_type: MessageType, rpid: Uuid, pid: Uuid, body: &str) -> Bytes {
        let message = Message::new(Destination::Client, message_type, rpid, pid, Bytes::from(body.to_owned()));
        self.fragmenter.enqueue(&message);
        let mut out = Vec::new();
        while let Some(fragment) = self.fragmenter.next_fragment() {
            out.extend_from_slice(&fragment.data);
        }
        Bytes::from(out)
    }
}

/// The shared server state: every simulated connection talks to the same shells.
#[derive(Debug, Default)]
pub struct SimulatedServer {
    shells: HashMap<Uuid, Shell>,
    /// Every request action seen, in order (for assertions).
    pub log: Vec<String>,
    /// Shells whose command enumeration faults (a shell deleted or refused between the two listings).
    pub refuse_command_listing: std::collections::HashSet<Uuid>,
    /// A server that answers a command Reconnect with success but leaves the command disconnected (the body's
    /// CommandId form is not one it reads): its Receive faults 0x803381C4 until a command Connect.
    pub command_reconnect_ignored: bool,
    /// The protocolversion its SESSION_CAPABILITY announces (2.3 when unset); 2.1 is a PowerShell 2.0 server.
    pub protocol_version: Option<&'static str>,
    /// The MaxEnvelopeSize of every request, in order.
    pub envelope_sizes: Vec<u32>,
}

impl SimulatedServer {
    /// A new server.
    pub fn new() -> Arc<Mutex<SimulatedServer>> {
        Arc::new(Mutex::new(SimulatedServer::default()))
    }

    /// A connection to the server authenticated as `user`.
    pub fn connection(server: &Arc<Mutex<SimulatedServer>>, user: &str) -> SimulatedConnection {
        SimulatedConnection { server: Arc::clone(server), user: user.to_owned() }
    }

    /// Whether a shell exists.
    pub fn has_shell(&self, id: Uuid) -> bool {
        self.shells.contains_key(&id)
    }

    /// Disconnects a shell on the server's own initiative (Windows does so when a client stops polling).
    pub fn disconnect_shell(&mut self, id: Uuid) {
        if let Some(shell) = self.shells.get_mut(&id) {
            shell.connected = false;
        }
    }

    /// Forgets a command, as a server does once another client received its end and released it.
    pub fn forget_command(&mut self, shell: Uuid, command: Uuid) {
        if let Some(shell) = self.shells.get_mut(&shell) {
            shell.commands.remove(&command);
        }
    }

    /// `(connected, idle timeout, buffer mode)` of a shell.
    pub fn shell_state(&self, id: Uuid) -> Option<(bool, String, String)> {
        self.shells.get(&id).map(|s| (s.connected, s.idle_timeout.clone(), s.buffer_mode.clone()))
    }
}

/// One authenticated connection.
pub struct SimulatedConnection {
    server: Arc<Mutex<SimulatedServer>>,
    user: String,
}

fn envelope(body: &str) -> String {
    format!("<s:Envelope {NS}><s:Header><a:Action>response</a:Action></s:Header><s:Body>{body}</s:Body></s:Envelope>")
}

fn fault(code: u32, subcode: &str, message: &str) -> (u16, String) {
    (
        500,
        format!(
            "<s:Envelope {NS}><s:Header><a:Action>http://schemas.dmtf.org/wbem/wsman/1/wsman/fault</a:Action></s:Header><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>{subcode}</s:Value></s:Subcode></s:Code>\
<s:Reason><s:Text xml:lang=\"en-US\">{message}</s:Text></s:Reason><s:Detail><f:WSManFault xmlns:f=\"http://schemas.microsoft.com/wbem/wsman/1/wsmanfault\" Code=\"{code}\" Machine=\"sim\">\
<f:Message>{message}</f:Message></f:WSManFault></s:Detail></s:Fault></s:Body></s:Envelope>"
        ),
    )
}

fn not_found() -> (u16, String) {
    fault(
        2150858843,
        "w:InvalidSelectors",
        "The request for the Windows Remote Shell failed because the shell was not found on the server.",
    )
}

fn decode_b64(text: &str) -> Vec<u8> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64_simd::STANDARD.decode_to_vec(compact.as_bytes()).expect("base64 from the client")
}

fn b64(data: &[u8]) -> String {
    base64_simd::STANDARD.encode_to_string(data)
}

fn messages(data: &[u8]) -> Vec<Message> {
    let mut defragmenter = Defragmenter::new();
    defragmenter
        .feed(Bytes::copy_from_slice(data))
        .expect("fragments from the client")
        .into_iter()
        .map(|o| Message::decode(o.data).expect("message from the client"))
        .collect()
}

fn upper(id: Uuid) -> String {
    id.hyphenated().to_string().to_uppercase()
}

const CAPABILITY: &str = "<Obj RefId=\"0\"><MS><Version N=\"protocolversion\">2.3</Version><Version N=\"PSVersion\">2.0</Version><Version N=\"SerializationVersion\">1.1.0.1</Version></MS></Obj>";
const PRIVATE_DATA: &str =
    "<Obj RefId=\"0\"><MS><Obj N=\"ApplicationPrivateData\" RefId=\"1\"><DCT /></Obj></MS></Obj>";

impl SimulatedConnection {
    /// Answers one request envelope: HTTP status and response envelope (with the response Action of the request's
    /// operation).
    pub fn handle(&self, request: &[u8]) -> (u16, String) {
        // Every request must be one the server side of the WS-Man codec (what the embedded endpoint uses) accepts.
        let parsed = pssession_wsman::envelope::parse_request(request, &pssession_wsman::envelope::Limits::default())
            .expect("the WS-Man codec's server role parses every request of the client");
        assert_eq!(parsed.header.action, parsed.body.action(), "Action header and body agree");
        assert!(parsed.header.message_id.is_some() && parsed.header.session_id.is_some(), "{:?}", parsed.header);
        assert!(parsed.header.not_understood.is_empty(), "{:?}", parsed.header.not_understood);
        if let Some(size) = parsed.header.max_envelope_size {
            self.server.lock().expect("server").envelope_sizes.push(size);
        }
        let (status, text) = self.answer(request);
        let root = xml::parse(request);
        let action = root.child("Header").and_then(|h| h.child_text("Action")).unwrap_or_default().to_owned();
        (status, text.replacen("<a:Action>response</a:Action>", &format!("<a:Action>{action}Response</a:Action>"), 1))
    }

    fn answer(&self, request: &[u8]) -> (u16, String) {
        let envelope_element = xml::parse(request);
        let header = envelope_element.child("Header").expect("header");
        let action = header.child_text("Action").expect("action").to_owned();
        let session_id = header
            .child_text("SessionId")
            .and_then(|s| Uuid::parse_str(s.trim_start_matches("uuid:")).ok())
            .expect("SessionId");
        let resource_uri = header.child_text("ResourceURI").unwrap_or_default().to_owned();
        let shell_id = header.find("Selector").and_then(|s| Uuid::parse_str(s.text.trim()).ok());
        let body = envelope_element.child("Body").expect("body").clone();
        let mut server = self.server.lock().expect("server");
        server.log.push(action.rsplit('/').next().unwrap_or_default().to_owned());
        let verb = action.rsplit('/').next().unwrap_or_default().to_owned();
        if verb == "Create" {
            return self.create(&mut server, &body, &resource_uri, session_id);
        }
        if verb == "Enumerate" {
            return self.enumerate(&server, &body, &resource_uri);
        }
        if verb == "Pull" {
            return self.pull(&server, &body);
        }
        let Some(shell_id) = shell_id else { return not_found() };
        let command_reconnect_ignored = server.command_reconnect_ignored;
        let user = self.user.clone();
        let Some(shell) = server.shells.get_mut(&shell_id).filter(|s| s.user == user) else { return not_found() };
        match verb.as_str() {
            "Delete" => {
                server.shells.remove(&shell_id);
                (200, envelope(""))
            }
            "Disconnect" => {
                if !shell.connected || shell.owner_session != session_id {
                    return fault(2150859206, "w:InternalError", "client session mismatch");
                }
                shell.connected = false;
                shell.commands_disconnected = shell.commands.keys().copied().collect();
                let disconnect = body.child("Disconnect");
                if let Some(idle) = disconnect.and_then(|d| d.child_text("IdleTimeOut")) {
                    shell.idle_timeout = idle.to_owned();
                }
                if let Some(mode) = disconnect.and_then(|d| d.child_text("BufferMode")) {
                    shell.buffer_mode = mode.to_owned();
                }
                (200, envelope(""))
            }
            "Reconnect" => {
                let command = body
                    .child("Reconnect")
                    .and_then(|r| r.attribute("CommandId"))
                    .and_then(|c| Uuid::parse_str(c).ok());
                if let Some(command) = command {
                    if !command_reconnect_ignored {
                        shell.commands_disconnected.remove(&command);
                    }
                    return if shell.commands.contains_key(&command) { (200, envelope("")) } else { not_found() };
                }
                if shell.connected && shell.owner_session != session_id {
                    return fault(2150859213, "w:InternalError", "The shell is connected to a different client.");
                }
                if !shell.connected && shell.owner_session != session_id {
                    return fault(2150859206, "w:InternalError", "client session mismatch");
                }
                shell.connected = true;
                (200, envelope(""))
            }
            "Connect" => {
                let connect = body.child("Connect").expect("rsp:Connect");
                if let Some(command) = connect.attribute("CommandId").and_then(|c| Uuid::parse_str(c).ok()) {
                    if !shell.connected || shell.owner_session != session_id {
                        return fault(2150859204, "w:InternalError", "The shell is disconnected.");
                    }
                    shell.commands_disconnected.remove(&command);
                    return if shell.commands.contains_key(&command) {
                        (200, envelope("<rsp:ConnectResponse/>"))
                    } else {
                        not_found()
                    };
                }
                if shell.connected {
                    return fault(2150859213, "w:InternalError", "The shell is connected to a different client.");
                }
                let xml = decode_b64(&connect.child("connectXml").expect("connectXml").text);
                let sent = messages(&xml);
                assert_eq!(sent.len(), 2, "connectXml = SESSION_CAPABILITY + CONNECT_RUNSPACEPOOL");
                assert_eq!(sent[0].message_type, MessageType::SessionCapability);
                assert_eq!(sent[1].message_type, MessageType::ConnectRunspacePool);
                assert_eq!(sent[1].rpid, shell.rpid, "CONNECT_RUNSPACEPOOL names the pool");
                let rpid = shell.rpid;
                let mut response = shell.queue(MessageType::SessionCapability, rpid, Uuid::nil(), CAPABILITY).to_vec();
                response.extend_from_slice(&shell.queue(
                    MessageType::RunspacePoolInitData,
                    rpid,
                    Uuid::nil(),
                    "<Obj RefId=\"0\"><MS><I32 N=\"MinRunspaces\">1</I32><I32 N=\"MaxRunspaces\">1</I32></MS></Obj>",
                ));
                let private = shell.queue(MessageType::ApplicationPrivateData, rpid, Uuid::nil(), PRIVATE_DATA);
                shell.pool_out.push_back(private);
                shell.connected = true;
                shell.owner_session = session_id;
                (
                    200,
                    envelope(&format!(
                        "<rsp:ConnectResponse><rsp:InputStreams>stdin pr</rsp:InputStreams><rsp:OutputStreams>stdout</rsp:OutputStreams>\
<connectResponseXml xmlns=\"http://schemas.microsoft.com/powershell\">{}</connectResponseXml></rsp:ConnectResponse>",
                        b64(&response)
                    )),
                )
            }
            _ if !shell.connected => fault(2150859204, "w:InternalError", "The shell is disconnected."),
            _ if shell.owner_session != session_id => fault(2150859206, "w:InternalError", "client session mismatch"),
            "Receive" => {
                let command = body
                    .find("DesiredStream")
                    .and_then(|d| d.attribute("CommandId"))
                    .and_then(|c| Uuid::parse_str(c).ok());
                if command.is_some_and(|c| shell.commands_disconnected.contains(&c)) {
                    return fault(2150859204, "w:InternalError", "The command is disconnected.");
                }
                let (queue, finished, attr) = match command {
                    Some(id) => match shell.commands.get_mut(&id) {
                        Some(c) => (&mut c.out, c.finished, format!(" CommandId=\"{}\"", upper(id))),
                        None => return not_found(),
                    },
                    None => (&mut shell.pool_out, false, String::new()),
                };
                if queue.is_empty() {
                    return fault(
                        2150858793,
                        "w:TimedOut",
                        "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.",
                    );
                }
                let mut streams = String::new();
                for _ in 0..2 {
                    let Some(fragment) = queue.pop_front() else { break };
                    streams.push_str(&format!("<rsp:Stream Name=\"stdout\"{attr}>{}</rsp:Stream>", b64(&fragment)));
                }
                let state = if command.is_some() && finished && queue.is_empty() {
                    format!(
                        "<rsp:CommandState{attr} State=\"http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done\"><rsp:ExitCode>0</rsp:ExitCode></rsp:CommandState>"
                    )
                } else {
                    String::new()
                };
                (200, envelope(&format!("<rsp:ReceiveResponse>{streams}{state}</rsp:ReceiveResponse>")))
            }
            "Command" => {
                let line = body.find("CommandLine").expect("CommandLine");
                let id = Uuid::parse_str(line.attribute("CommandId").expect("CommandId")).expect("uuid");
                let args = decode_b64(&line.child("Arguments").expect("Arguments").text);
                let sent = messages(&args);
                let create =
                    sent.iter().find(|m| m.message_type == MessageType::CreatePipeline).expect("CREATE_PIPELINE");
                assert_eq!(create.pid, id, "CommandId = pipeline id");
                let text = String::from_utf8(create.body().to_vec()).expect("utf8");
                let script = text
                    .split("<S N=\"Cmd\">")
                    .nth(1)
                    .and_then(|t| t.split("</S>").next())
                    .unwrap_or_default()
                    .to_owned();
                let rpid = shell.rpid;
                let mut out = VecDeque::new();
                let mut failed = false;
                for statement in script.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                    match statement.strip_prefix("Write-Output '").and_then(|s| s.strip_suffix('\'')) {
                        Some(value) => out.push_back(shell.queue(
                            MessageType::PipelineOutput,
                            rpid,
                            id,
                            &format!("<S>{value}</S>"),
                        )),
                        None => {
                            failed = true;
                            break;
                        }
                    }
                }
                let state = if failed {
                    "<Obj RefId=\"0\"><MS><I32 N=\"PipelineState\">5</I32><Obj N=\"ExceptionAsErrorRecord\" RefId=\"1\"><ToString>unsupported statement</ToString></Obj></MS></Obj>"
                } else {
                    "<Obj RefId=\"0\"><MS><I32 N=\"PipelineState\">4</I32></MS></Obj>"
                };
                out.push_back(shell.queue(MessageType::PipelineState, rpid, id, state));
                let command_line = line.child_text("Command").unwrap_or_default().to_owned();
                shell.commands.insert(id, Command { line: command_line, out, finished: true });
                (
                    200,
                    envelope(&format!(
                        "<rsp:CommandResponse><rsp:CommandId>{}</rsp:CommandId></rsp:CommandResponse>",
                        upper(id)
                    )),
                )
            }
            "Signal" => {
                let signal = body.child("Signal").expect("Signal");
                let id = signal.attribute("CommandId").and_then(|c| Uuid::parse_str(c).ok()).expect("CommandId");
                let code = signal.child_text("Code").unwrap_or_default().to_owned();
                if code.ends_with("Terminate") {
                    shell.commands.remove(&id);
                } else if code == "powershell/signal/crtl_c" {
                    // Stop: the pipeline ends Stopped; output not yet received is discarded.
                    let rpid = shell.rpid;
                    let stopped = shell.queue(
                        MessageType::PipelineState,
                        rpid,
                        id,
                        "<Obj RefId=\"0\"><MS><I32 N=\"PipelineState\">3</I32></MS></Obj>",
                    );
                    if let Some(command) = shell.commands.get_mut(&id) {
                        command.out.clear();
                        command.out.push_back(stopped);
                    }
                } else {
                    panic!("unexpected signal {code}");
                }
                (200, envelope("<rsp:SignalResponse/>"))
            }
            "Send" => (200, envelope("<rsp:SendResponse/>")),
            other => panic!("unexpected action {other}"),
        }
    }

    fn create(
        &self,
        server: &mut SimulatedServer,
        body: &Element,
        resource_uri: &str,
        session_id: Uuid,
    ) -> (u16, String) {
        let shell = body.child("Shell").expect("rsp:Shell");
        let id = Uuid::parse_str(shell.attribute("ShellId").expect("ShellId attribute")).expect("uuid");
        assert_eq!(shell.attribute("ShellId"), Some(upper(id).as_str()), "ShellId is upper case");
        let name = shell.attribute("Name").expect("Name attribute, as PowerShell sends").to_owned();
        let creation = decode_b64(&shell.child("creationXml").expect("creationXml").text);
        let sent = messages(&creation);
        assert_eq!(sent[0].message_type, MessageType::SessionCapability);
        assert_eq!(sent[1].message_type, MessageType::InitRunspacePool);
        let rpid = sent[1].rpid;
        assert_eq!(rpid, id, "ShellId = RunspacePool id");
        let mut new = Shell {
            user: self.user.clone(),
            name,
            resource_uri: resource_uri.to_owned(),
            rpid,
            connected: true,
            owner_session: session_id,
            fragmenter: Fragmenter::new(32 << 10).expect("fragmenter"),
            pool_out: VecDeque::new(),
            commands: HashMap::new(),
            idle_timeout: "PT7200.000S".to_owned(),
            buffer_mode: "Block".to_owned(),
            commands_disconnected: std::collections::HashSet::new(),
        };
        let capability = server.protocol_version.map_or_else(
            || CAPABILITY.to_owned(),
            |version| CAPABILITY.replace(">2.3</Version>", &format!(">{version}</Version>")),
        );
        for (message_type, body) in [
            (MessageType::SessionCapability, capability.as_str()),
            (MessageType::ApplicationPrivateData, PRIVATE_DATA),
            (MessageType::RunspacePoolState, "<Obj RefId=\"0\"><MS><I32 N=\"RunspaceState\">2</I32></MS></Obj>"),
        ] {
            let rpid = if message_type == MessageType::SessionCapability { Uuid::nil() } else { rpid };
            let fragment = new.queue(message_type, rpid, Uuid::nil(), body);
            new.pool_out.push_back(fragment);
        }
        let xml = shell_xml(id, &new);
        server.shells.insert(id, new);
        (200, envelope(&format!("<x:ResourceCreated><a:Address>sim</a:Address></x:ResourceCreated>{xml}")))
    }

    fn enumerate(&self, server: &SimulatedServer, body: &Element, resource_uri: &str) -> (u16, String) {
        let mut items = String::new();
        if resource_uri.ends_with("/shell/Command") {
            let id = body.find("Selector").and_then(|s| Uuid::parse_str(s.text.trim()).ok()).expect("ShellId filter");
            if server.refuse_command_listing.contains(&id) {
                return fault(2150859008, "w:InternalError", "The command enumeration of this shell failed.");
            }
            if let Some(shell) = server.shells.get(&id).filter(|s| s.user == self.user) {
                let mut ids: Vec<&Uuid> = shell.commands.keys().collect();
                ids.sort();
                for command_id in ids {
                    let command = &shell.commands[command_id];
                    // As WinRM reports it: Done once the command ended, though its output may still be buffered.
                    let state = if command.finished { "Done" } else { "Running" };
                    items.push_str(&format!(
                        "<rsp:Command><rsp:CommandId>{}</rsp:CommandId><rsp:CommandLine>{}</rsp:CommandLine><rsp:CommandState>{state}</rsp:CommandState></rsp:Command>",
                        upper(*command_id),
                        xml::escape(&command.line)
                    ));
                }
            }
        } else {
            // Shells are listed one per page: the first with the Enumerate, the others with Pull (as the
            // non-optimized WS-Man enumeration of PowerShell's Get-WSManInstance does).
            let ids = self.shell_ids(server);
            if let Some(first) = ids.first() {
                items.push_str(&shell_xml(*first, &server.shells[first]));
            }
            if ids.len() > 1 {
                return (
                    200,
                    envelope(&format!(
                        "<n:EnumerateResponse><n:EnumerationContext>page-1</n:EnumerationContext><w:Items>{items}</w:Items></n:EnumerateResponse>"
                    )),
                );
            }
        }
        (
            200,
            envelope(&format!(
                "<n:EnumerateResponse><n:EnumerationContext></n:EnumerationContext><w:Items>{items}</w:Items><w:EndOfSequence/></n:EnumerateResponse>"
            )),
        )
    }
}

impl SimulatedConnection {
    fn shell_ids(&self, server: &SimulatedServer) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = server.shells.iter().filter(|(_, s)| s.user == self.user).map(|(id, _)| *id).collect();
        ids.sort();
        ids
    }

    fn pull(&self, server: &SimulatedServer, body: &Element) -> (u16, String) {
        let context = body.find("EnumerationContext").map(|c| c.text.trim().to_owned()).unwrap_or_default();
        let page: usize =
            context.strip_prefix("page-").and_then(|n| n.parse().ok()).expect("a context this server issued");
        let ids = self.shell_ids(server);
        let item = ids.get(page).map(|id| shell_xml(*id, &server.shells[id])).unwrap_or_default();
        let tail = if page + 1 < ids.len() {
            format!("<n:EnumerationContext>page-{}</n:EnumerationContext>", page + 1)
        } else {
            "<n:EndOfSequence/>".to_owned()
        };
        (200, envelope(&format!("<n:PullResponse><n:Items>{item}</n:Items>{tail}</n:PullResponse>")))
    }
}

fn shell_xml(id: Uuid, shell: &Shell) -> String {
    format!(
        "<rsp:Shell><rsp:ShellId>{}</rsp:ShellId><rsp:Name>{}</rsp:Name><rsp:ResourceUri>{}</rsp:ResourceUri><rsp:Owner>{}</rsp:Owner>\
<rsp:ClientIP>127.0.0.1</rsp:ClientIP><rsp:IdleTimeOut>{}</rsp:IdleTimeOut><rsp:InputStreams>stdin pr</rsp:InputStreams>\
<rsp:OutputStreams>stdout</rsp:OutputStreams><rsp:MaxIdleTimeOut>PT2147483.647S</rsp:MaxIdleTimeOut><rsp:Locale>en-US</rsp:Locale>\
<rsp:DataLocale>en-US</rsp:DataLocale><rsp:BufferMode>{}</rsp:BufferMode><rsp:State>{}</rsp:State>\
<rsp:ShellRunTime>P0DT0H0M2S</rsp:ShellRunTime><rsp:ShellInactivity>P0DT0H0M2S</rsp:ShellInactivity></rsp:Shell>",
        upper(id),
        xml::escape(&shell.name),
        shell.resource_uri,
        shell.user,
        shell.idle_timeout,
        shell.buffer_mode,
        if shell.connected { "Connected" } else { "Disconnected" }
    )
}

impl WsmanExchange for SimulatedConnection {
    fn exchange(&mut self, envelope: Bytes) -> ExchangeFuture<'_> {
        let (status, body) = self.handle(&envelope);
        Box::pin(async move { Ok(Response { status, body: Bytes::from(body) }) })
    }

    fn endpoint(&self) -> String {
        "http://sim:5985/wsman".to_owned()
    }
}

/// The text of each output object among `events`, in order.
pub fn output_texts(events: &[PipelineOutput]) -> Vec<String> {
    events
        .iter()
        .filter_map(|o| match &o.event {
            PipelineEvent::Output(value) => Some(value.to_display_string()),
            _ => None,
        })
        .collect()
}
