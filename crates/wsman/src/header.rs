//! SOAP header of WS-Management requests and responses: addressing, resource, selectors, options, timeouts.

use crate::duration::XsDuration;
use crate::error::EnvelopeError;
use crate::xml::{Element, Writer};

/// Namespace URIs.
pub mod ns {
    /// SOAP 1.2 envelope (`s:`).
    pub const SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";
    /// WS-Addressing (`a:` Windows, `wsa:` pypsrp).
    pub const ADDRESSING: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing";
    /// WS-Transfer (`x:`).
    pub const TRANSFER: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer";
    /// WS-Enumeration (`n:` Windows, `wsen:` pypsrp).
    pub const ENUMERATION: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration";
    /// WS-Eventing (`e:`), declared on Windows faults.
    pub const EVENTING: &str = "http://schemas.xmlsoap.org/ws/2004/08/eventing";
    /// DMTF WS-Management (`w:` Windows, `wsman:` pypsrp).
    pub const WSMAN: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd";
    /// Microsoft WS-Management extensions (`p:` Windows, `wsmv:` pypsrp).
    pub const WSMV: &str = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd";
    /// Windows shell (`rsp:`).
    pub const SHELL: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell";
    /// WS-Management fault detail (`f:`).
    pub const FAULT: &str = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault";
    /// WinRM configuration (`cfg:`).
    pub const CONFIG: &str = "http://schemas.microsoft.com/wbem/wsman/1/config";
    /// PowerShell payload elements (`creationXml`, `connectXml`, `connectResponseXml`).
    pub const POWERSHELL: &str = "http://schemas.microsoft.com/powershell";
    /// The `xml:` namespace.
    pub const XML: &str = "http://www.w3.org/XML/1998/namespace";
    /// The anonymous addressing role (`ReplyTo` of requests, `To` of responses).
    pub const ANONYMOUS: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous";
}

/// Action URIs.
pub mod action {
    /// WS-Transfer Create (shell creation).
    pub const CREATE: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create";
    /// Its response.
    pub const CREATE_RESPONSE: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse";
    /// WS-Transfer Delete.
    pub const DELETE: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete";
    /// Its response.
    pub const DELETE_RESPONSE: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse";
    /// WS-Transfer Get.
    pub const GET: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get";
    /// Its response.
    pub const GET_RESPONSE: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse";
    /// Shell Command.
    pub const COMMAND: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command";
    /// Its response.
    pub const COMMAND_RESPONSE: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandResponse";
    /// Shell Send.
    pub const SEND: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send";
    /// Its response.
    pub const SEND_RESPONSE: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SendResponse";
    /// Shell Receive.
    pub const RECEIVE: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive";
    /// Its response.
    pub const RECEIVE_RESPONSE: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse";
    /// Shell Signal.
    pub const SIGNAL: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal";
    /// Its response.
    pub const SIGNAL_RESPONSE: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SignalResponse";
    /// Shell Disconnect.
    pub const DISCONNECT: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Disconnect";
    /// Its response.
    pub const DISCONNECT_RESPONSE: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/DisconnectResponse";
    /// Shell Reconnect.
    pub const RECONNECT: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Reconnect";
    /// Its response.
    pub const RECONNECT_RESPONSE: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReconnectResponse";
    /// Shell Connect.
    pub const CONNECT: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Connect";
    /// Its response.
    pub const CONNECT_RESPONSE: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ConnectResponse";
    /// WS-Enumeration Enumerate.
    pub const ENUMERATE: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate";
    /// Its response.
    pub const ENUMERATE_RESPONSE: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/EnumerateResponse";
    /// WS-Enumeration Pull.
    pub const PULL: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull";
    /// Its response.
    pub const PULL_RESPONSE: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/PullResponse";
    /// WS-Enumeration Release.
    pub const RELEASE: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Release";
    /// Its response.
    pub const RELEASE_RESPONSE: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/ReleaseResponse";
    /// The Action of WS-Management faults.
    pub const FAULT_WSMAN: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault";
    /// The Action of WS-Addressing faults.
    pub const FAULT_ADDRESSING: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing/fault";
}

