//! The benchmark inputs are the anchor scripts' inputs, byte for byte.

use std::process::Command;

use pssession_benches::fragment_workloads;
use pssession_testkit::{fixtures_dir, python};

#[test]
fn fragment_workloads_equal_common_make_workloads() {
    let bench_dir = fixtures_dir().join("../bench");
    let out = tempfile_path("pssession-workloads");
    let script = format!(
        "import sys; sys.path.insert(0, {dir:?})\nimport common\nwith open({out:?}, 'wb') as fh:\n    for name, msgs in common.make_workloads(False):\n        fh.write(name.encode() + b'\\n' + len(msgs).to_bytes(8, 'big') + b''.join(msgs))\n",
        dir = bench_dir.display().to_string(),
        out = out.display().to_string(),
    );
    let status = Command::new(python()).arg("-c").arg(script).status().expect("python runs");
    assert!(status.success());
    let theirs = std::fs::read(&out).expect("workloads written");
    std::fs::remove_file(&out).ok();
    let mut ours = Vec::new();
    for (name, messages) in fragment_workloads(false) {
        ours.extend_from_slice(name.as_bytes());
        ours.push(b'\n');
        ours.extend_from_slice(&(messages.len() as u64).to_be_bytes());
        for m in messages {
            ours.extend_from_slice(&m);
        }
    }
    assert_eq!(ours.len(), theirs.len());
    assert!(ours == theirs, "benchmark inputs differ from ../shared/bench/common.py");
}

fn tempfile_path(stem: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("{stem}-{}.bin", std::process::id()))
}
