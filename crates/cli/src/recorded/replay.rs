//! Replaying a recorded trace against the library: [`Replay`] is a [`WsmanExchange`] that answers each request
//! with the next recorded response, after checking that the request is semantically the recorded one.
//!
//! A request matches the next recorded exchange when it has the same Action, ResourceURI, target (ShellId and
//! CommandId, through the id map below), client identity (SessionId, as a one-to-one map between the recorded
//! SessionIds and ours), the same typed WS-Man body and the same PSRP messages (types, destinations, RPID/PID,
//! deserialized bodies). What legitimately differs is rewritten in the response served: `RelatesTo` (our
//! MessageID) and the recorded ShellIds/CommandIds (ours). Everything else must be equal, except the
//! differences of [`EXPECTED_DIFFERENCES`] — PowerShell's behaviour where the recording client (pypsrp) differs
//! (protocol.md §0) — each applied only where its exact pattern is found and recorded in
//! [`ReplayReport::differences`].
//!
//! Identifiers: [`Replay::ids`] pins the library's RunspacePool and pipeline ids to the .NET reading of the RPID
//! and PID bytes recorded in creationXml and CREATE_PIPELINE, so the PSRP messages are byte-identical in their ids;
//! the WS-Man ShellId/CommandId text is then PowerShell's (`Guid.ToString()` of the same id), which for pypsrp's
//! traces is the byte-swapped form of what it sent ([`Difference::GuidByteOrder`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use pssession_psrp::clixml::PsValue;
use pssession_psrp::message::UTF8_BOM;
use pssession_psrp::messages::{MessageBody, PublicKey};
use pssession_psrp::session_key::{SessionKey, parse_public_key_blob};
use pssession_psrp::{Fragment, Message, MessageType};
use pssession_wsman::envelope::{Request, RequestBody};
use pssession_wsman::ops::SignalCode;
use uuid::Uuid;

use super::decode::{DecodedMessage, Decoder, parse_request_lenient, request_target};
use super::{RawExchange, Trace, TraceError};
use pssession_connect::exchange::{ExchangeFuture, Response, TransportError, WsmanExchange};
use pssession_connect::ids::{FixedIds, IdPurpose};

/// A difference between our requests and the recorded ones that is expected, because the recording client
/// (pypsrp) does not do what PowerShell does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Difference {
    /// Our Create carries the session name (`rsp:Shell/@Name`, as PowerShell sends it); pypsrp's does not. The
    /// replay adds `<rsp:Name>` to the recorded CreateResponse and Enumerate items of that shell, as Windows
    /// does for a named shell.
    NameOnCreate,
    /// The recorded ShellId/CommandId is the RFC-4122 reading of the RPID/PID bytes pypsrp wrote; ours is the
    /// .NET reading (`Guid.ToByteArray()`), so the WS-Man ids are byte-swapped forms of each other.
    GuidByteOrder,
    /// Our PSRP bodies start with a UTF-8 BOM (PowerShell's XmlWriter); pypsrp's do not.
    Bom,
    /// Our CONNECT_RUNSPACEPOOL carries MinRunspaces/MaxRunspaces (1/1 for a PSSession); pypsrp sends `<S />`.
    ConnectRunspacePoolMinMax,
    /// Our stop signal is `powershell/signal/crtl_c` (PowerShell's spelling); pypsrp sends `ctrl_c`.
    StopSignalCode,
    /// After a command reports Done we release it with Signal Terminate, as PowerShell does; pypsrp did not,
    /// so the replay answers it with Windows' SignalResponse.
    TerminateAfterDone,
    /// Our Command carries the command line in `rsp:Command` (PowerShell sends it; it is what Get-PSSession
    /// lists as a command's CommandLine); pypsrp sends none.
    CommandLineText,
    /// pypsrp sends `protocolversion` on Connect; PowerShell's connect omits the OptionSet (protocol.md §1.3).
    ConnectWithoutOptionSet,
    /// A recorded exchange the library does not make (listed with its index by the scenario via
    /// [`Replay::pypsrp_only`]).
    PypsrpOnlyExchange,
    /// Our PUBLIC_KEY carries our own fresh RSA key (pypsrp's test pinned its key pair), so the recorded
    /// ENCRYPTED_SESSION_KEY, made for pypsrp's key, cannot be opened by us: the replay serves the scenario's
    /// session key ([`Replay::with_session_key`]) encrypted for our key in its place.
    ClientPublicKey,
}

