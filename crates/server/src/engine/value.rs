//! The engine's values and PowerShell's conversion rules for them.
//!
//! Pipelines compute on [`Value`] and hand it out in [`PipelineEvent::Output`](super::PipelineEvent::Output);
//! values are cheap to clone (`Arc` inside). The endpoint serializes them to CLIXML.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::sync::Arc;

use super::parser::ScriptBlockAst;

/// Most elements one collection value (array, range, repeated string or array) may have.
pub const MAX_COLLECTION_LEN: usize = 1_000_000;
/// Longest string one operation may build, in bytes.
pub const MAX_STRING_LEN: usize = 16 << 20;

/// A value: what flows through pipelines and out of the engine.
#[derive(Debug, Clone)]
pub enum Value {
    /// `$null` (CLIXML `<Nil/>`).
    Null,
    /// `System.Boolean` (`<B>`).
    Bool(bool),
    /// `System.Int32` (`<I32>`).
    Int(i32),
    /// `System.Int64` (`<I64>`).
    Long(i64),
    /// `System.Double` (`<Db>`).
    Double(f64),
    /// `System.String` (`<S>`).
    String(Arc<str>),
    /// A `System.DateTime` (`<DT>`) as .NET ticks (100 ns since 0001-01-01), UTC.
    DateTime(i64),
    /// A `System.Version` (`<Version>`) in its text form (`5.1.17763.1`).
    Version(Arc<str>),
    /// An `Object[]` (`<LST>` with type names `System.Object[]`, `System.Array`, `System.Object`).
    Array(Arc<Vec<Value>>),
    /// A `System.Collections.Hashtable` (`<DCT>`), insertion order kept; keys compare case-insensitively.
    Hashtable(Arc<Vec<(Value, Value)>>),
    /// An object with type names and (note) properties (`<Obj>` with `<TN>` and `<MS>`).
    Object(Arc<Object>),
    /// An enum value (`<Obj>` with the enum's type names, `<ToString>` and `<I32>`).
    Enum(Arc<EnumValue>),
    /// A script block (`<SBK>`, its text).
    ScriptBlock(Arc<ScriptBlockValue>),
}

/// A property-bag object.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// .NET type names, most derived first (`<TN>`).
    pub type_names: Vec<String>,
    /// Properties in order (`<MS>`).
    pub properties: Vec<(String, Value)>,
    /// The object's `ToString()` (`<ToString>`), when it is not the first type name.
    pub to_string: Option<String>,
}

/// A script block with the script text its extents refer to.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptBlockValue {
    /// The parsed block.
    pub ast: ScriptBlockAst,
    /// The whole script the block was parsed from (its extents point into it).
    pub source: Arc<str>,
}

impl ScriptBlockValue {
    /// Parses script-block text (a CLIXML `<SBK>`, or a script-block parameter of CREATE_PIPELINE).
    pub fn parse(text: &str) -> Result<ScriptBlockValue, super::parser::ParseError> {
        let body = super::parser::parse_script(text)?;
        Ok(ScriptBlockValue { ast: ScriptBlockAst { text: text.to_string(), body }, source: Arc::from(text) })
    }
}

/// An enum value.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumValue {
    /// The enum's type names (the enum type, `System.Enum`, `System.ValueType`, `System.Object`).
    pub type_names: Vec<String>,
    /// The member name (`ToString()`).
    pub name: String,
    /// The number.
    pub value: i32,
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Long(a), Value::Long(b)) => a == b,
            (Value::Double(a), Value::Double(b)) => a.to_bits() == b.to_bits(),
            (Value::String(a), Value::String(b)) => a == b,
            (Value::DateTime(a), Value::DateTime(b)) => a == b,
            (Value::Version(a), Value::Version(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => a == b,
            (Value::Hashtable(a), Value::Hashtable(b)) => a == b,
            (Value::Object(a), Value::Object(b)) => a == b,
            (Value::Enum(a), Value::Enum(b)) => a == b,
            (Value::ScriptBlock(a), Value::ScriptBlock(b)) => a.ast.text == b.ast.text,
            _ => false,
        }
    }
}

impl Value {
    /// A string value.
    pub fn string(s: impl Into<Arc<str>>) -> Value {
        Value::String(s.into())
    }

