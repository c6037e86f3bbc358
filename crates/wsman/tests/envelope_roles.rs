//! Both-role round trips: client request builder → server parser → server response builder → client parser, for
//! every operation, with proptest on the variable fields; plus server-side tolerance and refusal cases.

use bytes::Bytes;
use proptest::prelude::*;
use pssession_wsman::duration::XsDuration;
use pssession_wsman::enumeration::{CommandItem, EnumItem, Enumerate, EnumerateResponse, Pull, PullResponse, Release};
use pssession_wsman::envelope::{Limits, Request, RequestBody, Response, ResponseBody, parse_request, parse_response};
use pssession_wsman::error::EnvelopeError;
use pssession_wsman::fault::{FaultKind, WsmanFault};
use pssession_wsman::header::{Header, QualifiedName, action, option, resource};
use pssession_wsman::ops::{
    CommandLine, CommandResponse, Config, Connect, ConnectResponse, CreateResponse, CreateShell, Disconnect,
    GetResponse, Receive, Reconnect, Send, SendStream, Signal, SignalCode,
};
use pssession_wsman::receive::{CommandState, ReceiveResponse, Stream};
use pssession_wsman::shell::{BufferMode, ShellProperties, ShellState};
use pssession_wsman::size;

const TO: &str = "https://server.example:5986/wsman";

fn request_header(shell_id: Option<&str>, message_id: &str) -> Header {
    let h = Header::request("", TO, resource::POWERSHELL, message_id)
        .with_max_envelope_size(512_000)
        .with_operation_timeout(XsDuration::from_secs(20))
        .with_session_id("uuid:96676D7F-B39C-41F1-9C6C-02F79AE9C9B5")
        .with_locale("en-US", "en-US");
    match shell_id {
        Some(id) => h.with_shell_id(id),
        None => h,
    }
}

/// Client builds → server parses → server answers → client parses; asserts each typed side is preserved.
fn exchange(request: Request, response_body: ResponseBody) -> (Request, Response) {
    let limits = Limits::default();
    let wire = request.to_bytes();
    let server_side = parse_request(&wire, &limits).expect("server parses the client's request");
    let mut expected = request.clone();
    expected.header.action = request.body.action().to_owned();
    assert_eq!(server_side, expected);
    let response = Response::new(
        Header::response(
            server_side.body.response_action(),
            server_side.header.message_id.as_deref(),
            "uuid:9FBCAD5D-C8D6-4F13-A441-7CC281050301",
        ),
        response_body,
    );
    let client_side = parse_response(&response.to_bytes(), &limits).expect("client parses the server's response");
    assert_eq!(client_side, response);
    assert_eq!(client_side.header.relates_to, request.header.message_id);
    (server_side, client_side)
}

fn shell_properties(id: &str, name: &str, idle_ms: u64, state: ShellState) -> ShellProperties {
    ShellProperties {
        shell_id: id.to_owned(),
        // Shell property texts are read trimmed (ids and names never carry surrounding whitespace on Windows).
        name: Some(name.trim().to_owned()),
        resource_uri: Some(resource::POWERSHELL.to_owned()),
        owner: Some("WIN\\vagrant <&>".to_owned()),
        client_ip: Some("10.0.2.2".to_owned()),
        process_id: Some(2792),
        idle_timeout: Some(XsDuration::from_millis(idle_ms)),
        input_streams: Some("stdin pr".into()),
        output_streams: Some("stdout".into()),
        max_idle_timeout: Some(XsDuration::from_millis(2_147_483_647)),
        locale: Some("en-US".into()),
        data_locale: Some("en-US".into()),
        compression_mode: Some("NoCompression".into()),
        profile_loaded: Some("Yes".into()),
        encoding: Some("UTF8".into()),
        buffer_mode: Some(BufferMode::Block),
        state: Some(state),
        shell_run_time: Some(XsDuration::from_secs(62)),
        shell_inactivity: Some(XsDuration::from_secs(2)),
        memory_used: Some("46MB".into()),
        child_processes: Some(0),
        ..ShellProperties::default()
    }
}

fn id_strategy() -> impl Strategy<Value = String> {
    "[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}"
}

