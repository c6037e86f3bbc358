//! Typed bodies of the shell operations: Create, Command, Send, Receive, Signal, Disconnect, Reconnect, Connect,
//! Get (shell and `cfg:Config`), with their responses. Delete and the empty responses have no body type.

use bytes::Bytes;

use crate::duration::XsDuration;
use crate::error::EnvelopeError;
use crate::header::{Prefixes, Selector, ns, parse_selectors, write_selectors};
use crate::shell::{BufferMode, EnvironmentVariable, ShellProperties, parse_environment, write_environment};
use crate::xml::{Element, Writer, decode_base64};

fn shell_text(el: &Element, local: &str) -> Option<String> {
    el.child(ns::SHELL, local).map(|c| c.text.trim().to_owned())
}

fn opt_duration(el: &Element, local: &'static str) -> Result<Option<XsDuration>, EnvelopeError> {
    el.child_ci(ns::SHELL, local)
        .map(|c| {
            XsDuration::parse(&c.text).map_err(|_| EnvelopeError::InvalidValue { field: local, value: c.text.clone() })
        })
        .transpose()
}

fn opt_base64(el: &Element, local: &'static str) -> Result<Option<Bytes>, EnvelopeError> {
    el.child(ns::POWERSHELL, local).map(|c| decode_base64(&c.text, local).map(Bytes::from)).transpose()
}

fn opt_buffer_mode(el: &Element) -> Result<Option<BufferMode>, EnvelopeError> {
    el.child(ns::SHELL, "BufferMode").map(|c| BufferMode::parse(&c.text)).transpose()
}

/// `rsp:Shell` of a Create request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateShell {
    /// The `ShellId` attribute (PowerShell: the RunspacePool id, upper case).
    pub shell_id: Option<String>,
    /// The `Name` attribute (PowerShell) or `rsp:Name` element (WinRS).
    pub name: Option<String>,
    /// `rsp:InputStreams` (`stdin pr`).
    pub input_streams: String,
    /// `rsp:OutputStreams` (`stdout`).
    pub output_streams: String,
    /// `rsp:IdleTimeOut`.
    pub idle_timeout: Option<XsDuration>,
    /// `rsp:Lifetime` (WinRS).
    pub lifetime: Option<XsDuration>,
    /// `rsp:WorkingDirectory` (WinRS).
    pub working_directory: Option<String>,
    /// `rsp:Environment` (WinRS).
    pub environment: Vec<EnvironmentVariable>,
    /// The decoded `creationXml` (PSRP fragments of SESSION_CAPABILITY + INIT_RUNSPACEPOOL).
    pub creation_xml: Option<Bytes>,
}

impl CreateShell {
    /// A PowerShell Create: streams `stdin pr` / `stdout`, `ShellId` and `Name` attributes, `creationXml`.
    pub fn powershell(shell_id: &str, name: Option<&str>, creation_xml: Bytes) -> Self {
        CreateShell {
            shell_id: Some(shell_id.to_owned()),
            name: name.map(str::to_owned),
            input_streams: "stdin pr".into(),
            output_streams: "stdout".into(),
            creation_xml: Some(creation_xml),
            ..CreateShell::default()
        }
    }

