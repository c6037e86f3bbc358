//! The object model: [`PsValue`] for every CLIXML value and [`PsObject`] for complex objects (MS-PSRP 2.2.5).

use std::sync::Arc;

use uuid::Uuid;

use crate::clixml::primitive::{PsDateTime, PsDecimal, PsDuration, PsVersion};

/// One value as CLIXML carries it: a primitive (MS-PSRP 2.2.5.1) or a complex object (2.2.5.2).
///
/// Objects are reference counted: a `<Ref RefId=".."/>` back-reference shares the object it names instead of
/// copying it, so repeated references cost no memory.
///
/// Equality is structural; floating-point values compare by bit pattern, so `NaN` equals the same `NaN` and a
/// value always equals its own round trip.
#[derive(Debug, Clone)]
pub enum PsValue {
    /// `<Nil/>`: `$null`.
    Null,
    /// `<S>`: System.String.
    String(String),
    /// `<C>`: System.Char, one UTF-16 code unit.
    Char(u16),
    /// `<B>`: System.Boolean.
    Bool(bool),
    /// `<DT>`: System.DateTime.
    DateTime(PsDateTime),
    /// `<TS>`: System.TimeSpan.
    Duration(PsDuration),
    /// `<By>`: System.Byte.
    U8(u8),
    /// `<SB>`: System.SByte.
    I8(i8),
    /// `<U16>`: System.UInt16.
    U16(u16),
    /// `<I16>`: System.Int16.
    I16(i16),
    /// `<U32>`: System.UInt32.
    U32(u32),
    /// `<I32>`: System.Int32.
    I32(i32),
    /// `<U64>`: System.UInt64.
    U64(u64),
    /// `<I64>`: System.Int64.
    I64(i64),
    /// `<Sg>`: System.Single.
    Single(f32),
    /// `<Db>`: System.Double.
    Double(f64),
    /// `<D>`: System.Decimal, kept exactly.
    Decimal(PsDecimal),
    /// `<BA>`: System.Byte[].
    Bytes(Vec<u8>),
    /// `<G>`: System.Guid.
    Guid(Uuid),
    /// `<URI>`: System.Uri, as text.
    Uri(String),
    /// `<Version>`: System.Version.
    Version(PsVersion),
    /// `<XD>`: System.Xml.XmlDocument, as its XML text.
    XmlDocument(String),
    /// `<SBK>`: System.Management.Automation.ScriptBlock, as its source text.
    ScriptBlock(String),
    /// `<SS>`: System.Security.SecureString, the still-encrypted bytes (decrypting needs the session key).
    SecureString(Vec<u8>),
    /// `<Obj>`: a complex object.
    Object(Arc<PsObject>),
    /// `<PR>`: the compact form PowerShell uses for a ProgressRecord in `<Objs>` streams (`pwsh -OutputFormat xml`).
    ProgressRecord(Box<PsProgressRecord>),
}

/// A `<PR>` element: a ProgressRecord in its compact stream form.
#[derive(Debug, Clone, PartialEq)]
pub struct PsProgressRecord {
    /// `AV`: Activity.
    pub activity: String,
    /// `AI`: ActivityId.
    pub activity_id: i32,
    /// CurrentOperation (a value element: `<Nil/>` or `<S>`).
    pub current_operation: Option<String>,
    /// `PI`: ParentActivityId.
    pub parent_activity_id: i32,
    /// `PC`: PercentComplete.
    pub percent_complete: i32,
    /// `T`: RecordType, `Processing` or `Completed`.
    pub record_type: String,
    /// `SR`: SecondsRemaining.
    pub seconds_remaining: i32,
    /// `SD`: StatusDescription.
    pub status_description: String,
}

