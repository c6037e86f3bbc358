//! The deserializer's shape cache (objects of a stream read by matching the markup of one read before) must be
//! invisible: a reused [`Deserializer`] gives exactly what a fresh one gives — the same values, and for input that
//! only looks like a known shape, the same error. Each test compares the two on streams of flat objects built to
//! hit the cache, to just miss it, or to exceed a limit part way through.

use std::sync::Arc;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use pssession_psrp::clixml::{
    ClixmlError, DeserializeLimits, Deserializer, PsDateTime, PsObject, PsProperty, PsValue, to_clixml, to_objs,
};

/// What a deserializer that never saw anything before makes of each body.
fn fresh(bodies: &[String], limits: DeserializeLimits) -> Vec<Result<PsValue, ClixmlError>> {
    bodies.iter().map(|b| Deserializer::new(limits).deserialize(b.as_bytes())).collect()
}

/// What one reused deserializer makes of the bodies in turn.
fn reused(bodies: &[String], limits: DeserializeLimits) -> Vec<Result<PsValue, ClixmlError>> {
    let mut de = Deserializer::new(limits);
    bodies.iter().map(|b| de.deserialize(b.as_bytes())).collect()
}

fn assert_same(bodies: &[String]) {
    let limits = DeserializeLimits::default();
    let (fresh, reused) = (fresh(bodies, limits), reused(bodies, limits));
    for (i, (f, r)) in fresh.iter().zip(&reused).enumerate() {
        assert_eq!(f, r, "body {i} reads differently through a reused deserializer:\n{}", bodies[i]);
    }
}

fn process(i: i64, name: &str, path: &str) -> PsValue {
    let mut object = PsObject::custom([
        ("Name", PsValue::String(name.to_owned())),
        ("Id", PsValue::I32(1000 + i as i32)),
        ("Path", PsValue::String(path.to_owned())),
        ("WorkingSet", PsValue::I64(123_456_789 + i * 4096)),
        ("StartTime", PsValue::DateTime(PsDateTime::from_unix(1_714_566_645 + i * 61, 0).expect("in range"))),
        ("Parent", PsValue::Null),
    ]);
    object.to_string = Some(format!("{name} ({i})"));
    PsValue::Object(Arc::new(object))
}

#[test]
fn a_stream_of_one_shape_reads_the_same_as_fresh() {
    let bodies: Vec<String> = (0..50)
        .map(|i| {
            let path = format!("C:\\Program Files\\Vendor & Co <x64>\\Ünïcode_x0041_\\bin\\{}\r\n.exe", "s".repeat(i));
            to_clixml(&process(i as i64, &format!("svc-{i}"), &path))
        })
        .collect();
    assert_same(&bodies);
    // And the values are what was written.
    let mut de = Deserializer::default();
    for (i, body) in bodies.iter().enumerate() {
        let value = de.deserialize(body.as_bytes()).unwrap();
        assert_eq!(value.property("Name").and_then(PsValue::as_str), Some(format!("svc-{i}").as_str()));
    }
}

#[test]
fn bodies_that_only_look_like_a_known_shape_fail_as_they_would_fresh() {
    let good = to_clixml(&process(1, "a", "b"));
    let variants = [
        good.replace("<I32 N=\"Id\">1001</I32>", "<I32 N=\"Id\">x1001</I32>"),
        good.replace("<I32 N=\"Id\">1001</I32>", "<I32 N=\"Id\">99999999999</I32>"),
        good.replace("<S N=\"Name\">a</S>", "<S N=\"Name\">a<B>true</B></S>"),
        good.replace("<S N=\"Name\">a</S>", "<S N=\"Name\">a<!-- c --></S>"),
        good.replace("<S N=\"Name\">a</S>", "<S N=\"Name\">a&bogus;</S>"),
        good.replace("<S N=\"Name\">a</S>", "<S N=\"Name\">a&#0;</S>"),
        good.replace("<S N=\"Name\">a</S>", "<S N=\"Name\"><![CDATA[<a>]]></S>"),
        good.replace("<DT N=\"StartTime\">", "<DT N=\"StartTime\">not a date"),
        good.replace("RefId=\"0\"", "RefId=\"4294967296\""),
        good.replace("</Obj>", "</Obj><S>trailing</S>"),
        good.replace("</Obj>", ""),
        good.replace("</MS>", "<S N=\"Extra\">e</S></MS>"),
        good.replace("<Nil N=\"Parent\" />", "<S N=\"Parent\">p</S>"),
        good.replace("<ToString>a (1)</ToString>", "<ToString>a (1)</ToString><ToString>again</ToString>"),
    ];
    for variant in &variants {
        assert_ne!(variant, &good, "every variant changes the body");
        assert_same(&[good.clone(), variant.clone(), good.clone()]);
    }
}

