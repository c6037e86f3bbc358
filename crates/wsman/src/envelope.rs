//! Whole envelopes: a [`Request`] (client builds, server parses) and a [`Response`] (server builds, client
//! parses), each a [`Header`] plus a typed body chosen by the Action.

use crate::enumeration::{Enumerate, EnumerateResponse, Pull, PullResponse, Release};
use crate::error::EnvelopeError;
use crate::fault::WsmanFault;
use crate::header::{Header, Prefixes, REQUEST, RESPONSE, action, ns, parse_header, write_header};
use crate::ops::{
    CommandLine, CommandResponse, Connect, ConnectResponse, CreateResponse, CreateShell, Disconnect, GetResponse,
    Receive, Reconnect, Send, Signal,
};
use crate::receive::{self, ReceiveLimits, ReceiveResponse};
pub use crate::xml::Limits;
use crate::xml::{self, Element, Writer};

/// The typed body of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestBody {
    /// `…/transfer/Create`.
    Create(CreateShell),
    /// `…/shell/Command`.
    Command(CommandLine),
    /// `…/shell/Send`.
    Send(Send),
    /// `…/shell/Receive`.
    Receive(Receive),
    /// `…/shell/Signal`.
    Signal(Signal),
    /// `…/transfer/Delete` (empty body).
    Delete,
    /// `…/transfer/Get` (empty body; the ResourceURI says shell or config).
    Get,
    /// `…/shell/Disconnect`.
    Disconnect(Disconnect),
    /// `…/shell/Reconnect`.
    Reconnect(Reconnect),
    /// `…/shell/Connect`.
    Connect(Connect),
    /// `…/enumeration/Enumerate`.
    Enumerate(Enumerate),
    /// `…/enumeration/Pull`.
    Pull(Pull),
    /// `…/enumeration/Release`.
    Release(Release),
}

impl RequestBody {
    /// The Action URI of this body.
    pub fn action(&self) -> &'static str {
        match self {
            RequestBody::Create(_) => action::CREATE,
            RequestBody::Command(_) => action::COMMAND,
            RequestBody::Send(_) => action::SEND,
            RequestBody::Receive(_) => action::RECEIVE,
            RequestBody::Signal(_) => action::SIGNAL,
            RequestBody::Delete => action::DELETE,
            RequestBody::Get => action::GET,
            RequestBody::Disconnect(_) => action::DISCONNECT,
            RequestBody::Reconnect(_) => action::RECONNECT,
            RequestBody::Connect(_) => action::CONNECT,
            RequestBody::Enumerate(_) => action::ENUMERATE,
            RequestBody::Pull(_) => action::PULL,
            RequestBody::Release(_) => action::RELEASE,
        }
    }

    /// The Action URI of the response to this body.
    pub fn response_action(&self) -> &'static str {
        match self {
            RequestBody::Create(_) => action::CREATE_RESPONSE,
            RequestBody::Command(_) => action::COMMAND_RESPONSE,
            RequestBody::Send(_) => action::SEND_RESPONSE,
            RequestBody::Receive(_) => action::RECEIVE_RESPONSE,
            RequestBody::Signal(_) => action::SIGNAL_RESPONSE,
            RequestBody::Delete => action::DELETE_RESPONSE,
            RequestBody::Get => action::GET_RESPONSE,
            RequestBody::Disconnect(_) => action::DISCONNECT_RESPONSE,
            RequestBody::Reconnect(_) => action::RECONNECT_RESPONSE,
            RequestBody::Connect(_) => action::CONNECT_RESPONSE,
            RequestBody::Enumerate(_) => action::ENUMERATE_RESPONSE,
            RequestBody::Pull(_) => action::PULL_RESPONSE,
            RequestBody::Release(_) => action::RELEASE_RESPONSE,
        }
    }
}

/// The typed body of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseBody {
    /// CreateResponse (boxed: the shell properties make it the largest body).
    Create(Box<CreateResponse>),
    /// CommandResponse.
    Command(CommandResponse),
    /// SendResponse (`<rsp:SendResponse/>`).
    Send,
    /// ReceiveResponse (read by [`crate::receive`]).
    Receive(ReceiveResponse),
    /// SignalResponse (`<rsp:SignalResponse/>`).
    Signal,
    /// DeleteResponse (empty body).
    Delete,
    /// GetResponse.
    Get(GetResponse),
    /// DisconnectResponse (empty body).
    Disconnect,
    /// ReconnectResponse (empty body).
    Reconnect,
    /// ConnectResponse.
    Connect(ConnectResponse),
    /// EnumerateResponse.
    Enumerate(EnumerateResponse),
    /// PullResponse.
    Pull(PullResponse),
    /// ReleaseResponse (empty body).
    Release,
    /// A SOAP fault (HTTP 500).
    Fault(WsmanFault),
}

