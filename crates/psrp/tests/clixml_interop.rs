//! CLIXML interop with psrpcore (PyPI, pinned in requirements-test.txt), driven through tests/py/psrpcore_clixml.py:
//! values psrpcore serializes deserialize in ours to the values psrpcore itself reads back, and what our serializer
//! writes deserializes in psrpcore to the values we wrote. Both sides are compared through one canonical JSON
//! description (documented in the Python script), computed here by [`canon`].
//!
//! The Python peers must be installed (`cargo xtask setup`); the test fails, naming the fix, when they are not.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use pssession_psrp::clixml::{
    Container, DateTimeKind, PsDateTime, PsDecimal, PsDuration, PsObject, PsProgressRecord, PsProperty, PsValue,
    PsVersion, from_clixml, to_clixml, to_objs,
};
use pssession_testkit::run_python_json;
use serde_json::{Value, json};
use uuid::Uuid;

fn script() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/psrpcore_clixml.py"))
}

fn type_names(object: &PsObject) -> Value {
    object.type_names().iter().map(|n| n.strip_prefix("Deserialized.").unwrap_or(n)).collect::<Vec<_>>().into()
}

fn properties(properties: &[PsProperty]) -> Value {
    properties.iter().map(|p| json!([p.name.as_ref(), canon(&p.value)])).collect::<Vec<_>>().into()
}

/// The canonical description of a value (see tests/py/psrpcore_clixml.py).
fn canon(value: &PsValue) -> Value {
    match value {
        PsValue::Null => Value::Null,
        PsValue::Bool(b) => json!({ "B": b }),
        PsValue::String(s) => json!({ "S": s }),
        PsValue::Uri(s) => json!({ "URI": s }),
        PsValue::XmlDocument(s) => json!({ "XD": s }),
        PsValue::ScriptBlock(s) => json!({ "SBK": s }),
        PsValue::Char(c) => json!({ "C": c }),
        PsValue::U8(v) => json!({ "By": v }),
        PsValue::I8(v) => json!({ "SB": v }),
        PsValue::U16(v) => json!({ "U16": v }),
        PsValue::I16(v) => json!({ "I16": v }),
        PsValue::U32(v) => json!({ "U32": v }),
        PsValue::I32(v) => json!({ "I32": v }),
        PsValue::U64(v) => json!({ "U64": v }),
        PsValue::I64(v) => json!({ "I64": v }),
        PsValue::Single(v) => json!({ "Sg": format!("0x{:08x}", v.to_bits()) }),
        PsValue::Double(v) => json!({ "Db": format!("0x{:016x}", v.to_bits()) }),
        PsValue::Decimal(v) => json!({ "D": v.to_string() }),
        PsValue::DateTime(dt) => {
            let offset = match dt.kind {
                DateTimeKind::Unspecified => Value::Null,
                DateTimeKind::Utc => json!(0),
                DateTimeKind::Local { offset_minutes } => json!(offset_minutes),
            };
            json!({ "DT": { "ticks": dt.ticks, "offset": offset } })
        }
        PsValue::Duration(d) => json!({ "TS": d.ticks }),
        PsValue::Bytes(b) => json!({ "BA": B64.encode(b) }),
        PsValue::SecureString(b) => json!({ "SS": B64.encode(b) }),
        PsValue::Guid(g) => json!({ "G": g.hyphenated().to_string() }),
        PsValue::Version(v) => json!({ "Version": v.to_string() }),
        PsValue::ProgressRecord(pr) => json!({ "PR": {
            "activity": pr.activity,
            "activity_id": pr.activity_id,
            "current_operation": pr.current_operation,
            "parent_activity_id": pr.parent_activity_id,
            "percent_complete": pr.percent_complete,
            "record_type": pr.record_type,
            "seconds_remaining": pr.seconds_remaining,
            "status_description": pr.status_description,
        }}),
        PsValue::Object(object) => {
            let container = object.container.as_ref().map(|c| match c {
                Container::Dictionary(entries) => {
                    json!({ "DCT": entries.iter().map(|(k, v)| json!([canon(k), canon(v)])).collect::<Vec<_>>() })
                }
                other => json!({ other.tag(): other.items().unwrap_or(&[]).iter().map(canon).collect::<Vec<_>>() }),
            });
            json!({ "Obj": {
                "types": type_names(object),
                "tostring": object.to_string,
                "base": object.base.as_ref().map(canon),
                "container": container,
                "adapted": properties(&object.adapted),
                "extended": properties(&object.extended),
            }})
        }
    }
}

