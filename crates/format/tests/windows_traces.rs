//! The formatter on real Windows objects: every PIPELINE_OUTPUT body of the recorded Windows traces, rendered as
//! text and as JSON Lines, against a reviewed snapshot.

use bytes::Bytes;
use pssession_format::{FormatOptions, Formatter, write_json_line};
use pssession_psrp::clixml::{Deserializer, PsValue};
use pssession_psrp::{Defragmenter, Message, MessageType};
use pssession_testkit::{envelope_payloads, is_psrp_exchange, windows_traces};

/// The output objects of each trace that has any, decoded from the server's responses, in order.
fn output_objects() -> Vec<(String, Vec<PsValue>)> {
    let mut traces = Vec::new();
    for (name, trace) in windows_traces() {
        let mut defragmenter = Defragmenter::new();
        let mut de = Deserializer::default();
        let mut objects = Vec::new();
        for exchange in trace.messages.iter().filter(|m| is_psrp_exchange(m)) {
            for payload in envelope_payloads(&exchange.response) {
                for object in defragmenter.feed(Bytes::from(payload.bytes)).expect("valid fragment stream") {
                    let message = Message::decode(object.data).expect("valid PSRP message");
                    if message.message_type == MessageType::PipelineOutput {
                        objects.push(de.deserialize(message.body()).expect("valid CLIXML"));
                    }
                }
            }
        }
        if !objects.is_empty() {
            traces.push((name, objects));
        }
    }
    traces
}

#[test]
fn every_recorded_output_object_renders_as_powershell_shows_it() {
    let traces = output_objects();
    assert!(traces.len() >= 10, "only {} traces carried PIPELINE_OUTPUT", traces.len());
    let mut snapshot = String::new();
    let mut objects = 0;
    for (name, values) in &traces {
        let mut formatter = Formatter::new(FormatOptions::default());
        let mut text = String::new();
        for value in values {
            formatter.write(value, &mut text);
            objects += 1;
        }
        formatter.finish(&mut text);
        snapshot.push_str(&format!("=== {name} ({} objects)\n", values.len()));
        // Long outputs (file copies push base64 chunks) are cut in the snapshot: the rule is the same line after line.
        for (i, line) in text.lines().enumerate() {
            if i == 40 {
                snapshot.push_str(&format!("[... {} more lines]\n", text.lines().count() - 40));
                break;
            }
            snapshot.push_str(&format!("|{line}\n"));
        }
    }
    assert!(objects > 0);
    expect_test::expect_file!["snapshots/windows_output_text.txt"].assert_eq(&snapshot);
}

#[test]
fn every_recorded_output_object_is_one_json_line_equal_to_to_json() {
    let mut snapshot = String::new();
    for (name, values) in output_objects() {
        snapshot.push_str(&format!("=== {name}\n"));
        for (i, value) in values.iter().enumerate() {
            let mut line = String::new();
            write_json_line(value, &mut line);
            assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'), "{name}: not one line");
            let parsed: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
            assert_eq!(parsed, value.to_json(), "{name}: the streamed line differs from to_json");
            if i < 5 {
                let shown: String = line.trim_end().chars().take(300).collect();
                snapshot.push_str(&shown);
                snapshot.push('\n');
            }
        }
    }
    expect_test::expect_file!["snapshots/windows_output_json.txt"].assert_eq(&snapshot);
}
