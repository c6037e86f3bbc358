//! Every request and response of the recorded Windows traces parses into its typed operation, the builders
//! reproduce semantically equal envelopes, and the typed form of every exchange is pinned in a snapshot.

use std::fmt::Write as _;

use pssession_testkit::{read_fixture, windows_traces};
use pssession_wsman::enumeration::EnumItem;
use pssession_wsman::envelope::{Limits, Request, RequestBody, Response, ResponseBody, parse_request, parse_response};
use pssession_wsman::error::EnvelopeError;
use pssession_wsman::fault::FaultKind;
use pssession_wsman::ops::GetResponse;

fn describe_request(r: &Request) -> String {
    let shell = r.header.shell_id().unwrap_or("-");
    let body = match &r.body {
        RequestBody::Create(c) => format!(
            "Create name={:?} in={:?} out={:?} idle={:?} creationXml={}B env={}",
            c.name,
            c.input_streams,
            c.output_streams,
            c.idle_timeout.map(|d| d.as_millis()),
            c.creation_xml.as_ref().map_or(0, |x| x.len()),
            c.environment.len()
        ),
        RequestBody::Command(c) => format!(
            "Command id={:?} command={:?} args={}",
            c.command_id,
            c.command.as_deref().map(|s| s.chars().take(40).collect::<String>()),
            c.arguments.len()
        ),
        RequestBody::Send(s) => {
            let streams: Vec<String> = s
                .streams
                .iter()
                .map(|s| format!("{}:{:?}:{}B{}", s.name, s.command_id, s.data.len(), if s.end { ":end" } else { "" }))
                .collect();
            format!("Send {}", streams.join(","))
        }
        RequestBody::Receive(x) => format!("Receive {} cmd={:?}", x.streams, x.command_id),
        RequestBody::Signal(s) => format!("Signal cmd={:?} code={:?}", s.command_id, s.code),
        RequestBody::Delete => "Delete".into(),
        RequestBody::Get => format!("Get {}", r.header.resource_uri.as_deref().unwrap_or("-")),
        RequestBody::Disconnect(d) => format!("Disconnect idle={:?} buffer={:?}", d.idle_timeout, d.buffer_mode),
        RequestBody::Reconnect(x) => format!("Reconnect cmd={:?}", x.command_id),
        RequestBody::Connect(c) => {
            format!("Connect cmd={:?} connectXml={}B", c.command_id, c.connect_xml.as_ref().map_or(0, |x| x.len()))
        }
        RequestBody::Enumerate(e) => format!(
            "Enumerate {} optimize={} max={:?} filter={:?}",
            r.header.resource_uri.as_deref().unwrap_or("-"),
            e.optimize,
            e.max_elements,
            e.filter.as_ref().map(|f| f.iter().map(|s| format!("{}={}", s.name, s.value)).collect::<Vec<_>>())
        ),
        RequestBody::Pull(p) => format!("Pull {}", p.context),
        RequestBody::Release(p) => format!("Release {}", p.context),
    };
    let options: Vec<String> = r.header.options.iter().map(|o| format!("{}={}", o.name, o.value)).collect();
    format!("{body} shell={shell} options=[{}]", options.join(","))
}

