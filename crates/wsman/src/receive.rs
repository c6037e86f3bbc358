//! The Receive hot path: a `rsp:ReceiveResponse` envelope read in one streaming pass into its `rsp:Stream`
//! payloads and the `rsp:CommandState`.
//!
//! Every stream's base64 text is decoded straight from the input slice into one shared buffer, which is then
//! frozen and sliced: one allocation for all payloads, each [`Stream::data`] a cheap [`Bytes`] view ready for the
//! PSRP defragmenter. Elements are matched by namespace URI, never by prefix.

use std::fmt;

use bytes::Bytes;
use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::{NsReader, XmlVersion};

/// The Windows shell namespace (`rsp:`).
pub const NS_SHELL: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell";
/// The SOAP 1.2 envelope namespace (`s:`).
pub const NS_SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";

/// Limits on a Receive response envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveLimits {
    /// The largest envelope accepted, in bytes. Default 16 MiB (far above Windows' 512000-byte maximum).
    pub max_envelope: usize,
    /// The deepest element nesting accepted. Default 32.
    pub max_depth: usize,
}

impl Default for ReceiveLimits {
    fn default() -> Self {
        ReceiveLimits { max_envelope: 16 << 20, max_depth: 32 }
    }
}

/// One `rsp:Stream` of a Receive response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// The stream name (`stdout`, `pr`, …).
    pub name: String,
    /// The command the stream belongs to; absent for runspace-pool streams.
    pub command_id: Option<String>,
    /// The `End="true"` attribute.
    pub end: bool,
    /// The decoded payload (whole PSRP fragments).
    pub data: Bytes,
}

/// The `rsp:CommandState` of a Receive response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandState {
    /// The command the state is about.
    pub command_id: Option<String>,
    /// The state URI (`…/CommandState/Running`, `…/Done`, `…/Pending`).
    pub state: String,
    /// `rsp:ExitCode`, when present.
    pub exit_code: Option<i64>,
}

impl CommandState {
    /// Whether the state is `…/CommandState/Done`.
    pub fn is_done(&self) -> bool {
        self.state.ends_with("/CommandState/Done")
    }
}

/// A parsed `rsp:ReceiveResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceiveResponse {
    /// The streams, in document order.
    pub streams: Vec<Stream>,
    /// The command state, when present.
    pub command_state: Option<CommandState>,
}

/// Why a Receive response could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReceiveError {
    /// The envelope exceeds [`ReceiveLimits::max_envelope`] (`wsman:EncodingLimit` on the server side).
    EnvelopeTooLarge {
        /// The envelope size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Elements nest deeper than [`ReceiveLimits::max_depth`].
    TooDeep,
    /// A `<!DOCTYPE`: DTDs are refused.
    Doctype,
    /// Not well-formed XML.
    Xml(String),
    /// The body holds a SOAP fault instead of a ReceiveResponse.
    Fault,
    /// The body holds no `rsp:ReceiveResponse`.
    NotReceiveResponse,
    /// The document ends inside an element (a truncated envelope).
    Truncated,
    /// A `rsp:Stream` without a `Name` attribute.
    MissingStreamName,
    /// A `rsp:Stream` whose text is not base64.
    Base64,
    /// An attribute or text that is not UTF-8 or holds a malformed escape.
    Text,
    /// `rsp:ExitCode` is not an integer.
    ExitCode,
}

impl fmt::Display for ReceiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReceiveError::EnvelopeTooLarge { size, limit } => {
                write!(f, "envelope of {size} bytes exceeds the limit of {limit}")
            }
            ReceiveError::TooDeep => f.write_str("elements nest too deeply"),
            ReceiveError::Doctype => f.write_str("DOCTYPE declarations are not accepted"),
            ReceiveError::Xml(e) => write!(f, "malformed XML: {e}"),
            ReceiveError::Fault => f.write_str("the response is a SOAP fault"),
            ReceiveError::NotReceiveResponse => f.write_str("the body holds no rsp:ReceiveResponse"),
            ReceiveError::Truncated => f.write_str("the envelope ends inside an element"),
            ReceiveError::MissingStreamName => f.write_str("rsp:Stream without a Name attribute"),
            ReceiveError::Base64 => f.write_str("rsp:Stream content is not valid base64"),
            ReceiveError::Text => f.write_str("attribute or text is not valid UTF-8"),
            ReceiveError::ExitCode => f.write_str("rsp:ExitCode is not an integer"),
        }
    }
}

impl std::error::Error for ReceiveError {}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Inside {
    Other,
    Stream,
    ExitCode,
}

struct PendingStream {
    name: String,
    command_id: Option<String>,
    end: bool,
    start: usize,
}