    /// An array value.
    pub fn array(items: Vec<Value>) -> Value {
        Value::Array(Arc::new(items))
    }

    /// An object with these type names and properties.
    pub fn object(type_names: &[&str], properties: Vec<(&str, Value)>) -> Value {
        Value::Object(Arc::new(Object {
            type_names: type_names.iter().map(|s| s.to_string()).collect(),
            properties: properties.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            to_string: None,
        }))
    }

    /// A `PSCustomObject` with these note properties, in order (`[pscustomobject]@{...}`).
    pub fn custom_object(properties: Vec<(String, Value)>) -> Value {
        Value::Object(Arc::new(Object {
            type_names: vec!["System.Management.Automation.PSCustomObject".to_string(), "System.Object".to_string()],
            properties,
            to_string: None,
        }))
    }

    /// An enum value of `type_name`.
    pub fn enumeration(type_name: &str, name: &str, value: i32) -> Value {
        Value::Enum(Arc::new(EnumValue {
            type_names: vec![
                type_name.to_string(),
                "System.Enum".to_string(),
                "System.ValueType".to_string(),
                "System.Object".to_string(),
            ],
            name: name.to_string(),
            value,
        }))
    }

    /// Whether this is `$null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The .NET type name PowerShell would report (`GetType().FullName`).
    pub fn type_name(&self) -> String {
        match self {
            Value::Null => "null".into(),
            Value::Bool(_) => "System.Boolean".into(),
            Value::Int(_) => "System.Int32".into(),
            Value::Long(_) => "System.Int64".into(),
            Value::Double(_) => "System.Double".into(),
            Value::String(_) => "System.String".into(),
            Value::DateTime(_) => "System.DateTime".into(),
            Value::Version(_) => "System.Version".into(),
            Value::Array(_) => "System.Object[]".into(),
            Value::Hashtable(_) => "System.Collections.Hashtable".into(),
            Value::Object(o) => {
                o.type_names.first().cloned().unwrap_or_else(|| "System.Management.Automation.PSCustomObject".into())
            }
            Value::Enum(e) => e.type_names.first().cloned().unwrap_or_default(),
            Value::ScriptBlock(_) => "System.Management.Automation.ScriptBlock".into(),
        }
    }

    /// The short type name used in error messages (`String`, `Int32`).
    pub fn short_type_name(&self) -> String {
        let full = self.type_name();
        full.rsplit('.').next().unwrap_or_default().to_string()
    }

