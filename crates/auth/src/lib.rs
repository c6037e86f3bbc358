//! Authentication mechanisms for WinRM as sans-IO security contexts.
//!
//! Not yet implemented: this crate will hold Basic, NTLM, Negotiate/SPNEGO, Kerberos, CredSSP and client
//! certificate authentication with WinRM message sealing, for client and server. See ARCHITECTURE.md.
#![forbid(unsafe_code)]
