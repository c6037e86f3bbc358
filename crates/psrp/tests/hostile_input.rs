//! Hostile input against the PSRP framing and the CLIXML deserializer: every attack ends in its typed error, and
//! the heap stays within a bound derived from the documented limit (`DefragmenterLimits`, `DeserializeLimits`),
//! never proportional to a length the peer declared or to the size an attack would expand to.
//!
//! Peak heap is measured with `dhat` in testing mode (the workspace forbids `unsafe`, so the test cannot write
//! its own counting allocator). Inputs are built before measuring starts; the measured peak is what the parser
//! allocates on top of them. The tests of this file run one at a time, as the allocator's counters are global
//! (each holds `serial()` from its first line, while it builds its input too).

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use pssession_psrp::clixml::{ClixmlError, DeserializeLimits, Deserializer, PsValue, from_clixml};
use pssession_psrp::{DefragmentError, Defragmenter, DefragmenterLimits, FragmentHeader};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

static SERIAL: Mutex<()> = Mutex::new(());

/// What running a closure cost: its result, the heap's peak above what was live before, and the time.
struct Measured<T> {
    value: T,
    peak_bytes: usize,
    elapsed: Duration,
}

/// Held for a whole test, input building included: the counters see every thread's allocations.
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

fn measure<T>(f: impl FnOnce() -> T) -> Measured<T> {
    let profiler = dhat::Profiler::builder().testing().build();
    let started = Instant::now();
    let value = f();
    let elapsed = started.elapsed();
    let peak_bytes = dhat::HeapStats::get().max_bytes;
    drop(profiler);
    eprintln!("peak heap {peak_bytes} bytes in {elapsed:?}");
    Measured { value, peak_bytes, elapsed }
}

/// "Promptly", generously: an unoptimised build with every allocation recorded by the profiler. (The RefId
/// tests do real work up to their limit, a hundred thousand objects, so only their memory is asserted.)
const PROMPT: Duration = Duration::from_secs(10);

const FOUR_GIB_MINUS_ONE: u32 = u32::MAX;

fn header(object_id: u64, fragment_id: u64, start: bool, end: bool, blob_len: u32) -> Bytes {
    Bytes::copy_from_slice(&FragmentHeader { object_id, fragment_id, start, end, blob_len }.to_bytes())
}

#[test]
fn a_fragment_declaring_a_4_gib_blob_is_refused_from_its_header() {
    let _serial = serial();
    let mut defragmenter = Defragmenter::new();
    let run = measure(|| {
        defragmenter.push(header(1, 0, true, false, FOUR_GIB_MINUS_ONE));
        defragmenter.push(Bytes::from_static(&[0x41; 4096]));
        defragmenter.next_object()
    });
    assert_eq!(
        run.value,
        Err(DefragmentError::ObjectTooLarge {
            object_id: 1,
            size: u64::from(FOUR_GIB_MINUS_ONE),
            limit: DefragmenterLimits::DEFAULT_MAX_OBJECT_SIZE
        })
    );
    // The header alone decided: nothing of the declared size was reserved.
    assert!(run.peak_bytes < 16 << 10, "peak {} bytes", run.peak_bytes);
    assert!(run.elapsed < PROMPT);
}

#[test]
fn a_declared_4_gib_object_within_raised_limits_holds_only_the_bytes_that_arrived() {
    let _serial = serial();
    // A receiver that accepts objects up to 4 GiB: the declared length still reserves nothing; memory follows the
    // bytes received (1 MiB here, in 64 KiB chunks), and the stream then ends as truncated.
    let limits = DefragmenterLimits::with_max_object_size(u32::MAX as usize);
    let mut defragmenter = Defragmenter::with_limits(limits);
    let chunk = Bytes::from(vec![0x41; 64 << 10]);
    let received = 16 * chunk.len();
    let run = measure(|| {
        defragmenter.push(header(7, 0, true, false, FOUR_GIB_MINUS_ONE));
        for _ in 0..16 {
            defragmenter.push(chunk.clone());
            assert_eq!(defragmenter.next_object(), Ok(None));
        }
        (defragmenter.retained_bytes(), defragmenter.finish())
    });
    let (retained, finished) = run.value;
    assert_eq!(retained, received);
    assert_eq!(finished, Err(DefragmentError::Truncated { buffered: 0, incomplete_objects: 1 }));
    // One copy of what arrived plus bookkeeping; a reservation of the declared 4 GiB would be 4096 times more.
    assert!(run.peak_bytes < received + (64 << 10), "peak {} bytes for {received} received", run.peak_bytes);
}

#[test]
fn many_partial_objects_stop_at_the_pending_byte_budget() {
    let _serial = serial();
    // 10 000 objects of 4 GiB each, all left open: the pending-object count and byte budget refuse them long
    // before the heap grows.
    let limits = DefragmenterLimits::with_max_object_size(u32::MAX as usize).max_pending_bytes(1 << 20);
    let mut defragmenter = Defragmenter::with_limits(limits);
    let run = measure(|| {
        for object_id in 1..=10_000 {
            defragmenter.push(header(object_id, 0, true, false, FOUR_GIB_MINUS_ONE));
            if let Err(e) = defragmenter.next_object() {
                return (object_id, e);
            }
        }
        (0, DefragmentError::Truncated { buffered: 0, incomplete_objects: 0 })
    });
    assert_eq!(run.value, (1, DefragmentError::PendingBytesExceeded { limit: 1 << 20 }));
    assert!(run.peak_bytes < 16 << 10, "peak {} bytes", run.peak_bytes);
}

