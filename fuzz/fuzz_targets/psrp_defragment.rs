//! The streaming defragmenter fed arbitrary bytes in arbitrary chunks, with tight limits: it must return objects
//! or typed errors, never panic, and never hold more than its limits allow.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pssession_psrp::{Defragmenter, DefragmenterLimits, Message};

fuzz_target!(|data: &[u8]| {
    let Some((&control, stream)) = data.split_first() else { return };
    let limits = DefragmenterLimits::with_max_object_size(1 << 16).max_pending_objects(8);
    let mut defragmenter = Defragmenter::with_limits(limits);
    if control & 0x80 != 0 {
        defragmenter.resynchronise();
    }
    // The low bits choose the chunk size, so splits land everywhere.
    let chunk = usize::from(control & 0x3f) + 1;
    let stream = Bytes::copy_from_slice(stream);
    for start in (0..stream.len()).step_by(chunk) {
        let piece = stream.slice(start..(start + chunk).min(stream.len()));
        match defragmenter.feed(piece) {
            Ok(objects) => {
                for object in objects {
                    assert!(object.data.len() <= limits.max_object_size);
                    let _ = Message::decode(object.data);
                }
            }
            Err(_) => return,
        }
        assert!(defragmenter.pending_objects() <= limits.max_pending_objects);
    }
    let _ = defragmenter.finish();
});
