//! [`Session`]: one PSSession (a RunspacePool in a WS-Man shell) as seen by this client, with the operations of
//! Invoke-Command, Disconnect-PSSession, Connect-PSSession (reconnect), Receive-PSSession and Remove-PSSession.
//!
//! State model of the help pages: [`SessionState`] (Opened, Disconnected, Broken, Closed) is relative to this
//! client; [`Availability`] says whether the session can be used (Available), connected (None) or is held by
//! another client or busy (Busy).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use getrandom::SysRng;
use pssession_psrp::client::{
    ClientEvent, ClientRunspacePool, PipelineEvent, PipelineSpec, PsInvocationState, ReceivedMessages,
    RunspacePoolState,
};
use pssession_psrp::session_key::SecretText;
use tokio::time::Instant;
use uuid::Uuid;

use crate::client::{Client, PROTOCOL_VERSION};
use crate::delivery::{Delivery, OutputLoss};
use crate::error::Error;
use crate::error::{held_elsewhere, map_fault, unexpected};
use crate::ids::IdPurpose;
use crate::listing::{CommandInfo, SessionFilter, SessionInfo, ShellInfo};
use crate::options::{ConnectionNotice, MIN_IDLE_TIMEOUT, OutputBufferingMode};
pub use crate::state::{Availability, SessionState};
use crate::wire::{id_text, xs_duration};
use pssession_wsman::envelope::{RequestBody, ResponseBody};
use pssession_wsman::fault::FaultKind;
use pssession_wsman::header::Header;
use pssession_wsman::header::option;
use pssession_wsman::ops::{CommandLine, Connect, CreateShell, Disconnect, Reconnect, Send, Signal, SignalCode};
use pssession_wsman::receive::ReceiveResponse;
use pssession_wsman::shell::BufferMode;
use pssession_wsman::transport::TransportError;

/// OperationTimeout of a keep-alive Receive.
pub const KEEP_ALIVE_WAIT: Duration = Duration::from_secs(1);

/// Longest the pool Receive after a Connect waits for APPLICATION_PRIVATE_DATA.
pub const POST_CONNECT_RECEIVE_WAIT: Duration = Duration::from_secs(5);

/// One event of one pipeline, as Receive-PSSession hands it out.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineOutput {
    /// The pipeline (WS-Man CommandId).
    pub pipeline_id: Uuid,
    /// What happened: output, a stream record, or a state change.
    pub event: PipelineEvent,
}

/// One PSSession: a RunspacePool in a WS-Man shell, with the State (Opened, Disconnected, Broken, Closed) and
/// Availability (Available, None, Busy) of the help pages.
#[derive(Debug)]
pub struct Session {
    client: Client,
    pool: ClientRunspacePool,
    /// Shared with the Receives on their way (`start_receive`), which name the session in retry notices.
    name: Arc<str>,
    state: SessionState,
    availability: Availability,
    shell: ShellInfo,
    /// Pipeline events received while waiting for something else (e.g. during a pool Receive), delivered by the
    /// next `receive`.
    pending: VecDeque<PipelineOutput>,
    last_activity: Instant,
    /// Receive numbering, duplicate guard and Drop-mode losses ([`crate::delivery`]).
    delivery: Delivery,
    /// An operation whose future may have been dropped between its state change and its answer (a timeout,
    /// Ctrl-C); the next operation repairs what it left ([`Session::recover_cancelled`]).
    in_flight: Option<InFlight>,
    /// Commands reattached by a command Reconnect and not yet received from: if the server did not apply that
    /// Reconnect (MS-PSRP names a CommandID body element without its encoding), their first Receive faults
    /// 0x803381C4 and they are attached again with the trace-verified command Connect.
    reconnected_unconfirmed: Vec<Uuid>,
}

/// An operation on its way, for cancel safety: dropping a session future must leave a session the next call can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InFlight {
    /// A Disconnect was sent: the server may have disconnected the shell even if the answer never arrived.
    Disconnect,
    /// A Reconnect was sent, for the pool or its commands.
    Reconnect,
}

/// How many times in a row a receive reconnects a session the server disconnected under it, without a response in
/// between, before it reports the disconnection instead.
const MAX_AUTOMATIC_RECONNECTS: u32 = 3;

/// A Receive on its way ([`Session::start_receive`]).
type PendingReceive =
    Pin<Box<dyn Future<Output = Result<Option<(Header, ReceiveResponse)>, ReceiveFailure>> + std::marker::Send>>;

/// How a Receive failed: the network for good while the server retains responses (the session becomes
/// Disconnected), or anything else.
enum ReceiveFailure {
    Interrupted(TransportError, u32),
    Failed(Error),
}

/// The pause before resending a request that failed on the network: 100 ms, growing with each attempt, at most 5 s
/// (so that a 4-minute window costs about fifty attempts).
fn resend_delay(attempt: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(u64::from(attempt)).min(5000))
}

/// The resends of one request that fails on the network: PowerShell's robust connections. Retries go on until
/// both `max_connection_retry_count` resends were made and `max_retry_connection_time` has passed since the first
/// failure (tokio's clock); each step is logged and told to the options' [`crate::ConnectionObserver`]. Only the counters
/// live here — the settings are read from the client when a failure happens, so a request that never fails pays
/// nothing.
#[derive(Default)]
struct Retry {
    first_failure: Option<Instant>,
    attempts: u32,
}

impl Retry {
    /// After a network failure of `session`'s request: waits, and says whether to send the request again.
    async fn again(&mut self, client: &Client, session: &str, error: &TransportError) -> bool {
        let options = client.options();
        let computer = client.target().computer_name_str();
        let now = Instant::now();
        let first = *self.first_failure.get_or_insert(now);
        if self.attempts == 0 {
            tracing::warn!(session, computer, %error, "network failure; retrying for up to {:?}",
                options.max_retry_connection_time);
            notify(
                client,
                ConnectionNotice::NetworkFailureDetected {
                    session: session.to_owned(),
                    computer: computer.to_owned(),
                    retry_for: options.max_retry_connection_time,
                    reason: error.to_string(),
                },
            );
        }
        if self.attempts >= options.max_connection_retry_count
            && now.duration_since(first) >= options.max_retry_connection_time
        {
            tracing::warn!(session, computer, attempts = self.attempts, "giving up: the session is disconnected");
            notify(
                client,
                ConnectionNotice::GaveUp {
                    session: session.to_owned(),
                    computer: computer.to_owned(),
                    attempts: self.attempts,
                },
            );
            return false;
        }
        self.attempts += 1;
        tokio::time::sleep(resend_delay(self.attempts)).await;
        tracing::warn!(session, computer, attempt = self.attempts, "retrying");
        notify(
            client,
            ConnectionNotice::RetryAttempt {
                session: session.to_owned(),
                computer: computer.to_owned(),
                attempt: self.attempts,
            },
        );
        true
    }

