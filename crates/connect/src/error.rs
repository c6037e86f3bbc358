//! Typed errors of the library, with PowerShell's messages for the WS-Man faults that matter to
//! Connect-PSSession.

use std::fmt;
use std::time::Duration;

use pssession_psrp::client::{ClientError, RemoteError};
use pssession_wsman::fault::FaultKind;
pub use pssession_wsman::fault::WsmanFault;
use pssession_wsman::transport::TransportError;
use uuid::Uuid;

/// Everything that can go wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// `-ComputerName`/`-ConnectionUri` is not usable.
    InvalidTarget(String),
    /// A session option is not usable.
    InvalidOption(String),
    /// The HTTP exchange failed.
    Transport(TransportError),
    /// The server answered with a fault this library has no more specific error for (see
    /// [`WsmanFault::kind`]).
    Fault(Box<WsmanFault>),
    /// The session is connected to another client (fault 0x803381CD, or Availability Busy).
    SessionBusy {
        /// The session's name.
        name: String,
    },
    /// The server does not know the session (fault 0x8033805B): it was removed or timed out.
    SessionNotFound {
        /// The session's InstanceId.
        instance_id: Uuid,
    },
    /// The server does not know the command (fault 0x8033805B on a command): it finished and was released, or it
    /// never ran in this session. The session itself is unaffected.
    CommandNotFound {
        /// The command's id (the pipeline's InstanceId).
        pipeline_id: Uuid,
    },
    /// The server holds the session disconnected (fault 0x803381C4): it was disconnected by this client, or the
    /// server disconnected it because the client stopped polling.
    SessionDisconnected {
        /// The session's name.
        name: String,
    },
    /// The session belongs to another client session (fault 0x803381C6).
    ClientSessionMismatch {
        /// The session's name.
        name: String,
    },
    /// The operation is not possible in the session's state (e.g. connecting a Broken session).
    InvalidSessionState {
        /// The session's name.
        name: String,
        /// What was attempted.
        operation: &'static str,
        /// The state.
        state: String,
    },
    /// `-IdleTimeoutSec` is outside 60 seconds .. the server's MaxIdleTimeout.
    InvalidIdleTimeout {
        /// What was asked for.
        requested: Duration,
        /// The server's maximum, when known.
        maximum: Option<Duration>,
    },
    /// The PSRP state machine refused data or an operation.
    Protocol(ClientError),
    /// The server's response is not the envelope the operation expects.
    MalformedResponse(String),
    /// The RunspacePool failed to open or broke.
    RunspacePool(String),
    /// A pipeline failed on the server.
    PipelineFailed(RemoteError),
    /// An operation did not finish in time.
    Timeout {
        /// What was waited for.
        operation: &'static str,
        /// The limit.
        limit: Duration,
    },
    /// No session matched.
    NoSuchSession(String),
    /// The network failed and resending did not get through (`attempts` tries). The session is Disconnected; the
    /// server keeps it, and, when it retains Receive responses (`pssession serve` does), its output too:
    /// [`crate::Session::reconnect`] resumes receiving where it stopped, losing and repeating nothing.
    ConnectionInterrupted {
        /// The session's name.
        name: String,
        /// Requests sent, the first included.
        attempts: u32,
        /// The last network error.
        source: TransportError,
    },
    /// A command sent more than `MaximumReceivedDataSizePerCommand`.
    ReceivedDataLimitExceeded {
        /// The command.
        pipeline_id: Uuid,
        /// The limit in bytes.
        limit: usize,
    },
}

impl Error {
    /// The authentication mechanism's own error, when authentication failed: `AuthError::Kerberos(NoTicket)`,
    /// `AuthError::LogonDenied`, … (found through the [`std::error::Error::source`] chain).
    pub fn auth_error(&self) -> Option<&pssession_auth::AuthError> {
        let mut cause = std::error::Error::source(self);
        while let Some(error) = cause {
            if let Some(auth) = error.downcast_ref::<pssession_auth::AuthError>() {
                return Some(auth);
            }
            cause = error.source();
        }
        None
    }

