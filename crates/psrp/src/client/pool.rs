//! [`ClientRunspacePool`]: the client side of one RunspacePool (MS-PSRP 3.1.4 / 3.1.5, client role).
//!
//! The machine does no I/O. Its owner (the async library, a test, a trace replayer) moves bytes:
//!
//! * outgoing: [`ClientRunspacePool::creation_payload`] (the `creationXml` of Create),
//!   [`ClientRunspacePool::connect_payload`] (the `connectXml` of Connect), and [`ClientRunspacePool::next_payload`]
//!   for everything queued afterwards (CREATE_PIPELINE for Command's `Arguments`, input and host responses for Send);
//! * incoming: [`ClientRunspacePool::receive`] with the decoded bytes of each `rsp:Stream`, pool-level or pipeline-level
//!   alike; it returns typed [`ClientEvent`]s;
//! * WS-Man outcomes that carry no PSRP data (Disconnect, Reconnect, a transport failure) are reported with the
//!   `*_started` / `*_completed` / [`ClientRunspacePool::set_broken`] methods, which apply the state transitions of
//!   MS-PSRP 3.1.5.3.14–3.1.5.3.18.
//!
//! State model (MS-PSRP 2.2.3.4): Create path `BeforeOpen → NegotiationSent → NegotiationSucceeded → Opened`
//! (the last on RUNSPACEPOOL_STATE Opened); Connect path `BeforeOpen|Disconnected → Connecting →
//! NegotiationSucceeded → Opened` (the last on RUNSPACEPOOL_INIT_DATA, since Windows sends no pool state after a
//! Connect); Disconnect `Opened → Disconnected`; Reconnect `Disconnected → Connecting → Opened`; any failure
//! `→ Broken`; Close `→ Closing → Closed`.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use uuid::Uuid;

use crate::client::bodies::{self, ProtocolVersion};
use crate::client::error::ClientError;
use crate::client::events::{ClientEvent, PipelineEvent, RemoteError};
use crate::client::pipeline::{ClientPipeline, PipelineSpec};
use crate::client::state::{PsInvocationState, RunspacePoolState};
use crate::defragment::{Defragmenter, DefragmenterLimits};
use crate::fragment::FRAGMENT_HEADER_LEN;
use crate::fragmenter::{Fragmenter, MIN_FRAGMENT_SIZE, Payload};
use crate::message::{Destination, Message, MessageType};
use crate::messages::{EncryptedSessionKey, MessageBody};
use crate::session_key::{ClientKeyPair, SecretText, SessionKey};
use rand_core::TryCryptoRng;

/// Bytes of a WS-Man envelope reserved for everything but the base64 payload (headers, body elements, selectors).
pub const ENVELOPE_OVERHEAD: usize = 2048;

/// The smallest MaxEnvelopeSize the client works with; WS-Man itself refuses anything below 8192 (MS-WSMV 3.1.4.1.7).
pub const MIN_MAX_ENVELOPE_SIZE: usize = 8192;

/// The payload (raw fragment bytes, before base64) one envelope of `max_envelope_size` bytes can carry: the space
/// left after [`ENVELOPE_OVERHEAD`], times 3/4 for base64 (protocol.md §5.5; pypsrp's formula).
pub fn payload_budget(max_envelope_size: usize) -> usize {
    let usable = max_envelope_size.max(MIN_MAX_ENVELOPE_SIZE).saturating_sub(ENVELOPE_OVERHEAD);
    usable / 4 * 3
}

/// The MaxEnvelopeSize clients use by default since PowerShell 3.0 (WinRM `MaxEnvelopeSizekb` 500).
pub const DEFAULT_MAX_ENVELOPE_SIZE: usize = 512_000;

/// The MaxEnvelopeSize of a PowerShell 2.0 server (protocol 2.1 and older: `MaxEnvelopeSizekb` 150).
pub const PROTOCOL_2_1_MAX_ENVELOPE_SIZE: usize = 153_600;

