//! Decoding a trace: every envelope with the WS-Man codec, every PSRP payload through one defragmenter per shell
//! and direction (as a client reassembles what it receives), every message body through the CLIXML reader.

use std::collections::BTreeMap;

use bytes::Bytes;
use pssession_psrp::clixml::{PsValue, from_clixml};
use pssession_psrp::{Defragmenter, Destination, Message, MessageType};
use pssession_wsman::envelope::{Limits, Request, RequestBody, Response, ResponseBody, parse_request, parse_response};
use pssession_wsman::error::EnvelopeError;
use pssession_wsman::header::resource;
use uuid::Uuid;

use super::{RawExchange, Trace};

/// A decoded trace. `problems` lists everything that could not be decoded, with its location; a trace decodes
/// cleanly when it is empty.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedTrace {
    /// The exchanges in order.
    pub exchanges: Vec<DecodedExchange>,
    /// What could not be decoded.
    pub problems: Vec<Problem>,
}

/// Something that could not be decoded, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `SOURCE#INDEX request|response [carrier]`, or the trace's end.
    pub location: String,
    /// What went wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// One decoded exchange.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedExchange {
    /// Position in the trace.
    pub index: usize,
    /// Where it came from.
    pub location: String,
    /// The request, if recorded and parsable.
    pub request: Option<DecodedEnvelope>,
    /// The response, if recorded and parsable (`None` also when the server sent no envelope).
    pub response: Option<DecodedEnvelope>,
    /// Whether a response was recorded at all.
    pub response_recorded: bool,
}

/// What one envelope says.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedEnvelope {
    /// `wsa:Action`, the full URI.
    pub action: String,
    /// `wsman:ResourceURI`.
    pub resource_uri: Option<String>,
    /// The shell addressed (request: ShellId selector, Create's ShellId or an Enumerate filter; response: the
    /// created shell, else the request's).
    pub shell_id: Option<String>,
    /// The command addressed (request: CommandId of the body; response: the command it reports, else the
    /// request's).
    pub command_id: Option<String>,
    /// `wsmanfault:WSManFault/@Code` of a fault.
    pub fault_code: Option<u32>,
    /// The PSRP messages completed by this envelope's payloads, in order.
    pub messages: Vec<DecodedMessage>,
    /// Payloads of non-PowerShell shells (cmd), which are not PSRP.
    pub streams: Vec<RawStream>,
    /// Headers whose value is invalid (header, value): the envelope was decoded without them, as a server
    /// would before answering `InvalidMessageInformationHeader` (pypsrp's `OperationTimeout` of `PT-1S`).
    pub invalid_headers: Vec<(String, String)>,
}

/// One reassembled PSRP message.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedMessage {
    /// The carrier of its last fragment: `creationXml`, `connectXml`, `connectResponseXml`, `Arguments`, or the
    /// name of a Send/Receive stream (`stdin`, `pr`, `stdout`).
    pub stream: String,
    /// The ObjectId of its fragments.
    pub object_id: u64,
    /// Client or Server.
    pub destination: Destination,
    /// The message type.
    pub message_type: MessageType,
    /// RunspacePool id (decoded from .NET byte order).
    pub rpid: Uuid,
    /// Pipeline id (nil for pool messages).
    pub pid: Uuid,
    /// Whether the body started with a UTF-8 BOM (PowerShell writes one, pypsrp does not).
    pub bom: bool,
    /// The deserialized body (`Null` for an empty body or one that could not be read, which is a problem).
    pub body: PsValue,
}

/// A non-PSRP stream payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawStream {
    /// Stream name.
    pub name: String,
    /// The command it belongs to.
    pub command_id: Option<String>,
    /// Its bytes.
    pub data: Bytes,
}

/// Decodes a whole trace.
pub fn decode(trace: &Trace) -> DecodedTrace {
    let mut decoder = Decoder::default();
    let exchanges = trace.exchanges.iter().enumerate().map(|(i, raw)| decoder.exchange(i, raw)).collect();
    decoder.finish(&format!("{} (end of trace)", trace.source));
    DecodedTrace { exchanges, problems: decoder.problems }
}