/// A request envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The header; its `action` is written from the body when empty.
    pub header: Header,
    /// The body.
    pub body: RequestBody,
}

/// A response envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The header.
    pub header: Header,
    /// The body.
    pub body: ResponseBody,
}

fn envelope_parts(root: &Element) -> Result<(Option<&Element>, &Element), EnvelopeError> {
    if !root.is(ns::SOAP, "Envelope") {
        return Err(EnvelopeError::NotEnvelope);
    }
    let header = root.child(ns::SOAP, "Header");
    let body = root.child(ns::SOAP, "Body").ok_or(EnvelopeError::MissingBody)?;
    Ok((header, body))
}

/// Parses a request envelope (server role). Unknown headers with `mustUnderstand="true"` are collected in
/// [`Header::not_understood`]; the caller answers them with [`WsmanFault::not_understood`].
pub fn parse_request(xml: &[u8], limits: &Limits) -> Result<Request, EnvelopeError> {
    let root = xml::parse(xml, limits)?;
    let (header, body) = envelope_parts(&root)?;
    let header = parse_header(header)?;
    let body = match header.action.as_str() {
        action::CREATE => RequestBody::Create(CreateShell::parse(body)?),
        action::COMMAND => RequestBody::Command(CommandLine::parse(body)?),
        action::SEND => RequestBody::Send(Send::parse(body)?),
        action::RECEIVE => RequestBody::Receive(Receive::parse(body)?),
        action::SIGNAL => RequestBody::Signal(Signal::parse(body)?),
        action::DELETE => RequestBody::Delete,
        action::GET => RequestBody::Get,
        action::DISCONNECT => RequestBody::Disconnect(Disconnect::parse(body)?),
        action::RECONNECT => RequestBody::Reconnect(Reconnect::parse(body)?),
        action::CONNECT => RequestBody::Connect(Connect::parse(body)?),
        action::ENUMERATE => RequestBody::Enumerate(Enumerate::parse(body)?),
        action::PULL => RequestBody::Pull(Pull::parse(body)?),
        action::RELEASE => RequestBody::Release(Release::parse(body)?),
        other => return Err(EnvelopeError::UnsupportedAction(other.to_owned())),
    };
    Ok(Request { header, body })
}

/// Parses only the header of a request envelope (server role): what a fault for a request whose body cannot be
/// read (an unknown Action) relates to and names.
pub fn parse_request_header(xml: &[u8], limits: &Limits) -> Result<Header, EnvelopeError> {
    let root = xml::parse(xml, limits)?;
    let (header, _) = envelope_parts(&root)?;
    parse_header(header)
}

/// Parses a response envelope (client role). A SOAP fault becomes [`ResponseBody::Fault`] whatever the Action.
pub fn parse_response(xml: &[u8], limits: &Limits) -> Result<Response, EnvelopeError> {
    // Stream payloads are read by the Receive fast path, never copied into the tree.
    let root = xml::parse_skipping(xml, limits, Some((ns::SHELL, "Stream")))?;
    let (header_el, body) = envelope_parts(&root)?;
    let header = parse_header(header_el)?;
    if let Some(fault) = body.child(ns::SOAP, "Fault") {
        return Ok(Response { body: ResponseBody::Fault(WsmanFault::parse(fault, header_el)?), header });
    }
    let body = match header.action.as_str() {
        action::CREATE_RESPONSE => ResponseBody::Create(Box::new(CreateResponse::parse(body)?)),
        action::COMMAND_RESPONSE => ResponseBody::Command(CommandResponse::parse(body)?),
        action::SEND_RESPONSE => ResponseBody::Send,
        action::RECEIVE_RESPONSE => {
            let rl = ReceiveLimits { max_envelope: limits.max_envelope, max_depth: limits.max_depth };
            let parsed = receive::parse_receive_response(xml, &rl).map_err(|e| match e {
                receive::ReceiveError::Base64 => EnvelopeError::Base64("Stream"),
                receive::ReceiveError::MissingStreamName => EnvelopeError::MissingAttribute("Stream/@Name"),
                receive::ReceiveError::NotReceiveResponse => EnvelopeError::MissingElement("ReceiveResponse"),
                other => EnvelopeError::InvalidValue { field: "ReceiveResponse", value: other.to_string() },
            })?;
            ResponseBody::Receive(parsed)
        }
        action::SIGNAL_RESPONSE => ResponseBody::Signal,
        action::DELETE_RESPONSE => ResponseBody::Delete,
        action::GET_RESPONSE => ResponseBody::Get(GetResponse::parse(body)?),
        action::DISCONNECT_RESPONSE => ResponseBody::Disconnect,
        action::RECONNECT_RESPONSE => ResponseBody::Reconnect,
        action::CONNECT_RESPONSE => ResponseBody::Connect(ConnectResponse::parse(body)?),
        action::ENUMERATE_RESPONSE => ResponseBody::Enumerate(EnumerateResponse::parse(body)?),
        action::PULL_RESPONSE => ResponseBody::Pull(PullResponse::parse(body)?),
        action::RELEASE_RESPONSE => ResponseBody::Release,
        other => return Err(EnvelopeError::UnsupportedAction(other.to_owned())),
    };
    Ok(Response { header, body })
}

