//! Property tests of the CLIXML serializer and deserializer: arbitrary value trees (every primitive, every
//! container, objects with type names, ToString, adapted and extended properties, nested to a bounded depth) and
//! arbitrary strings (control characters, astral characters whose UTF-16 form is a surrogate pair, lone surrogates
//! as `Char`s, literal `_x0041_` text, XML metacharacters) survive `to_clixml` → `from_clixml` unchanged, alone,
//! in `<Objs>` streams, and through one reused [`Deserializer`].

use std::sync::Arc;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use pssession_psrp::clixml::{
    Container, DateTimeKind, Deserializer, PsDateTime, PsDecimal, PsDuration, PsObject, PsProgressRecord, PsProperty,
    PsValue, PsVersion, escape, from_clixml, to_clixml, to_message_body, to_objs,
};

/// The largest tick count of a .NET DateTime (9999-12-31T23:59:59.9999999).
const MAX_TICKS: i64 = 3_155_378_975_999_999_999;

/// Characters that CLIXML must escape or that look like escapes, mixed into arbitrary text.
const TRICKY: &[char] = &[
    '\0',
    '\u{1}',
    '\t',
    '\n',
    '\r',
    '\u{1f}',
    '\u{7f}',
    '\u{80}',
    '\u{9f}',
    '_',
    'x',
    'X',
    '0',
    '4',
    '1',
    'A',
    'F',
    '<',
    '>',
    '&',
    '"',
    '\'',
    ' ',
    ']',
    '\u{FFFD}',
    '\u{FFFE}',
    '\u{FFFF}',
    '\u{FEFF}',
    '\u{1F600}',
    '\u{10FFFF}',
    'é',
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        vec(select(TRICKY), 0..24).prop_map(String::from_iter),
        // Literal escape look-alikes: `_x0041_`, `_X00e9_`, `_x005F_`, truncated ones.
        vec(
            prop_oneof![
                Just("_x0041_".to_owned()),
                Just("_X00e9_".to_owned()),
                Just("_x005F_".to_owned()),
                Just("_xD83D__xDE00_".to_owned()),
                Just("_x12".to_owned()),
                Just("_".to_owned()),
                "[a-z]{0,3}".prop_map(String::from),
            ],
            0..6
        )
        .prop_map(|parts| parts.concat()),
    ]
}

fn datetime() -> impl Strategy<Value = PsDateTime> {
    let kind = prop_oneof![
        Just(DateTimeKind::Unspecified),
        Just(DateTimeKind::Utc),
        (-14 * 60..=14 * 60i16).prop_map(|offset_minutes| DateTimeKind::Local { offset_minutes }),
    ];
    (0..=MAX_TICKS, kind).prop_map(|(ticks, kind)| PsDateTime { ticks, kind })
}

fn decimal() -> impl Strategy<Value = PsDecimal> {
    (0..(1u128 << 96), 0..=28u8, any::<bool>()).prop_map(|(mantissa, scale, negative)| PsDecimal {
        mantissa,
        scale,
        negative,
    })
}

fn version() -> impl Strategy<Value = PsVersion> {
    let part = 0..=i32::MAX as u32;
    (part.clone(), part.clone(), proptest::option::of((part.clone(), proptest::option::of(part)))).prop_map(
        |(major, minor, rest)| PsVersion {
            major,
            minor,
            build: rest.map(|(build, _)| build),
            revision: rest.and_then(|(_, revision)| revision),
        },
    )
}

fn progress_record() -> impl Strategy<Value = PsValue> {
    (text(), any::<i32>(), proptest::option::of(text()), any::<i32>(), any::<i32>(), text(), any::<i32>(), text())
        .prop_map(|(activity, activity_id, current_operation, parent, percent, record_type, seconds, status)| {
            PsValue::ProgressRecord(Box::new(PsProgressRecord {
                activity,
                activity_id,
                current_operation,
                parent_activity_id: parent,
                percent_complete: percent,
                record_type,
                seconds_remaining: seconds,
                status_description: status,
            }))
        })
}