/// Settings of a client RunspacePool.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunspacePoolConfig {
    /// Minimum runspaces (a PSSession uses 1).
    pub min_runspaces: i32,
    /// Maximum runspaces (a PSSession uses 1).
    pub max_runspaces: i32,
    /// The negotiated `wsman:MaxEnvelopeSize`, which bounds fragment and payload sizes.
    pub max_envelope_size: usize,
    /// The protocol version announced in SESSION_CAPABILITY (2.3, as PowerShell 5.1–7.5).
    pub protocol_version: ProtocolVersion,
    /// Limits on what the server can make the client buffer.
    pub limits: DefragmenterLimits,
}

impl Default for RunspacePoolConfig {
    fn default() -> Self {
        RunspacePoolConfig {
            min_runspaces: 1,
            max_runspaces: 1,
            max_envelope_size: DEFAULT_MAX_ENVELOPE_SIZE,
            protocol_version: ProtocolVersion::CLIENT,
            limits: DefragmenterLimits::default(),
        }
    }
}

impl RunspacePoolConfig {
    /// The configuration of a PSSession (one runspace) with this MaxEnvelopeSize.
    pub fn with_max_envelope_size(max_envelope_size: usize) -> Self {
        RunspacePoolConfig { max_envelope_size, ..RunspacePoolConfig::default() }
    }
}

/// The client side of one RunspacePool: see the [`client`](crate::client) module for the state model and how bytes
/// move in and out.
#[derive(Debug)]
pub struct ClientRunspacePool {
    id: Uuid,
    config: RunspacePoolConfig,
    state: RunspacePoolState,
    fragmenter: Fragmenter,
    defragmenter: Defragmenter,
    pipelines: HashMap<Uuid, ClientPipeline>,
    server_capability: Option<bodies::SessionCapability>,
    runspaces: Option<(i32, i32)>,
    key_exchange: KeyExchange,
}

/// Where the SecureString key exchange of this client session stands (see [`crate::session_key`]).
#[derive(Debug, Default)]
enum KeyExchange {
    /// No key pair yet.
    #[default]
    None,
    /// PUBLIC_KEY is queued or sent; waiting for ENCRYPTED_SESSION_KEY.
    PublicKeySent(ClientKeyPair),
    /// ENCRYPTED_SESSION_KEY arrived; [`ClientRunspacePool::complete_key_exchange`] opens it.
    Received(ClientKeyPair, EncryptedSessionKey),
    /// The session key is known.
    Ready(SessionKey),
}

/// Complete server messages not yet handled ([`ClientRunspacePool::defragment`]).
#[derive(Debug, Default)]
pub struct ReceivedMessages {
    messages: Vec<Message>,
}

impl ReceivedMessages {
    /// Whether one of the messages is a request the server waits on the client to answer before it goes on
    /// (PUBLIC_KEY_REQUEST, a host call): a client must then handle them, and send what they call for, before it
    /// waits for more output.
    pub fn awaits_answer(&self) -> bool {
        self.messages.iter().any(|m| {
            matches!(
                m.message_type,
                MessageType::PublicKeyRequest | MessageType::RunspacePoolHostCall | MessageType::PipelineHostCall
            )
        })
    }

    /// The number of messages.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether no message was completed.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

impl ClientRunspacePool {
    /// A pool with this InstanceId (which becomes the ShellId) that has not been opened.
    pub fn new(id: Uuid, config: RunspacePoolConfig) -> Result<Self, ClientError> {
        let fragment_size = payload_budget(config.max_envelope_size).max(MIN_FRAGMENT_SIZE);
        let fragmenter = Fragmenter::new(fragment_size)?;
        let defragmenter = Defragmenter::with_limits(config.limits);
        Ok(ClientRunspacePool {
            id,
            config,
            state: RunspacePoolState::BeforeOpen,
            fragmenter,
            defragmenter,
            pipelines: HashMap::new(),
            server_capability: None,
            runspaces: None,
            key_exchange: KeyExchange::None,
        })
    }

    /// The pool's InstanceId.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The current state.
    pub fn state(&self) -> RunspacePoolState {
        self.state
    }

    /// The configuration.
    pub fn config(&self) -> &RunspacePoolConfig {
        &self.config
    }

