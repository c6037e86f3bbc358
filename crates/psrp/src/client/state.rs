//! The state enumerations of MS-PSRP 2.2.3.4 (RunspacePoolState) and 2.2.3.5 (PSInvocationState).

use std::fmt;

/// The state of a RunspacePool (MS-PSRP 2.2.3.4), as carried in RUNSPACEPOOL_STATE and tracked by the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunspacePoolState {
    /// 0: created, not yet opened.
    BeforeOpen,
    /// 1: being opened.
    Opening,
    /// 2: open and usable.
    Opened,
    /// 3: closed.
    Closed,
    /// 4: being closed.
    Closing,
    /// 5: failed; cannot be used again.
    Broken,
    /// 6: the client sent SESSION_CAPABILITY and waits for the server's.
    NegotiationSent,
    /// 7: capability exchange succeeded.
    NegotiationSucceeded,
    /// 8: a Connect (or Reconnect) is in progress.
    Connecting,
    /// 9: disconnected from this client; it may still run on the server.
    Disconnected,
}

impl RunspacePoolState {
    /// The wire value.
    pub const fn value(self) -> i32 {
        match self {
            RunspacePoolState::BeforeOpen => 0,
            RunspacePoolState::Opening => 1,
            RunspacePoolState::Opened => 2,
            RunspacePoolState::Closed => 3,
            RunspacePoolState::Closing => 4,
            RunspacePoolState::Broken => 5,
            RunspacePoolState::NegotiationSent => 6,
            RunspacePoolState::NegotiationSucceeded => 7,
            RunspacePoolState::Connecting => 8,
            RunspacePoolState::Disconnected => 9,
        }
    }

    /// Parses a wire value.
    pub const fn from_value(value: i32) -> Option<Self> {
        Some(match value {
            0 => RunspacePoolState::BeforeOpen,
            1 => RunspacePoolState::Opening,
            2 => RunspacePoolState::Opened,
            3 => RunspacePoolState::Closed,
            4 => RunspacePoolState::Closing,
            5 => RunspacePoolState::Broken,
            6 => RunspacePoolState::NegotiationSent,
            7 => RunspacePoolState::NegotiationSucceeded,
            8 => RunspacePoolState::Connecting,
            9 => RunspacePoolState::Disconnected,
            _ => return None,
        })
    }

    /// Whether the pool can never be used again (Closed or Broken).
    pub const fn is_final(self) -> bool {
        matches!(self, RunspacePoolState::Closed | RunspacePoolState::Broken)
    }

    /// The name PowerShell prints.
    pub const fn name(self) -> &'static str {
        match self {
            RunspacePoolState::BeforeOpen => "BeforeOpen",
            RunspacePoolState::Opening => "Opening",
            RunspacePoolState::Opened => "Opened",
            RunspacePoolState::Closed => "Closed",
            RunspacePoolState::Closing => "Closing",
            RunspacePoolState::Broken => "Broken",
            RunspacePoolState::NegotiationSent => "NegotiationSent",
            RunspacePoolState::NegotiationSucceeded => "NegotiationSucceeded",
            RunspacePoolState::Connecting => "Connecting",
            RunspacePoolState::Disconnected => "Disconnected",
        }
    }
}

impl fmt::Display for RunspacePoolState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The state of a pipeline (PowerShell's PSInvocationState, MS-PSRP 2.2.3.5), as carried in PIPELINE_STATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PsInvocationState {
    /// 0: not started yet.
    NotStarted,
    /// 1: running.
    Running,
    /// 2: being stopped.
    Stopping,
    /// 3: stopped by a stop request.
    Stopped,
    /// 4: completed.
    Completed,
    /// 5: failed; the state message carries the reason.
    Failed,
    /// 6: disconnected from this client; it may still run on the server.
    Disconnected,
}

impl PsInvocationState {
    /// The wire value.
    pub const fn value(self) -> i32 {
        match self {
            PsInvocationState::NotStarted => 0,
            PsInvocationState::Running => 1,
            PsInvocationState::Stopping => 2,
            PsInvocationState::Stopped => 3,
            PsInvocationState::Completed => 4,
            PsInvocationState::Failed => 5,
            PsInvocationState::Disconnected => 6,
        }
    }

    /// Parses a wire value.
    pub const fn from_value(value: i32) -> Option<Self> {
        Some(match value {
            0 => PsInvocationState::NotStarted,
            1 => PsInvocationState::Running,
            2 => PsInvocationState::Stopping,
            3 => PsInvocationState::Stopped,
            4 => PsInvocationState::Completed,
            5 => PsInvocationState::Failed,
            6 => PsInvocationState::Disconnected,
            _ => return None,
        })
    }

    /// Whether the pipeline has finished (Stopped, Completed or Failed).
    pub const fn is_finished(self) -> bool {
        matches!(self, PsInvocationState::Stopped | PsInvocationState::Completed | PsInvocationState::Failed)
    }

    /// The name PowerShell prints.
    pub const fn name(self) -> &'static str {
        match self {
            PsInvocationState::NotStarted => "NotStarted",
            PsInvocationState::Running => "Running",
            PsInvocationState::Stopping => "Stopping",
            PsInvocationState::Stopped => "Stopped",
            PsInvocationState::Completed => "Completed",
            PsInvocationState::Failed => "Failed",
            PsInvocationState::Disconnected => "Disconnected",
        }
    }
}

impl fmt::Display for PsInvocationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        for v in 0..=9 {
            let s = RunspacePoolState::from_value(v).expect("defined");
            assert_eq!(s.value(), v);
        }
        assert_eq!(RunspacePoolState::from_value(10), None);
        assert_eq!(RunspacePoolState::from_value(-1), None);
        for v in 0..=6 {
            let s = PsInvocationState::from_value(v).expect("defined");
            assert_eq!(s.value(), v);
        }
        assert_eq!(PsInvocationState::from_value(7), None);
        assert!(PsInvocationState::Completed.is_finished());
        assert!(!PsInvocationState::Disconnected.is_finished());
        assert!(RunspacePoolState::Broken.is_final());
        assert_eq!(RunspacePoolState::Disconnected.to_string(), "Disconnected");
    }
}