    /// PowerShell's conversion to string (`[string]$x`, string expansion).
    pub fn to_ps_string(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            Value::Int(i) => i.to_string(),
            Value::Long(i) => i.to_string(),
            Value::Double(d) => format_double(*d),
            Value::String(s) => s.to_string(),
            Value::DateTime(t) => format_datetime(*t),
            Value::Version(v) => v.to_string(),
            Value::Array(items) => {
                let mut out = String::new();
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(&item.to_ps_string());
                    if out.len() > MAX_STRING_LEN {
                        break;
                    }
                }
                out
            }
            Value::Hashtable(_) => "System.Collections.Hashtable".into(),
            Value::Object(o) => match &o.to_string {
                Some(s) => s.clone(),
                None if o.type_names.first().is_some_and(|t| t.ends_with("PSCustomObject"))
                    || o.type_names.is_empty() =>
                {
                    let mut out = String::from("@{");
                    for (i, (k, v)) in o.properties.iter().enumerate() {
                        if i > 0 {
                            out.push_str("; ");
                        }
                        let _ = write!(out, "{k}={}", v.to_ps_string());
                    }
                    out.push('}');
                    out
                }
                None => o.type_names.first().cloned().unwrap_or_default(),
            },
            Value::Enum(e) => e.name.clone(),
            Value::ScriptBlock(sb) => sb.ast.text.clone(),
        }
    }

    /// PowerShell's conversion to boolean.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Long(i) => *i != 0,
            Value::Double(d) => *d != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::Array(items) => match items.len() {
                0 => false,
                1 => items[0].is_truthy(),
                _ => true,
            },
            Value::Enum(e) => e.value != 0,
            _ => true,
        }
    }

    /// The values this value enumerates to in a pipeline (arrays unroll; everything else is one value;
    /// `$null` is one `$null`).
    pub fn enumerate(self) -> Vec<Value> {
        match self {
            Value::Array(items) => Arc::try_unwrap(items).unwrap_or_else(|shared| (*shared).clone()),
            other => vec![other],
        }
    }

    /// Member access (`$x.Name`): properties of objects, keys of hashtables, `Count`/`Length` of collections and
    /// strings; member enumeration over arrays.
    pub fn member(&self, name: &str) -> Value {
        match self {
            Value::Object(o) => {
                if let Some((_, v)) = o.properties.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
                    return v.clone();
                }
                Value::Null
            }
            Value::Hashtable(entries) => {
                if let Some((_, v)) = entries.iter().find(|(k, _)| k.to_ps_string().eq_ignore_ascii_case(name)) {
                    return v.clone();
                }
                match name.to_ascii_lowercase().as_str() {
                    "count" => Value::Int(entries.len() as i32),
                    "keys" => Value::array(entries.iter().map(|(k, _)| k.clone()).collect()),
                    "values" => Value::array(entries.iter().map(|(_, v)| v.clone()).collect()),
                    _ => Value::Null,
                }
            }
            Value::Array(items) => match name.to_ascii_lowercase().as_str() {
                "count" | "length" => Value::Int(items.len() as i32),
                _ => {
                    let values: Vec<Value> =
                        items.iter().map(|item| item.member(name)).filter(|v| !v.is_null()).collect();
                    match values.len() {
                        0 => Value::Null,
                        1 => values.into_iter().next().unwrap_or(Value::Null),
                        _ => Value::array(values),
                    }
                }
            },
            Value::String(s) => match name.to_ascii_lowercase().as_str() {
                "length" => Value::Int(s.chars().count() as i32),
                "count" => Value::Int(1),
                _ => Value::Null,
            },
            Value::Version(v) => {
                let parts: Vec<i32> = v.split('.').map(|p| p.parse().unwrap_or(-1)).collect();
                let part = |i: usize| Value::Int(parts.get(i).copied().unwrap_or(-1));
                match name.to_ascii_lowercase().as_str() {
                    "major" => part(0),
                    "minor" => part(1),
                    "build" => part(2),
                    "revision" => part(3),
                    _ => Value::Null,
                }
            }
            Value::DateTime(ticks) => {
                let (y, mo, d, h, mi, s, frac) = civil_from_ticks(*ticks);
                match name.to_ascii_lowercase().as_str() {
                    "year" => Value::Int(y as i32),
                    "month" => Value::Int(mo as i32),
                    "day" => Value::Int(d as i32),
                    "hour" => Value::Int(h as i32),
                    "minute" => Value::Int(mi as i32),
                    "second" => Value::Int(s as i32),
                    "millisecond" => Value::Int((frac / 10_000) as i32),
                    "ticks" => Value::Long(*ticks),
                    _ => Value::Null,
                }
            }
            Value::Enum(e) => match name.to_ascii_lowercase().as_str() {
                "value__" => Value::Int(e.value),
                _ => Value::Null,
            },
            Value::Null => Value::Null,
            _ => match name.to_ascii_lowercase().as_str() {
                "count" | "length" => Value::Int(1),
                _ => Value::Null,
            },
        }
    }

    /// Indexing (`$x[i]`): arrays (negative from the end), strings (a one-character string), hashtables (by key).
    pub fn index(&self, index: &Value) -> Value {
        match self {
            Value::Array(items) => match index.to_i64() {
                Some(i) => {
                    let len = items.len() as i64;
                    let i = if i < 0 { len + i } else { i };
                    usize::try_from(i).ok().and_then(|i| items.get(i)).cloned().unwrap_or(Value::Null)
                }
                None => Value::Null,
            },
            Value::String(s) => match index.to_i64() {
                Some(i) => {
                    let len = s.chars().count() as i64;
                    let i = if i < 0 { len + i } else { i };
                    usize::try_from(i)
                        .ok()
                        .and_then(|i| s.chars().nth(i))
                        .map_or(Value::Null, |c| Value::string(c.to_string()))
                }
                None => Value::Null,
            },
            Value::Hashtable(entries) => {
                entries.iter().find(|(k, _)| compare_eq(k, index)).map_or(Value::Null, |(_, v)| v.clone())
            }
            Value::Null => Value::Null,
            other => match index.to_i64() {
                Some(0) | Some(-1) => other.clone(),
                _ => Value::Null,
            },
        }
    }

    /// Conversion to a 64-bit integer (numbers round half to even like .NET; numeric strings parse).
    pub fn to_i64(&self) -> Option<i64> {
        match self {
            Value::Bool(b) => Some(i64::from(*b)),
            Value::Int(i) => Some(i64::from(*i)),
            Value::Long(i) => Some(*i),
            Value::Double(d) => {
                let r = d.round_ties_even();
                (r.is_finite() && r >= i64::MIN as f64 && r <= i64::MAX as f64).then_some(r as i64)
            }
            Value::String(s) => match super::parser::parse_number(s.trim()) {
                Some(super::parser::Literal::Int(i)) => Some(i64::from(i)),
                Some(super::parser::Literal::Long(i)) => Some(i),
                Some(super::parser::Literal::Double(d)) => Value::Double(d).to_i64(),
                _ => None,
            },
            Value::Enum(e) => Some(i64::from(e.value)),
            Value::Array(items) if items.len() == 1 => items[0].to_i64(),
            _ => None,
        }
    }

    /// Conversion to a double.
    pub fn to_f64(&self) -> Option<f64> {
        match self {
            Value::Double(d) => Some(*d),
            Value::String(s) => match super::parser::parse_number(s.trim()) {
                Some(super::parser::Literal::Int(i)) => Some(f64::from(i)),
                Some(super::parser::Literal::Long(i)) => Some(i as f64),
                Some(super::parser::Literal::Double(d)) => Some(d),
                _ => None,
            },
            Value::Array(items) if items.len() == 1 => items[0].to_f64(),
            other => other.to_i64().map(|i| i as f64),
        }
    }

    pub(crate) fn is_numeric(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Long(_) | Value::Double(_))
    }
}