fn text_strategy() -> impl Strategy<Value = String> {
    // Printable text including XML specials and non-ASCII; no control characters (not representable in XML 1.0).
    "[ -~éü€<>&\"']{0,40}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn create_round_trips(id in id_strategy(), name in text_strategy(), payload in proptest::collection::vec(any::<u8>(), 0..600),
                          idle in 0u64..10_000_000, state in prop_oneof![Just(ShellState::Connected), Just(ShellState::Disconnected)]) {
        let mut create = CreateShell::powershell(&id, Some(&name), Bytes::from(payload));
        create.idle_timeout = Some(XsDuration::from_millis(idle));
        let header = request_header(None, "uuid:C1519696-D50B-4157-9225-8B94ECC82FE8")
            .with_option(option::PROTOCOL_VERSION, "2.3", true);
        let response = CreateResponse {
            address: TO.to_owned(),
            resource_uri: resource::POWERSHELL.to_owned(),
            selectors: vec![pssession_wsman::header::Selector { name: "ShellId".into(), value: id.clone() }],
            shell: Some(shell_properties(&id, &name, idle, state)),
        };
        let (server, client) = exchange(Request::new(header, RequestBody::Create(create)), ResponseBody::Create(Box::new(response)));
        prop_assert_eq!(server.header.protocol_version(), Some("2.3"));
        let ResponseBody::Create(c) = client.body else { panic!() };
        prop_assert_eq!(c.shell_id(), Some(id.as_str()));
    }

    #[test]
    fn command_send_receive_signal_round_trip(shell in id_strategy(), cmd in id_strategy(), text in text_strategy(),
                                               payload in proptest::collection::vec(any::<u8>(), 1..400), end in any::<bool>(),
                                               exit in any::<i32>()) {
        let header = request_header(Some(&shell), "uuid:11111111-2222-3333-4444-555555555555");
        let command = CommandLine::powershell(&cmd, Some(&text), &payload);
        let (server, _) = exchange(Request::new(header.clone(), RequestBody::Command(command)),
            ResponseBody::Command(CommandResponse { command_id: cmd.clone() }));
        let RequestBody::Command(c) = server.body else { panic!() };
        prop_assert_eq!(c.payload().unwrap(), payload.clone());

        let send = Send { streams: vec![SendStream { name: "stdin".into(), command_id: Some(cmd.clone()), end, data: Bytes::from(payload.clone()) }] };
        exchange(Request::new(header.clone(), RequestBody::Send(send)), ResponseBody::Send);

        let receive = Receive { streams: "stdout".into(), command_id: Some(cmd.clone()) };
        let body = ReceiveResponse {
            streams: vec![
                Stream { name: "stdout".into(), command_id: Some(cmd.clone()), end: false, data: Bytes::from(payload.clone()) },
                Stream { name: "stdout".into(), command_id: Some(cmd.clone()), end, data: Bytes::from(payload[..payload.len() / 2].to_vec()) },
            ],
            command_state: Some(CommandState {
                command_id: Some(cmd.clone()),
                state: "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done".into(),
                exit_code: Some(i64::from(exit)),
            }),
        };
        exchange(Request::new(header.clone().with_option(option::KEEPALIVE, "True", false), RequestBody::Receive(receive)),
            ResponseBody::Receive(body));

        for code in [SignalCode::Terminate, SignalCode::PowerShellStop, SignalCode::PowerShellCtrlC, SignalCode::Other(text.trim().to_owned())] {
            let signal = Signal { command_id: Some(cmd.clone()), code };
            exchange(Request::new(header.clone(), RequestBody::Signal(signal)), ResponseBody::Signal);
        }
    }

    #[test]
    fn disconnect_reconnect_connect_round_trip(shell in id_strategy(), cmd in id_strategy(), idle in 60_000u64..100_000_000,
                                               drop in any::<bool>(), xml in proptest::collection::vec(any::<u8>(), 0..300)) {
        let header = request_header(Some(&shell), "uuid:AAAAAAAA-2222-3333-4444-555555555555");
        let mode = if drop { BufferMode::Drop } else { BufferMode::Block };
        let disconnect = Disconnect { idle_timeout: Some(XsDuration::from_millis(idle)), buffer_mode: Some(mode) };
        exchange(Request::new(header.clone(), RequestBody::Disconnect(disconnect)), ResponseBody::Disconnect);
        exchange(Request::new(header.clone(), RequestBody::Disconnect(Disconnect::default())), ResponseBody::Disconnect);
        exchange(Request::new(header.clone(), RequestBody::Reconnect(Reconnect::default())), ResponseBody::Reconnect);
        exchange(Request::new(header.clone(), RequestBody::Reconnect(Reconnect { command_id: Some(cmd.clone()), buffer_mode: None })),
            ResponseBody::Reconnect);
        let connect = Connect { command_id: None, connect_xml: Some(Bytes::from(xml.clone())), buffer_mode: Some(mode) };
        let response = ConnectResponse { input_streams: Some("stdin pr".into()), output_streams: Some("stdout".into()),
            connect_response_xml: Some(Bytes::from(xml)) };
        exchange(Request::new(header.clone(), RequestBody::Connect(connect)), ResponseBody::Connect(response));
        exchange(Request::new(header, RequestBody::Connect(Connect { command_id: Some(cmd), ..Connect::default() })),
            ResponseBody::Connect(ConnectResponse::default()));
    }

    #[test]
    fn enumeration_get_delete_round_trip(shell in id_strategy(), cmd in id_strategy(), name in text_strategy(),
                                         ctx in "uuid:[0-9A-F]{8}", kb in 8u32..100_000) {
        let mut header = request_header(None, "uuid:BBBBBBBB-2222-3333-4444-555555555555");
        header.resource_uri = Some(resource::SHELL.to_owned());
        let shell_item = EnumItem::Shell(Box::new(shell_properties(&shell, &name, 7_200_000, ShellState::Disconnected)));
        exchange(Request::new(header.clone(), RequestBody::Enumerate(Enumerate::optimized(None))),
            ResponseBody::Enumerate(EnumerateResponse { context: None, items: vec![shell_item.clone()], end_of_sequence: true }));
        let command_item = EnumItem::Command(CommandItem { command_id: cmd, command_line: Some(name.clone()), state: Some("Running".into()) });
        exchange(Request::new(header.clone(), RequestBody::Enumerate(Enumerate::optimized(Some(&shell)))),
            ResponseBody::Enumerate(EnumerateResponse { context: None, items: vec![command_item], end_of_sequence: true }));
        // Paged: the EnumerateResponse carries only a context; Pull pages until EndOfSequence; Release ends early.
        exchange(Request::new(header.clone(), RequestBody::Enumerate(Enumerate::default())),
            ResponseBody::Enumerate(EnumerateResponse { context: Some(ctx.clone()), items: vec![], end_of_sequence: false }));
        exchange(Request::new(header.clone(), RequestBody::Pull(Pull { context: ctx.clone(), max_elements: Some(5) })),
            ResponseBody::Pull(PullResponse { context: Some(ctx.clone()), items: vec![shell_item.clone()], end_of_sequence: false }));
        exchange(Request::new(header.clone(), RequestBody::Pull(Pull { context: ctx.clone(), max_elements: None })),
            ResponseBody::Pull(PullResponse { context: None, items: vec![shell_item.clone()], end_of_sequence: true }));
        exchange(Request::new(header.clone(), RequestBody::Release(Release { context: ctx })), ResponseBody::Release);
        let EnumItem::Shell(props) = shell_item else { panic!() };
        exchange(Request::new(header.clone().with_shell_id(&shell), RequestBody::Get), ResponseBody::Get(GetResponse::Shell(props)));
        header.resource_uri = Some(resource::CONFIG.to_owned());
        let config = Config { max_envelope_size_kb: Some(kb), max_timeout_ms: Some(60_000), max_batch_items: Some(32_000), max_provider_requests: None };
        let (_, client) = exchange(Request::new(header.clone(), RequestBody::Get), ResponseBody::Get(GetResponse::Config(config)));
        let ResponseBody::Get(GetResponse::Config(c)) = client.body else { panic!() };
        prop_assert_eq!(c.max_envelope_size(), Some(kb as usize * 1024));
        exchange(Request::new(header.with_shell_id(&shell), RequestBody::Delete), ResponseBody::Delete);
    }

    #[test]
    fn faults_round_trip(shell in id_strategy(), text in text_strategy(), machine in "[a-z0-9.]{1,20}") {
        let faults = [
            WsmanFault::timed_out(&machine),
            WsmanFault::invalid_selectors_shell(&shell, &machine),
            WsmanFault::invalid_selectors_command(&machine),
            WsmanFault::invalid_timeout_header("PT-1S", &machine),
            WsmanFault::invalid_header(&machine),
            WsmanFault::shell_disconnected(&shell, &machine),
            WsmanFault::connected_to_different_client(&shell, &machine),
            WsmanFault::client_session_id_mismatch(&shell, &machine),
            WsmanFault::shell_id_conflict(&shell, &machine),
            WsmanFault::plugin_connect_failed(&text, &machine),
            WsmanFault::protocol_version_mismatch("2.3", &machine),
            WsmanFault::access_denied(&machine),
            WsmanFault::encoding_limit(&machine),
            WsmanFault::action_not_supported(&machine),
            WsmanFault::not_understood(QualifiedName { namespace: "urn:x".into(), local: "Custom".into() }, &machine),
            WsmanFault::internal_error(0x8007_0002, &text, &machine),
        ];
        let kinds = [FaultKind::TimedOut, FaultKind::InvalidSelectors, FaultKind::InvalidSelectors, FaultKind::InvalidHeader,
            FaultKind::InvalidHeader, FaultKind::ShellDisconnected, FaultKind::ConnectedToDifferentClient,
            FaultKind::ClientSessionIdMismatch, FaultKind::ShellIdConflict, FaultKind::PluginConnectFailed,
            FaultKind::ProtocolVersionMismatch, FaultKind::AccessDenied, FaultKind::EncodingLimit,
            FaultKind::ActionNotSupported, FaultKind::NotUnderstood, FaultKind::InternalError];
        for (fault, kind) in faults.into_iter().zip(kinds) {
            let response = Response::new(Header::response(fault.action(), Some("uuid:REQ"), "uuid:RESP"), ResponseBody::Fault(fault));
            let parsed = parse_response(&response.to_bytes(), &Limits::default()).unwrap();
            prop_assert_eq!(&parsed, &response);
            let Err(f) = parsed.into_result() else { panic!() };
            prop_assert_eq!(f.kind(), kind);
        }
    }
}