    /// PowerShell's `AdjustForProtocolVariations`: a server of protocol 2.1 or older takes envelopes of at most
    /// 150 KB, so a pool still at the 500 KB default lowers its MaxEnvelopeSize to
    /// [`PROTOCOL_2_1_MAX_ENVELOPE_SIZE`] and cuts its fragments to fit from now on. An envelope size the user chose
    /// is left alone, as PowerShell does. The transport reads the new size from [`ClientRunspacePool::config`].
    fn adjust_for_server_protocol(&mut self, server: bodies::ProtocolVersion) -> Result<(), ClientError> {
        let win7_rtm = bodies::ProtocolVersion { major: 2, minor: 1 };
        if server <= win7_rtm && self.config.max_envelope_size == DEFAULT_MAX_ENVELOPE_SIZE {
            self.config.max_envelope_size = PROTOCOL_2_1_MAX_ENVELOPE_SIZE;
            let fragment_size = payload_budget(PROTOCOL_2_1_MAX_ENVELOPE_SIZE).max(MIN_FRAGMENT_SIZE);
            self.fragmenter.set_max_fragment_size(fragment_size)?;
        }
        Ok(())
    }

    /// The server's SESSION_CAPABILITY, once received.
    pub fn server_capability(&self) -> Option<&bodies::SessionCapability> {
        self.server_capability.as_ref()
    }

    /// Min/max runspaces as last reported by RUNSPACEPOOL_INIT_DATA, or as configured.
    pub fn runspaces(&self) -> (i32, i32) {
        self.runspaces.unwrap_or((self.config.min_runspaces, self.config.max_runspaces))
    }

    /// The payload budget of one envelope.
    pub fn payload_budget(&self) -> usize {
        payload_budget(self.config.max_envelope_size)
    }

    /// A pipeline of this pool.
    pub fn pipeline(&self, pipeline_id: Uuid) -> Option<&ClientPipeline> {
        self.pipelines.get(&pipeline_id)
    }

    /// Every pipeline of this pool.
    pub fn pipelines(&self) -> impl Iterator<Item = &ClientPipeline> {
        self.pipelines.values()
    }

    /// Forgets a finished pipeline (after its command was signalled/terminated).
    pub fn remove_pipeline(&mut self, pipeline_id: Uuid) -> Option<ClientPipeline> {
        self.pipelines.remove(&pipeline_id)
    }

    fn require(&self, operation: &'static str, allowed: &[RunspacePoolState]) -> Result<(), ClientError> {
        if allowed.contains(&self.state) {
            Ok(())
        } else {
            Err(ClientError::InvalidPoolState { operation, state: self.state })
        }
    }

    fn pool_message(&self, message_type: MessageType, body: Bytes) -> Message {
        Message::new(Destination::Server, message_type, self.id, Uuid::nil(), body)
    }

    /// Queues SESSION_CAPABILITY and INIT_RUNSPACEPOOL and returns the first payload, the content of
    /// `creationXml` (to be base64-encoded). What does not fit stays queued for [`Self::next_payload`] (a Send on
    /// the pool). `BeforeOpen → NegotiationSent`.
    pub fn creation_payload(&mut self) -> Result<Bytes, ClientError> {
        self.require("open the RunspacePool", &[RunspacePoolState::BeforeOpen])?;
        let capability = bodies::client_session_capability(self.config.protocol_version);
        let init = bodies::init_runspace_pool(self.config.min_runspaces, self.config.max_runspaces);
        self.fragmenter.enqueue(&self.pool_message(MessageType::SessionCapability, capability));
        self.fragmenter.enqueue(&self.pool_message(MessageType::InitRunspacePool, init));
        let budget = self.payload_budget();
        let payload = self.fragmenter.next_payload(budget).ok_or(ClientError::PayloadTooLarge { needed: 0, budget })?;
        self.state = RunspacePoolState::NegotiationSent;
        Ok(payload.data)
    }

