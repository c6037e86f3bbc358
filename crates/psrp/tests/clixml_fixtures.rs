//! Every CLIXML body recorded against Windows (pypsrp's traces) and every CLIXML sample of other implementations
//! under ../shared/fixtures deserializes without error and without losing an element to the "unknown" bin; our
//! serializer's output reads back to the same values; a snapshot pins the decoded structure of each message type.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use bytes::Bytes;
use pssession_psrp::clixml::{Container, Deserializer, PsValue, from_clixml, to_clixml};
use pssession_psrp::{Defragmenter, Destination, Message, MessageType};
use pssession_testkit::{envelope_payloads, fixture, is_psrp_exchange, windows_traces};

/// Every message of one direction of every trace.
fn trace_messages() -> Vec<(String, Message)> {
    let mut out = Vec::new();
    for (name, trace) in windows_traces() {
        for response in [false, true] {
            let mut defragmenter = Defragmenter::new();
            for exchange in trace.messages.iter().filter(|m| is_psrp_exchange(m)) {
                let envelope = if response { &exchange.response } else { &exchange.request };
                for payload in envelope_payloads(envelope) {
                    for object in defragmenter.feed(Bytes::from(payload.bytes)).expect("fragments") {
                        out.push((name.clone(), Message::decode(object.data).expect("message")));
                    }
                }
            }
        }
    }
    out
}

/// Fails when any object in `value` kept an element as unknown raw XML.
fn assert_nothing_unknown(value: &PsValue, context: &str) {
    if let PsValue::Object(object) = value {
        assert!(object.unknown.is_empty(), "{context}: unknown elements {:?}", object.unknown);
        for property in object.properties() {
            assert_nothing_unknown(&property.value, context);
        }
        if let Some(base) = &object.base {
            assert_nothing_unknown(base, context);
        }
        match &object.container {
            Some(Container::Dictionary(entries)) => {
                for (k, v) in entries {
                    assert_nothing_unknown(k, context);
                    assert_nothing_unknown(v, context);
                }
            }
            Some(container) => container.items().unwrap_or(&[]).iter().for_each(|v| assert_nothing_unknown(v, context)),
            None => {}
        }
    }
}

/// A compact outline of a value's shape: tags, type names and member names, not the data.
fn outline(value: &PsValue, out: &mut String, depth: usize) {
    if depth > 6 {
        out.push('…');
        return;
    }
    match value {
        PsValue::Object(object) => {
            out.push_str("Obj");
            if let Some(first) = object.type_names().first() {
                let _ = write!(out, "<{first}>");
            }
            if let Some(base) = &object.base {
                out.push('(');
                outline(base, out, depth + 1);
                out.push(')');
            }
            if let Some(container) = &object.container {
                let _ = write!(out, "[{}", container.tag());
                if let Container::Dictionary(entries) = container {
                    let _ = write!(out, " {}", entries.len());
                } else {
                    let _ = write!(out, " {}", container.items().unwrap_or(&[]).len());
                }
                out.push(']');
            }
            if object.properties().next().is_some() {
                out.push('{');
                for (i, property) in object.properties().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{}:", property.name);
                    outline(&property.value, out, depth + 1);
                }
                out.push('}');
            }
        }
        other => out.push_str(other.type_name().unwrap_or("Nil").trim_start_matches("System.")),
    }
}