    pub(crate) fn parse(body: &Element) -> Result<Self, EnvelopeError> {
        let el = body.child(ns::SHELL, "Shell").ok_or(EnvelopeError::MissingElement("Shell"))?;
        Ok(CreateShell {
            shell_id: el.attr("ShellId").map(str::to_owned),
            name: el.attr("Name").map(str::to_owned).or_else(|| shell_text(el, "Name")),
            input_streams: shell_text(el, "InputStreams").unwrap_or_default(),
            output_streams: shell_text(el, "OutputStreams").unwrap_or_default(),
            idle_timeout: opt_duration(el, "IdleTimeOut")?,
            lifetime: opt_duration(el, "Lifetime")?,
            working_directory: shell_text(el, "WorkingDirectory"),
            environment: parse_environment(el),
            creation_xml: opt_base64(el, "creationXml")?,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        let mut attrs: Vec<(&str, &str)> = Vec::new();
        if let Some(id) = &self.shell_id {
            attrs.push(("ShellId", id));
        }
        if let Some(n) = &self.name {
            attrs.push(("Name", n));
        }
        w.open("rsp:Shell", &attrs);
        w.leaf("rsp:InputStreams", &[], &self.input_streams);
        w.leaf("rsp:OutputStreams", &[], &self.output_streams);
        w.opt_leaf("rsp:IdleTimeOut", self.idle_timeout.map(XsDuration::to_seconds_string).as_deref());
        w.opt_leaf("rsp:Lifetime", self.lifetime.map(XsDuration::to_seconds_string).as_deref());
        w.opt_leaf("rsp:WorkingDirectory", self.working_directory.as_deref());
        write_environment(w, &self.environment);
        if let Some(x) = &self.creation_xml {
            w.base64_leaf("creationXml", &[("xmlns", ns::POWERSHELL)], x);
        }
        w.close("rsp:Shell");
    }
}

/// The body of a CreateResponse: `x:ResourceCreated` and the shell's properties.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateResponse {
    /// `a:Address` (the endpoint URL).
    pub address: String,
    /// `w:ResourceURI` of the reference parameters.
    pub resource_uri: String,
    /// `w:SelectorSet` of the reference parameters (`ShellId`).
    pub selectors: Vec<Selector>,
    /// The `rsp:Shell` that follows (absent in some older servers' answers).
    pub shell: Option<ShellProperties>,
}

impl CreateResponse {
    /// The created shell's id, from the selectors (or the shell properties).
    pub fn shell_id(&self) -> Option<&str> {
        self.selectors
            .iter()
            .find(|s| s.name == "ShellId")
            .map(|s| s.value.as_str())
            .or(self.shell.as_ref().map(|s| s.shell_id.as_str()))
    }

    pub(crate) fn parse(body: &Element) -> Result<Self, EnvelopeError> {
        let rc = body.child(ns::TRANSFER, "ResourceCreated").ok_or(EnvelopeError::MissingElement("ResourceCreated"))?;
        let address = rc.child_text(ns::ADDRESSING, "Address").unwrap_or_default().trim().to_owned();
        let rp = rc.child(ns::ADDRESSING, "ReferenceParameters");
        let resource_uri =
            rp.and_then(|r| r.child_text(ns::WSMAN, "ResourceURI")).unwrap_or_default().trim().to_owned();
        let selectors = match rp.and_then(|r| r.child(ns::WSMAN, "SelectorSet")) {
            Some(s) => parse_selectors(s)?,
            None => Vec::new(),
        };
        let shell = body.child(ns::SHELL, "Shell").map(ShellProperties::from_element).transpose()?;
        Ok(CreateResponse { address, resource_uri, selectors, shell })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>, p: &Prefixes) {
        w.open("x:ResourceCreated", &[]);
        w.leaf(&p.a("Address"), &[], &self.address);
        w.open(&p.a("ReferenceParameters"), &[]);
        w.leaf(&p.w("ResourceURI"), &[], &self.resource_uri);
        write_selectors(w, p, &self.selectors);
        w.close(&p.a("ReferenceParameters"));
        w.close("x:ResourceCreated");
        if let Some(s) = &self.shell {
            s.write(w);
        }
    }
}

/// `rsp:CommandLine` of a Command request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandLine {
    /// The `CommandId` attribute (PowerShell: the pipeline id, upper case).
    pub command_id: Option<String>,
    /// `rsp:Command` (PowerShell: the command text or empty; WinRS: the executable). An empty element reads as
    /// `None`.
    pub command: Option<String>,
    /// `rsp:Arguments`, as text (PowerShell: one element, base64 of CREATE_PIPELINE fragments).
    pub arguments: Vec<String>,
}

impl CommandLine {
    /// A PowerShell Command: `CommandId`, `rsp:Command` text (empty element when `None`), base64 payload.
    pub fn powershell(command_id: &str, command: Option<&str>, payload: &[u8]) -> Self {
        CommandLine {
            command_id: Some(command_id.to_owned()),
            command: command.filter(|c| !c.is_empty()).map(str::to_owned),
            arguments: vec![base64_simd::STANDARD.encode_to_string(payload)],
        }
    }