impl PartialEq for PsValue {
    fn eq(&self, other: &Self) -> bool {
        use PsValue as V;
        match (self, other) {
            (V::Null, V::Null) => true,
            (V::String(a), V::String(b))
            | (V::Uri(a), V::Uri(b))
            | (V::XmlDocument(a), V::XmlDocument(b))
            | (V::ScriptBlock(a), V::ScriptBlock(b)) => a == b,
            (V::Char(a), V::Char(b)) | (V::U16(a), V::U16(b)) => a == b,
            (V::Bool(a), V::Bool(b)) => a == b,
            (V::DateTime(a), V::DateTime(b)) => a == b,
            (V::Duration(a), V::Duration(b)) => a == b,
            (V::U8(a), V::U8(b)) => a == b,
            (V::I8(a), V::I8(b)) => a == b,
            (V::I16(a), V::I16(b)) => a == b,
            (V::U32(a), V::U32(b)) => a == b,
            (V::I32(a), V::I32(b)) => a == b,
            (V::U64(a), V::U64(b)) => a == b,
            (V::I64(a), V::I64(b)) => a == b,
            (V::Single(a), V::Single(b)) => a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            (V::Double(a), V::Double(b)) => a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            (V::Decimal(a), V::Decimal(b)) => a == b,
            (V::Bytes(a), V::Bytes(b)) | (V::SecureString(a), V::SecureString(b)) => a == b,
            (V::Guid(a), V::Guid(b)) => a == b,
            (V::Version(a), V::Version(b)) => a == b,
            (V::Object(a), V::Object(b)) => Arc::ptr_eq(a, b) || a == b,
            (V::ProgressRecord(a), V::ProgressRecord(b)) => a == b,
            _ => false,
        }
    }
}

/// The collection an object carries (MS-PSRP 2.2.5.2.6).
#[derive(Debug, Clone, PartialEq)]
pub enum Container {
    /// `<LST>`: an IList.
    List(Vec<PsValue>),
    /// `<IE>`: an IEnumerable.
    Enumerable(Vec<PsValue>),
    /// `<STK>`: a Stack, top first.
    Stack(Vec<PsValue>),
    /// `<QUE>`: a Queue, head first.
    Queue(Vec<PsValue>),
    /// `<DCT>`: an IDictionary, entries in order.
    Dictionary(Vec<(PsValue, PsValue)>),
}

impl Container {
    /// The element tag, e.g. `LST`.
    pub fn tag(&self) -> &'static str {
        match self {
            Container::List(_) => "LST",
            Container::Enumerable(_) => "IE",
            Container::Stack(_) => "STK",
            Container::Queue(_) => "QUE",
            Container::Dictionary(_) => "DCT",
        }
    }

    /// The items of a list-like container (`None` for a dictionary).
    pub fn items(&self) -> Option<&[PsValue]> {
        match self {
            Container::List(v) | Container::Enumerable(v) | Container::Stack(v) | Container::Queue(v) => Some(v),
            Container::Dictionary(_) => None,
        }
    }
}

/// A named property of an object (an `MS` extended member or a `Props` adapted property).
#[derive(Debug, Clone, PartialEq)]
pub struct PsProperty {
    /// The property name, decoded from its `N` attribute.
    pub name: Arc<str>,
    /// Its value.
    pub value: PsValue,
}

/// A complex object (`<Obj>`, MS-PSRP 2.2.5.2).
///
/// Every part is optional on the wire, so every field here may be empty. The raw XML of elements this model does
/// not know is kept in [`PsObject::unknown`] and written back by the serializer, so nothing is lost in transit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PsObject {
    /// `<TN>`: the type names, most derived first (e.g. `System.Management.Automation.PSCustomObject`,
    /// `System.Object`), shared between objects that referenced the same list with `<TNRef>`.
    pub type_names: Option<Arc<[String]>>,
    /// `<ToString>`: the string form the sender computed.
    pub to_string: Option<String>,
    /// The primitive the object wraps (an enum's underlying value, a string with notes, …).
    pub base: Option<PsValue>,
    /// The collection the object wraps.
    pub container: Option<Container>,
    /// `<Props>`: adapted properties.
    pub adapted: Vec<PsProperty>,
    /// `<MS>`: extended properties (note properties, the body of PSRP messages).
    pub extended: Vec<PsProperty>,
    /// Raw XML of child elements this model does not know, in order.
    pub unknown: Vec<String>,
}