#[test]
fn every_trace_message_body_deserializes_and_round_trips() {
    let mut shapes: BTreeMap<MessageType, String> = BTreeMap::new();
    let mut counts: BTreeMap<MessageType, usize> = BTreeMap::new();
    let mut byte_exact = 0usize;
    let mut bodies = 0usize;
    let mut de = Deserializer::default();
    for (trace, message) in trace_messages() {
        let body = message.body();
        let context = format!("{trace}: {}", message.message_type);
        if body.is_empty() {
            // Only END_OF_PIPELINE_INPUT is bodiless.
            assert_eq!(message.message_type, MessageType::EndOfPipelineInput, "{context}: empty body");
            continue;
        }
        let value = de.deserialize(body).unwrap_or_else(|e| panic!("{context}: {e}"));
        assert_nothing_unknown(&value, &context);
        let written = to_clixml(&value);
        assert_eq!(from_clixml(written.as_bytes()).unwrap(), value, "{context}: serializer round trip");
        bodies += 1;
        let without_bom = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        if written.as_bytes() == without_bom {
            byte_exact += 1;
        } else if message.destination == Destination::Client {
            // What Windows wrote, we write byte for byte. (pypsrp's requests differ only in attribute order.)
            panic!(
                "{context}: Windows body does not re-serialize byte for byte:\n ours: {written}\n wire: {}",
                String::from_utf8_lossy(without_bom)
            );
        } else if std::env::var_os("SHOW_CLIXML_DIFF").is_some() {
            let at = written.bytes().zip(without_bom.iter()).take_while(|(a, b)| a == *b).count();
            let from = at.saturating_sub(60);
            println!(
                "{context} {:?}\n ours: {}\n wire: {}",
                message.destination,
                &written[from..(at + 80).min(written.len())],
                String::from_utf8_lossy(&without_bom[from..(at + 80).min(without_bom.len())])
            );
        }
        *counts.entry(message.message_type).or_default() += 1;
        shapes.entry(message.message_type).or_insert_with(|| {
            let mut text = String::new();
            outline(&value, &mut text, 0);
            text
        });
    }
    assert!(bodies >= 500, "only {bodies} bodies");
    let mut snapshot = String::new();
    for (ty, shape) in &shapes {
        let _ = writeln!(snapshot, "{ty} ×{}: {shape}", counts[ty]);
    }
    expect_test::expect_file!["snapshots/clixml_trace_shapes.txt"].assert_eq(&snapshot);
    println!("{byte_exact}/{bodies} bodies re-serialize byte for byte");
}

#[test]
fn clixml_samples_of_other_implementations_deserialize() {
    let mut de = Deserializer::default();
    // `#< CLIXML` streams pwsh writes (pypsrp's sanitise fixtures): progress records and error lines.
    for name in ["test_sanitise_clixml_with_error.xml", "test_sanitise_clixml_with_no_errors.xml"] {
        let bytes = std::fs::read(fixture(&format!("pypsrp-windows-traces/clixml/{name}"))).unwrap();
        let values: Vec<_> = de.objs(&bytes).collect::<Result<_, _>>().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!values.is_empty(), "{name}");
        assert!(values.iter().any(|v| v.stream.as_deref() == Some("progress")), "{name}");
        for v in &values {
            assert_nothing_unknown(&v.value, name);
        }
        if name.contains("with_error") {
            let errors: String =
                values.iter().filter(|v| v.stream.as_deref() == Some("Error")).map(|v| v.value.to_string()).collect();
            assert!(errors.starts_with("fake : The term 'fake' is not recognized"), "{errors}");
            assert!(errors.contains("CommandNotFoundException\r\n"), "{errors}");
        }
    }
    // Single message bodies and seeds from psrp-rs and ironposh.
    for path in [
        "other-projects/psrp-rs/fuzz/seeds/clixml_decoder/error_record.xml",
        "other-projects/psrp-rs/fuzz/seeds/records_decode/extended_types.xml",
        "other-projects/psrp-rs/tests/fixtures/pypsrp_create_pipeline.xml",
        "other-projects/ironposh/crates/ironposh-psrp/src/tests/resource/error_record.xml",
        "other-projects/ironposh/crates/ironposh-psrp/src/tests/resources/command_completion_get_ser.xml",
    ] {
        let bytes = std::fs::read(fixture(path)).unwrap();
        let value = de.deserialize(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_nothing_unknown(&value, path);
        assert_eq!(from_clixml(to_clixml(&value).as_bytes()).unwrap(), value, "{path}");
    }
    // Two objects sharing a type-name list across objects: read as one stream.
    let tnref = std::fs::read_to_string(fixture("other-projects/psrp-rs/fuzz/seeds/records_decode/tnref.xml")).unwrap();
    let stream = format!("<Objs>{tnref}</Objs>");
    let values: Vec<_> = de.objs(stream.as_bytes()).collect::<Result<_, _>>().unwrap();
    assert_eq!(values[1].value.as_object().unwrap().type_names(), ["A", "B"]);
    // ironposh's creationXml: base64 PSRP fragments.
    let creation =
        std::fs::read_to_string(fixture("other-projects/ironposh/crates/ironposh-psrp/src/tests/resource/creationXml"))
            .unwrap();
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(creation.trim()).unwrap();
    let mut defragmenter = Defragmenter::new();
    let objects = defragmenter.feed(Bytes::from(bytes)).unwrap();
    assert_eq!(objects.len(), 2);
    for object in objects {
        let message = Message::decode(object.data).unwrap();
        let value = de.deserialize(message.body()).unwrap();
        assert_nothing_unknown(&value, "ironposh creationXml");
    }
    // go-psrpcore's string fuzz corpus: control characters survive a round trip.
    let value = PsValue::String("\u{17}".into());
    assert_eq!(from_clixml(to_clixml(&value).as_bytes()).unwrap(), value);
}

