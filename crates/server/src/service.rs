//! The WS-Management request handler: one decrypted SOAP envelope in, one response envelope out.
//!
//! [`Service::handle_envelope`] is everything the WinRM service does after authentication: it parses the request,
//! applies the shell state machine of protocol.md §3.5 per authenticated user, calls the plugin registered for the
//! ResourceURI, and answers with Windows' response shapes and faults. It needs no socket, which is what the tests
//! and the `server_request` fuzz target drive; [`crate::endpoint`] adds HTTP and authentication on top.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use pssession_wsman::duration::XsDuration;
use pssession_wsman::enumeration::{EnumItem, Enumerate, EnumerateResponse, Pull, PullResponse, Release};
use pssession_wsman::envelope::{
    Limits, Request, RequestBody, Response, ResponseBody, parse_request, parse_request_header,
};
use pssession_wsman::error::EnvelopeError;
use pssession_wsman::fault::WsmanFault;
use pssession_wsman::header::{Header, Selector, WsmanOption, action, option, resource};
use pssession_wsman::ops::{
    CommandLine, CommandResponse, Config, Connect, ConnectResponse, CreateResponse, CreateShell, Disconnect,
    GetResponse, Receive, Reconnect, Send, Signal,
};
use pssession_wsman::receive::{CommandState, ReceiveResponse, Stream};
use pssession_wsman::shell::BufferMode;
use pssession_wsman::size::{MIN_ENVELOPE_SIZE, SAFETY_MARGIN, base64_capacity};
use tokio::sync::broadcast;
use tokio::time::Instant;
use uuid::Uuid;

use crate::config::ServiceConfig;
use crate::events::{DeleteCause, DisconnectCause, EVENT_BACKLOG, ShellChange, ShellEvent};
use crate::output::{BufferPolicy, NoData, OutputBuffer, OutputSink, ReceiveSequence, lock};
use crate::plugin::{Plugin, ShellInfo};
use crate::shell::{Command, Registry, Shell, ShellStatus, id_text, user_key};

/// The configuration name PowerShell connects to by default (`Microsoft.PowerShell`).
pub const DEFAULT_CONFIGURATION: &str = "Microsoft.PowerShell";

const COMMAND_DONE: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done";

/// The authenticated client a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user as shells report their owner: `DOMAIN\user`, or `user` when the client named no domain.
    pub user: String,
    /// The client's IP address (`rsp:ClientIP`).
    pub client_ip: String,
}

impl Caller {
    /// A caller from an authenticated `domain` (may be empty) and `user`.
    pub fn new(domain: &str, user: &str, client_ip: &str) -> Self {
        let user = if domain.is_empty() { user.to_owned() } else { format!("{domain}\\{user}") };
        Caller { user, client_ip: client_ip.to_owned() }
    }

    fn key(&self) -> String {
        // Shells belong to the account, whichever way the client spelled its domain.
        user_key(self.user.rsplit_once('\\').map_or(self.user.as_str(), |(_, u)| u))
    }
}

/// An envelope answer: HTTP status (200, or 500 for a fault) and the response envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeReply {
    /// 200 or 500.
    pub status: u16,
    /// The SOAP envelope.
    pub body: Vec<u8>,
}

struct EnumerationContext {
    id: String,
    owner: String,
    items: VecDeque<EnumItem>,
}

struct Inner {
    config: ServiceConfig,
    plugins: HashMap<String, Arc<dyn Plugin>>,
    registry: Registry,
    enumerations: Mutex<VecDeque<EnumerationContext>>,
    events: broadcast::Sender<ShellEvent>,
}

impl Inner {
    /// Tells the watchers of [`Service::shell_events`]; nobody watching is fine.
    fn emit(&self, shell: &Shell, change: ShellChange) {
        let _ = self.events.send(ShellEvent {
            shell_id: shell.id,
            name: shell.name.clone(),
            owner: shell.owner.clone(),
            change,
        });
    }
}

/// The WinRM service: registered plugins, shells, enumeration contexts. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.inner.plugins.keys().collect();
        names.sort();
        f.debug_struct("Service")
            .field("config", &self.inner.config)
            .field("plugins", &names)
            .field("shells", &self.inner.registry.len())
            .finish()
    }
}

fn new_message_id() -> String {
    format!("uuid:{}", id_text(Uuid::new_v4()))
}

type OpResult = Result<ResponseBody, WsmanFault>;

/// A successful operation's answer: the body, and what a sequenced Receive adds to the response header.
struct Answer {
    body: ResponseBody,
    /// The `wsmv:SequenceId` echoed by a sequenced Receive (it tells the client this server retains responses).
    sequence_id: Option<u64>,
    /// Whole objects discarded in Drop mode for the target, reported as the `PSSESSION_OUTPUT_DROPPED` option.
    dropped_objects: u64,
}

impl From<ResponseBody> for Answer {
    fn from(body: ResponseBody) -> Self {
        Answer { body, sequence_id: None, dropped_objects: 0 }
    }
}

/// The response envelope of `answer` to `request`.
fn reply_to(request: &Header, answer: Answer, message_id: &str) -> Response {
    let mut response = Response::reply(request, answer.body, message_id);
    response.header.sequence_id = answer.sequence_id;
    if answer.dropped_objects > 0 {
        response.header.options.push(WsmanOption {
            name: option::OUTPUT_DROPPED.to_owned(),
            value: answer.dropped_objects.to_string(),
            must_comply: false,
        });
    }
    response
}

