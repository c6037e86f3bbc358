//! Primitive values whose wire text needs exact .NET semantics: DateTime, TimeSpan, Decimal, Version and the
//! floating-point formats (MS-PSRP 2.2.5.1).

use std::fmt;

/// Ticks (100 ns) per second.
const TICKS_PER_SECOND: i64 = 10_000_000;
/// Ticks per day.
const TICKS_PER_DAY: i64 = 86_400 * TICKS_PER_SECOND;
/// Days from 0001-01-01 to 1970-01-01.
const DAYS_TO_UNIX_EPOCH: i64 = 719_162;
/// The largest tick value .NET accepts (9999-12-31T23:59:59.9999999).
const MAX_TICKS: i64 = 3_155_378_975_999_999_999;

/// How a [`PsDateTime`] relates to UTC, as .NET's `DateTimeKind` plus the offset written on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateTimeKind {
    /// No zone designator: a clock time of unknown zone.
    Unspecified,
    /// `Z`: UTC.
    Utc,
    /// `±hh:mm`: a local time of the sender, this many minutes east of UTC.
    Local {
        /// Offset from UTC in minutes.
        offset_minutes: i16,
    },
}

/// A `<DT>` value: `System.DateTime` with its kind, to 100 ns, lossless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PsDateTime {
    /// Ticks since 0001-01-01T00:00:00 of the clock time as written (not converted to UTC).
    pub ticks: i64,
    /// The zone designator.
    pub kind: DateTimeKind,
}

/// Why a primitive's text could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimitiveError {
    /// The tag whose text was invalid.
    pub tag: &'static str,
}

impl fmt::Display for PrimitiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid <{}> value", self.tag)
    }
}

impl std::error::Error for PrimitiveError {}

fn digits(text: &[u8], tag: &'static str) -> Result<i64, PrimitiveError> {
    if text.is_empty() || text.len() > 9 || !text.iter().all(u8::is_ascii_digit) {
        return Err(PrimitiveError { tag });
    }
    Ok(text.iter().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
}

/// Days since 0001-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    // Days since 1970-01-01, then shifted to 0001-01-01.
    era * 146_097 + doe - 719_468 + DAYS_TO_UNIX_EPOCH
}

