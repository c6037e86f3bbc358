use std::sync::Arc;

use super::*;

fn parse(xml: &str) -> PsValue {
    from_clixml(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}: {xml}"))
}

#[test]
fn primitives_round_trip_through_the_wire() {
    for xml in [
        "<S>a &amp; b_x000D__x000A_</S>",
        "<C>97</C>",
        "<B>true</B>",
        "<DT>2024-05-01T12:30:45.123456+00:00</DT>",
        "<TS>PT9.0269026S</TS>",
        "<By>255</By>",
        "<SB>-128</SB>",
        "<U16>65535</U16>",
        "<I16>-32768</I16>",
        "<U32>4294967295</U32>",
        "<I32>-2147483648</I32>",
        "<U64>18446744073709551615</U64>",
        "<I64>-9223372036854775808</I64>",
        "<Sg>1.5</Sg>",
        "<Db>1E+300</Db>",
        "<D>1.50</D>",
        "<BA>AQID</BA>",
        "<G>792e5b37-4505-47ef-b7d2-8711bb7affa8</G>",
        "<URI>http://localhost/wsman</URI>",
        "<Version>10.0.17763.1</Version>",
        "<XD>&lt;a /&gt;</XD>",
        "<SBK>Get-Date</SBK>",
        "<SS>AQID</SS>",
        "<Nil />",
        "<S></S>",
    ] {
        let value = parse(xml);
        assert_eq!(to_clixml(&value), xml);
    }
    assert_eq!(parse("<S>a &amp; b_x000D__x000A_</S>"), PsValue::String("a & b\r\n".into()));
    assert_eq!(parse("<B>false</B>"), PsValue::Bool(false));
    assert_eq!(parse("\u{FEFF}<I32> 7 </I32>\n"), PsValue::I32(7));
}

