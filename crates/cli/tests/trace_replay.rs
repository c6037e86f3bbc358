//! Scenario tests: the public library API driven like a user would, against the recorded Windows responses of
//! pypsrp's traces (Windows Server 2016), through `pssession_cli::recorded::replay::Replay`. Each request must match the
//! recorded one semantically (operation, target, client identity, typed body, PSRP messages and bodies) up to the
//! listed expected differences; each test also asserts what the user sees.

use std::collections::BTreeSet;
use std::sync::Arc;

use pssession_cli::recorded::Trace;
use pssession_cli::recorded::replay::{Difference, Replay, ReplayReport};
use pssession_connect::psrp::client::PipelineEvent;
use pssession_connect::{
    Availability, Client, ConnectionTarget, IdSource, OutputBufferingMode, PipelineSpec, SessionFilter, SessionOptions,
    SessionState,
};
use uuid::Uuid;

const ENDPOINT: &str = "https://127.0.0.1:55986/wsman";

fn replay(name: &str) -> Replay {
    let path = pssession_testkit::fixture(&format!("pypsrp-windows-traces/{name}.yml"));
    let trace = Trace::load(&path).expect("trace loads");
    Replay::new(&trace, ENDPOINT).expect("replay prepared")
}

fn client(replay: &Replay, ids: &Arc<dyn IdSource>) -> Client {
    client_with(replay, ids, SessionOptions::default())
}

fn client_with(replay: &Replay, ids: &Arc<dyn IdSource>, mut options: SessionOptions) -> Client {
    let target = ConnectionTarget::connection_uri(ENDPOINT).expect("target");
    options.max_envelope_size = 153_600;
    Client::with_transport(target, options, replay.transport(), Arc::clone(ids))
}

/// New-PSSessionOption -IdleTimeout 60000, as the is_alive recordings created their pools.
fn idle_one_minute() -> SessionOptions {
    let mut options = SessionOptions::default();
    options.idle_timeout = Some(std::time::Duration::from_secs(60));
    options
}

fn ids(replay: &Replay) -> Arc<dyn IdSource> {
    Arc::new(replay.ids())
}

fn uuid(text: &str) -> Uuid {
    Uuid::parse_str(text).expect("uuid")
}

/// Every recorded exchange was served (or declared pypsrp-only), nothing mismatched, and exactly the expected
/// differences were applied.
fn assert_complete(report: &ReplayReport, expected: &[Difference]) {
    assert!(report.mismatches.is_empty(), "mismatches: {:#?}", report.mismatches);
    assert!(report.unused.is_empty(), "recorded exchanges never reached: {:?}", report.unused);
    let expected: BTreeSet<Difference> = expected.iter().copied().collect();
    assert_eq!(report.difference_kinds(), expected, "{:#?}", report.differences);
}

fn render(event: &PipelineEvent) -> String {
    match event {
        PipelineEvent::Output(value) => format!("out:{}", value.to_display_string()),
        PipelineEvent::Error(value) => format!("error:{}", value.to_display_string()),
        PipelineEvent::Warning(value) => format!("warning:{}", value.to_display_string()),
        PipelineEvent::Verbose(value) => format!("verbose:{}", value.to_display_string()),
        PipelineEvent::Debug(value) => format!("debug:{}", value.to_display_string()),
        PipelineEvent::Information(value) => format!("information:{}", value.to_display_string()),
        PipelineEvent::Progress(_) => "progress".to_owned(),
        PipelineEvent::HostCall(_) => "hostcall".to_owned(),
        PipelineEvent::State { state, .. } => format!("state:{state}"),
        other => format!("{other:?}"),
    }
}

#[tokio::test]
async fn open_runspace_then_remove() {
    let replay = replay("test_psrp_open_runspace");
    let ids = ids(&replay);
    let client = client(&replay, &ids);
    let session = client.new_session("open").await.expect("new session");
    assert_eq!(session.instance_id(), uuid("846a0576-dc51-244f-9262-ca2a55464b2b"));
    assert_eq!((session.state(), session.availability()), (SessionState::Opened, Availability::Available));
    assert_eq!(session.runspace_pool().runspaces(), (1, 1));
    let capability = session.runspace_pool().server_capability().expect("server capability");
    assert_eq!(capability.protocol_version.to_string(), "2.3");
    session.remove().await.expect("remove");
    assert_complete(&replay.report(), &[Difference::NameOnCreate, Difference::GuidByteOrder, Difference::Bom]);
}

