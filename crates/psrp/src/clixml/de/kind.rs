//! The CLIXML elements whose value is their text: one place that names them and parses their text, shared by the
//! element-by-element reader and the shape cache.

use std::borrow::Cow;

use base64::Engine as _;
use uuid::Uuid;

use crate::clixml::error::ClixmlError;
use crate::clixml::escape;
use crate::clixml::primitive::{PsDateTime, PsDecimal, PsDuration, PsVersion, parse_float};
use crate::clixml::value::PsValue;

/// A primitive element: its value is read from its text alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextKind {
    Null,
    String,
    Char,
    Bool,
    DateTime,
    Duration,
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    Single,
    Double,
    Decimal,
    Bytes,
    SecureString,
    Guid,
    Uri,
    Version,
    XmlDocument,
    ScriptBlock,
}

impl TextKind {
    /// The kind of the element with this local name, if its value is its text.
    #[inline]
    pub fn of(tag: &str) -> Option<TextKind> {
        // The most frequent first, matched byte by byte (a `str` match compares through `memcmp`).
        Some(match tag.as_bytes() {
            [b'S'] => TextKind::String,
            [b'I', b'3', b'2'] => TextKind::I32,
            [b'I', b'6', b'4'] => TextKind::I64,
            [b'D', b'T'] => TextKind::DateTime,
            [b'B'] => TextKind::Bool,
            [b'N', b'i', b'l'] => TextKind::Null,
            _ => match tag {
                "C" => TextKind::Char,
                "TS" => TextKind::Duration,
                "By" => TextKind::U8,
                "SB" => TextKind::I8,
                "U16" => TextKind::U16,
                "I16" => TextKind::I16,
                "U32" => TextKind::U32,
                "U64" => TextKind::U64,
                "Sg" => TextKind::Single,
                "Db" => TextKind::Double,
                "D" => TextKind::Decimal,
                "BA" => TextKind::Bytes,
                "SS" => TextKind::SecureString,
                "G" => TextKind::Guid,
                "URI" => TextKind::Uri,
                "Version" => TextKind::Version,
                "XD" => TextKind::XmlDocument,
                "SBK" => TextKind::ScriptBlock,
                _ => return None,
            },
        })
    }

    /// The element's name in error reports.
    fn tag(self) -> &'static str {
        match self {
            TextKind::Null => "Nil",
            TextKind::String => "S",
            TextKind::Char => "C",
            TextKind::Bool => "B",
            TextKind::DateTime => "DT",
            TextKind::Duration => "TS",
            TextKind::U8 => "By",
            TextKind::I8 => "SB",
            TextKind::U16 => "U16",
            TextKind::I16 => "I16",
            TextKind::U32 => "U32",
            TextKind::I32 => "I32",
            TextKind::U64 => "U64",
            TextKind::I64 => "I64",
            TextKind::Single => "Sg",
            TextKind::Double => "Db",
            TextKind::Decimal => "D",
            TextKind::Bytes => "BA",
            TextKind::SecureString => "SS",
            TextKind::Guid => "G",
            TextKind::Uri => "URI",
            TextKind::Version => "Version",
            TextKind::XmlDocument => "XD",
            TextKind::ScriptBlock => "SBK",
        }
    }

    /// The value of an element of this kind with this (XML-decoded) text; `may_escape` says whether the text may
    /// hold PowerShell's `_xHHHH_` escapes, which only string-like kinds resolve.
    pub fn value(self, text: Cow<'_, str>, may_escape: bool, position: u64) -> Result<PsValue, ClixmlError> {
        let invalid = || ClixmlError::InvalidValue { position, tag: self.tag() };
        let string = |text: Cow<'_, str>| -> String {
            if may_escape {
                match escape::decode(&text) {
                    Cow::Borrowed(_) => text.into_owned(),
                    Cow::Owned(decoded) => decoded,
                }
            } else {
                text.into_owned()
            }
        };
        macro_rules! number {
            ($variant:ident) => {
                PsValue::$variant(text.trim().parse().map_err(|_| invalid())?)
            };
        }
        Ok(match self {
            TextKind::Null => PsValue::Null,
            TextKind::String => PsValue::String(string(text)),
            TextKind::I32 => number!(I32),
            TextKind::I64 => number!(I64),
            TextKind::DateTime => PsValue::DateTime(PsDateTime::parse(&text).map_err(|_| invalid())?),
            TextKind::Bool => match text.trim() {
                "true" | "True" | "1" => PsValue::Bool(true),
                "false" | "False" | "0" => PsValue::Bool(false),
                _ => return Err(invalid()),
            },
            TextKind::Char => number!(Char),
            TextKind::Duration => PsValue::Duration(PsDuration::parse(&text).map_err(|_| invalid())?),
            TextKind::U8 => number!(U8),
            TextKind::I8 => number!(I8),
            TextKind::U16 => number!(U16),
            TextKind::I16 => number!(I16),
            TextKind::U32 => number!(U32),
            TextKind::U64 => number!(U64),
            TextKind::Single => PsValue::Single(parse_float(&text, "Sg").map_err(|_| invalid())? as f32),
            TextKind::Double => PsValue::Double(parse_float(&text, "Db").map_err(|_| invalid())?),
            TextKind::Decimal => PsValue::Decimal(PsDecimal::parse(&text).map_err(|_| invalid())?),
            TextKind::Bytes => PsValue::Bytes(base64(&text).ok_or_else(invalid)?),
            TextKind::SecureString => PsValue::SecureString(base64(&text).ok_or_else(invalid)?),
            TextKind::Guid => PsValue::Guid(Uuid::parse_str(text.trim()).map_err(|_| invalid())?),
            TextKind::Uri => PsValue::Uri(string(text)),
            TextKind::Version => PsValue::Version(PsVersion::parse(&text).map_err(|_| invalid())?),
            TextKind::XmlDocument => PsValue::XmlDocument(string(text)),
            TextKind::ScriptBlock => PsValue::ScriptBlock(string(text)),
        })
    }
}

/// Base64 as .NET writes it, line breaks and other white space ignored.
fn base64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(compact).ok()
}