/// Every expected difference with its explanation.
pub const EXPECTED_DIFFERENCES: &[(Difference, &str)] = &[
    (Difference::NameOnCreate, "Name attribute on Create (PowerShell sends it; pypsrp does not)"),
    (Difference::GuidByteOrder, "ShellId/CommandId vs RPID/PID: .NET Guid.ToByteArray order (pypsrp used RFC order)"),
    (Difference::Bom, "UTF-8 BOM before CLIXML bodies (PowerShell writes it; pypsrp does not)"),
    (Difference::ConnectRunspacePoolMinMax, "CONNECT_RUNSPACEPOOL with MinRunspaces/MaxRunspaces instead of <S />"),
    (Difference::StopSignalCode, "stop signal powershell/signal/crtl_c (PowerShell) vs ctrl_c (pypsrp)"),
    (Difference::TerminateAfterDone, "Signal Terminate after a command is Done (PowerShell releases the command)"),
    (Difference::CommandLineText, "rsp:Command carries the command line (PowerShell) instead of nothing (pypsrp)"),
    (Difference::ConnectWithoutOptionSet, "Connect without the protocolversion OptionSet"),
    (Difference::PypsrpOnlyExchange, "an exchange pypsrp made that the PowerShell flow does not"),
    (
        Difference::ClientPublicKey,
        "our own RSA key in PUBLIC_KEY; ENCRYPTED_SESSION_KEY re-encrypted for it with the scenario's session key",
    ),
];

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = EXPECTED_DIFFERENCES.iter().find(|(d, _)| d == self).map_or("?", |(_, t)| t);
        f.write_str(text)
    }
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Recorded exchanges served, by index.
    pub served: Vec<usize>,
    /// Expected differences applied, with the recorded exchange index (`None` for a request the library made
    /// that has no recorded counterpart).
    pub differences: BTreeSet<(Option<usize>, Difference)>,
    /// Requests that did not match, with the reason.
    pub mismatches: Vec<String>,
    /// Recorded exchanges never reached.
    pub unused: Vec<usize>,
    /// Recorded exchanges declared pypsrp-only, with the scenario's reason.
    pub pypsrp_only: Vec<(usize, &'static str)>,
}

impl ReplayReport {
    /// The distinct differences applied.
    pub fn difference_kinds(&self) -> BTreeSet<Difference> {
        self.differences.iter().map(|(_, d)| *d).collect()
    }
}

const SIGNAL_RESPONSE: &str = concat!(
    "<s:Envelope xml:lang=\"en-US\" xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" ",
    "xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" ",
    "xmlns:rsp=\"http://schemas.microsoft.com/wbem/wsman/1/windows/shell\"><s:Header>",
    "<a:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SignalResponse</a:Action>",
    "<a:MessageID>uuid:00000000-0000-0000-0000-000000000000</a:MessageID>",
    "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>",
    "<a:RelatesTo>RELATES_TO</a:RelatesTo></s:Header><s:Body><rsp:SignalResponse/></s:Body></s:Envelope>"
);