/// Parses a `rsp:ReceiveResponse` envelope.
pub fn parse_receive_response(xml: &[u8], limits: &ReceiveLimits) -> Result<ReceiveResponse, ReceiveError> {
    if xml.len() > limits.max_envelope {
        return Err(ReceiveError::EnvelopeTooLarge { size: xml.len(), limit: limits.max_envelope });
    }
    let shell = Namespace(NS_SHELL);
    let soap = Namespace(NS_SOAP);
    let mut reader = NsReader::from_reader(xml);
    // Base64 decodes to at most three quarters of its text.
    let mut buffer: Vec<u8> = Vec::with_capacity(xml.len() / 4 * 3);
    let mut ranges: Vec<PendingStream> = Vec::new();
    let mut current: Option<PendingStream> = None;
    let mut command_state: Option<CommandState> = None;
    let mut seen_response = false;
    let mut inside = Inside::Other;
    let mut depth = 0usize;
    let mut exit_text = String::new();

    loop {
        let (ns, event) = reader.read_resolved_event().map_err(|e| ReceiveError::Xml(e.to_string()))?;
        let in_shell = matches!(ns, ResolveResult::Bound(n) if n == shell);
        let in_soap = matches!(ns, ResolveResult::Bound(n) if n == soap);
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                if !empty {
                    depth += 1;
                    if depth > limits.max_depth {
                        return Err(ReceiveError::TooDeep);
                    }
                }
                let local = e.local_name();
                if in_soap && local.as_ref() == "Fault" {
                    return Err(ReceiveError::Fault);
                }
                if !in_shell {
                    continue;
                }
                match local.as_ref() {
                    "ReceiveResponse" => seen_response = true,
                    "Stream" => {
                        let mut name = None;
                        let mut command_id = None;
                        let mut end = false;
                        for attr in e.attributes() {
                            let attr = attr.map_err(|err| ReceiveError::Xml(err.to_string()))?;
                            let value = || {
                                attr.normalized_value(XmlVersion::Implicit1_0)
                                    .map(|v| v.into_owned())
                                    .map_err(|_| ReceiveError::Text)
                            };
                            match attr.key.local_name().as_ref() {
                                "Name" => name = Some(value()?),
                                "CommandId" => command_id = Some(value()?),
                                "End" => end = matches!(value()?.trim(), "true" | "1"),
                                _ => {}
                            }
                        }
                        let name = name.ok_or(ReceiveError::MissingStreamName)?;
                        let pending = PendingStream { name, command_id, end, start: buffer.len() };
                        if empty {
                            ranges.push(pending);
                        } else {
                            current = Some(pending);
                            inside = Inside::Stream;
                        }
                    }
                    "CommandState" => {
                        let mut state = CommandState { command_id: None, state: String::new(), exit_code: None };
                        for attr in e.attributes() {
                            let attr = attr.map_err(|err| ReceiveError::Xml(err.to_string()))?;
                            let value = attr
                                .normalized_value(XmlVersion::Implicit1_0)
                                .map_err(|_| ReceiveError::Text)?
                                .into_owned();
                            match attr.key.local_name().as_ref() {
                                "CommandId" => state.command_id = Some(value),
                                "State" => state.state = value,
                                _ => {}
                            }
                        }
                        command_state = Some(state);
                    }
                    "ExitCode" if !empty => {
                        inside = Inside::ExitCode;
                        exit_text.clear();
                    }
                    _ => {}
                }
            }
            Event::Text(text) => match inside {
                Inside::Stream => decode_into(text.as_bytes(), &mut buffer)?,
                Inside::ExitCode => {
                    exit_text.push_str(&text);
                }
                Inside::Other => {}
            },
            Event::CData(data) if inside == Inside::Stream => decode_into(data.as_bytes(), &mut buffer)?,
            Event::GeneralRef(_) if inside != Inside::Other => return Err(ReceiveError::Text),
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                if in_shell {
                    match e.local_name().as_ref() {
                        "Stream" => {
                            if let Some(pending) = current.take() {
                                ranges.push(pending);
                            }
                            inside = Inside::Other;
                        }
                        "ExitCode" => {
                            let code = exit_text.trim().parse::<i64>().map_err(|_| ReceiveError::ExitCode)?;
                            if let Some(state) = command_state.as_mut() {
                                state.exit_code = Some(code);
                            }
                            inside = Inside::Other;
                        }
                        _ => {}
                    }
                }
            }
            Event::DocType(_) => return Err(ReceiveError::Doctype),
            Event::Eof => {
                if depth != 0 {
                    return Err(ReceiveError::Truncated);
                }
                break;
            }
            _ => {}
        }
    }
    if !seen_response {
        return Err(ReceiveError::NotReceiveResponse);
    }
    let all = Bytes::from(buffer);
    let mut streams = Vec::with_capacity(ranges.len());
    let mut iter = ranges.into_iter().peekable();
    while let Some(p) = iter.next() {
        let stop = iter.peek().map_or(all.len(), |next| next.start);
        streams.push(Stream { name: p.name, command_id: p.command_id, end: p.end, data: all.slice(p.start..stop) });
    }
    Ok(ReceiveResponse { streams, command_state })
}

/// Appends the decoded base64 `text` to `buffer`; tolerates whitespace inside the text (line-wrapped base64).
fn decode_into(text: &[u8], buffer: &mut Vec<u8>) -> Result<(), ReceiveError> {
    if base64_simd::STANDARD.decode_append(text, buffer).is_ok() {
        return Ok(());
    }
    let compact: Vec<u8> = text.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return Ok(());
    }
    base64_simd::STANDARD.decode_append(&compact, buffer).map_err(|_| ReceiveError::Base64)
}
