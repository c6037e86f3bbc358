//! The error type of the envelope codec.

use std::fmt;

/// Why an envelope could not be read (or a typed value extracted from it).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The envelope exceeds [`crate::envelope::Limits::max_envelope`].
    TooLarge {
        /// The envelope size in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Elements nest deeper than [`crate::envelope::Limits::max_depth`].
    TooDeep,
    /// More elements than [`crate::envelope::Limits::max_elements`].
    TooManyElements,
    /// A `<!DOCTYPE`: DTDs are refused.
    Doctype,
    /// An entity reference other than the five predefined ones and character references.
    Entity(String),
    /// Not well-formed XML.
    Xml(String),
    /// The document ends inside an element.
    Truncated,
    /// Text or an attribute is not valid UTF-8 or holds a malformed escape.
    Text,
    /// The root element is not a SOAP 1.2 `s:Envelope`.
    NotEnvelope,
    /// The envelope has no `s:Body`.
    MissingBody,
    /// A required header is absent (`Action`, …).
    MissingHeader(&'static str),
    /// A header holds a value that cannot be read (an invalid `OperationTimeout`, …); the server answers
    /// `a:InvalidMessageInformationHeader`.
    InvalidHeader {
        /// The header's local name.
        header: &'static str,
        /// The value as received.
        value: String,
    },
    /// The Action header names an operation this codec does not know.
    UnsupportedAction(String),
    /// A required element of the body is absent.
    MissingElement(&'static str),
    /// A required attribute is absent.
    MissingAttribute(&'static str),
    /// An element or attribute holds a value that cannot be read.
    InvalidValue {
        /// The element or attribute.
        field: &'static str,
        /// The value as received.
        value: String,
    },
    /// Base64 content that does not decode.
    Base64(&'static str),
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvelopeError::TooLarge { size, limit } => {
                write!(f, "envelope of {size} bytes exceeds the limit of {limit}")
            }
            EnvelopeError::TooDeep => f.write_str("elements nest too deeply"),
            EnvelopeError::TooManyElements => f.write_str("too many elements in the envelope"),
            EnvelopeError::Doctype => f.write_str("DOCTYPE declarations are not accepted"),
            EnvelopeError::Entity(name) => write!(f, "entity reference &{name}; is not accepted"),
            EnvelopeError::Xml(e) => write!(f, "malformed XML: {e}"),
            EnvelopeError::Truncated => f.write_str("the envelope ends inside an element"),
            EnvelopeError::Text => f.write_str("text or attribute is not valid UTF-8 or holds a bad escape"),
            EnvelopeError::NotEnvelope => f.write_str("the root element is not a SOAP 1.2 Envelope"),
            EnvelopeError::MissingBody => f.write_str("the envelope has no Body"),
            EnvelopeError::MissingHeader(name) => write!(f, "the {name} header is missing"),
            EnvelopeError::InvalidHeader { header, value } => write!(f, "invalid {header} header: {value:?}"),
            EnvelopeError::UnsupportedAction(action) => write!(f, "unsupported action {action:?}"),
            EnvelopeError::MissingElement(name) => write!(f, "the {name} element is missing"),
            EnvelopeError::MissingAttribute(name) => write!(f, "the {name} attribute is missing"),
            EnvelopeError::InvalidValue { field, value } => write!(f, "invalid {field}: {value:?}"),
            EnvelopeError::Base64(field) => write!(f, "{field} is not valid base64"),
        }
    }
}

impl std::error::Error for EnvelopeError {}