fn describe_response(r: &Response) -> String {
    match &r.body {
        ResponseBody::Create(c) => format!(
            "CreateResponse shell={:?} uri={} state={:?}",
            c.shell_id(),
            c.resource_uri,
            c.shell.as_ref().and_then(|s| s.state.clone())
        ),
        ResponseBody::Command(c) => format!("CommandResponse {}", c.command_id),
        ResponseBody::Send => "SendResponse".into(),
        ResponseBody::Receive(x) => {
            let streams: Vec<String> = x.streams.iter().map(|s| format!("{}:{}B", s.name, s.data.len())).collect();
            format!(
                "ReceiveResponse [{}] state={:?}",
                streams.join(","),
                x.command_state.as_ref().map(|c| (c.state.rsplit('/').next().unwrap_or("").to_owned(), c.exit_code))
            )
        }
        ResponseBody::Signal => "SignalResponse".into(),
        ResponseBody::Delete => "DeleteResponse".into(),
        ResponseBody::Get(GetResponse::Shell(s)) => format!("GetResponse shell={} state={:?}", s.shell_id, s.state),
        ResponseBody::Get(GetResponse::Config(c)) => format!("GetResponse config kb={:?}", c.max_envelope_size_kb),
        ResponseBody::Disconnect => "DisconnectResponse".into(),
        ResponseBody::Reconnect => "ReconnectResponse".into(),
        ResponseBody::Connect(c) => format!(
            "ConnectResponse in={:?} out={:?} xml={}B",
            c.input_streams,
            c.output_streams,
            c.connect_response_xml.as_ref().map_or(0, |x| x.len())
        ),
        ResponseBody::Enumerate(e) => {
            let items: Vec<String> = e
                .items
                .iter()
                .map(|i| match i {
                    EnumItem::Shell(s) => format!("shell:{}:{:?}:{:?}", s.shell_id, s.state, s.name),
                    EnumItem::Command(c) => format!("command:{}:{:?}", c.command_id, c.state),
                })
                .collect();
            format!("EnumerateResponse ctx={:?} end={} [{}]", e.context, e.end_of_sequence, items.join(","))
        }
        ResponseBody::Pull(p) => format!("PullResponse {} items", p.items.len()),
        ResponseBody::Release => "ReleaseResponse".into(),
        ResponseBody::Fault(f) => format!("Fault {:?} code={:?} subcode={:?}", f.kind(), f.wsman_code, f.subcode),
    }
}

#[test]
fn every_trace_envelope_parses_round_trips_and_matches_the_snapshot() {
    let limits = Limits::default();
    let mut summary = String::new();
    let mut requests = 0;
    let mut responses = 0;
    let mut non_xml = Vec::new();
    for (name, trace) in windows_traces() {
        writeln!(summary, "== {name}").unwrap();
        for (i, exchange) in trace.messages.iter().enumerate() {
            let request = match parse_request(exchange.request.as_bytes(), &limits) {
                Ok(r) => r,
                Err(EnvelopeError::InvalidHeader { header, value }) => {
                    // A request Windows refused: the response must be the matching fault.
                    let response = parse_response(exchange.response.as_bytes(), &limits).unwrap();
                    let ResponseBody::Fault(f) = &response.body else { panic!("{name}#{i}: {header} accepted") };
                    assert_eq!(f.kind(), FaultKind::InvalidHeader, "{name}#{i}");
                    writeln!(summary, "{i}: invalid {header} {value:?} -> {}", describe_response(&response)).unwrap();
                    continue;
                }
                Err(e) => panic!("{name}#{i} request: {e}"),
            };
            let rebuilt = parse_request(&request.to_bytes(), &limits)
                .unwrap_or_else(|e| panic!("{name}#{i} rebuilt request: {e}"));
            assert_eq!(rebuilt, request, "{name}#{i} request round trip");
            requests += 1;
            let response_text = exchange.response.trim();
            let response_summary = if response_text.starts_with('<') {
                let response = parse_response(response_text.as_bytes(), &limits)
                    .unwrap_or_else(|e| panic!("{name}#{i} response: {e}"));
                let rebuilt = parse_response(&response.to_bytes(), &limits)
                    .unwrap_or_else(|e| panic!("{name}#{i} rebuilt response: {e}"));
                assert_eq!(rebuilt, response, "{name}#{i} response round trip");
                assert!(response.header.relates_to.is_some(), "{name}#{i}: RelatesTo");
                responses += 1;
                describe_response(&response)
            } else {
                non_xml.push(format!("{name}#{i}"));
                format!("(non-XML response: {:?})", response_text.chars().take(40).collect::<String>())
            };
            writeln!(summary, "{i}: {} -> {response_summary}", describe_request(&request)).unwrap();
        }
    }
    assert!(requests >= 440, "only {requests} requests walked");
    assert!(responses >= 430, "only {responses} responses walked");
    assert!(non_xml.len() <= 2, "unexpected non-XML responses: {non_xml:?}");
    expect_test::expect_file!["snapshots/envelope_traces.txt"].assert_eq(&summary);
}