#[tokio::test]
async fn disconnect_reconnect_then_connect_from_a_new_client() {
    let replay = replay("test_psrp_disconnect_runspaces");
    let ids = ids(&replay);
    let office = client(&replay, &ids);
    let mut first = office.new_session("first").await.expect("first");
    first.disconnect(None, OutputBufferingMode::None).await.expect("disconnect");
    assert_eq!((first.state(), first.availability()), (SessionState::Disconnected, Availability::None));
    first.reconnect().await.expect("reconnect, same client");
    assert_eq!((first.state(), first.availability()), (SessionState::Opened, Availability::Available));
    first.disconnect(None, OutputBufferingMode::None).await.expect("disconnect again");
    let mut second = office.new_session("second").await.expect("second");
    second.disconnect(None, OutputBufferingMode::None).await.expect("disconnect");

    // Get-PSSession -ComputerName and Connect-PSSession from another client identity.
    let home = client(&replay, &ids);
    assert_ne!(home.session_id(), office.session_id());
    let found = home.get_sessions(&SessionFilter::default()).await.expect("get sessions");
    let summary: Vec<(String, SessionState, Availability, usize)> =
        found.iter().map(|s| (s.name.clone(), s.state, s.availability, s.commands.len())).collect();
    assert_eq!(
        summary,
        [
            ("first".to_owned(), SessionState::Disconnected, Availability::None, 0),
            ("second".to_owned(), SessionState::Disconnected, Availability::None, 0)
        ]
    );
    assert_eq!(found[0].instance_id, first.instance_id());
    let mut connected = Vec::new();
    for info in &found {
        let session = home.connect(info).await.expect("connect");
        assert_eq!((session.state(), session.availability()), (SessionState::Opened, Availability::Available));
        assert_eq!(session.runspace_pool().runspaces(), (1, 1));
        connected.push(session);
    }
    for session in connected {
        session.remove().await.expect("remove");
    }
    assert_complete(
        &replay.report(),
        &[
            Difference::NameOnCreate,
            Difference::GuidByteOrder,
            Difference::Bom,
            Difference::ConnectRunspacePoolMinMax,
            Difference::ConnectWithoutOptionSet,
        ],
    );
}

#[tokio::test]
async fn disconnected_commands_are_found_connected_and_their_buffered_output_received() {
    let replay = replay("test_psrp_disconnected_commands")
        .pypsrp_only(23, "pypsrp reconnects a pool it connected before closing it; PowerShell deletes it")
        .pypsrp_only(25, "pypsrp reconnects a pool it connected before closing it; PowerShell deletes it");
    let ids = ids(&replay);
    let client = client(&replay, &ids);
    let script = PipelineSpec::script("Write-Output 'a'; Start-Sleep -Seconds 5; Write-Output 'b'");

    let mut first = client.new_session("first").await.expect("first session");
    assert_eq!(first.shell().idle_timeout, Some(std::time::Duration::from_secs(7200)));
    let pipe1 = first.start(&script).await.expect("start");
    assert_eq!(first.availability(), Availability::Busy);
    first.disconnect(None, OutputBufferingMode::None).await.expect("disconnect");
    assert_eq!((first.state(), first.availability()), (SessionState::Disconnected, Availability::None));
    assert!(first.start(&script).await.is_err(), "a disconnected session refuses commands");
    let mut second = client.new_session("second").await.expect("second session");
    let pipe2 =
        second.invoke_disconnected(&script, None, OutputBufferingMode::None).await.expect("invoke disconnected");

    // Get-PSSession -ComputerName: both shells with their running command.
    let found = client.get_sessions(&SessionFilter::default()).await.expect("get sessions");
    let summary: Vec<(String, Availability, Vec<Uuid>)> = found
        .iter()
        .map(|s| (s.name.clone(), s.availability, s.commands.iter().map(|c| c.command_id).collect()))
        .collect();
    assert_eq!(
        summary,
        [("second".to_owned(), Availability::None, vec![pipe2]), ("first".to_owned(), Availability::None, vec![pipe1])]
    );

    // Connect-PSSession + Receive-PSSession: the output produced while nobody was connected.
    let mut sessions = Vec::new();
    for info in &found {
        let mut session = client.connect(info).await.expect("connect");
        assert_eq!(session.state(), SessionState::Opened);
        assert_eq!(session.availability(), Availability::Busy);
        let outputs = session.receive().await.expect("receive");
        assert!(outputs.iter().all(|o| o.pipeline_id == info.commands[0].command_id));
        let rendered: Vec<String> = outputs.iter().map(|o| render(&o.event)).collect();
        assert_eq!(rendered, ["progress", "out:a", "out:b", "state:Completed"], "{}", info.name);
        assert_eq!(session.availability(), Availability::Available);
        sessions.push(session);
    }
    for session in sessions {
        session.remove().await.expect("remove");
    }
    assert_complete(
        &replay.report(),
        &[
            Difference::NameOnCreate,
            Difference::GuidByteOrder,
            Difference::Bom,
            Difference::ConnectRunspacePoolMinMax,
            Difference::ConnectWithoutOptionSet,
            Difference::TerminateAfterDone,
            Difference::CommandLineText,
            Difference::PypsrpOnlyExchange,
        ],
    );
}

