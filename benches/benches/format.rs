//! Formatting throughput: what `pssession receive` spends turning each received object into text, beside the
//! deserializer's own figure (`clixml/deserialize/per-object`), so formatting never becomes the bottleneck.
//!
//! * `format/table/simple-rows` — PSCustomObjects of three properties (a number, two strings), already
//!   deserialized, through one streaming [`Formatter`] as a table (goal: ≥ 1M rows/s).
//! * `format/table/process-view` — deserialized `System.Diagnostics.Process` objects through the Process view
//!   (KiB columns, CPU seconds, the `Deserialized.` lookup).
//! * `format/list/simple-rows` — the same simple objects forced into a list.
//! * `format/json-lines/simple-rows` — the simple objects as JSON Lines (`write_json_line`).
//! * `format/deserialize+table` — CLIXML bodies deserialized through one reused [`Deserializer`] and formatted,
//!   what the CLI does per PIPELINE_OUTPUT.
//!
//! Throughput is in objects. Set `PSSESSION_BENCH_QUICK=1` for 2,000 objects instead of 10,000.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pssession_format::{FormatOptions, Formatter, Shape, write_json_line};
use pssession_psrp::clixml::{Deserializer, PsValue, from_clixml};

fn count() -> usize {
    if std::env::var_os("PSSESSION_BENCH_QUICK").is_some() { 2_000 } else { 10_000 }
}

fn simple_bodies(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "<Obj RefId=\"0\"><TN RefId=\"0\"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN>\
                 <MS><I64 N=\"Sequence\">{i}</I64><S N=\"Name\">svchost-{i:05}</S><S N=\"Status\">Running</S></MS></Obj>"
            )
        })
        .collect()
}

fn process_bodies(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "<Obj RefId=\"0\"><TN RefId=\"0\"><T>System.Diagnostics.Process</T><T>System.ComponentModel.Component</T>\
                 <T>System.MarshalByRefObject</T><T>System.Object</T></TN><ToString>System.Diagnostics.Process (svc{i})</ToString>\
                 <Props><I32 N=\"Id\">{}</I32><S N=\"ProcessName\">svc{i}</S></Props><MS><I32 N=\"Handles\">{}</I32>\
                 <I64 N=\"NPM\">14336</I64><I64 N=\"PM\">{}</I64><I64 N=\"WS\">{}</I64><Db N=\"CPU\">{}</Db>\
                 <I32 N=\"SI\">1</I32></MS></Obj>",
                1000 + i,
                200 + i % 900,
                2_940_928 + i * 4096,
                12_537_856 + i * 8192,
                i as f64 * 0.015625,
            )
        })
        .collect()
}

fn parse(bodies: &[String]) -> Vec<PsValue> {
    bodies.iter().map(|b| from_clixml(b.as_bytes()).expect("valid CLIXML")).collect()
}

/// Formats every object, clearing the text as a printer would after writing it out, so memory stays flat.
fn format_all(objects: &[PsValue], shape: Shape, out: &mut String) -> usize {
    let mut formatter = Formatter::new(FormatOptions { width: 120, shape });
    let mut written = 0;
    for object in objects {
        formatter.write(object, out);
        written += out.len();
        out.clear();
    }
    formatter.finish(out);
    written + out.len()
}

fn bench_format(c: &mut Criterion) {
    let n = count();
    let simple = parse(&simple_bodies(n));
    let processes = parse(&process_bodies(n));
    let bodies = simple_bodies(n);
    let mut group = c.benchmark_group("format");
    group.throughput(Throughput::Elements(n as u64));
    group.measurement_time(Duration::from_secs(5));
    let mut out = String::with_capacity(4096);
    group.bench_function("table/simple-rows", |b| b.iter(|| black_box(format_all(&simple, Shape::Auto, &mut out))));
    group.bench_function("table/process-view", |b| b.iter(|| black_box(format_all(&processes, Shape::Auto, &mut out))));
    group.bench_function("list/simple-rows", |b| b.iter(|| black_box(format_all(&simple, Shape::List, &mut out))));
    group.bench_function("json-lines/simple-rows", |b| {
        b.iter(|| {
            let mut written = 0;
            for object in &simple {
                write_json_line(object, &mut out);
                written += out.len();
                out.clear();
            }
            black_box(written)
        })
    });
    group.bench_function("deserialize+table", |b| {
        b.iter(|| {
            let mut de = Deserializer::default();
            let mut formatter = Formatter::new(FormatOptions::default());
            let mut written = 0;
            for body in &bodies {
                let object = de.deserialize(body.as_bytes()).expect("valid CLIXML");
                formatter.write(&object, &mut out);
                written += out.len();
                out.clear();
            }
            formatter.finish(&mut out);
            black_box(written + out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench_format);
criterion_main!(benches);