    /// The decoded PSRP payload of the (single) `rsp:Arguments` element.
    pub fn payload(&self) -> Result<Vec<u8>, EnvelopeError> {
        let mut out = Vec::new();
        for a in &self.arguments {
            out.extend(decode_base64(a, "Arguments")?);
        }
        Ok(out)
    }

    pub(crate) fn parse(body: &Element) -> Result<Self, EnvelopeError> {
        let el = body.child(ns::SHELL, "CommandLine").ok_or(EnvelopeError::MissingElement("CommandLine"))?;
        Ok(CommandLine {
            command_id: el.attr("CommandId").map(str::to_owned),
            command: el.child(ns::SHELL, "Command").map(|c| c.text.clone()).filter(|t| !t.is_empty()),
            arguments: el.children_named(ns::SHELL, "Arguments").map(|a| a.text.clone()).collect(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        match &self.command_id {
            Some(id) => w.open("rsp:CommandLine", &[("CommandId", id)]),
            None => w.open("rsp:CommandLine", &[]),
        }
        match &self.command {
            Some(c) => w.leaf("rsp:Command", &[], c),
            None => w.empty("rsp:Command", &[]),
        }
        for a in &self.arguments {
            w.leaf("rsp:Arguments", &[], a);
        }
        w.close("rsp:CommandLine");
    }
}

/// `rsp:CommandResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandResponse {
    /// `rsp:CommandId`.
    pub command_id: String,
}

impl CommandResponse {
    pub(crate) fn parse(body: &Element) -> Result<Self, EnvelopeError> {
        let el = body.child(ns::SHELL, "CommandResponse").ok_or(EnvelopeError::MissingElement("CommandResponse"))?;
        let id = el.child_text(ns::SHELL, "CommandId").ok_or(EnvelopeError::MissingElement("CommandId"))?;
        Ok(CommandResponse { command_id: id.trim().to_owned() })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.open("rsp:CommandResponse", &[]);
        w.leaf("rsp:CommandId", &[], &self.command_id);
        w.close("rsp:CommandResponse");
    }
}

/// One `rsp:Stream` of a Send request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendStream {
    /// The `Name` attribute (`stdin`, `pr`).
    pub name: String,
    /// The `CommandId` attribute; absent for the runspace pool.
    pub command_id: Option<String>,
    /// `End="true"`.
    pub end: bool,
    /// The decoded data.
    pub data: Bytes,
}

/// `rsp:Send`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Send {
    /// The streams, in order.
    pub streams: Vec<SendStream>,
}

impl Send {
    /// One stream of PSRP data.
    pub fn one(name: &str, command_id: Option<&str>, data: Bytes) -> Self {
        Send {
            streams: vec![SendStream {
                name: name.to_owned(),
                command_id: command_id.map(str::to_owned),
                end: false,
                data,
            }],
        }
    }

    pub(crate) fn parse(body: &Element) -> Result<Self, EnvelopeError> {
        let el = body.child(ns::SHELL, "Send").ok_or(EnvelopeError::MissingElement("Send"))?;
        let mut streams = Vec::new();
        for s in el.children_named(ns::SHELL, "Stream") {
            streams.push(SendStream {
                name: s.attr("Name").ok_or(EnvelopeError::MissingAttribute("Stream/@Name"))?.to_owned(),
                command_id: s.attr("CommandId").map(str::to_owned),
                end: matches!(s.attr("End").map(str::trim), Some("true" | "1")),
                data: Bytes::from(decode_base64(&s.text, "Stream")?),
            });
        }
        Ok(Send { streams })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.open("rsp:Send", &[]);
        for s in &self.streams {
            let mut attrs: Vec<(&str, &str)> = vec![("Name", &s.name)];
            if let Some(id) = &s.command_id {
                attrs.push(("CommandId", id));
            }
            if s.end {
                attrs.push(("End", "true"));
            }
            w.base64_leaf("rsp:Stream", &attrs, &s.data);
        }
        w.close("rsp:Send");
    }
}

/// `rsp:Receive`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Receive {
    /// `rsp:DesiredStream` text (`stdout`, or `stdout stderr`).
    pub streams: String,
    /// The `CommandId` attribute of `rsp:DesiredStream`; absent for the runspace pool.
    pub command_id: Option<String>,
}

