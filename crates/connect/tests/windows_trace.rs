//! The library driven against recorded Windows answers (pypsrp `test_psrp_disconnected_commands`, Windows Server
//! 2016): two sessions are created, each starts a command and is disconnected; a second client identity connects to
//! each session, reattaches the running command and receives the output produced while nobody was connected.
//!
//! A scripted transport answers each request with the next recorded response and checks that the request is the
//! operation Windows answered there. Identifiers are pinned to the trace's.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use pssession::exchange::{ExchangeFuture, Response};
use pssession::psrp::client::PipelineEvent;
use pssession::{
    Availability, Client, ConnectionTarget, FixedIds, IdPurpose, OutputBufferingMode, PipelineSpec, SessionInfo,
    SessionOptions, SessionState, WsmanExchange,
};
use pssession_testkit::{element_text, windows_trace};
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

fn scripted(name: &str, plan_indices: &[usize]) -> (Scripted, Arc<Mutex<Vec<String>>>) {
    let trace = windows_trace(name);
    let plan = plan_indices
        .iter()
        .map(|&i| {
            let exchange = &trace.messages[i];
            (
                element_text(&exchange.request, "Action").expect("Action"),
                Some(exchange.request.clone()),
                exchange.response.clone(),
            )
        })
        .collect();
    let log = Arc::new(Mutex::new(Vec::new()));
    (Scripted { plan, log: Arc::clone(&log) }, log)
}

#[tokio::test]
async fn disconnect_reconnect_and_connect_runspace_pools_without_commands() {
    // Create (answers one message per Receive), Disconnect, Reconnect, Disconnect; a second pool; then a new client
    // connects to both (Connect + the Receive that brings APPLICATION_PRIVATE_DATA) and deletes them.
    let (transport, log) =
        scripted("test_psrp_disconnect_runspaces", &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 19]);
    let pool1 = uuid("8e1d63b6-a065-f249-9053-a1b156c95777");
    let pool2 = uuid("433eaa01-219e-4b42-a7fc-bc16aa34f4ce");
    let ids = FixedIds::new().with(IdPurpose::RunspacePool, [pool1, pool2]);
    let target = ConnectionTarget::connection_uri("https://127.0.0.1:55986/wsman").expect("target");
    let client = Client::with_transport(target, SessionOptions::default(), Box::new(transport), Arc::new(ids));

    let mut first = client.new_session("first").await.expect("first");
    first.disconnect(None, OutputBufferingMode::None).await.expect("disconnect");
    first.reconnect().await.expect("reconnect, same client");
    assert_eq!((first.state(), first.availability()), (SessionState::Opened, Availability::Available));
    first.disconnect(None, OutputBufferingMode::None).await.expect("disconnect again");
    let mut second = client.new_session("second").await.expect("second");
    second.disconnect(None, OutputBufferingMode::None).await.expect("disconnect");

    for (id, name) in [(pool1, "first"), (pool2, "second")] {
        let info = SessionInfo {
            instance_id: id,
            name: name.to_owned(),
            computer_name: "127.0.0.1".to_owned(),
            configuration_name: "Microsoft.PowerShell".to_owned(),
            state: SessionState::Disconnected,
            availability: Availability::None,
            shell: pssession::ShellInfo::default(),
            commands: Vec::new(),
        };
        let session = client.connect(&info).await.expect("connect");
        assert_eq!(session.runspace_pool().state().to_string(), "Opened");
        assert!(session.runspace_pool().server_capability().is_some());
    }
    client.remove(pool1).await.expect("delete first");
    client.remove(pool2).await.expect("delete second");
    let log = log.lock().expect("log");
    assert_eq!(log.len(), 17, "every recorded exchange was used: {log:?}");
}