#[test]
fn psrpcore_serialized_values_deserialize_equal_in_ours() {
    let answer = run_python_json(script(), &json!({ "op": "corpus" }));
    let cases = answer["cases"].as_array().expect("cases");
    assert!(cases.len() >= 60, "psrpcore corpus has only {} cases", cases.len());
    let mut tags = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let xml = case["xml"].as_str().unwrap();
        let value = match from_clixml(xml.as_bytes()) {
            Ok(value) => value,
            Err(e) => {
                failures.push(format!("{name}: ours cannot read psrpcore's {xml}: {e}"));
                continue;
            }
        };
        collect_tags(&value, &mut tags);
        if canon(&value) != case["canon"] {
            failures.push(format!("{name}: {xml}\n  ours:     {}\n  psrpcore: {}", canon(&value), case["canon"]));
        }
        // And what ours read, ours writes back without loss.
        assert_eq!(from_clixml(to_clixml(&value).as_bytes()).unwrap(), value, "{name}");
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
    let expected = "B BA By C D DCT DT Db G I16 I32 I64 IE LST Nil Obj PR QUE S SB SBK SS STK Sg TS U16 U32 U64 URI \
                    Version XD";
    assert_eq!(tags.into_iter().collect::<Vec<_>>().join(" "), expected, "psrpcore corpus coverage");
}

/// Every tag (primitive and container) that occurs in a value.
fn collect_tags(value: &PsValue, tags: &mut std::collections::BTreeSet<&'static str>) {
    let tag = match value {
        PsValue::Null => "Nil",
        PsValue::Bool(_) => "B",
        PsValue::String(_) => "S",
        PsValue::Uri(_) => "URI",
        PsValue::XmlDocument(_) => "XD",
        PsValue::ScriptBlock(_) => "SBK",
        PsValue::Char(_) => "C",
        PsValue::U8(_) => "By",
        PsValue::I8(_) => "SB",
        PsValue::U16(_) => "U16",
        PsValue::I16(_) => "I16",
        PsValue::U32(_) => "U32",
        PsValue::I32(_) => "I32",
        PsValue::U64(_) => "U64",
        PsValue::I64(_) => "I64",
        PsValue::Single(_) => "Sg",
        PsValue::Double(_) => "Db",
        PsValue::Decimal(_) => "D",
        PsValue::DateTime(_) => "DT",
        PsValue::Duration(_) => "TS",
        PsValue::Bytes(_) => "BA",
        PsValue::SecureString(_) => "SS",
        PsValue::Guid(_) => "G",
        PsValue::Version(_) => "Version",
        PsValue::ProgressRecord(_) => "PR",
        PsValue::Object(object) => {
            if let Some(container) = &object.container {
                tags.insert(container.tag());
                match container {
                    Container::Dictionary(entries) => entries.iter().for_each(|(k, v)| {
                        collect_tags(k, tags);
                        collect_tags(v, tags);
                    }),
                    other => other.items().unwrap_or(&[]).iter().for_each(|v| collect_tags(v, tags)),
                }
            }
            if let Some(base) = &object.base {
                collect_tags(base, tags);
            }
            object.properties().for_each(|p| collect_tags(&p.value, tags));
            "Obj"
        }
    };
    tags.insert(tag);
}

fn object(types: &[&str], to_string: Option<&str>) -> PsObject {
    let mut object = PsObject::with_type_names(types.iter().copied());
    object.to_string = to_string.map(str::to_owned);
    object
}

fn with_container(types: &[&str], container: Container) -> PsValue {
    PsObject { container: Some(container), ..object(types, None) }.into()
}

fn enum_value(type_name: &str, number: i32, name: &str) -> PsValue {
    PsObject {
        base: Some(PsValue::I32(number)),
        ..object(&[type_name, "System.Enum", "System.ValueType", "System.Object"], Some(name))
    }
    .into()
}

