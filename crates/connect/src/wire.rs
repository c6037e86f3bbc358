//! How identifiers and durations are written into WS-Man requests.

use std::time::Duration;

use pssession_wsman::duration::XsDuration;
use uuid::Uuid;

/// A ShellId/CommandId as WS-Man carries it: upper case (PowerShell: "wsman is case sensitive wrt shellId").
pub(crate) fn id_text(id: Uuid) -> String {
    id.hyphenated().to_string().to_uppercase()
}

/// A duration as `xs:duration`.
pub(crate) fn xs_duration(duration: Duration) -> XsDuration {
    XsDuration::from_millis(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}
