//! Client-loss detection, as the WinRM service does it: a connected shell whose client sends nothing for the
//! client keep-alive timeout becomes Disconnected on its own, its commands still running under its buffering
//! mode, its idle timeout started — so another client can Connect and collect the output. A waiting Receive and
//! any request to the shell count as the client being there. Time is paused: every timeout runs instantly and
//! exactly.

mod server_support;

use std::time::Duration;

use pssession_server::plugin::BufferMode;
use pssession_server::{DeleteCause, DisconnectCause, ServiceConfig, ShellChange, ShellEvent};
use pssession_wsman::envelope::ResponseBody;
use pssession_wsman::ops::GetResponse;
use pssession_wsman::shell::ShellState;
use server_support::*;
use tokio::sync::broadcast;
use tokio::time::{Instant, sleep};

const DISCONNECTED: u32 = 0x8033_81C4;
const MISMATCH: u32 = 0x8033_81C6;
const UNKNOWN_ID: u32 = 0x8033_805B;
const KEEPALIVE: Duration = Duration::from_secs(240);

fn config(idle: Duration) -> ServiceConfig {
    let mut config = ServiceConfig::default();
    config.idle_timeout = idle;
    config
}

async fn created(service: &pssession_server::Service) -> (Client, String) {
    let client = Client::new();
    let shell = guid();
    assert!(matches!(call(service, &user("alice"), &client.create(&shell, b"")).await, ResponseBody::Create(_)));
    (client, shell)
}

async fn state(service: &pssession_server::Service, client: &Client, shell: &str) -> ShellState {
    match call(service, &user("alice"), &client.get(shell)).await {
        ResponseBody::Get(GetResponse::Shell(p)) => p.state.expect("state"),
        other => panic!("{other:?}"),
    }
}

/// The next event (the channel never lags in these tests). Paused time runs ahead to the guard's deadline when
/// nothing else is due, so a missing event fails the test instead of hanging it.
async fn next(events: &mut broadcast::Receiver<ShellEvent>) -> ShellChange {
    let guard = Duration::from_secs(10 * 3600);
    tokio::time::timeout(guard, events.recv()).await.expect("an event within 10 hours").expect("an event").change
}

#[test]
fn windows_default_is_four_minutes() {
    assert_eq!(ServiceConfig::default().client_keepalive_timeout, Some(KEEPALIVE));
}

#[tokio::test(start_paused = true)]
async fn a_silent_client_is_lost_after_the_keepalive_timeout_and_another_client_connects() {
    let (service, _) = service(config(Duration::from_secs(600)));
    let mut events = service.shell_events();
    let (client, shell) = created(&service).await;
    assert_eq!(next(&mut events).await, ShellChange::Created);
    let started = Instant::now();

    sleep(KEEPALIVE - Duration::from_secs(1)).await;
    assert_eq!(state(&service, &client, &shell).await, ShellState::Connected);
    // The Get above is not the client's activity on the shell (any user may enumerate or Get), so the shell is
    // given up at 240 s after creation, not 240 s after the Get.
    let change = next(&mut events).await;
    assert_eq!(started.elapsed(), KEEPALIVE);
    assert_eq!(
        change,
        ShellChange::Disconnected {
            cause: DisconnectCause::ClientLost { silent_for: KEEPALIVE },
            idle_timeout: Duration::from_secs(600)
        }
    );
    assert_eq!(state(&service, &client, &shell).await, ShellState::Disconnected);

    // The lost client coming back is told its shell is disconnected (it may Reconnect, as after a Disconnect).
    let alice = user("alice");
    assert_eq!(fault_code(&call(&service, &alice, &client.receive(&shell, None)).await), DISCONNECTED);

    // Another client connects it; from then on the old one is another client.
    let other = Client::new();
    assert!(matches!(call(&service, &alice, &other.connect(&shell, None, None)).await, ResponseBody::Connect(_)));
    assert_eq!(next(&mut events).await, ShellChange::Connected);
    assert_eq!(fault_code(&call(&service, &alice, &client.receive(&shell, None)).await), MISMATCH);
}