fn minimal_request(extra_header: &str, body: &str) -> String {
    format!(
        "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" \
         xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" \
         xmlns:r=\"http://schemas.microsoft.com/wbem/wsman/1/windows/shell\"><s:Header>\
         <a:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Disconnect</a:Action>{extra_header}\
         </s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )
}

#[test]
fn disconnect_parsing_tolerates_order_and_casing() {
    let xml = minimal_request(
        "",
        "<r:Disconnect><r:BufferMode>Drop</r:BufferMode><r:IdleTimeout>PT60S</r:IdleTimeout></r:Disconnect>",
    );
    let req = parse_request(xml.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(
        req.body,
        RequestBody::Disconnect(Disconnect {
            idle_timeout: Some(XsDuration::from_secs(60)),
            buffer_mode: Some(BufferMode::Drop)
        })
    );
    // And the MS-WSMV 4.7.9 form.
    let xml = minimal_request("", "<r:Disconnect><r:IdleTimeOut>PT180.000S</r:IdleTimeOut></r:Disconnect>");
    let req = parse_request(xml.as_bytes(), &Limits::default()).unwrap();
    let RequestBody::Disconnect(d) = req.body else { panic!() };
    assert_eq!(d.idle_timeout, Some(XsDuration::from_secs(180)));
}

#[test]
fn unknown_must_understand_headers_are_reported() {
    let xml = minimal_request(
        "<x:Custom xmlns:x=\"urn:x\" s:mustUnderstand=\"true\">1</x:Custom>\
         <x:Ignored xmlns:x=\"urn:x\" s:mustUnderstand=\"false\">1</x:Ignored>",
        "<r:Disconnect/>",
    );
    let req = parse_request(xml.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(req.header.not_understood, vec![QualifiedName { namespace: "urn:x".into(), local: "Custom".into() }]);
    let fault = req.must_understand_fault("host").expect("a NotUnderstood fault is owed");
    let reply = Response::reply(&req.header, ResponseBody::Fault(fault), "uuid:1");
    assert_eq!(reply.header.action, action::FAULT_WSMAN);
    let wire = reply.to_bytes();
    let parsed = parse_response(&wire, &Limits::default()).unwrap();
    let ResponseBody::Fault(f) = &parsed.body else { panic!() };
    assert_eq!(f.kind(), FaultKind::NotUnderstood);
    assert_eq!(f.not_understood, Some(QualifiedName { namespace: "urn:x".into(), local: "Custom".into() }));
    let text = String::from_utf8(wire.clone()).unwrap();
    assert!(text.contains("<s:NotUnderstood qname=\"nu:Custom\" xmlns:nu=\"urn:x\""), "{text}");
    assert!(text.contains("<s:Value>s:MustUnderstand</s:Value>"), "{text}");
}

#[test]
fn signal_codes_accept_both_stop_spellings() {
    assert_eq!(SignalCode::from_uri("powershell/signal/crtl_c"), SignalCode::PowerShellStop);
    assert_eq!(SignalCode::from_uri("powershell/signal/ctrl_c"), SignalCode::PowerShellCtrlC);
    assert!(SignalCode::PowerShellStop.is_stop() && SignalCode::PowerShellCtrlC.is_stop());
    assert!(!SignalCode::Terminate.is_stop());
    assert_eq!(SignalCode::PowerShellStop.uri(), "powershell/signal/crtl_c");
}

#[test]
fn hostile_input_gets_typed_errors() {
    let limits = Limits::default();
    let doctype =
        b"<!DOCTYPE x [<!ENTITY e \"boom\">]><s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"/>";
    assert_eq!(parse_request(doctype, &limits), Err(EnvelopeError::Doctype));
    let entity = minimal_request("<a:To>&e;</a:To>", "<r:Disconnect/>");
    assert_eq!(parse_request(entity.as_bytes(), &limits), Err(EnvelopeError::Entity("e".into())));
    let deep = format!("{}{}", "<a>".repeat(200), "</a>".repeat(200));
    assert_eq!(parse_request(deep.as_bytes(), &limits), Err(EnvelopeError::TooDeep));
    let small = Limits { max_envelope: 10, ..limits };
    assert!(matches!(parse_request(deep.as_bytes(), &small), Err(EnvelopeError::TooLarge { .. })));
    let truncated = &minimal_request("", "<r:Disconnect/>")[..150];
    assert!(parse_request(truncated.as_bytes(), &limits).is_err());
    assert_eq!(parse_request(b"<x/>", &limits), Err(EnvelopeError::NotEnvelope));
    let unknown = minimal_request("", "").replace("shell/Disconnect", "shell/Bogus");
    assert!(matches!(parse_request(unknown.as_bytes(), &limits), Err(EnvelopeError::UnsupportedAction(_))));
    let bad_timeout = minimal_request(
        "<w:OperationTimeout xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\">PT-1S</w:OperationTimeout>",
        "<r:Disconnect/>",
    );
    assert_eq!(
        parse_request(bad_timeout.as_bytes(), &limits),
        Err(EnvelopeError::InvalidHeader { header: "OperationTimeout", value: "PT-1S".into() })
    );
    let chars = minimal_request("<a:To>&lt;&#x41;&#66;&amp;</a:To>", "<r:Disconnect/>");
    assert_eq!(parse_request(chars.as_bytes(), &limits).unwrap().header.to.as_deref(), Some("<AB&"));
}

#[test]
fn envelope_size_budgets_fit_exactly() {
    let header =
        request_header(Some("B6631D8E-65A0-49F2-9053-A1B156C95777"), "uuid:C1519696-D50B-4157-9225-8B94ECC82FE8");
    for max in [size::MIN_ENVELOPE_SIZE, size::MAX_ENVELOPE_SIZE_LEGACY, size::MAX_ENVELOPE_SIZE_DEFAULT] {
        let cmd = "DB4E8DCF-51CC-423F-A7DF-5D0EA0D6FA08";
        let budget = size::send_payload_budget(max, &header, "stdin", Some(cmd), false);
        let send = Request::new(
            header.clone(),
            RequestBody::Send(Send::one("stdin", Some(cmd), Bytes::from(vec![7u8; budget]))),
        );
        let len = send.to_bytes().len();
        assert!(len <= max - size::SAFETY_MARGIN, "{len} > {max}");
        assert!(len + 4 > max - size::SAFETY_MARGIN - 4, "budget {budget} leaves {} bytes unused", max - len);
        let budget = size::command_payload_budget(max, &header, cmd, Some("Get-Process"));
        let command = Request::new(
            header.clone(),
            RequestBody::Command(CommandLine::powershell(cmd, Some("Get-Process"), &vec![1u8; budget])),
        );
        assert!(command.to_bytes().len() <= max - size::SAFETY_MARGIN);
        let create = CreateShell::powershell("B6631D8E-65A0-49F2-9053-A1B156C95777", Some("Runspace1"), Bytes::new());
        let budget = size::create_payload_budget(max, &header, &create);
        let mut full = create.clone();
        full.creation_xml = Some(Bytes::from(vec![2u8; budget]));
        assert!(Request::new(header.clone(), RequestBody::Create(full)).to_bytes().len() <= max - size::SAFETY_MARGIN);
    }
    assert_eq!(size::max_payload(512_000, 2000), (512_000 - 2000 - 256) / 4 * 3);
    assert_eq!(size::max_payload(100, 2000), 0);
}

#[test]
fn request_actions_are_filled_from_the_body() {
    let req = Request::new(request_header(Some("S"), "uuid:1"), RequestBody::Delete);
    let parsed = parse_request(&req.to_bytes(), &Limits::default()).unwrap();
    assert_eq!(parsed.header.action, action::DELETE);
}
