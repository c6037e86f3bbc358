//! [`Client`]: one WS-Man client identity (one `wsmv:SessionId`) talking to one endpoint, and the operations that
//! need no open session: `new_session`, `get_sessions` (Get-PSSession -ComputerName), `connect`
//! (Connect-PSSession -ComputerName) and `remove`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use pssession_psrp::DefragmenterLimits;
use pssession_psrp::client::RunspacePoolConfig;
use pssession_wsman::duration::XsDuration;
use pssession_wsman::enumeration::{EnumItem, Enumerate, Pull};
use pssession_wsman::envelope::{Limits, Request, RequestBody, ResponseBody, parse_response};
use pssession_wsman::fault::FaultKind;
use pssession_wsman::header::{Header, option, resource};
use pssession_wsman::ops::Receive;
use pssession_wsman::receive::ReceiveResponse;
use pssession_wsman::transport::HttpTransport;
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::authentication::{AuthenticationOptions, WinrmAuthenticator};
use crate::error::Error;
use crate::error::{map_fault, unexpected};
use crate::exchange::{HttpExchange, WsmanExchange};
use crate::ids::{IdPurpose, IdSource, RandomIds};
use crate::listing::{CommandInfo, SessionFilter, SessionInfo, ShellInfo};
use crate::options::{ConnectionTarget, RESOURCE_URI_PREFIX, SessionOptions};
use crate::state::{Availability, SessionState};
use crate::wire::id_text;

/// The protocol version announced on Create (PowerShell 5.1–7.5).
pub const PROTOCOL_VERSION: &str = "2.3";

/// How many Enumerate/Pull pages a listing may take before it is refused as endless.
pub const MAX_ENUMERATION_PAGES: usize = 1000;

pub(crate) struct ClientInner {
    pub(crate) target: ConnectionTarget,
    pub(crate) options: SessionOptions,
    pub(crate) transport: Mutex<Box<dyn WsmanExchange>>,
    pub(crate) ids: Arc<dyn IdSource>,
    pub(crate) session_id: Uuid,
    pub(crate) user: Option<String>,
    /// The MaxEnvelopeSize requests announce: the options' value, lowered once a protocol 2.1 server shows up
    /// (PowerShell's `AdjustForProtocolVariations`).
    pub(crate) max_envelope_size: AtomicUsize,
}

/// One client identity. Cheap to clone; clones share the transport and the SessionId.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<ClientInner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.target.endpoint().to_string())
            .field("configuration", &self.inner.target.configuration_name())
            .field("session_id", &self.inner.session_id)
            .finish()
    }
}

impl Client {
    /// A client over HTTP(S) with the given authentication.
    pub fn new(target: ConnectionTarget, options: SessionOptions, auth: AuthenticationOptions) -> Result<Self, Error> {
        let mut auth = auth;
        let allow = auth.allows_unencrypted() || options.sends_unencrypted();
        auth.dangerous().allow_unencrypted(allow);
        let user = auth.credentials.as_ref().filter(|c| !c.user().is_empty()).map(|c| match c.domain() {
            "" => c.user().to_owned(),
            domain => format!("{domain}\\{}", c.user()),
        });
        let transport = HttpTransport::new(
            target.endpoint().clone(),
            options.transport_options()?,
            Box::new(WinrmAuthenticator::new(auth)),
        )?;
        let exchange = HttpExchange::new(transport)?;
        let mut client = Client::with_transport(target, options, Box::new(exchange), Arc::new(RandomIds));
        if let Some(inner) = Arc::get_mut(&mut client.inner) {
            inner.user = user;
        }
        Ok(client)
    }

    /// A client over any transport, with identifiers from `ids` (tests and trace replay pin them).
    pub fn with_transport(
        target: ConnectionTarget,
        options: SessionOptions,
        transport: Box<dyn WsmanExchange>,
        ids: Arc<dyn IdSource>,
    ) -> Self {
        let session_id = ids.next_id(IdPurpose::SessionId);
        Client {
            inner: Arc::new(ClientInner {
                max_envelope_size: AtomicUsize::new(options.max_envelope_size),
                target,
                options,
                transport: Mutex::new(transport),
                ids,
                session_id,
                user: None,
            }),
        }
    }

