//! Faults, and nothing lost: the `connect` library against the embedded endpoint through a fault-injecting TCP
//! proxy (crates/testkit `fault_proxy`: cuts mid request, mid response and during authentication, drops between
//! Receives, resets, delays — seeded, the seed is printed, `PSSESSION_FAULT_SEED` replays a plan).
//!
//! * 100,000 numbered objects arrive exactly once and in order, through resent Receives, interrupted-session
//!   Reconnects, explicit Disconnect + Reconnect, and a Disconnect + Connect by another client;
//! * OutputBufferingMode Block loses nothing; Drop loses only on overflow and reports exactly what it lost;
//! * a restarted server and an expired idle timeout are typed errors and leave the session Broken (in the store
//!   too);
//! * two clients racing to Connect one disconnected session: one wins, the other gets PowerShell's Busy error.

mod e2e_support;

use std::sync::Arc;
use std::time::Duration;

use e2e_support::{ALICE, Endpoints, Machine, Setup, client, client_with, mask};
use expect_test::expect;
use pssession_connect::{
    Client, Error, OutputBufferingMode, PipelineEvent, PipelineOutput, PipelineSpec, PsInvocationState, Session,
    SessionFilter, SessionOptions, SessionState,
};
use pssession_server::engine::{BuiltinEngine, EngineConfig};
use pssession_server::plugin::Plugin;
use pssession_server::powershell::PowerShellPlugin;
use pssession_server::{RunningServer, Server, ServiceConfig};
use pssession_testkit::fault_proxy::{FaultPlan, FaultProxy, seed_from_env};

/// The `Sequence` numbers of Get-TestData objects among `outputs`, in arrival order.
fn push_sequence(into: &mut Vec<u64>, output: &PipelineOutput) {
    if let PipelineEvent::Output(value) = &output.event {
        let text = value.property("Sequence").unwrap_or_else(|| panic!("no Sequence in {}", value.as_str()));
        into.push(text.parse().unwrap_or_else(|_| panic!("Sequence {text:?} is not a number")));
    }
}

/// Asserts `received` is exactly 1..=count.
#[track_caller]
fn assert_exactly_once_in_order(received: &[u64], count: u64, seed: u64) {
    for (i, n) in received.iter().enumerate() {
        let expected = i as u64 + 1;
        assert_eq!(*n, expected, "seed {seed}: object #{expected} is {n}: output lost, duplicated or reordered");
    }
    assert_eq!(received.len() as u64, count, "seed {seed}: objects received");
}

/// A server like [`Endpoints::start`]'s (without the counting wrapper), on `port` (0: ephemeral) of the current runtime.
async fn start_server(config: ServiceConfig, port: u16) -> RunningServer {
    let plugin: Arc<dyn Plugin> =
        Arc::new(PowerShellPlugin::new(Arc::new(BuiltinEngine::new(EngineConfig::default()))));
    Server::builder()
        .config(config)
        .user(ALICE.0, ALICE.1)
        .plugin(pssession_server::DEFAULT_CONFIGURATION, plugin)
        .http(port)
        .start()
        .await
        .expect("server starts")
}

/// Connects a session interrupted by the network again, however many tries the faults take.
async fn reconnect_through_faults(session: &mut Session, seed: u64) {
    for _ in 0..100 {
        match session.reconnect().await {
            Ok(()) => return,
            Err(Error::ConnectionInterrupted { .. }) => {}
            Err(e) => panic!("seed {seed}: reconnect failed: {e:?}"),
        }
    }
    panic!("seed {seed}: the session could not be reconnected in 100 tries");
}

/// What a run through faults gave.
struct FaultRun {
    /// The `Sequence` numbers received, in order.
    received: Vec<u64>,
    /// Payload lengths seen that differ from the requested size.
    bad_payloads: usize,
    seed: u64,
}