#[tokio::test(start_paused = true)]
async fn the_idle_timeout_of_a_lost_client_deletes_the_shell() {
    let (service, _) = service(config(Duration::from_secs(60)));
    let mut events = service.shell_events();
    let (client, shell) = created(&service).await;
    assert_eq!(next(&mut events).await, ShellChange::Created);
    assert!(matches!(next(&mut events).await, ShellChange::Disconnected { .. }));
    let lost = Instant::now();
    assert_eq!(next(&mut events).await, ShellChange::Deleted { cause: DeleteCause::IdleTimeout });
    assert_eq!(lost.elapsed(), Duration::from_secs(60));
    assert_eq!(fault_code(&call(&service, &user("alice"), &client.get(&shell)).await), UNKNOWN_ID);
    assert_eq!(service.shell_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn requests_to_the_shell_keep_the_client() {
    let (service, _) = service(config(Duration::from_secs(600)));
    let (client, shell) = created(&service).await;
    let alice = user("alice");
    for _ in 0..10 {
        sleep(KEEPALIVE - Duration::from_secs(1)).await;
        assert!(matches!(call(&service, &alice, &client.send(&shell, None, b"x")).await, ResponseBody::Send));
    }
    assert_eq!(state(&service, &client, &shell).await, ShellState::Connected);
}

#[tokio::test(start_paused = true)]
async fn a_waiting_receive_is_the_client_being_there() {
    let mut config = config(Duration::from_secs(600));
    config.client_keepalive_timeout = Some(Duration::from_secs(10));
    let (service, _) = service(config);
    let mut events = service.shell_events();
    let (mut client, shell) = created(&service).await;
    assert_eq!(next(&mut events).await, ShellChange::Created);
    // The pool's first output (the empty creation XML), then a Receive that waits 30 s for more.
    receive_all(&service, &user("alice"), &client, &shell, None, 1).await;
    client.timeout = pssession_wsman::duration::XsDuration::from_secs(30);
    let started = Instant::now();
    let waiting = {
        let (service, client, shell) = (service.clone(), client.clone(), shell.clone());
        tokio::spawn(async move { call(&service, &user("alice"), &client.receive(&shell, None)).await })
    };
    assert!(matches!(waiting.await.unwrap(), ResponseBody::Fault(_)), "the Receive times out");
    assert_eq!(started.elapsed(), Duration::from_secs(30));
    // Lost 10 s after the Receive ended, not 10 s after it started.
    assert!(matches!(next(&mut events).await, ShellChange::Disconnected { .. }));
    assert_eq!(started.elapsed(), Duration::from_secs(40));
}

#[tokio::test(start_paused = true)]
async fn a_reconnected_shell_is_watched_again_and_none_never_gives_up() {
    let (service, _) = service(config(Duration::from_secs(600)));
    let mut events = service.shell_events();
    let (client, shell) = created(&service).await;
    let alice = user("alice");
    call(&service, &alice, &client.disconnect(&shell, None, None)).await;
    // Disconnected by the client: nothing is watched while no client is connected.
    sleep(KEEPALIVE * 2).await;
    call(&service, &alice, &client.reconnect(&shell, None)).await;
    let reconnected = Instant::now();
    assert_eq!(next(&mut events).await, ShellChange::Created);
    assert!(matches!(next(&mut events).await, ShellChange::Disconnected { cause: DisconnectCause::ClientRequest, .. }));
    assert_eq!(next(&mut events).await, ShellChange::Reconnected);
    assert!(matches!(
        next(&mut events).await,
        ShellChange::Disconnected { cause: DisconnectCause::ClientLost { .. }, .. }
    ));
    assert_eq!(reconnected.elapsed(), KEEPALIVE);

    let mut never = config(Duration::from_secs(600));
    never.client_keepalive_timeout = None;
    let (service, _) = server_support::service(never);
    let (client, shell) = created(&service).await;
    sleep(Duration::from_secs(24 * 3600)).await;
    assert_eq!(state(&service, &client, &shell).await, ShellState::Connected);
}

/// A command flooding a 100-byte buffer while its client is lost, under the shell's buffering `mode`; returns
/// what a second client collects after connecting.
async fn flood_then_lose_the_client(mode: BufferMode) -> (Vec<u8>, Option<i64>) {
    let mut config = config(Duration::from_secs(600));
    config.output_buffer_bytes = 100;
    let (service, _) = service(config);
    let mut events = service.shell_events();
    let alice = user("alice");
    let (client, shell) = created(&service).await;
    // The buffering mode is the shell's: set by a Disconnect, kept by the Reconnect.
    call(&service, &alice, &client.disconnect(&shell, None, Some(mode))).await;
    call(&service, &alice, &client.reconnect(&shell, None)).await;
    let cmd = guid();
    call(&service, &alice, &client.command(&shell, &cmd, b"flood:10:40")).await;
    loop {
        if let ShellChange::Disconnected { cause: DisconnectCause::ClientLost { .. }, .. } = next(&mut events).await {
            break;
        }
    }
    let other = Client::new();
    assert!(matches!(call(&service, &alice, &other.connect(&shell, None, None)).await, ResponseBody::Connect(_)));
    assert!(matches!(call(&service, &alice, &other.connect(&shell, Some(&cmd), None)).await, ResponseBody::Connect(_)));
    let (data, done) = receive_all(&service, &alice, &other, &shell, Some(&cmd), 20).await;
    (data.iter().filter(|d| d.len() == 40).map(|d| d[0]).collect(), done)
}

#[tokio::test(start_paused = true)]
async fn block_mode_keeps_every_fragment_for_the_next_client() {
    let (flood, done) = flood_then_lose_the_client(BufferMode::Block).await;
    assert_eq!(flood, (0..10).collect::<Vec<u8>>());
    assert_eq!(done, Some(0));
}

#[tokio::test(start_paused = true)]
async fn drop_mode_keeps_the_newest_output_for_the_next_client() {
    let (flood, done) = flood_then_lose_the_client(BufferMode::Drop).await;
    assert_eq!(flood, vec![8, 9]);
    assert_eq!(done, Some(0));
}