/// The date of a day count since 0001-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days - DAYS_TO_UNIX_EPOCH + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl PsDateTime {
    /// A UTC time from seconds and nanoseconds since the Unix epoch.
    pub fn from_unix(seconds: i64, nanos: u32) -> Option<Self> {
        let ticks = seconds
            .checked_add(DAYS_TO_UNIX_EPOCH * 86_400)?
            .checked_mul(TICKS_PER_SECOND)?
            .checked_add(i64::from(nanos / 100))?;
        (0..=MAX_TICKS).contains(&ticks).then_some(PsDateTime { ticks, kind: DateTimeKind::Utc })
    }

    /// Parses the round-trip form .NET writes: `yyyy-MM-ddTHH:mm:ss[.fffffff][Z|±hh:mm]`.
    pub fn parse(text: &str) -> Result<Self, PrimitiveError> {
        const TAG: &str = "DT";
        let err = || PrimitiveError { tag: TAG };
        let b = text.trim().as_bytes();
        if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
            return Err(err());
        }
        let year = digits(&b[0..4], TAG)?;
        let month = digits(&b[5..7], TAG)?;
        let day = digits(&b[8..10], TAG)?;
        let hour = digits(&b[11..13], TAG)?;
        let minute = digits(&b[14..16], TAG)?;
        let second = digits(&b[17..19], TAG)?;
        if year == 0 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(err());
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(err());
        }
        let mut rest = &b[19..];
        let mut fraction = 0i64;
        if let Some(after_dot) = rest.strip_prefix(b".") {
            let len = after_dot.iter().take_while(|c| c.is_ascii_digit()).count();
            if len == 0 || len > 7 {
                return Err(err());
            }
            fraction = digits(&after_dot[..len], TAG)? * 10i64.pow(7 - len as u32);
            rest = &after_dot[len..];
        }
        let kind = match rest {
            [] => DateTimeKind::Unspecified,
            [b'Z'] => DateTimeKind::Utc,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let hours = digits(&[*h1, *h2], TAG)?;
                let minutes = digits(&[*m1, *m2], TAG)?;
                if hours > 14 || minutes > 59 {
                    return Err(err());
                }
                let offset = hours * 60 + minutes;
                let offset = if *sign == b'-' { -offset } else { offset };
                DateTimeKind::Local { offset_minutes: offset as i16 }
            }
            _ => return Err(err()),
        };
        let ticks = days_from_civil(year, month, day) * TICKS_PER_DAY
            + (hour * 3600 + minute * 60 + second) * TICKS_PER_SECOND
            + fraction;
        Ok(PsDateTime { ticks, kind })
    }

    /// The instant in UTC ticks (an unspecified time is taken as UTC).
    pub fn utc_ticks(&self) -> i64 {
        match self.kind {
            DateTimeKind::Local { offset_minutes } => self.ticks - i64::from(offset_minutes) * 60 * TICKS_PER_SECOND,
            _ => self.ticks,
        }
    }

    /// Seconds since the Unix epoch of [`PsDateTime::utc_ticks`], with the sub-second part in nanoseconds.
    pub fn to_unix(&self) -> (i64, u32) {
        let ticks = self.utc_ticks() - DAYS_TO_UNIX_EPOCH * TICKS_PER_DAY;
        (ticks.div_euclid(TICKS_PER_SECOND), (ticks.rem_euclid(TICKS_PER_SECOND) * 100) as u32)
    }

    /// (year, month, day, hour, minute, second, ticks within the second) of the clock time as written.
    pub fn parts(&self) -> (i64, i64, i64, i64, i64, i64, i64) {
        let days = self.ticks.div_euclid(TICKS_PER_DAY);
        let in_day = self.ticks.rem_euclid(TICKS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let seconds = in_day / TICKS_PER_SECOND;
        (year, month, day, seconds / 3600, seconds / 60 % 60, seconds % 60, in_day % TICKS_PER_SECOND)
    }

    /// The wire text: .NET's round-trip form with the fraction's trailing zeros trimmed (`XmlConvert` with
    /// `RoundtripKind`).
    pub fn to_wire(&self) -> String {
        let (year, month, day, hour, minute, second, fraction) = self.parts();
        let mut out = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
        if fraction != 0 {
            let digits = format!("{fraction:07}");
            out.push('.');
            out.push_str(digits.trim_end_matches('0'));
        }
        match self.kind {
            DateTimeKind::Unspecified => {}
            DateTimeKind::Utc => out.push('Z'),
            DateTimeKind::Local { offset_minutes } => {
                let sign = if offset_minutes < 0 { '-' } else { '+' };
                let abs = offset_minutes.unsigned_abs();
                out.push_str(&format!("{sign}{:02}:{:02}", abs / 60, abs % 60));
            }
        }
        out
    }
}

impl fmt::Display for PsDateTime {
    /// PowerShell's default (en-US) rendering: `5/1/2024 12:30:45 PM`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day, hour, minute, second, _) = self.parts();
        let (hour12, meridiem) = match hour {
            0 => (12, "AM"),
            1..=11 => (hour, "AM"),
            12 => (12, "PM"),
            _ => (hour - 12, "PM"),
        };
        write!(f, "{month}/{day}/{year} {hour12}:{minute:02}:{second:02} {meridiem}")
    }
}

/// A `<TS>` value: `System.TimeSpan` in ticks, written as `xs:duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PsDuration {
    /// Length in 100 ns ticks; negative for a negative span.
    pub ticks: i64,
}

impl PsDuration {
    /// A span of whole seconds.
    pub fn from_secs(seconds: i64) -> Self {
        PsDuration { ticks: seconds.saturating_mul(TICKS_PER_SECOND) }
    }

