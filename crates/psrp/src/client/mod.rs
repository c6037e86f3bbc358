//! The client side of PSRP as sans-IO state machines.
//!
//! * [`ClientRunspacePool`] — one RunspacePool (= one WS-Man shell): builds `creationXml` and `connectXml`,
//!   defragments what the server sends (ObjectIds may arrive out of order), routes messages to the pool or to a
//!   pipeline by PID, and applies the state transitions of Create, Disconnect, Reconnect and Connect.
//! * [`ClientPipeline`] — one pipeline (= one WS-Man command) and [`PipelineSpec`], what CREATE_PIPELINE runs.
//! * [`ClientEvent`] / [`PipelineEvent`] — the typed results of received data.
//!
//! Nothing here performs I/O, reads a clock or draws random numbers: ids are handed in, bytes are handed over:
//! outgoing data comes from [`ClientRunspacePool::creation_payload`] (Create's `creationXml`),
//! [`ClientRunspacePool::connect_payload`] (Connect's `connectXml`) and [`ClientRunspacePool::next_payload`]
//! (Command's `Arguments`, Send); received `rsp:Stream` bytes go to [`ClientRunspacePool::receive`]; WS-Man outcomes
//! without PSRP data are reported with the `*_started` / `*_completed` / [`ClientRunspacePool::set_broken`] methods.
//!
//! State model (MS-PSRP 2.2.3.4): Create `BeforeOpen → NegotiationSent → NegotiationSucceeded → Opened` (on
//! RUNSPACEPOOL_STATE); Connect `BeforeOpen|Disconnected → Connecting → NegotiationSucceeded → Opened` (on
//! RUNSPACEPOOL_INIT_DATA: Windows sends no pool state after a Connect); Disconnect `Opened → Disconnected`;
//! Reconnect `Disconnected → Connecting → Opened`; failures `→ Broken`; Close `→ Closing → Closed`.

mod bodies;
mod capability;
mod error;
mod events;
mod pipeline;
mod pool;
mod state;

pub use bodies::{
    ProtocolVersion, SessionCapability, client_session_capability, connect_runspace_pool, init_runspace_pool,
};
pub use error::ClientError;
pub use events::{ClientEvent, Clixml, HostCall, PipelineEvent, RemoteError};
pub use pipeline::{ArgumentValue, ClientPipeline, CommandSpec, PipelineSpec};
pub use pool::{
    ClientRunspacePool, DEFAULT_MAX_ENVELOPE_SIZE, ENVELOPE_OVERHEAD, MIN_MAX_ENVELOPE_SIZE,
    PROTOCOL_2_1_MAX_ENVELOPE_SIZE, ReceivedMessages, RunspacePoolConfig, payload_budget,
};
pub use state::{PsInvocationState, RunspacePoolState};

#[cfg(test)]
mod tests;