    /// The request got an answer: tells the observer when that took resends.
    fn answered(&self, client: &Client, session: &str) {
        if self.attempts > 0 {
            let computer = client.target().computer_name_str();
            tracing::info!(session, computer, "connection restored");
            notify(
                client,
                ConnectionNotice::RetrySucceeded { session: session.to_owned(), computer: computer.to_owned() },
            );
        }
    }
}

/// Hands `notice` to the client's [`crate::ConnectionObserver`], if it has one.
fn notify(client: &Client, notice: ConnectionNotice) {
    if let Some(observer) = &client.options().connection_observer {
        observer.notify(&notice);
    }
}

impl Session {
    pub(crate) fn new(client: Client, pool: ClientRunspacePool, name: String, shell: ShellInfo) -> Self {
        Session {
            client,
            pool,
            name: name.into(),
            state: SessionState::Opened,
            availability: Availability::Available,
            shell,
            pending: VecDeque::new(),
            last_activity: Instant::now(),
            delivery: Delivery::default(),
            in_flight: None,
            reconnected_unconfirmed: Vec::new(),
        }
    }

    /// Repairs what a dropped `reconnect` left (an operation future dropped at an await, e.g. by a timeout or
    /// Ctrl-C): a pool left Connecting goes back to Disconnected, so the next `reconnect` starts over (a Reconnect is
    /// safe to repeat); a pool reconnected whose commands were not is finished by reconnecting them. A dropped
    /// `disconnect` needs no repair here: the next `disconnect` accepts that the shell is already disconnected.
    async fn recover_cancelled(&mut self) -> Result<(), Error> {
        if self.in_flight != Some(InFlight::Reconnect) {
            return Ok(());
        }
        if self.pool.state() == RunspacePoolState::Connecting {
            self.pool.connect_refused()?;
            self.in_flight = None;
            return Ok(());
        }
        if self.state == SessionState::Opened {
            self.reconnect_pipelines().await?;
        }
        self.in_flight = None;
        Ok(())
    }

    /// The session's InstanceId (ShellId).
    pub fn instance_id(&self) -> Uuid {
        self.pool.id()
    }

    /// The session's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// State relative to this client.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// Availability.
    pub fn availability(&self) -> Availability {
        self.availability
    }

    /// The RunspacePool state machine.
    pub fn runspace_pool(&self) -> &ClientRunspacePool {
        &self.pool
    }

    /// What the server last reported about the shell.
    pub fn shell(&self) -> &ShellInfo {
        &self.shell
    }

    /// The client this session talks through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Output the server reported discarding while the session was disconnected in
    /// [`OutputBufferingMode::Drop`] with a full buffer, per pipeline (cumulative counts of whole objects). Empty
    /// when nothing was lost. In `Block` mode (and while connected) the server never discards output.
    pub fn output_losses(&self) -> Vec<OutputLoss> {
        self.delivery.losses()
    }

    /// Objects the server reported discarding for one pipeline (see [`Session::output_losses`]).
    pub fn output_lost(&self, pipeline_id: Uuid) -> u64 {
        self.delivery.lost(Some(pipeline_id))
    }

    /// Fragments received twice and discarded by the duplicate guard. A server that retains Receive responses
    /// (see the README) never sends any; a non-zero count means the second guard caught a duplicate.
    pub fn duplicates_discarded(&self) -> u64 {
        self.delivery.duplicates()
    }

    /// One Receive for `target` (the pool, or a command), numbered for exactly-once delivery
    /// ([`crate::delivery`]). When the server retains responses, a Receive that failed on the network is sent
    /// again with the same number (up to `max_connection_retry_count` times); after that the session is
    /// Disconnected ([`Error::ConnectionInterrupted`]) and [`Session::reconnect`] resumes it without losing or
    /// repeating output. Duplicate fragments are removed before the PSRP layer.
    async fn receive_from(
        &mut self,
        target: Option<Uuid>,
        wait: Option<Duration>,
    ) -> Result<Option<ReceiveResponse>, Error> {
        let outcome = self.start_receive(target, wait).await;
        self.finish_receive(target, outcome)
    }

    /// The network half of [`Session::receive_from`], owning what it needs, so that it can be on its way while
    /// the session handles the previous response.
    fn start_receive(&self, target: Option<Uuid>, wait: Option<Duration>) -> PendingReceive {
        let client = self.client.clone();
        let id = self.instance_id();
        let sequence = self.delivery.sequence(target);
        let resends = self.delivery.server_retains();
        let name = Arc::clone(&self.name);
        Box::pin(async move {
            let mut retry = Retry::default();
            loop {
                match client.receive(id, target, wait, sequence).await {
                    Err(Error::Transport(e)) if resends => {
                        if !retry.again(&client, &name, &e).await {
                            return Err(ReceiveFailure::Interrupted(e, retry.attempts + 1));
                        }
                    }
                    outcome => {
                        retry.answered(&client, &name);
                        return outcome.map_err(ReceiveFailure::Failed);
                    }
                }
            }
        })
    }

    /// The session half of [`Session::receive_from`]: numbering, duplicate removal, interruption.
    fn finish_receive(
        &mut self,
        target: Option<Uuid>,
        outcome: Result<Option<(Header, ReceiveResponse)>, ReceiveFailure>,
    ) -> Result<Option<ReceiveResponse>, Error> {
        match outcome {
            Ok(Some((header, mut response))) => {
                self.delivery.received(target, &header);
                for stream in &mut response.streams {
                    let data = std::mem::take(&mut stream.data);
                    stream.data = self.delivery.accept(data);
                }
                Ok(Some(response))
            }
            Ok(None) => Ok(None),
            Err(ReceiveFailure::Interrupted(e, attempts)) => Err(self.interrupted(e, attempts)),
            Err(ReceiveFailure::Failed(e)) => Err(e),
        }
    }