    /// The client's `wsmv:SessionId` (Reconnect is only possible from the SessionId that disconnected).
    pub fn session_id(&self) -> Uuid {
        self.inner.session_id
    }

    /// The connection target.
    pub fn target(&self) -> &ConnectionTarget {
        &self.inner.target
    }

    /// The session options.
    pub fn options(&self) -> &SessionOptions {
        &self.inner.options
    }

    /// The MaxEnvelopeSize this client's requests announce: [`SessionOptions::max_envelope_size`], or 153600 once
    /// a session found the server speaks protocol 2.1 or older (PowerShell 2.0), as PowerShell lowers it.
    pub fn max_envelope_size(&self) -> usize {
        self.inner.max_envelope_size.load(Ordering::Relaxed)
    }

    /// Lowers the announced MaxEnvelopeSize to `size` (never raises it).
    pub(crate) fn lower_max_envelope_size(&self, size: usize) {
        self.inner.max_envelope_size.fetch_min(size, Ordering::Relaxed);
    }

    /// The user name the client authenticates as, when known.
    pub fn user(&self) -> Option<&str> {
        self.inner.user.as_deref()
    }

    /// The RunspacePool configuration these options imply (envelope size, received object size limit).
    pub(crate) fn pool_config(&self) -> RunspacePoolConfig {
        let mut config = RunspacePoolConfig::with_max_envelope_size(self.max_envelope_size());
        config.limits = DefragmenterLimits::with_max_object_size(self.inner.options.maximum_received_object_size);
        config
    }

    pub(crate) fn next_id(&self, purpose: IdPurpose) -> Uuid {
        self.inner.ids.next_id(purpose)
    }

    /// Sends one request (`body` on `resource_uri`, the ShellId selector when given) and returns the response
    /// body; a fault becomes [`Error::Fault`].
    pub(crate) async fn call(
        &self,
        resource_uri: &str,
        shell_id: Option<Uuid>,
        options: &[(&str, &str, bool)],
        body: RequestBody,
        operation_timeout: Option<Duration>,
    ) -> Result<ResponseBody, Error> {
        self.call_with_header(resource_uri, shell_id, options, body, operation_timeout, None).await.map(|r| r.1)
    }

