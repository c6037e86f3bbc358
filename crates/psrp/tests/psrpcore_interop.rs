//! Framing interop with psrpcore (PyPI, pinned in requirements-test.txt): messages fragmented by psrpcore decode
//! in ours, ours decode in psrpcore, and both produce byte-identical messages and payloads.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use pssession_psrp::{Defragmenter, Destination, Fragment, Fragmenter, Message, MessageType};
use pssession_testkit::run_python_json;
use serde_json::{Value, json};
use uuid::Uuid;

fn script() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/psrpcore_framing.py"))
}

/// A deterministic corpus: every message type, pool and pipeline targets, bodies from empty to several fragments.
fn corpus() -> Vec<Message> {
    let rpid = Uuid::parse_str("9e1c4b8a-5d2e-4f0a-8c3b-1a2b3c4d5e6f").unwrap();
    let pipeline = Uuid::parse_str("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0").unwrap();
    let mut seed = 0x2545_f491_u32;
    MessageType::ALL
        .iter()
        .cycle()
        .take(90)
        .enumerate()
        .map(|(i, &ty)| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let len = match i % 5 {
                0 => 0,
                1 => (seed % 200) as usize,
                2 => 1000 + (seed % 3000) as usize,
                3 => 9000 + (seed % 9000) as usize,
                _ => (seed % 60) as usize,
            };
            let body: Vec<u8> = (0..len).map(|j| b"<S>pssession&amp;</S>"[(j + i) % 21]).collect();
            // Consecutive messages share a target in runs, so payloads pack several of them.
            let pid = if (i / 3) % 2 == 0 { Uuid::nil() } else { pipeline };
            let destination = if i % 2 == 0 { Destination::Server } else { Destination::Client };
            Message::new(destination, ty, rpid, pid, Bytes::from(body))
        })
        .collect()
}

fn message_json(m: &Message) -> Value {
    json!({
        "to_server": m.destination == Destination::Server,
        "type": m.message_type.value(),
        "rpid": m.rpid.to_string(),
        "pid": if m.pid.is_nil() { Value::Null } else { Value::String(m.pid.to_string()) },
        "data": B64.encode(&m.data),
    })
}

fn b64(value: &Value) -> Vec<u8> {
    B64.decode(value.as_str().expect("base64 string")).expect("valid base64")
}

#[test]
fn psrpcore_and_pssession_produce_identical_messages_and_payloads() {
    let messages = corpus();
    for amount in [22, 64, 1000, 4096, 32 << 10, 113_952] {
        let answer = run_python_json(
            script(),
            &json!({"op": "fragment", "amount": amount, "messages": messages.iter().map(message_json).collect::<Vec<_>>()}),
        );
        // Message encoding: byte for byte.
        for (ours, theirs) in messages.iter().zip(answer["messages"].as_array().unwrap()) {
            assert_eq!(ours.encode().to_vec(), b64(theirs), "{} message bytes differ", ours.message_type);
        }
        // Fragmenting and packing at the same budget: byte for byte, payload for payload.
        let mut fragmenter = Fragmenter::new(amount).unwrap();
        for m in &messages {
            fragmenter.enqueue(m);
        }
        let ours = fragmenter.drain_payloads(amount);
        let theirs = answer["payloads"].as_array().unwrap();
        let normalised = without_empty_fragments(theirs);
        assert_eq!(ours.len(), theirs.len(), "payload count at amount {amount}");
        for (i, (ours, theirs)) in ours.iter().zip(theirs).enumerate() {
            assert_eq!(ours.data.to_vec(), normalised[i], "payload {i} at amount {amount}");
            let pid = theirs["pid"].as_str().map_or(Uuid::nil(), |s| Uuid::parse_str(s).unwrap());
            assert_eq!(ours.pipeline_id, pid, "payload {i} target at amount {amount}");
        }

        // psrpcore's payloads reassemble in ours into the original messages.
        let mut defragmenter = Defragmenter::new();
        let mut decoded = Vec::new();
        for payload in theirs {
            for object in defragmenter.feed(Bytes::from(b64(&payload["data"]))).unwrap() {
                decoded.push(Message::decode(object.data).unwrap());
            }
        }
        defragmenter.finish().unwrap();
        assert_eq!(decoded, messages, "psrpcore → pssession at amount {amount}");
    }
}

/// psrpcore's one deviation: when exactly 21 bytes of budget remain it emits a start fragment with an empty blob
/// and continues the message at FragmentId 1 in the next payload. We never emit empty fragments. This removes them
/// and renumbers, so that everything else is compared byte for byte.
fn without_empty_fragments(payloads: &[Value]) -> Vec<Vec<u8>> {
    use std::collections::HashMap;
    let mut dropped: HashMap<u64, u64> = HashMap::new();
    payloads
        .iter()
        .map(|payload| {
            let mut out = bytes::BytesMut::new();
            for mut f in Fragment::decode_all(&Bytes::from(b64(&payload["data"]))).unwrap() {
                if f.blob.is_empty() && !f.end {
                    *dropped.entry(f.object_id).or_default() += 1;
                    continue;
                }
                f.fragment_id -= dropped.get(&f.object_id).copied().unwrap_or(0);
                f.start = f.fragment_id == 0;
                f.encode_into(&mut out).unwrap();
            }
            out.to_vec()
        })
        .collect()
}

#[test]
fn psrpcore_reassembles_what_pssession_fragments() {
    let messages = corpus();
    for (fragment_size, budget) in [(22, 22), (100, 1000), (32 << 10, 150_000), (150 << 10, 500_000)] {
        let mut fragmenter = Fragmenter::new(fragment_size).unwrap();
        let ids: Vec<u64> = messages.iter().map(|m| fragmenter.enqueue(m)).collect();
        let payloads: Vec<String> = fragmenter.drain_payloads(budget).iter().map(|p| B64.encode(&p.data)).collect();
        let answer = run_python_json(script(), &json!({"op": "defragment", "payloads": payloads}));
        let theirs = answer["messages"].as_array().unwrap();
        assert_eq!(theirs.len(), messages.len(), "fragment size {fragment_size}");
        for ((m, id), t) in messages.iter().zip(&ids).zip(theirs) {
            assert_eq!(t["object_id"].as_u64(), Some(*id));
            assert_eq!(t["type"].as_u64(), Some(u64::from(m.message_type.value())));
            assert_eq!(t["rpid"].as_str(), Some(m.rpid.to_string().as_str()));
            let pid = t["pid"].as_str().map_or(Uuid::nil(), |s| Uuid::parse_str(s).unwrap());
            assert_eq!(pid, m.pid);
            assert_eq!(b64(&t["data"]), m.body(), "{} body", m.message_type);
        }
    }
}