#[derive(Debug)]
struct State {
    recorded: Vec<RawExchange>,
    next: usize,
    pypsrp_only: BTreeMap<usize, &'static str>,
    /// Recorded id text (upper case) → ours.
    id_map: BTreeMap<String, String>,
    /// Recorded SessionId → ours, and the reverse.
    sessions: BTreeMap<String, String>,
    names: BTreeMap<String, String>,
    recorded_decoder: Decoder,
    our_decoder: Decoder,
    report: ReplayReport,
    endpoint: String,
    /// The session key the replayed server shares with our client, if the scenario set one.
    session_key: Option<SessionKey>,
    /// Our PUBLIC_KEY, once it differed from the recorded one.
    our_public_key: Option<PublicKey>,
}

/// A replay of one trace, shared by every client of a scenario (each gets a [`Replay::transport`]).
#[derive(Debug, Clone)]
pub struct Replay {
    state: Arc<Mutex<State>>,
    pools: Vec<Uuid>,
    pipelines: Vec<Uuid>,
}

fn upper(id: &str) -> String {
    id.trim().to_uppercase()
}

fn id_text(id: Uuid) -> String {
    id.hyphenated().to_string().to_uppercase()
}

/// The .NET reading of bytes written in RFC-4122 order.
fn dotnet_reading(id: Uuid) -> Uuid {
    Uuid::from_bytes_le(*id.as_bytes())
}

impl Replay {
    /// Prepares the replay of `trace`; `endpoint` is what the transports report as their address.
    pub fn new(trace: &Trace, endpoint: &str) -> Result<Replay, TraceError> {
        let decoded = super::decode(trace);
        if let Some(problem) = decoded.problems.first() {
            return Err(TraceError(format!("the trace does not decode: {problem}")));
        }
        let mut pools = Vec::new();
        let mut pipelines = Vec::new();
        let mut id_map = BTreeMap::new();
        for x in &decoded.exchanges {
            let Some(request) = &x.request else { continue };
            let pinned = |messages: &[DecodedMessage], wanted: MessageType| {
                messages.iter().find(|m| m.message_type == wanted).map(|m| (m.rpid, m.pid))
            };
            if request.action.ends_with("/Create")
                && let Some((rpid, _)) = pinned(&request.messages, MessageType::InitRunspacePool)
            {
                let recorded = x.response.as_ref().and_then(|r| r.shell_id.clone()).or(request.shell_id.clone());
                pools.push(rpid);
                if let Some(recorded) = recorded {
                    id_map.insert(upper(&recorded), id_text(rpid));
                }
            }
            if request.action.ends_with("/Command")
                && let Some((_, pid)) = pinned(&request.messages, MessageType::CreatePipeline)
            {
                let recorded = x.response.as_ref().and_then(|r| r.command_id.clone()).or(request.command_id.clone());
                pipelines.push(pid);
                if let Some(recorded) = recorded {
                    id_map.insert(upper(&recorded), id_text(pid));
                }
            }
        }
        // Every mapped pair is either identical or the GUID byte-order pair; nothing else is accepted.
        for (recorded, ours) in &id_map {
            let ours_id = Uuid::parse_str(ours).map_err(|e| TraceError(e.to_string()))?;
            let recorded_id = Uuid::parse_str(recorded).map_err(|e| TraceError(e.to_string()))?;
            if recorded_id != ours_id && dotnet_reading(recorded_id) != ours_id {
                return Err(TraceError(format!(
                    "recorded id {recorded} is neither the PSRP id {ours} nor its .NET byte-order reading"
                )));
            }
        }
        let state = State {
            recorded: trace.exchanges.clone(),
            next: 0,
            pypsrp_only: BTreeMap::new(),
            id_map,
            sessions: BTreeMap::new(),
            names: BTreeMap::new(),
            recorded_decoder: Decoder::default(),
            our_decoder: Decoder::default(),
            report: ReplayReport::default(),
            endpoint: endpoint.to_owned(),
            session_key: None,
            our_public_key: None,
        };
        Ok(Replay { state: Arc::new(Mutex::new(state)), pools, pipelines })
    }

