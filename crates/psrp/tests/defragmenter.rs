//! Behaviour of the streaming defragmenter at its public boundary: chunking, interleaving, resynchronisation,
//! every framing violation and every limit.

use bytes::{Bytes, BytesMut};
use pssession_psrp::{DefragmentError, Defragmenter, DefragmenterLimits, Fragment, FragmentError};

fn fragment(object_id: u64, fragment_id: u64, start: bool, end: bool, blob: &[u8]) -> Bytes {
    let mut out = BytesMut::new();
    Fragment { object_id, fragment_id, start, end, blob: Bytes::copy_from_slice(blob) }.encode_into(&mut out).unwrap();
    out.freeze()
}

fn join(parts: &[Bytes]) -> Bytes {
    parts.iter().flat_map(|p| p.iter().copied()).collect::<Vec<_>>().into()
}

fn drain(defragmenter: &mut Defragmenter) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(object) = defragmenter.next_object().unwrap() {
        out.push((object.object_id, object.data.to_vec()));
    }
    out
}

#[test]
fn single_fragment_object_is_a_zero_copy_slice() {
    let wire = fragment(1, 0, true, true, b"hello");
    let mut defragmenter = Defragmenter::new();
    defragmenter.push(wire.clone());
    let object = defragmenter.next_object().unwrap().unwrap();
    assert_eq!(&object.data[..], b"hello");
    assert_eq!(object.data.as_ptr(), wire[21..].as_ptr());
    defragmenter.finish().unwrap();
}

#[test]
fn every_split_point_of_a_two_object_stream_reassembles() {
    let wire = join(&[
        fragment(1, 0, true, false, b"abc"),
        fragment(2, 0, true, true, b"solo"),
        fragment(1, 1, false, true, b"def"),
    ]);
    for split in 0..=wire.len() {
        let mut defragmenter = Defragmenter::new();
        defragmenter.push(wire.slice(..split));
        let mut got = drain(&mut defragmenter);
        defragmenter.push(wire.slice(split..));
        got.extend(drain(&mut defragmenter));
        assert_eq!(got, vec![(2, b"solo".to_vec()), (1, b"abcdef".to_vec())], "split at {split}");
        defragmenter.finish().unwrap();
    }
}

#[test]
fn byte_by_byte_feeding_reassembles() {
    let wire = join(&[fragment(5, 0, true, false, &[7; 100]), fragment(5, 1, false, true, &[8; 50])]);
    let mut defragmenter = Defragmenter::new();
    let mut got = Vec::new();
    for i in 0..wire.len() {
        got.extend(defragmenter.feed(wire.slice(i..i + 1)).unwrap());
    }
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data.len(), 150);
    assert_eq!(defragmenter.buffered_len(), 0);
}

#[test]
fn objects_out_of_object_id_order_are_accepted() {
    // After a Connect, Windows sent ObjectIds 5, 6, 7, then 4 and 8.
    let wire = join(&[5, 6, 7, 4, 8].map(|id| fragment(id, 0, true, true, b"x")));
    let mut defragmenter = Defragmenter::new();
    defragmenter.push(wire);
    let ids: Vec<_> = drain(&mut defragmenter).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, vec![5, 6, 7, 4, 8]);
}

#[test]
fn fragment_id_gap_is_an_error_and_the_error_is_sticky() {
    let wire = join(&[fragment(1, 0, true, false, b"a"), fragment(1, 2, false, true, b"b")]);
    let mut defragmenter = Defragmenter::new();
    defragmenter.push(wire);
    let expected = DefragmentError::FragmentIdGap { object_id: 1, expected: 1, actual: 2 };
    assert_eq!(defragmenter.next_object(), Err(expected.clone()));
    defragmenter.push(fragment(9, 0, true, true, b"later"));
    assert_eq!(defragmenter.next_object(), Err(expected));
    defragmenter.reset();
    defragmenter.push(fragment(9, 0, true, true, b"later"));
    assert_eq!(drain(&mut defragmenter), vec![(9, b"later".to_vec())]);
}

#[test]
fn continuation_without_start_is_an_error() {
    let mut defragmenter = Defragmenter::new();
    defragmenter.push(fragment(3, 1, false, true, b"tail"));
    assert_eq!(defragmenter.next_object(), Err(DefragmentError::UnknownObject { object_id: 3, fragment_id: 1 }));
}

#[test]
fn restarting_a_pending_object_is_an_error() {
    let mut defragmenter = Defragmenter::new();
    defragmenter.push(join(&[fragment(3, 0, true, false, b"a"), fragment(3, 0, true, false, b"a")]));
    assert_eq!(defragmenter.next_object(), Err(DefragmentError::DuplicateObjectId { object_id: 3 }));
}

#[test]
fn header_rule_violations_are_errors() {
    let mut defragmenter = Defragmenter::new();
    defragmenter.push(fragment(0, 0, true, true, b"a"));
    assert_eq!(defragmenter.next_object(), Err(DefragmentError::Fragment(FragmentError::ZeroObjectId)));

    let mut defragmenter = Defragmenter::new();
    defragmenter.push(fragment(1, 0, false, true, b"a"));
    assert_eq!(
        defragmenter.next_object(),
        Err(DefragmentError::Fragment(FragmentError::StartFlagMismatch { object_id: 1, fragment_id: 0 }))
    );
}

