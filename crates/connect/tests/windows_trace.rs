//! The library reading recorded Windows answers (enumerations, faults) served by a scripted transport. The
//! recorded scenarios themselves (test_psrp_disconnect_runspaces, test_psrp_disconnected_commands, …) are replayed
//! with the general replay transport in `trace_replay.rs`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use pssession_connect::exchange::{ExchangeFuture, Response};
use pssession_connect::{
    Availability, Client, ConnectionTarget, FixedIds, SessionOptions, SessionState, WsmanExchange,
};
use pssession_testkit::element_text;
use pssession_wsman::envelope::{Limits, RequestBody, parse_request};
use uuid::Uuid;

/// Serves recorded responses in a planned order; answers Signal Terminate (which pypsrp did not send) itself.
struct Scripted {
    /// (Action, the recorded request if any, the recorded response).
    plan: VecDeque<(String, Option<String>, String)>,
    log: Arc<Mutex<Vec<String>>>,
}

/// What must be the same in our request and the one pypsrp sent Windows: the operation, the resource, whether a
/// ShellId selector is present, and the shape of the body (ids and base64 payloads aside).
fn shape(request: &[u8]) -> String {
    let request = parse_request(request, &Limits::default()).expect("a request the WS-Man codec parses");
    let body = match &request.body {
        RequestBody::Create(c) => {
            format!("Create {} / {} creationXml={}", c.input_streams, c.output_streams, c.creation_xml.is_some())
        }
        RequestBody::Command(c) => format!("Command arguments={}", c.arguments.len()),
        RequestBody::Receive(r) => format!("Receive {} command={}", r.streams, r.command_id.is_some()),
        RequestBody::Disconnect(d) => format!("Disconnect {:?} {:?}", d.idle_timeout, d.buffer_mode),
        RequestBody::Reconnect(r) => format!("Reconnect command={}", r.command_id.is_some()),
        RequestBody::Connect(c) => {
            format!("Connect command={} connectXml={}", c.command_id.is_some(), c.connect_xml.is_some())
        }
        RequestBody::Enumerate(e) => {
            format!("Enumerate {} {:?} filter={}", e.optimize, e.max_elements, e.filter.is_some())
        }
        other => other.action().to_owned(),
    };
    format!(
        "{} {} shell={} {body}",
        request.header.action,
        request.header.resource_uri.as_deref().unwrap_or_default(),
        request.header.shell_id().is_some()
    )
}

const SIGNAL_RESPONSE: &str = "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" xmlns:rsp=\"http://schemas.microsoft.com/wbem/wsman/1/windows/shell\"><s:Header><a:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SignalResponse</a:Action></s:Header><s:Body><rsp:SignalResponse/></s:Body></s:Envelope>";

impl WsmanExchange for Scripted {
    fn exchange(&mut self, envelope: Bytes) -> ExchangeFuture<'_> {
        let text = String::from_utf8(envelope.to_vec()).expect("utf8 request");
        let action = element_text(&text, "Action").expect("Action");
        self.log.lock().expect("log").push(action.clone());
        let response = if action.ends_with("/Signal") {
            assert!(text.contains("signal/Terminate"), "only Terminate is answered synthetically");
            SIGNAL_RESPONSE.to_owned()
        } else {
            let (expected, recorded, response) = self.plan.pop_front().expect("a recorded exchange is left");
            assert_eq!(action, expected, "request out of the recorded order");
            if let Some(recorded) = recorded {
                assert_eq!(shape(&envelope), shape(recorded.as_bytes()), "our request differs from the recorded one");
            }
            response
        };
        let status = if response.contains("Fault>") { 500 } else { 200 };
        Box::pin(async move { Ok(Response { status, body: Bytes::from(response) }) })
    }

    fn endpoint(&self) -> String {
        "https://127.0.0.1:55986/wsman".to_owned()
    }
}

fn uuid(text: &str) -> Uuid {
    Uuid::parse_str(text).expect("uuid")
}

const ENUMERATE: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate";
const DELETE: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete";

fn fixture_text(relative: &str) -> String {
    String::from_utf8(pssession_testkit::read_fixture(relative)).expect("utf8 fixture")
}

fn client_answering(plan: Vec<(&str, String)>) -> Client {
    let plan = plan.into_iter().map(|(action, response)| (action.to_owned(), None, response)).collect();
    let transport = Scripted { plan, log: Arc::new(Mutex::new(Vec::new())) };
    let target = ConnectionTarget::computer_name("win2016", None, false, None).expect("target");
    Client::with_transport(target, SessionOptions::default(), Box::new(transport), Arc::new(FixedIds::new()))
}