/// Every primitive, with values over its whole range.
fn primitive() -> impl Strategy<Value = PsValue> {
    prop_oneof![
        Just(PsValue::Null),
        text().prop_map(PsValue::String),
        any::<u16>().prop_map(PsValue::Char),
        (0xD800..=0xDFFFu16).prop_map(PsValue::Char),
        any::<bool>().prop_map(PsValue::Bool),
        datetime().prop_map(PsValue::DateTime),
        any::<i64>().prop_map(|ticks| PsValue::Duration(PsDuration { ticks })),
        any::<u8>().prop_map(PsValue::U8),
        any::<i8>().prop_map(PsValue::I8),
        any::<u16>().prop_map(PsValue::U16),
        any::<i16>().prop_map(PsValue::I16),
        any::<u32>().prop_map(PsValue::U32),
        any::<i32>().prop_map(PsValue::I32),
        any::<u64>().prop_map(PsValue::U64),
        any::<i64>().prop_map(PsValue::I64),
        any::<u32>().prop_map(|bits| PsValue::Single(f32::from_bits(bits))),
        any::<u64>().prop_map(|bits| PsValue::Double(f64::from_bits(bits))),
        decimal().prop_map(PsValue::Decimal),
        vec(any::<u8>(), 0..48).prop_map(PsValue::Bytes),
        any::<u128>().prop_map(|v| PsValue::Guid(uuid::Uuid::from_u128(v))),
        text().prop_map(PsValue::Uri),
        version().prop_map(PsValue::Version),
        text().prop_map(PsValue::XmlDocument),
        text().prop_map(PsValue::ScriptBlock),
        vec(any::<u8>(), 0..48).prop_map(PsValue::SecureString),
        progress_record(),
    ]
}

fn properties(value: impl Strategy<Value = PsValue>) -> impl Strategy<Value = Vec<PsProperty>> {
    vec((text(), value).prop_map(|(name, value)| PsProperty { name: Arc::from(name), value }), 0..4)
}

fn container(value: impl Strategy<Value = PsValue> + Clone) -> impl Strategy<Value = Container> {
    prop_oneof![
        vec(value.clone(), 0..5).prop_map(Container::List),
        vec(value.clone(), 0..5).prop_map(Container::Enumerable),
        vec(value.clone(), 0..5).prop_map(Container::Stack),
        vec(value.clone(), 0..5).prop_map(Container::Queue),
        vec((value.clone(), value), 0..4).prop_map(Container::Dictionary),
    ]
}

