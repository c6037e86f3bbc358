//! PowerShell remoting's disconnect/reconnect flow for every OS.
//!
//! This crate composes `pssession-psrp` (the sans-IO PSRP client state machines), `pssession-wsman` (the SOAP
//! envelope codec, the Receive fast path and the HTTP transport) and `pssession-auth` into the operations of
//! `New-PSSession`,
//! `Invoke-Command`, `Disconnect-PSSession`, `Get-PSSession -ComputerName`, `Connect-PSSession`,
//! `Receive-PSSession` and `Remove-PSSession`:
//!
//! * [`Client`] — one client identity (`wsmv:SessionId`) at one endpoint: [`Client::new_session`],
//!   [`Client::get_sessions`], [`Client::connect`], [`Client::remove`];
//! * [`Session`] — one PSSession: [`Session::invoke`], [`Session::start`], [`Session::disconnect`],
//!   [`Session::reconnect`], [`Session::receive`], [`Session::remove`];
//! * [`SessionOptions`] / [`ConnectionTarget`] — New-PSSessionOption and the connection parameters;
//! * [`WsmanExchange`] — the transport seam (HTTP, or a replayer), [`IdSource`] — pinnable identifiers;
//! * [`fanout::fan_out`] — many targets, at most `ThrottleLimit` at once;
//! * [`SessionState`] / [`Availability`] — the help pages' state model.
//!
//! The `pssession` command line (package `pssession`) and the embedded endpoint (`pssession-server`) are separate
//! packages: this library depends on neither.
#![forbid(unsafe_code)]

pub mod authentication;
mod client;
pub mod delivery;
pub mod error;
pub mod exchange;
pub mod fanout;
pub mod ids;
mod listing;
pub mod options;
mod session;
pub mod state;
mod wire;

pub use client::{Client, MAX_ENUMERATION_PAGES, PROTOCOL_VERSION, SessionListing, SkippedSession};
pub use error::Error;
pub use exchange::WsmanExchange;
pub use ids::{FixedIds, IdPurpose, IdSource, RandomIds};
pub use listing::{CommandInfo, SessionFilter, SessionInfo, ShellInfo, wildcard_match};
pub use options::{ConnectionNotice, ConnectionObserver, ConnectionTarget, OutputBufferingMode, SessionOptions};
pub use pssession_psrp as psrp;
pub use pssession_psrp::client::{PipelineEvent, PipelineSpec, PsInvocationState};
pub use pssession_wsman::fault::{FaultKind, WsmanFault};
pub use session::{PipelineOutput, Session};
pub use state::{Availability, SessionState};

/// The README's example, compiled as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
