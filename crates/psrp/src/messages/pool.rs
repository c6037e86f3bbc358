//! Runspace-pool bodies: capability exchange, opening, connecting, state and sizing (MS-PSRP 2.2.2.1–2.2.2.12,
//! 2.2.2.29–2.2.2.30).

use std::sync::Arc;

use crate::clixml::{Container, PsObject, PsValue, PsVersion};
use crate::message::MessageType;
use crate::messages::records::ErrorRecord;
use crate::messages::{BodyError, MessageBody, Props, body_object, enum_value};

/// SESSION_CAPABILITY (MS-PSRP 2.2.2.1), sent by both sides first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCapability {
    /// `protocolversion`: 2.3 for PowerShell 5.1 to 7.5.
    pub protocol_version: PsVersion,
    /// `PSVersion`: always 2.0.
    pub ps_version: PsVersion,
    /// `SerializationVersion`: 1.1.0.1.
    pub serialization_version: PsVersion,
    /// `TimeZone`: the client's serialized time zone, which PowerShell clients may add.
    pub time_zone: Option<Vec<u8>>,
}

impl SessionCapability {
    /// What this implementation announces in either role: protocol 2.3, PSVersion 2.0, serialization 1.1.0.1.
    pub fn current() -> Self {
        SessionCapability {
            protocol_version: PsVersion::new(2, 3),
            ps_version: PsVersion::new(2, 0),
            serialization_version: PsVersion { major: 1, minor: 1, build: Some(0), revision: Some(1) },
            time_zone: None,
        }
    }

    /// PowerShell's negotiation rule, as either side applies it to the peer's capability: the protocol major
    /// version must be 2 (2.0 through 2.3 are spoken; a newer 2.x peer falls back to ours) and PSVersion must be
    /// 2.0.
    pub fn is_compatible_with(&self, peer: &SessionCapability) -> bool {
        peer.protocol_version.major == self.protocol_version.major && peer.ps_version == self.ps_version
    }

    /// The protocol version both sides speak: the lower of the two.
    pub fn negotiated_version(&self, peer: &SessionCapability) -> PsVersion {
        self.protocol_version.min(peer.protocol_version)
    }
}

impl MessageBody for SessionCapability {
    const MESSAGE_TYPE: MessageType = MessageType::SessionCapability;

    fn to_value(&self) -> PsValue {
        let mut properties = vec![
            ("protocolversion", PsValue::Version(self.protocol_version)),
            ("PSVersion", PsValue::Version(self.ps_version)),
            ("SerializationVersion", PsValue::Version(self.serialization_version)),
        ];
        if let Some(tz) = &self.time_zone {
            properties.push(("TimeZone", PsValue::Bytes(tz.clone())));
        }
        body_object(properties)
    }

    fn from_value(value: &PsValue) -> Result<Self, BodyError> {
        let p = Props::of(value, Self::MESSAGE_TYPE)?;
        let version = |name: &'static str| -> Result<PsVersion, BodyError> {
            let v = p.value(name)?;
            if let Some(version) = v.as_version() {
                return Ok(*version);
            }
            v.as_str().and_then(|s| PsVersion::parse(s).ok()).ok_or_else(|| p.missing(name))
        };
        Ok(SessionCapability {
            protocol_version: version("protocolversion")?,
            ps_version: version("PSVersion")?,
            serialization_version: version("SerializationVersion")?,
            time_zone: p.get("TimeZone").and_then(PsValue::as_bytes).map(<[u8]>::to_vec),
        })
    }
}

/// `PSThreadOptions` (MS-PSRP 2.2.3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PsThreadOptions {
    /// 0.
    Default,
    /// 1.
    UseNewThread,
    /// 2.
    ReuseThread,
    /// 3.
    UseCurrentThread,
}

impl PsThreadOptions {
    fn name(self) -> &'static str {
        match self {
            PsThreadOptions::Default => "Default",
            PsThreadOptions::UseNewThread => "UseNewThread",
            PsThreadOptions::ReuseThread => "ReuseThread",
            PsThreadOptions::UseCurrentThread => "UseCurrentThread",
        }
    }

    fn from_number(n: i32) -> Option<Self> {
        Some(match n {
            0 => PsThreadOptions::Default,
            1 => PsThreadOptions::UseNewThread,
            2 => PsThreadOptions::ReuseThread,
            3 => PsThreadOptions::UseCurrentThread,
            _ => return None,
        })
    }
}

