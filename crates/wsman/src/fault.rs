//! SOAP 1.2 faults with the WS-Management `f:WSManFault` detail: parsing (client), building with Windows' texts
//! and subcodes (server), and a typed [`FaultKind`].

use std::fmt;

use crate::error::EnvelopeError;
use crate::header::{QualifiedName, action, ns};
use crate::xml::{Element, Writer, XMLNS};

/// The kind of a fault, from its `f:WSManFault/@Code` (or its subcode when the code is absent or unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FaultKind {
    /// 0x80338029 `ERROR_WSMAN_OPERATION_TIMEDOUT` (`w:TimedOut`): a Receive had no data; retry.
    TimedOut,
    /// 0x8033805B `ERROR_WSMAN_UNEXPECTED_SELECTORS` (`w:InvalidSelectors`): unknown ShellId/CommandId.
    InvalidSelectors,
    /// 0x8033800F `ERROR_WSMAN_INVALID_MESSAGE_INFORMATION_HEADER` (`a:InvalidMessageInformationHeader`).
    InvalidHeader,
    /// 0x80338010 `ERROR_WSMAN_SOAP_FAULT_MUST_UNDERSTAND` (`s:MustUnderstand`).
    NotUnderstood,
    /// 0x80338013 `ERROR_WSMAN_ACTION_NOT_SUPPORTED` (`a:ActionNotSupported`).
    ActionNotSupported,
    /// 0x80338035 `ERROR_WSMAN_ENCODING_LIMIT` (`w:EncodingLimit`).
    EncodingLimit,
    /// 0x803381C4 `ERROR_WINRS_SHELL_DISCONNECTED`.
    ShellDisconnected,
    /// 0x803381C6 `ERROR_WINRS_SHELL_CLIENTSESSIONID_MISMATCH`.
    ClientSessionIdMismatch,
    /// 0x803381CD `ERROR_WINRS_SHELL_CONNECTED_TO_DIFFERENT_CLIENT`.
    ConnectedToDifferentClient,
    /// 0x803381D6: Command with a CommandId that exists already.
    CommandIdConflict,
    /// 0x803381D7 `ERROR_WINRS_SHELL_CLIENTID_RESOURCE_CONFLICT`: the ShellId exists already.
    ShellIdConflict,
    /// 0x80540FA3 PowerShell plugin `PluginConnectOperationFailed`.
    PluginConnectFailed,
    /// 0x80540BC5 PowerShell plugin `ProtocolVersionNotMatch`.
    ProtocolVersionMismatch,
    /// 5 / 0x80070005 access denied (`w:AccessDenied`).
    AccessDenied,
    /// 87 invalid parameter (`w:InvalidParameter`).
    InvalidParameter,
    /// `w:InternalError` with no more specific code.
    InternalError,
    /// Any other code.
    Other(u32),
}

impl FaultKind {
    /// The `f:WSManFault/@Code` of the kind (`None` for [`FaultKind::InternalError`], which has no single code).
    pub fn code(self) -> Option<u32> {
        Some(match self {
            FaultKind::TimedOut => 0x8033_8029,
            FaultKind::InvalidSelectors => 0x8033_805B,
            FaultKind::InvalidHeader => 0x8033_800F,
            FaultKind::NotUnderstood => 0x8033_8010,
            FaultKind::ActionNotSupported => 0x8033_8013,
            FaultKind::EncodingLimit => 0x8033_8035,
            FaultKind::ShellDisconnected => 0x8033_81C4,
            FaultKind::ClientSessionIdMismatch => 0x8033_81C6,
            FaultKind::ConnectedToDifferentClient => 0x8033_81CD,
            FaultKind::CommandIdConflict => 0x8033_81D6,
            FaultKind::ShellIdConflict => 0x8033_81D7,
            FaultKind::PluginConnectFailed => 0x8054_0FA3,
            FaultKind::ProtocolVersionMismatch => 0x8054_0BC5,
            FaultKind::AccessDenied => 5,
            FaultKind::InvalidParameter => 87,
            FaultKind::InternalError => return None,
            FaultKind::Other(c) => c,
        })
    }

