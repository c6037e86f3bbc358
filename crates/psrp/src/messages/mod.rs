//! Typed bodies of PSRP messages (MS-PSRP 2.2.2), for both roles: each parses from the CLIXML a peer sent and
//! builds the CLIXML PowerShell would send.
//!
//! Every body implements [`MessageBody`]: [`MessageBody::to_value`] / [`MessageBody::from_value`] convert between
//! the typed struct and a [`PsValue`], and [`MessageBody::encode`] / [`MessageBody::decode`] add the CLIXML text
//! (with the BOM PowerShell writes; both forms are accepted).
//!
//! Bodies whose payload is an arbitrary object (PIPELINE_OUTPUT, PIPELINE_INPUT) have no struct: their body is
//! the [`PsValue`] itself.

use std::fmt;

use crate::clixml::{ClixmlError, PsObject, PsValue, from_clixml, to_message_body};
use crate::message::MessageType;

mod host;
mod pipeline;
mod pool;
mod records;

pub use host::{
    EncryptedSessionKey, GetCommandMetadata, HostCall, HostMethod, HostResponse, PublicKey, PublicKeyRequest, UserEvent,
};
pub use pipeline::{
    CommandParameter, CreatePipeline, PipelineResultTypes, PipelineStateMessage, PowerShellCommand, PowerShellPipeline,
    RemoteStreamOptions,
};
pub use pool::{
    ApartmentState, ApplicationPrivateData, Availability, ConnectRunspacePool, GetAvailableRunspaces, HostInfo,
    InitRunspacePool, PsThreadOptions, ResetRunspaceState, RunspaceAvailability, RunspacePoolInitData,
    RunspacePoolStateMessage, SessionCapability, SetMaxRunspaces, SetMinRunspaces,
};
pub use records::{ErrorCategory, ErrorRecord, InformationRecord, InformationalRecord, ProgressRecord};

/// Why a message body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyError {
    /// The body is not valid CLIXML.
    Clixml(ClixmlError),
    /// A property the message must carry is missing or has the wrong type.
    Property {
        /// The message.
        message: MessageType,
        /// The property.
        property: &'static str,
    },
    /// The body is not an object where the message needs one.
    NotAnObject(MessageType),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::Clixml(e) => write!(f, "invalid CLIXML body: {e}"),
            BodyError::Property { message, property } => {
                write!(f, "{message} body lacks a valid `{property}` property")
            }
            BodyError::NotAnObject(message) => write!(f, "{message} body is not an object"),
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BodyError::Clixml(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ClixmlError> for BodyError {
    fn from(e: ClixmlError) -> Self {
        BodyError::Clixml(e)
    }
}

/// A typed PSRP message body.
pub trait MessageBody: Sized {
    /// The message type this body belongs to.
    const MESSAGE_TYPE: MessageType;

    /// The body as a CLIXML value.
    fn to_value(&self) -> PsValue;

    /// Reads the body from a CLIXML value.
    fn from_value(value: &PsValue) -> Result<Self, BodyError>;

    /// The body's bytes as PowerShell sends them (UTF-8 BOM, then CLIXML).
    fn encode(&self) -> Vec<u8> {
        to_message_body(&self.to_value(), true)
    }

    /// Parses the body's bytes (with or without BOM).
    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        Self::from_value(&from_clixml(body)?)
    }
}

/// Reads properties of a message body object with errors naming the message and property.
pub(crate) struct Props<'a> {
    object: &'a PsObject,
    message: MessageType,
}

impl<'a> Props<'a> {
    pub(crate) fn of(value: &'a PsValue, message: MessageType) -> Result<Self, BodyError> {
        match value {
            PsValue::Object(object) => Ok(Props { object, message }),
            _ => Err(BodyError::NotAnObject(message)),
        }
    }

    pub(crate) fn missing(&self, property: &'static str) -> BodyError {
        BodyError::Property { message: self.message, property }
    }

    pub(crate) fn get(&self, property: &'static str) -> Option<&'a PsValue> {
        self.object.property(property)
    }

    pub(crate) fn value(&self, property: &'static str) -> Result<&'a PsValue, BodyError> {
        self.get(property).ok_or_else(|| self.missing(property))
    }

    pub(crate) fn i32(&self, property: &'static str) -> Result<i32, BodyError> {
        self.value(property)?.as_i32().ok_or_else(|| self.missing(property))
    }

    pub(crate) fn i64(&self, property: &'static str) -> Result<i64, BodyError> {
        self.value(property)?.as_i64().ok_or_else(|| self.missing(property))
    }

    pub(crate) fn bool(&self, property: &'static str) -> Result<bool, BodyError> {
        self.value(property)?.as_bool().ok_or_else(|| self.missing(property))
    }

    /// A string property; `$null` reads as `None`.
    pub(crate) fn opt_string(&self, property: &'static str) -> Result<Option<String>, BodyError> {
        match self.get(property) {
            None | Some(PsValue::Null) => Ok(None),
            Some(v) => v.as_str().map(|s| Some(s.to_owned())).ok_or_else(|| self.missing(property)),
        }
    }

    pub(crate) fn string(&self, property: &'static str) -> Result<String, BodyError> {
        self.opt_string(property)?.ok_or_else(|| self.missing(property))
    }
}

/// An enum value as PowerShell serializes it: type names ending in System.Enum, the name as ToString, the number.
pub fn enum_value(type_name: &str, name: &str, number: i32) -> PsValue {
    let mut object = PsObject::with_type_names([type_name, "System.Enum", "System.ValueType", "System.Object"]);
    object.to_string = Some(name.to_owned());
    object.base = Some(PsValue::I32(number));
    object.into()
}

/// A message-body object with these extended properties and no type names (the shape of most control messages).
pub fn body_object<'a>(properties: impl IntoIterator<Item = (&'a str, PsValue)>) -> PsValue {
    let mut object = PsObject::default();
    for (name, value) in properties {
        object = object.with_property(name, value);
    }
    object.into()
}

#[cfg(test)]
mod tests;