    /// The `connectXml` payload: SESSION_CAPABILITY and CONNECT_RUNSPACEPOOL carrying the pool's original
    /// `min`/`max` runspaces (as PowerShell sends them; pass what enumeration or the earlier session reported).
    /// Both must fit one envelope. ObjectIds restart at 1 for the new client session.
    /// `BeforeOpen | Disconnected → Connecting`.
    pub fn connect_payload(&mut self, min_runspaces: i32, max_runspaces: i32) -> Result<Bytes, ClientError> {
        self.require("connect to the RunspacePool", &[RunspacePoolState::BeforeOpen, RunspacePoolState::Disconnected])?;
        let capability = bodies::client_session_capability(self.config.protocol_version);
        let connect = bodies::connect_runspace_pool(min_runspaces, max_runspaces);
        let capability = self.pool_message(MessageType::SessionCapability, capability).encode();
        let connect = self.pool_message(MessageType::ConnectRunspacePool, connect).encode();
        let needed = capability.len() + connect.len() + 2 * FRAGMENT_HEADER_LEN;
        let budget = self.payload_budget();
        if needed > budget
            || capability.len() + FRAGMENT_HEADER_LEN > self.fragmenter.max_fragment_size()
            || connect.len() + FRAGMENT_HEADER_LEN > self.fragmenter.max_fragment_size()
        {
            return Err(ClientError::PayloadTooLarge { needed, budget });
        }
        let mut fragmenter = Fragmenter::new(needed)?;
        fragmenter.enqueue_encoded(Uuid::nil(), capability);
        fragmenter.enqueue_encoded(Uuid::nil(), connect);
        let mut out = BytesMut::with_capacity(needed);
        while let Some(payload) = fragmenter.next_payload(needed) {
            out.extend_from_slice(&payload.data);
        }
        // Later pool/pipeline messages of this client session continue after the two Connect objects.
        self.fragmenter.set_next_object_id(fragmenter.next_object_id());
        self.defragmenter.reset();
        // A new client session has no session key: the server's belongs to the client that exchanged it.
        self.key_exchange = KeyExchange::None;
        self.runspaces = Some((min_runspaces, max_runspaces));
        self.state = RunspacePoolState::Connecting;
        Ok(out.freeze())
    }

    /// The next queued payload (fragments for one target: the pool or one pipeline), at most one envelope's worth.
    pub fn next_payload(&mut self) -> Option<Payload> {
        let budget = self.payload_budget();
        self.fragmenter.next_payload(budget)
    }

    /// The target of the next queued payload: [`Uuid::nil`] for the pool, else a pipeline id.
    pub fn next_payload_target(&self) -> Option<Uuid> {
        self.fragmenter.next_target()
    }

    /// Whether outgoing data is queued.
    pub fn has_pending_payload(&self) -> bool {
        !self.fragmenter.is_empty()
    }

    /// Starts the SecureString key exchange: generates the client's RSA key pair with `rng` and queues PUBLIC_KEY
    /// on the pool (send it with [`Self::next_payload`]). Returns `false`, queuing nothing, when the exchange is
    /// under way or done. Requires `Opened`. Call it before creating a pipeline with SecureString arguments, and
    /// when the server asks ([`ClientEvent::PublicKeyRequested`]).
    pub fn start_key_exchange<R: TryCryptoRng + ?Sized>(&mut self, rng: &mut R) -> Result<bool, ClientError> {
        self.require("exchange the session key", &[RunspacePoolState::Opened])?;
        if !matches!(self.key_exchange, KeyExchange::None) {
            return Ok(false);
        }
        let pair = ClientKeyPair::generate(rng).map_err(ClientError::SessionKey)?;
        let body = Bytes::from(pair.public_key_message().encode());
        self.fragmenter.enqueue(&self.pool_message(MessageType::PublicKey, body));
        self.key_exchange = KeyExchange::PublicKeySent(pair);
        Ok(true)
    }