impl Receive {
    pub(crate) fn parse(body: &Element) -> Result<Self, EnvelopeError> {
        let el = body.child(ns::SHELL, "Receive").ok_or(EnvelopeError::MissingElement("Receive"))?;
        let ds = el.child(ns::SHELL, "DesiredStream").ok_or(EnvelopeError::MissingElement("DesiredStream"))?;
        Ok(Receive { streams: ds.text.trim().to_owned(), command_id: ds.attr("CommandId").map(str::to_owned) })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.open("rsp:Receive", &[]);
        match &self.command_id {
            Some(id) => w.leaf("rsp:DesiredStream", &[("CommandId", id)], &self.streams),
            None => w.leaf("rsp:DesiredStream", &[], &self.streams),
        }
        w.close("rsp:Receive");
    }
}

/// The code of a Signal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SignalCode {
    /// `…/windows/shell/signal/Terminate`: release the command.
    Terminate,
    /// `powershell/signal/crtl_c` (sic) — what PowerShell client and server use to stop a pipeline.
    PowerShellStop,
    /// `powershell/signal/ctrl_c` — what pypsrp sends (Windows treats it as terminate).
    PowerShellCtrlC,
    /// `…/windows/shell/signal/ctrl_c` (WinRS).
    CtrlC,
    /// `…/windows/shell/signal/ctrl_break` (WinRS).
    CtrlBreak,
    /// Any other code.
    Other(String),
}

const SIGNAL_TERMINATE: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/Terminate";
const SIGNAL_PS_STOP: &str = "powershell/signal/crtl_c";
const SIGNAL_PS_CTRL_C: &str = "powershell/signal/ctrl_c";
const SIGNAL_CTRL_C: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_c";
const SIGNAL_CTRL_BREAK: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_break";

impl SignalCode {
    /// The wire URI.
    pub fn uri(&self) -> &str {
        match self {
            SignalCode::Terminate => SIGNAL_TERMINATE,
            SignalCode::PowerShellStop => SIGNAL_PS_STOP,
            SignalCode::PowerShellCtrlC => SIGNAL_PS_CTRL_C,
            SignalCode::CtrlC => SIGNAL_CTRL_C,
            SignalCode::CtrlBreak => SIGNAL_CTRL_BREAK,
            SignalCode::Other(s) => s,
        }
    }

    /// Reads a wire URI.
    pub fn from_uri(uri: &str) -> Self {
        match uri.trim() {
            SIGNAL_TERMINATE => SignalCode::Terminate,
            SIGNAL_PS_STOP => SignalCode::PowerShellStop,
            SIGNAL_PS_CTRL_C => SignalCode::PowerShellCtrlC,
            SIGNAL_CTRL_C => SignalCode::CtrlC,
            SIGNAL_CTRL_BREAK => SignalCode::CtrlBreak,
            other => SignalCode::Other(other.to_owned()),
        }
    }

    /// Whether the code asks to stop (not release) a running pipeline: `crtl_c` and both `ctrl_c` spellings.
    pub fn is_stop(&self) -> bool {
        matches!(self, SignalCode::PowerShellStop | SignalCode::PowerShellCtrlC | SignalCode::CtrlC)
    }
}

/// `rsp:Signal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    /// The `CommandId` attribute.
    pub command_id: Option<String>,
    /// `rsp:Code`.
    pub code: SignalCode,
}

impl Signal {
    pub(crate) fn parse(body: &Element) -> Result<Self, EnvelopeError> {
        let el = body.child(ns::SHELL, "Signal").ok_or(EnvelopeError::MissingElement("Signal"))?;
        let code = el.child_text(ns::SHELL, "Code").ok_or(EnvelopeError::MissingElement("Code"))?;
        Ok(Signal { command_id: el.attr("CommandId").map(str::to_owned), code: SignalCode::from_uri(code) })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        match &self.command_id {
            Some(id) => w.open("rsp:Signal", &[("CommandId", id)]),
            None => w.open("rsp:Signal", &[]),
        }
        w.leaf("rsp:Code", &[], self.code.uri());
        w.close("rsp:Signal");
    }
}