#[test]
fn objects_keep_every_part() {
    let xml = concat!(
        r#"<Obj RefId="0"><TN RefId="0"><T>System.ConsoleColor</T><T>System.Enum</T><T>System.ValueType</T>"#,
        r#"<T>System.Object</T></TN><ToString>Red</ToString><I32>12</I32></Obj>"#
    );
    let value = parse(xml);
    let object = value.as_object().unwrap();
    assert_eq!(object.as_enum(), Some((12, "Red")));
    assert_eq!(value.to_string(), "Red");
    assert_eq!(to_clixml(&value), xml);
    assert_eq!(
        object.deserialized_type_names().collect::<Vec<_>>(),
        ["Deserialized.System.ConsoleColor", "System.Enum", "System.ValueType", "System.Object"]
    );

    let xml = concat!(
        r#"<Obj RefId="0"><TN RefId="0"><T>System.Collections.Hashtable</T><T>System.Object</T></TN>"#,
        r#"<DCT><En><S N="Key">a</S><I32 N="Value">1</I32></En><En><S N="Key">b</S><Obj N="Value" RefId="1">"#,
        r#"<TN RefId="1"><T>System.Object[]</T><T>System.Array</T><T>System.Object</T></TN><LST><S>x</S>"#,
        r#"<Nil /></LST></Obj></En></DCT><Props><S N="Adapted">p</S></Props><MS><S N="Extended">e</S></MS>"#,
        r#"<Future Attr="1"><Nested /></Future></Obj>"#
    );
    let value = parse(xml);
    let object = value.as_object().unwrap();
    assert_eq!(object.dictionary_get("A"), Some(&PsValue::I32(1)));
    assert_eq!(object.dictionary_get("b").unwrap().as_object().unwrap().items().unwrap().len(), 2);
    assert_eq!(object.property("adapted").and_then(PsValue::as_str), Some("p"));
    assert_eq!(object.property("Extended").and_then(PsValue::as_str), Some("e"));
    assert_eq!(object.unknown, [r#"<Future Attr="1"><Nested /></Future>"#]);
    assert_eq!(to_clixml(&value), xml);
}

#[test]
fn references_share_objects_and_type_names() {
    let xml = concat!(
        r#"<Obj RefId="0"><TN RefId="0"><T>Outer</T></TN><MS><Obj N="a" RefId="1"><TN RefId="1"><T>Inner</T></TN>"#,
        r#"<ToString>i</ToString></Obj><Ref N="b" RefId="1" /><Obj N="c" RefId="2"><TNRef RefId="1" /></Obj>"#,
        r#"</MS></Obj>"#
    );
    let value = parse(xml);
    let a = value.property("a").unwrap().as_object().unwrap();
    let b = value.property("b").unwrap().as_object().unwrap();
    assert!(std::ptr::eq(a, b));
    let c = value.property("c").unwrap().as_object().unwrap();
    assert!(Arc::ptr_eq(a.type_names.as_ref().unwrap(), c.type_names.as_ref().unwrap()));
    // The serializer writes the shared object once and refers to it, and reuses the type-name list.
    assert_eq!(to_clixml(&value), xml);
}

#[test]
fn a_cycle_is_cut_not_followed() {
    let value = parse(
        r#"<Obj RefId="0"><TN RefId="0"><T>Node</T></TN><ToString>n</ToString><MS><Ref N="Self" RefId="0" /></MS></Obj>"#,
    );
    let inner = value.property("Self").unwrap().as_object().unwrap();
    assert_eq!(inner.to_string.as_deref(), Some("n"));
    assert!(inner.extended.is_empty());
}

#[test]
fn names_and_strings_use_the_unit_escapes() {
    let object = PsObject::custom([("line\nbreak", PsValue::from("😀 _x literal"))]);
    let xml = to_clixml(&object.into());
    assert!(xml.contains(r#"N="line_x000A_break""#), "{xml}");
    assert!(xml.contains("_xD83D__xDE00_ _x005F_x literal"), "{xml}");
    let back = parse(&xml);
    assert_eq!(back.property("line\nbreak").and_then(PsValue::as_str), Some("😀 _x literal"));
}

#[test]
fn hostile_input_is_a_typed_error() {
    type Check = fn(&ClixmlError) -> bool;
    let cases: &[(&str, Check)] = &[
        ("<!DOCTYPE x [<!ENTITY a \"b\">]><S>&a;</S>", |e| *e == ClixmlError::Doctype),
        ("<S>&a;</S>", |e| matches!(e, ClixmlError::Entity(_))),
        ("<S>a", |e| matches!(e, ClixmlError::Truncated | ClixmlError::Xml { .. })),
        ("<S>a</I32>", |e| matches!(e, ClixmlError::Xml { .. })),
        ("<I32>x</I32>", |e| matches!(e, ClixmlError::InvalidValue { tag: "I32", .. })),
        ("<Ref RefId=\"4\" />", |e| *e == ClixmlError::UnknownRef(4)),
        ("<Obj><TNRef RefId=\"9\" /></Obj>", |e| *e == ClixmlError::UnknownTypeRef(9)),
        ("<Bogus />", |e| matches!(e, ClixmlError::UnknownElement { .. })),
        ("<S><I32>1</I32></S>", |e| matches!(e, ClixmlError::UnexpectedElement { .. })),
        ("<S>a</S><S>b</S>", |e| *e == ClixmlError::TrailingContent),
        ("", |e| *e == ClixmlError::Empty),
        ("<Obj><DCT><En><S N=\"Key\">a</S></En></DCT></Obj>", |e| *e == ClixmlError::BadDictionaryEntry),
        ("<B>maybe</B>", |e| matches!(e, ClixmlError::InvalidValue { tag: "B", .. })),
    ];
    for (xml, check) in cases {
        let error = from_clixml(xml.as_bytes()).expect_err(xml);
        assert!(check(&error), "{xml}: {error:?}");
    }
}

#[test]
fn limits_are_enforced() {
    let limits = DeserializeLimits { max_depth: 10, max_ref_ids: 5, max_string_len: 8, max_objects: 3 };
    let deep = "<Obj><MS>".repeat(20) + &"</MS></Obj>".repeat(20);
    let mut de = Deserializer::new(DeserializeLimits { max_objects: 100, ..limits });
    assert_eq!(de.deserialize(deep.as_bytes()), Err(ClixmlError::TooDeep { limit: 10 }));
    let mut de = Deserializer::new(limits);
    assert_eq!(de.deserialize(b"<S>123456789</S>"), Err(ClixmlError::StringTooLong { limit: 8 }));
    let many = "<Obj><LST>".to_owned() + &"<Obj />".repeat(5) + "</LST></Obj>";
    assert_eq!(de.deserialize(many.as_bytes()), Err(ClixmlError::TooManyObjects { limit: 3 }));
    let refs = "<Obj><LST>".to_owned()
        + &(0..6).map(|i| format!("<S>{i}</S><Obj RefId=\"{i}\" />")).collect::<String>()
        + "</LST></Obj>";
    let mut de = Deserializer::new(DeserializeLimits { max_objects: 100, ..limits });
    assert_eq!(de.deserialize(refs.as_bytes()), Err(ClixmlError::TooManyRefIds { limit: 5 }));
    // A billion levels are refused at the limit without recursing further.
    let very_deep = "<Obj><LST>".repeat(100_000);
    assert!(matches!(from_clixml(very_deep.as_bytes()), Err(ClixmlError::TooDeep { .. })));
}

#[test]
fn objs_streams_yield_one_value_at_a_time() {
    let values = [PsValue::I32(1), PsObject::custom([("a", PsValue::from("b"))]).into(), PsValue::Null];
    let document = to_objs(values.iter());
    let mut de = Deserializer::default();
    let read: Vec<PsValue> = de.objs(document.as_bytes()).map(|r| r.unwrap().value).collect();
    assert_eq!(read, values);
    let truncated = &document[..document.len() - 20];
    assert!(de.objs(truncated.as_bytes()).any(|r| r.is_err()));
    assert!(de.objs(b"<S>x</S>").next().unwrap().is_err());
}

#[cfg(feature = "json")]
#[test]
fn converts_to_json() {
    let xml = concat!(
        r#"<Obj RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN>"#,
        r#"<MS><S N="Name">n</S><I32 N="Id">4</I32><DT N="When">2024-05-01T12:30:45Z</DT><Obj N="Color" RefId="1">"#,
        r#"<TN RefId="1"><T>System.ConsoleColor</T><T>System.Enum</T></TN><ToString>Red</ToString><I32>12</I32>"#,
        r#"</Obj><SS N="Secret">AQID</SS></MS></Obj>"#
    );
    let json = parse(xml).to_json();
    assert_eq!(
        json,
        serde_json::json!({"Name": "n", "Id": 4, "When": "2024-05-01T12:30:45Z", "Color": 12,
            "Secret": "System.Security.SecureString"})
    );
}