#[tokio::test]
async fn disconnect_then_connect_from_another_client_receives_the_output_produced_meanwhile() {
    let (transport, log) = scripted(
        "test_psrp_disconnected_commands",
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 24],
    );
    // The PSRP ids as Windows keyed them (the .NET reading of the bytes pypsrp sent).
    let pool1 = uuid("1bc9e1b2-aaa3-b441-b346-405e6a90005b");
    let pool2 = uuid("ad62efbc-0e38-1443-b2a4-eb6748019b41");
    let pipe1 = uuid("c26d6e35-8968-0543-9fe6-8b03f44d7210");
    let pipe2 = uuid("cf8d4edb-cc51-3f42-a7df-5d0ea0d6fa08");
    let ids = FixedIds::new().with(IdPurpose::RunspacePool, [pool1, pool2]).with(IdPurpose::Pipeline, [pipe1, pipe2]);
    let target = ConnectionTarget::connection_uri("https://127.0.0.1:55986/wsman").expect("target");
    let mut options = SessionOptions::default();
    options.max_envelope_size = 153_600;
    let client = Client::with_transport(target, options, Box::new(transport), Arc::new(ids));

    let script = PipelineSpec::script("Write-Output 'a'; Start-Sleep -Seconds 5; Write-Output 'b'");
    let mut first = client.new_session("first").await.expect("first session");
    assert_eq!(first.instance_id(), pool1);
    assert_eq!(first.state(), SessionState::Opened);
    assert_eq!(first.shell().idle_timeout, Some(std::time::Duration::from_secs(7200)));
    let started = first.start(&script).await.expect("start");
    assert_eq!(started, pipe1);
    assert_eq!(first.availability(), Availability::Busy);
    first.disconnect(None, OutputBufferingMode::None).await.expect("disconnect");
    assert_eq!((first.state(), first.availability()), (SessionState::Disconnected, Availability::None));
    // Disconnecting again is a no-op; invoking is refused.
    first.disconnect(None, OutputBufferingMode::None).await.expect("no-op");
    assert!(first.start(&script).await.is_err());

    let mut second = client.new_session("second").await.expect("second session");
    let pid = second.invoke_disconnected(&script, None, OutputBufferingMode::None).await.expect("invoke disconnected");
    assert_eq!(pid, pipe2);

    // What Get-PSSession -ComputerName would report for the two shells (pypsrp created them without Name, so the
    // recorded enumeration cannot be used: PowerShell skips such shells).
    let info = |instance_id: Uuid, name: &str, command_id: Uuid| SessionInfo {
        instance_id,
        name: name.to_owned(),
        computer_name: "127.0.0.1".to_owned(),
        configuration_name: "Microsoft.PowerShell".to_owned(),
        state: SessionState::Disconnected,
        availability: Availability::None,
        shell: pssession::ShellInfo::default(),
        commands: vec![pssession::CommandInfo { command_id, command_line: String::new(), state: "Running".to_owned() }],
    };

    for (instance_id, name, command_id) in [(pool2, "second", pipe2), (pool1, "first", pipe1)] {
        let mut session = client.connect(&info(instance_id, name, command_id)).await.expect("connect");
        assert_eq!(session.state(), SessionState::Opened);
        assert_eq!(session.runspace_pool().runspaces(), (1, 1));
        let outputs = session.receive().await.expect("receive");
        let rendered: Vec<String> = outputs
            .iter()
            .map(|o| {
                assert_eq!(o.pipeline_id, command_id);
                match &o.event {
                    PipelineEvent::Output(value) => format!("out:{value}"),
                    PipelineEvent::Progress(_) => "progress".to_owned(),
                    PipelineEvent::State { state, .. } => format!("state:{state}"),
                    other => format!("{other:?}"),
                }
            })
            .collect();
        assert_eq!(rendered, ["progress", "out:a", "out:b", "state:Completed"], "{name}");
        assert_eq!(session.availability(), Availability::Available);
        if instance_id == pool1 {
            session.remove().await.expect("remove");
        }
    }
    let log = log.lock().expect("log");
    assert_eq!(log.iter().filter(|a| a.ends_with("/Signal")).count(), 2, "{log:?}");
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

    // pypsrp created these shells without a Name: PowerShell (and this client) skip them.
    let client = client_answering(vec![(ENUMERATE, shells.clone())]);
    assert!(client.get_sessions(&pssession::SessionFilter::default()).await.expect("get").is_empty());

    // With names (as PowerShell creates shells), both are listed with their commands.
    let named = shells.replacen("</rsp:ShellId>", "</rsp:ShellId><rsp:Name>ITTask</rsp:Name>", 1).replacen(
        "F4CE</rsp:ShellId>",
        "F4CE</rsp:ShellId><rsp:Name>Other</rsp:Name>",
        1,
    );
    let client = client_answering(vec![(ENUMERATE, named.clone()), (ENUMERATE, one_command), (ENUMERATE, no_command)]);
    let found = client.get_sessions(&pssession::SessionFilter::default()).await.expect("get");
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
    let filter = pssession::SessionFilter { names: vec!["itt*".to_owned()], ..Default::default() };
    assert_eq!(client.get_sessions(&filter).await.expect("get").len(), 1);
}

#[tokio::test]
async fn windows_faults_become_typed_errors() {
    let unknown_shell =
        fixture_text("vectors/faults/fault_2150858843_invalid_selectors_unknown_shell_get.response.xml");
    let client = client_answering(vec![(DELETE, unknown_shell)]);
    let id = uuid("B6631D8E-65A0-49F2-9053-A1B156C95777");
    match client.remove(id).await {
        Err(pssession::Error::SessionNotFound { instance_id }) => assert_eq!(instance_id, id),
        other => panic!("expected SessionNotFound, got {other:?}"),
    }
}