    /// Opens the ENCRYPTED_SESSION_KEY that [`Self::receive`] reported ([`ClientEvent::EncryptedSessionKey`]);
    /// `rng` blinds the RSA decryption. Afterwards SecureStrings can be sent and read.
    pub fn complete_key_exchange<R: TryCryptoRng + ?Sized>(&mut self, rng: &mut R) -> Result<(), ClientError> {
        match std::mem::take(&mut self.key_exchange) {
            KeyExchange::Received(pair, message) => match pair.decrypt_session_key(rng, &message) {
                Ok(key) => {
                    self.key_exchange = KeyExchange::Ready(key);
                    Ok(())
                }
                Err(e) => {
                    self.key_exchange = KeyExchange::Received(pair, message);
                    Err(ClientError::SessionKey(e))
                }
            },
            KeyExchange::Ready(key) => {
                self.key_exchange = KeyExchange::Ready(key);
                Ok(())
            }
            other => {
                self.key_exchange = other;
                Err(ClientError::SessionKeyRequired)
            }
        }
    }

    /// Whether PUBLIC_KEY went out and the server's answer has not been opened yet.
    pub fn is_key_exchange_pending(&self) -> bool {
        matches!(self.key_exchange, KeyExchange::PublicKeySent(_) | KeyExchange::Received(..))
    }

    /// The session key, once the exchange completed.
    pub fn session_key(&self) -> Option<&SessionKey> {
        match &self.key_exchange {
            KeyExchange::Ready(key) => Some(key),
            _ => None,
        }
    }

    /// The text of a SecureString the server sent (the bytes of a [`crate::clixml::PsValue::SecureString`]).
    pub fn decrypt_secure_string(&self, ciphertext: &[u8]) -> Result<SecretText, ClientError> {
        self.session_key().ok_or(ClientError::SessionKeyRequired)?.decrypt(ciphertext).map_err(ClientError::SessionKey)
    }

    /// Creates a pipeline and queues its CREATE_PIPELINE message; fetch it with [`Self::next_payload`] and send the
    /// first payload as the Command's `Arguments`, the rest with Send. Requires `Opened`.
    pub fn create_pipeline(&mut self, pipeline_id: Uuid, spec: &PipelineSpec) -> Result<(), ClientError> {
        self.require("create a pipeline", &[RunspacePoolState::Opened])?;
        if self.pipelines.contains_key(&pipeline_id) {
            return Err(ClientError::DuplicatePipeline(pipeline_id));
        }
        let body = bodies::create_pipeline(spec, self.runspaces().1.max(1), self.session_key())?;
        let message = Message::new(Destination::Server, MessageType::CreatePipeline, self.id, pipeline_id, body);
        self.fragmenter.enqueue(&message);
        self.pipelines.insert(pipeline_id, ClientPipeline::new(pipeline_id, PsInvocationState::Running, spec.no_input));
        Ok(())
    }

    /// Registers a pipeline that runs on the server but was started by another client (found by enumeration, to be
    /// connected with a per-command Connect). Its state is `Disconnected` until [`Self::pipeline_connected`].
    pub fn adopt_pipeline(&mut self, pipeline_id: Uuid) -> Result<(), ClientError> {
        if self.pipelines.contains_key(&pipeline_id) {
            return Err(ClientError::DuplicatePipeline(pipeline_id));
        }
        self.pipelines.insert(pipeline_id, ClientPipeline::new(pipeline_id, PsInvocationState::Disconnected, true));
        Ok(())
    }

    /// Queues one input object (CLIXML) for a pipeline.
    pub fn send_input(&mut self, pipeline_id: Uuid, clixml: Bytes) -> Result<(), ClientError> {
        let pipeline = self.pipelines.get(&pipeline_id).ok_or(ClientError::UnknownPipeline(pipeline_id))?;
        pipeline.require_input("send pipeline input")?;
        let message = Message::new(Destination::Server, MessageType::PipelineInput, self.id, pipeline_id, clixml);
        self.fragmenter.enqueue(&message);
        Ok(())
    }

    /// Queues END_OF_PIPELINE_INPUT for a pipeline.
    pub fn end_input(&mut self, pipeline_id: Uuid) -> Result<(), ClientError> {
        let pipeline = self.pipelines.get_mut(&pipeline_id).ok_or(ClientError::UnknownPipeline(pipeline_id))?;
        pipeline.require_input("close pipeline input")?;
        pipeline.input_closed = true;
        let message =
            Message::new(Destination::Server, MessageType::EndOfPipelineInput, self.id, pipeline_id, Bytes::new());
        self.fragmenter.enqueue(&message);
        Ok(())
    }

