//! The boundary between the WinRM layer (this crate's [`crate::service`]) and the content of a shell.
//!
//! WinRM hosts *plugins*: `Microsoft.PowerShell` is one, reached at the ResourceURI
//! `http://schemas.microsoft.com/powershell/Microsoft.PowerShell`. The WinRM layer owns everything WS-Management:
//! authentication, shell ids and states, the client session that owns a shell, disconnect/reconnect/connect,
//! output buffering, long-poll Receive, enumeration. A plugin owns what flows inside: it decodes the PSRP fragments
//! handed to it and writes whole PSRP fragments into an [`OutputSink`].
//!
//! Calls into a plugin are made from request handlers; they must not block for long (spawn a task for the work
//! and return). A returned [`WsmanFault`] is sent to the client as it is (HTTP 500); build plugin faults with the
//! `microsoft.powershell` provider (`WsmanFault::plugin_connect_failed`, …) and [`ShellInfo::machine`].

use std::sync::Arc;

pub use pssession_wsman::fault::WsmanFault;
pub use pssession_wsman::ops::SignalCode;
pub use pssession_wsman::shell::BufferMode;
pub use uuid::Uuid;

pub use crate::output::OutputSink;

/// What the WinRM layer knows about a shell when a plugin creates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellInfo {
    /// The ShellId (the client chooses it; PowerShell uses the runspace pool id).
    pub shell_id: Uuid,
    /// The `Name` attribute of the Create (PowerShell: `Runspace1` or `-Name`), if given.
    pub name: Option<String>,
    /// The authenticated user who owns the shell (`DOMAIN\user`, or `user` without a domain).
    pub owner: String,
    /// The ResourceURI of the Create (`http://schemas.microsoft.com/powershell/<name>`).
    pub resource_uri: String,
    /// The configuration name: the last segment of the ResourceURI (`Microsoft.PowerShell`).
    pub configuration_name: String,
    /// The envelope size negotiated at Create: min(client's MaxEnvelopeSize, the server's limit), in bytes.
    pub max_envelope_size: usize,
    /// The largest PSRP fragment (header included) that fits one ReceiveResponse of this shell; the plugin must
    /// fragment its output to at most this size.
    pub max_fragment_size: usize,
    /// Whether ReceiveResponse streams are compressed. Always `false`: this server answers
    /// `CompressionMode NoCompression` whatever the client asks.
    pub compression: bool,
    /// The `protocolversion` option of the Create (`2.3`), which the PowerShell plugin checks.
    pub protocol_version: Option<String>,
    /// The WS-Man SessionId of the client that created the shell.
    pub client_session_id: Option<String>,
    /// The buffering mode the shell starts with.
    pub buffer_mode: BufferMode,
    /// The machine name to put in faults (`f:WSManFault/@Machine`).
    pub machine: String,
}

/// A shell provider registered under a ResourceURI name (`Microsoft.PowerShell`).
pub trait Plugin: Send + Sync + 'static {
    /// A Create for this plugin's ResourceURI. `creation_xml` is the decoded bytes of the `creationXml` element
    /// (PSRP fragments of SESSION_CAPABILITY and INIT_RUNSPACEPOOL; empty when the Create had none). `output` is
    /// the pool's output handle. A fault refuses the Create and no shell is registered.
    fn create_shell(
        &self,
        shell: &ShellInfo,
        creation_xml: &[u8],
        output: OutputSink,
    ) -> Result<Arc<dyn PluginShell>, WsmanFault>;
}

/// One shell of a plugin.
pub trait PluginShell: Send + Sync {
    /// Send: the decoded `data` of stream `stream` (`stdin` or `pr`) for the pool (`command == None`) or for the
    /// pipeline `command`.
    fn send(&self, command: Option<Uuid>, stream: &str, data: &[u8]) -> Result<(), WsmanFault>;

    /// Command: a new pipeline with id `command_id`; `arguments` holds the decoded bytes of the `rsp:Arguments`
    /// elements (the first CREATE_PIPELINE fragments). Its output goes to `output` (`target() == Some(command_id)`);
    /// call [`OutputSink::finish`] when it ends so Receive reports `CommandState/Done`.
    fn command(&self, command_id: Uuid, arguments: &[u8], output: OutputSink) -> Result<(), WsmanFault>;

    /// Signal: a stop code ([`SignalCode::is_stop`]: PowerShell's `crtl_c`, `ctrl_c`) stops the pipeline; any other
    /// code (Terminate) ends it. After a non-stop signal on a command the WinRM layer forgets the command (later
    /// operations on its id fault InvalidSelectors) and closes its output.
    fn signal(&self, command: Option<Uuid>, code: SignalCode) -> Result<(), WsmanFault>;

    /// Connect (a new client session takes over the pool): `connect_xml` is the decoded `connectXml` (PSRP
    /// SESSION_CAPABILITY + CONNECT_RUNSPACEPOOL fragments); the returned bytes become `connectResponseXml`
    /// (SESSION_CAPABILITY + RUNSPACEPOOL_INIT_DATA fragments). A fault leaves the shell disconnected.
    fn connect(&self, connect_xml: &[u8]) -> Result<Vec<u8>, WsmanFault>;

    /// The shell is being deleted (Delete, idle timeout, server shutdown): stop everything. Output written after
    /// this is discarded.
    fn close(&self);
}
