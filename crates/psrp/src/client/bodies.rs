//! The CLIXML bodies the client writes (SESSION_CAPABILITY, INIT_RUNSPACEPOOL, CONNECT_RUNSPACEPOOL,
//! CREATE_PIPELINE) and the few properties it reads from the server's control messages (versions, states,
//! min/max runspaces, host-call ids). These bodies have fixed shapes (MS-PSRP 2.2.2), so they are written from
//! templates and read by property name; output objects are not parsed here but handed out as
//! [`Clixml`](crate::client::Clixml).
//!
//! Reading is bounded by the input (no allocation beyond the text returned) and never panics.

use std::fmt;

use bytes::Bytes;

use crate::client::error::ClientError;
use crate::client::events::{Clixml, HostCall, RemoteError};
use crate::client::pipeline::PipelineSpec;
use crate::client::state::{PsInvocationState, RunspacePoolState};
use crate::message::{MessageType, UTF8_BOM};

/// A `major.minor` version as SESSION_CAPABILITY carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolVersion {
    /// Major part.
    pub major: u16,
    /// Minor part.
    pub minor: u16,
}

impl ProtocolVersion {
    /// The protocol version this client announces: 2.3 (PowerShell 5.1 to 7.5).
    pub const CLIENT: ProtocolVersion = ProtocolVersion { major: 2, minor: 3 };
    /// `PSVersion`, always 2.0.
    pub const PS_VERSION: ProtocolVersion = ProtocolVersion { major: 2, minor: 0 };

    /// Parses `2.3` (a third or fourth part is ignored).
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(ProtocolVersion { major, minor })
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The server's SESSION_CAPABILITY (MS-PSRP 2.2.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCapability {
    /// `protocolversion`.
    pub protocol_version: ProtocolVersion,
    /// `PSVersion`.
    pub ps_version: ProtocolVersion,
    /// `SerializationVersion`, e.g. `1.1.0.1`.
    pub serialization_version: String,
}

impl SessionCapability {
    /// Whether this client can talk to the server: protocol 2.x (PowerShell accepts 2.0 through its own version and
    /// newer minors fall back to ours) and PSVersion 2.x.
    pub fn is_compatible(&self) -> bool {
        self.protocol_version.major == 2 && self.ps_version.major == 2
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

/// Escapes text for a CLIXML `<S>` element: `&`, `<`, `>` as entities (quotes stay literal, as .NET's XmlWriter
/// writes element text), and `_xHHHH_` for characters XML cannot carry (and for
/// a literal `_x` that would otherwise be read as an escape), as PowerShell's serializer does.
pub fn escape_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '_' if chars.get(i + 1) == Some(&'x') => out.push_str("_x005F_"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {
                out.push_str(&format!("_x{:04X}_", c as u32));
            }
            '\r' => out.push_str("_x000D_"),
            c => out.push(c),
        }
    }
    out
}

fn utf8(text: String) -> Bytes {
    Bytes::from(text.into_bytes())
}

/// The client's SESSION_CAPABILITY body.
pub fn client_session_capability(version: ProtocolVersion) -> Bytes {
    utf8(format!(
        "<Obj RefId=\"0\"><MS><Version N=\"protocolversion\">{version}</Version><Version N=\"PSVersion\">2.0</Version>\
         <Version N=\"SerializationVersion\">1.1.0.1</Version></MS></Obj>"
    ))
}

const HOST_INFO_NULL: &str = "<Obj N=\"HostInfo\" RefId=\"3\"><MS><B N=\"_isHostNull\">true</B><B N=\"_isHostUINull\">true</B>\
<B N=\"_isHostRawUINull\">true</B><B N=\"_useRunspaceHost\">true</B></MS></Obj>";

