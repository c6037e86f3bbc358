//! The embedded WinRM endpoint with PowerShell-plugin semantics.
//!
//! The endpoint that `pssession serve` runs and that the end-to-end tests drive with pypsrp and our own client:
//!
//! * [`listener`] — [`Server::builder`]: HTTP and HTTPS listeners, graceful shutdown.
//! * [`endpoint`] — HTTP requests on a connection: Negotiate/NTLM (with `multipart/encrypted` bodies), Basic,
//!   CredSSP, client certificates, AllowUnencrypted.
//! * [`service`] — the WS-Management shell service: Create, Command, Send, Receive (long poll), Signal, Delete,
//!   Get, Disconnect, Reconnect, Connect, Enumerate/Pull/Release, with the per-user shell state machine.
//! * [`plugin`] — the boundary to the shell's content: [`plugin::Plugin`], [`plugin::PluginShell`],
//!   [`plugin::OutputSink`].
//! * [`config`] — the service settings ([`config::ServiceConfig`]).
//! * [`events`] — what happens to shells ([`events::ShellEvent`]), from [`Service::shell_events`].
//! * [`users`] — the users file (`user:password` per line), with passwords in zeroizing memory.
//! * [`certificate`] — the HTTPS certificate, given as PEM or generated once and reused.
//! * [`engine`] — the command engine that runs pipelines inside sessions.
#![forbid(unsafe_code)]
// WS-Management faults (`WsmanFault`, ~200 bytes) are the error type of the plugin boundary and of every operation:
// they are the cold path and are written to the wire as they are, so they are not boxed.
#![allow(clippy::result_large_err)]

pub mod certificate;
pub mod config;
pub mod endpoint;
pub mod engine;
pub mod events;
pub mod listener;
mod output;
pub mod plugin;
pub mod powershell;
pub mod service;
mod shell;
pub mod users;

pub use certificate::{CertificateError, CertificateSource, ServerCertificate};
pub use config::ServiceConfig;
pub use events::{DeleteCause, DisconnectCause, ShellChange, ShellEvent};
pub use listener::{RunningServer, Server, ServerBuilder, ServerError};
pub use plugin::{OutputSink, Plugin, PluginShell, ShellInfo};
pub use service::{Caller, DEFAULT_CONFIGURATION, EnvelopeReply, Service};
pub use users::{User, Users, UsersError};
