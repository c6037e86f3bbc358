//! The bodies the client writes (SESSION_CAPABILITY, INIT_RUNSPACEPOOL, CONNECT_RUNSPACEPOOL, CREATE_PIPELINE) and
//! what it reads from the server's control messages, on top of the typed bodies of [`crate::messages`]. Output
//! objects are handed out as [`Clixml`] and deserialized on demand ([`Clixml::value`]).

use bytes::Bytes;

pub use crate::client::capability::{ProtocolVersion, SessionCapability};
use crate::client::error::ClientError;
use crate::client::events::{Clixml, HostCall, RemoteError};
use crate::client::pipeline::{ArgumentValue, CommandSpec, PipelineSpec};
use crate::client::state::{PsInvocationState, RunspacePoolState};
use crate::clixml::{PsValue, PsVersion, from_clixml};
use crate::message::{MessageType, UTF8_BOM};
use crate::messages::{self, BodyError, MessageBody};
use crate::session_key::SessionKey;

fn body_error(message_type: MessageType) -> impl Fn(BodyError) -> ClientError {
    move |e| ClientError::Body { message_type, reason: e.to_string() }
}

/// The client's SESSION_CAPABILITY body, as PowerShell writes it (BOM first).
pub fn client_session_capability(version: ProtocolVersion) -> Bytes {
    let capability = messages::SessionCapability {
        protocol_version: PsVersion::new(version.major.into(), version.minor.into()),
        ..messages::SessionCapability::current()
    };
    Bytes::from(capability.encode())
}

/// INIT_RUNSPACEPOOL (MS-PSRP 2.2.2.2) with no host and no application arguments.
pub fn init_runspace_pool(min_runspaces: i32, max_runspaces: i32) -> Bytes {
    Bytes::from(messages::InitRunspacePool::new(min_runspaces, max_runspaces).encode())
}

/// CONNECT_RUNSPACEPOOL (MS-PSRP 2.2.2.29): the pool's min/max runspaces as PowerShell sends them, or the empty
/// string ("connect to the pool as it is") when either is negative (unknown).
pub fn connect_runspace_pool(min_runspaces: i32, max_runspaces: i32) -> Bytes {
    let runspaces = (min_runspaces >= 0 && max_runspaces >= 0).then_some((min_runspaces, max_runspaces));
    Bytes::from(messages::ConnectRunspacePool { runspaces }.encode())
}

