//! The `Microsoft.PowerShell` plugin: PSRP on the server side, running pipelines on the command [`engine`].
//!
//! One [`PowerShellPlugin`] serves every shell of its configuration. A shell is one RunspacePool:
//!
//! * **Create** — the creationXml must hold SESSION_CAPABILITY and INIT_RUNSPACEPOOL; the pool answers with its
//!   own SESSION_CAPABILITY, APPLICATION_PRIVATE_DATA (`$PSVersionTable`) and RUNSPACEPOOL_STATE Opened.
//! * **Command** — CREATE_PIPELINE (possibly continued by Send) starts a pipeline on the pool's runspace; its
//!   records become PIPELINE_OUTPUT, ERROR_RECORD, … and a final PIPELINE_STATE, written into the command's output
//!   as whole fragments. The writer awaits buffer space, so a Block-mode buffer pauses the pipeline.
//! * **Send** — PIPELINE_INPUT / END_OF_PIPELINE_INPUT to a pipeline; GET_AVAILABLE_RUNSPACES,
//!   SET_MIN/MAX_RUNSPACES and RESET_RUNSPACE_STATE to the pool; PUBLIC_KEY, answered with ENCRYPTED_SESSION_KEY
//!   (the SecureString session key; SecureString arguments reach the engine as their text, since the engine has
//!   no SecureString type).
//! * **Signal** — a stop code stops the pipeline (PIPELINE_STATE Stopped); Terminate ends it.
//! * **Connect** — connectXml validated as PowerShell's `ServerRemoteSession.ExecuteConnect` does
//!   (protocol.md §3.3); the answer is SESSION_CAPABILITY + RUNSPACEPOOL_INIT_DATA, and APPLICATION_PRIVATE_DATA
//!   then RUNSPACEPOOL_STATE Opened (for pypsrp; Windows sends no state) follow on the next pool Receive.
//!
//! All server→client messages of a shell take their ObjectIds from one counter, as Windows numbers them.

mod convert;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use getrandom::SysRng;
use pssession_psrp::clixml::{PsValue, from_clixml, to_message_body};
use pssession_psrp::messages::{
    ApplicationPrivateData, Availability, ConnectRunspacePool, CreatePipeline, GetAvailableRunspaces,
    InformationalRecord, InitRunspacePool, MessageBody, PipelineStateMessage, PublicKey, ResetRunspaceState,
    RunspaceAvailability, RunspacePoolInitData, RunspacePoolStateMessage, SessionCapability, SetMaxRunspaces,
    SetMinRunspaces,
};
use pssession_psrp::session_key::SessionKey;
use pssession_psrp::{Defragmenter, Destination, Fragmenter, Message, MessageType};
use tokio::sync::mpsc;
use uuid::Uuid;

pub use convert::{from_ps_value, to_ps_value};

use crate::engine::{self, Engine, PipelineEvent, PipelineHandle, PipelineInput, Runspace};
use crate::plugin::{OutputSink, Plugin, PluginShell, ShellInfo, SignalCode, WsmanFault};

/// Events buffered between a pipeline and the writer that turns them into fragments; the writer awaits output
/// space, so this bounds how far a paused pipeline runs ahead.
const PIPELINE_EVENT_BUFFER: usize = 64;
/// Input objects buffered for a pipeline that has not consumed them yet.
const PIPELINE_INPUT_BUFFER: usize = 1024;

/// The PowerShell plugin over a command engine.
pub struct PowerShellPlugin {
    engine: Arc<dyn Engine>,
}

impl PowerShellPlugin {
    /// A plugin running pipelines on `engine`.
    pub fn new(engine: Arc<dyn Engine>) -> Self {
        PowerShellPlugin { engine }
    }
}

impl std::fmt::Debug for PowerShellPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PowerShellPlugin")
    }
}

/// The plugin fault PowerShell raises when it cannot process what a client sent.
fn plugin_fault(shell: &ShellInfo, text: &str) -> WsmanFault {
    WsmanFault::plugin_connect_failed(text, &shell.machine)
}

/// Decodes whole messages from one complete blob of fragments (creationXml, connectXml, Command arguments).
fn decode_messages(data: &[u8]) -> Result<Vec<Message>, String> {
    let mut defragmenter = Defragmenter::new();
    let objects = defragmenter.feed(Bytes::copy_from_slice(data)).map_err(|e| e.to_string())?;
    objects.into_iter().map(|o| Message::decode(o.data).map_err(|e| e.to_string())).collect()
}

