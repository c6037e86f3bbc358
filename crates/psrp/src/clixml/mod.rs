//! CLIXML: PowerShell's object serialization (MS-PSRP 2.2.5), both directions.
//!
//! * [`PsValue`] / [`PsObject`] — the object model: every primitive tag with exact .NET semantics
//!   ([`PsDateTime`], [`PsDuration`], [`PsDecimal`], [`PsVersion`]), complex objects with type names, `ToString`,
//!   adapted and extended properties, lists, stacks, queues, dictionaries and enums. Elements the model does not
//!   know are kept as raw XML and written back.
//! * [`Deserializer`] — a streaming reader: XML events go straight into values, with no document tree in
//!   between; [`Deserializer::objs`] yields the values of an `<Objs>` stream one at a time. Every resource it can
//!   be made to spend is bounded by [`DeserializeLimits`]; a DOCTYPE, an undefined entity or malformed XML is a
//!   typed [`ClixmlError`], never a panic.
//! * [`to_clixml`] / [`to_message_body`] — the serializer, writing what PowerShell writes (element order,
//!   `RefId`/`TNRef` numbering, `_xHHHH_` escapes, the BOM of message bodies).
//!
//! ```
//! use pssession_psrp::clixml::{from_clixml, to_clixml, PsObject, PsValue};
//!
//! let object = PsObject::custom([("Name", PsValue::from("svchost")), ("Id", PsValue::I32(4))]);
//! let xml = to_clixml(&object.into());
//! let back = from_clixml(xml.as_bytes()).unwrap();
//! assert_eq!(back.property("name").and_then(PsValue::as_i32), None);
//! assert_eq!(back.property("Id").and_then(PsValue::as_i32), Some(4));
//! assert_eq!(back.to_string(), "@{Name=svchost; Id=4}");
//! ```

mod de;
mod display;
mod error;
pub mod escape;
#[cfg(feature = "json")]
mod json;
mod primitive;
mod scan;
mod ser;
mod value;

pub use de::{DeserializeLimits, Deserializer, ObjsReader, StreamValue, from_clixml};
pub use error::ClixmlError;
#[cfg(feature = "json")]
pub use json::{JSON_DEPTH, JSON_NODE_BUDGET};
pub use primitive::{
    DateTimeKind, PrimitiveError, PsDateTime, PsDecimal, PsDuration, PsVersion, format_double, format_single,
    parse_float,
};
pub use ser::{BOM, Serializer, to_clixml, to_message_body, to_objs, write_stream_value};
pub use value::{Container, PsObject, PsProgressRecord, PsProperty, PsValue};

#[cfg(test)]
mod tests;
