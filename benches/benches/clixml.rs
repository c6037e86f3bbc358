//! CLIXML deserialization and serialization on the input of `../shared/bench/bench_clixml.py`: 10,000
//! PSCustomObjects of five properties (Name, Id, Path, WorkingSet, StartTime), generated here byte for byte as
//! psrpcore serializes them (checked against the script's `clixml_objects.txt` when `PERF_DATA_DIR` holds one).
//!
//! * `clixml/deserialize/per-object` — one PIPELINE_OUTPUT body per object, one reused [`Deserializer`], as the
//!   receive path does (anchor: psrpcore `deserialize(ET.fromstring(b))`, pypsrp `Serializer().deserialize`).
//! * `clixml/deserialize/objs-doc` — all objects as one `<Objs>` document (anchor: psrpcore `deserialize_clixml`).
//! * `clixml/serialize/per-object` — each object to its own body.
//! * `clixml/end-to-end` — the objects as PIPELINE_OUTPUT messages (BOM + body) packed into payloads of at most
//!   32 KiB, then defragmented, decoded and deserialized through one [`Deserializer`] (anchors: psrpcore
//!   `receive_data` + `next_event`, pypsrp `Fragmenter.defragment`, which both deserialize each message).
//!
//! Throughput is in objects. Set `PSSESSION_BENCH_QUICK=1` for the script's `--quick` count (2,000).

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pssession_psrp::clixml::{BOM, Deserializer, PsDateTime, PsValue, to_clixml};
use pssession_psrp::{Defragmenter, Destination, Fragmenter, Message, MessageType};
use uuid::Uuid;

fn quick() -> bool {
    std::env::var_os("PSSESSION_BENCH_QUICK").is_some()
}

/// `bench_clixml.make_objects(n)` serialized with psrpcore, one body per object, exactly as the script does.
fn objects(n: usize) -> Vec<String> {
    // datetime(2024, 5, 1, 12, 30, 45, 123456, tzinfo=utc).timestamp(), computed as Python does: an exact integer
    // of microseconds divided by 10**6.
    let base = 1_714_566_645_123_456_f64 / 1e6;
    (0..n)
        .map(|i| {
            let path = format!(
                "C:\\Program Files\\Vendor &amp; Co &lt;x64&gt;\\Ünïcode\\bin\\service{}.exe",
                i % 97
            );
            format!(
                "<Obj RefId=\"0\"><TN RefId=\"0\"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN>\
                 <MS><S N=\"Name\">svchost-{i:05}</S><I32 N=\"Id\">{}</I32><S N=\"Path\">{path}</S>\
                 <I64 N=\"WorkingSet\">{}</I64><DT N=\"StartTime\">{}</DT></MS></Obj>",
                1000 + i,
                123_456_789 + i as i64 * 4096,
                python_utc_timestamp(base + i as f64 * 61.5),
            )
        })
        .collect()
}

/// psrpcore's text of `PSDateTime.fromtimestamp(ts, tz=utc)`: CPython splits the float into whole seconds and
/// a fraction rounded half-to-even to microseconds; psrpcore writes `.%f` only when the microseconds are non-zero.
fn python_utc_timestamp(ts: f64) -> String {
    let mut seconds = ts.trunc();
    let mut micros = ((ts - seconds) * 1e6).round_ties_even();
    if micros >= 1e6 {
        micros -= 1e6;
        seconds += 1.0;
    }
    let wire = PsDateTime::from_unix(seconds as i64, 0).expect("in range").to_wire();
    let whole = &wire[..19];
    if micros == 0.0 { format!("{whole}Z") } else { format!("{whole}.{:06}Z", micros as u32) }
}

/// Fails the bench when the script's own sample is present and differs from what we generated.
fn check_against_anchor(bodies: &[String]) {
    let Some(dir) = std::env::var_os("PERF_DATA_DIR") else { return };
    let path = std::path::Path::new(&dir).join("clixml_objects.txt");
    let Ok(theirs) = std::fs::read_to_string(&path) else { return };
    for (i, (ours, theirs)) in bodies.iter().zip(theirs.lines()).enumerate() {
        assert_eq!(ours, theirs, "object {i} differs from {}", path.display());
    }
    eprintln!("clixml bench: input matches {}", path.display());
}

