//! The PSRP message: a 40-byte header followed by a UTF-8 CLIXML body (MS-PSRP 2.2.1).
//!
//! ```text
//! off 0   u32 LE  Destination   1 = client, 2 = server
//! off 4   u32 LE  MessageType
//! off 8   16 B    RPID          .NET Guid.ToByteArray() order
//! off 24  16 B    PID           .NET Guid.ToByteArray() order, all zero for RunspacePool messages
//! off 40  ...     Data          UTF-8 CLIXML, optionally preceded by a BOM (EF BB BF)
//! ```
//!
//! PowerShell writes the BOM, pypsrp and psrpcore do not; both are accepted. GUIDs are converted with
//! [`Uuid::from_bytes_le`] / [`Uuid::to_bytes_le`], which is exactly .NET's mixed-endian layout.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};
use nom::Parser;
use nom::number::complete::le_u32;
use uuid::Uuid;

/// Length of the fixed message header.
pub const MESSAGE_HEADER_LEN: usize = 40;

/// The UTF-8 byte-order mark PowerShell puts in front of every CLIXML body it sends.
pub const UTF8_BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// Who a message is addressed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Destination {
    /// `0x00000001`: the message goes to the client.
    Client,
    /// `0x00000002`: the message goes to the server.
    Server,
}

impl Destination {
    /// The wire value.
    pub const fn value(self) -> u32 {
        match self {
            Destination::Client => 1,
            Destination::Server => 2,
        }
    }

    /// Parses a wire value.
    pub const fn from_value(value: u32) -> Option<Self> {
        match value {
            1 => Some(Destination::Client),
            2 => Some(Destination::Server),
            _ => None,
        }
    }
}

macro_rules! message_types {
    ($( $(#[$doc:meta])* $variant:ident = $value:literal, $spec:literal; )*) => {
        /// Every message type defined by MS-PSRP 2.2.1.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum MessageType {
            $( $(#[$doc])* $variant, )*
        }

        impl MessageType {
            /// All message types, in the order of the specification's table.
            pub const ALL: &'static [MessageType] = &[$(MessageType::$variant,)*];

            /// The wire value.
            pub const fn value(self) -> u32 {
                match self { $( MessageType::$variant => $value, )* }
            }

            /// Parses a wire value; `None` for a value the specification does not define.
            pub const fn from_value(value: u32) -> Option<Self> {
                match value { $( $value => Some(MessageType::$variant), )* _ => None }
            }

            /// The name the specification uses, e.g. `SESSION_CAPABILITY`.
            pub const fn spec_name(self) -> &'static str {
                match self { $( MessageType::$variant => $spec, )* }
            }
        }
    };
}

message_types! {
    /// Protocol and serialization versions; both directions.
    SessionCapability = 0x0001_0002, "SESSION_CAPABILITY";
    /// Opens a RunspacePool (client to server).
    InitRunspacePool = 0x0001_0004, "INIT_RUNSPACEPOOL";
    /// The client's public key for the session-key exchange.
    PublicKey = 0x0001_0005, "PUBLIC_KEY";
    /// The session key, encrypted with the client's public key.
    EncryptedSessionKey = 0x0001_0006, "ENCRYPTED_SESSION_KEY";
    /// The server asks the client for its public key.
    PublicKeyRequest = 0x0001_0007, "PUBLIC_KEY_REQUEST";
    /// Attaches to a disconnected RunspacePool (client to server).
    ConnectRunspacePool = 0x0001_0008, "CONNECT_RUNSPACEPOOL";
    /// Min/max runspaces of a pool that was connected to (server to client).
    RunspacePoolInitData = 0x0002_100B, "RUNSPACEPOOL_INIT_DATA";
    /// Resets the runspace state of a pool (client to server).
    ResetRunspaceState = 0x0002_100C, "RESET_RUNSPACE_STATE";
    /// Sets the maximum number of runspaces.
    SetMaxRunspaces = 0x0002_1002, "SET_MAX_RUNSPACES";
    /// Sets the minimum number of runspaces.
    SetMinRunspaces = 0x0002_1003, "SET_MIN_RUNSPACES";
    /// Answer to SET_MAX/SET_MIN_RUNSPACES and GET_AVAILABLE_RUNSPACES.
    RunspaceAvailability = 0x0002_1004, "RUNSPACE_AVAILABILITY";
    /// State of a RunspacePool (server to client).
    RunspacePoolState = 0x0002_1005, "RUNSPACEPOOL_STATE";
    /// Creates and invokes a pipeline (client to server).
    CreatePipeline = 0x0002_1006, "CREATE_PIPELINE";
    /// Asks for the number of available runspaces.
    GetAvailableRunspaces = 0x0002_1007, "GET_AVAILABLE_RUNSPACES";
    /// A user-defined event raised in the remote runspace.
    UserEvent = 0x0002_1008, "USER_EVENT";
    /// Data private to the application, e.g. the server's PSVersionTable.
    ApplicationPrivateData = 0x0002_1009, "APPLICATION_PRIVATE_DATA";
    /// Asks for command metadata (Get-Command).
    GetCommandMetadata = 0x0002_100A, "GET_COMMAND_METADATA";
    /// A host method call on the pool's host (server to client).
    RunspacePoolHostCall = 0x0002_1100, "RUNSPACEPOOL_HOST_CALL";
    /// The answer to a RUNSPACEPOOL_HOST_CALL.
    RunspacePoolHostResponse = 0x0002_1101, "RUNSPACEPOOL_HOST_RESPONSE";
    /// One input object for a pipeline.
    PipelineInput = 0x0004_1002, "PIPELINE_INPUT";
    /// Closes a pipeline's input.
    EndOfPipelineInput = 0x0004_1003, "END_OF_PIPELINE_INPUT";
    /// One output object of a pipeline.
    PipelineOutput = 0x0004_1004, "PIPELINE_OUTPUT";
    /// An error record of a pipeline.
    ErrorRecord = 0x0004_1005, "ERROR_RECORD";
    /// State of a pipeline.
    PipelineState = 0x0004_1006, "PIPELINE_STATE";
    /// A debug record.
    DebugRecord = 0x0004_1007, "DEBUG_RECORD";
    /// A verbose record.
    VerboseRecord = 0x0004_1008, "VERBOSE_RECORD";
    /// A warning record.
    WarningRecord = 0x0004_1009, "WARNING_RECORD";
    /// A progress record.
    ProgressRecord = 0x0004_1010, "PROGRESS_RECORD";
    /// An information record.
    InformationRecord = 0x0004_1011, "INFORMATION_RECORD";
    /// A host method call on the pipeline's host (server to client).
    PipelineHostCall = 0x0004_1100, "PIPELINE_HOST_CALL";
    /// The answer to a PIPELINE_HOST_CALL.
    PipelineHostResponse = 0x0004_1101, "PIPELINE_HOST_RESPONSE";
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec_name())
    }
}

