//! Host calls and responses (MS-PSRP 2.2.2.15–2.2.2.18, method identifiers of 2.2.3.17), USER_EVENT (2.2.2.12),
//! GET_COMMAND_METADATA (2.2.2.14) and the session-key exchange SecureString needs (2.2.2.3–2.2.2.5).

use std::sync::Arc;

use crate::clixml::{Container, PsDateTime, PsObject, PsValue};
use crate::message::MessageType;
use crate::messages::records::ErrorRecord;
use crate::messages::{BodyError, MessageBody, Props, body_object, enum_value};

/// `RemoteHostMethodId` names, indexed by identifier - 1 (MS-PSRP 2.2.3.17).
const HOST_METHODS: [&str; 56] = [
    "GetName",
    "GetVersion",
    "GetInstanceId",
    "GetCurrentCulture",
    "GetCurrentUICulture",
    "SetShouldExit",
    "EnterNestedPrompt",
    "ExitNestedPrompt",
    "NotifyBeginApplication",
    "NotifyEndApplication",
    "ReadLine",
    "ReadLineAsSecureString",
    "Write1",
    "Write2",
    "WriteLine1",
    "WriteLine2",
    "WriteLine3",
    "WriteErrorLine",
    "WriteDebugLine",
    "WriteProgress",
    "WriteVerboseLine",
    "WriteWarningLine",
    "Prompt",
    "PromptForCredential1",
    "PromptForCredential2",
    "PromptForChoice",
    "GetForegroundColor",
    "SetForegroundColor",
    "GetBackgroundColor",
    "SetBackgroundColor",
    "GetCursorPosition",
    "SetCursorPosition",
    "GetWindowPosition",
    "SetWindowPosition",
    "GetCursorSize",
    "SetCursorSize",
    "GetBufferSize",
    "SetBufferSize",
    "GetWindowSize",
    "SetWindowSize",
    "GetWindowTitle",
    "SetWindowTitle",
    "GetMaxWindowSize",
    "GetMaxPhysicalWindowSize",
    "GetKeyAvailable",
    "ReadKey",
    "FlushInputBuffer",
    "SetBufferContents1",
    "SetBufferContents2",
    "GetBufferContents",
    "ScrollBufferContents",
    "PushRunspace",
    "PopRunspace",
    "GetIsRunspacePushed",
    "GetRunspace",
    "PromptForChoiceMultipleSelection",
];

/// A host method (MS-PSRP 2.2.3.17) by identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HostMethod(pub i32);

impl HostMethod {
    /// `ReadLine` (11).
    pub const READ_LINE: Self = HostMethod(11);
    /// `WriteLine2` (16): a line of text.
    pub const WRITE_LINE2: Self = HostMethod(16);
    /// `SetShouldExit` (6).
    pub const SET_SHOULD_EXIT: Self = HostMethod(6);

    /// The method's name, e.g. `ReadLine`; `None` for an identifier outside the protocol.
    pub fn name(self) -> Option<&'static str> {
        usize::try_from(self.0 - 1).ok().and_then(|i| HOST_METHODS.get(i)).copied()
    }

    /// The method with this name.
    pub fn from_name(name: &str) -> Option<Self> {
        HOST_METHODS.iter().position(|n| *n == name).map(|i| HostMethod(i as i32 + 1))
    }

    /// Whether the caller waits for a host response (the methods that return something or prompt).
    pub fn expects_response(self) -> bool {
        self.name().is_some_and(|n| {
            n.starts_with("Get") || n.starts_with("Read") || n.starts_with("Prompt") || n == "GetRunspace"
        })
    }

    fn to_value(self) -> PsValue {
        enum_value("System.Management.Automation.Remoting.RemoteHostMethodId", self.name().unwrap_or(""), self.0)
    }
}

const ARRAY_LIST: [&str; 2] = ["System.Collections.ArrayList", "System.Object"];

/// RUNSPACEPOOL_HOST_CALL / PIPELINE_HOST_CALL: the server asks the client's host to do something.
#[derive(Debug, Clone, PartialEq)]
pub struct HostCall {
    /// `ci`: the call id the response echoes (negative for calls that expect none).
    pub call_id: i64,
    /// `mi`: the method.
    pub method: HostMethod,
    /// `mp`: the parameters.
    pub parameters: Vec<PsValue>,
}

impl HostCall {
    /// The call's value (the same shape for the pool and the pipeline variants).
    pub fn to_value(&self) -> PsValue {
        let mut parameters = PsObject::with_type_names(ARRAY_LIST);
        parameters.container = Some(Container::List(self.parameters.clone()));
        body_object([("ci", PsValue::I64(self.call_id)), ("mi", self.method.to_value()), ("mp", parameters.into())])
    }