    /// The kind of a known code, `None` otherwise.
    pub fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            0x8033_8029 => FaultKind::TimedOut,
            0x8033_805B => FaultKind::InvalidSelectors,
            0x8033_800F => FaultKind::InvalidHeader,
            0x8033_8010 => FaultKind::NotUnderstood,
            0x8033_8013 => FaultKind::ActionNotSupported,
            0x8033_8035 => FaultKind::EncodingLimit,
            0x8033_81C4 => FaultKind::ShellDisconnected,
            0x8033_81C6 => FaultKind::ClientSessionIdMismatch,
            0x8033_81CD => FaultKind::ConnectedToDifferentClient,
            0x8033_81D6 => FaultKind::CommandIdConflict,
            0x8033_81D7 => FaultKind::ShellIdConflict,
            0x8054_0FA3 => FaultKind::PluginConnectFailed,
            0x8054_0BC5 => FaultKind::ProtocolVersionMismatch,
            5 | 0x8007_0005 => FaultKind::AccessDenied,
            87 | 0x8007_0057 => FaultKind::InvalidParameter,
            _ => return None,
        })
    }

    fn from_subcode(code: &str, subcode: Option<&str>) -> Option<Self> {
        if code == "MustUnderstand" {
            return Some(FaultKind::NotUnderstood);
        }
        Some(match subcode? {
            "TimedOut" => FaultKind::TimedOut,
            "InvalidSelectors" => FaultKind::InvalidSelectors,
            "InvalidMessageInformationHeader" => FaultKind::InvalidHeader,
            "ActionNotSupported" => FaultKind::ActionNotSupported,
            "EncodingLimit" => FaultKind::EncodingLimit,
            "AccessDenied" => FaultKind::AccessDenied,
            "InvalidParameter" => FaultKind::InvalidParameter,
            "InternalError" => FaultKind::InternalError,
            _ => return None,
        })
    }
}

/// `f:ProviderFault`: an error raised by a plugin (`microsoft.powershell`, `Shell provider`, …).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProviderFault {
    /// The `provider` attribute.
    pub provider: String,
    /// The `path` attribute.
    pub path: String,
    /// The message: the element's text, or the nested `f:WSManFault/f:Message`.
    pub text: String,
    /// `Code` of a nested `f:WSManFault` (WinRM's shell provider nests one; the PowerShell plugin does not).
    pub nested_code: Option<u32>,
    /// `Machine` of the nested `f:WSManFault`.
    pub nested_machine: Option<String>,
}

/// A SOAP fault of a WS-Management response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WsmanFault {
    /// `s:Code/s:Value`, local part (`Sender`, `Receiver`, `MustUnderstand`).
    pub code: String,
    /// `s:Subcode/s:Value`, local part (`TimedOut`, `InvalidSelectors`, …).
    pub subcode: Option<String>,
    /// `s:Reason/s:Text`.
    pub reason: String,
    /// `w:FaultDetail` URI.
    pub fault_detail: Option<String>,
    /// `f:WSManFault/@Code`.
    pub wsman_code: Option<u32>,
    /// `f:WSManFault/@Machine`.
    pub machine: Option<String>,
    /// The text of `f:Message` (when it holds text rather than a provider fault).
    pub message: Option<String>,
    /// `f:Message/f:ProviderFault`.
    pub provider: Option<Box<ProviderFault>>,
    /// The header named by `s:NotUnderstood/@qname` (MustUnderstand faults).
    pub not_understood: Option<QualifiedName>,
}

/// Subcodes in the WS-Addressing namespace (all others are WS-Management's).
const ADDRESSING_SUBCODES: [&str; 5] = [
    "InvalidMessageInformationHeader",
    "ActionNotSupported",
    "DestinationUnreachable",
    "EndpointUnavailable",
    "MessageInformationHeaderRequired",
];

fn local_of_qname(text: &str) -> String {
    let t = text.trim();
    t.rsplit_once(':').map_or(t, |(_, l)| l).to_owned()
}

const TEXT_TIMED_OUT: &str =
    "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  ";
const TEXT_INVALID_SELECTORS: &str = "The WS-Management service cannot process the request because the request contained invalid selectors for the resource. ";
const TEXT_INVALID_HEADERS: &str =
    "The WS-Management service cannot process the request. The request contains one or more invalid SOAP headers. ";
