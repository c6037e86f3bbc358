//! The embedded WinRM endpoint with PowerShell-plugin semantics.
//!
//! This crate will hold the endpoint that `pssession serve` and `pssession demo` run and that the end-to-end
//! tests drive with pypsrp and our own client. What exists today are its operator-facing foundations:
//!
//! * [`users`] — the users file (`user:password` per line), with passwords in zeroizing memory.
//! * [`certificate`] — the HTTPS certificate, given as PEM or generated once and reused.
//! * [`engine`] — the command engine that runs pipelines inside sessions.
//!
//! The WS-Man request handling, authentication acceptors and listeners come with the server issue; see
//! ARCHITECTURE.md.
#![forbid(unsafe_code)]

pub mod certificate;
pub mod engine;
pub mod users;

pub use certificate::{CertificateError, CertificateSource, ServerCertificate};
pub use users::{User, Users, UsersError};