#[tokio::test]
async fn every_stream_of_an_invocation_reaches_the_user() {
    let replay = replay("test_psrp_stream_output_invocation");
    let ids = ids(&replay);
    let client = client(&replay, &ids);
    let mut session = client.new_session("streams").await.expect("new session");
    let script = "$DebugPreference = 'Continue'\n            $VerbosePreference = 'Continue'\n            Write-Debug 'debug stream'\n            Write-Verbose 'verbose stream'\n            Write-Error 'error stream'\n            Write-Output 'output stream'\n            Write-Warning 'warning stream'\n            Write-Information 'information stream'\n            ";
    let outputs = session.invoke(&PipelineSpec::script(script)).await.expect("invoke");
    let kinds: Vec<String> =
        outputs.iter().map(|o| render(&o.event).split(':').next().unwrap_or_default().to_owned()).collect();
    assert_eq!(kinds, ["progress", "debug", "verbose", "error", "out", "warning", "information", "state"]);
    assert_eq!(render(&outputs[4].event), "out:output stream");
    assert_eq!(render(&outputs[7].event), "state:Completed");
    session.remove().await.expect("remove");
    assert_complete(
        &replay.report(),
        &[
            Difference::NameOnCreate,
            Difference::GuidByteOrder,
            Difference::Bom,
            Difference::TerminateAfterDone,
            Difference::CommandLineText,
        ],
    );
}

#[tokio::test]
async fn a_request_that_differs_from_the_recording_is_refused() {
    // The recording opens a pool; a client that enumerates instead is not what Windows was asked.
    let replay = replay("test_psrp_open_runspace");
    let ids = ids(&replay);
    let client = client(&replay, &ids);
    let error = client.get_sessions(&SessionFilter::default()).await.expect_err("mismatch");
    assert!(error.to_string().contains("replay mismatch"), "{error}");
    let report = replay.report();
    assert_eq!(report.mismatches.len(), 1, "{report:?}");
    assert!(report.mismatches[0].contains("Enumerate where Windows was asked"), "{}", report.mismatches[0]);
    assert_eq!(report.unused, [1, 2, 3]);
}

#[tokio::test]
async fn the_server_envelope_size_is_read_from_the_winrm_configuration() {
    for (trace, kb) in [
        ("test_wsman_update_envelope_size_150", 150),
        ("test_wsman_update_envelope_size_500", 500),
        ("test_wsman_update_envelope_size_4096", 4096),
    ] {
        let replay = replay(trace);
        let ids = ids(&replay);
        let client = client(&replay, &ids);
        let size = client.server_max_envelope_size().await.expect("config");
        assert_eq!(size, Some(kb * 1024), "{trace}");
        assert_complete(&replay.report(), &[]);
    }
}

#[tokio::test]
async fn a_polled_shell_that_windows_no_longer_knows_is_not_found() {
    // Get on the shell answered with its properties, then with a fault (2150858843, unknown ShellId).
    let replay = replay("test_psrp_is_alive_invalid_selectors");
    let ids = ids(&replay);
    let client = client_with(&replay, &ids, idle_one_minute());
    let session = client.new_session("alive").await.expect("new session");
    let shell = client.get_shell(session.instance_id()).await.expect("get shell");
    assert_eq!(shell.shell_id, Some(session.instance_id()));
    assert_eq!(shell.state.as_deref(), Some("Connected"));
    match client.get_shell(session.instance_id()).await {
        Err(pssession_connect::Error::SessionNotFound { instance_id }) => {
            assert_eq!(instance_id, session.instance_id())
        }
        other => panic!("expected SessionNotFound, got {other:?}"),
    }
    // This newer pypsrp wrote the RPID in .NET order: no GUID byte-order difference.
    assert_complete(&replay.report(), &[Difference::NameOnCreate, Difference::Bom]);
}