/// Resource URIs.
pub mod resource {
    /// The prefix of PowerShell session configurations (`…/Microsoft.PowerShell`).
    pub const POWERSHELL_PREFIX: &str = "http://schemas.microsoft.com/powershell/";
    /// The default PowerShell configuration.
    pub const POWERSHELL: &str = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell";
    /// The generic shell resource (Enumerate/Get of shells).
    pub const SHELL: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell";
    /// The command resource of a shell (Enumerate of commands).
    pub const SHELL_COMMAND: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command";
    /// The cmd.exe shell (WinRS).
    pub const CMD: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd";
    /// The WinRM configuration (`cfg:Config`, `MaxEnvelopeSizekb`).
    pub const CONFIG: &str = "http://schemas.microsoft.com/wbem/wsman/1/config";
}

/// Well-known option names of `wsman:OptionSet`.
pub mod option {
    /// The PSRP protocol version (`MustComply="true"`, value `2.3`).
    pub const PROTOCOL_VERSION: &str = "protocolversion";
    /// Keep the shell alive while a Receive is outstanding.
    pub const KEEPALIVE: &str = "WSMAN_CMDSHELL_OPTION_KEEPALIVE";
    /// Do not load the user profile.
    pub const NOPROFILE: &str = "WINRS_NOPROFILE";
    /// The console code page.
    pub const CODEPAGE: &str = "WINRS_CODEPAGE";
    /// Console mode for stdin.
    pub const CONSOLEMODE_STDIN: &str = "WINRS_CONSOLEMODE_STDIN";
    /// Run the command without `cmd.exe`.
    pub const SKIP_CMD_SHELL: &str = "WINRS_SKIP_CMD_SHELL";
    /// A pssession extension carried in a ReceiveResponse header: how many whole output objects of the received
    /// pool or command the server discarded while the shell was disconnected in `Drop` buffering mode
    /// (cumulative). Windows never sends it; clients that do not know it ignore it.
    pub const OUTPUT_DROPPED: &str = "PSSESSION_OUTPUT_DROPPED";
    /// A pssession extension carried on Disconnect: the last Receive response (by `wsmv:SequenceId`) the client
    /// processed per target, as space-separated `pool=N` and `<CommandId>=N` entries, so that a server that
    /// retains Receive responses frees them before another client connects. Not `MustComply`: Windows ignores it.
    pub const RECEIVE_ACK: &str = "PSSESSION_RECEIVE_ACK";
}

/// A namespace-qualified name (`{namespace}local`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QualifiedName {
    /// The namespace URI (empty when unqualified).
    pub namespace: String,
    /// The local name.
    pub local: String,
}

/// One `wsman:Selector`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// The `Name` attribute (`ShellId`).
    pub name: String,
    /// The text.
    pub value: String,
}

/// One `wsman:Option` of the `OptionSet`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsmanOption {
    /// The `Name` attribute.
    pub name: String,
    /// The text.
    pub value: String,
    /// `MustComply="true"`.
    pub must_comply: bool,
}

/// Every header field the shell protocol uses, for requests and responses alike.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// `wsa:Action`.
    pub action: String,
    /// `wsa:To`.
    pub to: Option<String>,
    /// `wsa:ReplyTo/wsa:Address`.
    pub reply_to: Option<String>,
    /// `wsa:MessageID` (`uuid:…`).
    pub message_id: Option<String>,
    /// `wsa:RelatesTo` (responses: the request's MessageID).
    pub relates_to: Option<String>,
    /// `wsman:ResourceURI`.
    pub resource_uri: Option<String>,
    /// `wsman:MaxEnvelopeSize` in bytes.
    pub max_envelope_size: Option<u32>,
    /// `wsman:Locale/@xml:lang`.
    pub locale: Option<String>,
    /// `wsmv:DataLocale/@xml:lang`.
    pub data_locale: Option<String>,
    /// `wsman:OperationTimeout`.
    pub operation_timeout: Option<XsDuration>,
    /// `wsmv:SessionId` (`uuid:…`): the client session.
    pub session_id: Option<String>,
    /// `wsmv:OperationID` (robust connections).
    pub operation_id: Option<String>,
    /// `wsmv:SequenceId` (robust connections).
    pub sequence_id: Option<u64>,
    /// `wsmv:ActivityId` (Windows responses).
    pub activity_id: Option<String>,
    /// `rsp:CompressionType` (`xpress`) on Create.
    pub compression_type: Option<String>,
    /// `wsman:SelectorSet`.
    pub selectors: Vec<Selector>,
    /// `wsman:OptionSet`.
    pub options: Vec<WsmanOption>,
    /// Headers this codec does not know that carry `mustUnderstand="true"` (a server answers NotUnderstood).
    pub not_understood: Vec<QualifiedName>,
}

