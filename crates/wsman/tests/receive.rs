//! The Receive fast path against every ReceiveResponse in the recorded Windows traces, plus limits and errors.

use pssession_wsman::receive::{ReceiveError, ReceiveLimits, parse_receive_response};

#[test]
fn every_windows_receive_response_matches_the_reference_scanner() {
    let mut responses = 0;
    let mut streams = 0;
    let mut done = 0;
    for (name, trace) in pssession_testkit::windows_traces() {
        for exchange in &trace.messages {
            if !exchange.response.contains("ReceiveResponse>") || exchange.response.contains("Fault>") {
                continue;
            }
            let parsed = parse_receive_response(exchange.response.as_bytes(), &ReceiveLimits::default())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let expected: Vec<_> = pssession_testkit::envelope_payloads(&exchange.response)
                .into_iter()
                .filter(|p| p.element == "Stream")
                .collect();
            assert_eq!(parsed.streams.len(), expected.len(), "{name}");
            for (got, want) in parsed.streams.iter().zip(&expected) {
                assert_eq!(Some(&got.name), want.stream.as_ref(), "{name}");
                assert_eq!(got.command_id, want.command_id, "{name}");
                assert_eq!(&got.data[..], &want.bytes[..], "{name}");
            }
            if let Some(state) = &parsed.command_state {
                assert!(state.state.contains("/CommandState/"), "{name}");
                if state.is_done() {
                    done += 1;
                    assert!(state.exit_code.is_some(), "{name}: Done without ExitCode");
                }
            }
            responses += 1;
            streams += parsed.streams.len();
        }
    }
    assert!(responses > 20 && streams > 20 && done > 0, "{responses} responses, {streams} streams, {done} done");
}

const HEAD: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:x="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Body><x:ReceiveResponse>"#;
const TAIL: &str = "</x:ReceiveResponse></s:Body></s:Envelope>";

#[test]
fn namespaces_are_matched_by_uri_and_payloads_share_one_buffer() {
    let xml = format!(
        "{HEAD}<x:Stream Name=\"stdout\" CommandId=\"C1\">AQID</x:Stream><x:Stream Name=\"pr\" End=\"true\">\
         BAUG\n  Bw==</x:Stream><x:Stream Name=\"stderr\"/><x:CommandState CommandId=\"C1\" \
         State=\"http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done\"><x:ExitCode>-1</x:ExitCode>\
         </x:CommandState>{TAIL}"
    );
    let r = parse_receive_response(xml.as_bytes(), &ReceiveLimits::default()).unwrap();
    assert_eq!(r.streams.len(), 3);
    assert_eq!(&r.streams[0].data[..], &[1, 2, 3]);
    assert_eq!(r.streams[0].command_id.as_deref(), Some("C1"));
    assert!(!r.streams[0].end);
    assert_eq!(&r.streams[1].data[..], &[4, 5, 6, 7]);
    assert!(r.streams[1].end);
    assert!(r.streams[2].data.is_empty());
    let state = r.command_state.unwrap();
    assert!(state.is_done());
    assert_eq!(state.exit_code, Some(-1));

    // The same local names in another namespace are not shell streams.
    let foreign = HEAD.replace("windows/shell\"", "windows/other\"");
    let xml = format!("{foreign}<x:Stream Name=\"stdout\">AQID</x:Stream>{TAIL}");
    assert_eq!(
        parse_receive_response(xml.as_bytes(), &ReceiveLimits::default()),
        Err(ReceiveError::NotReceiveResponse)
    );
}

#[test]
fn bad_input_is_a_typed_error() {
    let limits = ReceiveLimits::default();
    let stream = |body: &str| format!("{HEAD}{body}{TAIL}");
    assert_eq!(
        parse_receive_response(stream("<x:Stream Name=\"a\">A!==</x:Stream>").as_bytes(), &limits),
        Err(ReceiveError::Base64)
    );
    assert_eq!(
        parse_receive_response(stream("<x:Stream>AQID</x:Stream>").as_bytes(), &limits),
        Err(ReceiveError::MissingStreamName)
    );
    assert_eq!(
        parse_receive_response(
            stream("<x:CommandState State=\"s\"><x:ExitCode>x</x:ExitCode></x:CommandState>").as_bytes(),
            &limits
        ),
        Err(ReceiveError::ExitCode)
    );
    let doctype = format!("<!DOCTYPE x [<!ENTITY a \"b\">]>{}", stream(""));
    assert_eq!(parse_receive_response(doctype.as_bytes(), &limits), Err(ReceiveError::Doctype));
    let fault =
        r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault/></s:Body></s:Envelope>"#;
    assert_eq!(parse_receive_response(fault.as_bytes(), &limits), Err(ReceiveError::Fault));
    let deep = format!("{}{}{}", stream(""), "<a>".repeat(40), "</a>".repeat(40));
    assert_eq!(parse_receive_response(deep.as_bytes(), &limits), Err(ReceiveError::TooDeep));
    let small = ReceiveLimits { max_envelope: 10, ..limits };
    assert!(matches!(
        parse_receive_response(stream("").as_bytes(), &small),
        Err(ReceiveError::EnvelopeTooLarge { limit: 10, .. })
    ));
    assert!(matches!(parse_receive_response(b"<s:Envelope", &limits), Err(ReceiveError::Xml(_))));
    // A cut anywhere inside the document is refused, never a silently shorter stream list.
    let whole = stream("<x:Stream Name=\"a\">AQIDBAUG</x:Stream>");
    let end = whole.rfind("</s:Envelope>").unwrap();
    for cut in 1..end {
        assert!(parse_receive_response(&whole.as_bytes()[..cut], &limits).is_err(), "cut at {cut} accepted");
    }
}