/// Every recorded message whose body has a typed struct parses into it, and the struct rebuilds a body that parses
/// back to the same struct.
#[test]
fn every_trace_message_parses_into_its_typed_body() {
    use pssession_psrp::messages::*;
    fn check<T: MessageBody + PartialEq + std::fmt::Debug>(body: &[u8], context: &str) {
        let typed = T::decode(body).unwrap_or_else(|e| panic!("{context}: {e}"));
        assert_eq!(T::decode(&typed.encode()).unwrap(), typed, "{context}: rebuild");
    }
    let mut typed = 0;
    for (trace, message) in trace_messages() {
        let context = format!("{trace}: {}", message.message_type);
        let body = message.body();
        typed += 1;
        match message.message_type {
            MessageType::SessionCapability => check::<SessionCapability>(body, &context),
            MessageType::InitRunspacePool => check::<InitRunspacePool>(body, &context),
            MessageType::ConnectRunspacePool => check::<ConnectRunspacePool>(body, &context),
            MessageType::RunspacePoolInitData => check::<RunspacePoolInitData>(body, &context),
            MessageType::ApplicationPrivateData => {
                check::<ApplicationPrivateData>(body, &context);
                let data = ApplicationPrivateData::decode(body).unwrap();
                assert!(data.version_table().is_some_and(|t| !t.is_empty()), "{context}: no PSVersionTable");
            }
            MessageType::RunspacePoolState => check::<RunspacePoolStateMessage>(body, &context),
            MessageType::RunspaceAvailability => check::<RunspaceAvailability>(body, &context),
            MessageType::GetAvailableRunspaces => check::<GetAvailableRunspaces>(body, &context),
            MessageType::ResetRunspaceState => check::<ResetRunspaceState>(body, &context),
            MessageType::SetMaxRunspaces => check::<SetMaxRunspaces>(body, &context),
            MessageType::SetMinRunspaces => check::<SetMinRunspaces>(body, &context),
            MessageType::CreatePipeline => check::<CreatePipeline>(body, &context),
            MessageType::PipelineState => check::<PipelineStateMessage>(body, &context),
            MessageType::ErrorRecord => check::<ErrorRecord>(body, &context),
            MessageType::InformationRecord => check::<InformationRecord>(body, &context),
            MessageType::ProgressRecord => check::<ProgressRecord>(body, &context),
            ty @ (MessageType::DebugRecord | MessageType::VerboseRecord | MessageType::WarningRecord) => {
                let value = from_clixml(body).unwrap();
                let record = InformationalRecord::from_value(ty, &value).unwrap_or_else(|e| panic!("{context}: {e}"));
                assert!(!record.message.is_empty(), "{context}");
            }
            ty @ (MessageType::PipelineHostCall | MessageType::RunspacePoolHostCall) => {
                let call =
                    HostCall::from_value(ty, &from_clixml(body).unwrap()).unwrap_or_else(|e| panic!("{context}: {e}"));
                assert!(call.method.name().is_some(), "{context}: unknown host method {:?}", call.method);
                assert_eq!(HostCall::from_value(ty, &call.to_value()).unwrap(), call, "{context}: rebuild");
            }
            ty @ (MessageType::PipelineHostResponse | MessageType::RunspacePoolHostResponse) => {
                let response = HostResponse::from_value(ty, &from_clixml(body).unwrap())
                    .unwrap_or_else(|e| panic!("{context}: {e}"));
                assert_eq!(HostResponse::from_value(ty, &response.to_value()).unwrap(), response, "{context}: rebuild");
            }
            MessageType::PublicKey => check::<PublicKey>(body, &context),
            MessageType::EncryptedSessionKey => check::<EncryptedSessionKey>(body, &context),
            MessageType::PublicKeyRequest => check::<PublicKeyRequest>(body, &context),
            MessageType::UserEvent => check::<UserEvent>(body, &context),
            MessageType::GetCommandMetadata => check::<GetCommandMetadata>(body, &context),
            _ => typed -= 1,
        }
    }
    assert!(typed >= 380, "only {typed} typed bodies");
}
