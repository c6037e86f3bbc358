//! WS-Management shell protocol (MS-WSMV) as used by the PowerShell plugin.
//!
//! This round provides the sans-IO pieces the HTTP transport sits on:
//!
//! * [`multipart`] — WinRM message encryption framing (`multipart/encrypted`, `multipart/x-multi-encrypted`) over a
//!   [`multipart::MessageSealer`] an authentication mechanism implements.
//! * [`duration`] — `xs:duration` values in the exact forms Windows emits (`PT7200.000S`, `P0DT0H1M2S`).
//!
//! * [`receive`] — the Receive hot path: `rsp:Stream` payloads decoded straight into [`bytes::Bytes`] views.
//!
//! * `transport` (feature `transport`) — the HTTP(S) client: keep-alive connections bound to one authentication
//!   context, 401 rounds, message encryption, redirects, TLS verification, timeouts, proxy.
//!
//! The full envelope codec (every operation, faults, enumeration) is not implemented yet.
#![forbid(unsafe_code)]

pub mod duration;
pub mod multipart;
pub mod receive;
#[cfg(feature = "transport")]
pub mod transport;

/// The README's example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
