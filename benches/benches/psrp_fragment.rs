//! PSRP fragmenting and defragmenting on the inputs of `../shared/bench/bench_fragment.py`, plus the memcpy
//! bandwidth of this machine, measured in the same group, as the yardstick for reassembling large messages.
//!
//! Throughput is total PSRP message bytes (40-byte headers included) or messages, as in the anchor script.
//! Set `PSSESSION_BENCH_QUICK=1` for the smaller workloads of the script's `--quick`.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pssession_benches::{PID, batch, fragment_workloads};
use pssession_psrp::{Defragmenter, Fragmenter};

/// Fragment sizes compared: PowerShell's server fragment (32 KiB) and a 150 KiB envelope's worth.
const FRAGMENT_SIZES: [usize; 2] = [32 << 10, 153_600];
/// One 500 KiB ReceiveResponse carries about this many payload bytes (bench_fragment.py's per-envelope feed).
const ENVELOPE_BATCH: usize = 375_000;

fn quick() -> bool {
    std::env::var_os("PSSESSION_BENCH_QUICK").is_some()
}

fn fragment_all(messages: &[Bytes], fragment_size: usize) -> Vec<Bytes> {
    let mut fragmenter = Fragmenter::new(fragment_size).expect("valid fragment size");
    for m in messages {
        fragmenter.enqueue_encoded(PID, m.clone());
    }
    fragmenter.drain_payloads(fragment_size).into_iter().map(|p| p.data).collect()
}

fn defragment_all(chunks: &[Bytes]) -> (usize, usize) {
    let mut defragmenter = Defragmenter::new();
    let (mut count, mut bytes) = (0, 0);
    for chunk in chunks {
        defragmenter.push(chunk.clone());
        while let Some(object) = defragmenter.next_object().expect("valid stream") {
            count += 1;
            bytes += object.data.len();
        }
    }
    (count, bytes)
}

fn benches(c: &mut Criterion) {
    for (name, messages) in fragment_workloads(quick()) {
        let total: usize = messages.iter().map(Bytes::len).sum();

        let mut group = c.benchmark_group(format!("fragment/{name}"));
        group.throughput(Throughput::Bytes(total as u64));
        for fs in FRAGMENT_SIZES {
            group.bench_with_input(BenchmarkId::from_parameter(fs), &fs, |b, &fs| {
                b.iter(|| black_box(fragment_all(&messages, fs)))
            });
        }
        group.finish();

        let mut group = c.benchmark_group(format!("defragment/{name}"));
        group.throughput(Throughput::Bytes(total as u64));
        for fs in FRAGMENT_SIZES {
            let payloads = fragment_all(&messages, fs);
            assert_eq!(defragment_all(&payloads), (messages.len(), total));
            group.bench_with_input(BenchmarkId::new("per-payload", fs), &payloads, |b, p| {
                b.iter(|| black_box(defragment_all(p)))
            });
            if fs == 32 << 10 {
                let envelopes = batch(&payloads, ENVELOPE_BATCH);
                group.bench_with_input(BenchmarkId::new("per-envelope", fs), &envelopes, |b, e| {
                    b.iter(|| black_box(defragment_all(e)))
                });
            }
        }
        if messages.len() == 1 {
            // The yardstick, measured beside the reassembly it judges: copying the message into fresh memory, as
            // reassembly must, and into a reused buffer.
            let source = messages[0].to_vec();
            group.bench_function("memcpy-into-new-allocation", |b| {
                b.iter(|| black_box(black_box(&source[..]).to_vec()))
            });
            let mut target = vec![0u8; source.len()];
            group.bench_function("memcpy-into-reused-buffer", |b| {
                b.iter(|| {
                    target.copy_from_slice(black_box(&source));
                    black_box(&target);
                })
            });
        }
        group.finish();

        if messages.len() > 1 {
            let mut group = c.benchmark_group(format!("fragment+defragment/{name}"));
            group.throughput(Throughput::Elements(messages.len() as u64));
            group.bench_function("32768", |b| b.iter(|| black_box(defragment_all(&fragment_all(&messages, 32 << 10)))));
            group.finish();
        }
    }
}

fn config() -> Criterion {
    Criterion::default().sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3))
}

criterion_group! { name = psrp; config = config(); targets = benches }
criterion_main!(psrp);