const TEXT_UNKNOWN_COMMAND: &str = "The Windows Remote Shell received a request to perform an operation on a command identifier that does not exist. Either the command has completed execution or the client specified an invalid command identifier. ";
const TEXT_MUST_UNDERSTAND: &str = "The WS-Management service cannot process a SOAP header in the request that is marked as mustUnderstand by the client. This could be caused by the use of a version of the protocol which is not supported, or may be an incompatibility between the client and server implementations. ";
const TEXT_ACTION_NOT_SUPPORTED: &str =
    "The WS-Management service does not support the action specified in the request. ";
const TEXT_ENCODING_LIMIT: &str = "The WS-Management service cannot process the request because the encoding of the request exceeds an internal encoding limit. Reconfigure the client to send messages which fit the encoding limits of the service. ";
const TEXT_ACCESS_DENIED: &str = "Access is denied. ";
/// The PowerShell plugin's path in provider faults.
const PWRSHPLUGIN: &str = "C:\\WINDOWS\\system32\\pwrshplugin.dll";

impl WsmanFault {
    /// The kind: by `f:WSManFault/@Code` when known, else by subcode, else `Other(code)` / `InternalError`.
    pub fn kind(&self) -> FaultKind {
        if let Some(k) = self.wsman_code.and_then(FaultKind::from_code) {
            return k;
        }
        if let Some(k) = FaultKind::from_subcode(&self.code, self.subcode.as_deref()) {
            return k;
        }
        match self.wsman_code {
            Some(c) => FaultKind::Other(c),
            None => FaultKind::InternalError,
        }
    }

    /// The most specific message: the provider's text, else `f:Message`, else the reason.
    pub fn text(&self) -> &str {
        if let Some(p) = &self.provider {
            return p.text.trim();
        }
        self.message.as_deref().unwrap_or(&self.reason).trim()
    }