    /// [`Client::call`] with a `wsmv:SequenceId` header when `sequence_id` is given, returning the response header
    /// too.
    async fn call_with_header(
        &self,
        resource_uri: &str,
        shell_id: Option<Uuid>,
        options: &[(&str, &str, bool)],
        body: RequestBody,
        operation_timeout: Option<Duration>,
        sequence_id: Option<u64>,
    ) -> Result<(Header, ResponseBody), Error> {
        let message_id = format!("uuid:{}", id_text(self.next_id(IdPurpose::MessageId)));
        let mut transport = self.inner.transport.lock().await;
        let options_ = &self.inner.options;
        let timeout = operation_timeout.unwrap_or(options_.operation_timeout);
        let mut header = Header::request(body.action(), &transport.endpoint(), resource_uri, &message_id)
            .with_max_envelope_size(u32::try_from(self.max_envelope_size()).unwrap_or(u32::MAX))
            .with_locale(&options_.ui_culture, &options_.culture)
            .with_operation_timeout(XsDuration::from_millis(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)))
            .with_session_id(&format!("uuid:{}", id_text(self.inner.session_id)));
        for (name, value, must_comply) in options {
            header = header.with_option(name, value, *must_comply);
        }
        if let Some(shell_id) = shell_id {
            header = header.with_shell_id(&id_text(shell_id));
        }
        header.sequence_id = sequence_id;
        let envelope = Bytes::from(Request::new(header, body).to_bytes());
        let response = transport.exchange(envelope).await?;
        drop(transport);
        let parsed = parse_response(&response.body, &Limits::default())
            .map_err(|e| Error::MalformedResponse(format!("HTTP {}: {e}", response.status)))?;
        match parsed.body {
            ResponseBody::Fault(fault) => Err(Error::Fault(Box::new(fault))),
            _ if response.status != 200 => {
                Err(Error::MalformedResponse(format!("HTTP status {} without a fault", response.status)))
            }
            body => Ok((parsed.header, body)),
        }
    }

    /// One Receive on the pool (`command_id` `None`) or a command, numbered `sequence_id` (see
    /// [`crate::delivery`]); `Ok(None)` when the server's OperationTimeout passed without data.
    pub(crate) async fn receive(
        &self,
        shell_id: Uuid,
        command_id: Option<Uuid>,
        operation_timeout: Option<Duration>,
        sequence_id: u64,
    ) -> Result<Option<(Header, ReceiveResponse)>, Error> {
        let resource_uri = self.inner.target.resource_uri();
        let body = RequestBody::Receive(Receive { streams: "stdout".to_owned(), command_id: command_id.map(id_text) });
        let keep_alive = [(option::KEEPALIVE, "True", false)];
        match self
            .call_with_header(&resource_uri, Some(shell_id), &keep_alive, body, operation_timeout, Some(sequence_id))
            .await
        {
            Ok((header, ResponseBody::Receive(response))) => Ok(Some((header, response))),
            Ok(_) => Err(unexpected("ReceiveResponse")),
            Err(Error::Fault(fault)) if fault.kind() == FaultKind::TimedOut => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Get-PSSession -ComputerName: the sessions on the endpoint that belong to this user, with their commands.
    /// Every returned session is `Disconnected` relative to this client; Availability says whether it can be
    /// connected (`None`) or is connected to some client (`Busy`).
    ///
    /// A shell whose commands cannot be listed is left out (see [`Client::list_sessions`]).
    pub async fn get_sessions(&self, filter: &SessionFilter) -> Result<Vec<SessionInfo>, Error> {
        let listing = self.list_sessions(filter).await?;
        for skipped in &listing.skipped {
            tracing::warn!(session = %skipped.instance_id, reason = %skipped.reason, "session left out of the listing");
        }
        Ok(listing.sessions)
    }

    /// [`Client::get_sessions`], also saying which shells were left out. As PowerShell's
    /// `GetRemoteRunspacePools`, a shell whose command enumeration faults (it was deleted meanwhile, or the
    /// server refuses) is skipped rather than failing the whole listing; a transport failure still fails it.
    pub async fn list_sessions(&self, filter: &SessionFilter) -> Result<SessionListing, Error> {
        let shells = self.enumerate(resource::SHELL, None).await?;
        let mut sessions = Vec::new();
        let mut skipped = Vec::new();
        for item in &shells {
            let EnumItem::Shell(properties) = item else { continue };
            let shell = ShellInfo::from_properties(properties);
            let (Some(instance_id), Some(state), Some(resource_uri)) =
                (shell.shell_id, shell.state.clone(), shell.resource_uri.clone())
            else {
                // Without ShellId, State or ResourceUri a shell cannot be connected.
                continue;
            };
            // PowerShell also skips shells without a Name; those made by pypsrp, Ansible or scripts have none, and
            // their owner can still collect their output by InstanceId. They are listed with an empty Name, which
            // no `names` filter matches.
            let name = shell.name.clone().unwrap_or_default();
            let Some(configuration_name) = resource_uri.strip_prefix(RESOURCE_URI_PREFIX) else {
                continue;
            };
            let availability =
                if state.eq_ignore_ascii_case("Disconnected") { Availability::None } else { Availability::Busy };
            let mut info = SessionInfo {
                instance_id,
                name,
                computer_name: self.inner.target.computer_name_str().to_owned(),
                configuration_name: configuration_name.to_owned(),
                state: SessionState::Disconnected,
                availability,
                shell,
                commands: Vec::new(),
            };
            if !filter.matches(&info) {
                continue;
            }
            let commands = match self.enumerate(resource::SHELL_COMMAND, Some(instance_id)).await {
                Ok(commands) => commands,
                Err(Error::Fault(fault)) => {
                    skipped.push(SkippedSession { instance_id, name: info.name, reason: fault.to_string() });
                    continue;
                }
                Err(e) => return Err(e),
            };
            info.commands = commands
                .iter()
                .filter_map(|item| match item {
                    EnumItem::Command(command) => Some(CommandInfo {
                        command_id: Uuid::parse_str(&command.command_id).ok()?,
                        command_line: command.command_line.clone().unwrap_or_default(),
                        state: command.state.clone().unwrap_or_default(),
                    }),
                    EnumItem::Shell(_) => None,
                })
                .collect();
            sessions.push(info);
        }
        Ok(SessionListing { sessions, skipped })
    }

    /// An optimized Enumerate, followed by Pull until the end of the sequence.
    async fn enumerate(&self, resource_uri: &str, shell_filter: Option<Uuid>) -> Result<Vec<EnumItem>, Error> {
        let filter = shell_filter.map(id_text);
        let body = RequestBody::Enumerate(Enumerate::optimized(filter.as_deref()));
        let ResponseBody::Enumerate(first) = self.call(resource_uri, None, &[], body, None).await? else {
            return Err(unexpected("EnumerateResponse"));
        };
        let mut items = first.items;
        let mut context = if first.end_of_sequence { None } else { first.context };
        let mut pages = 1;
        while let Some(current) = context.take() {
            pages += 1;
            if pages > MAX_ENUMERATION_PAGES {
                return Err(Error::MalformedResponse(format!(
                    "the enumeration did not end after {MAX_ENUMERATION_PAGES} pages"
                )));
            }
            let body = RequestBody::Pull(Pull { context: current, max_elements: Some(32000) });
            let ResponseBody::Pull(page) = self.call(resource_uri, None, &[], body, None).await? else {
                return Err(unexpected("PullResponse"));
            };
            items.extend(page.items);
            context = if page.end_of_sequence { None } else { page.context };
        }
        Ok(items)
    }

    /// The endpoint's MaxEnvelopeSize in bytes, read from the WinRM configuration (`Get` on
    /// `…/wsman/1/config`, what pypsrp's `update_max_payload_size` does); `None` when the server does not say.
    pub async fn server_max_envelope_size(&self) -> Result<Option<usize>, Error> {
        match self.call(resource::CONFIG, None, &[], RequestBody::Get, None).await? {
            ResponseBody::Get(pssession_wsman::ops::GetResponse::Config(config)) => Ok(config.max_envelope_size()),
            _ => Err(unexpected("GetResponse with the WinRM configuration")),
        }
    }

    /// The current properties of one shell (`Get` on `…/windows/shell` with its ShellId, what pypsrp's
    /// `is_alive` asks); an unknown shell is [`Error::SessionNotFound`].
    pub async fn get_shell(&self, instance_id: Uuid) -> Result<ShellInfo, Error> {
        match self.call(resource::SHELL, Some(instance_id), &[], RequestBody::Get, None).await {
            Ok(ResponseBody::Get(pssession_wsman::ops::GetResponse::Shell(shell))) => {
                Ok(ShellInfo::from_properties(&shell))
            }
            Ok(_) => Err(unexpected("GetResponse with the shell")),
            Err(e) => Err(map_fault(e, instance_id, "")),
        }
    }

    /// Remove-PSSession by InstanceId: deletes the shell (allowed in any state).
    pub async fn remove(&self, instance_id: Uuid) -> Result<(), Error> {
        let resource_uri = self.inner.target.resource_uri();
        match self.call(&resource_uri, Some(instance_id), &[], RequestBody::Delete, None).await {
            Ok(_) => Ok(()),
            Err(e) => Err(map_fault(e, instance_id, "")),
        }
    }
}

/// What [`Client::list_sessions`] found.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SessionListing {
    /// The sessions, with their commands.
    pub sessions: Vec<SessionInfo>,
    /// Shells that matched but whose commands could not be listed.
    pub skipped: Vec<SkippedSession>,
}

/// A shell left out of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkippedSession {
    /// Its InstanceId (ShellId).
    pub instance_id: Uuid,
    /// Its Name (empty when it has none).
    pub name: String,
    /// Why: the server's fault.
    pub reason: String,
}