/// Whether an envelope file holds a response (parsed as a request it fails, or its Action is a response's).
pub(crate) fn looks_like_response(text: &str) -> bool {
    parse_request(text.as_bytes(), &Limits::default()).is_err()
}

/// Parses a request; a header with an invalid value (which a server answers with a fault) is recorded in
/// `invalid` and left out, so the rest of the envelope is still decoded.
pub(crate) fn parse_request_lenient(text: &str, invalid: &mut Vec<(String, String)>) -> Result<Request, EnvelopeError> {
    let limits = Limits::default();
    let mut text = std::borrow::Cow::Borrowed(text);
    loop {
        match parse_request(text.as_bytes(), &limits) {
            Err(EnvelopeError::InvalidHeader { header, value }) if invalid.len() < 16 => {
                let Some(without) = without_element(&text, header) else {
                    return Err(EnvelopeError::InvalidHeader { header, value });
                };
                invalid.push((header.to_owned(), value));
                text = std::borrow::Cow::Owned(without);
            }
            other => return other,
        }
    }
}

/// `text` without the first element whose qualified name ends in `:local` (or is `local`).
fn without_element(text: &str, local: &str) -> Option<String> {
    let mut search = 0;
    while let Some(offset) = text[search..].find('<') {
        let start = search + offset;
        let rest = &text[start + 1..];
        let name_len = rest.find(|c: char| c.is_whitespace() || c == '>' || c == '/').unwrap_or(rest.len());
        let name = &rest[..name_len];
        if name.rsplit(':').next() == Some(local) && !name.starts_with('/') {
            let open_end = start + 1 + rest.find('>')?;
            if text[..open_end].ends_with('/') {
                return Some(format!("{}{}", &text[..start], &text[open_end + 1..]));
            }
            let close = format!("</{name}>");
            let close_at = open_end + text[open_end..].find(&close)?;
            return Some(format!("{}{}", &text[..start], &text[close_at + close.len()..]));
        }
        search = start + 1;
    }
    None
}

/// Which way a payload travels, for the per-shell defragmenters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Direction {
    ToServer,
    ToClient,
}

/// A stateful decoder: feed exchanges in order.
#[derive(Debug, Default)]
pub(crate) struct Decoder {
    defragmenters: BTreeMap<(Direction, String), Defragmenter>,
    pub(crate) problems: Vec<Problem>,
}

fn is_powershell(resource_uri: Option<&str>) -> bool {
    resource_uri.is_some_and(|r| r.starts_with(resource::POWERSHELL_PREFIX))
}

fn upper(id: &str) -> String {
    id.trim().to_uppercase()
}

/// The shell and command a request addresses.
pub(crate) fn request_target(request: &Request) -> (Option<String>, Option<String>) {
    let mut shell = request.header.shell_id().map(upper);
    let command = match &request.body {
        RequestBody::Create(create) => {
            if shell.is_none() {
                shell = create.shell_id.as_deref().map(upper);
            }
            None
        }
        RequestBody::Command(c) => c.command_id.clone(),
        RequestBody::Send(s) => s.streams.iter().find_map(|s| s.command_id.clone()),
        RequestBody::Receive(r) => r.command_id.clone(),
        RequestBody::Signal(s) => s.command_id.clone(),
        RequestBody::Connect(c) => c.command_id.clone(),
        RequestBody::Reconnect(r) => r.command_id.clone(),
        RequestBody::Enumerate(e) => {
            if shell.is_none() {
                shell = e
                    .filter
                    .as_ref()
                    .and_then(|f| f.iter().find(|s| s.name.eq_ignore_ascii_case("ShellId")).map(|s| upper(&s.value)));
            }
            None
        }
        _ => None,
    };
    (shell, command.as_deref().map(upper))
}

