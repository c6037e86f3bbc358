//! Inputs shared by the benchmarks, generated exactly like the Python anchor scripts in `../shared/bench/` so
//! that both sides measure the same bytes (a test checks this byte for byte).
#![forbid(unsafe_code)]

use bytes::{BufMut, Bytes, BytesMut};
use uuid::Uuid;

/// `common.RPID` of the anchor scripts.
pub const RPID: Uuid = Uuid::from_u128(0x9e1c4b8a_5d2e_4f0a_8c3b_1a2b3c4d5e6f);
/// `common.PID` of the anchor scripts.
pub const PID: Uuid = Uuid::from_u128(0x0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0);
/// The UTF-8 BOM PowerShell writes before CLIXML.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";
const MIB: usize = 1 << 20;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 _-.,;:";

/// `common.clixml_blob(size, seed)`: CLIXML-like text of exactly `size` bytes.
pub fn clixml_blob(size: usize, seed: usize) -> Vec<u8> {
    let head: &[u8] = b"<Obj RefId=\"0\"><TN RefId=\"0\"><T>System.String</T><T>System.Object</T></TN><ToString>";
    let tail: &[u8] = b"</ToString></Obj>";
    let body_len = size.saturating_sub(head.len() + tail.len());
    let chunk_seed = seed % ALPHABET.len();
    let body: Vec<u8> = (0..body_len).map(|i| ALPHABET[((i % 4096) * 7 + chunk_seed) % ALPHABET.len()]).collect();
    if size >= head.len() + tail.len() { [head, &body, tail].concat() } else { body[..size.min(body.len())].to_vec() }
}

/// `common.psrp_message(data)`: a PIPELINE_INPUT message to the server with the anchors' RPID and PID.
pub fn psrp_message(data: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(40 + data.len());
    out.put_u32_le(2);
    out.put_u32_le(0x0004_1002);
    out.put_slice(&RPID.to_bytes_le());
    out.put_slice(&PID.to_bytes_le());
    out.put_slice(data);
    out.freeze()
}

/// `common.make_workloads(quick)`: one 1 MiB message, one 16 MiB (4 MiB when quick) message, and 100,000 (10,000)
/// messages of 200 bytes. Each entry is a name and full PSRP messages.
pub fn fragment_workloads(quick: bool) -> Vec<(String, Vec<Bytes>)> {
    let with_bom = |size: usize, seed: usize| psrp_message(&[BOM, &clixml_blob(size, seed)].concat());
    let big = if quick { 4 } else { 16 };
    let small_count = if quick { 10_000 } else { 100_000 };
    vec![
        ("1MiB x1".to_owned(), vec![with_bom(MIB - 43, 0)]),
        (format!("{big}MiB x1"), vec![with_bom(big * MIB - 43, 3)]),
        (format!("200B x{}k", small_count / 1000), (0..small_count).map(|i| with_bom(157, i % 50)).collect()),
    ]
}

/// `bench_fragment.batch`: joins payloads into batches of at most `limit` bytes, as one ReceiveResponse carries
/// several streams.
pub fn batch(chunks: &[Bytes], limit: usize) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut current = BytesMut::new();
    for chunk in chunks {
        if !current.is_empty() && current.len() + chunk.len() > limit {
            out.push(current.split().freeze());
        }
        current.extend_from_slice(chunk);
    }
    if !current.is_empty() {
        out.push(current.freeze());
    }
    out
}