/// Our corpus: every primitive tag, every container, enums, nested and shared objects, hard strings and names.
fn our_corpus() -> Vec<(String, PsValue)> {
    let hard = [
        "",
        "plain",
        "a\r\nb\tc\0\u{1}\u{1f}\u{7f}\u{80}\u{9f}",
        "_x0041_ stays literal, _X0041_ too, and _x alone; _x005F_ as well",
        "astral \u{1F600} \u{10FFFF}",
        "xml <&>\"' ]]> \u{FFFD} \u{FFFE}\u{FFFF}",
        "ends with _",
        " spaces ",
        "\u{2028}\u{FEFF}bom inside",
    ];
    let mut cases: Vec<(String, PsValue)> =
        hard.iter().enumerate().map(|(i, s)| (format!("S-{i}"), PsValue::from(*s))).collect();
    let date = |text: &str| PsValue::DateTime(PsDateTime::parse(text).unwrap());
    let primitives: Vec<(&str, PsValue)> = vec![
        ("Nil", PsValue::Null),
        ("B", PsValue::Bool(true)),
        ("C", PsValue::Char(u16::from(b'x'))),
        ("C-lone-surrogate", PsValue::Char(0xDC00)),
        ("By", PsValue::U8(200)),
        ("SB", PsValue::I8(-5)),
        ("U16", PsValue::U16(u16::MAX)),
        ("I16", PsValue::I16(i16::MIN)),
        ("U32", PsValue::U32(u32::MAX)),
        ("I32", PsValue::I32(i32::MIN)),
        ("U64", PsValue::U64(u64::MAX)),
        ("I64", PsValue::I64(i64::MIN)),
        ("Sg", PsValue::Single(0.1)),
        ("Sg-big", PsValue::Single(3.4028235e38)),
        ("Sg-negative-inf", PsValue::Single(f32::NEG_INFINITY)),
        ("Db", PsValue::Double(-2.5e-300)),
        ("Db-pi", PsValue::Double(std::f64::consts::PI)),
        ("Db-nan", PsValue::Double(f64::NAN)),
        ("Db-inf", PsValue::Double(f64::INFINITY)),
        ("Db-subnormal", PsValue::Double(5e-324)),
        ("Db-integer", PsValue::Double(123456789012345.0)),
        ("D", PsValue::Decimal(PsDecimal::parse("-12.3400").unwrap())),
        ("D-tiny", PsValue::Decimal(PsDecimal::parse("0.0000000000000000000000000001").unwrap())),
        ("D-max", PsValue::Decimal(PsDecimal::parse("79228162514264337593543950335").unwrap())),
        ("DT-utc", date("2024-05-01T12:30:45.1234567Z")),
        ("DT-offset", date("2018-11-26T14:45:12.5+01:00")),
        ("DT-negative-offset", date("2000-02-29T23:59:59.0000001-09:30")),
        ("DT-unspecified", date("2024-05-01T13:05:09")),
        ("DT-min", date("0001-01-01T00:00:00")),
        ("TS", PsValue::Duration(PsDuration::parse("P1DT2H3M4.5S").unwrap())),
        ("TS-negative", PsValue::Duration(PsDuration::parse("-PT0.0000001S").unwrap())),
        ("TS-days", PsValue::Duration(PsDuration::parse("P10675199DT2H48M5.4775807S").unwrap())),
        ("BA", PsValue::Bytes((0..=255).rev().collect())),
        ("BA-empty", PsValue::Bytes(Vec::new())),
        ("G", PsValue::Guid(Uuid::parse_str("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0").unwrap())),
        ("URI", PsValue::Uri("https://host/path?a=1&b=<2>".into())),
        ("Version-2", PsValue::Version(PsVersion::new(2, 3))),
        ("Version-4", PsValue::Version(PsVersion::parse("10.0.17763.1").unwrap())),
        ("XD", PsValue::XmlDocument("<a b=\"c\">&amp;</a>".into())),
        ("SBK", PsValue::ScriptBlock("Get-Process | Where-Object { $_.Id -gt 4 }\n".into())),
        ("SS", PsValue::SecureString(vec![0x17; 48])),
        (
            "PR",
            PsValue::ProgressRecord(Box::new(PsProgressRecord {
                activity: "Copying _x0041_".into(),
                activity_id: 7,
                current_operation: Some("line\nbreak".into()),
                parent_activity_id: 1,
                percent_complete: 99,
                record_type: "Completed".into(),
                seconds_remaining: 5,
                status_description: "almost".into(),
            })),
        ),
    ];
    cases.extend(primitives.into_iter().map(|(name, value)| (name.to_owned(), value)));

    let inner: PsValue =
        PsObject::custom([("Name", PsValue::from("inner")), ("Started", date("2024-01-02T03:04:05Z"))]).into();
    let list = ["System.Object[]", "System.Array", "System.Object"];
    let hashtable = ["System.Collections.Hashtable", "System.Object"];
    let objects: Vec<(&str, PsValue)> = vec![
        (
            "LST",
            with_container(
                &list,
                Container::List(vec![PsValue::I32(1), PsValue::from("two"), PsValue::Null, inner.clone()]),
            ),
        ),
        ("LST-empty", with_container(&list, Container::List(Vec::new()))),
        (
            "IE",
            with_container(
                &["System.Collections.Generic.List`1[[System.String]]", "System.Object"],
                Container::Enumerable(vec![PsValue::from("a"), PsValue::from("b")]),
            ),
        ),
        (
            "STK",
            with_container(
                &["System.Collections.Stack", "System.Object"],
                Container::Stack(vec![PsValue::from("top"), PsValue::I64(2)]),
            ),
        ),
        (
            "QUE",
            with_container(
                &["System.Collections.Queue", "System.Object"],
                Container::Queue(vec![PsValue::from("head"), PsValue::Bool(false)]),
            ),
        ),
        (
            "DCT",
            with_container(
                &hashtable,
                Container::Dictionary(vec![
                    (PsValue::from("key\n"), PsValue::Null),
                    (PsValue::I32(2), with_container(&list, Container::List(vec![PsValue::Bool(true)]))),
                    (
                        PsValue::from("nested"),
                        with_container(&hashtable, Container::Dictionary(vec![(PsValue::from("x"), inner.clone())])),
                    ),
                ]),
            ),
        ),
        ("enum", enum_value("System.ConsoleColor", 12, "Red")),
        ("enum-known", enum_value("System.Management.Automation.Runspaces.PSThreadOptions", 1, "UseNewThread")),
        ("flags", enum_value("System.IO.FileAttributes", 33, "ReadOnly, Archive")),
        (
            "nested",
            PsObject::custom([
                ("Name", PsValue::from("svchost")),
                ("odd name _x0020_ <&>\"\n\u{1F600}", PsValue::I32(4)),
                ("Inner", inner.clone()),
                ("Again", inner.clone()),
                ("Empty", PsValue::from("")),
                ("Deep", PsObject::custom([("Deeper", PsObject::custom([("Deepest", inner.clone())]).into())]).into()),
            ])
            .into(),
        ),
        (
            "adapted-and-extended",
            PsObject {
                adapted: vec![PsProperty { name: "Adapted".into(), value: PsValue::from("a") }],
                extended: vec![PsProperty { name: "Extended".into(), value: PsValue::I32(2) }],
                ..object(&["Pssession.Test.Thing", "System.Object"], Some("the thing"))
            }
            .into(),
        ),
        (
            "extended-primitive",
            PsObject { base: Some(PsValue::from("a string with notes")), ..PsObject::default() }
                .with_property("Note", PsValue::I32(1))
                .into(),
        ),
    ];
    cases.extend(objects.into_iter().map(|(name, value)| (name.to_owned(), value)));
    cases
}