const REQUEST_OPEN: &str = concat!(
    "<s:Envelope xmlns:rsp=\"http://schemas.microsoft.com/wbem/wsman/1/windows/shell\"",
    " xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"",
    " xmlns:wsa=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\"",
    " xmlns:wsman=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\"",
    " xmlns:wsmv=\"http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd\">"
);
const REQUEST_OPEN_ENUM: &str = concat!(
    "<s:Envelope xmlns:rsp=\"http://schemas.microsoft.com/wbem/wsman/1/windows/shell\"",
    " xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"",
    " xmlns:wsa=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\"",
    " xmlns:wsen=\"http://schemas.xmlsoap.org/ws/2004/09/enumeration\"",
    " xmlns:wsman=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\"",
    " xmlns:wsmv=\"http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd\">"
);
const RESPONSE_OPEN: &str = concat!(
    "<s:Envelope xml:lang=\"en-US\" xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"",
    " xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\"",
    " xmlns:x=\"http://schemas.xmlsoap.org/ws/2004/09/transfer\"",
    " xmlns:e=\"http://schemas.xmlsoap.org/ws/2004/08/eventing\"",
    " xmlns:n=\"http://schemas.xmlsoap.org/ws/2004/09/enumeration\"",
    " xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\"",
    " xmlns:rsp=\"http://schemas.microsoft.com/wbem/wsman/1/windows/shell\"",
    " xmlns:p=\"http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd\">"
);

fn write_header_with_action(w: &mut Writer<'_>, p: &Prefixes, header: &Header, default_action: &str) {
    if header.action.is_empty() {
        let mut h = header.clone();
        h.action = default_action.to_owned();
        write_header(w, p, &h);
    } else {
        write_header(w, p, header);
    }
}

impl Request {
    /// A request; an empty `header.action` is filled from the body when written.
    pub fn new(header: Header, body: RequestBody) -> Self {
        Request { header, body }
    }

    /// Appends the envelope (pypsrp/PowerShell prefixes) to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut w = Writer { out };
        let p = &REQUEST;
        let enumeration =
            matches!(self.body, RequestBody::Enumerate(_) | RequestBody::Pull(_) | RequestBody::Release(_));
        w.raw(if enumeration { REQUEST_OPEN_ENUM } else { REQUEST_OPEN });
        write_header_with_action(&mut w, p, &self.header, self.body.action());
        w.raw("</s:Header>");
        let empty_body = match &self.body {
            RequestBody::Delete | RequestBody::Get => true,
            RequestBody::Reconnect(r) => r.command_id.is_none() && r.buffer_mode.is_none(),
            _ => false,
        };
        if empty_body {
            w.raw("<s:Body /></s:Envelope>");
            return;
        }
        w.raw("<s:Body>");
        match &self.body {
            RequestBody::Create(b) => b.write(&mut w),
            RequestBody::Command(b) => b.write(&mut w),
            RequestBody::Send(b) => b.write(&mut w),
            RequestBody::Receive(b) => b.write(&mut w),
            RequestBody::Signal(b) => b.write(&mut w),
            RequestBody::Disconnect(b) => b.write(&mut w),
            RequestBody::Reconnect(b) => b.write(&mut w),
            RequestBody::Connect(b) => b.write(&mut w),
            RequestBody::Enumerate(b) => b.write(&mut w, p),
            RequestBody::Pull(b) => b.write(&mut w, p),
            RequestBody::Release(b) => b.write(&mut w, p),
            RequestBody::Delete | RequestBody::Get => {}
        }
        w.raw("</s:Body></s:Envelope>");
    }

    /// The envelope as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2048);
        self.write(&mut out);
        out
    }

    /// Server side: the NotUnderstood fault owed for the first unknown header marked `mustUnderstand="true"`.
    pub fn must_understand_fault(&self, machine: &str) -> Option<WsmanFault> {
        self.header.not_understood.first().map(|q| WsmanFault::not_understood(q.clone(), machine))
    }
}