#[tokio::test]
async fn windows_enumeration_is_read_like_powershell_reads_it() {
    let shells = fixture_text("vectors/windows-traces-pypsrp/xml/07_enumerate_shells_optimized.response.xml");
    let one_command = fixture_text("vectors/windows-traces-pypsrp/xml/12_enumerate_commands_one_running.response.xml");
    let no_command =
        fixture_text("vectors/windows-traces-pypsrp/xml/08_enumerate_commands_selectorfilter_empty.response.xml");

    // pypsrp created these shells without a Name: PowerShell skips them; this client lists them with an empty Name
    // (to be connected by InstanceId), and no name filter, not even `*`, matches them.
    let client = client_answering(vec![
        (ENUMERATE, shells.clone()),
        (ENUMERATE, one_command.clone()),
        (ENUMERATE, no_command.clone()),
    ]);
    let nameless = client.get_sessions(&pssession_connect::SessionFilter::default()).await.expect("get");
    let summary: Vec<(String, usize)> = nameless.iter().map(|s| (s.name.clone(), s.commands.len())).collect();
    assert_eq!(summary, [(String::new(), 1), (String::new(), 0)]);
    let client = client_answering(vec![(ENUMERATE, shells.clone())]);
    let every_name = pssession_connect::SessionFilter { names: vec!["*".to_owned()], ..Default::default() };
    assert!(client.get_sessions(&every_name).await.expect("get").is_empty());

    // With names (as PowerShell creates shells), both are listed with their commands.
    let named = shells.replacen("</rsp:ShellId>", "</rsp:ShellId><rsp:Name>ITTask</rsp:Name>", 1).replacen(
        "F4CE</rsp:ShellId>",
        "F4CE</rsp:ShellId><rsp:Name>Other</rsp:Name>",
        1,
    );
    let client = client_answering(vec![(ENUMERATE, named.clone()), (ENUMERATE, one_command), (ENUMERATE, no_command)]);
    let found = client.get_sessions(&pssession_connect::SessionFilter::default()).await.expect("get");
    let summary: Vec<(String, Availability, usize)> =
        found.iter().map(|s| (s.name.clone(), s.availability, s.commands.len())).collect();
    assert_eq!(summary, [("ITTask".to_owned(), Availability::None, 1), ("Other".to_owned(), Availability::None, 0)]);
    assert_eq!(found[0].commands[0].command_id, uuid("DB4E8DCF-51CC-423F-A7DF-5D0EA0D6FA08"));
    assert_eq!(found[0].computer_name, "win2016");
    assert_eq!(found[0].state, SessionState::Disconnected);
    // The fields of the recorded shell, as PowerShell maps them.
    let shell = &found[0].shell;
    assert_eq!(shell.state.as_deref(), Some("Disconnected"));
    assert_eq!(shell.idle_timeout, Some(std::time::Duration::from_secs(7200)));
    assert_eq!(shell.max_idle_timeout, Some(std::time::Duration::from_millis(2_147_483_647)));
    assert_eq!(shell.buffer_mode.as_deref(), Some("Block"));
    assert_eq!(shell.shell_run_time, Some(std::time::Duration::from_secs(9)));
    assert_eq!(shell.owner.as_deref(), Some("WIN-NNMU24VVKJ0\\vagrant"));

    // A name filter skips the other shell without enumerating its commands.
    let client = client_answering(vec![
        (ENUMERATE, named),
        (ENUMERATE, fixture_text("vectors/windows-traces-pypsrp/xml/12_enumerate_commands_one_running.response.xml")),
    ]);
    let filter = pssession_connect::SessionFilter { names: vec!["itt*".to_owned()], ..Default::default() };
    assert_eq!(client.get_sessions(&filter).await.expect("get").len(), 1);
}

#[tokio::test]
async fn windows_faults_become_typed_errors() {
    let unknown_shell =
        fixture_text("vectors/faults/fault_2150858843_invalid_selectors_unknown_shell_get.response.xml");
    let client = client_answering(vec![(DELETE, unknown_shell)]);
    let id = uuid("B6631D8E-65A0-49F2-9053-A1B156C95777");
    match client.remove(id).await {
        Err(pssession_connect::Error::SessionNotFound { instance_id }) => assert_eq!(instance_id, id),
        other => panic!("expected SessionNotFound, got {other:?}"),
    }
}