/// `rsp:Disconnect`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disconnect {
    /// `rsp:IdleTimeOut` (also read as `IdleTimeout`).
    pub idle_timeout: Option<XsDuration>,
    /// `rsp:BufferMode`.
    pub buffer_mode: Option<BufferMode>,
}

impl Disconnect {
    pub(crate) fn parse(body: &Element) -> Result<Self, EnvelopeError> {
        match body.child(ns::SHELL, "Disconnect") {
            None => Ok(Disconnect::default()),
            Some(el) => {
                Ok(Disconnect { idle_timeout: opt_duration(el, "IdleTimeOut")?, buffer_mode: opt_buffer_mode(el)? })
            }
        }
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        if self.idle_timeout.is_none() && self.buffer_mode.is_none() {
            w.empty("rsp:Disconnect", &[]);
            return;
        }
        w.open("rsp:Disconnect", &[]);
        w.opt_leaf("rsp:IdleTimeOut", self.idle_timeout.map(XsDuration::to_seconds_string).as_deref());
        w.opt_leaf("rsp:BufferMode", self.buffer_mode.map(BufferMode::as_str));
        w.close("rsp:Disconnect");
    }
}

/// `rsp:Reconnect` (empty body for the shell; `CommandId` for a command).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reconnect {
    /// The command to reconnect (attribute or child element `rsp:CommandId`).
    pub command_id: Option<String>,
    /// `rsp:BufferMode`.
    pub buffer_mode: Option<BufferMode>,
}

impl Reconnect {
    pub(crate) fn parse(body: &Element) -> Result<Self, EnvelopeError> {
        match body.child(ns::SHELL, "Reconnect") {
            None => Ok(Reconnect::default()),
            Some(el) => Ok(Reconnect {
                command_id: el.attr("CommandId").map(str::to_owned).or_else(|| shell_text(el, "CommandId")),
                buffer_mode: opt_buffer_mode(el)?,
            }),
        }
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        if self.command_id.is_none() && self.buffer_mode.is_none() {
            return;
        }
        let attrs: Vec<(&str, &str)> = self.command_id.iter().map(|id| ("CommandId", id.as_str())).collect();
        match self.buffer_mode {
            None => w.empty("rsp:Reconnect", &attrs),
            Some(m) => {
                w.open("rsp:Reconnect", &attrs);
                w.leaf("rsp:BufferMode", &[], m.as_str());
                w.close("rsp:Reconnect");
            }
        }
    }
}

/// `rsp:Connect`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Connect {
    /// The `CommandId` attribute (connecting a running pipeline).
    pub command_id: Option<String>,
    /// The decoded `connectXml` (SESSION_CAPABILITY + CONNECT_RUNSPACEPOOL fragments).
    pub connect_xml: Option<Bytes>,
    /// `rsp:BufferMode`.
    pub buffer_mode: Option<BufferMode>,
}