impl Header {
    /// A request header as pypsrp/PowerShell send it: Action, To, ResourceURI, MessageID, ReplyTo anonymous.
    pub fn request(action: &str, to: &str, resource_uri: &str, message_id: &str) -> Header {
        Header {
            action: action.to_owned(),
            to: Some(to.to_owned()),
            reply_to: Some(ns::ANONYMOUS.to_owned()),
            message_id: Some(message_id.to_owned()),
            resource_uri: Some(resource_uri.to_owned()),
            ..Header::default()
        }
    }

    /// A response header as Windows writes it: Action, MessageID, To anonymous, RelatesTo.
    pub fn response(action: &str, relates_to: Option<&str>, message_id: &str) -> Header {
        Header {
            action: action.to_owned(),
            to: Some(ns::ANONYMOUS.to_owned()),
            message_id: Some(message_id.to_owned()),
            relates_to: relates_to.map(str::to_owned),
            ..Header::default()
        }
    }

    /// The value of the selector `name`.
    pub fn selector(&self, name: &str) -> Option<&str> {
        self.selectors.iter().find(|s| s.name.eq_ignore_ascii_case(name)).map(|s| s.value.as_str())
    }

    /// The `ShellId` selector.
    pub fn shell_id(&self) -> Option<&str> {
        self.selector("ShellId")
    }

    /// The option `name` (names compare case-insensitively).
    pub fn option(&self, name: &str) -> Option<&WsmanOption> {
        self.options.iter().find(|o| o.name.eq_ignore_ascii_case(name))
    }

    /// The `protocolversion` option's value.
    pub fn protocol_version(&self) -> Option<&str> {
        self.option(option::PROTOCOL_VERSION).map(|o| o.value.as_str())
    }

    /// Sets the `ShellId` selector (replacing an existing one).
    pub fn with_shell_id(mut self, shell_id: &str) -> Self {
        self.selectors.retain(|s| s.name != "ShellId");
        self.selectors.push(Selector { name: "ShellId".into(), value: shell_id.to_owned() });
        self
    }

    /// Appends an option.
    pub fn with_option(mut self, name: &str, value: &str, must_comply: bool) -> Self {
        self.options.push(WsmanOption { name: name.to_owned(), value: value.to_owned(), must_comply });
        self
    }

    /// Sets `MaxEnvelopeSize`.
    pub fn with_max_envelope_size(mut self, bytes: u32) -> Self {
        self.max_envelope_size = Some(bytes);
        self
    }

    /// Sets `OperationTimeout`.
    pub fn with_operation_timeout(mut self, timeout: XsDuration) -> Self {
        self.operation_timeout = Some(timeout);
        self
    }

    /// Sets `SessionId` (`uuid:…`).
    pub fn with_session_id(mut self, session_id: &str) -> Self {
        self.session_id = Some(session_id.to_owned());
        self
    }

    /// Sets `Locale` and `DataLocale`.
    pub fn with_locale(mut self, locale: &str, data_locale: &str) -> Self {
        self.locale = Some(locale.to_owned());
        self.data_locale = Some(data_locale.to_owned());
        self
    }
}

fn is_true(v: Option<&str>) -> bool {
    matches!(v.map(str::trim), Some("true" | "1"))
}