/// Runs `Get-TestData -Count objects -Size size` in a session opened through a fault proxy (with `envelope` as
/// MaxEnvelopeSize when given) and receives it all while the proxy cuts, resets and delays connections; receiving
/// is also cut short from the client side now and then (a dropped Receive future), then resumed by Disconnect +
/// Reconnect; half-way, another client (a new SessionId) connects and carries on.
fn run_through_faults(objects: u64, size: usize, envelope: Option<usize>) -> FaultRun {
    let started = std::time::Instant::now();
    let endpoints = Endpoints::start(Setup::default());
    let upstream = endpoints.servers[0].http_address().expect("http listener");
    let seed = seed_from_env();
    endpoints.runtime.block_on(async {
        // Connections break often: every 64 KiB or 8 requests at most.
        let plan = FaultPlan { max_cut_bytes: 64 * 1024, max_requests_before_drop: 8, ..FaultPlan::default() };
        let proxy = FaultProxy::start(upstream, plan, seed).await.expect("proxy");
        let uri = format!("http://{}/wsman", proxy.address());
        let mut options = SessionOptions::default();
        // Few resends and no retry window, so that sessions also get interrupted and reconnected.
        options.max_connection_retry_count = 2;
        options.max_retry_connection_time = Duration::ZERO;
        if let Some(envelope) = envelope {
            options.max_envelope_size = envelope;
        }
        let mut session = client_with(&uri, ALICE, options.clone()).new_session("Faults").await.expect("new session");
        let script = format!("Get-TestData -Count {objects} -Size {size}");
        let pipeline = session.start(&PipelineSpec::script(&script)).await.expect("start");
        proxy.arm(true);

        let mut received: Vec<u64> = Vec::with_capacity(objects as usize);
        let mut bad_payloads = 0usize;
        let (mut interruptions, mut pauses, mut duplicates) = (0u32, 0u32, 0u64);
        let mut handed_over = false;
        let half_way = tokio::sync::Notify::new();
        let mut pause_rng = pssession_testkit::fault_proxy::SplitMix64::new(seed ^ 0x5EED);
        let state = loop {
            let pause = Duration::from_millis(pause_rng.between(300, 2500));
            let sink = |o: PipelineOutput| {
                push_sequence(&mut received, &o);
                if let PipelineEvent::Output(value) = &o.event
                    && value.property("Payload").map_or(0, |p| p.len()) != size
                {
                    bad_payloads += 1;
                }
                if received.len() as u64 == objects / 2 {
                    half_way.notify_one();
                }
            };
            let round = async {
                tokio::select! {
                    r = tokio::time::timeout(pause, session.receive_pipeline(pipeline, sink)) => Some(r),
                    () = half_way.notified(), if !handed_over => None,
                }
            };
            match round.await {
                Some(Ok(Ok(state))) => break state,
                Some(Ok(Err(Error::ConnectionInterrupted { .. }))) => {
                    assert_eq!(session.state(), SessionState::Disconnected, "seed {seed}");
                    interruptions += 1;
                    reconnect_through_faults(&mut session, seed).await;
                }
                Some(Ok(Err(e))) => panic!("seed {seed}: receiving failed after {} objects: {e:?}", received.len()),
                Some(Err(_elapsed)) => {
                    pauses += 1;
                    if pauses % 2 == 0 {
                        disconnect_through_faults(&mut session, seed).await;
                        reconnect_through_faults(&mut session, seed).await;
                    }
                }
                None => {
                    // Disconnect, then another client connects and carries on. Its Enumerate and Connect are not
                    // made fault-tolerant (see the README), so the proxy holds its fire meanwhile.
                    handed_over = true;
                    disconnect_through_faults(&mut session, seed).await;
                    proxy.arm(false);
                    duplicates += session.duplicates_discarded();
                    let other = client_with(&uri, ALICE, options.clone());
                    let filter = SessionFilter { names: vec!["Faults".to_owned()], ..SessionFilter::default() };
                    let found = other.get_sessions(&filter).await.expect("get_sessions");
                    session = other.connect(&found[0]).await.expect("the other client connects");
                    proxy.arm(true);
                }
            }
        };
        proxy.arm(false);
        duplicates += session.duplicates_discarded();
        let stats = proxy.stats();
        eprintln!(
            "seed {seed}: {} objects in {:?}; {interruptions} interruptions, {pauses} pauses; proxy: {}",
            received.len(),
            started.elapsed(),
            stats.summary()
        );
        assert_eq!(state, PsInvocationState::Completed, "seed {seed}");
        assert!(handed_over, "seed {seed}: the run ended before another client took over");
        assert!(stats.breaks() > 0, "seed {seed}: no fault struck ({})", stats.summary());
        // The server's retention did the work: the client's second guard never had a duplicate to discard.
        assert_eq!(duplicates, 0, "seed {seed}: the server sent fragments twice");
        session.remove().await.expect("remove");
        FaultRun { received, bad_payloads, seed }
    })
}

const OBJECTS: u64 = 100_000;

