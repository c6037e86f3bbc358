//! Every PSRP payload recorded against Windows Server (pypsrp's traces) decodes into fragments and messages, and
//! the decoded and computed reference vectors match byte for byte.

use std::collections::BTreeMap;

use bytes::Bytes;
use pssession_psrp::{Defragmenter, Destination, Fragment, Fragmenter, Message, MessageType};
use pssession_testkit::{envelope_payloads, is_psrp_exchange, read_fixture, windows_traces};
use uuid::Uuid;

/// Reassembles and decodes the messages of one direction of a trace.
fn decode_direction(payloads: &[Bytes]) -> Vec<Message> {
    let mut defragmenter = Defragmenter::new();
    let mut messages = Vec::new();
    for payload in payloads {
        // Each payload also decodes on its own into whole fragments: Windows never splits a fragment across streams.
        Fragment::decode_all(payload).expect("payload is a sequence of whole fragments");
        for object in defragmenter.feed(payload.clone()).expect("valid fragment stream") {
            messages.push(Message::decode(object.data).expect("valid PSRP message"));
        }
    }
    defragmenter.finish().expect("no object left incomplete");
    messages
}

#[test]
fn every_trace_payload_decodes_into_messages() {
    let mut totals: BTreeMap<MessageType, usize> = BTreeMap::new();
    let mut traces_with_psrp = 0;
    for (name, trace) in windows_traces() {
        let requests: Vec<Bytes> = trace
            .messages
            .iter()
            .filter(|m| is_psrp_exchange(m))
            .flat_map(|m| envelope_payloads(&m.request))
            .map(|p| Bytes::from(p.bytes))
            .collect();
        let responses: Vec<Bytes> = trace
            .messages
            .iter()
            .filter(|m| is_psrp_exchange(m))
            .flat_map(|m| envelope_payloads(&m.response))
            .map(|p| Bytes::from(p.bytes))
            .collect();
        let to_server = decode_direction(&requests);
        let to_client = decode_direction(&responses);
        assert!(to_server.iter().all(|m| m.destination == Destination::Server), "{name}: request to client");
        assert!(to_client.iter().all(|m| m.destination == Destination::Client), "{name}: response to server");
        if !to_server.is_empty() {
            traces_with_psrp += 1;
        }
        for m in to_server.iter().chain(&to_client) {
            *totals.entry(m.message_type).or_default() += 1;
            assert!(std::str::from_utf8(m.body()).is_ok(), "{name}: {} body is not UTF-8", m.message_type);
        }
    }
    assert!(traces_with_psrp >= 30, "only {traces_with_psrp} traces carried PSRP");
    // Snapshot of every message type seen across all traces (update with UPDATE_EXPECT=1 after review).
    let summary: String = totals.iter().map(|(ty, n)| format!("{ty}: {n}\n")).collect();
    expect_test::expect_file!["snapshots/trace_message_types.txt"].assert_eq(&summary);
}

/// The decoded reference vectors: each `.bin` holds the concatenated payloads whose message types its name lists.
#[test]
fn decoded_vectors_have_the_named_message_types() {
    let cases: [(&str, &[MessageType]); 7] = [
        (
            "creationXml_SESSION_CAPABILITY_INIT_RUNSPACEPOOL_client",
            &[MessageType::SessionCapability, MessageType::InitRunspacePool],
        ),
        (
            "connectXml_SESSION_CAPABILITY_CONNECT_RUNSPACEPOOL_client",
            &[MessageType::SessionCapability, MessageType::ConnectRunspacePool],
        ),
        (
            "connectResponseXml_SESSION_CAPABILITY_RUNSPACEPOOL_INIT_DATA_server",
            &[MessageType::SessionCapability, MessageType::RunspacePoolInitData],
        ),
        ("receive_APPLICATION_PRIVATE_DATA_after_connect_server", &[MessageType::ApplicationPrivateData]),
        (
            "receive_PIPELINE_OUTPUT_and_PIPELINE_STATE_server",
            &[MessageType::PipelineOutput, MessageType::PipelineState],
        ),
        ("receive_RUNSPACEPOOL_STATE_opened_server", &[MessageType::RunspacePoolState]),
        ("receive_SESSION_CAPABILITY_server", &[MessageType::SessionCapability]),
    ];
    for (name, types) in cases {
        let bytes = Bytes::from(read_fixture(&format!("vectors/fragments/{name}.bin")));
        let messages = decode_direction(&[bytes]);
        let got: Vec<_> = messages.iter().map(|m| m.message_type).collect();
        assert_eq!(got, types, "{name}");
        let destination = if name.ends_with("_client") { Destination::Server } else { Destination::Client };
        assert!(messages.iter().all(|m| m.destination == destination), "{name}");
        // Windows puts a BOM before the CLIXML; the 2018 pypsrp client did not.
        assert!(messages.iter().all(|m| m.has_bom() == name.ends_with("_server")), "{name}");
    }
}

/// COMPUTED vector: a 100-byte message at FragmentSize 64 → three fragments, byte for byte.
#[test]
fn computed_fragmentation_vector_is_reproduced_exactly() {
    let expected = Bytes::from(read_fixture("vectors/fragments/COMPUTED_fragmentation_100B_msg_fragsize64.bin"));
    let fragments = Fragment::decode_all(&expected).unwrap();
    let message: Vec<u8> = fragments.iter().flat_map(|f| f.blob.to_vec()).collect();
    assert_eq!(message.len(), 100);

    let mut fragmenter = Fragmenter::new(64).unwrap();
    fragmenter.set_next_object_id(7);
    fragmenter.enqueue_encoded(Uuid::nil(), Bytes::from(message));
    let produced: Vec<u8> = fragmenter.drain_payloads(64).into_iter().flat_map(|p| p.data.to_vec()).collect();
    assert_eq!(produced, expected.to_vec());
}

/// COMPUTED vector: connectXml as PowerShell builds it (.NET GUID order, BOM), rebuilt from typed messages.
#[test]
fn computed_powershell_connect_xml_is_reproduced_exactly() {
    let expected = Bytes::from(read_fixture("vectors/fragments/COMPUTED_connectXml_powershell_style.bin"));
    let rpid = Uuid::parse_str("B6631D8E-65A0-49F2-9053-A1B156C95777").unwrap();
    let capability = "\u{feff}<Obj RefId=\"0\"><MS><Version N=\"protocolversion\">2.3</Version><Version N=\"PSVersion\">2.0</Version><Version N=\"SerializationVersion\">1.1.0.1</Version></MS></Obj>";
    let connect =
        "\u{feff}<Obj RefId=\"0\"><MS><I32 N=\"MinRunspaces\">1</I32><I32 N=\"MaxRunspaces\">1</I32></MS></Obj>";
    let mut fragmenter = Fragmenter::new(32 << 10).unwrap();
    for (ty, body) in [(MessageType::SessionCapability, capability), (MessageType::ConnectRunspacePool, connect)] {
        fragmenter.enqueue(&Message::new(Destination::Server, ty, rpid, Uuid::nil(), Bytes::from(body)));
    }
    let payload = fragmenter.next_payload(usize::MAX).unwrap();
    assert!(fragmenter.is_empty());
    assert_eq!(payload.data, expected);
}