/// `ApartmentState` (MS-PSRP 2.2.3.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApartmentState {
    /// 0.
    Sta,
    /// 1.
    Mta,
    /// 2: what PowerShell and pypsrp send.
    Unknown,
}

impl ApartmentState {
    pub(crate) fn to_value(self) -> PsValue {
        let (name, number) = match self {
            ApartmentState::Sta => ("STA", 0),
            ApartmentState::Mta => ("MTA", 1),
            ApartmentState::Unknown => ("UNKNOWN", 2),
        };
        enum_value("System.Management.Automation.Runspaces.ApartmentState", name, number)
    }

    pub(crate) fn from_value(value: &PsValue) -> Option<Self> {
        Some(match value.as_i32()? {
            0 => ApartmentState::Sta,
            1 => ApartmentState::Mta,
            2 => ApartmentState::Unknown,
            _ => return None,
        })
    }
}

/// `HostInfo` (MS-PSRP 2.2.3.14): whether the client has a host, and its default data when it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct HostInfo {
    /// `_isHostNull`.
    pub is_host_null: bool,
    /// `_isHostUINull`.
    pub is_host_ui_null: bool,
    /// `_isHostRawUINull`.
    pub is_host_raw_ui_null: bool,
    /// `_useRunspaceHost`.
    pub use_runspace_host: bool,
    /// `_hostDefaultData`: the host's default data, kept as sent.
    pub host_default_data: Option<PsValue>,
}

impl Default for HostInfo {
    /// No host: what a non-interactive client (and pypsrp) sends.
    fn default() -> Self {
        HostInfo {
            is_host_null: true,
            is_host_ui_null: true,
            is_host_raw_ui_null: true,
            use_runspace_host: true,
            host_default_data: None,
        }
    }
}

impl HostInfo {
    pub(crate) fn to_value(&self) -> PsValue {
        let mut properties = Vec::new();
        if let Some(data) = &self.host_default_data {
            properties.push(("_hostDefaultData", data.clone()));
        }
        properties.extend([
            ("_isHostNull", PsValue::Bool(self.is_host_null)),
            ("_isHostUINull", PsValue::Bool(self.is_host_ui_null)),
            ("_isHostRawUINull", PsValue::Bool(self.is_host_raw_ui_null)),
            ("_useRunspaceHost", PsValue::Bool(self.use_runspace_host)),
        ]);
        body_object(properties)
    }

    pub(crate) fn from_value(value: &PsValue) -> Self {
        let flag = |name: &str, default: bool| value.property(name).and_then(PsValue::as_bool).unwrap_or(default);
        HostInfo {
            is_host_null: flag("_isHostNull", true),
            is_host_ui_null: flag("_isHostUINull", true),
            is_host_raw_ui_null: flag("_isHostRawUINull", true),
            use_runspace_host: flag("_useRunspaceHost", true),
            host_default_data: value.property("_hostDefaultData").cloned(),
        }
    }
}

/// INIT_RUNSPACEPOOL (MS-PSRP 2.2.2.2): the client's request to open the pool.
#[derive(Debug, Clone, PartialEq)]
pub struct InitRunspacePool {
    /// `MinRunspaces`.
    pub min_runspaces: i32,
    /// `MaxRunspaces`.
    pub max_runspaces: i32,
    /// `PSThreadOptions`.
    pub thread_options: PsThreadOptions,
    /// `ApartmentState`.
    pub apartment_state: ApartmentState,
    /// `HostInfo`.
    pub host_info: HostInfo,
    /// `ApplicationArguments`: a PSPrimitiveDictionary or `$null`.
    pub application_arguments: PsValue,
}

impl InitRunspacePool {
    /// A pool of `min..=max` runspaces with no host and no application arguments.
    pub fn new(min_runspaces: i32, max_runspaces: i32) -> Self {
        InitRunspacePool {
            min_runspaces,
            max_runspaces,
            thread_options: PsThreadOptions::Default,
            apartment_state: ApartmentState::Unknown,
            host_info: HostInfo::default(),
            application_arguments: PsValue::Null,
        }
    }
}