    /// A stop request (Signal `powershell/signal/crtl_c`) was sent for a pipeline: `Running → Stopping`.
    pub fn stop_started(&mut self, pipeline_id: Uuid) -> Result<(), ClientError> {
        let pipeline = self.pipelines.get_mut(&pipeline_id).ok_or(ClientError::UnknownPipeline(pipeline_id))?;
        if pipeline.state == PsInvocationState::Running {
            pipeline.state = PsInvocationState::Stopping;
        }
        Ok(())
    }

    /// Feeds the decoded bytes of one `rsp:Stream` (pool or pipeline) and returns the events they complete.
    ///
    /// A framing error is fatal for the pool (MS-PSRP 3.1.5.1.2): the pool becomes `Broken` and the error is
    /// returned.
    pub fn receive(&mut self, stream_data: Bytes) -> Result<Vec<ClientEvent>, ClientError> {
        let received = self.defragment(stream_data)?;
        self.handle(received)
    }

    /// The first half of [`ClientRunspacePool::receive`]: reassembles the messages `stream_data` completes and
    /// reads their headers, without handling them (no body is parsed). A client that streams output can look at
    /// [`ReceivedMessages::awaits_answer`] and ask for the next output before the costly half,
    /// [`ClientRunspacePool::handle`].
    ///
    /// A framing error is fatal for the pool, as in `receive`.
    pub fn defragment(&mut self, stream_data: Bytes) -> Result<ReceivedMessages, ClientError> {
        let objects = match self.defragmenter.feed(stream_data) {
            Ok(objects) => objects,
            Err(e) => {
                self.state = RunspacePoolState::Broken;
                return Err(ClientError::Defragment(e));
            }
        };
        let messages = objects.into_iter().map(|object| Message::decode(object.data)).collect::<Result<_, _>>()?;
        Ok(ReceivedMessages { messages })
    }

    /// The second half of [`ClientRunspacePool::receive`]: handles messages in order and returns their events.
    pub fn handle(&mut self, received: ReceivedMessages) -> Result<Vec<ClientEvent>, ClientError> {
        let mut events = Vec::new();
        for message in received.messages {
            self.dispatch(message, &mut events)?;
        }
        Ok(events)
    }

