//! Interleaved timing of reassembling the 16 MiB message and copying it, to compare them under the same machine
//! conditions (criterion measures them one after the other).

use std::hint::black_box;
use std::time::Instant;

use pssession_benches::{PID, fragment_workloads};
use pssession_psrp::{Defragmenter, Fragmenter};

fn main() {
    let (_, messages) = fragment_workloads(false).into_iter().nth(1).expect("16 MiB workload");
    let message = messages[0].clone();
    let mut fragmenter = Fragmenter::new(32 << 10).expect("valid size");
    fragmenter.enqueue_encoded(PID, message.clone());
    let payloads: Vec<_> = fragmenter.drain_payloads(32 << 10).into_iter().map(|p| p.data).collect();
    let source = message.to_vec();
    let (mut defrag, mut copy) = (Vec::new(), Vec::new());
    for _ in 0..60 {
        let start = Instant::now();
        let mut defragmenter = Defragmenter::new();
        for p in &payloads {
            defragmenter.push(p.clone());
            while let Some(object) = defragmenter.next_object().expect("valid") {
                black_box(object);
            }
        }
        defrag.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        black_box(black_box(&source[..]).to_vec());
        copy.push(start.elapsed().as_secs_f64());
    }
    defrag.sort_by(f64::total_cmp);
    copy.sort_by(f64::total_cmp);
    let gbps = |s: f64| source.len() as f64 / s / 1e9;
    println!(
        "median: reassembly {:.2} GB/s, memcpy into new allocation {:.2} GB/s, ratio {:.2}",
        gbps(defrag[30]),
        gbps(copy[30]),
        copy[30] / defrag[30]
    );
}
