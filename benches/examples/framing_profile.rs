//! One pass of fragment + defragment over the 100,000 × 200-byte workload, for instruction-count profiling
//! (`valgrind --tool=callgrind`), which is repeatable where wall-clock timing on a shared machine is not.

use std::hint::black_box;

use pssession_benches::{PID, fragment_workloads};
use pssession_psrp::{Defragmenter, Fragmenter};

fn main() {
    let workload = std::env::args().nth(1).unwrap_or_else(|| "200B".to_owned());
    let (_, messages) =
        fragment_workloads(false).into_iter().find(|(name, _)| name.starts_with(&workload)).expect("known workload");
    // Promote the buffers to shared ones, as a benchmark iteration after the first sees them.
    let promoted: Vec<_> = messages.clone();
    if std::env::args().nth(2).as_deref() == Some("inputs-only") {
        return;
    }
    let mut fragmenter = Fragmenter::new(32 << 10).expect("valid size");
    for m in &messages {
        fragmenter.enqueue_encoded(PID, m.clone());
    }
    let payloads = fragmenter.drain_payloads(32 << 10);
    let mut defragmenter = Defragmenter::new();
    let mut count = 0;
    for p in payloads {
        defragmenter.push(p.data);
        while let Some(object) = defragmenter.next_object().expect("valid") {
            count += black_box(object.data.len()) / object.data.len().max(1);
        }
    }
    assert_eq!(count, messages.len());
    drop(promoted);
}
