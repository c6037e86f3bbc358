//! The engine's only source of wall-clock time, injected so that tests are deterministic.

use std::time::{SystemTime, UNIX_EPOCH};

use super::value::UNIX_EPOCH_TICKS;

/// A source of the current UTC time as .NET ticks (100 ns since 0001-01-01T00:00:00Z).
///
/// `Get-Date`, `InformationRecord.TimeGenerated` and job begin/end times read it. Waiting (`Start-Sleep`, rates)
/// never reads it: waiting uses tokio time, so `tokio::time::pause()` controls it in tests.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now_ticks(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ticks(&self) -> i64 {
        let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let ticks = i64::try_from(since.as_nanos() / 100).unwrap_or(i64::MAX - UNIX_EPOCH_TICKS);
        UNIX_EPOCH_TICKS.saturating_add(ticks)
    }
}

/// A clock that always reads the same instant.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now_ticks(&self) -> i64 {
        self.0
    }
}

/// A clock that starts at a given instant and advances with tokio time (so it follows `tokio::time::pause()`
/// and `advance()` in tests).
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    base_ticks: i64,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock reading `base_ticks` now. Must be created inside a tokio runtime when time is paused.
    pub fn new(base_ticks: i64) -> TokioClock {
        TokioClock { base_ticks, start: tokio::time::Instant::now() }
    }
}

impl Clock for TokioClock {
    fn now_ticks(&self) -> i64 {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(self.start);
        let ticks = i64::try_from(elapsed.as_nanos() / 100).unwrap_or(i64::MAX);
        self.base_ticks.saturating_add(ticks)
    }
}

/// .NET ticks of a Unix time in seconds (handy for configuring a [`FixedClock`]).
pub fn ticks_from_unix_seconds(seconds: i64) -> i64 {
    UNIX_EPOCH_TICKS.saturating_add(seconds.saturating_mul(10_000_000))
}
