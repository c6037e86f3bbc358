//! Errors of the client state machines.

use std::fmt;

use uuid::Uuid;

use crate::client::state::{PsInvocationState, RunspacePoolState};
use crate::defragment::DefragmentError;
use crate::fragmenter::FragmenterError;
use crate::message::{MessageError, MessageType};
use crate::session_key::SessionKeyError;

/// Why the client state machine refused an input or an operation.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientError {
    /// The operation is not allowed in the pool's current state.
    InvalidPoolState {
        /// What was attempted.
        operation: &'static str,
        /// The state the pool was in.
        state: RunspacePoolState,
    },
    /// The operation is not allowed in the pipeline's current state.
    InvalidPipelineState {
        /// The pipeline.
        pipeline_id: Uuid,
        /// What was attempted.
        operation: &'static str,
        /// The state the pipeline was in.
        state: PsInvocationState,
    },
    /// A pipeline with this id already exists in the pool.
    DuplicatePipeline(Uuid),
    /// No pipeline with this id exists in the pool.
    UnknownPipeline(Uuid),
    /// The received bytes broke the fragment framing (MS-PSRP 3.1.5.1.2: the pool must be closed).
    Defragment(DefragmentError),
    /// A reassembled object is not a valid PSRP message.
    Message(MessageError),
    /// A message was addressed to the server, or to another RunspacePool.
    Misaddressed {
        /// The message type.
        message_type: MessageType,
        /// Why it is misaddressed.
        reason: &'static str,
    },
    /// A message body could not be decoded.
    Body {
        /// The message type.
        message_type: MessageType,
        /// What was wrong.
        reason: String,
    },
    /// The server's protocol version is not one this client can speak.
    ProtocolVersionMismatch {
        /// The server's `protocolversion`.
        server: String,
        /// The server's `PSVersion`.
        ps_version: String,
    },
    /// A payload that must fit one envelope (creationXml's first messages, connectXml) does not.
    PayloadTooLarge {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        budget: usize,
    },
    /// The fragment size derived from the envelope size is unusable.
    Fragmenter(FragmenterError),
    /// A SecureString needs the session key, and the key exchange has not completed.
    SessionKeyRequired,
    /// The server sent ENCRYPTED_SESSION_KEY although this client sent no PUBLIC_KEY (or already has the key).
    UnexpectedSessionKey,
    /// A key blob, the session key or a SecureString was refused.
    SessionKey(SessionKeyError),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::InvalidPoolState { operation, state } => {
                write!(f, "cannot {operation}: the RunspacePool is {state}")
            }
            ClientError::InvalidPipelineState { pipeline_id, operation, state } => {
                write!(f, "cannot {operation}: pipeline {pipeline_id} is {state}")
            }
            ClientError::DuplicatePipeline(id) => write!(f, "a pipeline with id {id} already exists"),
            ClientError::UnknownPipeline(id) => write!(f, "no pipeline with id {id} exists in this RunspacePool"),
            ClientError::Defragment(e) => write!(f, "invalid fragment data from the server: {e}"),
            ClientError::Message(e) => write!(f, "invalid PSRP message from the server: {e}"),
            ClientError::Misaddressed { message_type, reason } => write!(f, "{message_type} message {reason}"),
            ClientError::Body { message_type, reason } => write!(f, "invalid {message_type} body: {reason}"),
            ClientError::ProtocolVersionMismatch { server, ps_version } => write!(
                f,
                "the server's PowerShell remoting protocol (protocolversion {server}, PSVersion {ps_version}) is \
                 not compatible with this client"
            ),
            ClientError::PayloadTooLarge { needed, budget } => {
                write!(f, "the negotiation data needs {needed} bytes but one envelope carries only {budget}")
            }
            ClientError::Fragmenter(e) => write!(f, "{e}"),
            ClientError::SessionKeyRequired => {
                f.write_str("a SecureString needs the session key: exchange keys with the server first")
            }
            ClientError::UnexpectedSessionKey => {
                f.write_str("the server sent ENCRYPTED_SESSION_KEY without a PUBLIC_KEY from this client")
            }
            ClientError::SessionKey(e) => write!(f, "session key: {e}"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Defragment(e) => Some(e),
            ClientError::Message(e) => Some(e),
            ClientError::Fragmenter(e) => Some(e),
            ClientError::SessionKey(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DefragmentError> for ClientError {
    fn from(e: DefragmentError) -> Self {
        ClientError::Defragment(e)
    }
}

impl From<MessageError> for ClientError {
    fn from(e: MessageError) -> Self {
        ClientError::Message(e)
    }
}

impl From<FragmenterError> for ClientError {
    fn from(e: FragmenterError) -> Self {
        ClientError::Fragmenter(e)
    }
}