impl Decoder {
    fn feed(&mut self, key: (Direction, String), data: Bytes, stream: &str, location: &str) -> Vec<DecodedMessage> {
        let defragmenter = self.defragmenters.entry(key).or_default();
        let objects = match defragmenter.feed(data) {
            Ok(objects) => objects,
            Err(e) => {
                defragmenter.reset();
                self.problems
                    .push(Problem { location: format!("{location} {stream}"), message: format!("PSRP framing: {e}") });
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for object in objects {
            let message = match Message::decode(object.data) {
                Ok(message) => message,
                Err(e) => {
                    self.problems.push(Problem {
                        location: format!("{location} {stream} ObjectId {}", object.object_id),
                        message: format!("PSRP message: {e}"),
                    });
                    continue;
                }
            };
            let body = if message.body().iter().all(u8::is_ascii_whitespace) {
                PsValue::Null
            } else {
                match from_clixml(message.body()) {
                    Ok(value) => value,
                    Err(e) => {
                        self.problems.push(Problem {
                            location: format!(
                                "{location} {stream} ObjectId {} {}",
                                object.object_id,
                                message.message_type.spec_name()
                            ),
                            message: format!("CLIXML body: {e}"),
                        });
                        PsValue::Null
                    }
                }
            };
            out.push(DecodedMessage {
                stream: stream.to_owned(),
                object_id: object.object_id,
                destination: message.destination,
                message_type: message.message_type,
                rpid: message.rpid,
                pid: message.pid,
                bom: message.has_bom(),
                body,
            });
        }
        out
    }

    /// Decodes one exchange, in trace order.
    pub(crate) fn exchange(&mut self, index: usize, raw: &RawExchange) -> DecodedExchange {
        let limits = Limits::default();
        let mut invalid_headers = Vec::new();
        let request = raw.request.as_ref().and_then(|text| match parse_request_lenient(text, &mut invalid_headers) {
            Ok(request) => Some(request),
            Err(e) => {
                self.problems.push(Problem {
                    location: format!("{} request", raw.location),
                    message: format!("WS-Man envelope: {e}"),
                });
                None
            }
        });
        let response = raw.response.as_ref().and_then(|text| match parse_response(text.as_bytes(), &limits) {
            Ok(response) => Some(response),
            Err(e) => {
                self.problems.push(Problem {
                    location: format!("{} response", raw.location),
                    message: format!("WS-Man envelope: {e}"),
                });
                None
            }
        });
        let (mut shell, command) = request.as_ref().map(request_target).unwrap_or_default();
        if let Some(ResponseBody::Create(created)) = response.as_ref().map(|r| &r.body)
            && let Some(id) = created.shell_id()
        {
            shell = shell.or_else(|| Some(upper(id)));
        }
        let resource_uri = request.as_ref().and_then(|r| r.header.resource_uri.clone());
        let psrp = is_powershell(resource_uri.as_deref());
        let key = shell.clone().unwrap_or_else(|| "(no shell)".to_owned());
        let request = request.map(|r| {
            let mut envelope = self.request(r, &raw.location, psrp, &key, shell.clone(), command.clone());
            envelope.invalid_headers = invalid_headers;
            envelope
        });
        let response = response.map(|r| self.response(r, &raw.location, psrp, &key, shell.clone(), command.clone()));
        DecodedExchange {
            index,
            location: raw.location.clone(),
            request,
            response,
            response_recorded: raw.response.is_some(),
        }
    }

    fn request(
        &mut self,
        request: Request,
        location: &str,
        psrp: bool,
        key: &str,
        shell_id: Option<String>,
        command_id: Option<String>,
    ) -> DecodedEnvelope {
        let location = format!("{location} request");
        let mut payloads: Vec<(String, Bytes)> = Vec::new();
        let mut streams = Vec::new();
        match request.body {
            RequestBody::Create(create) => payloads.extend(create.creation_xml.map(|x| ("creationXml".to_owned(), x))),
            RequestBody::Connect(connect) => {
                if let Some(xml) = connect.connect_xml {
                    // A Connect starts a new client session: both directions start over, the server's stream
                    // resumes where the client must resynchronise (PowerShell's PrepareForStreamConnect).
                    self.defragmenters.remove(&(Direction::ToServer, key.to_owned()));
                    self.resynchronise(key);
                    payloads.push(("connectXml".to_owned(), xml));
                }
            }
            RequestBody::Reconnect(_) => self.resynchronise(key),
            RequestBody::Command(command) if psrp => match command.payload() {
                Ok(bytes) => payloads.push(("Arguments".to_owned(), Bytes::from(bytes))),
                Err(e) => self
                    .problems
                    .push(Problem { location: format!("{location} Arguments"), message: format!("base64: {e}") }),
            },
            RequestBody::Send(send) => {
                for stream in send.streams {
                    if psrp {
                        payloads.push((stream.name, stream.data));
                    } else {
                        streams.push(RawStream { name: stream.name, command_id: stream.command_id, data: stream.data });
                    }
                }
            }
            _ => {}
        }
        let mut messages = Vec::new();
        for (carrier, data) in payloads {
            messages.extend(self.feed((Direction::ToServer, key.to_owned()), data, &carrier, &location));
        }
        DecodedEnvelope {
            action: request.header.action,
            resource_uri: request.header.resource_uri,
            shell_id,
            command_id,
            fault_code: None,
            messages,
            streams,
            invalid_headers: Vec::new(),
        }
    }

    fn resynchronise(&mut self, key: &str) {
        self.defragmenters.entry((Direction::ToClient, key.to_owned())).or_default().resynchronise();
    }

    fn response(
        &mut self,
        response: Response,
        location: &str,
        psrp: bool,
        key: &str,
        mut shell_id: Option<String>,
        mut command_id: Option<String>,
    ) -> DecodedEnvelope {
        let location = format!("{location} response");
        let mut payloads: Vec<(String, Bytes)> = Vec::new();
        let mut streams = Vec::new();
        let mut fault_code = None;
        match response.body {
            ResponseBody::Create(created) => {
                if let Some(id) = created.shell_id() {
                    shell_id = Some(upper(id));
                }
            }
            ResponseBody::Command(c) => command_id = Some(upper(&c.command_id)),
            ResponseBody::Connect(c) => {
                payloads.extend(c.connect_response_xml.map(|x| ("connectResponseXml".to_owned(), x)));
            }
            ResponseBody::Receive(r) => {
                if let Some(id) = r.streams.iter().find_map(|s| s.command_id.as_deref()) {
                    command_id = Some(upper(id));
                }
                for stream in r.streams {
                    if psrp {
                        payloads.push((stream.name, stream.data));
                    } else {
                        streams.push(RawStream { name: stream.name, command_id: stream.command_id, data: stream.data });
                    }
                }
            }
            ResponseBody::Fault(fault) => fault_code = fault.wsman_code,
            _ => {}
        }
        let mut messages = Vec::new();
        for (carrier, data) in payloads {
            messages.extend(self.feed((Direction::ToClient, key.to_owned()), data, &carrier, &location));
        }
        DecodedEnvelope {
            action: response.header.action,
            resource_uri: response.header.resource_uri,
            shell_id,
            command_id,
            fault_code,
            messages,
            streams,
            invalid_headers: Vec::new(),
        }
    }

    /// Reports objects left incomplete at the end of the trace.
    pub(crate) fn finish(&mut self, location: &str) {
        for ((direction, shell), defragmenter) in &mut self.defragmenters {
            if let Err(e) = defragmenter.finish() {
                let way = match direction {
                    Direction::ToServer => "client to server",
                    Direction::ToClient => "server to client",
                };
                self.problems
                    .push(Problem { location: location.to_owned(), message: format!("shell {shell}, {way}: {e}") });
            }
        }
    }
}