    /// The network failed for good while the server holds the session: like PowerShell's robust connections, the
    /// session becomes Disconnected (the server keeps it and its output), to be resumed with
    /// [`Session::reconnect`].
    fn interrupted(&mut self, source: TransportError, attempts: u32) -> Error {
        if self.pool.state() != RunspacePoolState::Opened {
            return self.broken(Error::Transport(source));
        }
        let _ = self.pool.disconnect_completed();
        self.state = SessionState::Disconnected;
        self.availability = Availability::None;
        Error::ConnectionInterrupted { name: self.name.to_string(), attempts, source }
    }

    /// Sends `body` for this session's shell, sending it again (up to `max_connection_retry_count` times) while
    /// the network fails. Only for requests that are safe to repeat, or whose repetition the caller recognises
    /// (the returned count says whether the outcome came from a resend).
    async fn call_resending(
        &self,
        options: &[(&str, &str, bool)],
        body: RequestBody,
    ) -> (Result<ResponseBody, Error>, u32) {
        let resource_uri = self.client.target().resource_uri();
        let id = self.instance_id();
        let mut retry = Retry::default();
        loop {
            match self.client.call(&resource_uri, Some(id), options, body.clone(), None).await {
                Err(Error::Transport(e)) if retry.again(&self.client, &self.name, &e).await => {}
                outcome => {
                    if outcome.is_ok() {
                        retry.answered(&self.client, &self.name);
                    }
                    return (outcome, retry.attempts);
                }
            }
        }
    }

    /// A Get-PSSession row for this session.
    pub fn info(&self) -> SessionInfo {
        let mut commands: Vec<CommandInfo> = self
            .pool
            .pipelines()
            .filter(|p| !p.state().is_finished())
            .map(|p| CommandInfo { command_id: p.id(), command_line: String::new(), state: p.state().to_string() })
            .collect();
        commands.sort_by_key(|c| c.command_id);
        SessionInfo {
            instance_id: self.instance_id(),
            name: self.name.to_string(),
            computer_name: self.client.target().computer_name_str().to_owned(),
            configuration_name: self.client.target().configuration_name().to_owned(),
            state: self.state,
            availability: self.availability,
            shell: self.shell.clone(),
            commands,
        }
    }

    fn require_opened(&self, operation: &'static str) -> Result<(), Error> {
        if self.state == SessionState::Opened {
            Ok(())
        } else {
            Err(Error::InvalidSessionState {
                name: self.name.to_string(),
                operation,
                state: format!("{:?}", self.state),
            })
        }
    }

    fn broken(&mut self, error: Error) -> Error {
        if matches!(error, Error::SessionDisconnected { .. }) && self.pool.state() == RunspacePoolState::Opened {
            // The server disconnected the session (the client stopped polling): it can be connected again.
            let _ = self.pool.disconnect_completed();
            self.state = SessionState::Disconnected;
            self.availability = Availability::None;
            return error;
        }
        if matches!(error, Error::Transport(_) | Error::Protocol(_) | Error::SessionNotFound { .. }) {
            self.pool.set_broken();
            self.state = SessionState::Broken;
            self.availability = Availability::None;
        }
        error
    }