#[tokio::test]
async fn a_polled_shell_reports_its_state() {
    // The same poll answered with the shell Connected, then Disconnected.
    let replay = replay("test_psrp_is_alive_state_disconnected");
    let ids = ids(&replay);
    let client = client_with(&replay, &ids, idle_one_minute());
    let session = client.new_session("alive").await.expect("new session");
    let states: Vec<Option<String>> = [
        client.get_shell(session.instance_id()).await.expect("get"),
        client.get_shell(session.instance_id()).await.expect("get"),
    ]
    .into_iter()
    .map(|s| s.state)
    .collect();
    assert_eq!(states, [Some("Connected".to_owned()), Some("Disconnected".to_owned())]);
    // This newer pypsrp wrote the RPID in .NET order: no GUID byte-order difference.
    assert_complete(&replay.report(), &[Difference::NameOnCreate, Difference::Bom]);
}

#[tokio::test]
async fn a_poll_without_an_answer_is_a_transport_error() {
    // The second poll got no envelope at all (an HTTP error): a transport error for the caller.
    let replay = replay("test_psrp_is_alive_http_error");
    let ids = ids(&replay);
    let client = client_with(&replay, &ids, idle_one_minute());
    let session = client.new_session("alive").await.expect("new session");
    client.get_shell(session.instance_id()).await.expect("get");
    let error = client.get_shell(session.instance_id()).await.expect_err("no response");
    assert!(matches!(error, pssession_connect::Error::Transport(_)), "{error:?}");
    let report = replay.report();
    assert_eq!(report.mismatches.len(), 1, "{report:?}");
    assert!(report.mismatches[0].contains("#4: Windows answered with no envelope"), "{report:?}");
    assert!(report.unused.is_empty());
}

#[tokio::test]
async fn input_objects_reach_the_script_and_come_back() {
    use pssession_connect::psrp::clixml::{Container, PsObject, PsValue};
    let replay = replay("test_psrp_with_input");
    let ids = ids(&replay);
    let client = client(&replay, &ids);
    let mut session = client.new_session("input").await.expect("new session");
    let script = "begin {\n                $DebugPreference = 'Continue'\n                Write-Debug \"Start Block\"\n            }\n            process {\n                $input\n            }\n            end {\n                Write-Debug \"End Block\"\n            }";
    let mut spec = PipelineSpec::script(script);
    spec.no_input = false;
    let pipeline = session.start(&spec).await.expect("start");
    let mut hashtable = PsObject::with_type_names(["System.Collections.Hashtable", "System.Object"]);
    hashtable.container = Some(Container::Dictionary(vec![(PsValue::String("a".into()), PsValue::String("b".into()))]));
    let mut array = PsObject::with_type_names(["System.Object[]", "System.Array", "System.Object"]);
    array.container = Some(Container::List(vec![PsValue::String("a".into()), PsValue::String("b".into())]));
    let inputs = [PsValue::String("1".into()), PsValue::I32(2), hashtable.into(), array.into()];
    session.send_input(pipeline, &inputs, true).await.expect("send input");
    let mut outputs = Vec::new();
    let state = session.receive_pipeline(pipeline, |o| outputs.push(render(&o.event))).await.expect("receive");
    assert_eq!(state.to_string(), "Completed");
    assert_eq!(
        outputs,
        [
            "progress",
            "debug:Start Block",
            "out:1",
            "out:2",
            "out:Deserialized.System.Collections.Hashtable",
            "out:a b",
            "debug:End Block",
            "state:Completed"
        ]
    );
    session.remove().await.expect("remove");
    assert_complete(
        &replay.report(),
        &[
            Difference::NameOnCreate,
            Difference::GuidByteOrder,
            Difference::Bom,
            Difference::TerminateAfterDone,
            Difference::CommandLineText,
        ],
    );
}

