//! A network outage in the middle of a command, on tokio's paused clock: the endpoint, the fault proxy and the
//! session run on one paused runtime, so five minutes of outage cost no real time. Inside the retry window
//! (`max_retry_connection_time`) the output goes on in the same process, exactly once; outside it the session gives
//! up cleanly, Disconnected, and a later reconnect collects the rest, exactly once.
//!
//! The HTTP transport runs on threads of its own with the real clock, and a paused clock jumps to its next timer
//! whenever the runtime waits for them. A ticker (a 1 ms sleep in a loop) bounds each jump to a millisecond, so
//! that the endpoint's own timers (its 2-minute header-read timeout) cannot fire while a request is merely on its
//! way; the clock then runs a few hundred times faster than the wall clock. The outage is ended on events: once
//! the client has been retrying for five minutes of its clock (its notices carry the time), or once it gave up.

mod e2e_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e_support::{ALICE, client_with};
use pssession_connect::psrp::client::PipelineEvent;
use pssession_connect::{ConnectionNotice, ConnectionObserver, Error, PipelineSpec, SessionOptions, SessionState};
use pssession_server::engine::{BuiltinEngine, EngineConfig};
use pssession_server::plugin::Plugin;
use pssession_server::powershell::PowerShellPlugin;
use pssession_server::{Server, ServiceConfig};
use pssession_testkit::fault_proxy::{FaultPlan, FaultProxy};
use tokio::sync::mpsc;
use tokio::time::Instant;

const TICKS: u32 = 30;
/// The command: a tick every 2 s of (paused) time, a minute in all besides the outage.
const SCRIPT: &str = "1..30 | ForEach-Object { \"tick $_\"; Start-Sleep -Seconds 2 }";
const OUTAGE: Duration = Duration::from_secs(300);

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().expect("runtime")
}

/// The observer's notices, as short words with the (paused) time each arrived, on a channel and in a list.
type Heard = mpsc::UnboundedReceiver<(String, Instant)>;

fn recorder() -> (ConnectionObserver, Arc<Mutex<Vec<String>>>, Heard) {
    let notices = Arc::new(Mutex::new(Vec::new()));
    let (events, heard) = mpsc::unbounded_channel();
    let sink = Arc::clone(&notices);
    let observer = ConnectionObserver::new(move |notice| {
        let word = match notice {
            ConnectionNotice::NetworkFailureDetected { .. } => "failure".to_owned(),
            ConnectionNotice::RetryAttempt { .. } => "attempt".to_owned(),
            ConnectionNotice::RetrySucceeded { .. } => "restored".to_owned(),
            ConnectionNotice::GaveUp { .. } => "gave up".to_owned(),
            other => format!("{other:?}"),
        };
        sink.lock().expect("lock").push(word.clone());
        let _ = events.send((word, Instant::now()));
    });
    (observer, notices, heard)
}

fn tick(event: &PipelineEvent) -> Option<u32> {
    match event {
        PipelineEvent::Output(value) => value.to_display_string().strip_prefix("tick ")?.parse().ok(),
        _ => None,
    }
}

/// Runs the command through a proxy that goes down once tick 5 arrived, for [`OUTAGE`] of retrying (or until the
/// client gives up). Returns the ticks the first receive got, its outcome, the ticks received after a reconnect (when
/// it gave up), what the observer heard, the connections the outage refused and how long the client retried.
type OutageRun = (Vec<u32>, Result<(), Error>, Vec<u32>, Vec<String>, u64, Option<Duration>);

