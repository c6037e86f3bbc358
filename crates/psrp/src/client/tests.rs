//! The state machines driven with the bytes of a recorded Windows exchange (pypsrp `test_psrp_disconnected_commands`:
//! create, run, disconnect, connect from a new client, reattach a running command).

use bytes::Bytes;
use pssession_testkit::{envelope_payloads, windows_trace};
use uuid::Uuid;

use super::*;
use crate::message::{Message, MessageType};
use crate::{Defragmenter, Destination};

const TRACE: &str = "test_psrp_disconnected_commands";

/// The pool ids as the PSRP headers of the trace carry them (pypsrp wrote the ShellId bytes in RFC order, so the
/// .NET reading of those bytes differs from the ShellId text; the server keys the pool by these bytes).
fn first_pool() -> Uuid {
    Uuid::parse_str("1bc9e1b2-aaa3-b441-b346-405e6a90005b").expect("uuid")
}
fn second_pool() -> Uuid {
    Uuid::parse_str("ad62efbc-0e38-1443-b2a4-eb6748019b41").expect("uuid")
}
fn second_pipeline() -> Uuid {
    Uuid::parse_str("cf8d4edb-cc51-3f42-a7df-5d0ea0d6fa08").expect("uuid")
}

fn payload(envelope: &str, element: &str) -> Bytes {
    let found = envelope_payloads(envelope).into_iter().find(|p| p.element == element);
    Bytes::from(found.unwrap_or_else(|| panic!("no {element} payload")).bytes)
}

fn streams(envelope: &str) -> Vec<Bytes> {
    envelope_payloads(envelope).into_iter().filter(|p| p.element == "Stream").map(|p| Bytes::from(p.bytes)).collect()
}

/// Asserts that our payload carries the same PSRP messages as the recorded one: same types, destinations, ids and
/// equal CLIXML values. The bytes differ only where PowerShell and pypsrp do (protocol.md §0): we write the BOM
/// PowerShell writes and `<S></S>` where pypsrp wrote `<S />`.
fn assert_same_messages(ours: &Bytes, recorded: &Bytes, what: &str) {
    let decode = |payload: &Bytes| -> Vec<Message> {
        let mut defragmenter = Defragmenter::new();
        let objects = defragmenter.feed(payload.clone()).expect("fragments");
        objects.into_iter().map(|o| Message::decode(o.data).expect("message")).collect()
    };
    let (ours, recorded) = (decode(ours), decode(recorded));
    assert_eq!(ours.len(), recorded.len(), "{what}: message count");
    for (a, b) in ours.iter().zip(&recorded) {
        assert_eq!((a.message_type, a.destination, a.rpid, a.pid), (b.message_type, b.destination, b.rpid, b.pid));
        assert!(a.has_bom(), "{what}: {} lacks PowerShell's BOM", a.message_type);
        assert_eq!(
            crate::clixml::from_clixml(a.body()).expect("our CLIXML"),
            crate::clixml::from_clixml(b.body()).expect("recorded CLIXML"),
            "{what}: {} body differs",
            a.message_type
        );
    }
}

fn receive_all(pool: &mut ClientRunspacePool, envelope: &str) -> Vec<ClientEvent> {
    let mut events = Vec::new();
    for stream in streams(envelope) {
        events.extend(pool.receive(stream).expect("valid data"));
    }
    events
}