impl PsObject {
    /// An object with these type names and nothing else.
    pub fn with_type_names<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        PsObject { type_names: Some(names.into_iter().map(Into::into).collect()), ..PsObject::default() }
    }

    /// A `PSCustomObject` with these note properties, in order.
    pub fn custom<I, N>(properties: I) -> Self
    where
        I: IntoIterator<Item = (N, PsValue)>,
        N: AsRef<str>,
    {
        let mut object = PsObject::with_type_names(["System.Management.Automation.PSCustomObject", "System.Object"]);
        object.extended =
            properties.into_iter().map(|(name, value)| PsProperty { name: name.as_ref().into(), value }).collect();
        object
    }

    /// Adds an extended (`MS`) property and returns the object, for building.
    pub fn with_property(mut self, name: &str, value: impl Into<PsValue>) -> Self {
        self.extended.push(PsProperty { name: name.into(), value: value.into() });
        self
    }

    /// The type names, most derived first (empty when the object carries none).
    pub fn type_names(&self) -> &[String] {
        self.type_names.as_deref().unwrap_or(&[])
    }

    /// The type names as PowerShell shows a deserialized object: each prefixed with `Deserialized.`, except for
    /// types PowerShell rehydrates as themselves (primitives, and objects whose wire form carries no type names).
    pub fn deserialized_type_names(&self) -> impl Iterator<Item = String> + '_ {
        self.type_names().iter().map(|name| {
            if name.starts_with("Deserialized.") || is_rehydrated_type(name) {
                name.clone()
            } else {
                format!("Deserialized.{name}")
            }
        })
    }

    /// Whether the object is an enum value (its type names include `System.Enum`).
    pub fn is_enum(&self) -> bool {
        self.type_names().iter().any(|name| name == "System.Enum")
    }

    /// An enum's underlying number and its name (`ToString`), e.g. `(12, "Red")`.
    pub fn as_enum(&self) -> Option<(i64, &str)> {
        if !self.is_enum() {
            return None;
        }
        let number = self.base.as_ref()?.as_i64()?;
        Some((number, self.to_string.as_deref().unwrap_or("")))
    }

    /// A property by name: extended (`MS`) first, then adapted (`Props`); names compare case-insensitively, as
    /// PowerShell's member lookup does.
    pub fn property(&self, name: &str) -> Option<&PsValue> {
        self.extended
            .iter()
            .chain(self.adapted.iter())
            .find(|p| p.name.as_ref() == name)
            .or_else(|| self.extended.iter().chain(self.adapted.iter()).find(|p| p.name.eq_ignore_ascii_case(name)))
            .map(|p| &p.value)
    }

    /// Every property, extended then adapted.
    pub fn properties(&self) -> impl Iterator<Item = &PsProperty> {
        self.extended.iter().chain(self.adapted.iter())
    }

    /// The dictionary entries when the object is a dictionary.
    pub fn dictionary(&self) -> Option<&[(PsValue, PsValue)]> {
        match &self.container {
            Some(Container::Dictionary(entries)) => Some(entries),
            _ => None,
        }
    }

    /// A dictionary value by string key (case-insensitive, as a Hashtable created by PowerShell compares keys).
    pub fn dictionary_get(&self, key: &str) -> Option<&PsValue> {
        self.dictionary()?.iter().find(|(k, _)| k.as_str().is_some_and(|k| k.eq_ignore_ascii_case(key))).map(|(_, v)| v)
    }

    /// The list items when the object is a list, enumerable, stack or queue.
    pub fn items(&self) -> Option<&[PsValue]> {
        self.container.as_ref()?.items()
    }
}

/// Types that PowerShell rehydrates exactly, so their deserialized type names carry no `Deserialized.` prefix.
fn is_rehydrated_type(name: &str) -> bool {
    matches!(
        name,
        "System.Object"
            | "System.ValueType"
            | "System.Enum"
            | "System.String"
            | "System.Collections.Hashtable"
            | "System.Collections.ArrayList"
            | "System.Array"
            | "System.Object[]"
            | "System.Management.Automation.PSCustomObject"
            | "System.Management.Automation.PSObject"
            | "System.Management.Automation.PSPrimitiveDictionary"
    )
}