impl MessageBody for InitRunspacePool {
    const MESSAGE_TYPE: MessageType = MessageType::InitRunspacePool;

    fn to_value(&self) -> PsValue {
        body_object([
            ("MinRunspaces", PsValue::I32(self.min_runspaces)),
            ("MaxRunspaces", PsValue::I32(self.max_runspaces)),
            (
                "PSThreadOptions",
                enum_value(
                    "System.Management.Automation.Runspaces.PSThreadOptions",
                    self.thread_options.name(),
                    self.thread_options as i32,
                ),
            ),
            ("ApartmentState", self.apartment_state.to_value()),
            ("HostInfo", self.host_info.to_value()),
            ("ApplicationArguments", self.application_arguments.clone()),
        ])
    }

    fn from_value(value: &PsValue) -> Result<Self, BodyError> {
        let p = Props::of(value, Self::MESSAGE_TYPE)?;
        Ok(InitRunspacePool {
            min_runspaces: p.i32("MinRunspaces")?,
            max_runspaces: p.i32("MaxRunspaces")?,
            thread_options: p
                .get("PSThreadOptions")
                .and_then(PsValue::as_i32)
                .map_or(Some(PsThreadOptions::Default), PsThreadOptions::from_number)
                .ok_or_else(|| p.missing("PSThreadOptions"))?,
            apartment_state: p
                .get("ApartmentState")
                .map_or(Some(ApartmentState::Unknown), ApartmentState::from_value)
                .ok_or_else(|| p.missing("ApartmentState"))?,
            host_info: p.get("HostInfo").map(HostInfo::from_value).unwrap_or_default(),
            application_arguments: p.get("ApplicationArguments").cloned().unwrap_or(PsValue::Null),
        })
    }
}

/// CONNECT_RUNSPACEPOOL (MS-PSRP 2.2.2.29): `<S />` (connect to the pool as it is) or the sizes the client wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectRunspacePool {
    /// `MinRunspaces` and `MaxRunspaces`, when given.
    pub runspaces: Option<(i32, i32)>,
}

impl MessageBody for ConnectRunspacePool {
    const MESSAGE_TYPE: MessageType = MessageType::ConnectRunspacePool;

    fn to_value(&self) -> PsValue {
        match self.runspaces {
            None => PsValue::String(String::new()),
            Some((min, max)) => body_object([("MinRunspaces", PsValue::I32(min)), ("MaxRunspaces", PsValue::I32(max))]),
        }
    }

    fn from_value(value: &PsValue) -> Result<Self, BodyError> {
        match value {
            PsValue::String(_) | PsValue::Null => Ok(ConnectRunspacePool { runspaces: None }),
            _ => {
                let p = Props::of(value, Self::MESSAGE_TYPE)?;
                Ok(ConnectRunspacePool { runspaces: Some((p.i32("MinRunspaces")?, p.i32("MaxRunspaces")?)) })
            }
        }
    }
}

/// RUNSPACEPOOL_INIT_DATA (MS-PSRP 2.2.2.30): the server's pool sizes, answering a connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunspacePoolInitData {
    /// `MinRunspaces`.
    pub min_runspaces: i32,
    /// `MaxRunspaces`.
    pub max_runspaces: i32,
}

impl MessageBody for RunspacePoolInitData {
    const MESSAGE_TYPE: MessageType = MessageType::RunspacePoolInitData;

    fn to_value(&self) -> PsValue {
        body_object([
            ("MinRunspaces", PsValue::I32(self.min_runspaces)),
            ("MaxRunspaces", PsValue::I32(self.max_runspaces)),
        ])
    }

    fn from_value(value: &PsValue) -> Result<Self, BodyError> {
        let p = Props::of(value, Self::MESSAGE_TYPE)?;
        Ok(RunspacePoolInitData { min_runspaces: p.i32("MinRunspaces")?, max_runspaces: p.i32("MaxRunspaces")? })
    }
}

/// APPLICATION_PRIVATE_DATA (MS-PSRP 2.2.2.13): the server's private data, PSVersionTable among it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationPrivateData {
    /// The `ApplicationPrivateData` dictionary's entries, keys as strings.
    pub entries: Vec<(String, PsValue)>,
}