#[test]
fn type_name_references_resolve_in_the_document_that_reads_them() {
    let values: Vec<PsValue> = (0..4).map(|i| process(i, "n", "p")).collect();
    let stream = to_objs(&values);
    assert!(stream.contains("<TNRef RefId=\"0\" />"), "later objects reference the first one's type names");
    let mut de = Deserializer::default();
    for _ in 0..3 {
        let read: Vec<PsValue> = de.objs(stream.as_bytes()).map(|v| v.unwrap().value).collect();
        assert_eq!(read, values);
    }
    // A body that references type names no earlier object of *its* document defined fails, even though the
    // deserializer knows the shape from the stream above.
    let start = stream.find("<Obj RefId=\"1\">").unwrap();
    let end = stream[start..].find("</Obj>").unwrap() + start + "</Obj>".len();
    let orphan = stream[start..end].to_owned();
    assert_eq!(de.deserialize(orphan.as_bytes()), Err(ClixmlError::UnknownTypeRef(0)));
    assert_eq!(Deserializer::default().deserialize(orphan.as_bytes()), Err(ClixmlError::UnknownTypeRef(0)));
}

#[test]
fn limits_hold_on_the_cached_path() {
    let values: Vec<PsValue> = (0..10).map(|i| process(i, "n", "p")).collect();
    let stream = to_objs(&values);
    for limits in [
        DeserializeLimits { max_objects: 6, ..DeserializeLimits::default() },
        DeserializeLimits { max_ref_ids: 7, ..DeserializeLimits::default() },
        DeserializeLimits { max_string_len: 1, ..DeserializeLimits::default() },
        DeserializeLimits { max_depth: 2, ..DeserializeLimits::default() },
    ] {
        let expected: Vec<_> = Deserializer::new(limits).objs(stream.as_bytes()).collect();
        let mut de = Deserializer::new(limits);
        let _warm: Vec<_> = de.objs(stream.as_bytes()).collect();
        let got: Vec<_> = de.objs(stream.as_bytes()).collect();
        assert_eq!(got, expected, "{limits:?}");
        assert!(expected.last().unwrap().is_err(), "{limits:?} is exceeded by the stream");
    }
}

#[test]
fn more_shapes_than_the_cache_keeps_still_read_the_same() {
    let bodies: Vec<String> = (0..60i32)
        .map(|i| {
            let width = i % 7;
            let properties: Vec<(String, PsValue)> =
                (0..=width).map(|m| (format!("P{m}"), PsValue::I32(i * 10 + m))).collect();
            to_clixml(&PsValue::Object(Arc::new(PsObject::custom(properties))))
        })
        .collect();
    assert_same(&bodies);
}

/// Member values a shape can carry, text that stresses escaping included.
fn member_value() -> impl Strategy<Value = PsValue> {
    let tricky = vec(select(&['<', '>', '&', '"', '_', 'x', '0', '\r', '\n', '\u{1}', 'é', '\u{1F600}', ' ']), 0..12)
        .prop_map(String::from_iter);
    prop_oneof![
        prop_oneof![any::<String>(), tricky].prop_map(PsValue::String),
        any::<i32>().prop_map(PsValue::I32),
        any::<i64>().prop_map(PsValue::I64),
        any::<bool>().prop_map(PsValue::Bool),
        any::<f64>().prop_map(PsValue::Double),
        any::<u16>().prop_map(PsValue::Char),
        Just(PsValue::Null),
    ]
}

proptest! {
    /// Objects that share member names but not values or value types: some hit the kept shape, some miss it in
    /// their values' element names, all read as a fresh deserializer reads them.
    #[test]
    fn generated_streams_read_the_same_as_fresh(rows in vec(vec(member_value(), 3), 1..12)) {
        let bodies: Vec<String> = rows
            .iter()
            .map(|row| {
                let members = row.iter().enumerate().map(|(m, v)| PsProperty { name: Arc::from(format!("M{m}")), value: v.clone() });
                to_clixml(&PsValue::Object(Arc::new(PsObject { extended: members.collect(), ..PsObject::default() })))
            })
            .collect();
        let limits = DeserializeLimits::default();
        prop_assert_eq!(fresh(&bodies, limits), reused(&bodies, limits));
    }

    /// Arbitrary byte edits of a body whose shape is known read as they would fresh (mostly as the same error).
    #[test]
    fn edited_bodies_read_the_same_as_fresh(edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let good = to_clixml(&process(3, "name", "C:\\path & co"));
        let mut edited = good.clone().into_bytes();
        for (at, byte) in edits {
            let i = at.index(edited.len());
            edited[i] = byte;
        }
        let edited = String::from_utf8_lossy(&edited).into_owned();
        let bodies = [good.clone(), edited, good];
        let limits = DeserializeLimits::default();
        prop_assert_eq!(fresh(&bodies, limits), reused(&bodies, limits));
    }
}
