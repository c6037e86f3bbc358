//! Why a CLIXML document could not be read: the one error type of the scanner and the deserializer.

use std::fmt;

/// Why a CLIXML document could not be deserialized.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClixmlError {
    /// The XML itself is malformed.
    Xml {
        /// Byte offset of the problem.
        position: u64,
        /// What the XML reader reported.
        message: String,
    },
    /// A `<!DOCTYPE>` (and with it any entity definition) is refused.
    Doctype,
    /// A general entity other than the five XML predefines.
    Entity(String),
    /// An element appeared where it is not allowed (e.g. an element inside `<S>`).
    UnexpectedElement {
        /// Byte offset of the element.
        position: u64,
        /// Its tag.
        tag: String,
    },
    /// A value element this deserializer does not know, in a position where it must be a value.
    UnknownElement {
        /// Byte offset of the element.
        position: u64,
        /// Its tag.
        tag: String,
    },
    /// A primitive's text is not a valid value of its type.
    InvalidValue {
        /// Byte offset of the element.
        position: u64,
        /// Its tag.
        tag: &'static str,
    },
    /// A required attribute is missing or invalid (`RefId` of `Ref`, …).
    BadAttribute {
        /// The element.
        tag: &'static str,
        /// The attribute.
        attribute: &'static str,
    },
    /// `<Ref RefId=..>` names no object defined before it.
    UnknownRef(u32),
    /// `<TNRef RefId=..>` names no type-name list defined before it.
    UnknownTypeRef(u32),
    /// A dictionary entry lacks its `Key` or `Value`.
    BadDictionaryEntry,
    /// The input ended inside an element.
    Truncated,
    /// No value at all.
    Empty,
    /// Something other than whitespace follows the value.
    TrailingContent,
    /// Values nested deeper than [`crate::clixml::DeserializeLimits::max_depth`].
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// More `RefId`s than [`crate::clixml::DeserializeLimits::max_ref_ids`].
    TooManyRefIds {
        /// The limit.
        limit: usize,
    },
    /// A text value longer than [`crate::clixml::DeserializeLimits::max_string_len`].
    StringTooLong {
        /// The limit.
        limit: usize,
    },
    /// More objects than [`crate::clixml::DeserializeLimits::max_objects`].
    TooManyObjects {
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for ClixmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClixmlError::Xml { position, message } => write!(f, "malformed XML at byte {position}: {message}"),
            ClixmlError::Doctype => f.write_str("a DOCTYPE declaration is not allowed in CLIXML"),
            ClixmlError::Entity(name) => write!(f, "undefined entity &{name};"),
            ClixmlError::UnexpectedElement { position, tag } => {
                write!(f, "unexpected element <{tag}> at byte {position}")
            }
            ClixmlError::UnknownElement { position, tag } => {
                write!(f, "unknown CLIXML element <{tag}> at byte {position}")
            }
            ClixmlError::InvalidValue { position, tag } => write!(f, "invalid <{tag}> value at byte {position}"),
            ClixmlError::BadAttribute { tag, attribute } => write!(f, "<{tag}> has a missing or invalid {attribute}"),
            ClixmlError::UnknownRef(id) => write!(f, "<Ref RefId=\"{id}\"> names no earlier object"),
            ClixmlError::UnknownTypeRef(id) => write!(f, "<TNRef RefId=\"{id}\"> names no earlier type-name list"),
            ClixmlError::BadDictionaryEntry => f.write_str("a dictionary entry lacks its Key or Value"),
            ClixmlError::Truncated => f.write_str("the CLIXML ends inside an element"),
            ClixmlError::Empty => f.write_str("the CLIXML holds no value"),
            ClixmlError::TrailingContent => f.write_str("content follows the CLIXML value"),
            ClixmlError::TooDeep { limit } => write!(f, "values nest deeper than {limit}"),
            ClixmlError::TooManyRefIds { limit } => write!(f, "more than {limit} RefIds"),
            ClixmlError::StringTooLong { limit } => write!(f, "a text value is longer than {limit} bytes"),
            ClixmlError::TooManyObjects { limit } => write!(f, "more than {limit} objects"),
        }
    }
}

impl std::error::Error for ClixmlError {}