/// An arithmetic or comparison failure, with PowerShell's error id.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OpError {
    pub error_id: &'static str,
    pub message: String,
}

fn op_error(error_id: &'static str, message: String) -> OpError {
    OpError { error_id, message }
}

fn too_big() -> OpError {
    op_error(
        "ResultTooLarge",
        format!("The result would exceed the engine's limits ({MAX_COLLECTION_LEN} elements, {MAX_STRING_LEN} bytes)."),
    )
}

/// `a + b`.
pub(crate) fn add(a: &Value, b: &Value) -> Result<Value, OpError> {
    match a {
        Value::String(s) => {
            let rhs = b.to_ps_string();
            if s.len() + rhs.len() > MAX_STRING_LEN {
                return Err(too_big());
            }
            Ok(Value::string(format!("{s}{rhs}")))
        }
        Value::Array(items) => {
            let mut out = (**items).clone();
            let extra = match b {
                Value::Array(more) => (**more).clone(),
                other => vec![other.clone()],
            };
            if out.len() + extra.len() > MAX_COLLECTION_LEN {
                return Err(too_big());
            }
            out.extend(extra);
            Ok(Value::array(out))
        }
        Value::Hashtable(entries) => match b {
            Value::Hashtable(more) => {
                let mut out = (**entries).clone();
                for (k, v) in more.iter() {
                    if out.iter().any(|(existing, _)| compare_eq(existing, k)) {
                        return Err(op_error(
                            "DuplicateKeyInHashLiteral",
                            format!("Item has already been added. Key in dictionary: '{}'", k.to_ps_string()),
                        ));
                    }
                    out.push((k.clone(), v.clone()));
                }
                Ok(Value::Hashtable(Arc::new(out)))
            }
            _ => Err(op_error(
                "AddHashTableToNonHashTable",
                "A hash table can only be added to another hash table.".into(),
            )),
        },
        Value::Null => Ok(b.clone()),
        Value::DateTime(_) | Value::Object(_) | Value::ScriptBlock(_) | Value::Version(_) => Err(op_error(
            "MethodNotFound",
            format!(
                "Method invocation failed because [{}] does not contain a method named 'op_Addition'.",
                a.type_name()
            ),
        )),
        _ => arithmetic(a, b, '+'),
    }
}