#[test]
fn hundred_thousand_objects_arrive_exactly_once_in_order_through_network_faults() {
    let run = run_through_faults(OBJECTS, 0, None);
    assert_exactly_once_in_order(&run.received, OBJECTS, run.seed);
    assert_eq!(run.bad_payloads, 0, "seed {}", run.seed);
}

#[test]
fn objects_of_many_fragments_arrive_whole_exactly_once_through_network_faults() {
    // A 16 KiB envelope splits each 30 KB object into three fragments, often across two Receive responses, so
    // cuts, reconnects and the hand-over land in the middle of objects.
    let run = run_through_faults(100, 30_000, Some(16 * 1024));
    assert_exactly_once_in_order(&run.received, 100, run.seed);
    assert_eq!(run.bad_payloads, 0, "seed {}", run.seed);
}

/// Disconnect-PSSession (Block) through faults. A Disconnect the network keeps from getting through leaves the
/// session Disconnected on this side (interrupted), whatever the server saw: reconnect and disconnect again.
async fn disconnect_through_faults(session: &mut Session, seed: u64) {
    for _ in 0..100 {
        if session.state() == SessionState::Disconnected {
            reconnect_through_faults(session, seed).await;
        }
        match session.disconnect(None, OutputBufferingMode::Block).await {
            Ok(()) => {
                assert_eq!(session.state(), SessionState::Disconnected, "seed {seed}");
                return;
            }
            Err(Error::ConnectionInterrupted { .. }) => {
                assert_eq!(session.state(), SessionState::Disconnected, "seed {seed}: interrupted, not broken");
            }
            Err(e) => panic!("seed {seed}: disconnect failed: {e:?}"),
        }
    }
    panic!("seed {seed}: the session could not be disconnected in 100 tries");
}

const SMALL_BUFFER: usize = 16 * 1024;
const BUFFERED_OBJECTS: u64 = 2000;

/// Starts `count` objects in a fresh session, disconnects with `mode` at once, waits for the command to finish
/// (Drop: the endpoint took all its output) or block (Block: the endpoint's full buffer holds it), reconnects and
/// receives.
fn run_disconnected(mode: OutputBufferingMode) -> (Vec<u64>, u64, Vec<pssession_connect::delivery::OutputLoss>) {
    let mut config = ServiceConfig::default();
    config.output_buffer_bytes = SMALL_BUFFER;
    let endpoints = Endpoints::start(Setup { config, ..Setup::default() });
    let uri = endpoints.http_uri(0);
    endpoints.runtime.block_on(async {
        let mut session = client(&uri, ALICE).new_session("Buffered").await.expect("new session");
        let script = format!("Get-TestData -Count {BUFFERED_OBJECTS}");
        let pipeline =
            session.invoke_disconnected(&PipelineSpec::script(&script), None, mode).await.expect("invoke disconnected");
        if mode == OutputBufferingMode::Drop {
            endpoints.counters.wait_until("the command's output, all produced", |c| c.pipelines_finished() == 1).await;
        } else {
            endpoints.output_blocked(0).await;
            assert_eq!(endpoints.counters.pipelines_finished(), 0, "the full buffer holds the command");
        }
        session.reconnect().await.expect("reconnect");
        let mut received = Vec::new();
        let state = session.receive_pipeline(pipeline, |o| push_sequence(&mut received, &o)).await.expect("receive");
        assert_eq!(state, PsInvocationState::Completed);
        let lost = session.output_lost(pipeline);
        let losses = session.output_losses();
        (received, lost, losses)
    })
}

#[test]
fn block_mode_loses_nothing_when_the_output_outgrows_the_buffer() {
    let (received, lost, losses) = run_disconnected(OutputBufferingMode::Block);
    assert_exactly_once_in_order(&received, BUFFERED_OBJECTS, 0);
    assert_eq!((lost, losses), (0, Vec::new()));
}

#[test]
fn drop_mode_loses_only_on_overflow_and_reports_exactly_what_it_lost() {
    let (received, lost, losses) = run_disconnected(OutputBufferingMode::Drop);
    // The buffer holds a fraction of the output: the oldest objects were discarded, the newest kept, in order.
    assert!(lost > 0, "a 16 KiB buffer cannot hold {BUFFERED_OBJECTS} objects");
    assert!(received.windows(2).all(|w| w[0] < w[1]), "kept objects arrive once and in order");
    assert_eq!(received.last(), Some(&BUFFERED_OBJECTS), "the newest output is kept");
    assert_eq!(received.len() as u64 + lost, BUFFERED_OBJECTS, "every missing object is reported");
    assert_eq!(losses.len(), 1);
    assert_eq!(losses[0].objects, lost);
}

