//! The versions SESSION_CAPABILITY carries (MS-PSRP 2.2.2.1), and the check that a server's are ones this client
//! speaks.

use std::fmt;

/// A `major.minor` version as SESSION_CAPABILITY carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolVersion {
    /// Major part.
    pub major: u16,
    /// Minor part.
    pub minor: u16,
}

impl ProtocolVersion {
    /// The protocol version this client announces: 2.3 (PowerShell 5.1 to 7.5).
    pub const CLIENT: ProtocolVersion = ProtocolVersion { major: 2, minor: 3 };
    /// `PSVersion`, always 2.0.
    pub const PS_VERSION: ProtocolVersion = ProtocolVersion { major: 2, minor: 0 };

    /// Parses `2.3` (a third or fourth part is ignored).
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(ProtocolVersion { major, minor })
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The server's SESSION_CAPABILITY (MS-PSRP 2.2.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCapability {
    /// `protocolversion`.
    pub protocol_version: ProtocolVersion,
    /// `PSVersion`.
    pub ps_version: ProtocolVersion,
    /// `SerializationVersion`, e.g. `1.1.0.1`.
    pub serialization_version: String,
}

impl SessionCapability {
    /// Whether this client can talk to the server: protocol 2.x (PowerShell accepts 2.0 through its own version and
    /// newer minors fall back to ours) and PSVersion 2.x.
    pub fn is_compatible(&self) -> bool {
        self.protocol_version.major == 2 && self.ps_version.major == 2
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Writing