    fn handle_pool_events(&mut self, events: Vec<ClientEvent>) -> Result<(), Error> {
        for event in events {
            match event {
                ClientEvent::Pipeline { pipeline_id, event } => {
                    self.pending.push_back(PipelineOutput { pipeline_id, event });
                }
                // The server has a SecureString for us: queue PUBLIC_KEY (sent by the next pool flush).
                ClientEvent::PublicKeyRequested => {
                    self.pool.start_key_exchange(&mut SysRng)?;
                }
                ClientEvent::EncryptedSessionKey => self.pool.complete_key_exchange(&mut SysRng)?,
                // A protocol 2.1 server may have lowered the pool's envelope size: requests follow it.
                ClientEvent::SessionCapability(_) => {
                    self.client.lower_max_envelope_size(self.pool.config().max_envelope_size);
                }
                ClientEvent::StateChanged { state: RunspacePoolState::Broken | RunspacePoolState::Closed, error } => {
                    self.state = SessionState::Broken;
                    self.availability = Availability::None;
                    let reason =
                        error.map(|e| e.to_string()).unwrap_or_else(|| "the server closed the RunspacePool".to_owned());
                    return Err(Error::RunspacePool(reason));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Sends queued pool data (negotiation overflow, host responses) with Send on the `stdin`/`pr` streams.
    pub(crate) async fn flush_pool_sends(&mut self) -> Result<(), Error> {
        while self.pool.next_payload_target() == Some(Uuid::nil()) {
            let Some(payload) = self.pool.next_payload() else { break };
            let body = RequestBody::Send(Send::one("stdin", None, payload.data));
            let resource_uri = self.client.target().resource_uri();
            self.client.call(&resource_uri, Some(self.instance_id()), &[], body, None).await?;
        }
        Ok(())
    }

    /// Receives on the pool until it is Opened (after Create), within OpenTimeout.
    pub(crate) async fn wait_opened(&mut self) -> Result<(), Error> {
        let deadline = Instant::now() + self.client.options().open_timeout;
        while self.pool.state() != RunspacePoolState::Opened {
            if self.pool.state().is_final() {
                return Err(Error::RunspacePool(format!("the RunspacePool is {}", self.pool.state())));
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    operation: "opening the session",
                    limit: self.client.options().open_timeout,
                });
            }
            let outcome = self.receive_from(None, None).await?;
            if let Some(response) = outcome {
                for stream in response.streams {
                    let events = self.pool.receive(stream.data)?;
                    self.handle_pool_events(events)?;
                }
            }
        }
        self.last_activity = Instant::now();
        Ok(())
    }

    /// The pool Connect of Connect-PSSession (new client session).
    pub(crate) async fn connect_pool(&mut self, min_runspaces: i32, max_runspaces: i32) -> Result<(), Error> {
        let connect_xml = self.pool.connect_payload(min_runspaces, max_runspaces)?;
        let resource_uri = self.client.target().resource_uri();
        let body =
            RequestBody::Connect(Connect { command_id: None, connect_xml: Some(connect_xml), buffer_mode: None });
        let id = self.instance_id();
        let response = match self.client.call(&resource_uri, Some(id), &[], body, None).await {
            Ok(response) => response,
            Err(e) => {
                let _ = self.pool.connect_refused();
                self.state = SessionState::Disconnected;
                return Err(map_fault(e, id, &self.name));
            }
        };
        let ResponseBody::Connect(connected) = response else { return Err(unexpected("ConnectResponse")) };
        let data = connected
            .connect_response_xml
            .ok_or_else(|| Error::MalformedResponse("ConnectResponse without connectResponseXml".to_owned()))?;
        let events = self.pool.receive(data)?;
        let private_data_received = events.iter().any(|e| matches!(e, ClientEvent::ApplicationPrivateData(_)));
        self.handle_pool_events(events)?;
        if self.pool.state() != RunspacePoolState::Opened {
            self.pool.set_broken();
            self.state = SessionState::Broken;
            return Err(Error::RunspacePool(format!(
                "the server's connect response left the RunspacePool {}",
                self.pool.state()
            )));
        }
        self.state = SessionState::Opened;
        self.availability = Availability::Available;
        // The server follows a Connect with APPLICATION_PRIVATE_DATA on the pool stream (protocol.md §3.3); fetch
        // it, but do not wait a full OperationTimeout for a server that sends nothing.
        let wait = self.client.options().operation_timeout.min(POST_CONNECT_RECEIVE_WAIT);
        let outcome = if private_data_received { Ok(None) } else { self.receive_from(None, Some(wait)).await };
        match outcome {
            Ok(Some(response)) => {
                for stream in response.streams {
                    let events = self.pool.receive(stream.data)?;
                    self.handle_pool_events(events)?;
                }
            }
            Ok(None) => {}
            Err(e) => return Err(self.broken(map_fault(e, id, &self.name))),
        }
        self.last_activity = Instant::now();
        Ok(())
    }

    /// The per-command Connect of Connect-PSSession. Returns whether the command was connected: one the server
    /// does not know (it ended and was released since it was listed) is forgotten, and the session stays usable.
    pub(crate) async fn connect_command(&mut self, command_id: Uuid) -> Result<bool, Error> {
        self.pool.adopt_pipeline(command_id)?;
        let resource_uri = self.client.target().resource_uri();
        let body = RequestBody::Connect(Connect {
            command_id: Some(id_text(command_id)),
            connect_xml: None,
            buffer_mode: None,
        });
        let id = self.instance_id();
        match self.client.call(&resource_uri, Some(id), &[], body, None).await {
            Ok(_) => {}
            Err(Error::Fault(fault)) if command_unknown(&fault, id) => {
                tracing::debug!(session = %self.name, command = %command_id, "the listed command is gone");
                self.pool.remove_pipeline(command_id);
                return Ok(false);
            }
            Err(e) => return Err(map_fault(e, id, &self.name)),
        }
        self.pool.pipeline_connected(command_id)?;
        self.availability = Availability::Busy;
        Ok(true)
    }

    /// Starts a pipeline (Command + Send for what does not fit) and returns its id; collect its output with
    /// [`Session::receive_pipeline`] or [`Session::receive`].
    pub async fn start(&mut self, spec: &PipelineSpec) -> Result<Uuid, Error> {
        self.require_opened("invoke a command in")?;
        // Pool data queued earlier (a PUBLIC_KEY the server asked for) goes first: the Command carries only the
        // pipeline's own payload.
        self.flush_pool_sends().await?;
        if spec.has_secure_strings() {
            self.exchange_keys().await?;
        }
        let pipeline_id = self.client.next_id(crate::ids::IdPurpose::Pipeline);
        self.pool.create_pipeline(pipeline_id, spec)?;
        let first = self
            .pool
            .next_payload()
            .ok_or_else(|| Error::MalformedResponse("nothing queued for the command".to_owned()))?;
        let resource_uri = self.client.target().resource_uri();
        let body = RequestBody::Command(CommandLine::powershell(
            &id_text(pipeline_id),
            Some(&spec.command_line()),
            &first.data,
        ));
        let id = self.instance_id();
        let result = self
            .client
            .call(
                &resource_uri,
                Some(id),
                &[(pssession_wsman::header::option::SKIP_CMD_SHELL, "False", false)],
                body,
                None,
            )
            .await;
        if let Err(e) = result {
            self.pool.remove_pipeline(pipeline_id);
            return Err(self.broken(map_fault(e, id, &self.name)));
        }
        while self.pool.next_payload_target() == Some(pipeline_id) {
            let Some(payload) = self.pool.next_payload() else { break };
            let body = RequestBody::Send(Send::one("stdin", Some(&id_text(pipeline_id)), payload.data));
            self.client.call(&resource_uri, Some(id), &[], body, None).await?;
        }
        self.availability = Availability::Busy;
        self.last_activity = Instant::now();
        Ok(pipeline_id)
    }

    /// The SecureString key exchange (pypsrp's `exchange_keys`, what PowerShell does before it serializes the
    /// first SecureString): sends PUBLIC_KEY with a fresh RSA-2048 key pair and receives on the pool until the
    /// server's ENCRYPTED_SESSION_KEY is opened, within OpenTimeout. Does nothing once the key is known.
    /// [`Session::start`] calls it for a pipeline with SecureString parameters.
    pub async fn exchange_keys(&mut self) -> Result<(), Error> {
        self.require_opened("exchange the session key with")?;
        if self.pool.session_key().is_some() {
            return Ok(());
        }
        self.pool.start_key_exchange(&mut SysRng)?;
        self.flush_pool_sends().await?;
        let deadline = Instant::now() + self.client.options().open_timeout;
        let id = self.instance_id();
        while self.pool.session_key().is_none() {
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    operation: "exchanging the session key",
                    limit: self.client.options().open_timeout,
                });
            }
            let outcome = match self.receive_from(None, None).await {
                Ok(outcome) => outcome,
                Err(e) => return Err(self.broken(map_fault(e, id, &self.name))),
            };
            if let Some(response) = outcome {
                for stream in response.streams {
                    let events = self.pool.receive(stream.data).map_err(|e| self.broken(Error::Protocol(e)))?;
                    self.handle_pool_events(events)?;
                }
            }
        }
        self.last_activity = Instant::now();
        Ok(())
    }

    /// The text of a SecureString the server sent: the bytes of a [`pssession_psrp::clixml::PsValue::SecureString`] found in an output
    /// object (e.g. `Clixml::value()` of `ConvertTo-SecureString`'s output). Needs the session key of this client
    /// session ([`Session::exchange_keys`]).
    pub fn decrypt_secure_string(&self, ciphertext: &[u8]) -> Result<SecretText, Error> {
        Ok(self.pool.decrypt_secure_string(ciphertext)?)
    }

    /// Sends input objects to a running pipeline started with `no_input` false (PIPELINE_INPUT, with Send on
    /// its `stdin`), then closes its input when `end` is set (END_OF_PIPELINE_INPUT) — `$input` of the script.
    pub async fn send_input(
        &mut self,
        pipeline_id: Uuid,
        inputs: &[pssession_psrp::clixml::PsValue],
        end: bool,
    ) -> Result<(), Error> {
        self.require_opened("send input to")?;
        for input in inputs {
            let body = pssession_psrp::clixml::to_message_body(input, true);
            self.pool.send_input(pipeline_id, bytes::Bytes::from(body))?;
        }
        if end {
            self.pool.end_input(pipeline_id)?;
        }
        let resource_uri = self.client.target().resource_uri();
        let id = self.instance_id();
        while self.pool.next_payload_target() == Some(pipeline_id) {
            let Some(payload) = self.pool.next_payload() else { break };
            let body = RequestBody::Send(Send::one("stdin", Some(&id_text(pipeline_id)), payload.data));
            if let Err(e) = self.client.call(&resource_uri, Some(id), &[], body, None).await {
                return Err(self.broken(map_fault(e, id, &self.name)));
            }
        }
        self.last_activity = Instant::now();
        Ok(())
    }

    /// Runs `spec` and collects everything it produces, in order (Invoke-Command).
    pub async fn invoke(&mut self, spec: &PipelineSpec) -> Result<Vec<PipelineOutput>, Error> {
        let pipeline_id = self.start(spec).await?;
        let mut out = Vec::new();
        self.receive_pipeline(pipeline_id, |o| out.push(o)).await?;
        Ok(out)
    }

    /// Invoke-Command -InDisconnectedSession: starts `spec`, then disconnects. Returns the pipeline id.
    pub async fn invoke_disconnected(
        &mut self,
        spec: &PipelineSpec,
        idle_timeout: Option<Duration>,
        mode: OutputBufferingMode,
    ) -> Result<Uuid, Error> {
        let pipeline_id = self.start(spec).await?;
        self.disconnect(idle_timeout, mode).await?;
        Ok(pipeline_id)
    }

    /// Receives one pipeline's output until it finishes, handing every event to `sink` in arrival order; then
    /// releases the command (Signal Terminate). Returns the final state.
    pub async fn receive_pipeline(
        &mut self,
        pipeline_id: Uuid,
        mut sink: impl FnMut(PipelineOutput),
    ) -> Result<PsInvocationState, Error> {
        self.recover_cancelled().await?;
        self.require_opened("receive output from")?;
        let state = self
            .pool
            .pipeline(pipeline_id)
            .map(|p| p.state())
            .ok_or(Error::Protocol(pssession_psrp::client::ClientError::UnknownPipeline(pipeline_id)))?;
        // Events that arrived earlier for this pipeline come first.
        let mut kept = VecDeque::new();
        while let Some(output) = self.pending.pop_front() {
            if output.pipeline_id == pipeline_id { sink(output) } else { kept.push_back(output) }
        }
        self.pending = kept;
        let mut state = state;
        let id = self.instance_id();
        let mut done_seen = false;
        let limit = self.client.options().maximum_received_data_size_per_command;
        let mut received = 0usize;
        let target = Some(pipeline_id);
        // The next Receive, sent before this response is handled (see below).
        let mut ahead: Option<PendingReceive> = None;
        let mut automatic_reconnects = 0u32;
        while (!state.is_finished() && !done_seen) || ahead.is_some() {
            let pending = ahead.take().unwrap_or_else(|| self.start_receive(target, None));
            let outcome = match self.finish_receive(target, pending.await) {
                Ok(outcome) => outcome,
                Err(e) if self.connect_unconfirmed_command(pipeline_id, &e).await? => continue,
                Err(Error::Fault(fault)) if command_unknown(&fault, id) => {
                    // The shell is fine; only this command is gone.
                    self.pool.remove_pipeline(pipeline_id);
                    if !self.pool.pipelines().any(|p| !p.state().is_finished()) {
                        self.availability = Availability::Available;
                    }
                    return Err(Error::CommandNotFound { pipeline_id });
                }
                Err(e) => {
                    let error = self.broken(map_fault(e, id, &self.name));
                    // The server disconnected the shell because it saw no Receive for its client timeout (a network
                    // outage, a suspended laptop). This client is here and the server kept every unacknowledged
                    // response: reconnect, as PowerShell's robust connections do, and go on where it stopped.
                    if matches!(error, Error::SessionDisconnected { .. })
                        && self.state == SessionState::Disconnected
                        && self.delivery.server_retains()
                        && automatic_reconnects < MAX_AUTOMATIC_RECONNECTS
                    {
                        automatic_reconnects += 1;
                        tracing::warn!(session = %self.name, "the server disconnected the session; reconnecting");
                        self.reconnect().await?;
                        continue;
                    }
                    return Err(error);
                }
            };
            automatic_reconnects = 0;
            self.reconnected_unconfirmed.retain(|p| *p != pipeline_id);
            self.last_activity = Instant::now();
            let Some(response) = outcome else { continue };
            let done = response.command_state.as_ref().is_some_and(|c| c.is_done());
            let mut batches = Vec::with_capacity(response.streams.len());
            for stream in response.streams {
                received = received.saturating_add(stream.data.len());
                if let Some(limit) = limit
                    && received > limit
                {
                    return Err(Error::ReceivedDataLimitExceeded { pipeline_id, limit });
                }
                batches.push(self.pool.defragment(stream.data).map_err(|e| self.broken(Error::Protocol(e)))?);
            }
            // Receive-ahead: the next Receive goes out before this response's objects are deserialized, so that
            // the server prepares (and seals) the next output while this client decodes the last. Requests stay
            // one at a time and in order; the server only sees them sooner. Not when the server waits for an
            // answer to something in this response (the answer must be sent first), nor after the end.
            if !done && !state.is_finished() && !batches.iter().any(ReceivedMessages::awaits_answer) {
                let mut next = self.start_receive(target, None);
                // One poll hands the request to the transport; its answer is awaited after this one is handled.
                if let Poll::Ready(outcome) = std::future::poll_fn(|cx| Poll::Ready(next.as_mut().poll(cx))).await {
                    next = Box::pin(std::future::ready(outcome));
                }
                ahead = Some(next);
            }
            for batch in batches {
                let events = self.pool.handle(batch).map_err(|e| self.broken(Error::Protocol(e)))?;
                for event in events {
                    match event {
                        ClientEvent::Pipeline { pipeline_id: pid, event } if pid == pipeline_id => {
                            if let PipelineEvent::State { state: s, .. } = &event {
                                state = *s;
                            }
                            sink(PipelineOutput { pipeline_id: pid, event });
                        }
                        other => self.handle_pool_events(vec![other])?,
                    }
                }
            }
            // A PUBLIC_KEY the server asked for while the pipeline runs must reach it before the pipeline can go on.
            if self.pool.next_payload_target() == Some(Uuid::nil()) {
                // The transport is held by a Receive sent ahead: take its answer first, handle it next round.
                if let Some(pending) = ahead.take() {
                    ahead = Some(Box::pin(std::future::ready(pending.await)));
                }
                self.flush_pool_sends().await?;
            }
            done_seen |= done;
        }
        // Release the command on the server, as PowerShell and pypsrp do after Done. Its output is complete
        // whatever the answer (a resent Terminate finds the command already gone).
        let body = RequestBody::Signal(Signal { command_id: Some(id_text(pipeline_id)), code: SignalCode::Terminate });
        let _ = self.call_resending(&[], body).await;
        self.delivery.forget(Some(pipeline_id));
        self.pool.remove_pipeline(pipeline_id);
        if !self.pool.pipelines().any(|p| !p.state().is_finished()) {
            self.availability = Availability::Available;
        }
        Ok(state)
    }

    /// Receive-PSSession for a command known only by its id: one this client session started that the pool does
    /// not track (a command started by an earlier process of the same client session, whose id was kept). The
    /// command is registered as running and received like [`Session::receive_pipeline`]. A command the server
    /// does not know is [`Error::CommandNotFound`]; the session stays usable.
    pub async fn receive_command(
        &mut self,
        command_id: Uuid,
        sink: impl FnMut(PipelineOutput),
    ) -> Result<PsInvocationState, Error> {
        self.require_opened("receive output from")?;
        if self.pool.pipeline(command_id).is_none() {
            self.pool.adopt_pipeline(command_id)?;
            self.pool.pipeline_connected(command_id)?;
        }
        self.receive_pipeline(command_id, sink).await
    }

    /// Receive-PSSession: the output of every reattached or running pipeline, until each finishes, in arrival
    /// order per pipeline.
    pub async fn receive(&mut self) -> Result<Vec<PipelineOutput>, Error> {
        let mut out = Vec::new();
        self.receive_each(|o| out.push(o)).await?;
        Ok(out)
    }

    /// [`Session::receive`] handing each event to `sink` as it arrives, so that memory stays bounded by what one
    /// Receive carries however much output there is.
    pub async fn receive_each(&mut self, mut sink: impl FnMut(PipelineOutput)) -> Result<(), Error> {
        self.recover_cancelled().await?;
        self.require_opened("receive output from")?;
        let mut ids: Vec<Uuid> = self.pool.pipelines().filter(|p| !p.state().is_finished()).map(|p| p.id()).collect();
        ids.sort();
        for id in ids {
            self.receive_pipeline(id, &mut sink).await?;
        }
        self.pending.drain(..).for_each(sink);
        Ok(())
    }

    /// Stops a running pipeline (Signal `crtl_c`).
    pub async fn stop(&mut self, pipeline_id: Uuid) -> Result<(), Error> {
        self.require_opened("stop a command in")?;
        self.pool.stop_started(pipeline_id)?;
        let resource_uri = self.client.target().resource_uri();
        let body =
            RequestBody::Signal(Signal { command_id: Some(id_text(pipeline_id)), code: SignalCode::PowerShellStop });
        let id = self.instance_id();
        self.client.call(&resource_uri, Some(id), &[], body, None).await.map_err(|e| map_fault(e, id, &self.name))?;
        Ok(())
    }

    /// Disconnect-PSSession. `idle_timeout` must be at least 60 seconds and at most the server's MaxIdleTimeout;
    /// `None` keeps the server's value. Disconnecting a session that is not Opened does nothing.
    pub async fn disconnect(&mut self, idle_timeout: Option<Duration>, mode: OutputBufferingMode) -> Result<(), Error> {
        self.recover_cancelled().await?;
        if self.state != SessionState::Opened {
            return Ok(());
        }
        if let Some(idle) = idle_timeout {
            let maximum = self.shell.max_idle_timeout;
            if idle < MIN_IDLE_TIMEOUT || maximum.is_some_and(|max| idle > max) {
                return Err(Error::InvalidIdleTimeout { requested: idle, maximum });
            }
        }
        self.pool.disconnect_started()?;
        let buffer_mode = match mode {
            OutputBufferingMode::None => None,
            OutputBufferingMode::Block => Some(BufferMode::Block),
            OutputBufferingMode::Drop => Some(BufferMode::Drop),
        };
        let body = RequestBody::Disconnect(Disconnect { idle_timeout: idle_timeout.map(xs_duration), buffer_mode });
        let id = self.instance_id();
        // Tell a server that retains Receive responses what this client has processed, so that a client that
        // connects next is not handed it again.
        let acks = self.delivery.acknowledgements();
        let options: Vec<(&str, &str, bool)> =
            acks.as_deref().map(|a| (pssession_wsman::header::option::RECEIVE_ACK, a, false)).into_iter().collect();
        // A Disconnect whose future was dropped may have reached the server: this one then finds it disconnected.
        let sent_before = self.in_flight == Some(InFlight::Disconnect);
        self.in_flight = Some(InFlight::Disconnect);
        let outcome = self.call_resending(&options, body).await;
        self.in_flight = None;
        match outcome {
            (Ok(_), _) => {}
            // An earlier Disconnect (resent here, or one whose future was dropped) may have taken effect: then this
            // one faults, with 0x803381C4 or another code (MS-WSMV names none for a Disconnect of a disconnected
            // shell). The shell's State decides.
            (Err(Error::Fault(fault)), resends) if resends > 0 || sent_before => {
                if fault.kind() != FaultKind::ShellDisconnected && !self.shell_is_disconnected().await? {
                    return Err(self.broken(map_fault(Error::Fault(fault), id, &self.name)));
                }
            }
            // The network is down: whether or not the Disconnect got through, the server still holds the session
            // for this client, and a Reconnect resumes it either way.
            (Err(Error::Transport(source)), resends) => return Err(self.interrupted(source, resends + 1)),
            (Err(e), _) => return Err(self.broken(map_fault(e, id, &self.name))),
        }
        self.pool.disconnect_completed()?;
        if let Some(idle) = idle_timeout {
            self.shell.idle_timeout = Some(idle);
        }
        if let Some(mode) = mode.wire_name() {
            self.shell.buffer_mode = Some(mode.to_owned());
        }
        self.shell.state = Some("Disconnected".to_owned());
        self.state = SessionState::Disconnected;
        self.availability = Availability::None;
        Ok(())
    }

    /// This session as the server lists it now (Get-PSSession by InstanceId); `None` when the server has no such shell.
    async fn server_view(&self) -> Result<Option<SessionInfo>, Error> {
        let filter = SessionFilter { instance_ids: vec![self.instance_id()], ..SessionFilter::default() };
        Ok(self.client.get_sessions(&filter).await?.into_iter().next())
    }

    /// Whether the server lists this session's shell as Disconnected.
    async fn shell_is_disconnected(&self) -> Result<bool, Error> {
        let info = self.server_view().await?;
        Ok(info.is_some_and(|info| info.shell.state.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("Disconnected"))))
    }

    /// Connect-PSSession on a session this client disconnected: Reconnect (same client session) for the pool and
    /// each disconnected pipeline. When the server says the shell is held by another client session, falls back to
    /// the Connect path as PowerShell does: re-query, and Connect if the shell is Disconnected (else Busy).
    /// A session that is already Opened is left alone without error; Broken or Closed sessions cannot be connected.
    pub async fn reconnect(&mut self) -> Result<(), Error> {
        self.recover_cancelled().await?;
        match self.state {
            SessionState::Opened => return Ok(()),
            SessionState::Broken | SessionState::Closed => {
                return Err(Error::InvalidSessionState {
                    name: self.name.to_string(),
                    operation: "connect",
                    state: format!("{:?}", self.state),
                });
            }
            SessionState::Disconnected => {}
        }
        let id = self.instance_id();
        if self.delivery.server_retains() {
            // The server repeats what this client did not acknowledge: the stream has no gap.
            self.pool.reconnect_started_resuming()?;
        } else {
            self.pool.reconnect_started()?;
        }
        self.in_flight = Some(InFlight::Reconnect);
        let body = RequestBody::Reconnect(Reconnect { command_id: None, buffer_mode: None });
        // Reconnect is safe to resend: the server answers success when the shell is already connected to this
        // client session.
        let (outcome, resends) = self.call_resending(&[], body).await;
        match outcome {
            Ok(_) => {
                self.pool.reconnect_completed()?;
                self.state = SessionState::Opened;
                self.availability = Availability::Available;
                let reconnected = self.reconnect_pipelines().await;
                self.in_flight = None;
                reconnected
            }
            Err(Error::Fault(fault)) if held_elsewhere(&fault) => {
                self.pool.connect_refused()?;
                self.in_flight = None;
                self.connect_fallback().await
            }
            Err(Error::Transport(source)) => {
                // The network is still down; the server may well hold the session: it stays Disconnected.
                self.pool.connect_refused()?;
                self.in_flight = None;
                Err(Error::ConnectionInterrupted { name: self.name.to_string(), attempts: resends + 1, source })
            }
            Err(e) => {
                let _ = self.pool.connect_refused();
                self.in_flight = None;
                Err(self.broken(map_fault(e, id, &self.name)))
            }
        }
    }

    /// The command half of [`Session::reconnect`]: a Reconnect for each pipeline still Disconnected, so that running
    /// it again (after a dropped future) does only what is left.
    async fn reconnect_pipelines(&mut self) -> Result<(), Error> {
        let id = self.instance_id();
        let disconnected: Vec<Uuid> =
            self.pool.pipelines().filter(|p| p.state() == PsInvocationState::Disconnected).map(|p| p.id()).collect();
        for pipeline_id in disconnected {
            let body = RequestBody::Reconnect(Reconnect { command_id: Some(id_text(pipeline_id)), buffer_mode: None });
            match self.call_resending(&[], body).await {
                (Ok(_), _) => {}
                // The network failed between the pool and its commands: back to Disconnected, so that the next
                // reconnect does it all again.
                (Err(Error::Transport(source)), resends) => {
                    return Err(self.interrupted(source, resends + 1));
                }
                (Err(e), _) => return Err(map_fault(e, id, &self.name)),
            }
            self.pool.pipeline_connected(pipeline_id)?;
            self.reconnected_unconfirmed.push(pipeline_id);
            self.availability = Availability::Busy;
        }
        self.last_activity = Instant::now();
        Ok(())
    }

    /// The fallback for a command Reconnect the server answered but did not apply: the command Connect that the
    /// recorded Windows traces show (`<rsp:Connect CommandId="…"/>`), once per reattached command. Returns whether
    /// it was tried (the caller then receives again).
    async fn connect_unconfirmed_command(&mut self, pipeline_id: Uuid, error: &Error) -> Result<bool, Error> {
        let Error::Fault(fault) = error else { return Ok(false) };
        let Some(at) = self.reconnected_unconfirmed.iter().position(|p| *p == pipeline_id) else { return Ok(false) };
        if fault.kind() != FaultKind::ShellDisconnected || self.state != SessionState::Opened {
            return Ok(false);
        }
        self.reconnected_unconfirmed.swap_remove(at);
        tracing::debug!(session = %self.name, command = %pipeline_id, "command Reconnect not applied; connecting it");
        let resource_uri = self.client.target().resource_uri();
        let body = RequestBody::Connect(Connect {
            command_id: Some(id_text(pipeline_id)),
            connect_xml: None,
            buffer_mode: None,
        });
        let id = self.instance_id();
        self.client.call(&resource_uri, Some(id), &[], body, None).await.map_err(|e| map_fault(e, id, &self.name))?;
        Ok(true)
    }

    async fn connect_fallback(&mut self) -> Result<(), Error> {
        let info = self.server_view().await?.ok_or(Error::SessionNotFound { instance_id: self.instance_id() })?;
        if info.availability == Availability::Busy {
            return Err(Error::SessionBusy { name: self.name.to_string() });
        }
        let connected = self.client.connect(&info).await?;
        *self = connected;
        Ok(())
    }

    /// One short pool Receive so the server sees the client alive (Windows marks a pool whose client stopped
    /// polling as Disconnected); pool events it returns are handled, pipeline events are kept for `receive`.
    pub async fn keep_alive(&mut self, wait: Duration) -> Result<(), Error> {
        self.require_opened("keep alive")?;
        let id = self.instance_id();
        let outcome = self.receive_from(None, Some(wait)).await.map_err(|e| map_fault(e, id, &self.name))?;
        if let Some(response) = outcome {
            for stream in response.streams {
                let events = self.pool.receive(stream.data)?;
                self.handle_pool_events(events)?;
            }
        }
        self.last_activity = Instant::now();
        Ok(())
    }

    /// Keeps the session alive while waiting for `until`: every `interval` without activity, one short pool
    /// Receive ([`Session::keep_alive`]) tells the server the client is still there. Returns `until`'s output.
    pub async fn keep_alive_until<F: std::future::Future>(
        &mut self,
        interval: Duration,
        until: F,
    ) -> Result<F::Output, Error> {
        let interval = interval.max(Duration::from_millis(100));
        tokio::pin!(until);
        loop {
            tokio::select! {
                output = &mut until => return Ok(output),
                () = tokio::time::sleep(interval) => self.keep_alive(KEEP_ALIVE_WAIT).await?,
            }
        }
    }

    /// Time since the client last exchanged data for this session.
    pub fn idle_for(&self) -> Duration {
        self.last_activity.elapsed()
    }

    /// Remove-PSSession: deletes the shell and closes the session.
    pub async fn remove(mut self) -> Result<(), Error> {
        self.pool.close_started();
        let id = self.instance_id();
        let result = self.client.remove(id).await;
        self.pool.close_completed();
        self.state = SessionState::Closed;
        result
    }
}