    /// Reads a host call of either variant.
    pub fn from_value(message: MessageType, value: &PsValue) -> Result<Self, BodyError> {
        let p = Props::of(value, message)?;
        Ok(HostCall {
            call_id: p.i64("ci")?,
            method: HostMethod(p.i32("mi")?),
            parameters: p
                .get("mp")
                .and_then(PsValue::as_object)
                .and_then(PsObject::items)
                .map(<[PsValue]>::to_vec)
                .unwrap_or_default(),
        })
    }
}

/// RUNSPACEPOOL_HOST_RESPONSE / PIPELINE_HOST_RESPONSE: the client's answer to a [`HostCall`].
#[derive(Debug, Clone, PartialEq)]
pub struct HostResponse {
    /// `ci`: the call id of the call.
    pub call_id: i64,
    /// `mi`: the method.
    pub method: HostMethod,
    /// `mr`: the return value, for methods that return one.
    pub result: Option<PsValue>,
    /// `me`: the error the host raised instead.
    pub error: Option<ErrorRecord>,
}

impl HostResponse {
    /// The response's value.
    pub fn to_value(&self) -> PsValue {
        let mut properties = Vec::new();
        if let Some(result) = &self.result {
            properties.push(("mr", result.clone()));
        }
        if let Some(error) = &self.error {
            properties.push(("me", error.to_value()));
        }
        properties.push(("ci", PsValue::I64(self.call_id)));
        properties.push(("mi", self.method.to_value()));
        body_object(properties)
    }

    /// Reads a host response of either variant.
    pub fn from_value(message: MessageType, value: &PsValue) -> Result<Self, BodyError> {
        let p = Props::of(value, message)?;
        Ok(HostResponse {
            call_id: p.i64("ci")?,
            method: HostMethod(p.i32("mi")?),
            result: p.get("mr").cloned(),
            error: match p.get("me") {
                None | Some(PsValue::Null) => None,
                Some(v) => Some(ErrorRecord::from_value(v)?),
            },
        })
    }
}

/// USER_EVENT (MS-PSRP 2.2.2.12): an event the server forwards to the client.
#[derive(Debug, Clone, PartialEq)]
pub struct UserEvent {
    /// `PSEventArgs.EventIdentifier`.
    pub event_identifier: i32,
    /// `PSEventArgs.SourceIdentifier`.
    pub source_identifier: String,
    /// `PSEventArgs.TimeGenerated`.
    pub time_generated: PsDateTime,
    /// `PSEventArgs.Sender`.
    pub sender: PsValue,
    /// `PSEventArgs.SourceArgs`.
    pub source_args: PsValue,
    /// `PSEventArgs.MessageData`.
    pub message_data: PsValue,
    /// `PSEventArgs.ComputerName`.
    pub computer_name: Option<String>,
    /// `PSEventArgs.RunspaceId`.
    pub runspace_id: uuid::Uuid,
}

impl MessageBody for UserEvent {
    const MESSAGE_TYPE: MessageType = MessageType::UserEvent;

    fn to_value(&self) -> PsValue {
        body_object([
            ("PSEventArgs.EventIdentifier", PsValue::I32(self.event_identifier)),
            ("PSEventArgs.SourceIdentifier", PsValue::String(self.source_identifier.clone())),
            ("PSEventArgs.TimeGenerated", PsValue::DateTime(self.time_generated)),
            ("PSEventArgs.Sender", self.sender.clone()),
            ("PSEventArgs.SourceArgs", self.source_args.clone()),
            ("PSEventArgs.MessageData", self.message_data.clone()),
            ("PSEventArgs.ComputerName", self.computer_name.clone().map_or(PsValue::Null, PsValue::String)),
            ("PSEventArgs.RunspaceId", PsValue::Guid(self.runspace_id)),
        ])
    }

    fn from_value(value: &PsValue) -> Result<Self, BodyError> {
        let p = Props::of(value, Self::MESSAGE_TYPE)?;
        let other = |name: &'static str| p.get(name).cloned().unwrap_or(PsValue::Null);
        Ok(UserEvent {
            event_identifier: p.i32("PSEventArgs.EventIdentifier")?,
            source_identifier: p.opt_string("PSEventArgs.SourceIdentifier")?.unwrap_or_default(),
            time_generated: match p.get("PSEventArgs.TimeGenerated") {
                Some(PsValue::DateTime(dt)) => *dt,
                _ => return Err(p.missing("PSEventArgs.TimeGenerated")),
            },
            sender: other("PSEventArgs.Sender"),
            source_args: other("PSEventArgs.SourceArgs"),
            message_data: other("PSEventArgs.MessageData"),
            computer_name: p.opt_string("PSEventArgs.ComputerName")?,
            runspace_id: p
                .get("PSEventArgs.RunspaceId")
                .and_then(PsValue::as_guid)
                .ok_or_else(|| p.missing("PSEventArgs.RunspaceId"))?,
        })
    }
}

