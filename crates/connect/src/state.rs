//! The help pages' state model of a PSSession: [`SessionState`] relative to this client and [`Availability`].
//!
//! With the `serde` feature both serialize as their variant names (the CLI's session store keeps them).

/// A PSSession's state relative to this client (Get-PSSession's `State` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SessionState {
    /// Connected to this client.
    Opened,
    /// Not connected to this client; may be connected to another one (see [`Availability`]).
    Disconnected,
    /// The connection was lost unexpectedly, or the server no longer has the session.
    Broken,
    /// Closed; cannot be used again.
    Closed,
}

/// Whether a session can be used by this client (Get-PSSession's `Availability` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Availability {
    /// Connected to this client and idle.
    Available,
    /// Not connected to anyone: a disconnected session that can be connected.
    None,
    /// Connected to another client, or running a command.
    Busy,
}