/// The Client operations that make a [`Session`]: here rather than in `client.rs`, so that the client (transport,
/// listing) does not depend on the session and the session only on the client.
impl Client {
    /// Creates a session (New-PSSession): Create with ShellId = RunspacePool id and the Name attribute, then
    /// Receive until the pool is Opened.
    pub async fn new_session(&self, name: &str) -> Result<Session, Error> {
        if let Some(idle) = self.inner.options.idle_timeout
            && idle < MIN_IDLE_TIMEOUT
        {
            return Err(Error::InvalidIdleTimeout { requested: idle, maximum: None });
        }
        let pool_id = self.next_id(IdPurpose::RunspacePool);
        let mut pool = ClientRunspacePool::new(pool_id, self.pool_config())?;
        let creation = pool.creation_payload()?;
        let mut shell = CreateShell::powershell(&id_text(pool_id), Some(name), creation);
        shell.idle_timeout = self.inner.options.idle_timeout.map(xs_duration);
        let resource_uri = self.inner.target.resource_uri();
        let response = self
            .call(
                &resource_uri,
                None,
                &[(option::PROTOCOL_VERSION, PROTOCOL_VERSION, true)],
                RequestBody::Create(shell),
                None,
            )
            .await?;
        let ResponseBody::Create(created) = response else { return Err(unexpected("CreateResponse")) };
        let shell = created.shell.as_ref().map(ShellInfo::from_properties).unwrap_or_default();
        let mut session = Session::new(self.clone(), pool, name.to_owned(), shell);
        // Overflowing negotiation data goes with Send on the pool.
        session.flush_pool_sends().await?;
        session.wait_opened().await?;
        Ok(session)
    }