/// Whether a Receive is sequenced: it carries `wsmv:SequenceId` without `wsmv:OperationID`. PowerShell's native
/// client sends both on every request (MS-WSMV robust connections, which this server does not implement and must
/// then ignore), so only the SequenceId-alone form of this crate's client is taken as numbering Receives.
fn receive_sequence(h: &Header) -> Option<ReceiveSequence> {
    match (h.sequence_id, &h.operation_id) {
        (Some(id), None) => Some(ReceiveSequence { id, session: h.session_id.clone() }),
        _ => None,
    }
}

impl Service {
    /// A service with `plugins`: configuration name (the last ResourceURI segment, matched case-insensitively)
    /// → plugin. Register the PowerShell plugin under [`DEFAULT_CONFIGURATION`].
    pub fn new(config: ServiceConfig, plugins: impl IntoIterator<Item = (String, Arc<dyn Plugin>)>) -> Self {
        let plugins = plugins.into_iter().map(|(name, p)| (name.to_lowercase(), p)).collect();
        let (events, _) = broadcast::channel(EVENT_BACKLOG);
        Service {
            inner: Arc::new(Inner {
                config,
                plugins,
                registry: Registry::default(),
                enumerations: Mutex::new(VecDeque::new()),
                events,
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &ServiceConfig {
        &self.inner.config
    }

    /// Every change of every shell from now on: created, disconnected (by its client, or because the client
    /// was lost), connected again, deleted. See [`crate::events`].
    pub fn shell_events(&self) -> broadcast::Receiver<ShellEvent> {
        self.inner.events.subscribe()
    }

    /// Shells currently held (all users).
    pub fn shell_count(&self) -> usize {
        self.inner.registry.len()
    }

    /// Deletes every shell (server shutdown): each plugin shell is closed.
    pub fn close_all(&self) {
        self.inner.registry.clear();
    }

    fn machine(&self) -> &str {
        &self.inner.config.machine_name
    }

    fn fault_reply(&self, header: Option<&Header>, fault: WsmanFault) -> EnvelopeReply {
        tracing::debug!(
            action = header.map_or("", |h| h.action.as_str()),
            code = format_args!("{:#010x}", fault.wsman_code.unwrap_or_default()),
            subcode = fault.subcode.as_deref().unwrap_or_default(),
            reason = fault.reason.trim(),
            "fault"
        );
        let request = header.cloned().unwrap_or_default();
        let response = Response::reply(&request, ResponseBody::Fault(fault), &new_message_id());
        EnvelopeReply { status: 500, body: response.to_bytes() }
    }

    /// Handles one (decrypted) request envelope from `caller`.
    pub async fn handle_envelope(&self, caller: &Caller, envelope: &[u8]) -> EnvelopeReply {
        let max = self.inner.config.max_envelope_size();
        if envelope.len() > max {
            return self.fault_reply(None, WsmanFault::encoding_limit(self.machine()));
        }
        let limits = Limits { max_envelope: max, ..Limits::default() };
        let request = match parse_request(envelope, &limits) {
            Ok(r) => r,
            Err(EnvelopeError::UnsupportedAction(unknown)) => {
                // The header did parse: the fault names the Action and ResourceURI and relates to the request.
                let header = parse_request_header(envelope, &limits).ok();
                let resource_uri = header.as_ref().and_then(|h| h.resource_uri.as_deref());
                let fault = WsmanFault::action_not_supported_for(&unknown, resource_uri, self.machine());
                return self.fault_reply(header.as_ref(), fault);
            }
            Err(e) => return self.fault_reply(None, self.parse_fault(&e)),
        };
        tracing::debug!(
            user = %caller.user,
            action = %request.header.action,
            resource = request.header.resource_uri.as_deref().unwrap_or_default(),
            shell = request.header.shell_id().unwrap_or_default(),
            "request"
        );
        if let Some(fault) = request.must_understand_fault(self.machine()) {
            return self.fault_reply(Some(&request.header), fault);
        }
        let result = self.dispatch(caller, &request).await;
        match result {
            Ok(answer) => {
                let response = reply_to(&request.header, answer, &new_message_id());
                EnvelopeReply { status: 200, body: response.to_bytes() }
            }
            Err(fault) => self.fault_reply(Some(&request.header), fault),
        }
    }

    fn parse_fault(&self, e: &EnvelopeError) -> WsmanFault {
        let m = self.machine();
        match e {
            EnvelopeError::UnsupportedAction(_) => WsmanFault::action_not_supported(m),
            EnvelopeError::TooLarge { .. } => WsmanFault::encoding_limit(m),
            EnvelopeError::InvalidHeader { header: "OperationTimeout", value } => {
                WsmanFault::invalid_timeout_header(value, m)
            }
            EnvelopeError::InvalidHeader { .. } | EnvelopeError::MissingHeader(_) => WsmanFault::invalid_header(m),
            _ => schema_fault(m),
        }
    }

    /// The envelope size for this request's responses: min(client's MaxEnvelopeSize, ours).
    fn envelope_size(&self, header: &Header) -> Result<usize, WsmanFault> {
        let ours = self.inner.config.max_envelope_size();
        let size = header.max_envelope_size.map_or(ours, |c| (c as usize).min(ours));
        if size < MIN_ENVELOPE_SIZE {
            return Err(WsmanFault::encoding_limit(self.machine()));
        }
        Ok(size)
    }

    async fn dispatch(&self, caller: &Caller, request: &Request) -> Result<Answer, WsmanFault> {
        let h = &request.header;
        let envelope_size = self.envelope_size(h)?;
        let body = match &request.body {
            RequestBody::Receive(b) => return self.receive(caller, h, b, envelope_size).await,
            RequestBody::Create(b) => self.create(caller, h, b, envelope_size),
            RequestBody::Command(b) => self.command(caller, h, b),
            RequestBody::Send(b) => self.send(caller, h, b),
            RequestBody::Signal(b) => self.signal(caller, h, b),
            RequestBody::Delete => self.delete(caller, h),
            RequestBody::Get => self.get(caller, h),
            RequestBody::Disconnect(b) => self.disconnect(caller, h, b),
            RequestBody::Reconnect(b) => self.reconnect(caller, h, b),
            RequestBody::Connect(b) => self.connect(caller, h, b),
            RequestBody::Enumerate(b) => self.enumerate(caller, h, b),
            RequestBody::Pull(b) => self.pull(caller, b),
            RequestBody::Release(b) => self.release(caller, b),
        };
        body.map(Answer::from)
    }

    // ----- lookups and checks -------------------------------------------------------------------------------

    fn shell_of(&self, caller: &Caller, h: &Header) -> Result<Arc<Shell>, WsmanFault> {
        let text = h.shell_id().unwrap_or_default();
        let shell = Uuid::parse_str(text.trim()).ok().and_then(|id| self.inner.registry.get(id, &caller.key()));
        // A shell belongs to the plugin of its ResourceURI: addressed through another plugin's configuration it
        // is not found, as WinRM routes each request to the plugin its ResourceURI names. The generic shell
        // resource (Get-WSManInstance on `…/windows/shell`) reaches every shell.
        let same_plugin = |s: &Shell| {
            h.resource_uri.as_deref().map(str::trim).is_none_or(|uri| {
                uri.eq_ignore_ascii_case(&s.resource_uri) || uri.eq_ignore_ascii_case(resource::SHELL)
            })
        };
        match shell {
            Some(s) if !lock(&s.status).deleted && same_plugin(&s) => Ok(s),
            _ => Err(WsmanFault::invalid_selectors_shell(text, self.machine())),
        }
    }

    fn command_id(&self, text: &str) -> Result<Uuid, WsmanFault> {
        Uuid::parse_str(text.trim()).map_err(|_| WsmanFault::invalid_selectors_command(self.machine()))
    }

    /// The shell must be connected, to this client session: the check of Command/Send/Receive/Signal.
    fn check_connected(&self, shell: &Shell, status: &ShellStatus, h: &Header) -> Result<(), WsmanFault> {
        if !status.connected {
            return Err(WsmanFault::shell_disconnected(&id_text(shell.id), self.machine()));
        }
        if !same_session(status.session_id.as_deref(), h.session_id.as_deref()) {
            return Err(WsmanFault::client_session_id_mismatch(&id_text(shell.id), self.machine()));
        }
        Ok(())
    }

    // ----- Create -------------------------------------------------------------------------------------------

    fn plugin_for(&self, resource_uri: &str) -> Result<(String, Arc<dyn Plugin>), WsmanFault> {
        let prefix = resource::POWERSHELL_PREFIX;
        let name = match resource_uri.get(..prefix.len()) {
            Some(p) if p.eq_ignore_ascii_case(prefix) => &resource_uri[prefix.len()..],
            _ if resource_uri.trim().eq_ignore_ascii_case(resource::CMD) => {
                return Err(WsmanFault::cmd_shell_not_provided(resource_uri, self.machine()));
            }
            _ => return Err(WsmanFault::resource_not_supported(action::CREATE, Some(resource_uri), self.machine())),
        };
        self.inner
            .plugins
            .get(&name.to_lowercase())
            .map(|p| (name.to_owned(), p.clone()))
            .ok_or_else(|| destination_unreachable(name, self.machine()))
    }

    fn create(&self, caller: &Caller, h: &Header, body: &CreateShell, envelope_size: usize) -> OpResult {
        let m = self.machine();
        let resource_uri = h.resource_uri.clone().unwrap_or_default();
        let (configuration_name, plugin) = self.plugin_for(&resource_uri)?;
        let shell_id = match &body.shell_id {
            Some(text) => Uuid::parse_str(text.trim()).map_err(|_| invalid_parameter("ShellId", m))?,
            None => Uuid::new_v4(),
        };
        if self.inner.registry.contains(shell_id) {
            return Err(WsmanFault::shell_id_conflict(&id_text(shell_id), m));
        }
        let key = caller.key();
        let limit = self.inner.config.max_shells_per_user;
        if self.inner.registry.count_of(&key) >= limit {
            return Err(WsmanFault::internal_error(
                0x8033_81A5,
                &format!(
                    "The WS-Management service cannot process the request. This user is allowed a maximum number of \
                     {limit} concurrent shells, which has been exceeded. Close existing shells or raise the quota \
                     for this user. "
                ),
                m,
            ));
        }
        let idle_timeout = self.clamp_idle(body.idle_timeout);
        let buffer_mode = BufferMode::Block;
        let policy = BufferPolicy::new(buffer_mode);
        let pool_output = OutputBuffer::new(None, self.inner.config.output_buffer_bytes, policy.clone());
        let info = ShellInfo {
            shell_id,
            name: body.name.clone(),
            owner: caller.user.clone(),
            resource_uri: resource_uri.clone(),
            configuration_name,
            max_envelope_size: envelope_size,
            max_fragment_size: max_fragment_size(envelope_size),
            compression: false,
            protocol_version: h.protocol_version().map(str::to_owned),
            client_session_id: h.session_id.clone(),
            buffer_mode,
            machine: m.to_owned(),
        };
        let creation_xml = body.creation_xml.clone().unwrap_or_default();
        let plugin_shell = plugin.create_shell(&info, &creation_xml, OutputSink::new(pool_output.clone()))?;
        let now = Instant::now();
        let input_streams = non_empty(&body.input_streams, "stdin pr");
        let output_streams = non_empty(&body.output_streams, "stdout");
        let shell = Arc::new(Shell {
            id: shell_id,
            name: body.name.clone(),
            resource_uri: resource_uri.clone(),
            owner: caller.user.clone(),
            owner_key: key,
            client_ip: caller.client_ip.clone(),
            locale: h.locale.clone().unwrap_or_else(|| "en-US".to_owned()),
            data_locale: h.data_locale.clone().unwrap_or_else(|| "en-US".to_owned()),
            input_streams,
            output_streams,
            created: now,
            plugin: plugin_shell,
            policy,
            pool_output,
            status: Mutex::new(ShellStatus {
                connected: true,
                session_id: h.session_id.clone(),
                idle_timeout,
                buffer_mode,
                generation: 0,
                last_activity: now,
                receiving: 0,
                commands: HashMap::new(),
                deleted: false,
            }),
        });
        if !self.inner.registry.insert(shell.clone()) {
            shell.close();
            return Err(WsmanFault::shell_id_conflict(&id_text(shell_id), m));
        }
        self.inner.emit(&shell, ShellChange::Created);
        watch_client(&self.inner, &shell, 0);
        let address = h.to.clone().unwrap_or_default();
        Ok(ResponseBody::Create(Box::new(CreateResponse {
            address,
            resource_uri,
            selectors: vec![Selector { name: "ShellId".to_owned(), value: id_text(shell_id) }],
            shell: Some(shell.properties(self.inner.config.max_idle_timeout, false)),
        })))
    }

    fn clamp_idle(&self, requested: Option<XsDuration>) -> Duration {
        let max = self.inner.config.max_idle_timeout;
        requested.map_or(self.inner.config.idle_timeout, XsDuration::to_std).min(max)
    }

    // ----- Command, Send, Receive, Signal -------------------------------------------------------------------

    fn command(&self, caller: &Caller, h: &Header, body: &CommandLine) -> OpResult {
        let m = self.machine();
        let shell = self.shell_of(caller, h)?;
        let command_id = match &body.command_id {
            Some(text) => Uuid::parse_str(text.trim()).map_err(|_| invalid_parameter("CommandId", m))?,
            None => Uuid::new_v4(),
        };
        let arguments = body.payload().map_err(|_| schema_fault(m))?;
        let output = shell.command_buffer(command_id, self.inner.config.output_buffer_bytes);
        {
            let mut status = lock(&shell.status);
            self.check_connected(&shell, &status, h)?;
            if status.commands.contains_key(&command_id) {
                return Err(WsmanFault::internal_error(
                    0x8033_81D6,
                    &format!("A command with CommandId {} already exists in the shell. ", id_text(command_id)),
                    m,
                ));
            }
            status.last_activity = Instant::now();
            let command_line = body.command.clone().unwrap_or_default();
            status.commands.insert(command_id, Command { output: output.clone(), command_line });
        }
        if let Err(fault) = shell.plugin.command(command_id, &arguments, OutputSink::new(output.clone())) {
            lock(&shell.status).commands.remove(&command_id);
            output.close();
            return Err(fault);
        }
        Ok(ResponseBody::Command(CommandResponse { command_id: id_text(command_id) }))
    }

    fn send(&self, caller: &Caller, h: &Header, body: &Send) -> OpResult {
        let shell = self.shell_of(caller, h)?;
        let mut targets = Vec::with_capacity(body.streams.len());
        {
            let mut status = lock(&shell.status);
            self.check_connected(&shell, &status, h)?;
            status.last_activity = Instant::now();
            for s in &body.streams {
                let command = s.command_id.as_deref().map(|t| self.command_id(t)).transpose()?;
                if let Some(c) = command
                    && !status.commands.contains_key(&c)
                {
                    return Err(WsmanFault::invalid_selectors_command(self.machine()));
                }
                targets.push(command);
            }
        }
        for (s, command) in body.streams.iter().zip(targets) {
            shell.plugin.send(command, &s.name, &s.data)?;
        }
        Ok(ResponseBody::Send)
    }

    async fn receive(
        &self,
        caller: &Caller,
        h: &Header,
        body: &Receive,
        envelope_size: usize,
    ) -> Result<Answer, WsmanFault> {
        let m = self.machine();
        let shell = self.shell_of(caller, h)?;
        let command = body.command_id.as_deref().map(|t| self.command_id(t)).transpose()?;
        let (buffer, _receiving) = {
            let mut status = lock(&shell.status);
            self.check_connected(&shell, &status, h)?;
            status.last_activity = Instant::now();
            let buffer = match command {
                None => shell.pool_output.clone(),
                Some(c) => match status.commands.get(&c) {
                    Some(cmd) => cmd.output.clone(),
                    None => return Err(WsmanFault::invalid_selectors_command(m)),
                },
            };
            // Counted under the lock the checks already hold: no second lock per Receive.
            (buffer, Receiving::start(&shell, &mut status))
        };
        let config = &self.inner.config;
        let wait = h
            .operation_timeout
            .map_or(config.default_operation_timeout, XsDuration::to_std)
            .min(config.max_operation_timeout);
        let deadline = Instant::now() + wait;
        let stream_name = body.streams.split_whitespace().next().unwrap_or("stdout").to_owned();
        let command_text = command.map(id_text);
        let sequence = receive_sequence(h);
        let (fixed, per_stream) = receive_costs(h, &stream_name, command_text.as_deref(), sequence.is_some());
        let mut room = envelope_size.saturating_sub(fixed + SAFETY_MARGIN);
        let fits = |len: usize| {
            let cost = per_stream + len.div_ceil(3) * 4;
            if cost <= room {
                room -= cost;
                true
            } else {
                room = 0;
                false
            }
        };
        let taken = buffer.receive(deadline, sequence.as_ref(), fits).await;
        match taken {
            Ok(taken) => {
                let streams = taken
                    .fragments
                    .into_iter()
                    .map(|f| Stream {
                        name: stream_name.clone(),
                        command_id: command_text.clone(),
                        end: false,
                        data: f,
                    })
                    .collect();
                let command_state = taken.done.map(|code| CommandState {
                    command_id: command_text.clone(),
                    state: COMMAND_DONE.to_owned(),
                    exit_code: Some(code),
                });
                Ok(Answer {
                    body: ResponseBody::Receive(ReceiveResponse { streams, command_state }),
                    sequence_id: sequence.map(|s| s.id),
                    dropped_objects: taken.dropped_objects,
                })
            }
            Err(NoData::OutOfSequence { requested, expected }) => Err(out_of_sequence(requested, expected, m)),
            Err(NoData::TimedOut | NoData::Disconnected) => Err(WsmanFault::timed_out(m)),
            Err(NoData::Closed) if command.is_some() && !lock(&shell.status).deleted => {
                Err(WsmanFault::invalid_selectors_command(m))
            }
            Err(NoData::Closed) => Err(WsmanFault::invalid_selectors_shell(&id_text(shell.id), m)),
        }
    }

    fn signal(&self, caller: &Caller, h: &Header, body: &Signal) -> OpResult {
        let shell = self.shell_of(caller, h)?;
        let command = body.command_id.as_deref().map(|t| self.command_id(t)).transpose()?;
        {
            let mut status = lock(&shell.status);
            self.check_connected(&shell, &status, h)?;
            status.last_activity = Instant::now();
            if let Some(c) = command
                && !status.commands.contains_key(&c)
            {
                return Err(WsmanFault::invalid_selectors_command(self.machine()));
            }
        }
        shell.plugin.signal(command, body.code.clone())?;
        if let Some(c) = command
            && !body.code.is_stop()
        {
            let removed = lock(&shell.status).commands.remove(&c);
            if let Some(cmd) = removed {
                cmd.output.close();
            }
        }
        Ok(ResponseBody::Signal)
    }

    // ----- Delete, Get --------------------------------------------------------------------------------------

    fn delete(&self, caller: &Caller, h: &Header) -> OpResult {
        let shell = self.shell_of(caller, h)?;
        if self.inner.registry.remove(shell.id).is_some() {
            self.inner.emit(&shell, ShellChange::Deleted { cause: DeleteCause::ClientRequest });
        }
        Ok(ResponseBody::Delete)
    }

    fn get(&self, caller: &Caller, h: &Header) -> OpResult {
        let uri = h.resource_uri.as_deref().unwrap_or_default();
        if uri.eq_ignore_ascii_case(resource::CONFIG) {
            return Ok(ResponseBody::Get(GetResponse::Config(Config {
                max_envelope_size_kb: Some(self.inner.config.max_envelope_size_kb),
                max_timeout_ms: Some(self.inner.config.max_operation_timeout.as_millis() as u64),
                max_batch_items: Some(32000),
                max_provider_requests: Some(4_294_967_295),
            })));
        }
        let shell = self.shell_of(caller, h).map_err(|_| WsmanFault::invalid_selectors_get(self.machine()))?;
        Ok(ResponseBody::Get(GetResponse::Shell(Box::new(shell.properties(self.inner.config.max_idle_timeout, true)))))
    }

    // ----- Disconnect, Reconnect, Connect -------------------------------------------------------------------

    fn disconnect(&self, caller: &Caller, h: &Header, body: &Disconnect) -> OpResult {
        let m = self.machine();
        let shell = self.shell_of(caller, h)?;
        let (idle, generation) = {
            let mut status = lock(&shell.status);
            if !status.connected {
                return Err(WsmanFault::shell_disconnected(&id_text(shell.id), m));
            }
            if !same_session(status.session_id.as_deref(), h.session_id.as_deref()) {
                return Err(WsmanFault::connected_to_different_client(&id_text(shell.id), m));
            }
            if body.idle_timeout.is_some() {
                status.idle_timeout = self.clamp_idle(body.idle_timeout);
            }
            if let Some(mode) = body.buffer_mode {
                status.buffer_mode = mode;
            }
            if let Some(acks) = h.option(option::RECEIVE_ACK) {
                acknowledge(&shell, &status, &acks.value);
            }
            status.connected = false;
            status.generation += 1;
            status.last_activity = Instant::now();
            shell.policy.set(true, status.buffer_mode);
            shell.wake_all(&status);
            (status.idle_timeout, status.generation)
        };
        self.inner
            .emit(&shell, ShellChange::Disconnected { cause: DisconnectCause::ClientRequest, idle_timeout: idle });
        start_idle_timer(&self.inner, &shell, idle, generation);
        Ok(ResponseBody::Disconnect)
    }

    fn reconnect(&self, caller: &Caller, h: &Header, body: &Reconnect) -> OpResult {
        let m = self.machine();
        let shell = self.shell_of(caller, h)?;
        let id = id_text(shell.id);
        let mut status = lock(&shell.status);
        let same = same_session(status.session_id.as_deref(), h.session_id.as_deref());
        if let Some(text) = &body.command_id {
            let c = self.command_id(text)?;
            if !status.connected {
                return Err(WsmanFault::shell_disconnected(&id, m));
            }
            if !same {
                return Err(WsmanFault::connected_to_different_client(&id, m));
            }
            if !status.commands.contains_key(&c) {
                return Err(WsmanFault::invalid_selectors_command(m));
            }
            return Ok(ResponseBody::Reconnect);
        }
        match (status.connected, same) {
            (true, true) => {}
            (true, false) => return Err(WsmanFault::connected_to_different_client(&id, m)),
            (false, false) => return Err(WsmanFault::client_session_id_mismatch(&id, m)),
            (false, true) => {
                if let Some(mode) = body.buffer_mode {
                    status.buffer_mode = mode;
                }
                status.connected = true;
                status.generation += 1;
                status.last_activity = Instant::now();
                shell.policy.set(false, status.buffer_mode);
                shell.wake_all(&status);
                let generation = status.generation;
                drop(status);
                self.inner.emit(&shell, ShellChange::Reconnected);
                watch_client(&self.inner, &shell, generation);
            }
        }
        Ok(ResponseBody::Reconnect)
    }

    fn connect(&self, caller: &Caller, h: &Header, body: &Connect) -> OpResult {
        let m = self.machine();
        let shell = self.shell_of(caller, h)?;
        let id = id_text(shell.id);
        let mut status = lock(&shell.status);
        if let Some(text) = &body.command_id {
            let c = self.command_id(text)?;
            if !status.connected {
                return Err(WsmanFault::shell_disconnected(&id, m));
            }
            if !same_session(status.session_id.as_deref(), h.session_id.as_deref()) {
                return Err(WsmanFault::connected_to_different_client(&id, m));
            }
            if !status.commands.contains_key(&c) {
                return Err(WsmanFault::invalid_selectors_command(m));
            }
            return Ok(ResponseBody::Connect(ConnectResponse::default()));
        }
        if status.connected {
            return Err(WsmanFault::connected_to_different_client(&id, m));
        }
        let connect_xml = body.connect_xml.clone().unwrap_or_default();
        let response = shell.plugin.connect(&connect_xml)?;
        if let Some(mode) = body.buffer_mode {
            status.buffer_mode = mode;
        }
        status.connected = true;
        status.generation += 1;
        status.session_id = h.session_id.clone();
        status.last_activity = Instant::now();
        shell.policy.set(false, status.buffer_mode);
        shell.wake_all(&status);
        let generation = status.generation;
        drop(status);
        self.inner.emit(&shell, ShellChange::Connected);
        watch_client(&self.inner, &shell, generation);
        Ok(ResponseBody::Connect(ConnectResponse {
            input_streams: Some(shell.input_streams.clone()),
            output_streams: Some(shell.output_streams.clone()),
            connect_response_xml: Some(Bytes::from(response)),
        }))
    }

    // ----- Enumerate, Pull, Release -------------------------------------------------------------------------

    fn enumerate(&self, caller: &Caller, h: &Header, body: &Enumerate) -> OpResult {
        let m = self.machine();
        let uri = h.resource_uri.as_deref().unwrap_or_default();
        let key = caller.key();
        let items: VecDeque<EnumItem> = if uri.eq_ignore_ascii_case(resource::SHELL) {
            let max_idle = self.inner.config.max_idle_timeout;
            self.inner
                .registry
                .of_user(&key)
                .iter()
                .map(|s| EnumItem::Shell(Box::new(s.properties(max_idle, true))))
                .collect()
        } else if uri.eq_ignore_ascii_case(resource::SHELL_COMMAND) {
            let shell_id = body
                .filter
                .as_ref()
                .and_then(|f| f.iter().find(|s| s.name.eq_ignore_ascii_case("ShellId")))
                .map(|s| s.value.clone())
                .ok_or_else(|| {
                    WsmanFault::internal_error(
                        0x8033_81C0,
                        "The WS-Management service cannot process the request. Enumerating shell commands \
                         requires a selector filter naming the ShellId. ",
                        m,
                    )
                })?;
            let shell = Uuid::parse_str(shell_id.trim()).ok().and_then(|id| self.inner.registry.get(id, &key));
            match shell {
                Some(s) => s.command_items().into_iter().map(EnumItem::Command).collect(),
                None => return Err(WsmanFault::invalid_selectors_shell(&shell_id, m)),
            }
        } else {
            return Err(WsmanFault::resource_not_supported(action::ENUMERATE, Some(uri), m));
        };
        let mut items = items;
        if body.optimize {
            let n = body.max_elements.map_or(1, |n| n.max(1) as usize);
            let first: Vec<EnumItem> = items.drain(..n.min(items.len())).collect();
            if items.is_empty() {
                return Ok(ResponseBody::Enumerate(EnumerateResponse {
                    context: None,
                    items: first,
                    end_of_sequence: true,
                }));
            }
            let context = self.store_context(key, items);
            return Ok(ResponseBody::Enumerate(EnumerateResponse {
                context: Some(context),
                items: first,
                end_of_sequence: false,
            }));
        }
        let context = self.store_context(key, items);
        Ok(ResponseBody::Enumerate(EnumerateResponse {
            context: Some(context),
            items: Vec::new(),
            end_of_sequence: false,
        }))
    }

    fn store_context(&self, owner: String, items: VecDeque<EnumItem>) -> String {
        let id = new_message_id();
        let mut contexts = lock(&self.inner.enumerations);
        while contexts.len() >= self.inner.config.max_enumeration_contexts.max(1) {
            contexts.pop_front();
        }
        contexts.push_back(EnumerationContext { id: id.clone(), owner, items });
        id
    }

    fn pull(&self, caller: &Caller, body: &Pull) -> OpResult {
        let key = caller.key();
        let mut contexts = lock(&self.inner.enumerations);
        let pos = contexts
            .iter()
            .position(|c| c.id == body.context.trim() && c.owner == key)
            .ok_or_else(|| invalid_enumeration_context(self.machine()))?;
        let n = body.max_elements.map_or(1, |n| n.max(1) as usize);
        let ctx = &mut contexts[pos];
        let items: Vec<EnumItem> = ctx.items.drain(..n.min(ctx.items.len())).collect();
        if ctx.items.is_empty() {
            contexts.remove(pos);
            return Ok(ResponseBody::Pull(PullResponse { context: None, items, end_of_sequence: true }));
        }
        let context = Some(ctx.id.clone());
        Ok(ResponseBody::Pull(PullResponse { context, items, end_of_sequence: false }))
    }

    fn release(&self, caller: &Caller, body: &Release) -> OpResult {
        let key = caller.key();
        let mut contexts = lock(&self.inner.enumerations);
        let pos = contexts
            .iter()
            .position(|c| c.id == body.context.trim() && c.owner == key)
            .ok_or_else(|| invalid_enumeration_context(self.machine()))?;
        contexts.remove(pos);
        Ok(ResponseBody::Release)
    }
}

/// Deletes `shell` once it has stayed disconnected for `idle`, unless a client connected it meanwhile (which
/// bumps its `generation`).
fn start_idle_timer(inner: &Arc<Inner>, shell: &Arc<Shell>, idle: Duration, generation: u64) {
    let weak: Weak<Inner> = Arc::downgrade(inner);
    let shell = Arc::downgrade(shell);
    tokio::spawn(async move {
        tokio::time::sleep(idle).await;
        let (Some(inner), Some(shell)) = (weak.upgrade(), shell.upgrade()) else { return };
        let expired = {
            let status = lock(&shell.status);
            !status.connected && !status.deleted && status.generation == generation
        };
        if expired && inner.registry.remove(shell.id).is_some() {
            tracing::info!(shell = %shell.id, "idle timeout expired: deleted the disconnected shell");
            inner.emit(&shell, ShellChange::Deleted { cause: DeleteCause::IdleTimeout });
        }
    });
}

/// The WinRM service's client-loss detection: while `shell` stays connected in this `generation`, a client that
/// sends nothing for [`ServiceConfig::client_keepalive_timeout`] (and has no Receive waiting) is taken as gone —
/// killed, or cut off by the network. The shell then becomes Disconnected as if the client had asked: its commands
/// go on under its buffering mode and its idle timeout starts, so another client can Connect. One sleeping task
/// per connected shell; it ends with the connection, so at most one runs per shell.
fn watch_client(inner: &Arc<Inner>, shell: &Arc<Shell>, generation: u64) {
    let Some(timeout) = inner.config.client_keepalive_timeout else { return };
    let weak_inner: Weak<Inner> = Arc::downgrade(inner);
    let weak_shell = Arc::downgrade(shell);
    let still_watched =
        move |status: &ShellStatus| status.connected && !status.deleted && status.generation == generation;
    tokio::spawn(async move {
        loop {
            let due = {
                let Some(shell) = weak_shell.upgrade() else { return };
                let status = lock(&shell.status);
                if !still_watched(&status) {
                    return;
                }
                // A Receive waiting for output is the client being there: look again a timeout after now.
                if status.receiving > 0 { Instant::now() + timeout } else { status.last_activity + timeout }
            };
            tokio::time::sleep_until(due).await;
            let (Some(inner), Some(shell)) = (weak_inner.upgrade(), weak_shell.upgrade()) else { return };
            let lost = {
                let mut status = lock(&shell.status);
                if !still_watched(&status) {
                    return;
                }
                let silent_for = Instant::now().saturating_duration_since(status.last_activity);
                if status.receiving > 0 || silent_for < timeout {
                    None
                } else {
                    status.connected = false;
                    status.generation += 1;
                    shell.policy.set(true, status.buffer_mode);
                    shell.wake_all(&status);
                    Some((silent_for, status.idle_timeout, status.generation))
                }
            };
            if let Some((silent_for, idle_timeout, generation)) = lost {
                tracing::info!(
                    shell = %shell.id,
                    silent_secs = silent_for.as_secs(),
                    "client lost: the shell is Disconnected, its commands keep running"
                );
                inner.emit(
                    &shell,
                    ShellChange::Disconnected { cause: DisconnectCause::ClientLost { silent_for }, idle_timeout },
                );
                start_idle_timer(&inner, &shell, idle_timeout, generation);
                return;
            }
        }
    });
}

/// A Receive in progress on a shell, for [`watch_client`]: counted while it waits, and the client's last activity
/// when it ends (answered, timed out, or abandoned by a closed connection).
struct Receiving<'a> {
    shell: &'a Shell,
}

impl<'a> Receiving<'a> {
    /// Counts a Receive of `shell`, whose `status` the caller holds locked.
    fn start(shell: &'a Shell, status: &mut ShellStatus) -> Self {
        status.receiving += 1;
        Receiving { shell }
    }
}

impl Drop for Receiving<'_> {
    fn drop(&mut self) {
        let mut status = lock(&self.shell.status);
        status.receiving = status.receiving.saturating_sub(1);
        status.last_activity = Instant::now();
    }
}

/// Applies a Disconnect's `PSSESSION_RECEIVE_ACK` entries (`pool=N`, `<CommandId>=N`); malformed entries are
/// ignored, as the option is advisory (without it a retained response is handed to the next client again).
fn acknowledge(shell: &Shell, status: &ShellStatus, entries: &str) {
    for entry in entries.split_whitespace() {
        let Some((target, sequence)) = entry.split_once('=') else { continue };
        let Ok(sequence) = sequence.parse::<u64>() else { continue };
        if target.eq_ignore_ascii_case("pool") {
            shell.pool_output.acknowledge(sequence);
        } else if let Some(command) = Uuid::parse_str(target).ok().and_then(|c| status.commands.get(&c)) {
            command.output.acknowledge(sequence);
        }
    }
}

/// Whether a request's SessionId may act for the session that holds the shell. Clients that send no SessionId
/// (Windows 7-era) cannot be told apart and are accepted.
fn same_session(owner: Option<&str>, request: Option<&str>) -> bool {
    match (owner, request) {
        (Some(a), Some(b)) => a.trim().eq_ignore_ascii_case(b.trim()),
        _ => true,
    }
}

fn non_empty(text: &str, default: &str) -> String {
    if text.trim().is_empty() { default.to_owned() } else { text.trim().to_owned() }
}

/// The fixed bytes of a ReceiveResponse (envelope, header, a Done CommandState) and the bytes each `rsp:Stream`
/// adds besides its base64 text. A `sequenced` response also carries the echoed SequenceId and, at worst, the
/// dropped-output option.
fn receive_costs(request: &Header, stream: &str, command: Option<&str>, sequenced: bool) -> (usize, usize) {
    let state = Some(CommandState {
        command_id: command.map(str::to_owned),
        state: COMMAND_DONE.to_owned(),
        exit_code: Some(i64::from(i32::MIN)),
    });
    let answer = |body: ReceiveResponse| Answer {
        body: ResponseBody::Receive(body),
        sequence_id: sequenced.then_some(u64::MAX),
        dropped_objects: u64::MAX,
    };
    let empty = ReceiveResponse { streams: Vec::new(), command_state: state.clone() };
    let fixed = reply_to(request, answer(empty), &new_message_id()).to_bytes().len();
    let one = ReceiveResponse {
        streams: vec![Stream {
            name: stream.to_owned(),
            command_id: command.map(str::to_owned),
            end: false,
            data: Bytes::new(),
        }],
        command_state: state,
    };
    let with_one = reply_to(request, answer(one), &new_message_id()).to_bytes().len();
    (fixed, with_one.saturating_sub(fixed))
}

/// The largest PSRP fragment one ReceiveResponse of an `envelope_size` envelope carries.
fn max_fragment_size(envelope_size: usize) -> usize {
    let mut header = Header::response("", Some(&new_message_id()), &new_message_id());
    header.activity_id = None;
    let command = id_text(Uuid::nil());
    let (fixed, per_stream) = receive_costs(&header, "stdout", Some(&command), true);
    base64_capacity(envelope_size.saturating_sub(fixed + per_stream + SAFETY_MARGIN))
}

fn schema_fault(machine: &str) -> WsmanFault {
    let mut f = WsmanFault::internal_error(
        0x8033_8041,
        "The SOAP XML in the message does not match the corresponding XML schema definition. Change the XML and \
         retry. ",
        machine,
    );
    f.code = "Sender".to_owned();
    f.subcode = Some("SchemaValidationError".to_owned());
    f
}

fn invalid_parameter(what: &str, machine: &str) -> WsmanFault {
    let mut f = WsmanFault::internal_error(
        0x8033_803A,
        "The WS-Management service cannot process the request because a parameter for the operation is not \
         valid. ",
        machine,
    );
    f.code = "Sender".to_owned();
    f.subcode = Some("InvalidParameter".to_owned());
    f.message = Some(format!("The {what} is not a valid GUID. "));
    f
}

fn destination_unreachable(configuration: &str, machine: &str) -> WsmanFault {
    let mut f = WsmanFault::internal_error(
        0x8033_8012,
        &format!(
            "The WS-Management service cannot process the request. Cannot find the {configuration} session \
             configuration in the WSMan: drive on the {machine} computer. "
        ),
        machine,
    );
    f.code = "Sender".to_owned();
    f.subcode = Some("DestinationUnreachable".to_owned());
    f
}

/// A sequenced Receive that asked for neither the retained response nor the next one.
fn out_of_sequence(requested: u64, expected: u64, machine: &str) -> WsmanFault {
    let mut f = invalid_parameter("SequenceId", machine);
    f.message = Some(format!(
        "The Receive asked for response {requested} of its output sequence, but the next one is {expected}. "
    ));
    f
}

fn invalid_enumeration_context(machine: &str) -> WsmanFault {
    let mut f = WsmanFault::internal_error(
        0x8033_801B,
        "The WS-Enumeration context in the enumeration is not valid. Enumeration may have been completed or \
         canceled. You cannot use this enumeration context anymore. Start a new enumeration. ",
        machine,
    );
    f.subcode = Some("InvalidEnumerationContext".to_owned());
    f
}