/// The CREATE_PIPELINE body of `spec`. SecureString arguments are encrypted with `session_key`; without one they
/// are refused ([`ClientError::SessionKeyRequired`]). Several statements are laid out as PowerShell does: `Cmds`
/// holds the first, `ExtraCmds` every statement including the first.
pub fn create_pipeline(
    spec: &PipelineSpec,
    _max_runspaces: i32,
    session_key: Option<&SessionKey>,
) -> Result<Bytes, ClientError> {
    let empty = spec.commands.is_empty() || spec.statements.iter().any(Vec::is_empty);
    if empty {
        return Err(ClientError::Body {
            message_type: MessageType::CreatePipeline,
            reason: "a pipeline needs at least one command in each statement".to_owned(),
        });
    }
    let statement = |commands: &[CommandSpec]| -> Result<Vec<messages::PowerShellCommand>, ClientError> {
        commands
            .iter()
            .map(|command| {
                let mut typed = if command.is_script {
                    messages::PowerShellCommand::script(&command.command)
                } else {
                    messages::PowerShellCommand::command(&command.command)
                };
                for (name, value) in &command.parameters {
                    let value = match value {
                        ArgumentValue::Value(value) => value.clone(),
                        ArgumentValue::SecureString(text) => {
                            let key = session_key.ok_or(ClientError::SessionKeyRequired)?;
                            PsValue::SecureString(key.encrypt(text))
                        }
                    };
                    typed = typed.with_arg(name.as_deref(), value);
                }
                Ok(typed)
            })
            .collect()
    };
    let first = statement(&spec.commands)?;
    let mut create = messages::CreatePipeline::new(first.clone());
    if !spec.statements.is_empty() {
        let mut extra = vec![first];
        for more in &spec.statements {
            extra.push(statement(more)?);
        }
        create.pipeline.extra_commands = extra;
    }
    create.no_input = spec.no_input;
    create.add_to_history = spec.add_to_history;
    Ok(Bytes::from(create.encode()))
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

fn version(v: PsVersion) -> ProtocolVersion {
    ProtocolVersion {
        major: u16::try_from(v.major).unwrap_or(u16::MAX),
        minor: u16::try_from(v.minor).unwrap_or(u16::MAX),
    }
}

/// Reads the server's SESSION_CAPABILITY.
pub fn parse_session_capability(body: &[u8]) -> Result<SessionCapability, ClientError> {
    let t = MessageType::SessionCapability;
    let capability = messages::SessionCapability::decode(body).map_err(body_error(t))?;
    Ok(SessionCapability {
        protocol_version: version(capability.protocol_version),
        ps_version: version(capability.ps_version),
        serialization_version: capability.serialization_version.to_string(),
    })
}

/// Reads RUNSPACEPOOL_INIT_DATA's `(MinRunspaces, MaxRunspaces)`.
pub fn parse_runspace_pool_init_data(body: &[u8]) -> Result<(i32, i32), ClientError> {
    let data = messages::RunspacePoolInitData::decode(body).map_err(body_error(MessageType::RunspacePoolInitData))?;
    Ok((data.min_runspaces, data.max_runspaces))
}

/// The error a state message carries, with PowerShell's `ErrorDetails` message when the server set one.
fn remote_error(value: &PsValue, record: Option<messages::ErrorRecord>) -> Option<RemoteError> {
    let record = record?;
    let details = value
        .property("ExceptionAsErrorRecord")
        .and_then(|r| r.property("ErrorDetails_Message"))
        .and_then(PsValue::as_str)
        .filter(|m| !m.is_empty())
        .map(str::to_owned);
    Some(RemoteError {
        message: details.unwrap_or(record.message),
        fully_qualified_error_id: Some(record.fully_qualified_error_id).filter(|id| !id.is_empty()),
    })
}

fn value_of(message_type: MessageType, body: &[u8]) -> Result<PsValue, ClientError> {
    from_clixml(body).map_err(|e| ClientError::Body { message_type, reason: e.to_string() })
}

/// Reads RUNSPACEPOOL_STATE.
pub fn parse_runspace_pool_state(body: &[u8]) -> Result<(RunspacePoolState, Option<RemoteError>), ClientError> {
    let t = MessageType::RunspacePoolState;
    let value = value_of(t, body)?;
    let message = messages::RunspacePoolStateMessage::from_value(&value).map_err(body_error(t))?;
    let state = RunspacePoolState::from_value(message.state)
        .ok_or_else(|| ClientError::Body { message_type: t, reason: format!("unknown state {}", message.state) })?;
    Ok((state, remote_error(&value, message.error)))
}

/// Reads PIPELINE_STATE.
pub fn parse_pipeline_state(body: &[u8]) -> Result<(PsInvocationState, Option<RemoteError>), ClientError> {
    let t = MessageType::PipelineState;
    let value = value_of(t, body)?;
    let message = messages::PipelineStateMessage::from_value(&value).map_err(body_error(t))?;
    let state = PsInvocationState::from_value(message.state)
        .ok_or_else(|| ClientError::Body { message_type: t, reason: format!("unknown state {}", message.state) })?;
    Ok((state, remote_error(&value, message.error)))
}

/// Reads RUNSPACE_AVAILABILITY's `(SetMinMaxRunspacesResponse, ci)`; a Boolean response reads as 1/0.
pub fn parse_runspace_availability(body: &[u8]) -> Result<(i64, i64), ClientError> {
    let answer = messages::RunspaceAvailability::decode(body).map_err(body_error(MessageType::RunspaceAvailability))?;
    let response = match answer.response {
        messages::Availability::Count(n) => n,
        messages::Availability::Resized(ok) => i64::from(ok),
    };
    Ok((response, answer.call_id))
}

/// Reads a host call's id and method.
pub fn parse_host_call(message_type: MessageType, body: &[u8]) -> Result<HostCall, ClientError> {
    let call = messages::HostCall::from_value(message_type, &value_of(message_type, body)?)
        .map_err(body_error(message_type))?;
    Ok(HostCall {
        call_id: call.call_id,
        method_id: call.method.0,
        method_name: call.method.name().unwrap_or("").to_owned(),
        body: clixml(message_type, body)?,
    })
}

/// Wraps a body as [`Clixml`] (BOM removed, UTF-8 checked).
pub fn parse_value(message_type: MessageType, body: &[u8]) -> Result<Clixml, ClientError> {
    clixml(message_type, body)
}

/// Wraps APPLICATION_PRIVATE_DATA.
pub fn parse_application_private_data(body: &[u8]) -> Result<Clixml, ClientError> {
    clixml(MessageType::ApplicationPrivateData, body)
}

fn clixml(message_type: MessageType, body: &[u8]) -> Result<Clixml, ClientError> {
    let body = body.strip_prefix(&UTF8_BOM[..]).unwrap_or(body);
    Clixml::new(Bytes::copy_from_slice(body))
        .map_err(|e| ClientError::Body { message_type, reason: format!("not UTF-8: {e}") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::events::{display_string, property_text};
    use crate::clixml::Deserializer;

    #[test]
    fn writes_what_powershell_writes() {
        let capability = client_session_capability(ProtocolVersion::CLIENT);
        assert!(capability.starts_with(&UTF8_BOM[..]), "PowerShell writes a BOM before every body");
        assert_eq!(
            &capability[UTF8_BOM.len()..],
            b"<Obj RefId=\"0\"><MS><Version N=\"protocolversion\">2.3</Version><Version N=\"PSVersion\">2.0</Version><Version N=\"SerializationVersion\">1.1.0.1</Version></MS></Obj>"
        );
        assert_eq!(&connect_runspace_pool(-1, 1)[UTF8_BOM.len()..], b"<S></S>");
        let create = create_pipeline(
            &PipelineSpec::commands(vec![crate::client::CommandSpec::command("Get-Item").parameter("Path", "C:\\")]),
            1,
            None,
        )
        .expect("body");
        let typed = messages::CreatePipeline::decode(&create).expect("typed");
        assert_eq!(typed.pipeline.commands[0].cmd, "Get-Item");
        assert_eq!(typed.pipeline.commands[0].args[0].value, PsValue::String("C:\\".into()));
        assert!(create_pipeline(&PipelineSpec::commands(Vec::new()), 1, None).is_err());
    }

    #[test]
    fn reads_server_capability_and_states() {
        let cap = parse_session_capability(
            b"\xEF\xBB\xBF<Obj RefId=\"0\"><MS><Version N=\"protocolversion\">2.3</Version><Version N=\"PSVersion\">2.0</Version><Version N=\"SerializationVersion\">1.1.0.1</Version></MS></Obj>",
        )
        .expect("capability");
        assert_eq!(cap.protocol_version, ProtocolVersion { major: 2, minor: 3 });
        assert!(cap.is_compatible());
        let (state, error) =
            parse_runspace_pool_state(b"<Obj RefId=\"0\"><MS><I32 N=\"RunspaceState\">2</I32></MS></Obj>")
                .expect("state");
        assert_eq!(state, RunspacePoolState::Opened);
        assert_eq!(error, None);
        let (state, error) = parse_pipeline_state(
            b"<Obj RefId=\"0\"><MS><I32 N=\"PipelineState\">5</I32><Obj N=\"ExceptionAsErrorRecord\" RefId=\"1\"><ToString>boom &amp; more</ToString><MS><S N=\"FullyQualifiedErrorId\">X,Y</S></MS></Obj></MS></Obj>",
        )
        .expect("state");
        assert_eq!(state, PsInvocationState::Failed);
        assert_eq!(
            error,
            Some(RemoteError { message: "boom & more".to_owned(), fully_qualified_error_id: Some("X,Y".to_owned()) })
        );
        assert!(parse_pipeline_state(b"<Obj><MS><I32 N=\"PipelineState\">9</I32></MS></Obj>").is_err());
        assert!(parse_pipeline_state(b"<Obj><MS></MS></Obj>").is_err());
        assert!(parse_pipeline_state(b"\xff").is_err());
    }

    #[test]
    fn reads_properties_of_objects() {
        let xml = "<Obj RefId=\"0\"><MS><S N=\"y\">N=\"x\"</S><I32 N=\"x\">5</I32><Nil N=\"z\" /></MS></Obj>";
        assert_eq!(property_text(xml, "x").as_deref(), Some("5"));
        assert_eq!(property_text(xml, "z").as_deref(), Some(""));
        assert_eq!(property_text("<S N=\"x\">unterminated", "x"), None);
    }

    #[test]
    fn displays_values() {
        // One deserializer throughout, as a stream is read: what one body leaves in it must not change the next.
        let mut de = Deserializer::default();
        let mut display_string = |xml: &str| display_string(xml, &mut de);
        assert_eq!(display_string("<S>a</S>"), "a");
        assert_eq!(display_string("<I32>5</I32>"), "5");
        assert_eq!(display_string("<Nil />"), "");
        assert_eq!(display_string("<Obj RefId=\"0\"><ToString>x &lt; y</ToString></Obj>"), "x < y");
        assert_eq!(
            display_string("<Obj RefId=\"0\"><MS><S N=\"InformationalRecord_Message\">careful</S></MS></Obj>"),
            "careful"
        );
    }
}