/// `a - b`, `a * b`, `a / b`, `a % b` (and numeric `+`).
pub(crate) fn arithmetic(a: &Value, b: &Value, op: char) -> Result<Value, OpError> {
    if op == '*' {
        match a {
            Value::String(s) => {
                let n = b.to_i64().filter(|n| *n >= 0).ok_or_else(|| invalid_operand(b))?;
                let n = usize::try_from(n).map_err(|_| too_big())?;
                if s.len().saturating_mul(n) > MAX_STRING_LEN {
                    return Err(too_big());
                }
                return Ok(Value::string(s.repeat(n)));
            }
            Value::Array(items) => {
                let n = b.to_i64().filter(|n| *n >= 0).ok_or_else(|| invalid_operand(b))?;
                let n = usize::try_from(n).map_err(|_| too_big())?;
                if items.len().saturating_mul(n) > MAX_COLLECTION_LEN {
                    return Err(too_big());
                }
                let mut out = Vec::with_capacity(items.len() * n);
                for _ in 0..n {
                    out.extend(items.iter().cloned());
                }
                return Ok(Value::array(out));
            }
            _ => {}
        }
    }
    let lhs = if a.is_null() { Value::Int(0) } else { a.clone() };
    let rhs = if b.is_null() { Value::Int(0) } else { b.clone() };
    let lhs = numeric_operand(&lhs).ok_or_else(|| invalid_operand(&lhs))?;
    let rhs = numeric_operand(&rhs).ok_or_else(|| invalid_operand(&rhs))?;
    let (Number::Integer(x), Number::Integer(y)) = (lhs, rhs) else {
        let (x, y) = (lhs.as_f64(), rhs.as_f64());
        let r = match op {
            '+' => x + y,
            '-' => x - y,
            '*' => x * y,
            '/' => {
                if y == 0.0 {
                    return Err(divide_by_zero());
                }
                x / y
            }
            _ => {
                if y == 0.0 {
                    return Err(divide_by_zero());
                }
                x % y
            }
        };
        return Ok(Value::Double(r));
    };
    let r: i128 = match op {
        '+' => x + y,
        '-' => x - y,
        '*' => x * y,
        '/' => {
            if y == 0 {
                return Err(divide_by_zero());
            }
            if x % y != 0 {
                return Ok(Value::Double(x as f64 / y as f64));
            }
            x / y
        }
        _ => {
            if y == 0 {
                return Err(divide_by_zero());
            }
            x % y
        }
    };
    // PowerShell widens an overflowing Int32/Int64 result to Double.
    let widest_is_long = matches!(a, Value::Long(_)) || matches!(b, Value::Long(_));
    if let Ok(i) = i32::try_from(r)
        && !widest_is_long
    {
        return Ok(Value::Int(i));
    }
    if let Ok(i) = i64::try_from(r)
        && widest_is_long
    {
        return Ok(Value::Long(i));
    }
    Ok(Value::Double(r as f64))
}

fn divide_by_zero() -> OpError {
    op_error("RuntimeException", "Attempted to divide by zero.".into())
}

fn invalid_operand(v: &Value) -> OpError {
    op_error(
        "InvalidCastFromStringToDoubleOrSingle",
        format!("Cannot convert value \"{}\" to type \"System.Double\".", v.to_ps_string()),
    )
}

#[derive(Clone, Copy)]
enum Number {
    Integer(i128),
    Float(f64),
}