    /// Declares recorded exchange `index` one that pypsrp made and the library (like PowerShell) does not: it is
    /// passed over (its payloads still feed the recorded side's reassembly) and listed as
    /// [`Difference::PypsrpOnlyExchange`].
    pub fn pypsrp_only(self, index: usize, reason: &'static str) -> Self {
        self.lock().pypsrp_only.insert(index, reason);
        self
    }

    /// The session key of the SecureString exchange ([`Difference::ClientPublicKey`]): when our PUBLIC_KEY differs
    /// from the recorded one, each recorded ENCRYPTED_SESSION_KEY is served as `key` encrypted for our public key.
    /// Pass the key the recorded server chose (opened with the recording client's key pair) and every SecureString
    /// of the recording, sent or received, stays valid; without a key a differing PUBLIC_KEY is a mismatch.
    pub fn with_session_key(self, key: SessionKey) -> Self {
        self.lock().session_key = Some(key);
        self
    }

    /// Ids for the library: the recorded RunspacePool and pipeline ids, in trace order.
    pub fn ids(&self) -> FixedIds {
        FixedIds::new()
            .with(IdPurpose::RunspacePool, self.pools.iter().copied())
            .with(IdPurpose::Pipeline, self.pipelines.iter().copied())
    }

    /// A transport for one client; all transports of a replay share its position in the trace.
    pub fn transport(&self) -> Box<dyn WsmanExchange> {
        Box::new(ReplayTransport { replay: self.clone() })
    }

    /// What happened so far; recorded exchanges after the last served one (and not declared pypsrp-only) are
    /// listed as unused.
    pub fn report(&self) -> ReplayReport {
        let mut state = self.lock();
        let mut report = state.report.clone();
        let start = state.next;
        report.unused = (start..state.recorded.len()).filter(|i| !state.pypsrp_only.contains_key(i)).collect();
        report.pypsrp_only = state.pypsrp_only.iter().map(|(i, r)| (*i, *r)).collect();
        for problem in state.our_decoder.problems.drain(..) {
            report.mismatches.push(format!("our payload does not decode: {problem}"));
        }
        report
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

struct ReplayTransport {
    replay: Replay,
}

impl WsmanExchange for ReplayTransport {
    fn exchange(&mut self, envelope: Bytes) -> ExchangeFuture<'_> {
        let answer = self.replay.lock().answer(&envelope);
        Box::pin(async move { answer })
    }

    fn endpoint(&self) -> String {
        self.replay.lock().endpoint.clone()
    }
}

/// A message reduced to what must be equal.
fn describe(m: &DecodedMessage) -> String {
    format!("{} to {:?} RPID {} PID {} body {}", m.message_type, m.destination, m.rpid, m.pid, m.body.to_json())
}

fn is_min_max_object(value: &PsValue) -> bool {
    let Some(object) = value.as_object() else { return false };
    let names: Vec<&str> = object.properties().map(|p| &*p.name).collect();
    names == ["MinRunspaces", "MaxRunspaces"]
        && object.properties().all(|p| matches!(p.value, PsValue::I32(n) if n >= 1))
}

impl State {
    fn map_id(&self, recorded: &str) -> String {
        let recorded = upper(recorded);
        self.id_map.get(&recorded).cloned().unwrap_or(recorded)
    }

    fn answer(&mut self, envelope: &[u8]) -> Result<Response, TransportError> {
        match self.try_answer(envelope) {
            Ok(response) => Ok(response),
            Err(mismatch) => {
                let message = format!("replay mismatch: {mismatch}");
                self.report.mismatches.push(message.clone());
                Err(TransportError::Http(message))
            }
        }
    }

