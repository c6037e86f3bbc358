//! HTTP(S) transport for WS-Man envelopes (feature `transport`).
//!
//! * [`uri`] — the endpoint address rules of Connect-PSSession.
//! * [`tls`] — rustls configuration: verification on by default, `skip_ca_check`/`skip_cn_check` only through `TlsOptions::dangerous()`.
//! * [`auth`] — the boundary an authentication mechanism implements.
//! * [`client`] — [`HttpTransport`]: connections, authentication rounds, encryption, redirects, timeouts, proxy.
pub mod auth;
pub mod client;
pub mod tls;
pub mod uri;

pub use auth::{AuthStepError, ConnectionInfo, HttpAuthenticator, MessageEncryption};
pub use client::{HttpTransport, Response, SOAP_CONTENT_TYPE, TransportError, TransportOptions};
pub use tls::{ClientCertificate, DangerousTlsOptions, TlsConfigError, TlsOptions};
pub use uri::{EndpointUri, UriError};