impl Number {
    fn as_f64(self) -> f64 {
        match self {
            Number::Integer(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

fn numeric_operand(v: &Value) -> Option<Number> {
    match v {
        Value::Int(i) => Some(Number::Integer(i128::from(*i))),
        Value::Long(i) => Some(Number::Integer(i128::from(*i))),
        Value::Bool(b) => Some(Number::Integer(i128::from(*b))),
        Value::Double(d) => Some(Number::Float(*d)),
        Value::Enum(e) => Some(Number::Integer(i128::from(e.value))),
        Value::String(s) => match super::parser::parse_number(s.trim()) {
            Some(super::parser::Literal::Int(i)) => Some(Number::Integer(i128::from(i))),
            Some(super::parser::Literal::Long(i)) => Some(Number::Integer(i128::from(i))),
            Some(super::parser::Literal::Double(d)) => Some(Number::Float(d)),
            _ if s.trim().is_empty() => Some(Number::Integer(0)),
            _ => None,
        },
        _ => None,
    }
}

/// `-eq` for scalars: numbers compare numerically, strings case-insensitively, the left operand's type leads.
pub(crate) fn compare_eq(a: &Value, b: &Value) -> bool {
    compare(a, b) == Some(Ordering::Equal)
}

/// Ordering of two scalars under PowerShell's rules (left operand's type leads); `None` when incomparable.
pub(crate) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (Value::Null, _) => Some(Ordering::Less),
        (_, Value::Null) => Some(Ordering::Greater),
        (Value::String(x), _) => Some(cmp_ignore_case(x, &b.to_ps_string())),
        (Value::Bool(x), _) => Some(x.cmp(&b.is_truthy())),
        (Value::DateTime(x), Value::DateTime(y)) => Some(x.cmp(y)),
        (Value::Version(x), Value::Version(y)) => Some(compare_versions(x, y)),
        _ if a.is_numeric() || matches!(a, Value::Enum(_)) => match (numeric_operand(a), numeric_operand(b)) {
            (Some(Number::Integer(x)), Some(Number::Integer(y))) => Some(x.cmp(&y)),
            (Some(x), Some(y)) => x.as_f64().partial_cmp(&y.as_f64()),
            _ => Some(cmp_ignore_case(&a.to_ps_string(), &b.to_ps_string())),
        },
        _ => {
            if a == b {
                Some(Ordering::Equal)
            } else {
                let (x, y) = (a.to_ps_string(), b.to_ps_string());
                let ord = cmp_ignore_case(&x, &y);
                (ord == Ordering::Equal).then_some(ord).or(if a.is_numeric() { Some(ord) } else { None })
            }
        }
    }
}

fn compare_versions(x: &str, y: &str) -> Ordering {
    let parse = |s: &str| s.split('.').map(|p| p.parse::<i64>().unwrap_or(-1)).collect::<Vec<_>>();
    parse(x).cmp(&parse(y))
}

fn cmp_ignore_case(a: &str, b: &str) -> Ordering {
    a.chars().flat_map(char::to_lowercase).cmp(b.chars().flat_map(char::to_lowercase))
}

/// PowerShell's wildcard match (`*`, `?`, `[abc]`, `[a-z]`, backtick escapes), case-insensitive.
pub(crate) fn wildcard_match(pattern: &str, text: &str) -> bool {
    #[derive(Debug)]
    enum Token {
        Any,
        One,
        Set(Vec<(char, char)>),
        Char(char),
    }
    let mut tokens = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => tokens.push(Token::Any),
            '?' => tokens.push(Token::One),
            '`' => match chars.next() {
                Some(n) => tokens.push(Token::Char(n)),
                None => tokens.push(Token::Char('`')),
            },
            '[' => {
                let mut ranges = Vec::new();
                let mut closed = false;
                while let Some(n) = chars.next() {
                    if n == ']' {
                        closed = true;
                        break;
                    }
                    if chars.peek() == Some(&'-') {
                        chars.next();
                        match chars.next() {
                            Some(']') => {
                                ranges.push((n, n));
                                ranges.push(('-', '-'));
                                closed = true;
                                break;
                            }
                            Some(hi) => ranges.push((n, hi)),
                            None => ranges.push((n, n)),
                        }
                    } else {
                        ranges.push((n, n));
                    }
                }
                if closed {
                    tokens.push(Token::Set(ranges));
                } else {
                    return false;
                }
            }
            other => tokens.push(Token::Char(other)),
        }
    }
    let text: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let lower = |c: char| c.to_lowercase().next().unwrap_or(c);
    // Iterative matching with backtracking on the last `*` (linear memory, no recursion).
    let (mut t, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        let matched = match tokens.get(p) {
            Some(Token::One) => true,
            Some(Token::Char(c)) => lower(*c) == text[t],
            Some(Token::Set(ranges)) => ranges.iter().any(|(lo, hi)| (lower(*lo)..=lower(*hi)).contains(&text[t])),
            _ => false,
        };
        if matched {
            t += 1;
            p += 1;
        } else if let Some(Token::Any) = tokens.get(p) {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    tokens[p..].iter().all(|tok| matches!(tok, Token::Any))
}

/// Formats a double the way .NET's `ToString()` does for common values (`1.5`, `1E+20`).
pub(crate) fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let abs = d.abs();
    if abs != 0.0 && !(1e-5..1e15).contains(&abs) {
        let s = format!("{d:E}");
        // Rust: 1E20, 1.5E-7 → .NET: 1E+20, 1.5E-07
        if let Some((mantissa, exp)) = s.split_once('E') {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(rest) => ('-', rest),
                None => ('+', exp),
            };
            return format!("{mantissa}E{sign}{digits:0>2}");
        }
        return s;
    }
    format!("{d}")
}