#[test]
fn our_serialized_values_deserialize_equal_in_psrpcore() {
    let corpus = our_corpus();
    let mut tags = std::collections::BTreeSet::new();
    for (_, value) in &corpus {
        collect_tags(value, &mut tags);
    }
    assert_eq!(
        tags.iter().copied().collect::<Vec<_>>().join(" "),
        "B BA By C D DCT DT Db G I16 I32 I64 IE LST Nil Obj PR QUE S SB SBK SS STK Sg TS U16 U32 U64 URI Version XD",
        "our corpus coverage"
    );
    let cases: Vec<Value> =
        corpus.iter().map(|(name, value)| json!({ "name": name, "xml": to_clixml(value) })).collect();
    // The whole corpus once more as one <Objs> document (deserialize_clixml), where RefIds and TNRefs span values.
    let values: Vec<PsValue> = corpus.iter().map(|(_, v)| v.clone()).collect();
    let objs = to_objs(&values);
    let answer = run_python_json(script(), &json!({ "op": "deserialize", "cases": cases, "objs": objs }));

    let theirs = answer["cases"].as_array().expect("cases");
    assert_eq!(theirs.len(), corpus.len());
    let mut failures = Vec::new();
    for ((name, value), theirs) in corpus.iter().zip(theirs) {
        if let Some(error) = theirs.get("error") {
            failures.push(format!("{name}: psrpcore cannot read ours {}: {error}", to_clixml(value)));
        } else if canon(value) != theirs["canon"] {
            failures.push(format!(
                "{name}: {}\n  ours:     {}\n  psrpcore: {}",
                to_clixml(value),
                canon(value),
                theirs["canon"]
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), corpus.len(), failures.join("\n"));
    let from_objs = answer["objs"].as_array().expect("objs");
    assert_eq!(from_objs.len(), values.len());
    for ((name, value), theirs) in corpus.iter().zip(from_objs) {
        assert_eq!(&canon(value), theirs, "{name} inside one <Objs> document");
    }
}

/// The shared `inner` object of the corpus is written once and referenced with `<Ref>` after that, and psrpcore
/// resolves the reference to the same values.
#[test]
fn shared_objects_are_written_as_refs() {
    let corpus = our_corpus();
    let nested = &corpus.iter().find(|(name, _)| name == "nested").unwrap().1;
    let xml = to_clixml(nested);
    assert_eq!(xml.matches("<Ref ").count(), 2, "{xml}");
    let back = from_clixml(xml.as_bytes()).unwrap();
    let (again, deepest) = (back.property("Again").unwrap(), back.property("Deep").unwrap());
    let deepest = deepest.property("Deeper").unwrap().property("Deepest").unwrap();
    match (back.property("Inner").unwrap(), again, deepest) {
        (PsValue::Object(a), PsValue::Object(b), PsValue::Object(c)) => {
            assert!(Arc::ptr_eq(a, b) && Arc::ptr_eq(a, c), "references share the object")
        }
        other => panic!("not objects: {other:?}"),
    }
}
