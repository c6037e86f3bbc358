//! `xs:duration` as WS-Management uses it: `OperationTimeout` (`PT20S`, `PT60.000S`), `IdleTimeOut`
//! (`PT7200.000S`) and the shell's `ShellRunTime`/`ShellInactivity` (`P0DT0H1M2S`).
//!
//! Values are non-negative and held in milliseconds, the precision Windows writes. Years and months have no fixed
//! length and are rejected.

use std::fmt;
use std::time::Duration;

/// The largest value accepted, in milliseconds (about 292 million years — no overflow in arithmetic below).
const MAX_MILLIS: u128 = u64::MAX as u128;

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurationError {
    /// A leading `-`: WS-Management timeouts are never negative.
    Negative,
    /// Not an `xs:duration`; `reason` says which part.
    Invalid {
        /// What was wrong.
        reason: &'static str,
    },
    /// Years or months, which have no fixed length.
    CalendarUnits,
    /// The value does not fit in 64-bit milliseconds.
    Overflow,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Negative => f.write_str("negative xs:duration"),
            DurationError::Invalid { reason } => write!(f, "invalid xs:duration: {reason}"),
            DurationError::CalendarUnits => f.write_str("xs:duration with years or months"),
            DurationError::Overflow => f.write_str("xs:duration too large"),
        }
    }
}

impl std::error::Error for DurationError {}

/// A non-negative `xs:duration` with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct XsDuration {
    millis: u64,
}

impl XsDuration {
    /// A duration of `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        XsDuration { millis }
    }

    /// A duration of `secs` seconds, saturating.
    pub const fn from_secs(secs: u64) -> Self {
        XsDuration { millis: secs.saturating_mul(1000) }
    }

    /// The value in milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.millis
    }

    /// The value as a [`Duration`].
    pub const fn to_std(self) -> Duration {
        Duration::from_millis(self.millis)
    }

    /// Parses `PnDTnHnMn.nS` forms (any subset of the components, fractional seconds truncated to milliseconds).
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        let invalid = |reason| DurationError::Invalid { reason };
        let s = text.trim();
        if s.starts_with('-') {
            return Err(DurationError::Negative);
        }
        let rest = s.strip_prefix('P').ok_or(invalid("missing leading P"))?;
        if rest.is_empty() {
            return Err(invalid("no components"));
        }
        let mut total: u128 = 0;
        let mut in_time = false;
        let mut any = false;
        let mut last_rank = 0u8;
        let mut num_start: Option<usize> = None;
        for (i, c) in rest.char_indices() {
            match c {
                '0'..='9' | '.' => {
                    num_start.get_or_insert(i);
                }
                'T' => {
                    if in_time || num_start.is_some() {
                        return Err(invalid("misplaced T"));
                    }
                    in_time = true;
                }
                _ => {
                    let start = num_start.take().ok_or(invalid("designator without a number"))?;
                    let number = rest.get(start..i).ok_or(invalid("bad number"))?;
                    let (rank, unit_millis): (u8, u128) = match (c, in_time) {
                        ('Y', false) | ('M', false) => return Err(DurationError::CalendarUnits),
                        ('D', false) => (1, 86_400_000),
                        ('H', true) => (2, 3_600_000),
                        ('M', true) => (3, 60_000),
                        ('S', true) => (4, 1000),
                        _ => return Err(invalid("unknown or misplaced designator")),
                    };
                    if rank <= last_rank {
                        return Err(invalid("components out of order"));
                    }
                    last_rank = rank;
                    any = true;
                    total += component_millis(number, unit_millis, rank == 4)?;
                    if total > MAX_MILLIS {
                        return Err(DurationError::Overflow);
                    }
                }
            }
        }
        if num_start.is_some() {
            return Err(invalid("number without a designator"));
        }
        if !any {
            return Err(invalid("no components"));
        }
        let millis = u64::try_from(total).map_err(|_| DurationError::Overflow)?;
        Ok(XsDuration { millis })
    }

    /// Seconds with three decimals, as Windows writes `IdleTimeOut` and PowerShell writes `OperationTimeout`:
    /// `PT7200.000S`.
    pub fn to_seconds_string(self) -> String {
        format!("PT{}.{:03}S", self.millis / 1000, self.millis % 1000)
    }

    /// Days, hours, minutes and whole seconds, as Windows writes `ShellRunTime`: `P0DT0H1M2S`.
    pub fn to_dhms_string(self) -> String {
        let secs = self.millis / 1000;
        format!("P{}DT{}H{}M{}S", secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60)
    }
}

fn component_millis(number: &str, unit_millis: u128, fraction_allowed: bool) -> Result<u128, DurationError> {
    let invalid = |reason| DurationError::Invalid { reason };
    let (whole, frac) = match number.split_once('.') {
        Some((w, f)) if fraction_allowed => (w, f),
        Some(_) => return Err(invalid("fraction on a component other than seconds")),
        None => (number, ""),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("bad number"));
    }
    if number.ends_with('.') {
        return Err(invalid("bad number"));
    }
    let whole: u128 = whole.parse().map_err(|_| DurationError::Overflow)?;
    let whole = whole.checked_mul(unit_millis).filter(|v| *v <= MAX_MILLIS).ok_or(DurationError::Overflow)?;
    // Only seconds take a fraction: keep three digits (milliseconds), truncating the rest.
    let mut ms: u128 = 0;
    for (i, b) in frac.bytes().take(3).enumerate() {
        ms += u128::from(b - b'0') * [100, 10, 1][i];
    }
    Ok(whole + ms)
}

impl fmt::Display for XsDuration {
    /// Formats as [`XsDuration::to_seconds_string`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_seconds_string())
    }
}

impl std::str::FromStr for XsDuration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        XsDuration::parse(s)
    }
}

impl From<XsDuration> for Duration {
    fn from(d: XsDuration) -> Self {
        d.to_std()
    }
}