impl Plugin for PowerShellPlugin {
    fn create_shell(
        &self,
        shell: &ShellInfo,
        creation_xml: &[u8],
        output: OutputSink,
    ) -> Result<Arc<dyn PluginShell>, WsmanFault> {
        let messages = decode_messages(creation_xml).map_err(|e| plugin_fault(shell, &e))?;
        let [capability, init] = messages.as_slice() else {
            return Err(plugin_fault(shell, "the creationXml must hold SESSION_CAPABILITY and INIT_RUNSPACEPOOL"));
        };
        if capability.message_type != MessageType::SessionCapability
            || init.message_type != MessageType::InitRunspacePool
        {
            return Err(plugin_fault(shell, "the creationXml must hold SESSION_CAPABILITY and INIT_RUNSPACEPOOL"));
        }
        let client = SessionCapability::decode(capability.body()).map_err(|e| plugin_fault(shell, &e.to_string()))?;
        let ours = SessionCapability::current();
        if !ours.is_compatible_with(&client) {
            return Err(WsmanFault::protocol_version_mismatch(&ours.protocol_version.to_string(), &shell.machine));
        }
        let init_body = InitRunspacePool::decode(init.body()).map_err(|e| plugin_fault(shell, &e.to_string()))?;
        let fragmenter =
            Fragmenter::new(shell.max_fragment_size.max(64)).map_err(|e| plugin_fault(shell, &e.to_string()))?;
        let (pool_tx, pool_rx) = mpsc::unbounded_channel();
        let pool = Arc::new(PowerShellShell {
            rpid: init.rpid,
            machine: shell.machine.clone(),
            runspace: self.engine.open_runspace(),
            version_table: self.engine.ps_version_table(),
            fragmenter: Arc::new(Mutex::new(fragmenter)),
            state: Mutex::new(PoolState {
                min_runspaces: init_body.min_runspaces,
                max_runspaces: init_body.max_runspaces,
                pipelines: HashMap::new(),
                pool_defragmenter: Defragmenter::new(),
                closed: false,
                session_key: None,
            }),
            pool_tx,
        });
        tokio::spawn(pool_writer(pool_rx, output));
        pool.send_to_pool(MessageType::SessionCapability, Uuid::nil(), ours.encode());
        pool.send_to_pool(MessageType::ApplicationPrivateData, Uuid::nil(), pool.application_private_data());
        pool.send_to_pool(
            MessageType::RunspacePoolState,
            Uuid::nil(),
            RunspacePoolStateMessage { state: 2, error: None }.encode(),
        );
        Ok(pool)
    }
}

/// Writes the pool's control messages in order.
async fn pool_writer(mut messages: mpsc::UnboundedReceiver<Vec<Vec<u8>>>, output: OutputSink) {
    while let Some(fragments) = messages.recv().await {
        for fragment in fragments {
            output.write(fragment).await;
        }
    }
}

struct Pipeline {
    handle: Option<PipelineHandle>,
    defragmenter: Defragmenter,
    input: Option<mpsc::Sender<engine::Value>>,
    /// CREATE_PIPELINE fragments arrive before the pipeline can start (in Command, and possibly Send).
    output: Option<OutputSink>,
}

struct PoolState {
    min_runspaces: i32,
    max_runspaces: i32,
    pipelines: HashMap<Uuid, Pipeline>,
    pool_defragmenter: Defragmenter,
    closed: bool,
    /// The SecureString session key, drawn on the first PUBLIC_KEY (MS-PSRP 3.2.5.4.5) and kept for the shell's
    /// life: a client that connects later gets the same key encrypted for its own public key.
    session_key: Option<SessionKey>,
}

/// One RunspacePool.
struct PowerShellShell {
    rpid: Uuid,
    machine: String,
    runspace: Arc<dyn Runspace>,
    version_table: engine::Value,
    state: Mutex<PoolState>,
    /// The shell's server→client ObjectId counter, shared with the pipeline writers.
    fragmenter: Arc<Mutex<Fragmenter>>,
    pool_tx: mpsc::UnboundedSender<Vec<Vec<u8>>>,
}

impl PowerShellShell {
    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn fault(&self, text: &str) -> WsmanFault {
        WsmanFault::plugin_connect_failed(text, &self.machine)
    }

    /// Fragments a message with the shell's ObjectId counter.
    fn fragments(&self, message_type: MessageType, pid: Uuid, body: Vec<u8>) -> Vec<Vec<u8>> {
        fragments_of(&self.fragmenter, self.rpid, message_type, pid, body)
    }

    fn send_to_pool(&self, message_type: MessageType, pid: Uuid, body: Vec<u8>) {
        let fragments = self.fragments(message_type, pid, body);
        let _ = self.pool_tx.send(fragments);
    }