/// INIT_RUNSPACEPOOL (MS-PSRP 2.2.2.2) with no host and no application arguments.
pub fn init_runspace_pool(min_runspaces: i32, max_runspaces: i32) -> Bytes {
    utf8(format!(
        "<Obj RefId=\"0\"><MS><I32 N=\"MinRunspaces\">{min_runspaces}</I32><I32 N=\"MaxRunspaces\">{max_runspaces}</I32>\
<Obj N=\"PSThreadOptions\" RefId=\"1\"><TN RefId=\"0\"><T>System.Management.Automation.Runspaces.PSThreadOptions</T>\
<T>System.Enum</T><T>System.ValueType</T><T>System.Object</T></TN><ToString>Default</ToString><I32>0</I32></Obj>\
<Obj N=\"ApartmentState\" RefId=\"2\"><TN RefId=\"1\"><T>System.Management.Automation.Runspaces.ApartmentState</T>\
<T>System.Enum</T><T>System.ValueType</T><T>System.Object</T></TN><ToString>UNKNOWN</ToString><I32>2</I32></Obj>\
{HOST_INFO_NULL}<Nil N=\"ApplicationArguments\" /></MS></Obj>"
    ))
}

/// CONNECT_RUNSPACEPOOL (MS-PSRP 2.2.2.29): the pool's min/max runspaces as PowerShell sends them, or `<S />`
/// ("connect to the pool as it is") when either is negative (unknown).
pub fn connect_runspace_pool(min_runspaces: i32, max_runspaces: i32) -> Bytes {
    if min_runspaces < 0 || max_runspaces < 0 {
        return Bytes::from_static(b"<S />");
    }
    utf8(format!(
        "<Obj RefId=\"0\"><MS><I32 N=\"MinRunspaces\">{min_runspaces}</I32><I32 N=\"MaxRunspaces\">{max_runspaces}</I32></MS></Obj>"
    ))
}

