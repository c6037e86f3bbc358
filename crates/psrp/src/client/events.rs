//! What the client state machines report: [`ClientEvent`] for the pool, [`PipelineEvent`] for one pipeline.

use std::fmt;

use bytes::Bytes;
use uuid::Uuid;

use crate::client::capability::SessionCapability;
use crate::client::state::{PsInvocationState, RunspacePoolState};
use crate::clixml::{Deserializer, from_clixml};

/// One serialized object as received (UTF-8 CLIXML, BOM removed), kept as bytes so nothing is parsed that the
/// caller does not look at. [`Clixml::to_display_string`] renders it the way PowerShell's default formatting
/// shows simple values; [`Clixml::property`] reads one named property.
#[derive(Clone, PartialEq, Eq)]
pub struct Clixml(Bytes);

impl Clixml {
    /// Wraps CLIXML bytes, which must be UTF-8.
    pub fn new(bytes: Bytes) -> Result<Self, std::str::Utf8Error> {
        std::str::from_utf8(&bytes)?;
        Ok(Clixml(bytes))
    }

    /// The CLIXML text.
    pub fn as_str(&self) -> &str {
        // Checked in `new`; an invalid value cannot be built.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The CLIXML bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Deserializes the CLIXML into a typed value (with the default [`crate::clixml::DeserializeLimits`]).
    pub fn value(&self) -> Result<crate::clixml::PsValue, crate::clixml::ClixmlError> {
        crate::clixml::from_clixml(&self.0)
    }

    /// Deserializes the CLIXML with `de`, whose caches (member names, type-name lists, the shapes of flat objects)
    /// carry over from one object of a stream to the next: reading a pipeline's output through one deserializer
    /// is several times faster than through [`Clixml::value`].
    pub fn value_with(
        &self,
        de: &mut crate::clixml::Deserializer,
    ) -> Result<crate::clixml::PsValue, crate::clixml::ClixmlError> {
        de.deserialize(&self.0)
    }

    /// The text of the first property named `name` (`<… N="name">text</…>`), entity- and `_xHHHH_`-decoded.
    pub fn property(&self, name: &str) -> Option<String> {
        property_text(self.as_str(), name)
    }

    /// A one-line rendering: the value of a primitive (`<S>a</S>` → `a`), the `ToString` of an object, the message
    /// of an error/informational record, or the raw CLIXML as a last resort.
    pub fn to_display_string(&self) -> String {
        display_string(self.as_str(), &mut crate::clixml::Deserializer::default())
    }

    /// [`Clixml::to_display_string`] through a deserializer kept for the whole stream (see [`Clixml::value_with`]).
    pub fn to_display_string_with(&self, de: &mut crate::clixml::Deserializer) -> String {
        display_string(self.as_str(), de)
    }
}

impl fmt::Debug for Clixml {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Clixml").field(&self.as_str()).finish()
    }
}

impl fmt::Display for Clixml {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_display_string())
    }
}

/// The error a state message carried (`ExceptionAsErrorRecord`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteError {
    /// The exception's message.
    pub message: String,
    /// The error record's `FullyQualifiedErrorId`, when present.
    pub fully_qualified_error_id: Option<String>,
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.fully_qualified_error_id {
            Some(id) => write!(f, "{} ({id})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// A host method call from the server (RUNSPACEPOOL_HOST_CALL / PIPELINE_HOST_CALL, MS-PSRP 2.2.2.27).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCall {
    /// The call id (`ci`); -100 for calls that expect no answer.
    pub call_id: i64,
    /// The method identifier (`mi`, MS-PSRP 2.2.3.17).
    pub method_id: i32,
    /// The method's name (`mi`'s ToString, e.g. `WriteLine2`).
    pub method_name: String,
    /// The whole body.
    pub body: Clixml,
}

/// Something the server told the RunspacePool.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// SESSION_CAPABILITY: the server's versions (already checked for compatibility).
    SessionCapability(SessionCapability),
    /// RUNSPACEPOOL_INIT_DATA (after a Connect).
    RunspacePoolInitData {
        /// Minimum runspaces as the server reports them.
        min_runspaces: i32,
        /// Maximum runspaces as the server reports them.
        max_runspaces: i32,
    },
    /// APPLICATION_PRIVATE_DATA (the server's PSVersionTable and more).
    ApplicationPrivateData(Clixml),
    /// The pool's state changed.
    StateChanged {
        /// The new state.
        state: RunspacePoolState,
        /// The reason, for Broken/Closed with an error.
        error: Option<RemoteError>,
    },
    /// A host call on the pool's host.
    HostCall(HostCall),
    /// RUNSPACE_AVAILABILITY, the answer to SET_MIN/MAX or GET_AVAILABLE_RUNSPACES.
    RunspaceAvailability {
        /// `SetMinMaxRunspacesResponse`: a count or a Boolean (true = 1).
        response: i64,
        /// The call id it answers.
        call_id: i64,
    },
    /// USER_EVENT.
    UserEvent(Clixml),
    /// Something for a pipeline.
    Pipeline {
        /// Which pipeline.
        pipeline_id: Uuid,
        /// What happened.
        event: PipelineEvent,
    },
    /// PUBLIC_KEY_REQUEST: the server needs the session key (it has a SecureString to send); answer with
    /// [`crate::client::ClientRunspacePool::start_key_exchange`].
    PublicKeyRequested,
    /// ENCRYPTED_SESSION_KEY arrived; open it with [`crate::client::ClientRunspacePool::complete_key_exchange`].
    EncryptedSessionKey,
}

/// Something the server told one pipeline.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PipelineEvent {
    /// PIPELINE_OUTPUT: one output object.
    Output(Clixml),
    /// ERROR_RECORD.
    Error(Clixml),
    /// WARNING_RECORD.
    Warning(Clixml),
    /// VERBOSE_RECORD.
    Verbose(Clixml),
    /// DEBUG_RECORD.
    Debug(Clixml),
    /// INFORMATION_RECORD.
    Information(Clixml),
    /// PROGRESS_RECORD.
    Progress(Clixml),
    /// PIPELINE_HOST_CALL.
    HostCall(HostCall),
    /// PIPELINE_STATE.
    State {
        /// The new state.
        state: PsInvocationState,
        /// The reason for Failed (or Stopped).
        error: Option<RemoteError>,
    },
}

/// The text of property `name` of a serialized object (its `ToString` rendering).
pub fn property_text(xml: &str, name: &str) -> Option<String> {
    from_clixml(xml.as_bytes()).ok()?.property(name).map(ToString::to_string)
}

/// A one-line rendering of a serialized object; see [`Clixml::to_display_string`]. Records render as their
/// message; anything that is not valid CLIXML renders as its raw text.
pub fn display_string(xml: &str, de: &mut Deserializer) -> String {
    let Ok(value) = de.deserialize(xml.as_bytes()) else { return xml.trim().to_owned() };
    for property in ["InformationalRecord_Message", "MessageData", "ErrorDetails_Message"] {
        if let Some(text) = value.property(property).map(ToString::to_string).filter(|t| !t.is_empty()) {
            return text;
        }
    }
    value.to_string()
}