    /// The `FullyQualifiedErrorId` PowerShell gives the same failure, where it has one
    /// (`PSSessionConnectFailed` for a session connected to another client).
    pub fn fully_qualified_error_id(&self) -> Option<&'static str> {
        match self {
            Error::SessionBusy { .. } => Some("PSSessionConnectFailed"),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidTarget(e) => write!(f, "invalid connection target: {e}"),
            Error::InvalidOption(e) => write!(f, "invalid session option: {e}"),
            Error::Transport(e) => write!(f, "{e}"),
            Error::Fault(fault) => write!(f, "{fault}"),
            // PowerShell's RemotingErrorIdStrings.RunspaceCannotBeConnected, word for word.
            Error::SessionBusy { name } => write!(
                f,
                "Cannot connect PSSession \"{name}\", either because it is not in the Disconnected state, or it is \
                 not available for connection."
            ),
            Error::CommandNotFound { pipeline_id } => write!(
                f,
                "The command {pipeline_id} was not found on the server. It may have completed and been released, \
                 or it never ran in this session."
            ),
            Error::SessionNotFound { instance_id } => write!(
                f,
                "The session with InstanceId {instance_id} was not found on the server. It may have been removed \
                 or its idle timeout may have expired."
            ),
            Error::SessionDisconnected { name } => write!(
                f,
                "The session \"{name}\" is disconnected on the server; connect to it with Connect-PSSession first."
            ),
            Error::ClientSessionMismatch { name } => write!(
                f,
                "The session \"{name}\" belongs to another client session and cannot be reconnected from this one; \
                 connect to it instead."
            ),
            Error::InvalidSessionState { name, operation, state } => {
                write!(f, "Cannot {operation} PSSession \"{name}\" because it is in the {state} state.")
            }
            Error::InvalidIdleTimeout { requested, maximum } => {
                write!(
                    f,
                    "The IdleTimeout value {} seconds is not valid: it must be at least 60 seconds",
                    requested.as_secs()
                )?;
                match maximum {
                    Some(max) => write!(f, " and at most the server's MaxIdleTimeout of {} seconds.", max.as_secs()),
                    None => f.write_str("."),
                }
            }
            Error::Protocol(e) => write!(f, "{e}"),
            Error::MalformedResponse(e) => write!(f, "unexpected response from the server: {e}"),
            Error::RunspacePool(e) => write!(f, "the remote session failed: {e}"),
            Error::PipelineFailed(e) => write!(f, "{e}"),
            Error::Timeout { operation, limit } => {
                write!(f, "{operation} did not complete within {} seconds", limit.as_secs())
            }
            Error::NoSuchSession(what) => write!(f, "no session matches {what}"),
            Error::ConnectionInterrupted { name, attempts, source } => write!(
                f,
                "The network connection to session \"{name}\" was interrupted and {attempts} attempts to resume it \
                 failed ({source}). The session is Disconnected; connect to it again to continue receiving its \
                 output."
            ),
            Error::ReceivedDataLimitExceeded { pipeline_id, limit } => {
                write!(f, "command {pipeline_id} sent more than the MaximumReceivedDataSizePerCommand of {limit} bytes")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Transport(e) | Error::ConnectionInterrupted { source: e, .. } => Some(e),
            Error::Protocol(e) => Some(e),
            _ => None,
        }
    }
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        Error::Transport(e)
    }
}

impl From<ClientError> for Error {
    fn from(e: ClientError) -> Self {
        Error::Protocol(e)
    }
}

/// The error for a response of the wrong kind.
pub(crate) fn unexpected(expected: &str) -> Error {
    Error::MalformedResponse(format!("expected a {expected}"))
}

/// Turns the faults with a PowerShell meaning into their specific errors.
pub(crate) fn map_fault(error: Error, instance_id: Uuid, name: &str) -> Error {
    let Error::Fault(fault) = error else { return error };
    match fault.kind() {
        FaultKind::InvalidSelectors => Error::SessionNotFound { instance_id },
        FaultKind::ConnectedToDifferentClient => Error::SessionBusy { name: name.to_owned() },
        FaultKind::ShellDisconnected => Error::SessionDisconnected { name: name.to_owned() },
        FaultKind::ClientSessionIdMismatch => Error::ClientSessionMismatch { name: name.to_owned() },
        _ => Error::Fault(fault),
    }
}

/// Whether a fault says the shell is held by another client session (Reconnect falls back to Connect then).
pub(crate) fn held_elsewhere(fault: &WsmanFault) -> bool {
    matches!(fault.kind(), FaultKind::ConnectedToDifferentClient | FaultKind::ClientSessionIdMismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_error<T: std::error::Error + Send + Sync + 'static>() {}

    #[test]
    fn errors_are_thread_safe_and_read_like_powershell() {
        assert_error::<Error>();
        let busy = Error::SessionBusy { name: "ITTask".to_owned() }.to_string();
        assert_eq!(
            busy,
            "Cannot connect PSSession \"ITTask\", either because it is not in the Disconnected state, or it is not \
             available for connection."
        );
        let busy = Error::SessionBusy { name: "ITTask".to_owned() };
        assert_eq!(busy.fully_qualified_error_id(), Some("PSSessionConnectFailed"));
        assert_eq!(Error::SessionNotFound { instance_id: uuid::Uuid::nil() }.fully_qualified_error_id(), None);
        let idle =
            Error::InvalidIdleTimeout { requested: Duration::from_secs(30), maximum: Some(Duration::from_secs(7200)) };
        assert!(idle.to_string().contains("at least 60 seconds and at most the server's MaxIdleTimeout of 7200"));
        let fault = WsmanFault::invalid_selectors_shell("B6631D8E-65A0-49F2-9053-A1B156C95777", "host");
        assert!(Error::Fault(Box::new(fault)).to_string().contains("B6631D8E-65A0-49F2-9053-A1B156C95777"));
    }
}