fn outage_with_window(window: Duration) -> OutageRun {
    let runtime = paused_runtime();
    runtime.block_on(async {
        let ticker = tokio::spawn(async {
            loop {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        let plugin: Arc<dyn Plugin> =
            Arc::new(PowerShellPlugin::new(Arc::new(BuiltinEngine::new(EngineConfig::default()))));
        let server = Server::builder()
            .config(ServiceConfig::default())
            .user(ALICE.0, ALICE.1)
            .plugin(pssession_server::DEFAULT_CONFIGURATION, plugin)
            .http(0)
            .start()
            .await
            .expect("server starts");
        let proxy =
            FaultProxy::start(server.http_address().expect("http"), FaultPlan::default(), 1).await.expect("proxy");
        let (observer, notices, mut heard) = recorder();
        let mut options = SessionOptions::default();
        options.max_retry_connection_time = window;
        options.connection_observer = Some(observer);
        let uri = format!("http://{}/wsman", proxy.address());
        let mut session = client_with(&uri, ALICE, options).new_session("Outage").await.expect("session");
        let pipeline = session.start(&PipelineSpec::script(SCRIPT)).await.expect("start");

        // The outage starts on the event "tick 5 arrived" and ends once the client has retried for five minutes of
        // its clock, or has given up.
        let (fifth, mut fifth_seen) = mpsc::unbounded_channel::<()>();
        let outage = async {
            fifth_seen.recv().await.expect("tick 5");
            proxy.outage(true);
            let mut failed_at = None;
            while let Some((word, at)) = heard.recv().await {
                let since = *failed_at.get_or_insert(at);
                if word == "gave up" || (word == "attempt" && at.duration_since(since) >= OUTAGE) {
                    break;
                }
            }
            proxy.outage(false);
            failed_at
        };
        let mut first = Vec::new();
        let receive = session.receive_pipeline(pipeline, |output| {
            if let Some(n) = tick(&output.event) {
                first.push(n);
                if n == 5 {
                    let _ = fifth.send(());
                }
            }
        });
        let (outcome, failed_at) = tokio::join!(receive, outage);
        let outage_lasted = failed_at.map(|at| at.elapsed());
        let outcome = outcome.map(|_| ());
        let refusals = proxy.stats().outage_refusals.load(std::sync::atomic::Ordering::SeqCst);

        let mut rest = Vec::new();
        if outcome.is_err() {
            assert_eq!(session.state(), SessionState::Disconnected, "given up: Disconnected, not Broken");
            session.reconnect().await.expect("reconnect after the outage");
            session
                .receive_pipeline(pipeline, |output| rest.extend(tick(&output.event)))
                .await
                .expect("the rest of the output");
        }
        let heard = notices.lock().expect("lock").clone();
        ticker.abort();
        (first, outcome, rest, heard, refusals, outage_lasted)
    })
}

#[test]
fn a_five_minute_outage_inside_the_retry_window_is_ridden_out_exactly_once() {
    let (ticks, outcome, rest, heard, refusals, lasted) = outage_with_window(Duration::from_secs(600));
    outcome.expect("the receive rides out the outage");
    assert!(lasted.is_some_and(|d| d >= OUTAGE), "{lasted:?}");
    assert!(rest.is_empty());
    assert_eq!(ticks, (1..=TICKS).collect::<Vec<_>>(), "every tick once, in order");
    assert!(refusals > 0, "the outage refused connections");
    assert_eq!(heard.first().map(String::as_str), Some("failure"), "{heard:?}");
    assert_eq!(heard.last().map(String::as_str), Some("restored"), "{heard:?}");
    assert!(heard.iter().filter(|h| *h == "attempt").count() > 1, "{heard:?}");
    assert!(!heard.iter().any(|h| h == "gave up"), "{heard:?}");
}

#[test]
fn an_outage_longer_than_the_window_gives_up_cleanly_and_a_reconnect_collects_the_rest() {
    let (first, outcome, rest, heard, _, _) = outage_with_window(Duration::from_secs(60));
    let error = outcome.expect_err("the outage outlasts the window");
    assert!(matches!(error, Error::ConnectionInterrupted { .. }), "{error:?}");
    assert!(heard.iter().any(|h| h == "gave up"), "{heard:?}");
    let all: Vec<u32> = first.iter().chain(&rest).copied().collect();
    assert_eq!(all, (1..=TICKS).collect::<Vec<_>>(), "first {first:?}, then {rest:?}");
}