impl ResponseBody {
    fn default_action(&self) -> &'static str {
        match self {
            ResponseBody::Create(_) => action::CREATE_RESPONSE,
            ResponseBody::Command(_) => action::COMMAND_RESPONSE,
            ResponseBody::Send => action::SEND_RESPONSE,
            ResponseBody::Receive(_) => action::RECEIVE_RESPONSE,
            ResponseBody::Signal => action::SIGNAL_RESPONSE,
            ResponseBody::Delete => action::DELETE_RESPONSE,
            ResponseBody::Get(_) => action::GET_RESPONSE,
            ResponseBody::Disconnect => action::DISCONNECT_RESPONSE,
            ResponseBody::Reconnect => action::RECONNECT_RESPONSE,
            ResponseBody::Connect(_) => action::CONNECT_RESPONSE,
            ResponseBody::Enumerate(_) => action::ENUMERATE_RESPONSE,
            ResponseBody::Pull(_) => action::PULL_RESPONSE,
            ResponseBody::Release => action::RELEASE_RESPONSE,
            ResponseBody::Fault(f) => f.action(),
        }
    }
}

/// Writes a `rsp:ReceiveResponse` body: one `rsp:Stream` per entry, then the `rsp:CommandState`.
pub(crate) fn write_receive_response(w: &mut Writer<'_>, r: &ReceiveResponse) {
    w.open("rsp:ReceiveResponse", &[]);
    for s in &r.streams {
        let mut attrs: Vec<(&str, &str)> = vec![("Name", &s.name)];
        if let Some(id) = &s.command_id {
            attrs.push(("CommandId", id));
        }
        if s.end {
            attrs.push(("End", "true"));
        }
        w.base64_leaf("rsp:Stream", &attrs, &s.data);
    }
    if let Some(cs) = &r.command_state {
        let mut attrs: Vec<(&str, &str)> = Vec::new();
        if let Some(id) = &cs.command_id {
            attrs.push(("CommandId", id));
        }
        attrs.push(("State", &cs.state));
        // Windows writes an explicit end tag even without an ExitCode.
        w.open("rsp:CommandState", &attrs);
        if let Some(code) = cs.exit_code {
            w.leaf("rsp:ExitCode", &[], &code.to_string());
        }
        w.close("rsp:CommandState");
    }
    w.close("rsp:ReceiveResponse");
}

impl Response {
    /// A response; an empty `header.action` is filled from the body when written.
    pub fn new(header: Header, body: ResponseBody) -> Self {
        Response { header, body }
    }

    /// Server side: the response to `request` — Action from the body (the fault's Action for faults), `RelatesTo`
    /// = the request's MessageID, `To` anonymous.
    pub fn reply(request: &Header, body: ResponseBody, message_id: &str) -> Self {
        let header = Header::response(body.default_action(), request.message_id.as_deref(), message_id);
        Response { header, body }
    }

    /// The response, or its fault.
    pub fn into_result(self) -> Result<Response, Box<WsmanFault>> {
        match self.body {
            ResponseBody::Fault(f) => Err(Box::new(f)),
            _ => Ok(self),
        }
    }

    /// Appends the envelope (Windows' prefixes) to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut w = Writer { out };
        let p = &RESPONSE;
        w.raw(RESPONSE_OPEN);
        write_header_with_action(&mut w, p, &self.header, self.body.default_action());
        if let ResponseBody::Fault(f) = &self.body {
            f.write_header_block(&mut w);
        }
        w.raw("</s:Header><s:Body>");
        match &self.body {
            ResponseBody::Create(b) => b.write(&mut w, p),
            ResponseBody::Command(b) => b.write(&mut w),
            ResponseBody::Send => w.raw("<rsp:SendResponse/>"),
            ResponseBody::Receive(b) => write_receive_response(&mut w, b),
            ResponseBody::Signal => w.raw("<rsp:SignalResponse/>"),
            ResponseBody::Get(b) => b.write(&mut w),
            ResponseBody::Connect(b) => b.write(&mut w),
            ResponseBody::Enumerate(b) => b.write(&mut w, p),
            ResponseBody::Pull(b) => b.write(&mut w, p),
            ResponseBody::Fault(f) => f.write(&mut w),
            ResponseBody::Delete | ResponseBody::Disconnect | ResponseBody::Reconnect | ResponseBody::Release => {}
        }
        w.raw("</s:Body></s:Envelope>");
    }

    /// The envelope as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2048);
        self.write(&mut out);
        out
    }
}
