//! PowerShell remoting's disconnect/reconnect flow for every OS.
//!
//! This crate will compose `pssession-psrp`, `pssession-wsman` and `pssession-auth` into the operations of
//! `New-PSSession`, `Disconnect-PSSession`, `Get-PSSession -ComputerName`, `Connect-PSSession` and
//! `Receive-PSSession`. What exists today: the per-user session store ([`store`]) that gives the CLI PowerShell's
//! local session Ids across invocations, and a re-export of the PSRP core; see ARCHITECTURE.md.
#![forbid(unsafe_code)]

pub mod authentication;
pub mod store;

pub use pssession_psrp as psrp;