    /// Parses `xs:duration` as .NET's `XmlConvert.ToTimeSpan` does (a year is 365 days, a month 30).
    pub fn parse(text: &str) -> Result<Self, PrimitiveError> {
        let err = || PrimitiveError { tag: "TS" };
        let text = text.trim();
        let (negative, text) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let mut rest = text.strip_prefix('P').ok_or_else(err)?;
        let mut total: i128 = 0;
        let mut in_time = false;
        let mut any = false;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('T') {
                if in_time {
                    return Err(err());
                }
                in_time = true;
                rest = after;
                continue;
            }
            let number_len = rest.bytes().take_while(|c| c.is_ascii_digit() || *c == b'.').count();
            if number_len == 0 || number_len > 30 {
                return Err(err());
            }
            let (number, after) = rest.split_at(number_len);
            let designator = after.chars().next().ok_or_else(err)?;
            rest = &after[1..];
            let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
            if whole.is_empty() || (number.contains('.') && (designator != 'S' || fraction.is_empty())) {
                return Err(err());
            }
            let whole: i128 = whole.parse().map_err(|_| err())?;
            let unit: i128 = match (in_time, designator) {
                (false, 'Y') => 365 * TICKS_PER_DAY as i128,
                (false, 'M') => 30 * TICKS_PER_DAY as i128,
                (false, 'D') => TICKS_PER_DAY as i128,
                (true, 'H') => 3600 * TICKS_PER_SECOND as i128,
                (true, 'M') => 60 * TICKS_PER_SECOND as i128,
                (true, 'S') => TICKS_PER_SECOND as i128,
                _ => return Err(err()),
            };
            total = total.checked_add(whole.checked_mul(unit).ok_or_else(err)?).ok_or_else(err)?;
            if !fraction.is_empty() {
                if !fraction.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(err());
                }
                // .NET keeps seven digits (100 ns) and drops the rest.
                let kept = &fraction[..fraction.len().min(7)];
                let scaled: i128 = kept.parse::<i128>().map_err(|_| err())? * 10i128.pow(7 - kept.len() as u32);
                total += scaled;
            }
            any = true;
        }
        if !any {
            return Err(err());
        }
        let total = if negative { -total } else { total };
        let ticks = i64::try_from(total).map_err(|_| err())?;
        Ok(PsDuration { ticks })
    }

    /// The wire text as .NET's `XmlConvert.ToString(TimeSpan)` writes it: `P1DT2H3M4.5S`, `PT0S`.
    pub fn to_wire(&self) -> String {
        let mut out = String::new();
        if self.ticks < 0 {
            out.push('-');
        }
        let ticks = self.ticks.unsigned_abs();
        let day = TICKS_PER_DAY as u64;
        let second = TICKS_PER_SECOND as u64;
        let (days, rest) = (ticks / day, ticks % day);
        let (hours, rest) = (rest / (3600 * second), rest % (3600 * second));
        let (minutes, rest) = (rest / (60 * second), rest % (60 * second));
        let (seconds, fraction) = (rest / second, rest % second);
        out.push('P');
        if days != 0 {
            out.push_str(&format!("{days}D"));
        }
        if hours != 0 || minutes != 0 || seconds != 0 || fraction != 0 || days == 0 {
            out.push('T');
            if hours != 0 {
                out.push_str(&format!("{hours}H"));
            }
            if minutes != 0 {
                out.push_str(&format!("{minutes}M"));
            }
            if seconds != 0 || fraction != 0 || (hours == 0 && minutes == 0) {
                out.push_str(&seconds.to_string());
                if fraction != 0 {
                    out.push('.');
                    out.push_str(format!("{fraction:07}").trim_end_matches('0'));
                }
                out.push('S');
            }
        }
        out
    }
}

impl fmt::Display for PsDuration {
    /// `TimeSpan.ToString()`: `[-][d.]hh:mm:ss[.fffffff]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ticks = self.ticks.unsigned_abs();
        let second = TICKS_PER_SECOND as u64;
        let total_seconds = ticks / second;
        let fraction = ticks % second;
        let days = total_seconds / 86_400;
        if self.ticks < 0 {
            f.write_str("-")?;
        }
        if days != 0 {
            write!(f, "{days}.")?;
        }
        write!(f, "{:02}:{:02}:{:02}", total_seconds / 3600 % 24, total_seconds / 60 % 60, total_seconds % 60)?;
        if fraction != 0 {
            write!(f, ".{fraction:07}")?;
        }
        Ok(())
    }
}

/// A `<D>` value: `System.Decimal`, a 96-bit integer scaled by a power of ten, kept exactly (trailing zeros too,
/// as .NET does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PsDecimal {
    /// The unscaled magnitude, below 2^96.
    pub mantissa: u128,
    /// Decimal places, at most 28.
    pub scale: u8,
    /// The sign (also for zero, as .NET keeps `-0`).
    pub negative: bool,
}