    fn application_private_data(&self) -> Vec<u8> {
        let table = match to_ps_value(&self.version_table) {
            PsValue::Object(o) => o
                .dictionary()
                .map(|entries| entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        ApplicationPrivateData::with_version_table(table).encode()
    }

    fn pool_message(&self, message: &Message) -> Result<(), WsmanFault> {
        let body = message.body();
        let bad = |e: pssession_psrp::messages::BodyError| self.fault(&e.to_string());
        match message.message_type {
            MessageType::GetAvailableRunspaces => {
                let request = GetAvailableRunspaces::decode(body).map_err(bad)?;
                let available = {
                    let state = self.lock();
                    let running = state
                        .pipelines
                        .values()
                        .filter(|p| p.handle.as_ref().is_some_and(|h| !h.is_finished()))
                        .count();
                    i64::from(state.max_runspaces) - running as i64
                };
                let answer =
                    RunspaceAvailability { response: Availability::Count(available.max(0)), call_id: request.call_id };
                self.send_to_pool(MessageType::RunspaceAvailability, Uuid::nil(), answer.encode());
            }
            MessageType::SetMaxRunspaces => {
                let request = SetMaxRunspaces::decode(body).map_err(bad)?;
                let ok = {
                    let mut state = self.lock();
                    let ok = request.runspaces >= state.min_runspaces.max(1);
                    if ok {
                        state.max_runspaces = request.runspaces;
                    }
                    ok
                };
                let answer = RunspaceAvailability { response: Availability::Resized(ok), call_id: request.call_id };
                self.send_to_pool(MessageType::RunspaceAvailability, Uuid::nil(), answer.encode());
            }
            MessageType::SetMinRunspaces => {
                let request = SetMinRunspaces::decode(body).map_err(bad)?;
                let ok = {
                    let mut state = self.lock();
                    let ok = request.runspaces >= 1 && request.runspaces <= state.max_runspaces;
                    if ok {
                        state.min_runspaces = request.runspaces;
                    }
                    ok
                };
                let answer = RunspaceAvailability { response: Availability::Resized(ok), call_id: request.call_id };
                self.send_to_pool(MessageType::RunspaceAvailability, Uuid::nil(), answer.encode());
            }
            MessageType::ResetRunspaceState => {
                let request = ResetRunspaceState::decode(body).map_err(bad)?;
                let answer = RunspaceAvailability { response: Availability::Resized(true), call_id: request.call_id };
                self.send_to_pool(MessageType::RunspaceAvailability, Uuid::nil(), answer.encode());
            }
            MessageType::PublicKey => {
                let public_key = PublicKey::decode(body).map_err(bad)?;
                let answer = {
                    let mut state = self.lock();
                    let key = match state.session_key.take() {
                        Some(key) => key,
                        None => SessionKey::generate(&mut SysRng).map_err(|e| self.fault(&e.to_string()))?,
                    };
                    let answer = key.encrypt_for(&mut SysRng, &public_key);
                    state.session_key = Some(key);
                    answer.map_err(|e| self.fault(&format!("PUBLIC_KEY: {e}")))?
                };
                self.send_to_pool(MessageType::EncryptedSessionKey, Uuid::nil(), answer.encode());
            }
            // Host responses need no answer from a host-less engine.
            MessageType::RunspacePoolHostResponse | MessageType::SessionCapability => {}
            other => return Err(self.fault(&format!("{other} is not a RunspacePool message"))),
        }
        Ok(())
    }

    fn pipeline_message(&self, command_id: Uuid, message: Message) -> Result<(), WsmanFault> {
        match message.message_type {
            MessageType::CreatePipeline => {
                let mut create = CreatePipeline::decode(message.body()).map_err(|e| self.fault(&e.to_string()))?;
                let key = self.lock().session_key.clone();
                convert::reveal_secure_strings(&mut create, key.as_ref()).map_err(|e| self.fault(&e))?;
                self.start_pipeline(command_id, &create)
            }
            MessageType::PipelineInput => {
                let value = from_clixml(message.body()).map_err(|e| self.fault(&e.to_string()))?;
                let sender = self.lock().pipelines.get(&command_id).and_then(|p| p.input.clone());
                if let Some(sender) = sender {
                    // A full input buffer means the pipeline stopped reading; the input is dropped like
                    // PowerShell drops input to a finished pipeline.
                    let _ = sender.try_send(from_ps_value(&value));
                }
                Ok(())
            }
            MessageType::EndOfPipelineInput => {
                if let Some(p) = self.lock().pipelines.get_mut(&command_id) {
                    p.input = None;
                }
                Ok(())
            }
            MessageType::PipelineHostResponse => Ok(()),
            other => Err(self.fault(&format!("{other} is not a pipeline message"))),
        }
    }

    fn start_pipeline(&self, command_id: Uuid, create: &CreatePipeline) -> Result<(), WsmanFault> {
        let spec = convert::pipeline_spec(create);
        let (input_tx, input) = if create.no_input {
            (None, PipelineInput::None)
        } else {
            let (tx, rx) = mpsc::channel(PIPELINE_INPUT_BUFFER);
            (Some(tx), PipelineInput::Stream(rx))
        };
        let (events_tx, events_rx) = mpsc::channel(PIPELINE_EVENT_BUFFER);
        let mut state = self.lock();
        let pipeline = state.pipelines.get_mut(&command_id).ok_or_else(|| self.fault("unknown pipeline"))?;
        if pipeline.handle.is_some() {
            return Err(self.fault("the pipeline was already created"));
        }
        let output = pipeline.output.take().ok_or_else(|| self.fault("the pipeline has no output"))?;
        pipeline.input = input_tx;
        pipeline.handle = Some(self.runspace.start_pipeline(spec, input, events_tx));
        drop(state);
        tokio::spawn(pipeline_writer(self.rpid, command_id, events_rx, output, self.fragmenter.clone()));
        Ok(())
    }
}

/// Cuts one message into fragments, numbered from the shell's counter.
fn fragments_of(
    fragmenter: &Mutex<Fragmenter>,
    rpid: Uuid,
    message_type: MessageType,
    pid: Uuid,
    body: Vec<u8>,
) -> Vec<Vec<u8>> {
    let message = Message::new(Destination::Client, message_type, rpid, pid, Bytes::from(body));
    let mut fragmenter = fragmenter.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    fragmenter.enqueue(&message);
    std::iter::from_fn(|| fragmenter.next_fragment()).map(|payload| payload.data.to_vec()).collect()
}

/// Turns a pipeline's events into PSRP messages on its output; ends with PIPELINE_STATE and finishes the output.
async fn pipeline_writer(
    rpid: Uuid,
    command_id: Uuid,
    mut events: mpsc::Receiver<PipelineEvent>,
    output: OutputSink,
    fragmenter: Arc<Mutex<Fragmenter>>,
) {
    let mut exit_code = 0;
    while let Some(event) = events.recv().await {
        let (message_type, body) = match &event {
            PipelineEvent::Output(value) => (MessageType::PipelineOutput, to_message_body(&to_ps_value(value), true)),
            PipelineEvent::Error(record) => (MessageType::ErrorRecord, convert::error_record(record).encode()),
            PipelineEvent::Warning(record) => {
                (MessageType::WarningRecord, informational(MessageType::WarningRecord, record))
            }
            PipelineEvent::Verbose(record) => {
                (MessageType::VerboseRecord, informational(MessageType::VerboseRecord, record))
            }
            PipelineEvent::Debug(record) => (MessageType::DebugRecord, informational(MessageType::DebugRecord, record)),
            PipelineEvent::Information(record) => {
                (MessageType::InformationRecord, convert::information_record(record).encode())
            }
            PipelineEvent::Progress(record) => (MessageType::ProgressRecord, convert::progress_record(record).encode()),
            PipelineEvent::State(state) => {
                exit_code = i64::from(state.invocation_state() != 4);
                let body = PipelineStateMessage {
                    state: state.invocation_state(),
                    error: state.error_record().map(convert::error_record),
                };
                (MessageType::PipelineState, body.encode())
            }
        };
        for fragment in fragments_of(&fragmenter, rpid, message_type, command_id, body) {
            output.write(fragment).await;
        }
        if matches!(event, PipelineEvent::State(_)) {
            break;
        }
    }
    output.finish(exit_code);
}

fn informational(stream: MessageType, record: &engine::InformationalRecord) -> Vec<u8> {
    to_message_body(&InformationalRecord { stream, message: record.message.clone() }.to_value(), true)
}

impl PluginShell for PowerShellShell {
    fn send(&self, command: Option<Uuid>, _stream: &str, data: &[u8]) -> Result<(), WsmanFault> {
        let objects = {
            let mut state = self.lock();
            let defragmenter = match command {
                None => &mut state.pool_defragmenter,
                Some(id) => match state.pipelines.get_mut(&id) {
                    Some(p) => &mut p.defragmenter,
                    None => return Err(self.fault("unknown pipeline")),
                },
            };
            defragmenter.feed(Bytes::copy_from_slice(data)).map_err(|e| self.fault(&e.to_string()))?
        };
        for object in objects {
            let message = Message::decode(object.data).map_err(|e| self.fault(&e.to_string()))?;
            match command {
                None => self.pool_message(&message)?,
                Some(id) => self.pipeline_message(id, message)?,
            }
        }
        Ok(())
    }

    fn command(&self, command_id: Uuid, arguments: &[u8], output: OutputSink) -> Result<(), WsmanFault> {
        {
            let mut state = self.lock();
            if state.closed {
                return Err(self.fault("the RunspacePool is closed"));
            }
            state.pipelines.insert(
                command_id,
                Pipeline { handle: None, defragmenter: Defragmenter::new(), input: None, output: Some(output) },
            );
        }
        // The arguments hold the first CREATE_PIPELINE fragments; the rest, if any, come with Send.
        self.send(Some(command_id), "stdin", arguments)
    }

    fn signal(&self, command: Option<Uuid>, code: SignalCode) -> Result<(), WsmanFault> {
        let Some(id) = command else { return Ok(()) };
        let mut state = self.lock();
        if code.is_stop() {
            if let Some(handle) = state.pipelines.get(&id).and_then(|p| p.handle.as_ref()) {
                handle.stop();
            }
        } else if let Some(pipeline) = state.pipelines.remove(&id)
            && let Some(handle) = pipeline.handle
        {
            handle.stop();
        }
        Ok(())
    }

    fn connect(&self, connect_xml: &[u8]) -> Result<Vec<u8>, WsmanFault> {
        let failed = |what: &str| self.fault(&format!("ServerConnectFailedOn{what}"));
        let messages = decode_messages(connect_xml).map_err(|_| failed("InvalidData"))?;
        let [capability, connect] = messages.as_slice() else { return Err(failed("InvalidData")) };
        if capability.message_type != MessageType::SessionCapability
            || connect.message_type != MessageType::ConnectRunspacePool
            || capability.destination != Destination::Server
            || connect.destination != Destination::Server
        {
            return Err(failed("InvalidData"));
        }
        let client = SessionCapability::decode(capability.body()).map_err(|_| failed("Negotiation"))?;
        let ours = SessionCapability::current();
        if !ours.is_compatible_with(&client) || client.protocol_version < pssession_psrp::clixml::PsVersion::new(2, 2) {
            return Err(failed("Negotiation"));
        }
        let request = ConnectRunspacePool::decode(connect.body()).map_err(|_| failed("InvalidData"))?;
        let (min, max) = {
            let state = self.lock();
            (state.min_runspaces, state.max_runspaces)
        };
        if let Some((want_min, want_max)) = request.runspaces {
            // PowerShell faults only when both differ from the pool (its check is bug-compatible that way).
            if want_min > want_max || (want_min != min && want_max != max) {
                return Err(failed("MismatchedRunspacePoolProperties"));
            }
        }
        if connect.rpid != self.rpid {
            return Err(failed("MismatchedRunspacePoolProperties"));
        }
        let echoed = SessionCapability { protocol_version: ours.negotiated_version(&client), ..ours };
        let mut response = Vec::new();
        for fragment in self.fragments(MessageType::SessionCapability, Uuid::nil(), echoed.encode()) {
            response.extend_from_slice(&fragment);
        }
        // PowerShell's server passes the pool sizes swapped (protocol.md §0); visible only when min != max.
        let init = RunspacePoolInitData { min_runspaces: max, max_runspaces: min };
        for fragment in self.fragments(MessageType::RunspacePoolInitData, Uuid::nil(), init.encode()) {
            response.extend_from_slice(&fragment);
        }
        // The connecting client gets APPLICATION_PRIVATE_DATA on its first pool Receive (all Windows sends,
        // protocol.md §3.3); running pipelines lose their input, as PowerShell completes every input collection on
        // connect. RUNSPACEPOOL_STATE Opened follows, which Windows does not send: pypsrp moves its pool out of
        // Disconnected only on that message (its recorded "Windows" Connect traces carry a hand-made copy of it),
        // and PowerShell's client ignores an Opened that arrives when it is not Opening.
        self.send_to_pool(MessageType::ApplicationPrivateData, Uuid::nil(), self.application_private_data());
        self.send_to_pool(
            MessageType::RunspacePoolState,
            Uuid::nil(),
            RunspacePoolStateMessage { state: 2, error: None }.encode(),
        );
        for pipeline in self.lock().pipelines.values_mut() {
            pipeline.input = None;
        }
        Ok(response)
    }

    fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        for (_, pipeline) in state.pipelines.drain() {
            if let Some(handle) = pipeline.handle {
                handle.stop();
            }
        }
        self.runspace.close();
    }
}