pub(crate) fn parse_header(el: Option<&Element>) -> Result<Header, EnvelopeError> {
    let mut h = Header::default();
    let Some(el) = el else {
        return Err(EnvelopeError::MissingHeader("Action"));
    };
    let mut have_action = false;
    for c in &el.children {
        let text = c.text.trim();
        match (c.ns.as_str(), c.local.as_str()) {
            (ns::ADDRESSING, "Action") => {
                h.action = text.to_owned();
                have_action = true;
            }
            (ns::ADDRESSING, "To") => h.to = Some(text.to_owned()),
            (ns::ADDRESSING, "ReplyTo") => {
                h.reply_to = c.child_text(ns::ADDRESSING, "Address").map(|t| t.trim().to_owned());
            }
            (ns::ADDRESSING, "MessageID") => h.message_id = Some(text.to_owned()),
            (ns::ADDRESSING, "RelatesTo") => h.relates_to = Some(text.to_owned()),
            (ns::WSMAN, "ResourceURI") => h.resource_uri = Some(text.to_owned()),
            (ns::WSMAN, "MaxEnvelopeSize") => {
                h.max_envelope_size =
                    Some(text.parse().map_err(|_| EnvelopeError::InvalidHeader {
                        header: "MaxEnvelopeSize",
                        value: text.to_owned(),
                    })?);
            }
            (ns::WSMAN, "Locale") => h.locale = c.attr_ns(ns::XML, "lang").map(str::to_owned),
            (ns::WSMV, "DataLocale") => h.data_locale = c.attr_ns(ns::XML, "lang").map(str::to_owned),
            (ns::WSMAN, "OperationTimeout") => {
                h.operation_timeout = Some(XsDuration::parse(text).map_err(|_| EnvelopeError::InvalidHeader {
                    header: "OperationTimeout",
                    value: text.to_owned(),
                })?);
            }
            (ns::WSMV, "SessionId") => h.session_id = Some(text.to_owned()),
            (ns::WSMV, "OperationID") => h.operation_id = Some(text.to_owned()),
            (ns::WSMV, "SequenceId") => {
                h.sequence_id = Some(
                    text.parse()
                        .map_err(|_| EnvelopeError::InvalidHeader { header: "SequenceId", value: text.to_owned() })?,
                );
            }
            (ns::WSMV, "ActivityId") => h.activity_id = Some(text.to_owned()),
            (ns::SHELL, "CompressionType") => h.compression_type = Some(text.to_owned()),
            (ns::WSMAN, "SelectorSet") => h.selectors = parse_selectors(c)?,
            (ns::WSMAN, "OptionSet") => {
                for o in c.children_named(ns::WSMAN, "Option") {
                    let name = o.attr("Name").ok_or(EnvelopeError::MissingAttribute("Option/@Name"))?;
                    h.options.push(WsmanOption {
                        name: name.to_owned(),
                        value: o.text.clone(),
                        must_comply: is_true(o.attr("MustComply")),
                    });
                }
            }
            // SOAP NotUnderstood blocks of a fault response are read by the fault parser.
            (ns::SOAP, "NotUnderstood") => {}
            _ => {
                if is_true(c.attr_ns(ns::SOAP, "mustUnderstand")) {
                    h.not_understood.push(QualifiedName { namespace: c.ns.clone(), local: c.local.clone() });
                }
            }
        }
    }
    if !have_action {
        return Err(EnvelopeError::MissingHeader("Action"));
    }
    Ok(h)
}

pub(crate) fn parse_selectors(set: &Element) -> Result<Vec<Selector>, EnvelopeError> {
    set.children_named(ns::WSMAN, "Selector")
        .map(|s| {
            let name = s.attr("Name").ok_or(EnvelopeError::MissingAttribute("Selector/@Name"))?;
            Ok(Selector { name: name.to_owned(), value: s.text.trim().to_owned() })
        })
        .collect()
}

/// The namespace prefixes one peer writes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prefixes {
    pub addressing: &'static str,
    pub wsman: &'static str,
    pub wsmv: &'static str,
    pub enumeration: &'static str,
    pub request: bool,
}