#[test]
fn resynchronise_discards_trailing_fragments_until_a_start() {
    let wire = join(&[
        fragment(4, 3, false, false, b"stale"),
        fragment(4, 4, false, true, b"stale"),
        fragment(8, 0, true, true, b"fresh"),
    ]);
    let mut defragmenter = Defragmenter::new();
    defragmenter.resynchronise();
    assert!(defragmenter.is_resynchronising());
    defragmenter.push(wire);
    assert_eq!(drain(&mut defragmenter), vec![(8, b"fresh".to_vec())]);
    assert!(!defragmenter.is_resynchronising());
    // Once synchronised, the strict rules apply again.
    defragmenter.push(fragment(4, 5, false, true, b"stale"));
    assert!(matches!(defragmenter.next_object(), Err(DefragmentError::UnknownObject { .. })));
}

#[test]
fn declared_4_gib_blob_is_refused_before_any_allocation() {
    let mut header = fragment(1, 0, true, true, b"").to_vec();
    header[17..21].copy_from_slice(&u32::MAX.to_be_bytes());
    let mut defragmenter = Defragmenter::with_limits(DefragmenterLimits::with_max_object_size(1 << 20));
    defragmenter.push(Bytes::from(header));
    assert_eq!(
        defragmenter.next_object(),
        Err(DefragmentError::ObjectTooLarge { object_id: 1, size: u64::from(u32::MAX), limit: 1 << 20 })
    );
}

#[test]
fn object_growing_past_the_limit_is_refused() {
    let limits = DefragmenterLimits::with_max_object_size(10);
    let mut defragmenter = Defragmenter::with_limits(limits);
    defragmenter.push(join(&[fragment(1, 0, true, false, &[0; 6]), fragment(1, 1, false, true, &[0; 6])]));
    assert_eq!(defragmenter.next_object(), Err(DefragmentError::ObjectTooLarge { object_id: 1, size: 12, limit: 10 }));
}

#[test]
fn pending_object_count_and_bytes_are_bounded() {
    let limits = DefragmenterLimits::with_max_object_size(100).max_pending_objects(2);
    let mut defragmenter = Defragmenter::with_limits(limits);
    defragmenter.push(join(&(1..=3).map(|id| fragment(id, 0, true, false, b"x")).collect::<Vec<_>>()));
    assert_eq!(defragmenter.next_object(), Err(DefragmentError::TooManyPendingObjects { limit: 2 }));

    let limits = DefragmenterLimits::with_max_object_size(100).max_pending_bytes(150);
    let mut defragmenter = Defragmenter::with_limits(limits);
    defragmenter.push(join(&(1..=2).map(|id| fragment(id, 0, true, false, &[0; 80])).collect::<Vec<_>>()));
    assert_eq!(defragmenter.next_object(), Err(DefragmentError::PendingBytesExceeded { limit: 150 }));
}

#[test]
fn completed_objects_release_their_pending_budget() {
    let limits = DefragmenterLimits::with_max_object_size(100).max_pending_bytes(100);
    let mut defragmenter = Defragmenter::with_limits(limits);
    for id in 1..=50 {
        defragmenter.push(join(&[fragment(id, 0, true, false, &[1; 60]), fragment(id, 1, false, true, &[2; 40])]));
        assert_eq!(drain(&mut defragmenter).len(), 1);
    }
    assert_eq!(defragmenter.pending_objects(), 0);
}

#[test]
fn finish_reports_truncation() {
    let wire = fragment(1, 0, true, true, b"abcdef");
    let mut defragmenter = Defragmenter::new();
    defragmenter.push(wire.slice(..10));
    assert!(drain(&mut defragmenter).is_empty());
    assert_eq!(defragmenter.finish(), Err(DefragmentError::Truncated { buffered: 10, incomplete_objects: 0 }));

    let mut defragmenter = Defragmenter::new();
    defragmenter.push(wire.slice(..24));
    assert!(drain(&mut defragmenter).is_empty());
    assert_eq!(defragmenter.finish(), Err(DefragmentError::Truncated { buffered: 0, incomplete_objects: 0 }));

    let mut defragmenter = Defragmenter::new();
    defragmenter.push(fragment(1, 0, true, false, b"abc"));
    assert!(drain(&mut defragmenter).is_empty());
    assert_eq!(defragmenter.finish(), Err(DefragmentError::Truncated { buffered: 0, incomplete_objects: 1 }));
}

#[test]
fn tiny_pieces_of_large_chunks_do_not_pin_the_chunks() {
    // Each 64 KiB chunk carries one byte of a pending object and a large complete object. Without compaction the
    // pending object would keep every chunk alive; its accounting must stay near its own size.
    let mut defragmenter = Defragmenter::new();
    defragmenter.push(fragment(1, 0, true, false, b"s"));
    for i in 1..200u64 {
        let chunk = join(&[fragment(1, i, false, false, b"p"), fragment(1000 + i, 0, true, true, &vec![0; 64 << 10])]);
        defragmenter.push(chunk);
        assert_eq!(drain(&mut defragmenter).len(), 1);
        assert!(defragmenter.retained_bytes() <= 2 * (i as usize + 1) + (64 << 10) + (64 << 10) + 100);
    }
    defragmenter.push(fragment(1, 200, false, true, b"e"));
    let objects = drain(&mut defragmenter);
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0].1.len(), 201);
}