#[test]
fn drop_mode_loss_is_printed_by_receive() {
    let mut config = ServiceConfig::default();
    config.output_buffer_bytes = SMALL_BUFFER;
    let endpoints = Endpoints::start(Setup { config, ..Setup::default() });
    let uri = endpoints.http_uri(0);
    let office = Machine::new("faults-drop-office", ALICE);
    office.run(&["new", "--name", "Lossy", "--connection-uri", &uri]).ok();
    let script = format!("Get-TestData -Count {BUFFERED_OBJECTS} | ForEach-Object {{ $_.Sequence }}");
    office
        .run(&[
            "invoke",
            "--name",
            "Lossy",
            "--script-block",
            &script,
            "--in-disconnected-session",
            "--output-buffering-mode",
            "Drop",
        ])
        .ok();
    endpoints.wait_until("the command's output, all produced", |c| c.finished("Get-TestData"));
    let out = office.run(&["receive", "--name", "Lossy"]);
    let printed = out.ok().lines().filter(|l| !l.trim().is_empty()).count() as u64;
    let warning = out.stderr.lines().find(|l| l.starts_with("WARNING:")).unwrap_or_else(|| panic!("{}", out.stderr));
    let reported: u64 = warning
        .split_whitespace()
        .nth(4)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {warning:?}"));
    assert!(reported > 0);
    assert_eq!(printed + reported, BUFFERED_OBJECTS, "{warning}");
    expect![[r#"
        WARNING: the server discarded <N> output object(s) of command <GUID> in session Lossy while it was disconnected with OutputBufferingMode Drop and its output buffer was full.
    "#]]
    .assert_eq(&format!("{}\n", mask(warning).replace(&reported.to_string(), "<N>")));
}

#[test]
fn a_restarted_server_is_a_typed_error_and_the_session_is_broken() {
    let mut endpoints = Endpoints::start(Setup::default());
    let port = endpoints.http_port(0);
    let uri = endpoints.http_uri(0);
    let office = Machine::new("faults-restart", ALICE);
    office.run(&["new", "--name", "Stored", "--connection-uri", &uri]).ok();
    // The first output is the event that the session is receiving; then it waits for more.
    let sleeping = PipelineSpec::script("'receiving'; Start-Sleep -Seconds 60");

    // The server restarts (same port, none of the old shells) while a session waits for output: the cut Receive
    // is resent, reaches the new server, which does not know the session: a typed error, and the session is Broken.
    let mut options = SessionOptions::default();
    options.max_connection_retry_count = 20;
    let (mut session, pipeline) = endpoints.runtime.block_on(async {
        let mut s = client_with(&uri, ALICE, options).new_session("Receiving").await.expect("session");
        let pipeline = s.start(&sleeping).await.expect("start");
        (s, pipeline)
    });
    let old = endpoints.servers.remove(0);
    let (result, restarted) = endpoints.runtime.block_on(async {
        let receiving = tokio::sync::Notify::new();
        let restart = async {
            receiving.notified().await;
            old.shutdown().await;
            start_server(ServiceConfig::default(), port).await
        };
        tokio::join!(session.receive_pipeline(pipeline, |_: PipelineOutput| receiving.notify_one()), restart)
    });
    let error = result.expect_err("the restarted server has no such session");
    assert!(matches!(error, Error::SessionNotFound { .. }), "{error:?}");
    assert_eq!(session.state(), SessionState::Broken);

    // The server is down for longer than the client resends: the session is Disconnected (the server might come
    // back with it); reconnecting to the restarted server, which has no such shell, breaks it.
    let mut options = SessionOptions::default();
    options.max_connection_retry_count = 1;
    options.max_retry_connection_time = Duration::ZERO;
    let (mut session, pipeline) = endpoints.runtime.block_on(async {
        let mut s = client_with(&uri, ALICE, options).new_session("Interrupted").await.expect("session");
        let pipeline = s.start(&sleeping).await.expect("start");
        (s, pipeline)
    });
    let error = endpoints.runtime.block_on(async {
        let receiving = tokio::sync::Notify::new();
        let stop = async {
            receiving.notified().await;
            restarted.shutdown().await;
        };
        tokio::join!(session.receive_pipeline(pipeline, |_: PipelineOutput| receiving.notify_one()), stop)
            .0
            .expect_err("server down")
    });
    assert!(matches!(error, Error::ConnectionInterrupted { attempts: 2, .. }), "{error:?}");
    assert_eq!(session.state(), SessionState::Disconnected);
    expect![[r#"
        The network connection to session "Interrupted" was interrupted and 2 attempts to resume it failed (<TRANSPORT>). The session is Disconnected; connect to it again to continue receiving its output.
    "#]]
    .assert_eq(&format!("{}\n", transport_masked(&error)));
    let again = endpoints.runtime.block_on(start_server(ServiceConfig::default(), port));
    let error = endpoints.runtime.block_on(session.reconnect()).expect_err("the restarted server has no such shell");
    assert!(matches!(error, Error::SessionNotFound { .. }), "{error:?}");
    assert_eq!(session.state(), SessionState::Broken);

    // The CLI reports the stored session gone and marks it Broken in the store.
    let out = office.run(&["receive", "--name", "Stored"]);
    assert!(out.failed().contains("session 1 (Stored) no longer exists"), "{}", out.stderr);
    let stored = office.store();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].state, SessionState::Broken);
    endpoints.runtime.block_on(again.shutdown());
}

/// The error's text with the transport error's own words masked.
fn transport_masked(error: &Error) -> String {
    let Error::ConnectionInterrupted { source, .. } = error else { return error.to_string() };
    error.to_string().replace(&source.to_string(), "<TRANSPORT>")
}

#[test]
fn an_expired_idle_timeout_is_a_typed_error_and_the_session_is_broken() {
    let mut config = ServiceConfig::default();
    config.idle_timeout = Duration::from_secs(1);
    let endpoints = Endpoints::start(Setup { config, ..Setup::default() });
    let uri = endpoints.http_uri(0);
    endpoints.runtime.block_on(async {
        let mut session = client(&uri, ALICE).new_session("Brief").await.expect("session");
        session.disconnect(None, OutputBufferingMode::Block).await.expect("disconnect");
        endpoints.counters.wait_until("the idle timeout to delete the shell", |c| c.closes() == 1).await;
        assert_eq!(endpoints.shell_count(0), 0);
        let error = session.reconnect().await.expect_err("expired");
        assert!(matches!(error, Error::SessionNotFound { .. }), "{error:?}");
        assert_eq!(session.state(), SessionState::Broken);
        expect![[r#"
            The session with InstanceId <GUID> was not found on the server. It may have been removed or its idle timeout may have expired.
        "#]]
        .assert_eq(&format!("{}\n", mask(&error.to_string())));
    });
}

#[test]
fn two_clients_racing_to_connect_one_session_one_wins_the_other_is_busy() {
    let endpoints = Endpoints::start(Setup::default());
    let uri = endpoints.http_uri(0);
    const ROUNDS: usize = 25;
    endpoints.runtime.block_on(async {
        let mut session = client(&uri, ALICE).new_session("Contested").await.expect("session");
        session.disconnect(None, OutputBufferingMode::Block).await.expect("disconnect");
        let filter = SessionFilter { names: vec!["Contested".to_owned()], ..SessionFilter::default() };
        for round in 0..ROUNDS {
            let (a, b) = (client(&uri, ALICE), client(&uri, ALICE));
            let found = a.get_sessions(&filter).await.expect("get_sessions");
            let info = found[0].clone();
            let barrier = Arc::new(tokio::sync::Barrier::new(2));
            let race = |c: Client, info: pssession_connect::SessionInfo, barrier: Arc<tokio::sync::Barrier>| {
                tokio::spawn(async move {
                    barrier.wait().await;
                    c.connect(&info).await
                })
            };
            let first = race(a, info.clone(), Arc::clone(&barrier));
            let second = race(b, info, barrier);
            let (first, second) = (first.await.expect("task"), second.await.expect("task"));
            let (mut winner, loser) = match (first, second) {
                (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
                (Ok(_), Ok(_)) => panic!("round {round}: both clients connected the same session"),
                (Err(a), Err(b)) => panic!("round {round}: nobody connected: {a:?} / {b:?}"),
            };
            assert!(matches!(loser, Error::SessionBusy { .. }), "round {round}: {loser:?}");
            assert_eq!(
                loser.to_string(),
                "Cannot connect PSSession \"Contested\", either because it is not in the Disconnected state, or it \
                 is not available for connection."
            );
            assert_eq!(winner.state(), SessionState::Opened);
            winner.disconnect(None, OutputBufferingMode::Block).await.expect("the winner disconnects");
        }
    });
}