#[test]
fn create_path_produces_the_recorded_creation_xml_and_opens_on_the_recorded_answers() {
    let trace = windows_trace(TRACE);
    let mut pool =
        ClientRunspacePool::new(first_pool(), RunspacePoolConfig::with_max_envelope_size(153_600)).expect("pool");
    assert_eq!(pool.state(), RunspacePoolState::BeforeOpen);
    let creation = pool.creation_payload().expect("creation");
    assert_same_messages(&creation, &payload(&trace.messages[0].request, "creationXml"), "creationXml");
    assert_eq!(pool.state(), RunspacePoolState::NegotiationSent);
    assert!(!pool.has_pending_payload());
    assert!(pool.creation_payload().is_err(), "a pool opens once");

    let events = receive_all(&mut pool, &trace.messages[1].response);
    assert!(matches!(&events[0], ClientEvent::SessionCapability(c) if c.protocol_version.to_string() == "2.3"));
    assert_eq!(events[1], ClientEvent::StateChanged { state: RunspacePoolState::NegotiationSucceeded, error: None });
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ClientEvent::ApplicationPrivateData(d) if d.as_str().contains("PSVersionTable")))
    );
    assert_eq!(pool.state(), RunspacePoolState::NegotiationSucceeded);

    let events = receive_all(&mut pool, &trace.messages[2].response);
    assert_eq!(events, vec![ClientEvent::StateChanged { state: RunspacePoolState::Opened, error: None }]);
    assert_eq!(pool.state(), RunspacePoolState::Opened);

    // CREATE_PIPELINE for the trace's script, byte-identical to what pypsrp sent (ObjectId 3 continues the counter).
    let pipeline = Uuid::parse_str("c26d6e35-8968-0543-9fe6-8b03f44d7210").expect("uuid");
    let spec = PipelineSpec::script("Write-Output 'a'; Start-Sleep -Seconds 5; Write-Output 'b'");
    pool.create_pipeline(pipeline, &spec).expect("pipeline");
    assert_eq!(pool.create_pipeline(pipeline, &spec), Err(ClientError::DuplicatePipeline(pipeline)));
    let sent = pool.next_payload().expect("payload");
    assert_eq!(sent.pipeline_id, pipeline);
    assert_same_messages(&sent.data, &payload(&trace.messages[3].request, "Arguments"), "CREATE_PIPELINE");
    assert_eq!(pool.pipeline(pipeline).map(ClientPipeline::state), Some(PsInvocationState::Running));

    // Disconnect (exchange 4): pool and running pipeline become Disconnected.
    pool.disconnect_started().expect("disconnect");
    pool.disconnect_completed().expect("disconnected");
    assert_eq!(pool.state(), RunspacePoolState::Disconnected);
    assert_eq!(pool.pipeline(pipeline).map(ClientPipeline::state), Some(PsInvocationState::Disconnected));
    assert!(pool.create_pipeline(Uuid::from_u128(7), &spec).is_err(), "no new pipeline while disconnected");

    // Reconnect from the same client session: Connecting, then Opened; the pipeline waits for its own reconnect.
    pool.reconnect_started().expect("reconnect");
    assert_eq!(pool.state(), RunspacePoolState::Connecting);
    pool.reconnect_completed().expect("reconnected");
    assert_eq!(pool.state(), RunspacePoolState::Opened);
    assert_eq!(pool.pipeline(pipeline).map(ClientPipeline::state), Some(PsInvocationState::Disconnected));
    pool.pipeline_connected(pipeline).expect("pipeline");
    assert_eq!(pool.pipeline(pipeline).map(ClientPipeline::state), Some(PsInvocationState::Running));
}