/// pypsrp's fixed RSA key pair of test_psrp_multiple_commands (its test pins it), from the data file the psrp crate's
/// session-key tests share.
fn pypsrp_key_pair() -> pssession_connect::psrp::session_key::ClientKeyPair {
    let fields: std::collections::BTreeMap<&str, Vec<u8>> =
        include_str!("../../psrp/tests/data/pypsrp_session_key_exchange.txt")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(' '))
            .filter(|(k, _)| ["n", "e", "d", "p", "q"].contains(k))
            .map(|(k, v)| {
                let v = if v.len() % 2 == 1 { format!("0{v}") } else { v.to_owned() };
                let bytes = (0..v.len()).step_by(2).map(|i| u8::from_str_radix(&v[i..i + 2], 16).expect("hex"));
                (k, bytes.collect())
            })
            .collect();
    pssession_connect::psrp::session_key::ClientKeyPair::from_components(
        &fields["n"],
        &fields["e"],
        &fields["d"],
        &fields["p"],
        &fields["q"],
    )
    .expect("pypsrp key pair")
}

/// The session key Windows chose in a recording: its ENCRYPTED_SESSION_KEY, opened with pypsrp's key pair.
fn recorded_session_key(name: &str) -> pssession_connect::psrp::session_key::SessionKey {
    use pssession_connect::psrp::messages::{EncryptedSessionKey, MessageBody};
    let path = pssession_testkit::fixture(&format!("pypsrp-windows-traces/{name}.yml"));
    let decoded = pssession_cli::recorded::decode(&Trace::load(&path).expect("trace loads"));
    let message = decoded
        .exchanges
        .iter()
        .filter_map(|x| x.response.as_ref())
        .flat_map(|r| &r.messages)
        .find(|m| m.message_type == pssession_connect::psrp::MessageType::EncryptedSessionKey)
        .expect("the recording has an ENCRYPTED_SESSION_KEY");
    let body = EncryptedSessionKey::from_value(&message.body).expect("body");
    pypsrp_key_pair().decrypt_session_key(&mut getrandom::SysRng, &body).expect("Windows' session key")
}

#[tokio::test]
async fn secure_strings_travel_with_the_session_key_through_several_statements() {
    use pssession_connect::psrp::client::CommandSpec;
    use pssession_connect::psrp::clixml::PsValue;
    use pssession_connect::psrp::session_key::SecretText;
    let name = "test_psrp_multiple_commands";
    let replay = replay(name).with_session_key(recorded_session_key(name));
    let ids = ids(&replay);
    let client = client(&replay, &ids);
    let mut session = client.new_session("secure").await.expect("new session");

    // pypsrp's statements: a SecureString parameter, reading it back, ConvertTo-SecureString, Unicode text (with
    // `_x000A_` literally and a surrogate pair), a positional argument, a native command, an integer, an object.
    let unicode = "こんにちは - actual_x000A_string\nnewline: \u{10437}";
    let command = CommandSpec::command;
    let spec = pssession_connect::PipelineSpec::commands(vec![
        command("Set-Variable").parameter("Name", "sec_string").secure_parameter("Value", SecretText::from("Hello World")),
    ])
    .add_statement(vec![CommandSpec::script(
        "[System.Runtime.InteropServices.marshal]::PtrToStringAuto([System.Runtime.InteropServices.marshal]::SecureStringToBSTR($sec_string))",
    )])
    .add_statement(vec![command("ConvertTo-SecureString").parameter("String", "abc").switch("AsPlainText").switch("Force")])
    .add_statement(vec![command("Set-Variable").parameter("Name", "unicode_string").parameter("Value", unicode)])
    .add_statement(vec![CommandSpec::script("$unicode_string")])
    .add_statement(vec![command("cmd.exe").argument("/c echo hi")])
    .add_statement(vec![command("whoami.exe")])
    .add_statement(vec![command("Set-Variable").parameter("Name", "integer").parameter_value("Value", PsValue::I32(123))])
    .add_statement(vec![CommandSpec::script("$integer")])
    .add_statement(vec![command("Get-Service").parameter("Name", "winrm")]);
    assert!(spec.has_secure_strings());

    let outputs = session.invoke(&spec).await.expect("invoke");
    assert!(session.runspace_pool().session_key().is_some(), "the key exchange ran before CREATE_PIPELINE");
    let rendered: Vec<String> = outputs.iter().map(|o| render(&o.event)).collect();
    assert_eq!(
        rendered,
        [
            "out:Hello World".to_owned(),
            "out:System.Security.SecureString".to_owned(),
            format!("out:{unicode}"),
            "out:hi\"".to_owned(),
            "out:win-nnmu24vvkj0\\vagrant".to_owned(),
            "out:123".to_owned(),
            "out:winrm".to_owned(),
            "state:Completed".to_owned(),
        ]
    );
    // The SecureString ConvertTo-SecureString returned, decrypted on request.
    let PipelineEvent::Output(secure) = &outputs[1].event else { panic!("output expected") };
    let PsValue::SecureString(ciphertext) = secure.value().expect("clixml") else { panic!("a SecureString") };
    assert_eq!(session.decrypt_secure_string(&ciphertext).expect("decrypt").expose(), "abc");
    session.remove().await.expect("remove");
    assert_complete(
        &replay.report(),
        &[
            Difference::NameOnCreate,
            Difference::GuidByteOrder,
            Difference::Bom,
            Difference::TerminateAfterDone,
            Difference::CommandLineText,
            Difference::ClientPublicKey,
        ],
    );
}

