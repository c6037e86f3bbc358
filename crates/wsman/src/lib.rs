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
//! The SOAP envelope codec, for both roles (client: build requests, parse responses; server: parse requests,
//! build responses):
//!
//! * [`envelope`] — [`envelope::Request`] / [`envelope::Response`]: a [`header::Header`] and a typed body chosen by
//!   the Action; [`envelope::parse_request`], [`envelope::parse_response`], `write`/`to_bytes`.
//! * [`header`] — addressing, ResourceURI, selectors, options, timeouts; namespace and action URIs.
//! * [`ops`] — Create, Command, Send, Receive, Signal, Disconnect, Reconnect, Connect, Get bodies.
//! * [`shell`] — shell properties (`rsp:Shell`) in Windows' formats.
//! * [`enumeration`] — Enumerate / Pull / Release of shells and commands.
//! * [`identify`] — Identify (no Action, answered without authentication) and its IdentifyResponse.
//! * [`fault`] — SOAP faults, [`fault::WsmanFault`] and [`fault::FaultKind`], with Windows' texts for servers.
//! * [`size`] — how much PSRP payload fits one envelope.
#![forbid(unsafe_code)]

pub mod duration;
pub mod enumeration;
pub mod envelope;
pub mod error;
pub mod fault;
pub mod header;
pub mod identify;
pub mod multipart;
pub mod ops;
pub mod receive;
pub mod shell;
pub mod size;
#[cfg(feature = "transport")]
pub mod transport;
mod xml;

/// The README's example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
