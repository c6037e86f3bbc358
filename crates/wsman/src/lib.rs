//! WS-Management shell protocol (MS-WSMV) as used by the PowerShell plugin.
//!
//! Not yet implemented: this crate will hold the sans-IO SOAP envelope codec for both roles, faults and
//! enumeration, with the HTTP(S) transport behind the `transport` feature. See ARCHITECTURE.md.
#![forbid(unsafe_code)]
