//! How one value reads inside a table cell, a list entry or on its own line.

use std::fmt::{self, Write as _};

use pssession_psrp::clixml::{Container, PsDateTime, PsObject, PsValue};

/// The most text one cell or list value is rendered to: a `ToString` built from shared `<Ref>` objects can be
/// exponentially long, and nothing past a screenful is ever seen.
pub const CELL_TEXT_LIMIT: usize = 64 * 1024;
/// The most text one scalar line is rendered to, for the same reason.
pub const SCALAR_TEXT_LIMIT: usize = 1024 * 1024;

/// `value.to_string()`, stopped after `limit` bytes (at a character boundary).
pub fn bounded_to_string(value: &dyn fmt::Display, limit: usize) -> String {
    struct Bounded {
        out: String,
        limit: usize,
    }
    impl fmt::Write for Bounded {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let room = self.limit - self.out.len();
            if s.len() <= room {
                self.out.push_str(s);
                return Ok(());
            }
            let mut end = room;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            self.out.push_str(&s[..end]);
            Err(fmt::Error)
        }
    }
    let mut bounded = Bounded { out: String::new(), limit };
    // An error here only means the limit was reached.
    let _ = write!(bounded, "{value}");
    bounded.out
}

/// How many items of a collection a cell shows before `...` (PowerShell's `$FormatEnumerationLimit`).
pub const ENUMERATION_LIMIT: usize = 4;

/// A value inside a table cell or list entry: a collection as `{a, b, c, d...}`, a dictionary's entries as
/// `{[key, value], ...}` (PowerShell 7's text of a DictionaryEntry), an enum by name, a deserialized object by the `ToString` its sender computed (else its
/// type name), a primitive by its `ToString`.
pub fn cell_text(value: &PsValue) -> String {
    match value {
        PsValue::Object(object) => object_cell_text(object),
        PsValue::Bytes(bytes) => enumeration(bytes.iter().take(ENUMERATION_LIMIT).map(|b| b.to_string()), bytes.len()),
        other => bounded_to_string(other, CELL_TEXT_LIMIT),
    }
}

fn object_cell_text(object: &PsObject) -> String {
    if object.as_enum().is_some() {
        return bounded_to_string(object, CELL_TEXT_LIMIT);
    }
    match &object.container {
        Some(Container::Dictionary(entries)) => enumeration(
            entries.iter().map(|(key, value)| format!("[{}, {}]", item_text(key), item_text(value))),
            entries.len(),
        ),
        Some(container) => {
            let items = container.items().unwrap_or(&[]);
            enumeration(items.iter().map(item_text), items.len())
        }
        None => bounded_to_string(object, CELL_TEXT_LIMIT),
    }
}

/// An item inside an enumeration: a nested collection is not expanded again but shown by its type name, as
/// PowerShell does.
fn item_text(value: &PsValue) -> String {
    match value {
        PsValue::Object(object) if object.container.is_some() => {
            object.type_names().first().cloned().unwrap_or_else(|| {
                if object.dictionary().is_some() { "System.Collections.Hashtable" } else { "System.Object[]" }
                    .to_owned()
            })
        }
        PsValue::Bytes(_) => "System.Byte[]".to_owned(),
        other => bounded_to_string(other, CELL_TEXT_LIMIT),
    }
}

fn enumeration(items: impl Iterator<Item = String>, count: usize) -> String {
    let mut out = String::from("{");
    for (i, item) in items.take(ENUMERATION_LIMIT).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&item);
    }
    if count > ENUMERATION_LIMIT {
        out.push_str("...");
    }
    out.push('}');
    out
}

/// A cell shows one line: the first line of a multi-line value, with `...` when more follows; tabs become spaces.
pub fn one_line(text: String) -> String {
    if !text.contains(['\n', '\r', '\t']) {
        return text;
    }
    let mut lines = text.split(['\n', '\r']).filter(|line| !line.is_empty());
    let first = lines.next().unwrap_or("").replace('\t', " ");
    if lines.next().is_some() { format!("{first}...") } else { first }
}

