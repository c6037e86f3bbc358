//! What happens to shells, as a stream an embedder (or `pssession serve`) can watch: created, disconnected by
//! its client or because the client was lost, connected again, deleted.
//!
//! Events go out on a bounded broadcast channel ([`crate::Service::shell_events`]); a watcher that falls more
//! than [`EVENT_BACKLOG`] events behind misses the oldest (tokio's `RecvError::Lagged` says how many), so a slow
//! watcher never holds up the service.

use std::time::Duration;

use uuid::Uuid;

/// How many events a watcher may fall behind before it misses the oldest.
pub const EVENT_BACKLOG: usize = 1024;

/// One change of one shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellEvent {
    /// The shell (its InstanceId as PowerShell shows it).
    pub shell_id: Uuid,
    /// The shell's Name, when its client gave one.
    pub name: Option<String>,
    /// The owner, `DOMAIN\user`.
    pub owner: String,
    /// What happened.
    pub change: ShellChange,
}

/// What happened to a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShellChange {
    /// A client created it.
    Created,
    /// No client is connected any more; its commands go on under the shell's buffering mode and the idle timeout
    /// (`idle_timeout`) has started.
    Disconnected {
        /// Why.
        cause: DisconnectCause,
        /// How long the shell waits for a client before it is deleted.
        idle_timeout: Duration,
    },
    /// The client session that disconnected it came back (WS-Man Reconnect).
    Reconnected,
    /// A client, possibly another one, connected the disconnected shell (WS-Man Connect).
    Connected,
    /// The shell is gone.
    Deleted {
        /// Why.
        cause: DeleteCause,
    },
}

/// Why a shell became Disconnected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectCause {
    /// Its client sent Disconnect.
    ClientRequest,
    /// Its client sent nothing for the client keep-alive timeout
    /// ([`crate::ServiceConfig::client_keepalive_timeout`]): killed, or cut off by the network.
    ClientLost {
        /// How long the client had been silent.
        silent_for: Duration,
    },
}

/// Why a shell was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeleteCause {
    /// Its client sent Delete (Remove-PSSession, or closing a pool).
    ClientRequest,
    /// It stayed disconnected for its whole idle timeout.
    IdleTimeout,
}

impl std::fmt::Display for ShellEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = self.shell_id.hyphenated().to_string().to_uppercase();
        match &self.name {
            Some(name) if !name.is_empty() => write!(f, "shell {name} ({id}) of {}: ", self.owner)?,
            _ => write!(f, "shell {id} of {}: ", self.owner)?,
        }
        match &self.change {
            ShellChange::Created => write!(f, "created"),
            ShellChange::Disconnected { cause: DisconnectCause::ClientRequest, idle_timeout } => {
                write!(f, "disconnected by its client; deleted after {} s without a client", idle_timeout.as_secs())
            }
            ShellChange::Disconnected { cause: DisconnectCause::ClientLost { silent_for }, idle_timeout } => write!(
                f,
                "client lost (no request for {} s); disconnected, commands keep running, deleted after {} s \
                 without a client",
                silent_for.as_secs(),
                idle_timeout.as_secs()
            ),
            ShellChange::Reconnected => write!(f, "reconnected by the same client"),
            ShellChange::Connected => write!(f, "connected by a client"),
            ShellChange::Deleted { cause: DeleteCause::ClientRequest } => write!(f, "deleted by its client"),
            ShellChange::Deleted { cause: DeleteCause::IdleTimeout } => {
                write!(f, "deleted: idle timeout expired while disconnected")
            }
        }
    }
}