impl PsDecimal {
    /// Parses `[-]digits[.digits]` as `XmlConvert.ToDecimal` accepts it.
    pub fn parse(text: &str) -> Result<Self, PrimitiveError> {
        let err = || PrimitiveError { tag: "D" };
        let text = text.trim();
        let (negative, text) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.len() > 28 {
            return Err(err());
        }
        let mut mantissa: u128 = 0;
        for c in whole.bytes().chain(fraction.bytes()) {
            if !c.is_ascii_digit() {
                return Err(err());
            }
            mantissa = mantissa.checked_mul(10).and_then(|m| m.checked_add(u128::from(c - b'0'))).ok_or_else(err)?;
            if mantissa >= 1u128 << 96 {
                return Err(err());
            }
        }
        Ok(PsDecimal { mantissa, scale: fraction.len() as u8, negative })
    }
}

impl fmt::Display for PsDecimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa.to_string();
        let scale = usize::from(self.scale);
        if self.negative {
            f.write_str("-")?;
        }
        if scale == 0 {
            return f.write_str(&digits);
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (whole, fraction) = padded.split_at(padded.len() - scale);
        write!(f, "{whole}.{fraction}")
    }
}

/// A `<Version>` value: `System.Version` with two to four parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PsVersion {
    /// Major part.
    pub major: u32,
    /// Minor part.
    pub minor: u32,
    /// Build part, when present.
    pub build: Option<u32>,
    /// Revision part, when present (only with a build).
    pub revision: Option<u32>,
}

impl PsVersion {
    /// `major.minor`.
    pub const fn new(major: u32, minor: u32) -> Self {
        PsVersion { major, minor, build: None, revision: None }
    }

    /// Parses `2.3`, `10.0.17763`, `10.0.17763.1`.
    pub fn parse(text: &str) -> Result<Self, PrimitiveError> {
        let err = || PrimitiveError { tag: "Version" };
        let mut parts = text.trim().split('.');
        let mut next = |required: bool| -> Result<Option<u32>, PrimitiveError> {
            match parts.next() {
                Some(p) if !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()) => {
                    p.parse().map(Some).map_err(|_| err())
                }
                None if !required => Ok(None),
                _ => Err(err()),
            }
        };
        let major = next(true)?.ok_or_else(err)?;
        let minor = next(true)?.ok_or_else(err)?;
        let build = next(false)?;
        let revision = if build.is_some() { next(false)? } else { None };
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(PsVersion { major, minor, build, revision })
    }
}

impl fmt::Display for PsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if let Some(build) = self.build {
            write!(f, ".{build}")?;
            if let Some(revision) = self.revision {
                write!(f, ".{revision}")?;
            }
        }
        Ok(())
    }
}

/// Parses a `<Db>`/`<Sg>` text: .NET's round-trip form, `INF`, `-INF`, `NaN`.
pub fn parse_float(text: &str, tag: &'static str) -> Result<f64, PrimitiveError> {
    let text = text.trim();
    match text {
        "INF" | "Infinity" => Ok(f64::INFINITY),
        "-INF" | "-Infinity" => Ok(f64::NEG_INFINITY),
        // .NET Core parses the NaN symbol case-insensitively, and psrpcore writes "NAN".
        _ if text.eq_ignore_ascii_case("NaN") => Ok(f64::NAN),
        _ if text.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E')) => {
            text.parse().map_err(|_| PrimitiveError { tag })
        }
        _ => Err(PrimitiveError { tag }),
    }
}

