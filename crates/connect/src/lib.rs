//! PowerShell remoting's disconnect/reconnect flow for every OS.
//!
//! This crate will compose `pssession-psrp`, `pssession-wsman` and `pssession-auth` into the operations of
//! `New-PSSession`, `Disconnect-PSSession`, `Get-PSSession -ComputerName`, `Connect-PSSession` and
//! `Receive-PSSession`. Today it re-exports the PSRP core, the only layer that exists yet; see ARCHITECTURE.md.
#![forbid(unsafe_code)]

pub use pssession_psrp as psrp;