/// Why bytes could not be read as a PSRP message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageError {
    /// Fewer than 40 bytes: the header itself is incomplete.
    TooShort {
        /// Bytes available.
        len: usize,
    },
    /// The Destination field is neither 1 (client) nor 2 (server).
    UnknownDestination(u32),
    /// The MessageType field names no message type of MS-PSRP.
    UnknownMessageType(u32),
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageError::TooShort { len } => {
                write!(f, "PSRP message of {len} bytes is shorter than its {MESSAGE_HEADER_LEN}-byte header")
            }
            MessageError::UnknownDestination(v) => write!(f, "PSRP message has unknown destination {v:#010x}"),
            MessageError::UnknownMessageType(v) => write!(f, "PSRP message has unknown message type {v:#010x}"),
        }
    }
}

impl std::error::Error for MessageError {}

/// A decoded PSRP message. The body is a zero-copy slice of the bytes it was decoded from.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    /// Who the message is for.
    pub destination: Destination,
    /// What the body means.
    pub message_type: MessageType,
    /// RunspacePool id.
    pub rpid: Uuid,
    /// Pipeline id; [`Uuid::nil`] for messages addressed to the pool.
    pub pid: Uuid,
    /// The CLIXML body exactly as received, including a BOM if the sender wrote one.
    pub data: Bytes,
}

impl Message {
    /// Builds a message whose body is `data` (written without a BOM unless `data` starts with one).
    pub fn new(destination: Destination, message_type: MessageType, rpid: Uuid, pid: Uuid, data: Bytes) -> Self {
        Message { destination, message_type, rpid, pid, data }
    }

    /// Decodes a whole message. The body is a slice of `bytes`, not a copy.
    pub fn decode(bytes: Bytes) -> Result<Self, MessageError> {
        let header = MessageHeader::parse(&bytes)?;
        Ok(Message {
            destination: header.destination,
            message_type: header.message_type,
            rpid: header.rpid,
            pid: header.pid,
            data: bytes.slice(MESSAGE_HEADER_LEN..),
        })
    }

    /// The body without a leading UTF-8 BOM.
    pub fn body(&self) -> &[u8] {
        strip_bom(&self.data)
    }

    /// The body without a leading UTF-8 BOM, as a zero-copy slice.
    pub fn body_bytes(&self) -> Bytes {
        let skip = self.data.len() - strip_bom(&self.data).len();
        self.data.slice(skip..)
    }

    /// Whether the sender put a UTF-8 BOM before the body (PowerShell does).
    pub fn has_bom(&self) -> bool {
        self.data.starts_with(&UTF8_BOM)
    }

    /// Encoded length: header plus body.
    pub fn encoded_len(&self) -> usize {
        MESSAGE_HEADER_LEN + self.data.len()
    }

