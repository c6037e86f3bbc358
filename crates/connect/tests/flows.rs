//! The Connect-PSSession flows end to end against the simulated endpoint of `common` (shell ownership as Windows
//! enforces it): new → invoke → disconnect → get_sessions from a second client → connect → receive the output
//! produced while disconnected (exactly once, in order) → disconnect → remove; reconnect from the same client;
//! Busy; connecting a connected session is a no-op; another user cannot see the sessions.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{SimulatedServer, output_texts};
use pssession_connect::psrp::client::PipelineEvent;
use pssession_connect::{
    Availability, Client, ConnectionTarget, Error, OutputBufferingMode, PipelineSpec, RandomIds, SessionFilter,
    SessionOptions, SessionState,
};

fn client(server: &Arc<std::sync::Mutex<SimulatedServer>>, user: &str) -> Client {
    let target = ConnectionTarget::computer_name("sim", None, false, None).expect("target");
    Client::with_transport(
        target,
        SessionOptions::default(),
        Box::new(SimulatedServer::connection(server, user)),
        Arc::new(RandomIds),
    )
}

const SCRIPT: &str =
    "Write-Output 'one'; Write-Output 'two'; Write-Output 'three'; Write-Output 'four'; Write-Output 'five'";

#[tokio::test]
async fn disconnect_get_connect_receive_remove_across_two_clients() {
    let server = SimulatedServer::new();
    let first = client(&server, "alice");
    let mut session = first.new_session("ITTask").await.expect("new");
    assert_eq!((session.state(), session.availability()), (SessionState::Opened, Availability::Available));

    // A command run while connected returns its output.
    let events = session.invoke(&PipelineSpec::script("Write-Output 'hello'")).await.expect("invoke");
    assert_eq!(output_texts(&events), ["hello"]);
    assert!(
        matches!(events.last().map(|e| &e.event), Some(PipelineEvent::State { state, .. }) if state.to_string() == "Completed")
    );

    // Start a long command and disconnect (Drop mode, 15 hours like Example 3).
    let pid = session
        .invoke_disconnected(
            &PipelineSpec::script(SCRIPT),
            Some(Duration::from_secs(54_000)),
            OutputBufferingMode::Drop,
        )
        .await
        .expect("invoke in disconnected session");
    assert_eq!((session.state(), session.availability()), (SessionState::Disconnected, Availability::None));
    let instance_id = session.instance_id();
    let (connected, idle, mode) = server.lock().expect("server").shell_state(instance_id).expect("shell");
    assert_eq!((connected, idle.as_str(), mode.as_str()), (false, "PT54000.000S", "Drop"));

    // A second client identity of the same user finds it.
    let second = client(&server, "alice");
    assert_ne!(first.session_id(), second.session_id());
    let found = second
        .get_sessions(&SessionFilter { names: vec!["it*".to_owned()], ..SessionFilter::default() })
        .await
        .expect("get");
    assert_eq!(found.len(), 1);
    let info = &found[0];
    assert_eq!((info.name.as_str(), info.instance_id), ("ITTask", instance_id));
    assert_eq!((info.state, info.availability), (SessionState::Disconnected, Availability::None));
    assert_eq!(info.configuration_name, "Microsoft.PowerShell");
    assert_eq!(info.shell.idle_timeout, Some(Duration::from_secs(54_000)));
    assert_eq!(info.commands.iter().map(|c| c.command_id).collect::<Vec<_>>(), [pid]);

    // Connect and receive everything produced meanwhile, once and in order.
    let mut attached = second.connect(info).await.expect("connect");
    assert_eq!(attached.state(), SessionState::Opened);
    let received = attached.receive().await.expect("receive");
    assert_eq!(output_texts(&received), ["one", "two", "three", "four", "five"]);
    assert!(received.iter().all(|o| o.pipeline_id == pid));
    let again = attached.receive().await.expect("receive again");
    assert!(again.is_empty(), "output is delivered exactly once: {again:?}");
    assert_eq!(attached.availability(), Availability::Available);

    // While the second client holds it, the first sees it Busy and cannot connect.
    let listed = first.get_sessions(&SessionFilter::default()).await.expect("get");
    assert_eq!(listed[0].availability, Availability::Busy);
    match first.connect(&listed[0]).await {
        Err(Error::SessionBusy { name }) => assert_eq!(name, "ITTask"),
        other => panic!("expected Busy, got {other:?}"),
    }
    let message = Error::SessionBusy { name: "ITTask".to_owned() }.to_string();
    assert!(message.contains("Cannot connect PSSession \"ITTask\""), "{message}");

    // The first client's Reconnect is refused by the server (another client holds the shell): Busy after re-query.
    match session.reconnect().await {
        Err(Error::SessionBusy { .. }) => {}
        other => panic!("expected Busy, got {other:?}"),
    }
    assert_eq!(session.state(), SessionState::Disconnected);

    // Connecting an Opened session is a no-op without error.
    attached.reconnect().await.expect("no-op");
    assert_eq!(attached.state(), SessionState::Opened);

    // Disconnect again, then the first client reconnects: its Reconnect is refused (the shell's owner changed), so
    // it falls back to Connect, as PowerShell does.
    attached.disconnect(None, OutputBufferingMode::None).await.expect("disconnect");
    session.reconnect().await.expect("reconnect falls back to connect");
    assert_eq!(session.state(), SessionState::Opened);
    let events = session.invoke(&PipelineSpec::script("Write-Output 'back'")).await.expect("invoke");
    assert_eq!(output_texts(&events), ["back"]);

    session.remove().await.expect("remove");
    assert!(!server.lock().expect("server").has_shell(instance_id));
    assert!(second.get_sessions(&SessionFilter::default()).await.expect("get").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_from_the_same_client_reattaches_the_running_command() {
    let server = SimulatedServer::new();
    let alice = client(&server, "alice");
    // Session futures are Send: the whole flow runs in a spawned task.
    let received = tokio::spawn(async move {
        let mut session = alice.new_session("Same").await.expect("new");
        session
            .invoke_disconnected(&PipelineSpec::script(SCRIPT), None, OutputBufferingMode::None)
            .await
            .expect("start");
        session.reconnect().await.expect("reconnect");
        assert_eq!(session.state(), SessionState::Opened);
        let received = session.receive().await.expect("receive");
        session.remove().await.expect("remove");
        received
    })
    .await
    .expect("task");
    assert_eq!(output_texts(&received), ["one", "two", "three", "four", "five"]);
    let log = server.lock().expect("server").log.clone();
    assert!(log.iter().filter(|a| *a == "Reconnect").count() >= 2, "pool and command Reconnect: {log:?}");
    assert!(!log.iter().any(|a| a == "Connect"), "no Connect on the same-client path: {log:?}");
}

#[tokio::test]
async fn another_user_cannot_see_or_touch_the_sessions() {
    let server = SimulatedServer::new();
    let alice = client(&server, "alice");
    let mut session = alice.new_session("Private").await.expect("new");
    session.disconnect(None, OutputBufferingMode::None).await.expect("disconnect");
    let mallory = client(&server, "mallory");
    assert!(mallory.get_sessions(&SessionFilter::default()).await.expect("get").is_empty());
    match mallory.remove(session.instance_id()).await {
        Err(Error::SessionNotFound { instance_id }) => assert_eq!(instance_id, session.instance_id()),
        other => panic!("expected not found, got {other:?}"),
    }
    assert_eq!(alice.get_sessions(&SessionFilter::default()).await.expect("get").len(), 1);
}

#[tokio::test]
async fn idle_timeout_is_validated_and_failures_are_typed() {
    let server = SimulatedServer::new();
    let alice = client(&server, "alice");
    let mut session = alice.new_session("Checks").await.expect("new");
    match session.disconnect(Some(Duration::from_secs(59)), OutputBufferingMode::Block).await {
        Err(Error::InvalidIdleTimeout { requested, maximum }) => {
            assert_eq!(requested, Duration::from_secs(59));
            assert_eq!(maximum, Some(Duration::from_millis(2_147_483_647)));
        }
        other => panic!("expected an idle timeout error, got {other:?}"),
    }
    assert_eq!(session.state(), SessionState::Opened, "a refused disconnect changes nothing");
    let events = session.invoke(&PipelineSpec::script("Get-Nothing")).await.expect("invoke");
    assert!(matches!(
        events.last().map(|e| &e.event),
        Some(PipelineEvent::State { error: Some(e), .. }) if e.message == "unsupported statement"
    ));
    // A removed session is Broken for this client once the server no longer knows it.
    let id = session.instance_id();
    alice.remove(id).await.expect("remove");
    match session.invoke(&PipelineSpec::script("Write-Output 'x'")).await {
        Err(Error::SessionNotFound { instance_id }) => assert_eq!(instance_id, id),
        other => panic!("expected not found, got {other:?}"),
    }
    assert_eq!(session.state(), SessionState::Broken);
    match session.reconnect().await {
        Err(Error::InvalidSessionState { .. }) => {}
        other => panic!("a broken session cannot be connected, got {other:?}"),
    }
}

// On the paused clock: the keep-alive interval and the wait it covers are exact, not wall-clock margins.
#[tokio::test(start_paused = true)]
async fn keep_alive_polls_the_pool_while_waiting_and_data_limits_hold() {
    let server = SimulatedServer::new();
    let alice = client(&server, "alice");
    let mut session = alice.new_session("Alive").await.expect("new");
    let before = server.lock().expect("server").log.iter().filter(|a| *a == "Receive").count();
    let value = session
        .keep_alive_until(Duration::from_millis(100), async {
            tokio::time::sleep(Duration::from_millis(450)).await;
            7
        })
        .await
        .expect("keep alive");
    assert_eq!(value, 7);
    let after = server.lock().expect("server").log.iter().filter(|a| *a == "Receive").count();
    assert!(after - before >= 2, "keep-alive Receives: {}", after - before);

    let target = ConnectionTarget::computer_name("sim", None, false, None).expect("target");
    let mut options = SessionOptions::default();
    options.maximum_received_data_size_per_command = Some(200);
    let limited = Client::with_transport(
        target,
        options,
        Box::new(SimulatedServer::connection(&server, "alice")),
        Arc::new(RandomIds),
    );
    let mut session = limited.new_session("Limited").await.expect("new");
    match session.invoke(&PipelineSpec::script(SCRIPT)).await {
        Err(Error::ReceivedDataLimitExceeded { limit, .. }) => assert_eq!(limit, 200),
        other => panic!("expected the data limit, got {other:?}"),
    }
}

#[tokio::test]
async fn many_sessions_are_listed_through_pull_pages_and_a_server_side_disconnect_is_not_broken() {
    let server = SimulatedServer::new();
    let alice = client(&server, "alice");
    let mut sessions = Vec::new();
    for name in ["a1", "a2", "a3"] {
        let mut session = alice.new_session(name).await.expect("new");
        session.disconnect(None, OutputBufferingMode::None).await.expect("disconnect");
        sessions.push(session);
    }
    let mut names: Vec<String> =
        alice.get_sessions(&SessionFilter::default()).await.expect("get").into_iter().map(|s| s.name).collect();
    names.sort();
    assert_eq!(names, ["a1", "a2", "a3"]);
    let log = server.lock().expect("server").log.clone();
    assert_eq!(log.iter().filter(|a| *a == "Pull").count(), 2, "{log:?}");

    // The server disconnects an open session on its own: the session becomes Disconnected, not Broken, and can be
    // connected again.
    let mut open = alice.new_session("open").await.expect("new");
    server.lock().expect("server").disconnect_shell(open.instance_id());
    match open.invoke(&PipelineSpec::script("Write-Output 'x'")).await {
        Err(Error::SessionDisconnected { name }) => assert_eq!(name, "open"),
        other => panic!("expected disconnected, got {other:?}"),
    }
    assert_eq!(open.state(), SessionState::Disconnected);
    open.reconnect().await.expect("reconnect");
    assert_eq!(output_texts(&open.invoke(&PipelineSpec::script("Write-Output 'x'")).await.expect("invoke")), ["x"]);
}

#[tokio::test]
async fn a_stopped_command_ends_stopped_and_idle_timeouts_below_a_minute_are_refused_at_create() {
    let server = SimulatedServer::new();
    let alice = client(&server, "alice");
    let mut session = alice.new_session("Stop").await.expect("new");
    let pid = session.start(&PipelineSpec::script(SCRIPT)).await.expect("start");
    session.stop(pid).await.expect("stop");
    let mut events = Vec::new();
    let state = session.receive_pipeline(pid, |o| events.push(o)).await.expect("receive");
    assert_eq!(state.to_string(), "Stopped");
    assert!(output_texts(&events).is_empty(), "{events:?}");

    let target = ConnectionTarget::computer_name("sim", None, false, None).expect("target");
    let mut options = SessionOptions::default();
    options.idle_timeout = Some(Duration::from_secs(30));
    let short = Client::with_transport(
        target,
        options,
        Box::new(SimulatedServer::connection(&server, "alice")),
        Arc::new(RandomIds),
    );
    assert!(matches!(short.new_session("x").await, Err(Error::InvalidIdleTimeout { .. })));
}

/// Receive-ahead: the next Receive is on its way before the objects of the previous response reach the caller
/// (so the server prepares the next output while this client decodes the last), and none is sent after Done.
#[tokio::test]
async fn the_next_receive_is_sent_before_the_previous_output_is_handled() {
    let server = SimulatedServer::new();
    let mut session = client(&server, "alice").new_session("ahead").await.expect("new");
    let receives = || server.lock().expect("server").log.iter().filter(|action| *action == "Receive").count();
    let pid = session.start(&PipelineSpec::script(SCRIPT)).await.expect("start");
    let before = receives();
    let mut seen = Vec::new();
    session
        .receive_pipeline(pid, |output| {
            if let PipelineEvent::Output(value) = &output.event {
                seen.push((value.to_display_string(), receives() - before));
            }
        })
        .await
        .expect("receive");
    // Two fragments per ReceiveResponse: [one, two], [three, four], [five, state + Done].
    let expected: Vec<(String, usize)> =
        [("one", 2), ("two", 2), ("three", 3), ("four", 3), ("five", 3)].map(|(s, n)| (s.to_owned(), n)).into();
    assert_eq!(seen, expected);
    assert_eq!(receives() - before, 3, "no Receive after the one that reported Done");
}

/// Two disconnected sessions, each with one finished command whose output is still buffered.
async fn two_disconnected_sessions(server: &Arc<std::sync::Mutex<SimulatedServer>>) -> [(uuid::Uuid, uuid::Uuid); 2] {
    let first = client(server, "alice");
    let mut made = Vec::new();
    for name in ["Alpha", "Beta"] {
        let mut session = first.new_session(name).await.expect("new");
        let pid = session
            .invoke_disconnected(&PipelineSpec::script(SCRIPT), None, OutputBufferingMode::None)
            .await
            .expect("invoke disconnected");
        made.push((session.instance_id(), pid));
    }
    [made[0], made[1]]
}

#[tokio::test]
async fn a_shell_whose_commands_cannot_be_listed_is_skipped_not_fatal() {
    let server = SimulatedServer::new();
    let [(alpha, _), (beta, _)] = two_disconnected_sessions(&server).await;
    server.lock().expect("server").refuse_command_listing.insert(alpha);
    let other = client(&server, "alice");
    let listing = other.list_sessions(&SessionFilter::default()).await.expect("the listing survives");
    assert_eq!(listing.sessions.iter().map(|s| s.instance_id).collect::<Vec<_>>(), [beta]);
    assert_eq!(listing.skipped.len(), 1);
    assert_eq!((listing.skipped[0].instance_id, listing.skipped[0].name.as_str()), (alpha, "Alpha"));
    assert!(listing.skipped[0].reason.contains("command enumeration"), "{:?}", listing.skipped[0]);
    // get_sessions gives the same sessions.
    let found = other.get_sessions(&SessionFilter::default()).await.expect("get");
    assert_eq!(found.iter().map(|s| s.instance_id).collect::<Vec<_>>(), [beta]);
}

#[tokio::test]
async fn finished_commands_are_connected_and_one_gone_since_the_listing_is_skipped() {
    let server = SimulatedServer::new();
    let [(alpha, alpha_pid), (beta, beta_pid)] = two_disconnected_sessions(&server).await;
    let other = client(&server, "alice");
    let found = other.get_sessions(&SessionFilter::default()).await.expect("get");
    let info = |id| found.iter().find(|s| s.instance_id == id).expect("listed").clone();

    // Listed Done (it ended while disconnected), its output still waiting: connected and received.
    let alpha_info = info(alpha);
    assert_eq!(alpha_info.commands.iter().map(|c| c.state.as_str()).collect::<Vec<_>>(), ["Done"]);
    let mut session = other.connect(&alpha_info).await.expect("connect");
    let received = session.receive().await.expect("receive");
    assert_eq!(output_texts(&received), ["one", "two", "three", "four", "five"]);
    assert!(received.iter().all(|o| o.pipeline_id == alpha_pid));

    // Released by someone else between the listing and the Connect: skipped, the session is still connected.
    server.lock().expect("server").forget_command(beta, beta_pid);
    let mut session = other.connect(&info(beta)).await.expect("connect without the vanished command");
    assert_eq!(session.state(), SessionState::Opened);
    assert!(session.receive().await.expect("nothing to receive").is_empty());
    let events = session.invoke(&PipelineSpec::script("Write-Output 'usable'")).await.expect("invoke");
    assert_eq!(output_texts(&events), ["usable"]);
}

#[tokio::test]
async fn a_command_reconnect_the_server_did_not_apply_falls_back_to_the_command_connect() {
    let server = SimulatedServer::new();
    server.lock().expect("server").command_reconnect_ignored = true;
    let client = client(&server, "alice");
    let mut session = client.new_session("Fallback").await.expect("new");
    let pid = session
        .invoke_disconnected(&PipelineSpec::script(SCRIPT), None, OutputBufferingMode::None)
        .await
        .expect("invoke disconnected");
    session.reconnect().await.expect("reconnect");
    let received = session.receive().await.expect("receive after the fallback");
    assert_eq!(output_texts(&received), ["one", "two", "three", "four", "five"]);
    assert!(received.iter().all(|o| o.pipeline_id == pid));
    let log = server.lock().expect("server").log.clone();
    let after_reconnect: Vec<&str> = log.iter().map(String::as_str).skip_while(|a| *a != "Reconnect").collect();
    // Pool Reconnect, command Reconnect, the Receive that found the command disconnected, the command Connect.
    assert_eq!(&after_reconnect[..5], ["Reconnect", "Reconnect", "Receive", "Connect", "Receive"], "{log:?}");
}

#[tokio::test]
async fn a_powershell_2_server_gets_150_kb_envelopes_as_powershell_sends_them() {
    let server = SimulatedServer::new();
    server.lock().expect("server").protocol_version = Some("2.1");
    let client = client(&server, "alice");
    assert_eq!(client.max_envelope_size(), 512_000);
    let mut session = client.new_session("Old").await.expect("new");
    assert_eq!(client.max_envelope_size(), 153_600);
    assert_eq!(session.runspace_pool().config().max_envelope_size, 153_600);
    let events = session.invoke(&PipelineSpec::script("Write-Output 'small'")).await.expect("invoke");
    assert_eq!(output_texts(&events), ["small"]);
    let sizes = server.lock().expect("server").envelope_sizes.clone();
    // The Create went out before the server's version was known; every request after its answer is lowered.
    assert_eq!(sizes[0], 512_000);
    assert!(sizes[2..].iter().all(|s| *s == 153_600), "{sizes:?}");

    // A current server keeps the default.
    let current = SimulatedServer::new();
    let client = self::client(&current, "alice");
    client.new_session("New").await.expect("new");
    assert_eq!(client.max_envelope_size(), 512_000);
}