    fn try_answer(&mut self, envelope: &[u8]) -> Result<Response, String> {
        let text = std::str::from_utf8(envelope).map_err(|e| format!("our request is not UTF-8: {e}"))?;
        let mut invalid = Vec::new();
        let ours = parse_request_lenient(text, &mut invalid).map_err(|e| format!("our request does not parse: {e}"))?;
        if !invalid.is_empty() {
            return Err(format!("our request has invalid headers: {invalid:?}"));
        }
        // Skip what pypsrp did and we do not, feeding its payloads to the recorded side.
        while self.pypsrp_only.contains_key(&self.next) {
            let index = self.next;
            let raw = self.recorded[index].clone();
            self.recorded_decoder.exchange(index, &raw);
            self.report.differences.insert((Some(index), Difference::PypsrpOnlyExchange));
            self.next += 1;
        }
        let message_id = ours.header.message_id.clone().unwrap_or_default();
        let next_is_signal = self
            .recorded
            .get(self.next)
            .and_then(|x| x.request.as_deref())
            .is_some_and(|r| r.contains("/windows/shell/Signal<"));
        if let RequestBody::Signal(signal) = &ours.body
            && signal.code == SignalCode::Terminate
            && !next_is_signal
        {
            self.report.differences.insert((None, Difference::TerminateAfterDone));
            return Ok(Response { status: 200, body: Bytes::from(SIGNAL_RESPONSE.replace("RELATES_TO", &message_id)) });
        }
        let index = self.next;
        let raw = self
            .recorded
            .get(index)
            .cloned()
            .ok_or_else(|| format!("{} after the last recorded exchange", ours.header.action))?;
        self.next += 1;
        let recorded_text = raw.request.clone().ok_or_else(|| format!("exchange #{index} has no recorded request"))?;
        let mut recorded_invalid = Vec::new();
        let recorded = parse_request_lenient(&recorded_text, &mut recorded_invalid)
            .map_err(|e| format!("recorded request #{index} does not parse: {e}"))?;
        let mut differences = Vec::new();
        self.compare(&ours, &recorded, &mut differences).map_err(|e| format!("exchange #{index}: {e}"))?;

        // The response as Windows would have answered us.
        let response = match raw.response.as_ref().map(|text| self.rewrite_response(text, &message_id)) {
            Some(text) => Some(self.rewrite_session_key(text).map_err(|e| format!("exchange #{index}: {e}"))?),
            None => None,
        };
        // PSRP payloads, reassembled per side.
        let recorded_x = self.recorded_decoder.exchange(index, &raw);
        let our_raw = RawExchange {
            location: format!("ours#{index}"),
            request: Some(text.to_owned()),
            response: response.clone(),
        };
        let our_x = self.our_decoder.exchange(index, &our_raw);
        let recorded_messages = recorded_x.request.map(|r| r.messages).unwrap_or_default();
        let our_messages = our_x.request.map(|r| r.messages).unwrap_or_default();
        self.compare_messages(&our_messages, &recorded_messages, &mut differences)
            .map_err(|e| format!("exchange #{index} ({}): {e}", ours.header.action))?;
        for d in differences {
            self.report.differences.insert((Some(index), d));
        }
        self.report.served.push(index);
        match response {
            Some(body) => {
                let status = if body.contains("Fault>") { 500 } else { 200 };
                Ok(Response { status, body: Bytes::from(body) })
            }
            None => Err(format!("exchange #{index}: Windows answered with no envelope (recorded HTTP error)")),
        }
    }

    fn rewrite_response(&self, text: &str, message_id: &str) -> String {
        let mut out = text.to_owned();
        if let Some(relates) = text.split("RelatesTo>").nth(1).and_then(|s| s.split('<').next())
            && !relates.is_empty()
        {
            out = out.replace(&format!("RelatesTo>{relates}<"), &format!("RelatesTo>{message_id}<"));
        }
        for (recorded_id, ours) in &self.id_map {
            if recorded_id != ours {
                out = out.replace(recorded_id.as_str(), ours).replace(&recorded_id.to_lowercase(), ours);
            }
        }
        // Name on Create: Windows lists a shell created with a name with its <rsp:Name>.
        for (shell, name) in &self.names {
            let needle = format!("{shell}</rsp:ShellId>");
            if out.contains(&needle) && !out.contains(&format!("{needle}<rsp:Name>")) {
                out = out.replace(&needle, &format!("{needle}<rsp:Name>{name}</rsp:Name>"));
            }
        }
        out
    }