impl Connect {
    pub(crate) fn parse(body: &Element) -> Result<Self, EnvelopeError> {
        let el = body.child(ns::SHELL, "Connect").ok_or(EnvelopeError::MissingElement("Connect"))?;
        Ok(Connect {
            command_id: el.attr("CommandId").map(str::to_owned),
            connect_xml: opt_base64(el, "connectXml")?,
            buffer_mode: opt_buffer_mode(el)?,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        let attrs: Vec<(&str, &str)> = self.command_id.iter().map(|id| ("CommandId", id.as_str())).collect();
        if self.connect_xml.is_none() && self.buffer_mode.is_none() {
            w.empty("rsp:Connect", &attrs);
            return;
        }
        w.open("rsp:Connect", &attrs);
        w.opt_leaf("rsp:BufferMode", self.buffer_mode.map(BufferMode::as_str));
        if let Some(x) = &self.connect_xml {
            w.base64_leaf("connectXml", &[("xmlns", ns::POWERSHELL)], x);
        }
        w.close("rsp:Connect");
    }
}

/// `rsp:ConnectResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    /// `rsp:InputStreams`.
    pub input_streams: Option<String>,
    /// `rsp:OutputStreams`.
    pub output_streams: Option<String>,
    /// The decoded `connectResponseXml` (SESSION_CAPABILITY + RUNSPACEPOOL_INIT_DATA fragments).
    pub connect_response_xml: Option<Bytes>,
}

impl ConnectResponse {
    pub(crate) fn parse(body: &Element) -> Result<Self, EnvelopeError> {
        match body.child(ns::SHELL, "ConnectResponse") {
            None => Ok(ConnectResponse::default()),
            Some(el) => Ok(ConnectResponse {
                input_streams: shell_text(el, "InputStreams"),
                output_streams: shell_text(el, "OutputStreams"),
                connect_response_xml: opt_base64(el, "connectResponseXml")?,
            }),
        }
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        if self.input_streams.is_none() && self.output_streams.is_none() && self.connect_response_xml.is_none() {
            w.raw("<rsp:ConnectResponse/>");
            return;
        }
        w.open("rsp:ConnectResponse", &[]);
        w.opt_leaf("rsp:InputStreams", self.input_streams.as_deref());
        w.opt_leaf("rsp:OutputStreams", self.output_streams.as_deref());
        if let Some(x) = &self.connect_response_xml {
            w.base64_leaf("connectResponseXml", &[("xmlns", ns::POWERSHELL)], x);
        }
        w.close("rsp:ConnectResponse");
    }
}

/// The WinRM configuration returned by Get on `http://schemas.microsoft.com/wbem/wsman/1/config` (the fields a
/// client uses).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// `cfg:MaxEnvelopeSizekb`.
    pub max_envelope_size_kb: Option<u32>,
    /// `cfg:MaxTimeoutms`.
    pub max_timeout_ms: Option<u64>,
    /// `cfg:MaxBatchItems`.
    pub max_batch_items: Option<u32>,
    /// `cfg:MaxProviderRequests`.
    pub max_provider_requests: Option<u64>,
}

fn cfg_number<T: std::str::FromStr>(el: &Element, local: &'static str) -> Result<Option<T>, EnvelopeError> {
    el.child(ns::CONFIG, local)
        .map(|c| c.text.trim().parse().map_err(|_| EnvelopeError::InvalidValue { field: local, value: c.text.clone() }))
        .transpose()
}

impl Config {
    /// The maximum envelope size in bytes (`MaxEnvelopeSizekb` × 1024).
    pub fn max_envelope_size(&self) -> Option<usize> {
        self.max_envelope_size_kb.map(|k| k as usize * 1024)
    }

    pub(crate) fn from_element(el: &Element) -> Result<Self, EnvelopeError> {
        Ok(Config {
            max_envelope_size_kb: cfg_number(el, "MaxEnvelopeSizekb")?,
            max_timeout_ms: cfg_number(el, "MaxTimeoutms")?,
            max_batch_items: cfg_number(el, "MaxBatchItems")?,
            max_provider_requests: cfg_number(el, "MaxProviderRequests")?,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.open("cfg:Config", &[("xmlns:cfg", ns::CONFIG)]);
        w.opt_leaf("cfg:MaxEnvelopeSizekb", self.max_envelope_size_kb.map(|v| v.to_string()).as_deref());
        w.opt_leaf("cfg:MaxTimeoutms", self.max_timeout_ms.map(|v| v.to_string()).as_deref());
        w.opt_leaf("cfg:MaxBatchItems", self.max_batch_items.map(|v| v.to_string()).as_deref());
        w.opt_leaf("cfg:MaxProviderRequests", self.max_provider_requests.map(|v| v.to_string()).as_deref());
        w.close("cfg:Config");
    }
}

/// The body of a GetResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetResponse {
    /// Get on a shell (`…/windows/shell` + ShellId): its properties.
    Shell(Box<ShellProperties>),
    /// Get on the WinRM configuration.
    Config(Config),
}

impl GetResponse {
    pub(crate) fn parse(body: &Element) -> Result<Self, EnvelopeError> {
        if let Some(s) = body.child(ns::SHELL, "Shell") {
            return Ok(GetResponse::Shell(Box::new(ShellProperties::from_element(s)?)));
        }
        if let Some(c) = body.child(ns::CONFIG, "Config") {
            return Ok(GetResponse::Config(Config::from_element(c)?));
        }
        Err(EnvelopeError::MissingElement("Shell or Config"))
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        match self {
            GetResponse::Shell(s) => s.write(w),
            GetResponse::Config(c) => c.write(w),
        }
    }
}