    /// The Action header for this fault's response (addressing subcodes → the WS-Addressing fault action).
    pub fn action(&self) -> &'static str {
        match &self.subcode {
            Some(s) if ADDRESSING_SUBCODES.contains(&s.as_str()) => action::FAULT_ADDRESSING,
            _ => action::FAULT_WSMAN,
        }
    }

    fn base(code: &str, subcode: Option<&str>, reason: &str, kind_code: u32, machine: &str) -> Self {
        WsmanFault {
            code: code.to_owned(),
            subcode: subcode.map(str::to_owned),
            reason: reason.to_owned(),
            fault_detail: None,
            wsman_code: Some(kind_code),
            machine: Some(machine.to_owned()),
            message: Some(reason.to_owned()),
            provider: None,
            not_understood: None,
        }
    }

    fn with_message(mut self, message: String) -> Self {
        self.message = Some(message);
        self
    }

    /// `w:TimedOut` (0x80338029): a Receive had no output within OperationTimeout.
    pub fn timed_out(machine: &str) -> Self {
        Self::base("Receiver", Some("TimedOut"), TEXT_TIMED_OUT, 0x8033_8029, machine)
    }

    fn selectors(message: String, machine: &str) -> Self {
        let mut f = Self::base("Sender", Some("InvalidSelectors"), TEXT_INVALID_SELECTORS, 0x8033_805B, machine)
            .with_message(message);
        f.fault_detail = Some("http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors".into());
        f
    }

    /// `w:InvalidSelectors` (0x8033805B) for an unknown ShellId.
    pub fn invalid_selectors_shell(shell_id: &str, machine: &str) -> Self {
        Self::selectors(
            format!(
                "The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was not \
                 found on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer \
                 exists on the server. Provide the correct ShellId or create a new shell and retry the operation. "
            ),
            machine,
        )
    }

    /// `w:InvalidSelectors` (0x8033805B) as Windows answers a Get on an unknown shell: the generic text nested in a
    /// `Shell provider` provider fault.
    pub fn invalid_selectors_get(machine: &str) -> Self {
        let mut f = Self::selectors(String::new(), machine);
        f.message = None;
        f.provider = Some(Box::new(ProviderFault {
            provider: "Shell provider".into(),
            path: "%systemroot%\\system32\\WsmSvc.dll".into(),
            text: TEXT_INVALID_SELECTORS.into(),
            nested_code: Some(0x8033_805B),
            nested_machine: Some(machine.to_owned()),
        }));
        f
    }

    /// `w:InvalidSelectors` (0x8033805B) for an unknown CommandId.
    pub fn invalid_selectors_command(machine: &str) -> Self {
        Self::selectors(TEXT_UNKNOWN_COMMAND.to_owned(), machine)
    }

    /// `a:InvalidMessageInformationHeader` (0x8033800F) for an invalid `OperationTimeout` value.
    pub fn invalid_timeout_header(value: &str, machine: &str) -> Self {
        Self::base("Sender", Some("InvalidMessageInformationHeader"), TEXT_INVALID_HEADERS, 0x8033_800F, machine)
            .with_message(format!(
                "The WS-Management service cannot process the request. The XML contains an invalid timeout field in \
                 the SOAP header: {value}. "
            ))
    }

    /// `a:InvalidMessageInformationHeader` (0x8033800F) for another invalid header.
    pub fn invalid_header(machine: &str) -> Self {
        Self::base("Sender", Some("InvalidMessageInformationHeader"), TEXT_INVALID_HEADERS, 0x8033_800F, machine)
    }

    /// 0x803381C4: an operation other than Disconnect/Reconnect/Connect/Delete/Get/Enumerate on a disconnected shell.
    pub fn shell_disconnected(shell_id: &str, machine: &str) -> Self {
        Self::base(
            "Receiver",
            Some("InternalError"),
            &format!(
                "The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell is \
                 disconnected. Reconnect to the shell and retry the operation. "
            ),
            0x8033_81C4,
            machine,
        )
    }

    /// 0x803381CD: the shell is connected to another client.
    pub fn connected_to_different_client(shell_id: &str, machine: &str) -> Self {
        Self::base(
            "Receiver",
            Some("InternalError"),
            &format!(
                "The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell is \
                 already connected to a different client. "
            ),
            0x8033_81CD,
            machine,
        )
    }

    /// 0x803381C6: the request's SessionId does not own the shell.
    pub fn client_session_id_mismatch(shell_id: &str, machine: &str) -> Self {
        Self::base(
            "Receiver",
            Some("InternalError"),
            &format!(
                "The request for the Windows Remote Shell with ShellId {shell_id} failed because the client \
                 session identifier does not match the session that owns the shell. "
            ),
            0x8033_81C6,
            machine,
        )
    }

    /// 0x803381D7: Create with a ShellId that exists already.
    pub fn shell_id_conflict(shell_id: &str, machine: &str) -> Self {
        Self::base(
            "Receiver",
            Some("InternalError"),
            &format!("A shell with ShellId {shell_id} already exists on the server. "),
            0x8033_81D7,
            machine,
        )
    }

    fn plugin(code: u32, text: &str, machine: &str) -> Self {
        let mut f = Self::base("Receiver", Some("InternalError"), text, code, machine);
        f.message = None;
        f.provider = Some(Box::new(ProviderFault {
            provider: "microsoft.powershell".into(),
            path: PWRSHPLUGIN.into(),
            text: text.to_owned(),
            nested_code: None,
            nested_machine: None,
        }));
        f
    }

    /// 0x80540FA3: the PowerShell plugin refused `connectXml`; `text` is the plugin's message.
    pub fn plugin_connect_failed(text: &str, machine: &str) -> Self {
        Self::plugin(0x8054_0FA3, text, machine)
    }

    /// 0x80540BC5: the client's `protocolversion` is not supported.
    pub fn protocol_version_mismatch(server_version: &str, machine: &str) -> Self {
        let text = format!(
            "The WinRM plugin for PowerShell cannot process the request because the client protocol version does not \
             match: the server supports protocol version {server_version}. "
        );
        Self::plugin(0x8054_0BC5, &text, machine)
    }

    /// `w:AccessDenied` (5).
    pub fn access_denied(machine: &str) -> Self {
        Self::base("Sender", Some("AccessDenied"), TEXT_ACCESS_DENIED, 5, machine)
    }

    /// `w:EncodingLimit` (0x80338035): the envelope exceeds MaxEnvelopeSize, or MaxEnvelopeSize is too small.
    pub fn encoding_limit(machine: &str) -> Self {
        Self::base("Sender", Some("EncodingLimit"), TEXT_ENCODING_LIMIT, 0x8033_8035, machine)
    }

    /// `a:ActionNotSupported` (0x80338013).
    pub fn action_not_supported(machine: &str) -> Self {
        Self::base("Sender", Some("ActionNotSupported"), TEXT_ACTION_NOT_SUPPORTED, 0x8033_8013, machine)
    }

    /// `a:ActionNotSupported` (0x80338013) naming the Action asked for and the ResourceURI it addressed, so a
    /// client's user sees what was refused (pywinrm shows the reason text only).
    pub fn action_not_supported_for(action: &str, resource_uri: Option<&str>, machine: &str) -> Self {
        let text = format!(
            "The WS-Management service does not support the action {} (ResourceURI {}). ",
            action.trim(),
            resource_uri.map_or("(none)", str::trim)
        );
        Self::base("Sender", Some("ActionNotSupported"), &text, 0x8033_8013, machine)
    }

    /// `a:ActionNotSupported` (0x80338013) for a ResourceURI no plugin of this endpoint serves.
    pub fn resource_not_supported(action: &str, resource_uri: Option<&str>, machine: &str) -> Self {
        let text = format!(
            "The WS-Management service cannot process the action {} because no plugin serves the ResourceURI {}. \
             This endpoint serves PowerShell remoting: http://schemas.microsoft.com/powershell/<configuration>. ",
            action.trim(),
            resource_uri.map_or("(none)", str::trim)
        );
        Self::base("Sender", Some("ActionNotSupported"), &text, 0x8033_8013, machine)
    }

    /// `a:ActionNotSupported` (0x80338013) for a Create of the cmd shell (WinRS; pywinrm's `run_cmd` and
    /// `run_ps`), which an endpoint serving only PowerShell remoting does not provide.
    pub fn cmd_shell_not_provided(resource_uri: &str, machine: &str) -> Self {
        let text = format!(
            "The WS-Management service cannot create a shell for the ResourceURI {}: the cmd shell (WinRS) is not \
             provided by this endpoint. It serves PowerShell remoting only \
             (http://schemas.microsoft.com/powershell/<configuration>): use a PowerShell remoting client such as \
             pypsrp or Enter-PSSession. ",
            resource_uri.trim()
        );
        Self::base("Sender", Some("ActionNotSupported"), &text, 0x8033_8013, machine)
    }

    /// SOAP `s:MustUnderstand` (0x80338010) for a header this server does not understand.
    pub fn not_understood(header: QualifiedName, machine: &str) -> Self {
        let mut f = Self::base("MustUnderstand", None, TEXT_MUST_UNDERSTAND, 0x8033_8010, machine);
        f.not_understood = Some(header);
        f
    }

    /// `w:InternalError` with a Windows error `code` and `text`.
    pub fn internal_error(code: u32, text: &str, machine: &str) -> Self {
        Self::base("Receiver", Some("InternalError"), text, code, machine)
    }

    pub(crate) fn parse(fault: &Element, header: Option<&Element>) -> Result<Self, EnvelopeError> {
        let code_el = fault.child(ns::SOAP, "Code").ok_or(EnvelopeError::MissingElement("Fault/Code"))?;
        let code = local_of_qname(code_el.child_text(ns::SOAP, "Value").unwrap_or_default());
        let subcode =
            code_el.child(ns::SOAP, "Subcode").and_then(|s| s.child_text(ns::SOAP, "Value")).map(local_of_qname);
        let reason =
            fault.child(ns::SOAP, "Reason").and_then(|r| r.child_text(ns::SOAP, "Text")).unwrap_or_default().to_owned();
        let mut f = WsmanFault { code, subcode, reason, ..WsmanFault::default() };
        if let Some(detail) = fault.child(ns::SOAP, "Detail") {
            f.fault_detail = detail.child_text(ns::WSMAN, "FaultDetail").map(|t| t.trim().to_owned());
            if let Some(wf) = detail.child(ns::FAULT, "WSManFault") {
                f.wsman_code = wf.attr("Code").and_then(|c| c.trim().parse().ok());
                f.machine = wf.attr("Machine").map(str::to_owned);
                if let Some(msg) = wf.child(ns::FAULT, "Message") {
                    if let Some(pf) = msg.child(ns::FAULT, "ProviderFault") {
                        let nested = pf.child(ns::FAULT, "WSManFault");
                        let nested_text = nested.and_then(|n| n.child_text(ns::FAULT, "Message")).map(str::to_owned);
                        f.provider = Some(Box::new(ProviderFault {
                            provider: pf.attr("provider").unwrap_or_default().to_owned(),
                            path: pf.attr("path").unwrap_or_default().to_owned(),
                            text: nested_text.unwrap_or_else(|| pf.text.clone()),
                            nested_code: nested.and_then(|n| n.attr("Code")).and_then(|c| c.trim().parse().ok()),
                            nested_machine: nested.and_then(|n| n.attr("Machine")).map(str::to_owned),
                        }));
                    } else {
                        f.message = Some(msg.text.clone());
                    }
                }
            }
        }
        if let Some(nu) = header.and_then(|h| h.child(ns::SOAP, "NotUnderstood")) {
            f.not_understood = nu.attr("qname").map(|q| {
                let (prefix, local) = q.trim().split_once(':').unwrap_or(("", q.trim()));
                QualifiedName {
                    namespace: nu.attr_ns(XMLNS, prefix).unwrap_or_default().to_owned(),
                    local: local.to_owned(),
                }
            });
        }
        Ok(f)
    }

    /// Writes the `s:NotUnderstood` header block (inside `s:Header`) when this is a MustUnderstand fault.
    pub(crate) fn write_header_block(&self, w: &mut Writer<'_>) {
        if let Some(q) = &self.not_understood {
            let qname = format!("nu:{}", q.local);
            w.empty("s:NotUnderstood", &[("qname", &qname), ("xmlns:nu", &q.namespace)]);
        }
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.raw("<s:Fault><s:Code><s:Value>s:");
        w.text(&self.code);
        w.raw("</s:Value>");
        if let Some(sub) = &self.subcode {
            let prefix = if ADDRESSING_SUBCODES.contains(&sub.as_str()) { "a" } else { "w" };
            w.raw("<s:Subcode><s:Value>");
            w.raw(prefix);
            w.raw(":");
            w.text(sub);
            w.raw("</s:Value></s:Subcode>");
        }
        w.raw("</s:Code><s:Reason>");
        w.leaf("s:Text", &[("xml:lang", "en-US")], &self.reason);
        w.raw("</s:Reason>");
        let has_detail = self.fault_detail.is_some() || self.wsman_code.is_some() || self.machine.is_some();
        if has_detail {
            w.raw("<s:Detail>");
            w.opt_leaf("w:FaultDetail", self.fault_detail.as_deref());
            let code = self.wsman_code.map(|c| c.to_string());
            let mut attrs: Vec<(&str, &str)> = vec![("xmlns:f", ns::FAULT)];
            if let Some(c) = &code {
                attrs.push(("Code", c));
            }
            if let Some(m) = &self.machine {
                attrs.push(("Machine", m));
            }
            w.open("f:WSManFault", &attrs);
            if let Some(p) = &self.provider {
                w.open("f:Message", &[]);
                let attrs = [("provider", p.provider.as_str()), ("path", p.path.as_str())];
                if p.nested_code.is_some() || p.nested_machine.is_some() {
                    w.open("f:ProviderFault", &attrs);
                    let code = p.nested_code.map(|c| c.to_string());
                    let mut nested: Vec<(&str, &str)> = vec![("xmlns:f", ns::FAULT)];
                    if let Some(c) = &code {
                        nested.push(("Code", c));
                    }
                    if let Some(m) = &p.nested_machine {
                        nested.push(("Machine", m));
                    }
                    w.open("f:WSManFault", &nested);
                    w.leaf("f:Message", &[], &p.text);
                    w.close("f:WSManFault");
                    w.close("f:ProviderFault");
                } else {
                    w.leaf("f:ProviderFault", &attrs, &p.text);
                }
                w.close("f:Message");
            } else if let Some(m) = &self.message {
                w.leaf("f:Message", &[], m);
            }
            w.close("f:WSManFault");
            w.raw("</s:Detail>");
        }
        w.raw("</s:Fault>");
    }
}

impl fmt::Display for WsmanFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.wsman_code {
            Some(c) => write!(f, "WS-Management fault 0x{c:08X}: {}", self.text()),
            None => write!(f, "SOAP fault {}: {}", self.subcode.as_deref().unwrap_or(&self.code), self.text()),
        }
    }
}

impl std::error::Error for WsmanFault {}