    /// Appends the encoded message to `out`.
    pub fn encode_into(&self, out: &mut BytesMut) {
        out.reserve(self.encoded_len());
        out.put_u32_le(self.destination.value());
        out.put_u32_le(self.message_type.value());
        out.put_slice(&self.rpid.to_bytes_le());
        out.put_slice(&self.pid.to_bytes_le());
        out.put_slice(&self.data);
    }

    /// Encodes the message into a new buffer.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out.freeze()
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("destination", &self.destination)
            .field("message_type", &self.message_type)
            .field("rpid", &self.rpid)
            .field("pid", &self.pid)
            .field("data", &String::from_utf8_lossy(&self.data))
            .finish()
    }
}

/// The fixed 40-byte header, decoded without touching the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageHeader {
    /// Who the message is for.
    pub destination: Destination,
    /// What the body means.
    pub message_type: MessageType,
    /// RunspacePool id.
    pub rpid: Uuid,
    /// Pipeline id.
    pub pid: Uuid,
}

impl MessageHeader {
    /// Parses the header at the start of `bytes` (which may continue with the body).
    pub fn parse(bytes: &[u8]) -> Result<Self, MessageError> {
        let Some(header) = bytes.get(..MESSAGE_HEADER_LEN) else {
            return Err(MessageError::TooShort { len: bytes.len() });
        };
        let (rest, (destination, message_type)) = (le_u32, le_u32)
            .parse(header)
            .map_err(|_: nom::Err<nom::error::Error<&[u8]>>| MessageError::TooShort { len: bytes.len() })?;
        let destination = Destination::from_value(destination).ok_or(MessageError::UnknownDestination(destination))?;
        let message_type =
            MessageType::from_value(message_type).ok_or(MessageError::UnknownMessageType(message_type))?;
        let (rpid, pid) = rest.split_at(16);
        Ok(MessageHeader { destination, message_type, rpid: guid_from_wire(rpid), pid: guid_from_wire(pid) })
    }
}

/// Reads a GUID written with .NET's `Guid.ToByteArray()`. `bytes` must hold exactly 16 bytes.
fn guid_from_wire(bytes: &[u8]) -> Uuid {
    let mut raw = [0u8; 16];
    raw.copy_from_slice(bytes);
    Uuid::from_bytes_le(raw)
}

fn strip_bom(data: &[u8]) -> &[u8] {
    data.strip_prefix(&UTF8_BOM[..]).unwrap_or(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RPID: &str = "B6631D8E-65A0-49F2-9053-A1B156C95777";

    #[test]
    fn rpid_uses_dotnet_byte_order() {
        let rpid = Uuid::parse_str(RPID).unwrap();
        let msg = Message::new(
            Destination::Server,
            MessageType::ConnectRunspacePool,
            rpid,
            Uuid::nil(),
            Bytes::from_static(b"<S />"),
        );
        let wire = msg.encode();
        assert_eq!(&wire[..8], &[2, 0, 0, 0, 0x08, 0, 1, 0]);
        assert_eq!(
            &wire[8..24],
            &[0x8e, 0x1d, 0x63, 0xb6, 0xa0, 0x65, 0xf2, 0x49, 0x90, 0x53, 0xa1, 0xb1, 0x56, 0xc9, 0x57, 0x77]
        );
        assert_eq!(Message::decode(wire).unwrap(), msg);
    }

    #[test]
    fn bom_is_optional_and_stripped_from_body() {
        let mut raw = BytesMut::new();
        Message::new(
            Destination::Client,
            MessageType::PipelineOutput,
            Uuid::nil(),
            Uuid::nil(),
            Bytes::from_static(b"\xEF\xBB\xBF<S>a</S>"),
        )
        .encode_into(&mut raw);
        let msg = Message::decode(raw.freeze()).unwrap();
        assert!(msg.has_bom());
        assert_eq!(msg.body(), b"<S>a</S>");
        assert_eq!(&msg.body_bytes()[..], b"<S>a</S>");
    }

    #[test]
    fn every_type_round_trips_and_unknown_types_are_errors() {
        for &ty in MessageType::ALL {
            assert_eq!(MessageType::from_value(ty.value()), Some(ty));
        }
        assert_eq!(MessageType::ALL.len(), 31);
        let mut raw = vec![1, 0, 0, 0, 0x99, 0x99, 0, 0];
        raw.resize(40, 0);
        assert_eq!(Message::decode(Bytes::from(raw)), Err(MessageError::UnknownMessageType(0x9999)));
        let mut raw = vec![3, 0, 0, 0, 0x02, 0, 1, 0];
        raw.resize(40, 0);
        assert_eq!(Message::decode(Bytes::from(raw)), Err(MessageError::UnknownDestination(3)));
        assert_eq!(Message::decode(Bytes::from_static(&[1, 0, 0])), Err(MessageError::TooShort { len: 3 }));
    }
}