    fn dispatch(&mut self, message: Message, events: &mut Vec<ClientEvent>) -> Result<(), ClientError> {
        let message_type = message.message_type;
        if message.destination != Destination::Client {
            return Err(ClientError::Misaddressed { message_type, reason: "is addressed to the server" });
        }
        // The create path's SESSION_CAPABILITY carries an all-zero RPID on Windows (protocol.md §2.1).
        if message.rpid != self.id && !message.rpid.is_nil() {
            return Err(ClientError::Misaddressed { message_type, reason: "belongs to another RunspacePool" });
        }
        if !message.pid.is_nil() {
            return self.dispatch_pipeline(message, events);
        }
        match message_type {
            MessageType::SessionCapability => {
                let capability = bodies::parse_session_capability(message.body())?;
                if !capability.is_compatible() {
                    self.state = RunspacePoolState::Broken;
                    return Err(ClientError::ProtocolVersionMismatch {
                        server: capability.protocol_version.to_string(),
                        ps_version: capability.ps_version.to_string(),
                    });
                }
                self.adjust_for_server_protocol(capability.protocol_version)?;
                self.server_capability = Some(capability.clone());
                events.push(ClientEvent::SessionCapability(capability));
                if matches!(self.state, RunspacePoolState::NegotiationSent | RunspacePoolState::Connecting) {
                    self.set_state(RunspacePoolState::NegotiationSucceeded, None, events);
                }
            }
            MessageType::RunspacePoolInitData => {
                let (min, max) = bodies::parse_runspace_pool_init_data(message.body())?;
                self.runspaces = Some((min, max));
                events.push(ClientEvent::RunspacePoolInitData { min_runspaces: min, max_runspaces: max });
                if self.state == RunspacePoolState::NegotiationSucceeded {
                    self.set_state(RunspacePoolState::Opened, None, events);
                }
            }
            MessageType::ApplicationPrivateData => {
                let data = bodies::parse_application_private_data(message.body())?;
                events.push(ClientEvent::ApplicationPrivateData(data));
            }
            MessageType::RunspacePoolState => {
                let (state, error) = bodies::parse_runspace_pool_state(message.body())?;
                if state == RunspacePoolState::Broken || state == RunspacePoolState::Closed {
                    for pipeline in self.pipelines.values_mut() {
                        if !pipeline.state.is_finished() {
                            pipeline.state = PsInvocationState::Failed;
                        }
                    }
                }
                self.set_state(state, error, events);
            }
            MessageType::RunspacePoolHostCall => {
                let call = bodies::parse_host_call(message_type, message.body())?;
                events.push(ClientEvent::HostCall(call));
            }
            MessageType::RunspaceAvailability => {
                let (response, call_id) = bodies::parse_runspace_availability(message.body())?;
                events.push(ClientEvent::RunspaceAvailability { response, call_id });
            }
            MessageType::UserEvent => {
                events.push(ClientEvent::UserEvent(bodies::parse_value(message_type, message.body())?));
            }
            MessageType::EncryptedSessionKey => {
                if !matches!(self.key_exchange, KeyExchange::PublicKeySent(_)) {
                    return Err(ClientError::UnexpectedSessionKey);
                }
                let body = EncryptedSessionKey::decode(message.body())
                    .map_err(|e| ClientError::Body { message_type, reason: e.to_string() })?;
                if let KeyExchange::PublicKeySent(pair) = std::mem::take(&mut self.key_exchange) {
                    self.key_exchange = KeyExchange::Received(pair, body);
                }
                events.push(ClientEvent::EncryptedSessionKey);
            }
            MessageType::PublicKeyRequest => events.push(ClientEvent::PublicKeyRequested),
            _ => {
                return Err(ClientError::Misaddressed {
                    message_type,
                    reason: "is not a message a server sends to a RunspacePool",
                });
            }
        }
        Ok(())
    }

    fn dispatch_pipeline(&mut self, message: Message, events: &mut Vec<ClientEvent>) -> Result<(), ClientError> {
        let message_type = message.message_type;
        let pipeline_id = message.pid;
        let Some(pipeline) = self.pipelines.get_mut(&pipeline_id) else {
            return Err(ClientError::UnknownPipeline(pipeline_id));
        };
        let body = message.body();
        let event = match message_type {
            MessageType::PipelineOutput => PipelineEvent::Output(bodies::parse_value(message_type, body)?),
            MessageType::ErrorRecord => PipelineEvent::Error(bodies::parse_value(message_type, body)?),
            MessageType::WarningRecord => PipelineEvent::Warning(bodies::parse_value(message_type, body)?),
            MessageType::VerboseRecord => PipelineEvent::Verbose(bodies::parse_value(message_type, body)?),
            MessageType::DebugRecord => PipelineEvent::Debug(bodies::parse_value(message_type, body)?),
            MessageType::InformationRecord => PipelineEvent::Information(bodies::parse_value(message_type, body)?),
            MessageType::ProgressRecord => PipelineEvent::Progress(bodies::parse_value(message_type, body)?),
            MessageType::PipelineHostCall => PipelineEvent::HostCall(bodies::parse_host_call(message_type, body)?),
            MessageType::PipelineState => {
                let (state, error) = bodies::parse_pipeline_state(body)?;
                pipeline.state = state;
                PipelineEvent::State { state, error }
            }
            _ => {
                return Err(ClientError::Misaddressed {
                    message_type,
                    reason: "is not a message a server sends to a pipeline",
                });
            }
        };
        // Any data from a pipeline proves it runs again after a Connect/Reconnect.
        if pipeline.state == PsInvocationState::Disconnected {
            pipeline.state = PsInvocationState::Running;
        }
        events.push(ClientEvent::Pipeline { pipeline_id, event });
        Ok(())
    }

    fn set_state(&mut self, state: RunspacePoolState, error: Option<RemoteError>, events: &mut Vec<ClientEvent>) {
        if self.state != state || error.is_some() {
            self.state = state;
            events.push(ClientEvent::StateChanged { state, error });
        }
    }

