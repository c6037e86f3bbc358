//! Sans-IO implementation of the PowerShell Remoting Protocol (MS-PSRP).
//!
//! Every byte of a remoting session passes through this crate on its way between a WS-Man stream and a typed
//! PowerShell object:
//!
//! 1. [`fragment`] — the 21-byte fragment header and the [`Fragment`] it frames (MS-PSRP 2.2.4).
//! 2. [`defragment`] — the streaming [`Defragmenter`] that turns arbitrary byte chunks back into whole objects.
//! 3. [`message`] — the 40-byte message header and the [`Message`] it frames (MS-PSRP 2.2.1).
//! 4. [`fragmenter`] — the [`Fragmenter`] that cuts outgoing messages into fragments and packs them into
//!    payloads that fit a WS-Man envelope.
//!
//! The crate does no I/O, keeps no global state, reads no clock and draws no random numbers: identifiers and
//! limits are inputs. Malformed input always yields a typed error, never a panic.
#![forbid(unsafe_code)]

pub mod client;
pub mod clixml;
pub mod defragment;
pub mod fragment;
pub mod fragmenter;
pub mod message;
pub mod messages;
pub mod session_key;

pub use defragment::{DefragmentError, Defragmenter, DefragmenterLimits, ReassembledObject};
pub use fragment::{FRAGMENT_HEADER_LEN, Fragment, FragmentError, FragmentHeader};
pub use fragmenter::{Fragmenter, FragmenterError};
pub use message::{Destination, MESSAGE_HEADER_LEN, Message, MessageError, MessageType};