#[test]
fn fault_fixtures_map_to_their_kind() {
    let cases = [
        ("fault_2150858767_invalid_header_timeout_value", FaultKind::InvalidHeader),
        ("fault_2150858793_operation_timeout_receive", FaultKind::TimedOut),
        ("fault_2150858843_invalid_selectors_unknown_command", FaultKind::InvalidSelectors),
        ("fault_2150858843_invalid_selectors_unknown_shell_get", FaultKind::InvalidSelectors),
    ];
    for (name, kind) in cases {
        let xml = read_fixture(&format!("vectors/faults/{name}.response.xml"));
        let response = parse_response(&xml, &Limits::default()).unwrap();
        let ResponseBody::Fault(fault) = &response.body else { panic!("{name}: not a fault") };
        assert_eq!(fault.kind(), kind, "{name}");
        assert_eq!(fault.kind().code(), fault.wsman_code, "{name}");
        let request = read_fixture(&format!("vectors/faults/{name}.request.xml"));
        let request = parse_request(&request, &Limits::default());
        // The invalid-timeout request is the one a server must refuse with InvalidHeader.
        if kind == FaultKind::InvalidHeader {
            assert!(
                matches!(request, Err(EnvelopeError::InvalidHeader { header: "OperationTimeout", .. })),
                "{name}: {request:?}"
            );
        } else {
            request.unwrap_or_else(|e| panic!("{name} request: {e}"));
        }
    }
}

#[test]
fn faults_inside_traces_map_to_known_kinds() {
    let mut kinds = Vec::new();
    for (name, trace) in windows_traces() {
        for exchange in &trace.messages {
            if !exchange.response.trim_start().starts_with('<') {
                continue;
            }
            let response = parse_response(exchange.response.as_bytes(), &Limits::default()).unwrap();
            if let ResponseBody::Fault(f) = response.body {
                kinds.push((name.clone(), f.kind(), f.text().to_owned()));
            }
        }
    }
    let summary: String = kinds.iter().map(|(n, k, t)| format!("{n}: {k:?}: {t}\n")).collect();
    expect_test::expect_file!["snapshots/envelope_trace_faults.txt"].assert_eq(&summary);
    assert!(kinds.iter().any(|(_, k, _)| *k == FaultKind::InvalidSelectors));
    assert!(kinds.iter().any(|(_, k, _)| *k == FaultKind::InvalidHeader));
}

#[test]
fn decoded_trace_vectors_and_a_pretty_printed_pwsh_create_response_parse() {
    let limits = Limits::default();
    let dir = pssession_testkit::fixture("vectors/windows-traces-pypsrp/xml");
    let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    assert_eq!(names.len(), 40);
    for path in names {
        let xml = std::fs::read(&path).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if file.ends_with(".request.xml") {
            parse_request(&xml, &limits).unwrap_or_else(|e| panic!("{file}: {e}"));
        } else {
            parse_response(&xml, &limits).unwrap_or_else(|e| panic!("{file}: {e}"));
        }
    }
    // Windows answering a PowerShell 7.4 client: Name, XpressCompression, robust-connection headers; the file is
    // pretty-printed, so every text is read trimmed.
    let xml = read_fixture("vectors/misc/windows_createresponse_to_pwsh_7_4_client.xml");
    let response = parse_response(&xml, &limits).unwrap();
    assert!(response.header.operation_id.is_some());
    assert_eq!(response.header.sequence_id, Some(1));
    let ResponseBody::Create(created) = response.body else { panic!("not a CreateResponse") };
    let shell = created.shell.as_ref().unwrap();
    assert_eq!(shell.name.as_deref(), Some("Runspace1"));
    assert_eq!(shell.compression_mode.as_deref(), Some("XpressCompression"));
    assert!(created.address.ends_with("?PSVersion=7.4.10"), "{}", created.address);
    assert_eq!(created.shell_id(), Some(shell.shell_id.as_str()));
}