#[test]
fn a_ba_blob_over_the_string_limit_is_refused_without_decoding() {
    let _serial = serial();
    const LIMIT: usize = 1 << 20;
    let mut xml = b"<BA>".to_vec();
    xml.resize(xml.len() + 8 * LIMIT, b'Q');
    xml.extend_from_slice(b"</BA>");
    let mut de = Deserializer::new(DeserializeLimits { max_string_len: LIMIT, ..DeserializeLimits::default() });
    let run = measure(|| de.deserialize(&xml));
    assert_eq!(run.value, Err(ClixmlError::StringTooLong { limit: LIMIT }));
    // The text is borrowed from the input: neither the 8 MiB of base64 nor its 6 MiB decoding were allocated.
    assert!(run.peak_bytes < 16 << 10, "peak {} bytes", run.peak_bytes);
    assert!(run.elapsed < PROMPT);
}

#[test]
fn a_ba_blob_within_the_limit_costs_at_most_twice_its_text() {
    let _serial = serial();
    const TEXT: usize = 1 << 20;
    let mut xml = b"<BA>".to_vec();
    xml.resize(xml.len() + TEXT, b'Q');
    xml.extend_from_slice(b"</BA>");
    let run = measure(|| from_clixml(&xml));
    let Ok(PsValue::Bytes(bytes)) = &run.value else { panic!("not bytes: {:?}", run.value.as_ref().map(|_| ())) };
    assert_eq!(bytes.len(), TEXT / 4 * 3);
    // The whitespace-free copy of the text plus the decoded bytes: 1.75 times the text, never more than twice.
    assert!(run.peak_bytes <= 2 * TEXT, "peak {} bytes for {TEXT} bytes of base64", run.peak_bytes);
}

/// `<Obj><LST>` repeated: each level opens an object holding a list.
fn nesting(levels: usize) -> Vec<u8> {
    b"<Obj RefId=\"0\"><LST>".iter().copied().chain(b"<Obj><LST>".repeat(levels)).collect()
}

#[test]
fn a_million_levels_of_nesting_stop_at_the_depth_limit() {
    let _serial = serial();
    // The deserializer takes a slice, so the deepest input is as deep as memory allows; a million levels (10 MB)
    // suffices to show the depth limit stops reading after the first hundred levels: the time and the heap do not
    // depend on the rest.
    let deep = nesting(1_000_000);
    let shallow = nesting(200);
    let limit = DeserializeLimits::default().max_depth;
    let run = measure(|| from_clixml(&deep));
    assert_eq!(run.value, Err(ClixmlError::TooDeep { limit }));
    let reference = measure(|| from_clixml(&shallow));
    assert_eq!(reference.value, Err(ClixmlError::TooDeep { limit }));
    // One open object per level up to the limit, a few hundred bytes each.
    assert!(run.peak_bytes < limit * 1024, "peak {} bytes", run.peak_bytes);
    // The levels past the limit cost nothing (the slack is for the test harness's own threads, which the global
    // counters also see).
    assert!(run.peak_bytes <= reference.peak_bytes + 4096, "{} vs {} bytes", run.peak_bytes, reference.peak_bytes);
    assert!(run.elapsed < PROMPT);
}

/// A list of a million elements that each define a RefId is refused at the RefId limit. Every defined RefId stays
/// referable until the document ends, so memory grows with the RefIds up to the limit: a bound of 512 bytes per
/// RefId (measured: about 290), never the million.
fn assert_a_million_ref_ids_stop_at_the_limit(element: impl Fn(u32) -> String) {
    let _serial = serial();
    let mut xml = b"<Obj RefId=\"0\"><LST>".to_vec();
    for id in 0..1_000_000u32 {
        xml.extend_from_slice(element(id).as_bytes());
    }
    xml.extend_from_slice(b"</LST></Obj>");
    let limit = DeserializeLimits::default().max_ref_ids;
    let run = measure(|| from_clixml(&xml));
    assert_eq!(run.value, Err(ClixmlError::TooManyRefIds { limit }));
    assert!(run.peak_bytes < limit * 512, "peak {} bytes for {limit} RefIds", run.peak_bytes);
}

#[test]
fn a_million_ref_id_definitions_stop_at_the_ref_id_limit() {
    assert_a_million_ref_ids_stop_at_the_limit(|id| format!("<Obj RefId=\"{}\"/>", id + 1));
}

#[test]
fn a_million_type_name_ref_ids_stop_at_the_ref_id_limit() {
    assert_a_million_ref_ids_stop_at_the_limit(|id| format!("<Obj><TN RefId=\"{id}\"><T>T{id}</T></TN></Obj>"));
}

#[test]
fn references_share_objects_instead_of_expanding_them() {
    let _serial = serial();
    // "Billion laughs" with RefIds: object k holds ten references to object k-1, so the expanded tree of object 9
    // has 10^9 leaves. References are shared, so the heap grows with the input, not with the expansion.
    let mut xml = b"<Obj RefId=\"0\"><LST><Obj RefId=\"1\"><MS><S N=\"laugh\">lol</S></MS></Obj>".to_vec();
    for id in 2..=10 {
        xml.extend_from_slice(format!("<Obj RefId=\"{id}\"><LST>").as_bytes());
        for _ in 0..10 {
            xml.extend_from_slice(format!("<Ref RefId=\"{}\"/>", id - 1).as_bytes());
        }
        xml.extend_from_slice(b"</LST></Obj>");
    }
    xml.extend_from_slice(b"</LST></Obj>");
    let run = measure(|| from_clixml(&xml));
    assert!(run.value.is_ok(), "{:?}", run.value.as_ref().err());
    assert!(run.peak_bytes < 64 << 10, "peak {} bytes for a {}-byte document", run.peak_bytes, xml.len());
}
