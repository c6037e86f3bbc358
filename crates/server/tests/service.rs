//! The WinRM service without sockets: every operation, the shell state machine, buffering, enumeration, and
//! malformed input. Time is paused, so timeouts run instantly.

mod server_support;

use std::time::Duration;

use pssession_server::ServiceConfig;
use pssession_server::plugin::{BufferMode, SignalCode};
use pssession_wsman::enumeration::EnumItem;
use pssession_wsman::envelope::ResponseBody;
use pssession_wsman::header::resource;
use pssession_wsman::ops::GetResponse;
use pssession_wsman::shell::ShellState;
use server_support::*;

const UNKNOWN_ID: u32 = 0x8033_805B;
const DISCONNECTED: u32 = 0x8033_81C4;
const MISMATCH: u32 = 0x8033_81C6;
const BUSY: u32 = 0x8033_81CD;
const TIMED_OUT: u32 = 0x8033_8029;

async fn created(config: ServiceConfig) -> (pssession_server::Service, Client, String) {
    let expected_idle = config.idle_timeout.min(config.max_idle_timeout).as_secs();
    let (service, _) = service(config);
    let client = Client::new();
    let shell = guid();
    match call(&service, &user("alice"), &client.create(&shell, b"init")).await {
        ResponseBody::Create(c) => {
            assert_eq!(c.shell_id(), Some(shell.as_str()));
            let props = c.shell.expect("shell properties");
            assert_eq!(props.name.as_deref(), Some("Runspace1"));
            assert_eq!(props.state, Some(ShellState::Connected));
            assert_eq!(props.buffer_mode, Some(BufferMode::Block));
            let idle = props.idle_timeout.map(|d| d.to_seconds_string());
            assert_eq!(idle, Some(format!("PT{expected_idle}.000S")));
        }
        other => panic!("{other:?}"),
    }
    (service, client, shell)
}