/// A value on its own line, as Out-Default prints a scalar: a DateTime in the long form of its `DateTime`
/// property (`Monday, January 15, 2024 3:45:00 PM`), everything else by its `ToString`.
pub fn scalar_text(value: &PsValue) -> String {
    match value {
        PsValue::DateTime(dt) => long_date_time(dt),
        PsValue::Object(object) => match &object.base {
            Some(PsValue::DateTime(dt)) if object.to_string.is_none() => long_date_time(dt),
            _ => bounded_to_string(object, SCALAR_TEXT_LIMIT),
        },
        PsValue::String(text) => text.clone(),
        other => bounded_to_string(other, SCALAR_TEXT_LIMIT),
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// The note properties by which PowerShell recognises a debug, verbose or warning record merged into the output
/// stream (and rehydrates it as one), with the prefix its host prints before the message.
const RECORD_PREFIXES: [(&str, &str); 3] =
    [("WriteDebugStream", "DEBUG: "), ("WriteVerboseStream", "VERBOSE: "), ("WriteWarningStream", "WARNING: ")];

/// The text of a stream record found in the output stream (`2>&1`, `*>&1`): `WARNING: message` and the like for
/// informational records, an error record as PowerShell's host shows it ([`error_record_text`]).
pub fn record_text(value: &PsValue) -> Option<String> {
    let object = value.as_object()?;
    for (flag, prefix) in RECORD_PREFIXES {
        if object.property(flag).and_then(PsValue::as_bool) == Some(true) {
            let message = object
                .property("InformationalRecord_Message")
                .map(|m| bounded_to_string(m, SCALAR_TEXT_LIMIT))
                .unwrap_or_else(|| bounded_to_string(object, SCALAR_TEXT_LIMIT));
            return Some(format!("{prefix}{message}"));
        }
    }
    if object.property("writeErrorStream").is_some() || object.property("ErrorCategory_Category").is_some() {
        return error_record_text(value);
    }
    None
}

/// An error record as Windows PowerShell's host prints it: the message, then the `CategoryInfo` and
/// `FullyQualifiedErrorId` lines; `None` when the value is not a readable ErrorRecord.
pub fn error_record_text(value: &PsValue) -> Option<String> {
    let record = pssession_psrp::messages::ErrorRecord::from_value(value).ok()?;
    let mut text = value.as_object().and_then(|o| o.to_string.clone()).unwrap_or_else(|| record.message.clone());
    if !record.reason.is_empty() || !record.activity.is_empty() {
        text.push_str(&format!("\n    + CategoryInfo          : {}", record.category_message()));
    }
    if !record.fully_qualified_error_id.is_empty() {
        text.push_str(&format!("\n    + FullyQualifiedErrorId : {}", record.fully_qualified_error_id));
    }
    Some(text)
}

/// en-US `dddd, MMMM d, yyyy h:mm:ss tt`.
pub fn long_date_time(dt: &PsDateTime) -> String {
    let (year, month, day, hour, minute, second, _) = dt.parts();
    let weekday = WEEKDAYS[(days_from_civil(year, month, day) + 4).rem_euclid(7) as usize];
    let month_name = MONTHS[(month.clamp(1, 12) - 1) as usize];
    let (hour12, meridiem) = twelve_hour(hour);
    format!("{weekday}, {month_name} {day}, {year} {hour12}:{minute:02}:{second:02} {meridiem}")
}

/// en-US short date and time in the `"{0,10}  {1,8}"` layout of `Get-ChildItem`'s LastWriteTime column:
/// ` 1/15/2024   3:45 PM`.
pub fn file_time(dt: &PsDateTime) -> String {
    let (year, month, day, hour, minute, _, _) = dt.parts();
    let (hour12, meridiem) = twelve_hour(hour);
    format!("{:>10}  {:>8}", format!("{month}/{day}/{year}"), format!("{hour12}:{minute:02} {meridiem}"))
}

fn twelve_hour(hour: i64) -> (i64, &'static str) {
    match hour {
        0 => (12, "AM"),
        1..=11 => (hour, "AM"),
        12 => (12, "PM"),
        _ => (hour - 12, "PM"),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (1970-01-01 was a Thursday).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// A numeric value as a double (integers, floats, decimals, and objects wrapping one).
pub fn as_f64(value: &PsValue) -> Option<f64> {
    match value {
        PsValue::Single(v) => Some(f64::from(*v)),
        PsValue::Double(v) => Some(*v),
        PsValue::Decimal(d) => d.to_string().parse().ok(),
        PsValue::U64(v) => Some(*v as f64),
        PsValue::Object(object) => object.base.as_ref().and_then(as_f64),
        other => other.as_i64().map(|v| v as f64),
    }
}

/// Whether a value is a number (numbers are right-aligned in tables PowerShell lays out by itself).
pub fn is_numeric(value: &PsValue) -> bool {
    match value {
        PsValue::U8(_)
        | PsValue::I8(_)
        | PsValue::U16(_)
        | PsValue::I16(_)
        | PsValue::U32(_)
        | PsValue::I32(_)
        | PsValue::U64(_)
        | PsValue::I64(_)
        | PsValue::Single(_)
        | PsValue::Double(_)
        | PsValue::Decimal(_) => true,
        PsValue::Object(object) => object.as_enum().is_none() && object.base.as_ref().is_some_and(is_numeric),
        _ => false,
    }
}

/// .NET's `ToString("N")` in en-US: two decimals, thousands separated by commas (`1,234.57`).
pub fn number_n2(value: f64) -> String {
    if !value.is_finite() {
        return if value.is_nan() {
            "NaN".into()
        } else if value > 0.0 {
            "∞".into()
        } else {
            "-∞".into()
        };
    }
    let fixed = format!("{:.2}", value.abs());
    let (whole, fraction) = fixed.split_once('.').unwrap_or((&fixed, "00"));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if value < 0.0 && fixed.bytes().any(|b| b.is_ascii_digit() && b != b'0') { "-" } else { "" };
    format!("{sign}{grouped}.{fraction}")
}

/// PowerShell's `[long]` conversion of a double: rounded half to even.
pub fn round_half_even(value: f64) -> i64 {
    let rounded = value.round();
    let result = if (value - value.trunc()).abs() == 0.5 { 2.0 * (value / 2.0).round() } else { rounded };
    result as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_in_en_us() {
        assert_eq!(number_n2(1234.567), "1,234.57");
        assert_eq!(number_n2(0.05), "0.05");
        assert_eq!(number_n2(-1234567.0), "-1,234,567.00");
        assert_eq!(round_half_even(2.5), 2);
        assert_eq!(round_half_even(3.5), 4);
        assert_eq!(round_half_even(2.4), 2);
        assert_eq!(round_half_even(-2.5), -2);
    }

    #[test]
    fn dates_read_as_in_en_us() {
        let dt = PsDateTime::parse("2024-01-15T15:45:09").expect("date");
        assert_eq!(long_date_time(&dt), "Monday, January 15, 2024 3:45:09 PM");
        assert_eq!(file_time(&dt), " 1/15/2024   3:45 PM");
        let midnight = PsDateTime::parse("2000-02-29T00:05:00Z").expect("date");
        assert_eq!(long_date_time(&midnight), "Tuesday, February 29, 2000 12:05:00 AM");
    }

    #[test]
    fn shared_references_cannot_blow_a_cell_up() {
        // Each level references the one below twice: 2^40 leaves if rendered in full.
        let mut value = PsValue::from("leaf");
        for _ in 0..40 {
            value = PsObject::custom([("L", value.clone()), ("R", value)]).into();
        }
        let text = cell_text(&value);
        assert_eq!(text.len(), CELL_TEXT_LIMIT);
        assert!(text.starts_with("@{L=@{L="));
        assert_eq!(scalar_text(&value).len(), SCALAR_TEXT_LIMIT);
    }

    #[test]
    fn collections_show_four_items() {
        let list = |n: i32| {
            let mut object = PsObject::with_type_names(["System.Object[]", "System.Array", "System.Object"]);
            object.container = Some(Container::List((1..=n).map(PsValue::I32).collect()));
            PsValue::from(object)
        };
        assert_eq!(cell_text(&list(3)), "{1, 2, 3}");
        assert_eq!(cell_text(&list(6)), "{1, 2, 3, 4...}");
        let mut outer = PsObject::with_type_names(["System.Object[]"]);
        outer.container = Some(Container::List(vec![list(2), PsValue::from("x")]));
        assert_eq!(cell_text(&outer.into()), "{System.Object[], x}");
        assert_eq!(one_line("first\r\nsecond".to_owned()), "first...");
    }
}