#[test]
fn connect_path_from_a_new_client_reattaches_the_running_command() {
    let trace = windows_trace(TRACE);
    let mut pool = ClientRunspacePool::new(second_pool(), RunspacePoolConfig::default()).expect("pool");
    // pypsrp sends `<S />` (min/max unknown): the same message comes out for -1/-1.
    let connect = pool.connect_payload(-1, -1).expect("connectXml");
    assert_same_messages(&connect, &payload(&trace.messages[13].request, "connectXml"), "connectXml");
    assert_eq!(pool.state(), RunspacePoolState::Connecting);

    // ConnectResponse: SESSION_CAPABILITY (ObjectId 5) then RUNSPACEPOOL_INIT_DATA (6) → Opened.
    let events = pool.receive(payload(&trace.messages[13].response, "connectResponseXml")).expect("response");
    assert!(matches!(events[0], ClientEvent::SessionCapability(_)));
    assert_eq!(events[1], ClientEvent::StateChanged { state: RunspacePoolState::NegotiationSucceeded, error: None });
    assert_eq!(events[2], ClientEvent::RunspacePoolInitData { min_runspaces: 1, max_runspaces: 1 });
    assert_eq!(events[3], ClientEvent::StateChanged { state: RunspacePoolState::Opened, error: None });
    assert_eq!(pool.state(), RunspacePoolState::Opened);
    assert_eq!(pool.runspaces(), (1, 1));

    // First pool Receive: APPLICATION_PRIVATE_DATA (ObjectId 7).
    let events = receive_all(&mut pool, &trace.messages[14].response);
    assert!(matches!(&events[..], [ClientEvent::ApplicationPrivateData(_)]));

    // The enumerated command is adopted, connected (exchange 15), and its buffered output arrives out of ObjectId
    // order (4 before 8): progress, 'a', then 'b' and Completed.
    pool.adopt_pipeline(second_pipeline()).expect("adopt");
    assert_eq!(pool.pipeline(second_pipeline()).map(ClientPipeline::state), Some(PsInvocationState::Disconnected));
    pool.pipeline_connected(second_pipeline()).expect("connected");
    let mut events = receive_all(&mut pool, &trace.messages[16].response);
    events.extend(receive_all(&mut pool, &trace.messages[17].response));
    let rendered: Vec<String> = events
        .iter()
        .map(|e| match e {
            ClientEvent::Pipeline { pipeline_id, event } => {
                assert_eq!(*pipeline_id, second_pipeline());
                match event {
                    PipelineEvent::Progress(p) => format!("progress:{}", p.property("Activity").unwrap_or_default()),
                    PipelineEvent::Output(o) => format!("output:{o}"),
                    PipelineEvent::State { state, error: None } => format!("state:{state}"),
                    other => panic!("unexpected {other:?}"),
                }
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(rendered, ["progress:Preparing modules for first use.", "output:a", "output:b", "state:Completed"]);
    assert_eq!(pool.pipeline(second_pipeline()).map(ClientPipeline::state), Some(PsInvocationState::Completed));
}

#[test]
fn connect_xml_carries_the_original_runspaces_like_powershell() {
    let pool_id = Uuid::parse_str("01aa3e43-9e21-424b-a7fc-bc16aa34f4ce").expect("uuid");
    let mut pool = ClientRunspacePool::new(pool_id, RunspacePoolConfig::default()).expect("pool");
    let payload = pool.connect_payload(1, 5).expect("connectXml");
    let mut defragmenter = Defragmenter::new();
    let objects = defragmenter.feed(payload).expect("fragments");
    assert_eq!(objects.iter().map(|o| o.object_id).collect::<Vec<_>>(), [1, 2]);
    let messages: Vec<Message> = objects.into_iter().map(|o| Message::decode(o.data).expect("message")).collect();
    assert_eq!(messages[0].message_type, MessageType::SessionCapability);
    assert_eq!(messages[1].message_type, MessageType::ConnectRunspacePool);
    for message in &messages {
        assert_eq!(message.destination, Destination::Server);
        assert_eq!(message.rpid, pool_id);
        assert!(message.pid.is_nil());
    }
    assert_eq!(
        messages[1].body(),
        b"<Obj RefId=\"0\"><MS><I32 N=\"MinRunspaces\">1</I32><I32 N=\"MaxRunspaces\">5</I32></MS></Obj>"
    );
    // Connecting twice is refused.
    assert!(matches!(pool.connect_payload(1, 5), Err(ClientError::InvalidPoolState { .. })));
}

fn server_message(pool: Uuid, pid: Uuid, message_type: MessageType, body: &str, object_id: u64) -> Bytes {
    let message = Message::new(Destination::Client, message_type, pool, pid, Bytes::copy_from_slice(body.as_bytes()));
    let mut fragmenter = crate::Fragmenter::new(1 << 16).expect("fragmenter");
    fragmenter.set_next_object_id(object_id);
    fragmenter.enqueue(&message);
    fragmenter.next_payload(1 << 20).expect("payload").data
}

#[test]
fn misaddressed_incompatible_and_broken_input_is_refused() {
    let id = Uuid::from_u128(0x1111);
    let mut pool = ClientRunspacePool::new(id, RunspacePoolConfig::default()).expect("pool");
    pool.creation_payload().expect("creation");
    // Another pool's message.
    let other = server_message(
        Uuid::from_u128(0x2222),
        Uuid::nil(),
        MessageType::RunspacePoolState,
        "<Obj><MS><I32 N=\"RunspaceState\">2</I32></MS></Obj>",
        1,
    );
    assert!(matches!(pool.receive(other), Err(ClientError::Misaddressed { .. })));
    // A pipeline the pool does not know.
    let unknown = server_message(id, Uuid::from_u128(9), MessageType::PipelineOutput, "<S>x</S>", 2);
    assert_eq!(pool.receive(unknown), Err(ClientError::UnknownPipeline(Uuid::from_u128(9))));
    // A server speaking protocol 3.0 is incompatible: the pool breaks.
    let v3 = server_message(
        id,
        Uuid::nil(),
        MessageType::SessionCapability,
        "<Obj><MS><Version N=\"protocolversion\">3.0</Version><Version N=\"PSVersion\">2.0</Version><Version N=\"SerializationVersion\">1.1.0.1</Version></MS></Obj>",
        3,
    );
    assert!(matches!(pool.receive(v3), Err(ClientError::ProtocolVersionMismatch { .. })));
    assert_eq!(pool.state(), RunspacePoolState::Broken);

    // Framing errors break the pool (MS-PSRP 3.1.5.1.2): a middle fragment of an object never started.
    let mut pool = ClientRunspacePool::new(id, RunspacePoolConfig::default()).expect("pool");
    pool.creation_payload().expect("creation");
    let mut bad = server_message(id, Uuid::nil(), MessageType::RunspacePoolState, "<Obj/>", 4).to_vec();
    bad[16] = 0; // neither start nor end
    bad[15] = 1; // FragmentId 1
    assert!(matches!(pool.receive(Bytes::from(bad)), Err(ClientError::Defragment(_))));
    assert_eq!(pool.state(), RunspacePoolState::Broken);
}

#[test]
fn a_broken_pool_fails_its_pipelines_and_a_failed_state_carries_the_error() {
    let id = Uuid::from_u128(0xAAAA);
    let mut pool = ClientRunspacePool::new(id, RunspacePoolConfig::default()).expect("pool");
    pool.creation_payload().expect("creation");
    let opened = server_message(
        id,
        Uuid::nil(),
        MessageType::RunspacePoolState,
        "<Obj><MS><I32 N=\"RunspaceState\">2</I32></MS></Obj>",
        1,
    );
    pool.receive(opened).expect("opened");
    let p1 = Uuid::from_u128(1);
    let p2 = Uuid::from_u128(2);
    pool.create_pipeline(p1, &PipelineSpec::script("1")).expect("p1");
    pool.create_pipeline(p2, &PipelineSpec::script("2")).expect("p2");
    let failed = server_message(
        id,
        p1,
        MessageType::PipelineState,
        "<Obj RefId=\"0\"><MS><I32 N=\"PipelineState\">5</I32><Obj N=\"ExceptionAsErrorRecord\" RefId=\"1\"><ToString>it broke</ToString></Obj></MS></Obj>",
        2,
    );
    let events = pool.receive(failed).expect("state");
    assert!(
        matches!(&events[..], [ClientEvent::Pipeline { event: PipelineEvent::State { state: PsInvocationState::Failed, error: Some(e) }, .. }] if e.message == "it broke")
    );
    pool.set_broken();
    assert_eq!(pool.state(), RunspacePoolState::Broken);
    assert_eq!(pool.pipeline(p2).map(ClientPipeline::state), Some(PsInvocationState::Failed));
    assert!(pool.disconnect_started().is_err());
}

#[test]
fn input_is_queued_for_the_pipeline_and_closed_once() {
    let id = Uuid::from_u128(0xBBBB);
    let mut pool = ClientRunspacePool::new(id, RunspacePoolConfig::default()).expect("pool");
    pool.creation_payload().expect("creation");
    pool.receive(server_message(
        id,
        Uuid::nil(),
        MessageType::RunspacePoolState,
        "<Obj><MS><I32 N=\"RunspaceState\">2</I32></MS></Obj>",
        1,
    ))
    .expect("opened");
    let p = Uuid::from_u128(5);
    let mut spec = PipelineSpec::script("$input");
    spec.no_input = false;
    pool.create_pipeline(p, &spec).expect("pipeline");
    let _create = pool.next_payload().expect("create");
    pool.send_input(p, Bytes::from_static(b"<S>x</S>")).expect("input");
    pool.end_input(p).expect("end");
    assert!(pool.send_input(p, Bytes::from_static(b"<S>y</S>")).is_err());
    let sent = pool.next_payload().expect("input payload");
    assert_eq!(sent.pipeline_id, p);
    let mut defragmenter = Defragmenter::new();
    let types: Vec<MessageType> = defragmenter
        .feed(sent.data)
        .expect("fragments")
        .into_iter()
        .map(|o| Message::decode(o.data).expect("message").message_type)
        .collect();
    assert_eq!(types, [MessageType::PipelineInput, MessageType::EndOfPipelineInput]);
}

#[test]
fn payload_budget_follows_the_envelope_size() {
    assert_eq!(payload_budget(153_600), (153_600 - ENVELOPE_OVERHEAD) / 4 * 3);
    assert_eq!(payload_budget(0), payload_budget(MIN_MAX_ENVELOPE_SIZE));
    // A big CREATE_PIPELINE is split over several payloads no larger than the budget.
    let id = Uuid::from_u128(0xCCCC);
    let mut pool = ClientRunspacePool::new(id, RunspacePoolConfig::with_max_envelope_size(8192)).expect("pool");
    pool.creation_payload().expect("creation");
    pool.receive(server_message(
        id,
        Uuid::nil(),
        MessageType::RunspacePoolState,
        "<Obj><MS><I32 N=\"RunspaceState\">2</I32></MS></Obj>",
        1,
    ))
    .expect("opened");
    pool.create_pipeline(Uuid::from_u128(1), &PipelineSpec::script("x".repeat(20_000))).expect("pipeline");
    let mut count = 0;
    while let Some(p) = pool.next_payload() {
        assert!(p.data.len() <= payload_budget(8192));
        count += 1;
    }
    assert!(count >= 4, "{count} payloads");
}

/// A server's SESSION_CAPABILITY announcing `version`, as the first message of its answer.
fn capability(pool: Uuid, version: &str) -> Bytes {
    let body = format!(
        "<Obj><MS><Version N=\"protocolversion\">{version}</Version><Version N=\"PSVersion\">2.0</Version><Version N=\"SerializationVersion\">1.1.0.1</Version></MS></Obj>"
    );
    server_message(pool, Uuid::nil(), MessageType::SessionCapability, &body, 1)
}

/// The largest payload a pool cuts for a big pipeline, after the server announced `version`.
fn largest_payload_after(config: RunspacePoolConfig, version: &str) -> (usize, usize) {
    let id = Uuid::from_u128(0xDDDD);
    let mut pool = ClientRunspacePool::new(id, config).expect("pool");
    pool.creation_payload().expect("creation");
    pool.receive(capability(id, version)).expect("capability");
    let opened = "<Obj><MS><I32 N=\"RunspaceState\">2</I32></MS></Obj>";
    pool.receive(server_message(id, Uuid::nil(), MessageType::RunspacePoolState, opened, 2)).expect("opened");
    pool.create_pipeline(Uuid::from_u128(1), &PipelineSpec::script("x".repeat(400_000))).expect("pipeline");
    let largest = std::iter::from_fn(|| pool.next_payload()).map(|p| p.data.len()).max().expect("payloads");
    (pool.config().max_envelope_size, largest)
}

#[test]
fn a_protocol_2_1_server_lowers_the_default_envelope_size_as_powershell_does() {
    // PowerShell 2.0 (protocol 2.1): 150 KB envelopes, and fragments cut to fit them.
    let (size, largest) = largest_payload_after(RunspacePoolConfig::default(), "2.1");
    assert_eq!(size, PROTOCOL_2_1_MAX_ENVELOPE_SIZE);
    assert!(largest <= payload_budget(PROTOCOL_2_1_MAX_ENVELOPE_SIZE), "{largest}");
    // PowerShell 3.0 and later: the 500 KB default stays.
    let (size, largest) = largest_payload_after(RunspacePoolConfig::default(), "2.2");
    assert_eq!(size, DEFAULT_MAX_ENVELOPE_SIZE);
    assert!(largest > payload_budget(PROTOCOL_2_1_MAX_ENVELOPE_SIZE), "{largest}");
    // A size the user chose is left alone, even for an old server.
    let (size, _) = largest_payload_after(RunspacePoolConfig::with_max_envelope_size(300_000), "2.1");
    assert_eq!(size, 300_000);
}

mod robustness {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever the server sends, the pool answers with events or a typed error — never a panic.
        #[test]
        fn arbitrary_stream_data_never_panics(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..6)) {
            let id = Uuid::from_u128(0xDDDD);
            let mut pool = ClientRunspacePool::new(id, RunspacePoolConfig::default()).expect("pool");
            pool.creation_payload().expect("creation");
            for chunk in chunks {
                let _ = pool.receive(Bytes::from(chunk));
            }
        }

        /// Well-framed messages with arbitrary bodies of every server message type are handled without panics.
        #[test]
        fn arbitrary_bodies_never_panic(kind in 0usize..16, body in ".{0,300}") {
            let types = [
                MessageType::SessionCapability, MessageType::RunspacePoolInitData, MessageType::ApplicationPrivateData,
                MessageType::RunspacePoolState, MessageType::RunspacePoolHostCall, MessageType::RunspaceAvailability,
                MessageType::UserEvent, MessageType::PipelineOutput, MessageType::ErrorRecord, MessageType::PipelineState,
                MessageType::WarningRecord, MessageType::ProgressRecord, MessageType::PipelineHostCall,
                MessageType::InformationRecord, MessageType::InitRunspacePool, MessageType::DebugRecord,
            ];
            let id = Uuid::from_u128(0xEEEE);
            let pipeline = Uuid::from_u128(1);
            let mut pool = ClientRunspacePool::new(id, RunspacePoolConfig::default()).expect("pool");
            pool.creation_payload().expect("creation");
            pool.receive(server_message(id, Uuid::nil(), MessageType::RunspacePoolState, "<Obj><MS><I32 N=\"RunspaceState\">2</I32></MS></Obj>", 1)).expect("opened");
            pool.create_pipeline(pipeline, &PipelineSpec::script("x")).expect("pipeline");
            let message_type = types[kind];
            let pid = if (message_type.value() & 0x0004_0000) != 0 { pipeline } else { Uuid::nil() };
            let _ = pool.receive(server_message(id, pid, message_type, &body, 2));
            let _ = events::display_string(&body, &mut crate::clixml::Deserializer::default());
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The SecureString key exchange.

/// A deterministic generator for tests (splitmix64); no CSPRNG, it only pins key generation and padding.
struct TestRng(u64);

impl rand_core::TryRng for TestRng {
    type Error = rand_core::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Ok(z ^ (z >> 31))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let word = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for TestRng {}

/// The first pool of the trace, opened on the recorded answers.
fn opened_pool() -> ClientRunspacePool {
    let trace = windows_trace(TRACE);
    let mut pool =
        ClientRunspacePool::new(first_pool(), RunspacePoolConfig::with_max_envelope_size(153_600)).expect("pool");
    pool.creation_payload().expect("creation");
    receive_all(&mut pool, &trace.messages[1].response);
    receive_all(&mut pool, &trace.messages[2].response);
    assert_eq!(pool.state(), RunspacePoolState::Opened);
    pool
}

/// One whole message from the server as the bytes of an `rsp:Stream`.
fn server_stream(pool: &ClientRunspacePool, message_type: MessageType, body: Vec<u8>) -> Bytes {
    let message = Message::new(Destination::Client, message_type, pool.id(), Uuid::nil(), Bytes::from(body));
    let mut fragmenter = crate::Fragmenter::new(64 * 1024).expect("fragmenter");
    fragmenter.enqueue(&message);
    fragmenter.next_payload(64 * 1024).expect("payload").data
}

/// The messages of the pool's next payload.
fn queued_messages(pool: &mut ClientRunspacePool) -> Vec<Message> {
    let payload = pool.next_payload().expect("a queued payload");
    let objects = Defragmenter::new().feed(payload.data).expect("fragments");
    objects.into_iter().map(|o| Message::decode(o.data).expect("message")).collect()
}

#[test]
fn the_key_exchange_sends_public_key_and_opens_the_servers_session_key() {
    use crate::messages::{MessageBody, PublicKey};
    use crate::session_key::{SecretText, SessionKey};
    let mut rng = TestRng(5);
    let mut pool = opened_pool();
    let secure = PipelineSpec::commands(vec![
        CommandSpec::command("Set-Variable")
            .parameter("Name", "pw")
            .secure_parameter("Value", SecretText::from("pa55")),
    ]);
    assert_eq!(
        pool.create_pipeline(Uuid::from_u128(9), &secure),
        Err(ClientError::SessionKeyRequired),
        "no SecureString before the key exchange"
    );
    assert_eq!(pool.decrypt_secure_string(&[0; 16]).err(), Some(ClientError::SessionKeyRequired));
    // An answer nobody asked for is refused.
    let stray = server_stream(&pool, MessageType::EncryptedSessionKey, b"<S>x</S>".to_vec());
    assert_eq!(pool.receive(stray).err(), Some(ClientError::UnexpectedSessionKey));

    assert_eq!(pool.start_key_exchange(&mut rng), Ok(true));
    assert!(pool.is_key_exchange_pending());
    assert_eq!(pool.start_key_exchange(&mut rng), Ok(false), "one exchange at a time");
    let sent = queued_messages(&mut pool);
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].message_type, sent[0].rpid, sent[0].pid), (MessageType::PublicKey, pool.id(), Uuid::nil()));
    let public_key = PublicKey::decode(sent[0].body()).expect("PUBLIC_KEY body");

    // The server's side: a session key encrypted for that public key.
    let server_key = SessionKey::generate(&mut rng).expect("random");
    let answer = server_key.encrypt_for(&mut rng, &public_key).expect("encrypt for");
    let events = pool.receive(server_stream(&pool, MessageType::EncryptedSessionKey, answer.encode())).expect("ok");
    assert_eq!(events, vec![ClientEvent::EncryptedSessionKey]);
    assert!(pool.session_key().is_none(), "opened only when the driver hands in randomness");
    pool.complete_key_exchange(&mut rng).expect("open");
    assert_eq!(pool.session_key(), Some(&server_key));
    assert!(!pool.is_key_exchange_pending());
    assert_eq!(pool.start_key_exchange(&mut rng), Ok(false), "the key is known");

    // CREATE_PIPELINE carries the SecureString encrypted with the session key.
    pool.create_pipeline(Uuid::from_u128(9), &secure).expect("pipeline");
    let create = queued_messages(&mut pool);
    let typed = crate::messages::CreatePipeline::decode(create[0].body()).expect("typed");
    let crate::clixml::PsValue::SecureString(ciphertext) = &typed.pipeline.commands[0].args[1].value else {
        panic!("a SecureString argument")
    };
    assert_eq!(server_key.decrypt(ciphertext).expect("decrypt").expose(), "pa55");
    assert_eq!(pool.decrypt_secure_string(ciphertext).expect("decrypt").expose(), "pa55");
}

#[test]
fn a_public_key_request_is_reported_and_a_bad_session_key_is_a_typed_error() {
    let mut rng = TestRng(11);
    let mut pool = opened_pool();
    let request = server_stream(&pool, MessageType::PublicKeyRequest, b"<S></S>".to_vec());
    assert_eq!(pool.receive(request).expect("ok"), vec![ClientEvent::PublicKeyRequested]);
    assert_eq!(pool.start_key_exchange(&mut rng), Ok(true));
    let _ = queued_messages(&mut pool);
    let garbage = crate::messages::EncryptedSessionKey { encrypted_session_key: "AQIAABBmAAAApAAA".to_owned() };
    let events = pool
        .receive(server_stream(&pool, MessageType::EncryptedSessionKey, crate::messages::MessageBody::encode(&garbage)))
        .expect("ok");
    assert_eq!(events, vec![ClientEvent::EncryptedSessionKey]);
    assert!(matches!(pool.complete_key_exchange(&mut rng), Err(ClientError::SessionKey(_))));
    assert!(pool.session_key().is_none());
}

#[test]
fn several_statements_are_laid_out_as_powershell_does() {
    use crate::messages::MessageBody;
    let mut pool = opened_pool();
    let spec = PipelineSpec::commands(vec![CommandSpec::command("Get-Item").parameter("Path", "C:\\")])
        .add_statement(vec![CommandSpec::command("Get-Date").switch("UFormat"), CommandSpec::script("$_")])
        .add_statement(vec![CommandSpec::command("Write-Output").argument_value(crate::clixml::PsValue::I32(1))]);
    assert_eq!(spec.command_line(), "Get-Item; Get-Date | $_; Write-Output");
    assert!(!spec.has_secure_strings());
    pool.create_pipeline(Uuid::from_u128(3), &spec).expect("pipeline");
    let create = queued_messages(&mut pool);
    let typed = crate::messages::CreatePipeline::decode(create[0].body()).expect("typed");
    // `Cmds` is the first statement; `ExtraCmds` lists every statement, the first included.
    let names =
        |commands: &[crate::messages::PowerShellCommand]| commands.iter().map(|c| c.cmd.clone()).collect::<Vec<_>>();
    assert_eq!(names(&typed.pipeline.commands), ["Get-Item"]);
    let extra: Vec<Vec<String>> = typed.pipeline.extra_commands.iter().map(|s| names(s)).collect();
    assert_eq!(extra, [vec!["Get-Item"], vec!["Get-Date", "$_"], vec!["Write-Output"]]);
    assert_eq!(typed.pipeline.extra_commands[1][0].args[0].value, crate::clixml::PsValue::Null);
    assert_eq!(typed.pipeline.extra_commands[2][0].args[0].name, None);
    let empty = PipelineSpec::script("1").add_statement(Vec::new());
    assert!(pool.create_pipeline(Uuid::from_u128(4), &empty).is_err(), "an empty statement is refused");
}

/// An output message cut into fragments of at most `fragment_size` bytes, as separate `rsp:Stream` payloads.
fn output_fragments(pool: Uuid, pipeline: Uuid, body: &str, fragment_size: usize) -> Vec<Bytes> {
    let message = Message::new(
        Destination::Client,
        MessageType::PipelineOutput,
        pool,
        pipeline,
        Bytes::copy_from_slice(body.as_bytes()),
    );
    let mut fragmenter = crate::Fragmenter::new(fragment_size).expect("fragmenter");
    fragmenter.set_next_object_id(2);
    fragmenter.enqueue(&message);
    std::iter::from_fn(|| fragmenter.next_fragment().map(|p| p.data)).collect()
}

#[test]
fn a_resuming_reconnect_completes_the_object_a_plain_one_discards() {
    let id = Uuid::from_u128(0xABCD);
    let pipeline = Uuid::from_u128(1);
    let body = format!("<S>{}</S>", "x".repeat(200));
    for resuming in [true, false] {
        let mut pool = ClientRunspacePool::new(id, RunspacePoolConfig::default()).expect("pool");
        pool.creation_payload().expect("creation");
        let opened = "<Obj><MS><I32 N=\"RunspaceState\">2</I32></MS></Obj>";
        pool.receive(server_message(id, Uuid::nil(), MessageType::RunspacePoolState, opened, 1)).expect("opened");
        pool.create_pipeline(pipeline, &PipelineSpec::script("x")).expect("pipeline");
        let fragments = output_fragments(id, pipeline, &body, 64);
        assert!(fragments.len() > 2, "the object spans several fragments");
        let (head, tail) = fragments.split_at(2);
        for fragment in head {
            assert!(pool.receive(fragment.clone()).expect("head").is_empty(), "nothing is complete yet");
        }
        pool.disconnect_started().expect("disconnect");
        pool.disconnect_completed().expect("disconnected");
        if resuming { pool.reconnect_started_resuming() } else { pool.reconnect_started() }.expect("reconnect");
        pool.reconnect_completed().expect("reconnected");
        pool.pipeline_connected(pipeline).expect("pipeline");
        let mut events = Vec::new();
        for fragment in tail {
            events.extend(pool.receive(fragment.clone()).expect("tail"));
        }
        let outputs = events
            .iter()
            .filter(|e| matches!(e, ClientEvent::Pipeline { event: PipelineEvent::Output(_), .. }))
            .count();
        assert_eq!(outputs, usize::from(resuming), "resuming: {resuming}");
    }
}

/// The two halves of `receive`: `defragment` says whether the server waits for an answer (a client must not ask
/// for more output before sending it), and `handle` gives the same events `receive` would.
#[test]
fn defragmented_messages_tell_whether_the_server_waits_for_an_answer() {
    let mut pool = opened_pool();
    let availability = server_stream(
        &pool,
        MessageType::RunspaceAvailability,
        b"<Obj RefId=\"0\"><MS><B N=\"SetMinMaxRunspacesResponse\">true</B><I64 N=\"ci\">1</I64></MS></Obj>".to_vec(),
    );
    let received = pool.defragment(availability.clone()).expect("defragment");
    assert_eq!((received.len(), received.awaits_answer()), (1, false));

    let request = server_stream(&pool, MessageType::PublicKeyRequest, b"<S></S>".to_vec());
    // Split inside the message: nothing complete yet, so nothing to answer.
    let first = pool.defragment(request.slice(..30)).expect("first part");
    assert!(first.is_empty() && !first.awaits_answer());
    let rest = pool.defragment(request.slice(30..)).expect("rest");
    assert!(rest.awaits_answer());
    assert_eq!(pool.handle(rest).expect("handle"), vec![ClientEvent::PublicKeyRequested]);

    let mut both = availability.to_vec();
    both.extend_from_slice(&server_stream(&pool, MessageType::PublicKeyRequest, b"<S></S>".to_vec()));
    let received = pool.defragment(Bytes::from(both)).expect("both");
    assert_eq!((received.len(), received.awaits_answer()), (2, true));
}