    /// A Disconnect is about to be sent. Requires `Opened`.
    pub fn disconnect_started(&mut self) -> Result<(), ClientError> {
        self.require("disconnect", &[RunspacePoolState::Opened])
    }

    /// The server acknowledged Disconnect: the pool and its unfinished pipelines become `Disconnected`.
    pub fn disconnect_completed(&mut self) -> Result<(), ClientError> {
        self.require("complete a disconnect", &[RunspacePoolState::Opened])?;
        self.state = RunspacePoolState::Disconnected;
        for pipeline in self.pipelines.values_mut() {
            if !pipeline.state.is_finished() {
                pipeline.state = PsInvocationState::Disconnected;
            }
        }
        Ok(())
    }

    /// A Reconnect (same client session) is about to be sent: `Disconnected → Connecting`. The server's stream may
    /// have a gap (a response lost with the connection), so a partly reassembled object is discarded and the stream
    /// resumes at the next object's start, as PowerShell's `PrepareForStreamConnect` does.
    pub fn reconnect_started(&mut self) -> Result<(), ClientError> {
        self.reconnect_started_resuming()?;
        // The first bytes after a reconnect may be the tail of an object begun before the disconnect.
        self.defragmenter.resynchronise();
        Ok(())
    }

    /// [`Self::reconnect_started`] for a server that resumes its stream exactly where this client stopped reading
    /// (it retained every response until acknowledged): nothing can be missing, so a partly reassembled object is
    /// kept and completed by what follows.
    pub fn reconnect_started_resuming(&mut self) -> Result<(), ClientError> {
        self.require("reconnect", &[RunspacePoolState::Disconnected])?;
        self.state = RunspacePoolState::Connecting;
        Ok(())
    }

    /// The server acknowledged Reconnect: `Connecting → Opened`. Pipelines stay `Disconnected` until each one is
    /// reconnected ([`Self::pipeline_connected`]).
    pub fn reconnect_completed(&mut self) -> Result<(), ClientError> {
        self.require("complete a reconnect", &[RunspacePoolState::Connecting])?;
        self.state = RunspacePoolState::Opened;
        Ok(())
    }

    /// A Reconnect or Connect was refused by the server without damaging the session (e.g. it is connected to
    /// another client): `Connecting → Disconnected`.
    pub fn connect_refused(&mut self) -> Result<(), ClientError> {
        self.require("abandon a connect", &[RunspacePoolState::Connecting, RunspacePoolState::NegotiationSucceeded])?;
        self.state = RunspacePoolState::Disconnected;
        Ok(())
    }

    /// A per-command Connect/Reconnect succeeded: the pipeline is `Running` again (until its state says otherwise).
    pub fn pipeline_connected(&mut self, pipeline_id: Uuid) -> Result<(), ClientError> {
        let pipeline = self.pipelines.get_mut(&pipeline_id).ok_or(ClientError::UnknownPipeline(pipeline_id))?;
        if pipeline.state == PsInvocationState::Disconnected {
            pipeline.state = PsInvocationState::Running;
        }
        Ok(())
    }

    /// Close (Delete) is about to be sent: `→ Closing`.
    pub fn close_started(&mut self) {
        if !self.state.is_final() {
            self.state = RunspacePoolState::Closing;
        }
    }

    /// The shell was deleted: `→ Closed`; unfinished pipelines become `Stopped`.
    pub fn close_completed(&mut self) {
        self.state = RunspacePoolState::Closed;
        for pipeline in self.pipelines.values_mut() {
            if !pipeline.state.is_finished() {
                pipeline.state = PsInvocationState::Stopped;
            }
        }
    }

    /// The connection failed in a way that loses the session for this client: `→ Broken`; unfinished pipelines
    /// become `Failed`.
    pub fn set_broken(&mut self) {
        self.state = RunspacePoolState::Broken;
        for pipeline in self.pipelines.values_mut() {
            if !pipeline.state.is_finished() {
                pipeline.state = PsInvocationState::Failed;
            }
        }
    }
}
