//! Receive parsing throughput on the two envelopes of `../shared/bench/bench_wsman.py` (808 small streams; 11
//! streams of 32 KiB), measured in envelope bytes per second like the Python anchor.
//!
//! The envelopes are read from `$PERF_DATA_DIR` (default `$TMPDIR/anchor-bench/data`, `/tmp/anchor-bench/data`).
//! Create them with `/work/main/.venv/bin/python ../shared/bench/bench_wsman.py --quick`.

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pssession_wsman::receive::{ReceiveLimits, parse_receive_response};

fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PERF_DATA_DIR") {
        return PathBuf::from(dir);
    }
    let tmp = std::env::var_os("TMPDIR").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    tmp.join("anchor-bench").join("data")
}

fn load(name: &str) -> Vec<u8> {
    let path = data_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}\ncreate the benchmark envelopes first with:\n  \
             .venv/bin/python ../shared/bench/bench_wsman.py --quick   (honours PERF_DATA_DIR)",
            path.display()
        )
    })
}

fn receive(c: &mut Criterion) {
    let limits = ReceiveLimits::default();
    let mut group = c.benchmark_group("wsman_receive");
    for (label, file, streams) in
        [("small_streams", "receive_small_streams.xml", 808), ("32k_streams", "receive_32k_streams.xml", 11)]
    {
        let envelope = load(file);
        let parsed = parse_receive_response(&envelope, &limits).expect("benchmark envelope parses");
        assert_eq!(parsed.streams.len(), streams, "{file} is not the bench_wsman.py envelope");
        group.throughput(Throughput::Bytes(envelope.len() as u64));
        group.bench_function(label, |b| b.iter(|| parse_receive_response(std::hint::black_box(&envelope), &limits)));
    }
    group.finish();
}

criterion_group!(benches, receive);
criterion_main!(benches);