/// .NET ticks at 1970-01-01T00:00:00Z.
pub const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;

/// Year, month, day, hour, minute, second and sub-second ticks of a tick count (proleptic Gregorian, UTC).
pub fn civil_from_ticks(ticks: i64) -> (i64, u32, u32, u32, u32, u32, i64) {
    let ticks = ticks.max(0);
    let days = ticks / 864_000_000_000;
    let rem = ticks % 864_000_000_000;
    let secs = rem / 10_000_000;
    let frac = rem % 10_000_000;
    // Days since 0001-01-01 → civil date (algorithm of H. Hinnant, shifted to the 1970 epoch).
    let z = days - 719_162 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (y, m, d, (secs / 3600) as u32, ((secs / 60) % 60) as u32, (secs % 60) as u32, frac)
}

/// `MM/dd/yyyy HH:mm:ss` (PowerShell's invariant-culture string form of a DateTime).
pub(crate) fn format_datetime(ticks: i64) -> String {
    let (y, mo, d, h, mi, s, _) = civil_from_ticks(ticks);
    format!("{mo:02}/{d:02}/{y:04} {h:02}:{mi:02}:{s:02}")
}

/// ISO 8601 with 7 fractional digits and `Z` (the CLIXML `<DT>` form of a UTC DateTime).
pub fn format_datetime_iso(ticks: i64) -> String {
    let (y, mo, d, h, mi, s, frac) = civil_from_ticks(ticks);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:07}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_to_civil() {
        assert_eq!(format_datetime(UNIX_EPOCH_TICKS), "01/01/1970 00:00:00");
        // 2026-11-22T15:43:20Z = 1795362200 s since the Unix epoch
        assert_eq!(
            format_datetime_iso(UNIX_EPOCH_TICKS + 1_795_362_200 * 10_000_000 + 5),
            "2026-11-22T15:43:20.0000005Z"
        );
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("Job*", "job12"));
        assert!(wildcard_match("*-Job", "Get-Job"));
        assert!(wildcard_match("?et-[a-j]ob", "Get-Job"));
        assert!(!wildcard_match("Get", "Get-Job"));
        assert!(wildcard_match("a`*", "a*"));
        assert!(!wildcard_match("a`*", "ab"));
        assert!(wildcard_match("*a*b*c*", "xxaxxbxxcxx"));
    }

    #[test]
    fn arithmetic_follows_powershell() {
        assert_eq!(arithmetic(&Value::Int(7), &Value::Int(2), '/'), Ok(Value::Double(3.5)));
        assert_eq!(arithmetic(&Value::Int(6), &Value::Int(2), '/'), Ok(Value::Int(3)));
        assert_eq!(arithmetic(&Value::Int(i32::MAX), &Value::Int(1), '+'), Ok(Value::Double(2147483648.0)));
        assert_eq!(arithmetic(&Value::Long(1), &Value::Int(1), '+'), Ok(Value::Long(2)));
        assert!(arithmetic(&Value::Int(1), &Value::Int(0), '/').is_err());
        assert_eq!(add(&Value::string("a"), &Value::Int(1)), Ok(Value::string("a1")));
        assert_eq!(format_double(1e20), "1E+20");
        assert_eq!(format_double(1.5), "1.5");
    }
}