/// Value trees up to four levels of objects deep.
fn value() -> impl Strategy<Value = PsValue> {
    primitive().prop_recursive(4, 48, 6, |inner| {
        (
            proptest::option::of(vec(text(), 0..4)),
            proptest::option::of(text()),
            proptest::option::of(inner.clone()),
            proptest::option::of(container(inner.clone())),
            properties(inner.clone()),
            properties(inner),
        )
            .prop_map(|(type_names, to_string, base, container, adapted, extended)| {
                PsValue::from(PsObject {
                    type_names: type_names.map(Arc::from),
                    to_string,
                    base,
                    container,
                    adapted,
                    extended,
                    unknown: Vec::new(),
                })
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn values_round_trip(value in value()) {
        let xml = to_clixml(&value);
        let back = from_clixml(xml.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}\n{xml}")))?;
        prop_assert_eq!(&back, &value, "{}", xml);
        // Serializing what was read gives the same document, and so does a message body with its BOM.
        prop_assert_eq!(to_clixml(&back), xml.clone());
        let body = to_message_body(&value, true);
        prop_assert_eq!(from_clixml(&body).unwrap(), value);
    }

    #[test]
    fn objs_streams_round_trip_through_one_deserializer(values in vec(value(), 0..6)) {
        let xml = to_objs(&values);
        let mut de = Deserializer::default();
        for _ in 0..2 {
            let back: Vec<PsValue> = de
                .objs(xml.as_bytes())
                .map(|v| v.map(|v| v.value))
                .collect::<Result<_, _>>()
                .map_err(|e| TestCaseError::fail(format!("{e}\n{xml}")))?;
            prop_assert_eq!(&back, &values, "{}", xml);
        }
    }

    /// Every string survives as a value, as a property name, as a type name and as a ToString, and the escape
    /// functions are inverses on it.
    #[test]
    fn strings_survive_everywhere(s in text()) {
        let encoded = escape::encode(&s, false);
        let xml_unescaped = encoded.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
        let decoded = escape::decode(&xml_unescaped);
        prop_assert_eq!(decoded.as_ref(), s.as_str());
        let object = PsValue::from(PsObject {
            to_string: Some(s.clone()),
            ..PsObject::with_type_names([s.clone(), "System.Object".to_owned()])
        }.with_property(&s, PsValue::String(s.clone())));
        let back = from_clixml(to_clixml(&object).as_bytes()).unwrap();
        prop_assert_eq!(back.property(&s).and_then(PsValue::as_str), Some(s.as_str()));
        prop_assert_eq!(&back, &object);
    }

    /// Type-name lists are cached by the deserializer across documents; lists that differ only in how their text
    /// splits into names must stay distinct.
    #[test]
    fn type_name_lists_stay_distinct_across_documents(
        lists in vec(vec(select(&["a", "b", "a\nb", "\n", "", "a\n"][..]), 0..4), 1..6)
    ) {
        let mut de = Deserializer::default();
        for names in &lists {
            let value = PsValue::from(PsObject::with_type_names(names.iter().copied()));
            let back = de.deserialize(to_clixml(&value).as_bytes()).unwrap();
            prop_assert_eq!(back.as_object().unwrap().type_names(), &names[..]);
        }
    }
}

/// Regression (found by the property above): the type-name cache key was the names joined with "\n", so the list
/// `["a\nb"]` and the list `["a", "b"]` collided and the second document got the first's type names.
#[test]
fn type_name_cache_does_not_confuse_split_names() {
    let mut de = Deserializer::default();
    let one = de.deserialize(b"<Obj RefId=\"0\"><TN RefId=\"0\"><T>a_x000A_b</T></TN></Obj>").unwrap();
    assert_eq!(one.as_object().unwrap().type_names(), ["a\nb"]);
    let two = de.deserialize(b"<Obj RefId=\"0\"><TN RefId=\"0\"><T>a</T><T>b</T></TN></Obj>").unwrap();
    assert_eq!(two.as_object().unwrap().type_names(), ["a", "b"]);
}

/// Hand-picked strings that exercise each escaping rule, checked against the exact text PowerShell writes.
#[test]
fn string_escapes_match_powershell() {
    for (value, wire) in [
        ("a\r\nb", "<S>a_x000D__x000A_b</S>"),
        ("_x0041_", "<S>_x005F_x0041_</S>"),
        ("_X", "<S>_x005F_X</S>"),
        ("\u{1F600}", "<S>_xD83D__xDE00_</S>"),
        ("<&>\"", "<S>&lt;&amp;&gt;\"</S>"),
        ("\u{FFFE}", "<S>_xFFFE_</S>"),
        ("", "<S></S>"),
    ] {
        let xml = to_clixml(&PsValue::from(value));
        assert_eq!(xml, wire, "{value:?}");
        assert_eq!(from_clixml(xml.as_bytes()).unwrap(), PsValue::from(value));
    }
    // A Char holds one UTF-16 code unit, a lone surrogate included.
    let xml = to_clixml(&PsValue::Char(0xD800));
    assert_eq!(xml, "<C>55296</C>");
    assert_eq!(from_clixml(xml.as_bytes()).unwrap(), PsValue::Char(0xD800));
    // A lone surrogate escaped inside a string cannot be held by a Rust string: it becomes U+FFFD.
    assert_eq!(from_clixml(b"<S>x_xD800_y</S>").unwrap(), PsValue::from("x\u{FFFD}y"));
}

/// psrpcore writes a ProgressRecord that carries extra properties as `<Obj><PR>…</PR><MS>…</MS></Obj>`: the `<PR>`
/// is the object's base value, not an unknown element.
#[test]
fn progress_record_inside_an_object_is_its_base() {
    let xml = "<Obj RefId=\"0\"><PR><AV>a</AV><AI>1</AI><Nil /><PI>-1</PI><PC>5</PC><T>Processing</T><SR>-1</SR>\
               <SD>s</SD></PR><MS><I32 N=\"Extra\">1</I32></MS></Obj>";
    let value = from_clixml(xml.as_bytes()).unwrap();
    let object = value.as_object().unwrap();
    assert!(object.unknown.is_empty(), "{:?}", object.unknown);
    match &object.base {
        Some(PsValue::ProgressRecord(pr)) => assert_eq!((pr.activity.as_str(), pr.percent_complete), ("a", 5)),
        other => panic!("base {other:?}"),
    }
    assert_eq!(from_clixml(to_clixml(&value).as_bytes()).unwrap(), value);
}