#[tokio::test]
async fn a_differing_public_key_without_a_session_key_is_a_mismatch() {
    use pssession_connect::psrp::client::CommandSpec;
    use pssession_connect::psrp::session_key::SecretText;
    let replay = replay("test_psrp_multiple_commands");
    let ids = ids(&replay);
    let client = client(&replay, &ids);
    let mut session = client.new_session("secure").await.expect("new session");
    let spec = pssession_connect::PipelineSpec::commands(vec![
        CommandSpec::command("Set-Variable").secure_parameter("Value", SecretText::from("Hello World")),
    ]);
    session.start(&spec).await.expect_err("our PUBLIC_KEY is not pypsrp's");
    let report = replay.report();
    assert_eq!(report.mismatches.len(), 1, "{report:?}");
    assert!(report.mismatches[0].contains("PUBLIC_KEY"), "{}", report.mismatches[0]);
}

#[tokio::test]
async fn receiving_a_command_the_server_does_not_know_is_command_not_found() {
    // pypsrp polled a CommandId no Command created; Windows answered 0x8033805B naming no ShellId.
    let replay = replay("test_psrp_receive_failure");
    let ids = ids(&replay);
    let client = client(&replay, &ids);
    let mut session = client.new_session("failure").await.expect("new session");
    let command = uuid("D1BF48DA-B26C-4F4A-BE52-B382AC20DD1F");
    let mut seen = Vec::new();
    match session.receive_command(command, |o| seen.push(o)).await {
        Err(pssession_connect::Error::CommandNotFound { pipeline_id }) => assert_eq!(pipeline_id, command),
        other => panic!("expected CommandNotFound, got {other:?}"),
    }
    assert!(seen.is_empty());
    // Only the command is gone: the session is still usable.
    assert_eq!((session.state(), session.availability()), (SessionState::Opened, Availability::Available));
    assert!(session.runspace_pool().pipeline(command).is_none());
    session.remove().await.expect("remove");
    assert_complete(&replay.report(), &[Difference::NameOnCreate, Difference::GuidByteOrder, Difference::Bom]);
}

#[tokio::test]
async fn a_poll_answered_with_another_wsman_fault_is_that_fault() {
    // pypsrp provoked this fault with an invalid OperationTimeout (`PT-1S`), which our options cannot express;
    // whatever the cause, a WS-Man fault on a poll reaches the caller as that fault, with its code, and the
    // session is not declared gone.
    let replay = replay("test_psrp_is_alive_other_wsman_error");
    let ids = ids(&replay);
    let client = client_with(&replay, &ids, idle_one_minute());
    let session = client.new_session("alive").await.expect("new session");
    match client.get_shell(session.instance_id()).await {
        Err(pssession_connect::Error::Fault(fault)) => {
            assert_eq!(fault.wsman_code, Some(2150858767), "{fault:?}");
            assert_eq!(fault.subcode.as_deref(), Some("InvalidMessageInformationHeader"), "{fault:?}");
        }
        other => panic!("expected the recorded WS-Man fault, got {other:?}"),
    }
    session.remove().await.expect("the shell is still there to delete");
    // This newer pypsrp wrote the RPID in .NET order: no GUID byte-order difference.
    assert_complete(&replay.report(), &[Difference::NameOnCreate, Difference::Bom]);
}