const PRIMITIVE_DICTIONARY: [&str; 3] =
    ["System.Management.Automation.PSPrimitiveDictionary", "System.Collections.Hashtable", "System.Object"];

/// A PSPrimitiveDictionary of string keys, as PowerShell serializes one.
pub(crate) fn primitive_dictionary(entries: &[(String, PsValue)], type_names: &Arc<[String]>) -> PsValue {
    let mut object = PsObject { type_names: Some(type_names.clone()), ..PsObject::default() };
    object.container =
        Some(Container::Dictionary(entries.iter().map(|(k, v)| (PsValue::String(k.clone()), v.clone())).collect()));
    object.into()
}

impl ApplicationPrivateData {
    /// Private data holding just a PSVersionTable with these entries (`PSVersion`, `PSEdition`, …).
    pub fn with_version_table(table: Vec<(String, PsValue)>) -> Self {
        let names: Arc<[String]> = PRIMITIVE_DICTIONARY.iter().map(|s| s.to_string()).collect();
        ApplicationPrivateData { entries: vec![("PSVersionTable".to_owned(), primitive_dictionary(&table, &names))] }
    }

    /// The PSVersionTable entries, when present.
    pub fn version_table(&self) -> Option<&[(PsValue, PsValue)]> {
        self.entries.iter().find(|(k, _)| k == "PSVersionTable")?.1.as_object()?.dictionary()
    }
}

impl MessageBody for ApplicationPrivateData {
    const MESSAGE_TYPE: MessageType = MessageType::ApplicationPrivateData;

    fn to_value(&self) -> PsValue {
        let names: Arc<[String]> = PRIMITIVE_DICTIONARY.iter().map(|s| s.to_string()).collect();
        // Nested dictionaries share the outer type-name list, so the serializer writes TNRef as Windows does.
        let entries: Vec<(String, PsValue)> = self
            .entries
            .iter()
            .map(|(k, v)| {
                let shared = match v {
                    PsValue::Object(o) if o.type_names() == PRIMITIVE_DICTIONARY => {
                        let mut copy = (**o).clone();
                        copy.type_names = Some(names.clone());
                        copy.into()
                    }
                    other => other.clone(),
                };
                (k.clone(), shared)
            })
            .collect();
        body_object([("ApplicationPrivateData", primitive_dictionary(&entries, &names))])
    }

    fn from_value(value: &PsValue) -> Result<Self, BodyError> {
        let p = Props::of(value, Self::MESSAGE_TYPE)?;
        let entries = match p.get("ApplicationPrivateData") {
            None | Some(PsValue::Null) => Vec::new(),
            Some(data) => data
                .as_object()
                .and_then(PsObject::dictionary)
                .ok_or_else(|| p.missing("ApplicationPrivateData"))?
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        };
        Ok(ApplicationPrivateData { entries })
    }
}

/// RUNSPACEPOOL_STATE (MS-PSRP 2.2.2.9).
#[derive(Debug, Clone, PartialEq)]
pub struct RunspacePoolStateMessage {
    /// `RunspaceState`: 0 BeforeOpen, 1 Opening, 2 Opened, 3 Closed, 4 Closing, 5 Broken, 6 NegotiationSent,
    /// 7 NegotiationSucceeded, 8 Connecting, 9 Disconnected.
    pub state: i32,
    /// `ExceptionAsErrorRecord`, with a Broken state.
    pub error: Option<ErrorRecord>,
}

impl MessageBody for RunspacePoolStateMessage {
    const MESSAGE_TYPE: MessageType = MessageType::RunspacePoolState;

    fn to_value(&self) -> PsValue {
        let mut properties = vec![("RunspaceState", PsValue::I32(self.state))];
        if let Some(error) = &self.error {
            properties.push(("ExceptionAsErrorRecord", error.to_value()));
        }
        body_object(properties)
    }

    fn from_value(value: &PsValue) -> Result<Self, BodyError> {
        let p = Props::of(value, Self::MESSAGE_TYPE)?;
        Ok(RunspacePoolStateMessage {
            state: p.i32("RunspaceState")?,
            error: match p.get("ExceptionAsErrorRecord") {
                None | Some(PsValue::Null) => None,
                Some(v) => Some(ErrorRecord::from_value(v)?),
            },
        })
    }
}

