//! CLIXML deserialization of arbitrary bytes, as one message body and as an `<Objs>` stream: typed errors, never
//! a panic, and bounded work; whatever deserializes re-serializes to a document that deserializes to an equal
//! value, whose serialization is then stable. The input is also cut in two, and the second part must read the same
//! through a deserializer that read the first part (and kept its shapes) as through a fresh one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pssession_psrp::clixml::{DeserializeLimits, Deserializer, Serializer, to_clixml, write_stream_value};

/// Tighter than the defaults so that one input cannot spend seconds; the re-read uses the defaults, which are
/// looser, so a value within these limits must always read back.
const LIMITS: DeserializeLimits =
    DeserializeLimits { max_depth: 48, max_ref_ids: 4096, max_string_len: 1 << 20, max_objects: 20_000 };

fuzz_target!(|data: &[u8]| {
    if let Some((&cut, rest)) = data.split_first() {
        let (first, second) = rest.split_at(usize::from(cut).min(rest.len()));
        let mut warmed = Deserializer::new(LIMITS);
        let _ = warmed.deserialize(first);
        let _ = warmed.objs(first).count();
        assert_eq!(
            warmed.deserialize(second),
            Deserializer::new(LIMITS).deserialize(second),
            "a reused deserializer reads differently"
        );
        let warmed_stream: Vec<_> = warmed.objs(second).collect();
        let fresh_stream: Vec<_> = Deserializer::new(LIMITS).objs(second).collect();
        assert_eq!(warmed_stream, fresh_stream, "a reused deserializer reads a stream differently");
    }

    let mut de = Deserializer::new(LIMITS);
    if let Ok(value) = de.deserialize(data) {
        let xml = to_clixml(&value);
        let back = Deserializer::default()
            .deserialize(xml.as_bytes())
            .unwrap_or_else(|e| panic!("our own output does not deserialize: {e}\n{xml}"));
        assert_eq!(back, value, "round trip changed the value\n{xml}");
        assert_eq!(to_clixml(&back), xml, "serialization is not stable");
    }

    // The same bytes as an <Objs> stream, reusing the deserializer (its caches must not leak between documents).
    let mut values = Vec::new();
    let mut complete = true;
    for item in de.objs(data) {
        match item {
            Ok(value) => values.push(value),
            Err(_) => {
                complete = false;
                break;
            }
        }
    }
    if complete {
        let mut serializer = Serializer::default();
        serializer.raw("<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">");
        for value in &values {
            write_stream_value(&mut serializer, value.stream.as_deref(), &value.value);
        }
        serializer.raw("</Objs>");
        let xml = serializer.finish();
        let back: Vec<_> = Deserializer::default()
            .objs(xml.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("our own <Objs> output does not deserialize: {e}\n{xml}"));
        assert_eq!(back, values, "<Objs> round trip changed the values\n{xml}");
    }
});