/// pypsrp/PowerShell request prefixes.
pub(crate) const REQUEST: Prefixes =
    Prefixes { addressing: "wsa", wsman: "wsman", wsmv: "wsmv", enumeration: "wsen", request: true };
/// Windows response prefixes.
pub(crate) const RESPONSE: Prefixes =
    Prefixes { addressing: "a", wsman: "w", wsmv: "p", enumeration: "n", request: false };

impl Prefixes {
    pub fn a(&self, local: &str) -> String {
        format!("{}:{local}", self.addressing)
    }
    pub fn w(&self, local: &str) -> String {
        format!("{}:{local}", self.wsman)
    }
    pub fn p(&self, local: &str) -> String {
        format!("{}:{local}", self.wsmv)
    }
    pub fn n(&self, local: &str) -> String {
        format!("{}:{local}", self.enumeration)
    }
}

pub(crate) fn write_selectors(w: &mut Writer<'_>, p: &Prefixes, selectors: &[Selector]) {
    let set = p.w("SelectorSet");
    let sel = p.w("Selector");
    w.open(&set, &[]);
    for s in selectors {
        w.leaf(&sel, &[("Name", &s.name)], &s.value);
    }
    w.close(&set);
}

pub(crate) fn write_header(w: &mut Writer<'_>, p: &Prefixes, h: &Header) {
    let mu_true: &[(&str, &str)] = if p.request { &[("s:mustUnderstand", "true")] } else { &[] };
    let mu_false: &[(&str, &str)] = if p.request { &[("s:mustUnderstand", "false")] } else { &[] };
    w.raw("<s:Header>");
    w.leaf(&p.a("Action"), mu_true, &h.action);
    if let Some(l) = &h.data_locale {
        let mut attrs = mu_false.to_vec();
        attrs.push(("xml:lang", l));
        w.empty(&p.p("DataLocale"), &attrs);
    }
    if let Some(l) = &h.locale {
        let mut attrs = mu_false.to_vec();
        attrs.push(("xml:lang", l));
        w.empty(&p.w("Locale"), &attrs);
    }
    if let Some(m) = h.max_envelope_size {
        w.leaf(&p.w("MaxEnvelopeSize"), mu_true, &m.to_string());
    }
    if let Some(m) = &h.message_id {
        w.leaf(&p.a("MessageID"), &[], m);
    }
    if let Some(a) = &h.activity_id {
        w.leaf(&p.p("ActivityId"), &[], a);
    }
    if let Some(t) = h.operation_timeout {
        w.leaf(&p.w("OperationTimeout"), &[], &t.to_seconds_string());
    }
    if let Some(r) = &h.reply_to {
        w.open(&p.a("ReplyTo"), &[]);
        w.leaf(&p.a("Address"), mu_true, r);
        w.close(&p.a("ReplyTo"));
    }
    if let Some(r) = &h.resource_uri {
        w.leaf(&p.w("ResourceURI"), mu_true, r);
    }
    if let Some(s) = &h.session_id {
        w.leaf(&p.p("SessionId"), mu_false, s);
    }
    if let Some(o) = &h.operation_id {
        w.leaf(&p.p("OperationID"), mu_false, o);
    }
    if let Some(s) = h.sequence_id {
        w.leaf(&p.p("SequenceId"), &[], &s.to_string());
    }
    if let Some(c) = &h.compression_type {
        w.leaf("rsp:CompressionType", mu_true, c);
    }
    if let Some(t) = &h.to {
        w.leaf(&p.a("To"), &[], t);
    }
    if let Some(r) = &h.relates_to {
        w.leaf(&p.a("RelatesTo"), &[], r);
    }
    if !h.options.is_empty() {
        w.open(&p.w("OptionSet"), mu_true);
        let opt = p.w("Option");
        for o in &h.options {
            if o.must_comply {
                w.leaf(&opt, &[("MustComply", "true"), ("Name", &o.name)], &o.value);
            } else {
                w.leaf(&opt, &[("Name", &o.name)], &o.value);
            }
        }
        w.close(&p.w("OptionSet"));
    }
    if !h.selectors.is_empty() {
        write_selectors(w, p, &h.selectors);
    }
}