/// GET_COMMAND_METADATA (MS-PSRP 2.2.2.14): `Get-Command` on the server, for implicit remoting.
#[derive(Debug, Clone, PartialEq)]
pub struct GetCommandMetadata {
    /// `Name`: command-name patterns.
    pub names: Vec<String>,
    /// `CommandType`: a `CommandTypes` flag set (e.g. 0x1FF for all).
    pub command_type: i32,
    /// `Namespace`: module-name patterns, if any.
    pub namespace: Option<Vec<String>>,
    /// `ArgumentList`, if any.
    pub argument_list: Option<Vec<PsValue>>,
}

fn string_array(items: &[String]) -> PsValue {
    let names: Arc<[String]> = ["System.String[]", "System.Array", "System.Object"].map(String::from).into();
    PsObject {
        type_names: Some(names),
        container: Some(Container::List(items.iter().map(|s| PsValue::String(s.clone())).collect())),
        ..PsObject::default()
    }
    .into()
}

fn strings_of(value: Option<&PsValue>) -> Option<Vec<String>> {
    let items = value?.as_object()?.items()?;
    Some(items.iter().filter_map(PsValue::as_str).map(str::to_owned).collect())
}

impl MessageBody for GetCommandMetadata {
    const MESSAGE_TYPE: MessageType = MessageType::GetCommandMetadata;

    fn to_value(&self) -> PsValue {
        let objects: Arc<[String]> = ["System.Object[]", "System.Array", "System.Object"].map(String::from).into();
        body_object([
            ("Name", string_array(&self.names)),
            ("CommandType", enum_value("System.Management.Automation.CommandTypes", "", self.command_type)),
            ("Namespace", self.namespace.as_deref().map_or(PsValue::Null, string_array)),
            (
                "ArgumentList",
                self.argument_list.as_ref().map_or(PsValue::Null, |args| {
                    PsObject {
                        type_names: Some(objects.clone()),
                        container: Some(Container::List(args.clone())),
                        ..PsObject::default()
                    }
                    .into()
                }),
            ),
        ])
    }

    fn from_value(value: &PsValue) -> Result<Self, BodyError> {
        let p = Props::of(value, Self::MESSAGE_TYPE)?;
        Ok(GetCommandMetadata {
            names: strings_of(p.get("Name")).ok_or_else(|| p.missing("Name"))?,
            command_type: p.i32("CommandType")?,
            namespace: strings_of(p.get("Namespace")),
            argument_list: p
                .get("ArgumentList")
                .and_then(PsValue::as_object)
                .and_then(PsObject::items)
                .map(<[PsValue]>::to_vec),
        })
    }
}

/// PUBLIC_KEY (MS-PSRP 2.2.2.3): the client's RSA public key, base64 of its CAPI blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// `PublicKey`, base64 text as sent.
    pub public_key: String,
}

impl MessageBody for PublicKey {
    const MESSAGE_TYPE: MessageType = MessageType::PublicKey;

    fn to_value(&self) -> PsValue {
        body_object([("PublicKey", PsValue::String(self.public_key.clone()))])
    }

    fn from_value(value: &PsValue) -> Result<Self, BodyError> {
        Ok(PublicKey { public_key: Props::of(value, Self::MESSAGE_TYPE)?.string("PublicKey")? })
    }
}

/// ENCRYPTED_SESSION_KEY (MS-PSRP 2.2.2.4): the session key encrypted with the client's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedSessionKey {
    /// `EncryptedSessionKey`, base64 text as sent.
    pub encrypted_session_key: String,
}

impl MessageBody for EncryptedSessionKey {
    const MESSAGE_TYPE: MessageType = MessageType::EncryptedSessionKey;

    fn to_value(&self) -> PsValue {
        body_object([("EncryptedSessionKey", PsValue::String(self.encrypted_session_key.clone()))])
    }

    fn from_value(value: &PsValue) -> Result<Self, BodyError> {
        Ok(EncryptedSessionKey {
            encrypted_session_key: Props::of(value, Self::MESSAGE_TYPE)?.string("EncryptedSessionKey")?,
        })
    }
}

/// PUBLIC_KEY_REQUEST (MS-PSRP 2.2.2.5): the server asks for the client's public key; the body is an empty
/// string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PublicKeyRequest;

impl MessageBody for PublicKeyRequest {
    const MESSAGE_TYPE: MessageType = MessageType::PublicKeyRequest;

    fn to_value(&self) -> PsValue {
        PsValue::String(String::new())
    }

    fn from_value(value: &PsValue) -> Result<Self, BodyError> {
        match value {
            PsValue::String(_) | PsValue::Null => Ok(PublicKeyRequest),
            _ => Err(BodyError::NotAnObject(Self::MESSAGE_TYPE)),
        }
    }
}