/// CREATE_PIPELINE (MS-PSRP 2.2.2.10) for `spec`, in the shape PowerShell and pypsrp send.
pub fn create_pipeline(spec: &PipelineSpec, _max_runspaces: i32) -> Result<Bytes, ClientError> {
    if spec.commands.is_empty() {
        return Err(ClientError::Body {
            message_type: MessageType::CreatePipeline,
            reason: "a pipeline needs at least one command".to_owned(),
        });
    }
    let list_type = "System.Collections.Generic.List`1[[System.Management.Automation.PSObject, \
System.Management.Automation, Version=1.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35]]";
    let mut next_ref = 6u32;
    let mut cmds = String::new();
    let mut result_types_declared = false;
    for command in &spec.commands {
        let cmd_ref = next_ref;
        next_ref += 1;
        cmds.push_str(&format!(
            "<Obj RefId=\"{cmd_ref}\"><MS><S N=\"Cmd\">{}</S><B N=\"IsScript\">{}</B><Nil N=\"UseLocalScope\" />",
            escape_string(&command.command),
            command.is_script
        ));
        let merge = |name: &str, next_ref: &mut u32, declared: &mut bool| {
            let r = *next_ref;
            *next_ref += 1;
            let tn = if *declared {
                "<TNRef RefId=\"3\" />".to_owned()
            } else {
                *declared = true;
                "<TN RefId=\"3\"><T>System.Management.Automation.Runspaces.PipelineResultTypes</T><T>System.Enum</T>\
<T>System.ValueType</T><T>System.Object</T></TN>"
                    .to_owned()
            };
            format!("<Obj N=\"{name}\" RefId=\"{r}\">{tn}<ToString>None</ToString><I32>0</I32></Obj>")
        };
        for name in ["MergeMyResult", "MergeToResult", "MergePreviousResults"] {
            cmds.push_str(&merge(name, &mut next_ref, &mut result_types_declared));
        }
        let args_ref = next_ref;
        next_ref += 1;
        cmds.push_str(&format!("<Obj N=\"Args\" RefId=\"{args_ref}\"><TNRef RefId=\"2\" />"));
        cmds.push_str(if command.parameters.is_empty() { "<LST />" } else { "<LST>" });
        for (name, value) in &command.parameters {
            let r = next_ref;
            next_ref += 1;
            let name = match name {
                Some(n) => format!("<S N=\"N\">{}</S>", escape_string(n)),
                None => "<Nil N=\"N\" />".to_owned(),
            };
            cmds.push_str(&format!("<Obj RefId=\"{r}\"><MS>{name}<S N=\"V\">{}</S></MS></Obj>", escape_string(value)));
        }
        if !command.parameters.is_empty() {
            cmds.push_str("</LST>");
        }
        cmds.push_str("</Obj>");
        for name in ["MergeError", "MergeWarning", "MergeVerbose", "MergeDebug", "MergeInformation"] {
            cmds.push_str(&merge(name, &mut next_ref, &mut result_types_declared));
        }
        cmds.push_str("</MS></Obj>");
    }
    Ok(utf8(format!(
        "<Obj RefId=\"0\"><MS><B N=\"NoInput\">{no_input}</B><Obj N=\"ApartmentState\" RefId=\"1\"><TN RefId=\"0\">\
<T>System.Management.Automation.Runspaces.ApartmentState</T><T>System.Enum</T><T>System.ValueType</T><T>System.Object</T>\
</TN><ToString>UNKNOWN</ToString><I32>2</I32></Obj><Obj N=\"RemoteStreamOptions\" RefId=\"2\"><TN RefId=\"1\">\
<T>System.Management.Automation.Runspaces.RemoteStreamOptions</T><T>System.Enum</T><T>System.ValueType</T>\
<T>System.Object</T></TN><ToString>AddInvocationInfo</ToString><I32>15</I32></Obj><B N=\"AddToHistory\">{history}</B>\
{HOST_INFO_NULL}<Obj N=\"PowerShell\" RefId=\"4\"><MS><B N=\"IsNested\">false</B><Nil N=\"ExtraCmds\" />\
<Obj N=\"Cmds\" RefId=\"5\"><TN RefId=\"2\"><T>{list_type}</T><T>System.Object</T></TN><LST>{cmds}</LST></Obj>\
<Nil N=\"History\" /><B N=\"RedirectShellErrorOutputPipe\">false</B></MS></Obj><B N=\"IsNested\">false</B></MS></Obj>",
        no_input = spec.no_input,
        history = spec.add_to_history,
    )))
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

fn body_text(message_type: MessageType, body: &[u8]) -> Result<&str, ClientError> {
    let body = body.strip_prefix(&UTF8_BOM[..]).unwrap_or(body);
    std::str::from_utf8(body).map_err(|e| ClientError::Body { message_type, reason: format!("not UTF-8: {e}") })
}

/// Decodes XML entities and CLIXML `_xHHHH_` escapes.
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(['&', '_']) {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        if rest.starts_with('&') {
            let Some(end) = rest.find(';').filter(|&e| e <= 10) else {
                out.push('&');
                rest = &rest[1..];
                continue;
            };
            let entity = &rest[1..end];
            let decoded = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32),
                e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            match decoded {
                Some(c) => {
                    out.push(c);
                    rest = &rest[end + 1..];
                }
                None => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        } else {
            // `_xHHHH_`
            let bytes = rest.as_bytes();
            let is_escape = bytes.len() >= 7
                && bytes[1] == b'x'
                && bytes[6] == b'_'
                && bytes[2..6].iter().all(u8::is_ascii_hexdigit);
            if is_escape {
                let code = u32::from_str_radix(&rest[2..6], 16).ok();
                match code.and_then(char::from_u32) {
                    Some(c) => out.push(c),
                    None => out.push('\u{FFFD}'),
                }
                rest = &rest[7..];
            } else {
                out.push('_');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The raw (still escaped) text of the first element carrying `N="name"`, `Some("")` for an empty element.
fn raw_property<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let needle = format!("N=\"{name}\"");
    let mut from = 0;
    while let Some(found) = xml.get(from..)?.find(&needle) {
        let at = from + found;
        from = at + needle.len();
        // The attribute must be inside a start tag: the last '<' before it opens the tag and no '>' lies between.
        let tag_start = xml[..at].rfind('<')?;
        if xml[tag_start..at].contains('>') {
            continue;
        }
        let tag_end = at + xml[at..].find('>')?;
        if xml[..tag_end].ends_with('/') {
            return Some("");
        }
        let content = &xml[tag_end + 1..];
        let element = xml[tag_start + 1..].split([' ', '>', '/']).next()?;
        let close = format!("</{element}>");
        if element == "Obj" {
            return Some(content);
        }
        let end = content.find(&close)?;
        return Some(&content[..end]);
    }
    None
}

/// The decoded text of the first element carrying `N="name"`.
pub fn property_text(xml: &str, name: &str) -> Option<String> {
    raw_property(xml, name).map(unescape)
}

fn required<T>(
    message_type: MessageType,
    xml: &str,
    name: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, ClientError> {
    let text = raw_property(xml, name)
        .ok_or_else(|| ClientError::Body { message_type, reason: format!("property {name} is missing") })?;
    parse(text.trim()).ok_or_else(|| ClientError::Body { message_type, reason: format!("property {name} is invalid") })
}

/// Reads the server's SESSION_CAPABILITY.
pub fn parse_session_capability(body: &[u8]) -> Result<SessionCapability, ClientError> {
    let t = MessageType::SessionCapability;
    let xml = body_text(t, body)?;
    Ok(SessionCapability {
        protocol_version: required(t, xml, "protocolversion", ProtocolVersion::parse)?,
        ps_version: required(t, xml, "PSVersion", ProtocolVersion::parse)?,
        serialization_version: required(t, xml, "SerializationVersion", |s| Some(s.to_owned()))?,
    })
}

/// Reads RUNSPACEPOOL_INIT_DATA's `(MinRunspaces, MaxRunspaces)`.
pub fn parse_runspace_pool_init_data(body: &[u8]) -> Result<(i32, i32), ClientError> {
    let t = MessageType::RunspacePoolInitData;
    let xml = body_text(t, body)?;
    let min = required(t, xml, "MinRunspaces", |s| s.parse().ok())?;
    let max = required(t, xml, "MaxRunspaces", |s| s.parse().ok())?;
    Ok((min, max))
}

fn remote_error(xml: &str) -> Option<RemoteError> {
    let record = raw_property(xml, "ExceptionAsErrorRecord")?;
    if record.is_empty() {
        return None;
    }
    let message = property_text(record, "ErrorDetails_Message")
        .filter(|m| !m.is_empty())
        .or_else(|| property_text(record, "Message"))
        .or_else(|| first_element_text(record, "ToString"))
        .unwrap_or_default();
    Some(RemoteError { message, fully_qualified_error_id: property_text(record, "FullyQualifiedErrorId") })
}

/// Reads RUNSPACEPOOL_STATE.
pub fn parse_runspace_pool_state(body: &[u8]) -> Result<(RunspacePoolState, Option<RemoteError>), ClientError> {
    let t = MessageType::RunspacePoolState;
    let xml = body_text(t, body)?;
    let state = required(t, xml, "RunspaceState", |s| s.parse().ok().and_then(RunspacePoolState::from_value))?;
    Ok((state, remote_error(xml)))
}

/// Reads PIPELINE_STATE.
pub fn parse_pipeline_state(body: &[u8]) -> Result<(PsInvocationState, Option<RemoteError>), ClientError> {
    let t = MessageType::PipelineState;
    let xml = body_text(t, body)?;
    let state = required(t, xml, "PipelineState", |s| s.parse().ok().and_then(PsInvocationState::from_value))?;
    Ok((state, remote_error(xml)))
}

/// Reads RUNSPACE_AVAILABILITY's `(SetMinMaxRunspacesResponse, ci)`; a Boolean response reads as 1/0.
pub fn parse_runspace_availability(body: &[u8]) -> Result<(i64, i64), ClientError> {
    let t = MessageType::RunspaceAvailability;
    let xml = body_text(t, body)?;
    let response = required(t, xml, "SetMinMaxRunspacesResponse", |s| match s {
        "true" => Some(1),
        "false" => Some(0),
        s => s.parse().ok(),
    })?;
    let call_id = required(t, xml, "ci", |s| s.parse().ok())?;
    Ok((response, call_id))
}

/// Reads a host call's id and method.
pub fn parse_host_call(body: &[u8]) -> Result<HostCall, ClientError> {
    let t = MessageType::RunspacePoolHostCall;
    let xml = body_text(t, body)?;
    let call_id = required(t, xml, "ci", |s| s.parse().ok())?;
    let method = raw_property(xml, "mi")
        .ok_or_else(|| ClientError::Body { message_type: t, reason: "property mi is missing".to_owned() })?;
    let method_name = first_element_text(method, "ToString").unwrap_or_default();
    let method_id = first_element_text(method, "I32")
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| ClientError::Body { message_type: t, reason: "property mi is invalid".to_owned() })?;
    Ok(HostCall { call_id, method_id, method_name, body: clixml(t, body)? })
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

/// The decoded text of the first `<element>…</element>` (no attributes needed).
fn first_element_text(xml: &str, element: &str) -> Option<String> {
    let open = format!("<{element}>");
    let close = format!("</{element}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(unescape(&xml[start..end]))
}

/// A one-line rendering of a serialized object; see [`Clixml::to_display_string`].
pub fn display_string(xml: &str) -> String {
    let trimmed = xml.trim();
    // Informational records (warning/verbose/debug), information records, error records.
    for property in ["InformationalRecord_Message", "MessageData", "ErrorDetails_Message"] {
        if let Some(text) = property_text(trimmed, property).filter(|t| !t.is_empty() && !t.starts_with('<')) {
            return text;
        }
    }
    if trimmed.starts_with("<Obj") {
        if let Some(text) = first_element_text(trimmed, "ToString") {
            return text;
        }
        if let Some(text) = property_text(trimmed, "Message").filter(|t| !t.starts_with('<')) {
            return text;
        }
        return trimmed.to_owned();
    }
    if trimmed.starts_with("<Nil") {
        return String::new();
    }
    // A primitive: `<S>text</S>`, `<I32>5</I32>`, `<B>true</B>`, …
    if let Some(tag_end) = trimmed.find('>')
        && trimmed.starts_with('<')
    {
        if trimmed[..tag_end].ends_with('/') {
            return String::new();
        }
        if let Some(close) = trimmed.rfind("</")
            && close > tag_end
        {
            return unescape(&trimmed[tag_end + 1..close]);
        }
    }
    trimmed.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_round_trip() {
        let text = "a<b>&\"'_x0041_\u{1}\r\nz";
        let escaped = escape_string(text);
        assert_eq!(escaped, "a&lt;b&gt;&amp;\"'_x005F_x0041__x0001__x000D_\nz");
        assert_eq!(unescape(&escaped), text);
        assert_eq!(unescape("&#65;&#x42;&bogus;_x12"), "AB&bogus;_x12");
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
    fn attribute_outside_a_tag_is_not_a_property() {
        assert_eq!(property_text("<S>N=\"x\"</S><I32 N=\"x\">5</I32>", "x").as_deref(), Some("5"));
        assert_eq!(property_text("<Nil N=\"x\" />", "x").as_deref(), Some(""));
        assert_eq!(property_text("<S N=\"x\">unterminated", "x"), None);
    }

    #[test]
    fn displays_values() {
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