fn objs_document(bodies: &[String]) -> String {
    // serialize_clixml: one serializer for the whole document, so RefIds count up and the type names are written
    // once and referenced with <TNRef> afterwards.
    let mut doc = String::from("<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">");
    let tn = "<TN RefId=\"0\"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN>";
    for (i, body) in bodies.iter().enumerate() {
        let body = body.replacen("<Obj RefId=\"0\">", &format!("<Obj RefId=\"{i}\">"), 1);
        doc.push_str(&if i == 0 { body } else { body.replacen(tn, "<TNRef RefId=\"0\" />", 1) });
    }
    doc.push_str("</Objs>");
    doc
}

/// The script's end-to-end input: every body as a PIPELINE_OUTPUT message with a BOM, in payloads of ≤ 32 KiB.
fn payloads(bodies: &[String]) -> Vec<Bytes> {
    const BUDGET: usize = 32 * 1024;
    let (rpid, pid) = (Uuid::from_u128(1), Uuid::from_u128(2));
    let mut fragmenter = Fragmenter::new(BUDGET).expect("valid fragment size");
    for body in bodies {
        let data = Bytes::from(format!("{BOM}{body}"));
        fragmenter.enqueue(&Message::new(Destination::Client, MessageType::PipelineOutput, rpid, pid, data));
    }
    fragmenter.drain_payloads(BUDGET).into_iter().map(|p| p.data).collect()
}

/// Defragments, decodes and deserializes every payload; the number of objects read.
fn receive(payloads: &[Bytes], de: &mut Deserializer) -> usize {
    let mut defragmenter = Defragmenter::new();
    let mut count = 0;
    for payload in payloads {
        defragmenter.push(payload.clone());
        while let Some(object) = defragmenter.next_object().expect("valid stream") {
            let message = Message::decode(object.data).expect("valid message");
            black_box(de.deserialize(message.body()).expect("valid body"));
            count += 1;
        }
    }
    count
}

fn benches(c: &mut Criterion) {
    let n = if quick() { 2_000 } else { 10_000 };
    let bodies = objects(n);
    check_against_anchor(&bodies);
    let document = objs_document(&bodies);

    // Sanity: what we time reads back into the values we expect.
    let mut de = Deserializer::default();
    let values: Vec<PsValue> = bodies.iter().map(|b| de.deserialize(b.as_bytes()).expect("valid body")).collect();
    assert_eq!(values[1].property("Name").and_then(PsValue::as_str), Some("svchost-00001"));
    assert_eq!(values[1].property("Id").and_then(PsValue::as_i32), Some(1001));
    let from_doc: Vec<PsValue> = de.objs(document.as_bytes()).map(|v| v.expect("valid document").value).collect();
    assert_eq!(from_doc, values);
    for (value, body) in values.iter().zip(&bodies) {
        assert_eq!(&to_clixml(value), body, "our serializer writes what psrpcore writes");
    }

    let mut group = c.benchmark_group("clixml");
    group.throughput(Throughput::Elements(n as u64));
    group.measurement_time(Duration::from_secs(5));
    group.sample_size(20);
    group.bench_function("deserialize/per-object", |b| {
        let mut de = Deserializer::default();
        b.iter(|| {
            let mut count = 0;
            for body in &bodies {
                black_box(de.deserialize(body.as_bytes()).expect("valid body"));
                count += 1;
            }
            count
        })
    });
    group.bench_function("deserialize/objs-doc", |b| {
        let mut de = Deserializer::default();
        b.iter(|| {
            let mut count = 0;
            for value in de.objs(document.as_bytes()) {
                black_box(value.expect("valid document"));
                count += 1;
            }
            count
        })
    });
    group.bench_function("serialize/per-object", |b| {
        b.iter(|| values.iter().map(|v| black_box(to_clixml(v)).len()).sum::<usize>())
    });
    let wire = payloads(&bodies);
    let wire_bytes: usize = wire.iter().map(Bytes::len).sum();
    eprintln!("clixml bench: end-to-end input: {} payloads of <=32768 B, {wire_bytes} bytes", wire.len());
    assert_eq!(receive(&wire, &mut Deserializer::default()), n, "every object arrives");
    group.bench_function("end-to-end", |b| {
        let mut de = Deserializer::default();
        b.iter(|| receive(&wire, &mut de))
    });
    group.finish();
}

criterion_group!(clixml, benches);
criterion_main!(clixml);