    /// Connect-PSSession for a session found with [`Client::get_sessions`]: the pool Connect with connectXml
    /// (SESSION_CAPABILITY + CONNECT_RUNSPACEPOOL with min = max = 1, as PowerShell sends for a PSSession), then a
    /// Connect for every command the listing found (whatever its state; one the server no longer knows is
    /// skipped), whose output [`Session::receive`] then collects.
    ///
    /// A session that is `Busy` is refused with PowerShell's message; Broken or Closed sessions cannot be connected.
    pub async fn connect(&self, info: &SessionInfo) -> Result<Session, Error> {
        match info.state {
            SessionState::Broken | SessionState::Closed => {
                return Err(Error::InvalidSessionState {
                    name: info.name.clone(),
                    operation: "connect",
                    state: format!("{:?}", info.state),
                });
            }
            SessionState::Opened | SessionState::Disconnected => {}
        }
        if info.availability == Availability::Busy {
            return Err(Error::SessionBusy { name: info.name.clone() });
        }
        let pool = ClientRunspacePool::new(info.instance_id, self.pool_config())?;
        let mut session = Session::new(self.clone(), pool, info.name.clone(), info.shell.clone());
        session.connect_pool(1, 1).await?;
        // Every enumerated command, whatever its CommandState, as PowerShell's GetRemoteRunspacePools does: a
        // command reported Done may still hold output nobody received. One that ended and was released since the
        // enumeration is simply gone.
        for command in &info.commands {
            session.connect_command(command.command_id).await?;
        }
        Ok(session)
    }
}

/// Whether an InvalidSelectors fault on a command Receive is about the command rather than the shell: Windows names
/// the ShellId in the text of an unknown shell (in any language), never in that of an unknown command.
fn command_unknown(fault: &pssession_wsman::fault::WsmanFault, shell_id: Uuid) -> bool {
    use pssession_wsman::fault::FaultKind;
    let names_shell = |text: &str| text.to_uppercase().contains(&id_text(shell_id).to_uppercase());
    fault.kind() == FaultKind::InvalidSelectors
        && !fault.message.as_deref().is_some_and(names_shell)
        && !names_shell(fault.text())
}
