//! Cancel safety: a session future dropped at an await (a timeout, Ctrl-C) leaves a session the next call can use.
//! The exchange below holds chosen requests until the test lets go; the test drops the operation's future on the
//! event "the request is held", never on time.

mod common;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::{SimulatedConnection, SimulatedServer, output_texts};
use pssession_connect::exchange::ExchangeFuture;
use pssession_connect::{
    Availability, Client, ConnectionTarget, OutputBufferingMode, PipelineSpec, RandomIds, SessionOptions, SessionState,
    WsmanExchange,
};
use tokio::sync::mpsc;

/// Holds every request whose envelope contains `action` (never answering it) while armed, reporting each held one.
struct Holding {
    inner: SimulatedConnection,
    action: Arc<Mutex<Option<&'static str>>>,
    held: mpsc::UnboundedSender<&'static str>,
}

impl WsmanExchange for Holding {
    fn exchange(&mut self, envelope: Bytes) -> ExchangeFuture<'_> {
        let armed = *self.action.lock().expect("lock");
        if let Some(action) = armed
            && std::str::from_utf8(&envelope).is_ok_and(|text| text.contains(action))
        {
            let _ = self.held.send(action);
            return Box::pin(std::future::pending());
        }
        self.inner.exchange(envelope)
    }

    fn endpoint(&self) -> String {
        self.inner.endpoint()
    }
}

type Gate = Arc<Mutex<Option<&'static str>>>;

fn client(server: &Arc<Mutex<SimulatedServer>>) -> (Client, Gate, mpsc::UnboundedReceiver<&'static str>) {
    let target = ConnectionTarget::computer_name("sim", None, false, None).expect("target");
    let gate: Gate = Arc::new(Mutex::new(None));
    let (held, events) = mpsc::unbounded_channel();
    let exchange = Holding { inner: SimulatedServer::connection(server, "alice"), action: Arc::clone(&gate), held };
    let client = Client::with_transport(target, SessionOptions::default(), Box::new(exchange), Arc::new(RandomIds));
    (client, gate, events)
}

#[tokio::test]
async fn a_dropped_reconnect_leaves_a_session_that_reconnects() {
    let server = SimulatedServer::new();
    let (client, gate, mut held) = client(&server);
    let mut session = client.new_session("Cancelled").await.expect("new");
    let pipeline = session
        .invoke_disconnected(&PipelineSpec::script("Write-Output 'kept'"), None, OutputBufferingMode::Block)
        .await
        .expect("invoke disconnected");
    assert_eq!(session.state(), SessionState::Disconnected);

    // The pool's Reconnect is held; the future is dropped once it is on its way.
    *gate.lock().expect("lock") = Some("/Reconnect");
    tokio::select! {
        outcome = session.reconnect() => panic!("the held Reconnect cannot finish: {outcome:?}"),
        action = held.recv() => assert_eq!(action, Some("/Reconnect")),
    }
    assert_eq!(session.state(), SessionState::Disconnected, "nothing was confirmed");

    *gate.lock().expect("lock") = None;
    session.reconnect().await.expect("the next reconnect works");
    assert_eq!(session.state(), SessionState::Opened);
    let mut events = Vec::new();
    session.receive_pipeline(pipeline, |o| events.push(o)).await.expect("receive");
    assert_eq!(output_texts(&events), ["kept"]);
}

#[tokio::test]
async fn a_reconnect_dropped_between_the_pool_and_its_command_is_finished_by_the_next_call() {
    let server = SimulatedServer::new();
    let (client, gate, mut held) = client(&server);
    let mut session = client.new_session("Half").await.expect("new");
    let pipeline = session
        .invoke_disconnected(&PipelineSpec::script("Write-Output 'half'"), None, OutputBufferingMode::Block)
        .await
        .expect("invoke disconnected");

    // The pool reconnects; the command's Reconnect (it names the CommandId) is held and the future dropped.
    *gate.lock().expect("lock") = Some("CommandId");
    tokio::select! {
        outcome = session.reconnect() => panic!("the held command Reconnect cannot finish: {outcome:?}"),
        action = held.recv() => assert_eq!(action, Some("CommandId")),
    }
    *gate.lock().expect("lock") = None;

    let reconnects = || server.lock().expect("lock").log.iter().filter(|a| *a == "Reconnect").count();
    assert_eq!(reconnects(), 1, "only the pool's Reconnect reached the server");

    // The receive first reconnects the command the dropped future did not, then collects its output.
    let mut events = Vec::new();
    session.receive_pipeline(pipeline, |o| events.push(o)).await.expect("receive after the dropped reconnect");
    assert_eq!(reconnects(), 2, "the command's Reconnect was sent by the next call");
    assert_eq!(output_texts(&events), ["half"]);
    assert_eq!((session.state(), session.availability()), (SessionState::Opened, Availability::Available));
}

#[tokio::test]
async fn a_dropped_disconnect_is_completed_by_the_next_one() {
    let server = SimulatedServer::new();
    let (client, gate, mut held) = client(&server);
    let mut session = client.new_session("Leaving").await.expect("new");
    let id = session.instance_id();

    // The Disconnect reaches the server (it disconnects the shell), but its answer never comes back.
    *gate.lock().expect("lock") = Some("/Disconnect");
    server.lock().expect("lock").disconnect_shell(id);
    tokio::select! {
        outcome = session.disconnect(None, OutputBufferingMode::None) => panic!("held: {outcome:?}"),
        action = held.recv() => assert_eq!(action, Some("/Disconnect")),
    }
    *gate.lock().expect("lock") = None;
    session.disconnect(None, OutputBufferingMode::None).await.expect("the shell is already disconnected: done");
    assert_eq!(session.state(), SessionState::Disconnected);
    session.reconnect().await.expect("reconnect");
    assert_eq!(session.state(), SessionState::Opened);
}