impl PsValue {
    /// The string of an `S` (or `URI`, `XD`, `SBK`) value, or of an object wrapping one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PsValue::String(s) | PsValue::Uri(s) | PsValue::XmlDocument(s) | PsValue::ScriptBlock(s) => Some(s),
            PsValue::Object(o) => o.base.as_ref()?.as_str(),
            _ => None,
        }
    }

    /// Any integer value (and an enum's underlying number) widened to `i64`, when it fits.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            PsValue::U8(v) => Some(v.into()),
            PsValue::I8(v) => Some(v.into()),
            PsValue::U16(v) => Some(v.into()),
            PsValue::I16(v) => Some(v.into()),
            PsValue::U32(v) => Some(v.into()),
            PsValue::I32(v) => Some(v.into()),
            PsValue::U64(v) => i64::try_from(v).ok(),
            PsValue::I64(v) => Some(v),
            PsValue::Object(ref o) => o.base.as_ref()?.as_i64(),
            _ => None,
        }
    }

    /// An `I32` (or a smaller integer, or an enum over one).
    pub fn as_i32(&self) -> Option<i32> {
        self.as_i64().and_then(|v| i32::try_from(v).ok())
    }

    /// A `B` value.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            PsValue::Bool(b) => Some(*b),
            PsValue::Object(o) => o.base.as_ref()?.as_bool(),
            _ => None,
        }
    }

    /// A `G` value.
    pub fn as_guid(&self) -> Option<Uuid> {
        match self {
            PsValue::Guid(g) => Some(*g),
            PsValue::Object(o) => o.base.as_ref()?.as_guid(),
            _ => None,
        }
    }

    /// A `Version` value.
    pub fn as_version(&self) -> Option<&PsVersion> {
        match self {
            PsValue::Version(v) => Some(v),
            PsValue::Object(o) => o.base.as_ref()?.as_version(),
            _ => None,
        }
    }

    /// A `BA` value.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            PsValue::Bytes(b) => Some(b),
            PsValue::Object(o) => o.base.as_ref()?.as_bytes(),
            _ => None,
        }
    }

    /// The object, when this is one.
    pub fn as_object(&self) -> Option<&PsObject> {
        match self {
            PsValue::Object(o) => Some(o),
            _ => None,
        }
    }

    /// A property of an object value (see [`PsObject::property`]).
    pub fn property(&self, name: &str) -> Option<&PsValue> {
        self.as_object()?.property(name)
    }

    /// Whether this is `$null`.
    pub fn is_null(&self) -> bool {
        matches!(self, PsValue::Null)
    }

    /// The .NET type name of a primitive (`System.Int32`), or the first type name of an object.
    pub fn type_name(&self) -> Option<&str> {
        Some(match self {
            PsValue::Null => return None,
            PsValue::String(_) => "System.String",
            PsValue::Char(_) => "System.Char",
            PsValue::Bool(_) => "System.Boolean",
            PsValue::DateTime(_) => "System.DateTime",
            PsValue::Duration(_) => "System.TimeSpan",
            PsValue::U8(_) => "System.Byte",
            PsValue::I8(_) => "System.SByte",
            PsValue::U16(_) => "System.UInt16",
            PsValue::I16(_) => "System.Int16",
            PsValue::U32(_) => "System.UInt32",
            PsValue::I32(_) => "System.Int32",
            PsValue::U64(_) => "System.UInt64",
            PsValue::I64(_) => "System.Int64",
            PsValue::Single(_) => "System.Single",
            PsValue::Double(_) => "System.Double",
            PsValue::Decimal(_) => "System.Decimal",
            PsValue::Bytes(_) => "System.Byte[]",
            PsValue::Guid(_) => "System.Guid",
            PsValue::Uri(_) => "System.Uri",
            PsValue::Version(_) => "System.Version",
            PsValue::XmlDocument(_) => "System.Xml.XmlDocument",
            PsValue::ScriptBlock(_) => "System.Management.Automation.ScriptBlock",
            PsValue::SecureString(_) => "System.Security.SecureString",
            PsValue::ProgressRecord(_) => "System.Management.Automation.ProgressRecord",
            PsValue::Object(o) => return o.type_names().first().map(String::as_str),
        })
    }
}

impl From<PsObject> for PsValue {
    fn from(object: PsObject) -> Self {
        PsValue::Object(Arc::new(object))
    }
}

impl From<&str> for PsValue {
    fn from(s: &str) -> Self {
        PsValue::String(s.to_owned())
    }
}

impl From<String> for PsValue {
    fn from(s: String) -> Self {
        PsValue::String(s)
    }
}

impl From<i32> for PsValue {
    fn from(v: i32) -> Self {
        PsValue::I32(v)
    }
}

impl From<i64> for PsValue {
    fn from(v: i64) -> Self {
        PsValue::I64(v)
    }
}

impl From<bool> for PsValue {
    fn from(v: bool) -> Self {
        PsValue::Bool(v)
    }
}

impl From<Uuid> for PsValue {
    fn from(v: Uuid) -> Self {
        PsValue::Guid(v)
    }
}

impl From<PsVersion> for PsValue {
    fn from(v: PsVersion) -> Self {
        PsValue::Version(v)
    }
}

impl<T: Into<PsValue>> From<Option<T>> for PsValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(PsValue::Null, Into::into)
    }
}