/// RUNSPACE_AVAILABILITY (MS-PSRP 2.2.2.8): the answer to GET_AVAILABLE_RUNSPACES (a count) or to
/// SET_MIN/MAX_RUNSPACES (a Boolean).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunspaceAvailability {
    /// `SetMinMaxRunspacesResponse`: the available count, or whether the resize succeeded.
    pub response: Availability,
    /// `ci`: the call id of the request.
    pub call_id: i64,
}

/// The two shapes of [`RunspaceAvailability::response`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// `<I64>`: available runspaces.
    Count(i64),
    /// `<B>`: the outcome of SET_MIN/MAX_RUNSPACES.
    Resized(bool),
}

impl MessageBody for RunspaceAvailability {
    const MESSAGE_TYPE: MessageType = MessageType::RunspaceAvailability;

    fn to_value(&self) -> PsValue {
        let response = match self.response {
            Availability::Count(n) => PsValue::I64(n),
            Availability::Resized(b) => PsValue::Bool(b),
        };
        body_object([("SetMinMaxRunspacesResponse", response), ("ci", PsValue::I64(self.call_id))])
    }

    fn from_value(value: &PsValue) -> Result<Self, BodyError> {
        let p = Props::of(value, Self::MESSAGE_TYPE)?;
        let response = match p.value("SetMinMaxRunspacesResponse")? {
            PsValue::Bool(b) => Availability::Resized(*b),
            other => Availability::Count(other.as_i64().ok_or_else(|| p.missing("SetMinMaxRunspacesResponse"))?),
        };
        Ok(RunspaceAvailability { response, call_id: p.i64("ci")? })
    }
}

/// GET_AVAILABLE_RUNSPACES (MS-PSRP 2.2.2.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetAvailableRunspaces {
    /// `ci`: the call id the answer echoes.
    pub call_id: i64,
}

impl MessageBody for GetAvailableRunspaces {
    const MESSAGE_TYPE: MessageType = MessageType::GetAvailableRunspaces;

    fn to_value(&self) -> PsValue {
        body_object([("ci", PsValue::I64(self.call_id))])
    }

    fn from_value(value: &PsValue) -> Result<Self, BodyError> {
        Ok(GetAvailableRunspaces { call_id: Props::of(value, Self::MESSAGE_TYPE)?.i64("ci")? })
    }
}

/// RESET_RUNSPACE_STATE (MS-PSRP 2.2.2.31).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetRunspaceState {
    /// `ci`: the call id the answer echoes.
    pub call_id: i64,
}

impl MessageBody for ResetRunspaceState {
    const MESSAGE_TYPE: MessageType = MessageType::ResetRunspaceState;

    fn to_value(&self) -> PsValue {
        body_object([("ci", PsValue::I64(self.call_id))])
    }

    fn from_value(value: &PsValue) -> Result<Self, BodyError> {
        Ok(ResetRunspaceState { call_id: Props::of(value, Self::MESSAGE_TYPE)?.i64("ci")? })
    }
}

macro_rules! set_runspaces {
    ($name:ident, $ty:ident, $prop:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name {
            #[doc = concat!("`", $prop, "`.")]
            pub runspaces: i32,
            /// `CI`: the call id the RUNSPACE_AVAILABILITY answer echoes.
            pub call_id: i64,
        }

        impl MessageBody for $name {
            const MESSAGE_TYPE: MessageType = MessageType::$ty;

            fn to_value(&self) -> PsValue {
                body_object([($prop, PsValue::I32(self.runspaces)), ("CI", PsValue::I64(self.call_id))])
            }

            fn from_value(value: &PsValue) -> Result<Self, BodyError> {
                let p = Props::of(value, Self::MESSAGE_TYPE)?;
                Ok($name { runspaces: p.i32($prop)?, call_id: p.i64("CI")? })
            }
        }
    };
}

set_runspaces!(SetMaxRunspaces, SetMaxRunspaces, "MaxRunspaces", "SET_MAX_RUNSPACES (MS-PSRP 2.2.2.6).");
set_runspaces!(SetMinRunspaces, SetMinRunspaces, "MinRunspaces", "SET_MIN_RUNSPACES (MS-PSRP 2.2.2.7).");