    /// Serves ENCRYPTED_SESSION_KEY for our public key ([`Difference::ClientPublicKey`]): each single-fragment
    /// ENCRYPTED_SESSION_KEY in the response's streams gets the scenario's session key encrypted for our PUBLIC_KEY
    /// as its body, with the recorded message header and fragment numbering.
    fn rewrite_session_key(&self, text: String) -> Result<String, String> {
        let (Some(key), Some(public_key)) = (&self.session_key, &self.our_public_key) else { return Ok(text) };
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(open) = rest.find("<rsp:Stream") {
            let Some(content) = rest[open..].find('>').map(|i| open + i + 1) else { break };
            let Some(close) = rest[content..].find("</rsp:Stream>").map(|i| content + i) else { break };
            out.push_str(&rest[..content]);
            let encoded = &rest[content..close];
            out.push_str(&self.rewrite_stream(encoded, key, public_key)?.unwrap_or_else(|| encoded.to_owned()));
            rest = &rest[close..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn rewrite_stream(
        &self,
        encoded: &str,
        key: &SessionKey,
        public_key: &PublicKey,
    ) -> Result<Option<String>, String> {
        let Ok(data) = base64_simd::STANDARD.decode_to_vec(encoded.trim().as_bytes()) else { return Ok(None) };
        let Ok(fragments) = Fragment::decode_all(&Bytes::from(data)) else { return Ok(None) };
        let mut changed = false;
        let mut payload = BytesMut::new();
        for mut fragment in fragments {
            let is_key = Message::decode(fragment.blob.clone())
                .is_ok_and(|m| m.message_type == MessageType::EncryptedSessionKey);
            if is_key {
                if !(fragment.start && fragment.end) {
                    return Err("ENCRYPTED_SESSION_KEY spans several fragments; the replay rewrites whole ones".into());
                }
                let recorded = Message::decode(fragment.blob.clone()).map_err(|e| e.to_string())?;
                let encrypted = key
                    .encrypt_for(&mut getrandom::SysRng, public_key)
                    .map_err(|e| format!("encrypting the session key for our PUBLIC_KEY: {e}"))?;
                // Our body in the recorded form (with or without the BOM).
                let mut body = encrypted.encode();
                if !recorded.has_bom() && body.starts_with(&UTF8_BOM) {
                    body.drain(..UTF8_BOM.len());
                }
                let message = Message::new(
                    recorded.destination,
                    recorded.message_type,
                    recorded.rpid,
                    recorded.pid,
                    Bytes::from(body),
                );
                fragment.blob = message.encode();
                changed = true;
            }
            fragment.encode_into(&mut payload).map_err(|e| e.to_string())?;
        }
        Ok(changed.then(|| base64_simd::STANDARD.encode_to_string(&payload)))
    }

    fn compare(&mut self, ours: &Request, recorded: &Request, differences: &mut Vec<Difference>) -> Result<(), String> {
        let (oh, rh) = (&ours.header, &recorded.header);
        if oh.action != rh.action {
            return Err(format!("Action {} where Windows was asked {}", oh.action, rh.action));
        }
        if oh.resource_uri != rh.resource_uri {
            return Err(format!("ResourceURI {:?} where the recording has {:?}", oh.resource_uri, rh.resource_uri));
        }
        let (our_shell, our_command) = request_target(ours);
        let (rec_shell, rec_command) = request_target(recorded);
        for (what, o, r) in [("ShellId", our_shell, rec_shell), ("CommandId", our_command, rec_command)] {
            let mapped = r.as_deref().map(|r| self.map_id(r));
            if o != mapped {
                return Err(format!("{what} {o:?} where the recording has {r:?} (ours would be {mapped:?})"));
            }
            if r.is_some() && mapped != r {
                differences.push(Difference::GuidByteOrder);
            }
        }
        // One client identity per recorded SessionId, and a new one where the recording changes it.
        match (&oh.session_id, &rh.session_id) {
            (Some(o), Some(r)) => match self.sessions.get(r) {
                Some(known) if known == o => {}
                Some(known) => return Err(format!("SessionId {o} where this recorded client used {known}")),
                None => {
                    if self.sessions.values().any(|v| v == o) {
                        return Err(format!("SessionId {o} is reused where the recording has a new client {r}"));
                    }
                    self.sessions.insert(r.clone(), o.clone());
                }
            },
            (None, None) => {}
            (o, r) => return Err(format!("SessionId {o:?} where the recording has {r:?}")),
        }
        // Options, by name.
        let names = |h: &pssession_wsman::header::Header| {
            h.options.iter().map(|o| (o.name.to_lowercase(), o.value.clone())).collect::<BTreeSet<_>>()
        };
        let (o_opts, r_opts) = (names(oh), names(rh));
        if o_opts != r_opts {
            let only_protocol = r_opts.iter().all(|(n, _)| n == "protocolversion") && o_opts.is_empty();
            if matches!(ours.body, RequestBody::Connect(_)) && only_protocol {
                differences.push(Difference::ConnectWithoutOptionSet);
            } else {
                return Err(format!("options {o_opts:?} where the recording has {r_opts:?}"));
            }
        }
        self.compare_body(&ours.body, &recorded.body, differences)
    }

    fn compare_body(
        &mut self,
        ours: &RequestBody,
        recorded: &RequestBody,
        differences: &mut Vec<Difference>,
    ) -> Result<(), String> {
        let mismatch = |what: &str| Err(format!("{what}: ours {ours:?}, recorded {recorded:?}"));
        match (ours, recorded) {
            (RequestBody::Create(o), RequestBody::Create(r)) => {
                let fields = |c: &pssession_wsman::ops::CreateShell| {
                    format!(
                        "streams {}/{}, WorkingDirectory {:?}, Environment {:?}, Lifetime {:?}, IdleTimeOut {:?}, \
                         creationXml {}",
                        c.input_streams,
                        c.output_streams,
                        c.working_directory,
                        c.environment,
                        c.lifetime,
                        c.idle_timeout,
                        c.creation_xml.is_some()
                    )
                };
                if fields(o) != fields(r) {
                    return Err(format!("Create: ours {}; recorded {}", fields(o), fields(r)));
                }
                match (&o.name, &r.name) {
                    (Some(name), None) => {
                        differences.push(Difference::NameOnCreate);
                        if let Some(shell) = &o.shell_id {
                            self.names.insert(upper(shell), name.clone());
                        }
                    }
                    (o_name, r_name) if o_name == r_name => {}
                    _ => return mismatch("Create Name"),
                }
                Ok(())
            }
            (RequestBody::Command(o), RequestBody::Command(r)) => match (&o.command, &r.command) {
                (ours, recorded) if ours == recorded => Ok(()),
                (Some(text), None) if !text.is_empty() => {
                    differences.push(Difference::CommandLineText);
                    Ok(())
                }
                (ours, recorded) => Err(format!("rsp:Command {ours:?} where the recording has {recorded:?}")),
            },
            (RequestBody::Send(o), RequestBody::Send(r)) => {
                let shape = |s: &pssession_wsman::ops::Send| {
                    s.streams.iter().map(|s| (s.name.clone(), s.end)).collect::<Vec<_>>()
                };
                if shape(o) != shape(r) { mismatch("Send streams") } else { Ok(()) }
            }
            (RequestBody::Receive(o), RequestBody::Receive(r)) => {
                if o.streams != r.streams {
                    mismatch("Receive streams")
                } else {
                    Ok(())
                }
            }
            (RequestBody::Signal(o), RequestBody::Signal(r)) => {
                if o.code == r.code {
                    Ok(())
                } else if o.code == SignalCode::PowerShellStop && r.code.uri().ends_with("/ctrl_c") {
                    differences.push(Difference::StopSignalCode);
                    Ok(())
                } else {
                    mismatch("Signal code")
                }
            }
            (RequestBody::Disconnect(o), RequestBody::Disconnect(r)) => {
                if o == r {
                    Ok(())
                } else {
                    mismatch("Disconnect body")
                }
            }
            (RequestBody::Reconnect(o), RequestBody::Reconnect(r)) => {
                if o.buffer_mode == r.buffer_mode {
                    Ok(())
                } else {
                    mismatch("Reconnect body")
                }
            }
            (RequestBody::Connect(o), RequestBody::Connect(r)) => {
                if o.buffer_mode != r.buffer_mode || o.connect_xml.is_some() != r.connect_xml.is_some() {
                    mismatch("Connect body")
                } else {
                    Ok(())
                }
            }
            (RequestBody::Enumerate(o), RequestBody::Enumerate(r)) => {
                if (o.optimize, o.max_elements) != (r.optimize, r.max_elements) {
                    mismatch("Enumerate body")
                } else {
                    Ok(())
                }
            }
            (RequestBody::Pull(_), RequestBody::Pull(_))
            | (RequestBody::Release(_), RequestBody::Release(_))
            | (RequestBody::Delete, RequestBody::Delete)
            | (RequestBody::Get, RequestBody::Get) => Ok(()),
            _ => mismatch("body"),
        }
    }

    fn compare_messages(
        &mut self,
        ours: &[DecodedMessage],
        recorded: &[DecodedMessage],
        differences: &mut Vec<Difference>,
    ) -> Result<(), String> {
        if ours.len() != recorded.len() {
            let list = |m: &[DecodedMessage]| m.iter().map(|m| m.message_type.spec_name()).collect::<Vec<_>>();
            return Err(format!("PSRP messages {:?} where the recording has {:?}", list(ours), list(recorded)));
        }
        for (o, r) in ours.iter().zip(recorded) {
            if (o.message_type, o.destination, o.rpid, o.pid, &o.stream)
                != (r.message_type, r.destination, r.rpid, r.pid, &r.stream)
            {
                return Err(format!("PSRP message {} where the recording has {}", describe(o), describe(r)));
            }
            if o.bom != r.bom {
                if o.bom && !r.bom {
                    differences.push(Difference::Bom);
                } else {
                    return Err(format!("{} without the BOM the recording has", o.message_type));
                }
            }
            if o.body == r.body {
                continue;
            }
            if o.message_type == MessageType::PublicKey && self.session_key.is_some() {
                let ours = PublicKey::from_value(&o.body).map_err(|e| format!("our PUBLIC_KEY: {e}"))?;
                let blob = base64_simd::STANDARD
                    .decode_to_vec(ours.public_key.as_bytes())
                    .map_err(|e| format!("our PUBLIC_KEY is not base64: {e}"))?;
                parse_public_key_blob(&blob).map_err(|e| format!("our PUBLIC_KEY: {e}"))?;
                PublicKey::from_value(&r.body).map_err(|e| format!("recorded PUBLIC_KEY: {e}"))?;
                self.our_public_key = Some(ours);
                differences.push(Difference::ClientPublicKey);
                continue;
            }
            let recorded_default = matches!(&r.body, PsValue::Null) || r.body.as_str() == Some("");
            if o.message_type == MessageType::ConnectRunspacePool && recorded_default && is_min_max_object(&o.body) {
                differences.push(Difference::ConnectRunspacePoolMinMax);
                continue;
            }
            return Err(format!("PSRP body differs:\n  ours     {}\n  recorded {}", describe(o), describe(r)));
        }
        Ok(())
    }
}
