//! The embedded WinRM endpoint with PowerShell-plugin semantics.
//!
//! Not yet implemented: this crate will hold the endpoint that `pssession serve` and `pssession demo` run, and
//! that the end-to-end tests drive with pypsrp and our own client. See ARCHITECTURE.md.
#![forbid(unsafe_code)]