#[tokio::test(start_paused = true)]
async fn create_receive_command_send_signal_delete() {
    let (service, seen) = service(ServiceConfig::default());
    let alice = user("alice");
    let client = Client::new();
    let shell = guid();
    let body = call(&service, &alice, &client.create(&shell, b"init")).await;
    assert!(matches!(body, ResponseBody::Create(_)));
    {
        let seen = seen.lock().unwrap();
        let info = &seen.shells[0];
        assert_eq!(info.configuration_name, "Microsoft.PowerShell");
        assert_eq!(info.owner, "alice");
        assert_eq!(info.protocol_version.as_deref(), Some("2.3"));
        assert!(info.max_fragment_size > 100_000 && info.max_fragment_size < 153_600, "{}", info.max_fragment_size);
    }
    // The pool output: creationXml echoed.
    let (data, done) = receive_all(&service, &alice, &client, &shell, None, 1).await;
    assert_eq!(data, vec![b"init".to_vec()]);
    assert_eq!(done, None);

    // Send to the pool.
    assert!(matches!(call(&service, &alice, &client.send(&shell, None, b"pool-data")).await, ResponseBody::Send));
    let (data, _) = receive_all(&service, &alice, &client, &shell, None, 1).await;
    assert_eq!(data, vec![b"pool-data".to_vec()]);

    // A command that finishes.
    let cmd = guid();
    match call(&service, &alice, &client.command(&shell, &cmd, b"finish")).await {
        ResponseBody::Command(c) => assert_eq!(c.command_id, cmd),
        other => panic!("{other:?}"),
    }
    let (data, done) = receive_all(&service, &alice, &client, &shell, Some(&cmd), 3).await;
    assert_eq!(data, vec![b"finish".to_vec()]);
    assert_eq!(done, Some(0));

    // A running command: Send goes to it, stop signal finishes it with 1, Terminate releases it.
    let cmd2 = guid();
    call(&service, &alice, &client.command(&shell, &cmd2, b"run")).await;
    call(&service, &alice, &client.send(&shell, Some(&cmd2), b"input")).await;
    let (data, done) = receive_all(&service, &alice, &client, &shell, Some(&cmd2), 1).await;
    assert_eq!(data, vec![b"run".to_vec(), b"input".to_vec()]);
    assert_eq!(done, None);
    let stop = call(&service, &alice, &client.signal(&shell, Some(&cmd2), SignalCode::PowerShellStop)).await;
    assert!(matches!(stop, ResponseBody::Signal));
    let (_, done) = receive_all(&service, &alice, &client, &shell, Some(&cmd2), 3).await;
    assert_eq!(done, Some(1));
    call(&service, &alice, &client.signal(&shell, Some(&cmd2), SignalCode::Terminate)).await;
    assert_eq!(fault_code(&call(&service, &alice, &client.receive(&shell, Some(&cmd2))).await), UNKNOWN_ID);
    assert_eq!(seen.lock().unwrap().signals.len(), 2);

    // Delete closes the plugin shell; the id is then unknown.
    assert!(matches!(call(&service, &alice, &client.delete(&shell)).await, ResponseBody::Delete));
    assert_eq!(seen.lock().unwrap().closed.len(), 1);
    assert_eq!(fault_code(&call(&service, &alice, &client.receive(&shell, None)).await), UNKNOWN_ID);
    assert_eq!(service.shell_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn create_faults() {
    let (service, client, shell) = created(ServiceConfig::default()).await;
    let alice = user("alice");
    // Same ShellId again (even from another user).
    assert_eq!(fault_code(&call(&service, &alice, &client.create(&shell, b"")).await), 0x8033_81D7);
    assert_eq!(fault_code(&call(&service, &user("bob"), &client.create(&shell, b"")).await), 0x8033_81D7);
    // Unknown configuration name.
    let body = pssession_wsman::ops::CreateShell::powershell(&guid(), None, bytes::Bytes::new());
    let envelope = client.envelope(
        pssession_wsman::envelope::RequestBody::Create(body),
        "http://schemas.microsoft.com/powershell/No.Such.Config",
        None,
    );
    assert_eq!(fault_code(&call(&service, &alice, &envelope).await), 0x8033_8012);
    // The plugin refuses.
    assert_eq!(fault_code(&call(&service, &alice, &client.create(&guid(), b"refuse")).await), 0x8054_0BC5);
    assert_eq!(service.shell_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn unknown_ids_fault_invalid_selectors() {
    let (service, client, shell) = created(ServiceConfig::default()).await;
    let alice = user("alice");
    let other = guid();
    for envelope in [
        client.receive(&other, None),
        client.send(&other, None, b"x"),
        client.command(&other, &guid(), b"x"),
        client.signal(&other, None, SignalCode::Terminate),
        client.delete(&other),
        client.disconnect(&other, None, None),
        client.reconnect(&other, None),
        client.connect(&other, None, Some(b"x")),
        client.get(&other),
        client.receive("not-a-guid", None),
    ] {
        assert_eq!(fault_code(&call(&service, &alice, &envelope).await), UNKNOWN_ID);
    }
    let cmd = guid();
    assert_eq!(fault_code(&call(&service, &alice, &client.receive(&shell, Some(&cmd))).await), UNKNOWN_ID);
    assert_eq!(fault_code(&call(&service, &alice, &client.send(&shell, Some(&cmd), b"x")).await), UNKNOWN_ID);
    let signal = client.signal(&shell, Some(&cmd), SignalCode::Terminate);
    assert_eq!(fault_code(&call(&service, &alice, &signal).await), UNKNOWN_ID);
}

#[tokio::test(start_paused = true)]
async fn disconnect_reconnect_connect_state_machine() {
    let (service, client, shell) = created(ServiceConfig::default()).await;
    let alice = user("alice");
    let cmd = guid();
    call(&service, &alice, &client.command(&shell, &cmd, b"run")).await;
    let disconnect = client.disconnect(&shell, Some(600), Some(BufferMode::Drop));
    assert!(matches!(call(&service, &alice, &disconnect).await, ResponseBody::Disconnect));

    // Every data operation on a disconnected shell faults 0x803381C4; a second Disconnect too.
    for envelope in [
        client.receive(&shell, None),
        client.send(&shell, None, b"x"),
        client.command(&shell, &guid(), b"x"),
        client.signal(&shell, Some(&cmd), SignalCode::Terminate),
        client.disconnect(&shell, None, None),
        client.reconnect(&shell, Some(&cmd)),
    ] {
        assert_eq!(fault_code(&call(&service, &alice, &envelope).await), DISCONNECTED);
    }
    // Get and Enumerate show it Disconnected with the new settings.
    match call(&service, &alice, &client.get(&shell)).await {
        ResponseBody::Get(GetResponse::Shell(p)) => {
            assert_eq!(p.state, Some(ShellState::Disconnected));
            assert_eq!(p.buffer_mode, Some(BufferMode::Drop));
            assert_eq!(p.idle_timeout.map(|d| d.to_seconds_string()).as_deref(), Some("PT600.000S"));
            assert!(p.memory_used.is_some());
        }
        other => panic!("{other:?}"),
    }

    // Reconnect from another client session: mismatch. From the same session: Connected again.
    let other = Client::new();
    assert_eq!(fault_code(&call(&service, &alice, &other.reconnect(&shell, None)).await), MISMATCH);
    assert!(matches!(call(&service, &alice, &client.reconnect(&shell, None)).await, ResponseBody::Reconnect));
    // Already connected, same session: success (no-op); per-command reconnect succeeds.
    assert!(matches!(call(&service, &alice, &client.reconnect(&shell, None)).await, ResponseBody::Reconnect));
    assert!(matches!(call(&service, &alice, &client.reconnect(&shell, Some(&cmd))).await, ResponseBody::Reconnect));
    // Connected to `client`: Busy for another session, for Reconnect, Connect and Disconnect.
    assert_eq!(fault_code(&call(&service, &alice, &other.reconnect(&shell, None)).await), BUSY);
    assert_eq!(fault_code(&call(&service, &alice, &other.connect(&shell, None, Some(b"x"))).await), BUSY);
    assert_eq!(fault_code(&call(&service, &alice, &other.disconnect(&shell, None, None)).await), BUSY);
    assert_eq!(fault_code(&call(&service, &alice, &other.receive(&shell, None)).await), MISMATCH);

    // Disconnect, then Connect from the other session: the plugin's connectResponseXml is wrapped.
    call(&service, &alice, &client.disconnect(&shell, None, None)).await;
    assert_eq!(fault_code(&call(&service, &alice, &other.connect(&shell, None, Some(b"bad"))).await), 0x8054_0FA3);
    match call(&service, &alice, &other.connect(&shell, None, Some(b"hello"))).await {
        ResponseBody::Connect(c) => {
            assert_eq!(c.input_streams.as_deref(), Some("stdin pr"));
            assert_eq!(c.output_streams.as_deref(), Some("stdout"));
            assert_eq!(c.connect_response_xml.as_deref(), Some(&b"connected:hello"[..]));
        }
        other => panic!("{other:?}"),
    }
    // The old session is now the stranger; the new one receives the pool output and connects the command.
    assert_eq!(fault_code(&call(&service, &alice, &client.receive(&shell, None)).await), MISMATCH);
    let (data, _) = receive_all(&service, &alice, &other, &shell, None, 1).await;
    assert_eq!(data.last().map(Vec::as_slice), Some(&b"after-connect"[..]));
    match call(&service, &alice, &other.connect(&shell, Some(&cmd), None)).await {
        ResponseBody::Connect(c) => assert!(c.connect_response_xml.is_none()),
        other => panic!("{other:?}"),
    }
    let (data, _) = receive_all(&service, &alice, &other, &shell, Some(&cmd), 1).await;
    assert_eq!(data, vec![b"run".to_vec()]);
}

#[tokio::test(start_paused = true)]
async fn users_see_only_their_own_shells() {
    let (service, client, shell) = created(ServiceConfig::default()).await;
    let bob = user("bob");
    // Bob is told the shell does not exist, whatever the operation.
    for envelope in [client.receive(&shell, None), client.get(&shell), client.delete(&shell)] {
        assert_eq!(fault_code(&call(&service, &bob, &envelope).await), UNKNOWN_ID);
    }
    match call(&service, &bob, &client.enumerate_shells(true, Some(100))).await {
        ResponseBody::Enumerate(e) => {
            assert!(e.items.is_empty());
            assert!(e.end_of_sequence);
        }
        other => panic!("{other:?}"),
    }
    // The same user with a domain prefix is the same account.
    let alice_domain = pssession_server::Caller::new("LAB", "ALICE", "127.0.0.1");
    assert!(matches!(call(&service, &alice_domain, &client.get(&shell)).await, ResponseBody::Get(_)));
    assert_eq!(service.shell_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_deletes_a_disconnected_shell() {
    let (service, client, shell) = created(ServiceConfig::default()).await;
    let alice = user("alice");
    call(&service, &alice, &client.disconnect(&shell, Some(60), None)).await;
    tokio::time::sleep(Duration::from_secs(59)).await;
    assert!(matches!(call(&service, &alice, &client.get(&shell)).await, ResponseBody::Get(_)));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(fault_code(&call(&service, &alice, &client.get(&shell)).await), UNKNOWN_ID);
    assert_eq!(service.shell_count(), 0);

    // A reconnect before expiry cancels the timer; MaxIdleTimeOut caps the requested value.
    let mut config = ServiceConfig::default();
    config.max_idle_timeout = Duration::from_secs(100);
    let (service, client, shell) = created(config).await;
    call(&service, &alice, &client.disconnect(&shell, Some(10), None)).await;
    call(&service, &alice, &client.reconnect(&shell, None)).await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(service.shell_count(), 1);
    call(&service, &alice, &client.disconnect(&shell, Some(100_000), None)).await;
    match call(&service, &alice, &client.get(&shell)).await {
        ResponseBody::Get(GetResponse::Shell(p)) => {
            assert_eq!(p.idle_timeout.map(|d| d.to_seconds_string()).as_deref(), Some("PT100.000S"));
        }
        other => panic!("{other:?}"),
    }
    tokio::time::sleep(Duration::from_secs(101)).await;
    assert_eq!(service.shell_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn receive_long_poll_times_out() {
    let (service, mut client, shell) = created(ServiceConfig::default()).await;
    let alice = user("alice");
    receive_all(&service, &alice, &client, &shell, None, 1).await;
    client.timeout = pssession_wsman::duration::XsDuration::from_secs(5);
    let started = tokio::time::Instant::now();
    let body = call(&service, &alice, &client.receive(&shell, None)).await;
    assert_eq!(fault_code(&body), TIMED_OUT);
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    // Output arriving during the wait completes the Receive at once.
    let waiting = {
        let (service, alice, client, shell) = (service.clone(), alice.clone(), client.clone(), shell.clone());
        tokio::spawn(async move { call(&service, &alice, &client.receive(&shell, None)).await })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    call(&service, &alice, &client.send(&shell, None, b"late")).await;
    match waiting.await.unwrap() {
        ResponseBody::Receive(r) => assert_eq!(r.streams[0].data.as_ref(), b"late"),
        other => panic!("{other:?}"),
    }
}

/// Floods a command's 100-byte buffer while disconnected; returns how many of the plugin's writes had completed
/// after 30 s disconnected, then what Receives after reconnecting collect.
async fn flood_while_disconnected(mode: BufferMode) -> (usize, Vec<Vec<u8>>, Option<i64>) {
    let mut config = ServiceConfig::default();
    config.output_buffer_bytes = 100;
    let (service, seen) = service(config);
    let alice = user("alice");
    let client = Client::new();
    let shell = guid();
    call(&service, &alice, &client.create(&shell, b"")).await;
    let cmd = guid();
    call(&service, &alice, &client.disconnect(&shell, None, Some(mode))).await;
    call(&service, &alice, &client.reconnect(&shell, None)).await;
    // Start a command that writes its arguments and then 10 fragments of 40 bytes; disconnect before reading.
    call(&service, &alice, &client.command(&shell, &cmd, b"flood:10:40")).await;
    call(&service, &alice, &client.disconnect(&shell, None, Some(mode))).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    let id = pssession_server::plugin::Uuid::parse_str(&cmd).unwrap();
    let completed = seen.lock().unwrap().writes_completed.get(&Some(id)).copied().unwrap_or(0);
    call(&service, &alice, &client.reconnect(&shell, None)).await;
    let (data, done) = receive_all(&service, &alice, &client, &shell, Some(&cmd), 20).await;
    (completed, data, done)
}

#[tokio::test(start_paused = true)]
async fn block_mode_keeps_every_fragment() {
    let (completed, data, done) = flood_while_disconnected(BufferMode::Block).await;
    // The pipeline waited on the full buffer while nobody read it: arguments (11 bytes) + two fragments fit.
    assert_eq!(completed, 3);
    assert_eq!(done, Some(0));
    let flood: Vec<u8> = data.iter().skip(1).map(|d| d[0]).collect();
    assert_eq!(flood, (0..10).collect::<Vec<u8>>());
}

#[tokio::test(start_paused = true)]
async fn drop_mode_discards_the_oldest_fragments() {
    let (completed, data, done) = flood_while_disconnected(BufferMode::Drop).await;
    // Dropping old output let the pipeline write everything while disconnected.
    assert_eq!(completed, 11);
    assert_eq!(done, Some(0));
    // The buffer holds 100 bytes: only the last two 40-byte fragments survive.
    let kept: Vec<u8> = data.iter().map(|d| d[0]).collect();
    assert_eq!(kept, vec![8, 9]);
}

#[tokio::test(start_paused = true)]
async fn receive_packs_whole_fragments_within_max_envelope_size() {
    let (service, mut client, shell) = created(ServiceConfig::default()).await;
    let alice = user("alice");
    client.max_envelope = 8192;
    let cmd = guid();
    call(&service, &alice, &client.command(&shell, &cmd, b"flood:20:1000")).await;
    tokio::task::yield_now().await;
    let mut total = 0;
    let mut responses = 0;
    loop {
        let reply = service.handle_envelope(&alice, &client.receive(&shell, Some(&cmd))).await;
        assert!(reply.body.len() <= 8192, "{} bytes", reply.body.len());
        match parse(&reply.body).body {
            ResponseBody::Receive(r) => {
                responses += 1;
                assert!(r.streams.iter().all(|s| s.data.len() == 1000 || s.data.as_ref() == b"flood:20:1000"));
                total += r.streams.len();
                if r.command_state.is_some_and(|c| c.is_done()) {
                    break;
                }
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(total, 21);
    assert!(responses >= 4, "{responses} responses");
}

#[tokio::test(start_paused = true)]
async fn enumerate_optimized_paged_and_commands() {
    let (service, _) = service(ServiceConfig::default());
    let alice = user("alice");
    let client = Client::new();
    let shells: Vec<String> = (0..3).map(|_| guid()).collect();
    for s in &shells {
        call(&service, &alice, &client.create(s, b"")).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Optimized, everything at once.
    match call(&service, &alice, &client.enumerate_shells(true, Some(32000))).await {
        ResponseBody::Enumerate(e) => {
            assert_eq!(e.items.len(), 3);
            assert!(e.end_of_sequence && e.context.is_none());
        }
        other => panic!("{other:?}"),
    }
    // Not optimized: a context, then Pull two by two until EndOfSequence.
    let context = match call(&service, &alice, &client.enumerate_shells(false, None)).await {
        ResponseBody::Enumerate(e) => e.context.expect("context"),
        other => panic!("{other:?}"),
    };
    let mut ids = Vec::new();
    let mut context = Some(context);
    while let Some(c) = context.take() {
        match call(&service, &alice, &client.pull(&c, Some(2))).await {
            ResponseBody::Pull(p) => {
                ids.extend(p.items.iter().map(|i| match i {
                    EnumItem::Shell(s) => s.shell_id.clone(),
                    EnumItem::Command(_) => panic!("command item"),
                }));
                if !p.end_of_sequence {
                    context = p.context;
                }
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(ids, shells);
    // Release of a fresh context, then Pull on it faults.
    let context = match call(&service, &alice, &client.enumerate_shells(false, None)).await {
        ResponseBody::Enumerate(e) => e.context.expect("context"),
        other => panic!("{other:?}"),
    };
    assert!(matches!(call(&service, &alice, &client.release(&context)).await, ResponseBody::Release));
    assert_eq!(fault_code(&call(&service, &alice, &client.pull(&context, None)).await), 0x8033_801B);

    // Commands of a shell.
    let cmd = guid();
    call(&service, &alice, &client.command(&shells[0], &cmd, b"run")).await;
    match call(&service, &alice, &client.enumerate_commands(&shells[0])).await {
        ResponseBody::Enumerate(e) => match e.items.as_slice() {
            [EnumItem::Command(c)] => {
                assert_eq!(c.command_id, cmd);
                assert_eq!(c.state.as_deref(), Some("Running"));
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    match call(&service, &alice, &client.enumerate_commands(&shells[1])).await {
        ResponseBody::Enumerate(e) => assert!(e.items.is_empty() && e.end_of_sequence),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn get_config_and_malformed_requests() {
    let (service, _) = service(ServiceConfig::default());
    let alice = user("alice");
    let client = Client::new();
    match call(&service, &alice, &client.envelope(pssession_wsman::envelope::RequestBody::Get, resource::CONFIG, None))
        .await
    {
        ResponseBody::Get(GetResponse::Config(c)) => assert_eq!(c.max_envelope_size_kb, Some(500)),
        other => panic!("{other:?}"),
    }
    // Malformed XML, a non-envelope, an unknown action, a truncated document: faults, never a panic.
    let create = client.create(&guid(), b"");
    let unknown_action = String::from_utf8(create.clone())
        .unwrap()
        .replace("http://schemas.xmlsoap.org/ws/2004/09/transfer/Create", "http://example.invalid/Frobnicate");
    assert_eq!(fault_code(&call(&service, &alice, unknown_action.as_bytes()).await), 0x8033_8013);
    for bad in [&b"<not xml"[..], b"<a/>", b"", &create[..create.len() / 2], b"\xff\xfe<s:Envelope"] {
        let reply = service.handle_envelope(&alice, bad).await;
        assert_eq!(reply.status, 500);
        assert!(matches!(parse(&reply.body).body, ResponseBody::Fault(_)));
    }
    // Bad OperationTimeout.
    let bad_timeout = String::from_utf8(client.receive(&guid(), None)).unwrap().replace("PT20.000S", "PT-1S");
    assert_eq!(fault_code(&call(&service, &alice, bad_timeout.as_bytes()).await), 0x8033_800F);
    // Oversized envelope and a MaxEnvelopeSize below 8192: EncodingLimit.
    let mut big = create.clone();
    big.extend(std::iter::repeat_n(b' ', 600 * 1024));
    assert_eq!(fault_code(&call(&service, &alice, &big).await), 0x8033_8035);
    let mut small = client.clone();
    small.max_envelope = 4096;
    assert_eq!(fault_code(&call(&service, &alice, &small.create(&guid(), b"")).await), 0x8033_8035);
    assert_eq!(service.shell_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn another_user_reaches_no_operation_of_a_shell_in_any_state() {
    let (service, client, shell) = created(ServiceConfig::default()).await;
    let (alice, bob) = (user("alice"), user("bob"));
    let cmd = guid();
    call(&service, &alice, &client.command(&shell, &cmd, b"run")).await;
    let every_operation = |shell: &str| {
        vec![
            client.receive(shell, Some(&cmd)),
            client.send(shell, Some(&cmd), b"x"),
            client.command(shell, &guid(), b"x"),
            client.signal(shell, Some(&cmd), SignalCode::Terminate),
            client.get(shell),
            client.enumerate_commands(shell),
            client.disconnect(shell, Some(600), None),
            client.reconnect(shell, Some(&cmd)),
            client.connect(shell, None, None),
            client.delete(shell),
        ]
    };
    // Connected, then disconnected (when Connect/Reconnect are the operations that matter): Bob is told the shell
    // does not exist, and enumeration shows him nothing.
    for phase in ["connected", "disconnected"] {
        for envelope in every_operation(&shell) {
            let reply = call(&service, &bob, &envelope).await;
            assert_eq!(fault_code(&reply), UNKNOWN_ID, "{phase}: {reply:?}");
        }
        match call(&service, &bob, &client.enumerate_shells(true, Some(100))).await {
            ResponseBody::Enumerate(e) => assert!(e.items.is_empty() && e.end_of_sequence, "{phase}: {e:?}"),
            other => panic!("{phase}: {other:?}"),
        }
        if phase == "connected" {
            let disconnect = client.disconnect(&shell, Some(600), None);
            assert!(matches!(call(&service, &alice, &disconnect).await, ResponseBody::Disconnect));
        }
    }
    // Alice's shell is untouched by all of it: still hers, still disconnected, and she can connect to it.
    assert_eq!(service.shell_count(), 1);
    match call(&service, &alice, &client.get(&shell)).await {
        ResponseBody::Get(GetResponse::Shell(p)) => assert_eq!(p.state, Some(ShellState::Disconnected)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(call(&service, &alice, &client.connect(&shell, None, None)).await, ResponseBody::Connect(_)));
}

/// The fault of `envelope`: the reason text (what pywinrm shows), checking it is ActionNotSupported and relates
/// to the request's MessageID.
async fn action_not_supported_reason(service: &pssession_server::Service, envelope: &[u8]) -> String {
    let reply = service.handle_envelope(&user("alice"), envelope).await;
    assert_eq!(reply.status, 500);
    let response = parse(&reply.body);
    let ResponseBody::Fault(fault) = response.body else { panic!("expected a fault: {:?}", response.body) };
    assert_eq!((fault.wsman_code, fault.subcode.as_deref()), (Some(0x8033_8013), Some("ActionNotSupported")));
    assert_eq!(fault.message.as_deref(), Some(fault.reason.as_str()));
    let request_id =
        pssession_wsman::envelope::parse_request_header(envelope, &Default::default()).ok().and_then(|h| h.message_id);
    assert!(request_id.is_some() && response.header.relates_to == request_id, "{:?}", response.header);
    fault.reason
}

#[tokio::test(start_paused = true)]
async fn unsupported_shells_actions_and_resources_say_what_was_refused() {
    use pssession_wsman::envelope::RequestBody;
    use pssession_wsman::ops::CreateShell;
    let (service, _) = service(ServiceConfig::default());
    let client = Client::new();
    // pywinrm's run_cmd/run_ps: a cmd shell Create.
    let cmd_create =
        CreateShell { input_streams: "stdin".into(), output_streams: "stdout stderr".into(), ..Default::default() };
    let cmd = client.envelope(RequestBody::Create(cmd_create.clone()), resource::CMD, None);
    let reason = action_not_supported_reason(&service, &cmd).await;
    assert!(reason.contains(resource::CMD), "{reason}");
    assert!(reason.contains("the cmd shell (WinRS) is not provided by this endpoint"), "{reason}");

    // A Create on a ResourceURI no plugin serves (WMI here).
    let wmi = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/Win32_Service";
    let reason =
        action_not_supported_reason(&service, &client.envelope(RequestBody::Create(cmd_create), wmi, None)).await;
    assert!(reason.contains(wmi) && reason.contains("no plugin serves"), "{reason}");
    assert!(reason.contains("http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"), "{reason}");
    // An Enumerate of it.
    let enumerate = pssession_wsman::enumeration::Enumerate { optimize: true, max_elements: None, filter: None };
    let reason =
        action_not_supported_reason(&service, &client.envelope(RequestBody::Enumerate(enumerate), wmi, None)).await;
    assert!(reason.contains(wmi) && reason.contains("Enumerate"), "{reason}");

    // An Action the service does not know, on the PowerShell resource.
    let frobnicate = "http://example.invalid/Frobnicate";
    let unknown = String::from_utf8(client.create(&guid(), b""))
        .unwrap()
        .replace("http://schemas.xmlsoap.org/ws/2004/09/transfer/Create", frobnicate);
    let reason = action_not_supported_reason(&service, unknown.as_bytes()).await;
    assert!(reason.contains(frobnicate) && reason.contains(PS_URI), "{reason}");
    assert_eq!(service.shell_count(), 0);
}