/// Formats a float as .NET Core's shortest round-trip `ToString("R")` does: fixed notation for decimal
/// exponents in `-4..threshold`, otherwise `1.5E+20` with at least two exponent digits. `threshold` is 15 for
/// Double and 7 for Single.
pub fn format_float(value: f64, shortest: &str, threshold: i32) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "INF".into() } else { "-INF".into() };
    }
    // `shortest` is Rust's `{:e}` of the value: `-1.2345e-7`.
    let (mantissa, exponent) = shortest.split_once('e').unwrap_or((shortest, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if digits.bytes().all(|d| d == b'0') {
        return format!("{sign}0");
    }
    if exponent >= threshold || exponent < -4 {
        let (first, rest) = digits.split_at(1);
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        let dot = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        return format!("{sign}{first}{dot}E{exponent_sign}{:02}", exponent.unsigned_abs());
    }
    if exponent < 0 {
        let zeros = "0".repeat(exponent.unsigned_abs() as usize - 1);
        return format!("{sign}0.{zeros}{digits}");
    }
    let point = exponent as usize + 1;
    if digits.len() <= point {
        format!("{sign}{digits}{}", "0".repeat(point - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    }
}

/// A Double's wire text.
pub fn format_double(value: f64) -> String {
    format_float(value, &format!("{value:e}"), 15)
}

/// A Single's wire text.
pub fn format_single(value: f32) -> String {
    format_float(f64::from(value), &format!("{value:e}"), 7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_round_trips_every_kind() {
        for text in [
            "2024-05-01T12:30:45.123456+00:00",
            "2024-05-01T12:30:45.1234567Z",
            "2024-02-29T00:00:00",
            "0001-01-01T00:00:00",
            "9999-12-31T23:59:59.9999999-05:30",
            "2018-11-26T14:45:12.5+01:00",
        ] {
            let parsed = PsDateTime::parse(text).unwrap();
            assert_eq!(parsed.to_wire(), text, "{text}");
        }
        let dt = PsDateTime::parse("1970-01-01T01:00:00+01:00").unwrap();
        assert_eq!(dt.to_unix(), (0, 0));
        assert_eq!(PsDateTime::from_unix(0, 500).unwrap().to_wire(), "1970-01-01T00:00:00.0000005Z");
        for bad in ["2023-02-29T00:00:00", "2024-13-01T00:00:00", "2024-01-01T24:00:00", "2024-01-01", "x"] {
            assert!(PsDateTime::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(PsDateTime::parse("2024-05-01T13:05:09Z").unwrap().to_string(), "5/1/2024 1:05:09 PM");
    }

    #[test]
    fn durations_follow_xmlconvert() {
        for (text, ticks) in [
            ("PT0S", 0),
            ("PT9.0269026S", 90_269_026),
            ("P1DT2H3M4.5S", TICKS_PER_DAY + (2 * 3600 + 3 * 60 + 4) * TICKS_PER_SECOND + 5_000_000),
            ("-PT1S", -TICKS_PER_SECOND),
            ("PT2H", 2 * 3600 * TICKS_PER_SECOND),
            ("P2D", 2 * TICKS_PER_DAY),
        ] {
            let parsed = PsDuration::parse(text).unwrap();
            assert_eq!(parsed.ticks, ticks, "{text}");
            assert_eq!(parsed.to_wire(), text);
        }
        assert_eq!(PsDuration::parse("PT7200.000S").unwrap().ticks, 7200 * TICKS_PER_SECOND);
        assert_eq!(PsDuration::parse("P1Y").unwrap().ticks, 365 * TICKS_PER_DAY);
        for bad in ["", "P", "PT", "1S", "PT1.S", "P1.5D", "PTxS"] {
            assert!(PsDuration::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(PsDuration::parse("P1DT2H3M4.5S").unwrap().to_string(), "1.02:03:04.5000000");
    }

    #[test]
    fn decimals_are_exact() {
        for text in ["0", "1.50", "-79228162514264337593543950335", "0.0000000000000000000000000001", "-0.0"] {
            assert_eq!(PsDecimal::parse(text).unwrap().to_string(), text);
        }
        assert!(PsDecimal::parse("79228162514264337593543950336").is_err());
        assert!(PsDecimal::parse("1e5").is_err());
        assert!(PsDecimal::parse(".").is_err());
    }

    #[test]
    fn versions_have_two_to_four_parts() {
        for text in ["2.3", "10.0.17763", "10.0.17763.1"] {
            assert_eq!(PsVersion::parse(text).unwrap().to_string(), text);
        }
        for bad in ["2", "2.", "1.2.3.4.5", "a.b"] {
            assert!(PsVersion::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn floats_use_dotnet_round_trip_text() {
        for (value, text) in [
            (1.5, "1.5"),
            (1e15, "1E+15"),
            (123456789012345.0, "123456789012345"),
            (0.0001, "0.0001"),
            (0.00001, "1E-05"),
            (-2.5e-300, "-2.5E-300"),
            (0.0, "0"),
            (f64::INFINITY, "INF"),
            (f64::NEG_INFINITY, "-INF"),
            (100.0, "100"),
        ] {
            assert_eq!(format_double(value), text);
            assert_eq!(parse_float(text, "Db").unwrap(), value);
        }
        assert_eq!(format_single(1e7), "1E+07");
        assert_eq!(format_single(0.1), "0.1");
        assert!(format_double(f64::NAN) == "NaN" && parse_float("NaN", "Db").unwrap().is_nan());
        assert!(parse_float("1,5", "Db").is_err());
    }
}
