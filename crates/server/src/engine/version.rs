//! `$PSVersionTable`: the version facts the engine reports, also sent in APPLICATION_PRIVATE_DATA.
//!
//! The values are our own choice, shaped like Windows PowerShell 5.1 on Windows Server 2019, so that clients
//! (PowerShell, pypsrp) treat the endpoint as a 5.1 server speaking protocol 2.3.

use std::sync::Arc;

use super::value::Value;

/// `PSVersion`.
pub const PS_VERSION: &str = "5.1.17763.1";
/// `PSEdition`.
pub const PS_EDITION: &str = "Desktop";
/// `PSCompatibleVersions`.
pub const PS_COMPATIBLE_VERSIONS: &[&str] = &["1.0", "2.0", "3.0", "4.0", "5.0", PS_VERSION];
/// `BuildVersion`.
pub const BUILD_VERSION: &str = "10.0.17763.1";
/// `CLRVersion`.
pub const CLR_VERSION: &str = "4.0.30319.42000";
/// `WSManStackVersion`.
pub const WSMAN_STACK_VERSION: &str = "3.0";
/// `PSRemotingProtocolVersion`.
pub const PS_REMOTING_PROTOCOL_VERSION: &str = "2.3";
/// `SerializationVersion`.
pub const SERIALIZATION_VERSION: &str = "1.1.0.1";

/// The type names of `$PSVersionTable` (a `PSPrimitiveDictionary`).
pub const PS_VERSION_TABLE_TYPE_NAMES: &[&str] =
    &["System.Management.Automation.PSPrimitiveDictionary", "System.Collections.Hashtable", "System.Object"];

/// The table as (key, value) pairs in PowerShell's order.
pub(crate) fn ps_version_table_value() -> Value {
    let version = |v: &str| Value::Version(Arc::from(v));
    Value::Hashtable(Arc::new(vec![
        (Value::string("PSVersion"), version(PS_VERSION)),
        (Value::string("PSEdition"), Value::string(PS_EDITION)),
        (
            Value::string("PSCompatibleVersions"),
            Value::array(PS_COMPATIBLE_VERSIONS.iter().map(|v| version(v)).collect()),
        ),
        (Value::string("BuildVersion"), version(BUILD_VERSION)),
        (Value::string("CLRVersion"), version(CLR_VERSION)),
        (Value::string("WSManStackVersion"), version(WSMAN_STACK_VERSION)),
        (Value::string("PSRemotingProtocolVersion"), version(PS_REMOTING_PROTOCOL_VERSION)),
        (Value::string("SerializationVersion"), version(SERIALIZATION_VERSION)),
    ]))
}
