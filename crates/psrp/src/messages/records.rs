//! Stream records: ERROR_RECORD, DEBUG/VERBOSE/WARNING_RECORD, INFORMATION_RECORD, PROGRESS_RECORD
//! (MS-PSRP 2.2.2.20, 2.2.2.22–2.2.2.26, 2.2.3.15–2.2.3.16).

use crate::clixml::{Container, PsDateTime, PsObject, PsValue};
use crate::message::MessageType;
use crate::messages::{BodyError, MessageBody, Props, enum_value};

/// `ErrorCategory` (MS-PSRP 2.2.3.9), by number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErrorCategory(pub i32);

const CATEGORY_NAMES: [&str; 32] = [
    "NotSpecified",
    "OpenError",
    "CloseError",
    "DeviceError",
    "DeadlockDetected",
    "InvalidArgument",
    "InvalidData",
    "InvalidOperation",
    "InvalidResult",
    "InvalidType",
    "MetadataError",
    "NotImplemented",
    "NotInstalled",
    "ObjectNotFound",
    "OperationStopped",
    "OperationTimeout",
    "SyntaxError",
    "ParserError",
    "PermissionDenied",
    "ResourceBusy",
    "ResourceExists",
    "ResourceUnavailable",
    "ReadError",
    "WriteError",
    "FromStdErr",
    "SecurityError",
    "ProtocolError",
    "ConnectionError",
    "AuthenticationError",
    "LimitsExceeded",
    "QuotaExceeded",
    "NotEnabled",
];

impl ErrorCategory {
    /// `ObjectNotFound` (13): what CommandNotFoundException carries.
    pub const OBJECT_NOT_FOUND: Self = ErrorCategory(13);
    /// `OperationStopped` (14).
    pub const OPERATION_STOPPED: Self = ErrorCategory(14);

    /// The category's name (`NotSpecified`, …).
    pub fn name(self) -> &'static str {
        usize::try_from(self.0).ok().and_then(|i| CATEGORY_NAMES.get(i)).copied().unwrap_or("NotSpecified")
    }
}

/// An ErrorRecord (MS-PSRP 2.2.3.15): the body of ERROR_RECORD and the `ExceptionAsErrorRecord` of state messages.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorRecord {
    /// The message (`Exception.Message`, and the record's ToString).
    pub message: String,
    /// The exception's .NET type names, most derived first (`System.Management.Automation.RuntimeException`, …).
    pub exception_types: Vec<String>,
    /// `FullyQualifiedErrorId`.
    pub fully_qualified_error_id: String,
    /// `ErrorCategory_Category`.
    pub category: ErrorCategory,
    /// `ErrorCategory_Activity`.
    pub activity: String,
    /// `ErrorCategory_Reason`.
    pub reason: String,
    /// `ErrorCategory_TargetName`.
    pub target_name: String,
    /// `ErrorCategory_TargetType`.
    pub target_type: String,
    /// `TargetObject`.
    pub target_object: PsValue,
    /// `ErrorDetails_ScriptStackTrace`.
    pub script_stack_trace: Option<String>,
    /// `writeErrorStream`: written by Write-Error rather than thrown.
    pub write_error_stream: bool,
}

impl ErrorRecord {
    /// A record for an exception of type `exception_type` (its base types are filled in as PowerShell's
    /// RuntimeException family has them).
    pub fn new(message: &str, exception_type: &str, fully_qualified_error_id: &str, category: ErrorCategory) -> Self {
        let mut exception_types = vec![exception_type.to_owned()];
        for base in ["System.SystemException", "System.Exception", "System.Object"] {
            if exception_type != base {
                exception_types.push(base.to_owned());
            }
        }
        ErrorRecord {
            message: message.to_owned(),
            exception_types,
            fully_qualified_error_id: fully_qualified_error_id.to_owned(),
            category,
            activity: String::new(),
            reason: exception_type.rsplit('.').next().unwrap_or(exception_type).to_owned(),
            target_name: String::new(),
            target_type: String::new(),
            target_object: PsValue::Null,
            script_stack_trace: None,
            write_error_stream: false,
        }
    }

    /// The `CategoryInfo` line PowerShell shows: `ObjectNotFound: (foo:String) [], CommandNotFoundException`.
    pub fn category_message(&self) -> String {
        format!(
            "{}: ({}:{}) [{}], {}",
            self.category.name(),
            self.target_name,
            self.target_type,
            self.activity,
            self.reason
        )
    }

    /// The record as CLIXML, shaped like Windows' (without invocation info: `SerializeExtendedInfo` false).
    pub fn to_value(&self) -> PsValue {
        let mut exception = PsObject::with_type_names(self.exception_types.iter().cloned());
        exception.to_string = Some(format!(
            "{}: {}",
            self.exception_types.first().map_or("System.Exception", String::as_str),
            self.message
        ));
        exception.adapted = vec![
            ("Message", PsValue::String(self.message.clone())),
            ("Data", {
                let mut data =
                    PsObject::with_type_names(["System.Collections.ListDictionaryInternal", "System.Object"]);
                data.container = Some(Container::Dictionary(Vec::new()));
                data.into()
            }),
            ("InnerException", PsValue::Null),
            ("TargetSite", PsValue::Null),
            ("StackTrace", PsValue::Null),
            ("HelpLink", PsValue::Null),
            ("Source", PsValue::Null),
            ("HResult", PsValue::I32(-2146233087)),
        ]
        .into_iter()
        .map(|(name, value)| crate::clixml::PsProperty { name: name.into(), value })
        .collect();
        let mut record = PsObject::with_type_names(["System.Management.Automation.ErrorRecord", "System.Object"]);
        record.to_string = Some(self.message.clone());
        if self.write_error_stream {
            record = record.with_property("writeErrorStream", true);
        }
        record = record
            .with_property("Exception", PsValue::from(exception))
            .with_property("TargetObject", self.target_object.clone())
            .with_property("FullyQualifiedErrorId", self.fully_qualified_error_id.as_str())
            .with_property("InvocationInfo", PsValue::Null)
            .with_property("ErrorCategory_Category", self.category.0)
            .with_property("ErrorCategory_Activity", self.activity.as_str())
            .with_property("ErrorCategory_Reason", self.reason.as_str())
            .with_property("ErrorCategory_TargetName", self.target_name.as_str())
            .with_property("ErrorCategory_TargetType", self.target_type.as_str())
            .with_property("ErrorCategory_Message", self.category_message())
            .with_property("SerializeExtendedInfo", false);
        if let Some(trace) = &self.script_stack_trace {
            record = record.with_property("ErrorDetails_ScriptStackTrace", trace.as_str());
        }
        record.into()
    }

    /// Reads a record; every field but the message is optional on the wire and defaults to empty.
    pub fn from_value(value: &PsValue) -> Result<Self, BodyError> {
        let p = Props::of(value, MessageType::ErrorRecord)?;
        let exception = p.get("Exception").and_then(PsValue::as_object);
        let message = exception
            .and_then(|e| e.property("Message"))
            .and_then(PsValue::as_str)
            .map(str::to_owned)
            .or_else(|| value.as_object().and_then(|o| o.to_string.clone()))
            .ok_or_else(|| p.missing("Exception"))?;
        let text = |name: &'static str| p.get(name).and_then(PsValue::as_str).unwrap_or("").to_owned();
        Ok(ErrorRecord {
            message,
            exception_types: exception.map(|e| e.type_names().to_vec()).unwrap_or_default(),
            fully_qualified_error_id: text("FullyQualifiedErrorId"),
            category: ErrorCategory(p.get("ErrorCategory_Category").and_then(PsValue::as_i32).unwrap_or(0)),
            activity: text("ErrorCategory_Activity"),
            reason: text("ErrorCategory_Reason"),
            target_name: text("ErrorCategory_TargetName"),
            target_type: text("ErrorCategory_TargetType"),
            target_object: p.get("TargetObject").cloned().unwrap_or(PsValue::Null),
            script_stack_trace: p.get("ErrorDetails_ScriptStackTrace").and_then(PsValue::as_str).map(str::to_owned),
            write_error_stream: p.get("writeErrorStream").and_then(PsValue::as_bool).unwrap_or(false),
        })
    }
}

impl MessageBody for ErrorRecord {
    const MESSAGE_TYPE: MessageType = MessageType::ErrorRecord;

    fn to_value(&self) -> PsValue {
        ErrorRecord::to_value(self)
    }

    fn from_value(value: &PsValue) -> Result<Self, BodyError> {
        ErrorRecord::from_value(value)
    }
}

/// DEBUG_RECORD, VERBOSE_RECORD or WARNING_RECORD (MS-PSRP 2.2.3.16): an InformationalRecord.
#[derive(Debug, Clone, PartialEq)]
pub struct InformationalRecord {
    /// Which of the three streams (`MessageType::DebugRecord`, `VerboseRecord` or `WarningRecord`).
    pub stream: MessageType,
    /// `InformationalRecord_Message`.
    pub message: String,
}

impl InformationalRecord {
    /// The record's value for its stream.
    pub fn to_value(&self) -> PsValue {
        let type_name = match self.stream {
            MessageType::DebugRecord => "System.Management.Automation.DebugRecord",
            MessageType::VerboseRecord => "System.Management.Automation.VerboseRecord",
            _ => "System.Management.Automation.WarningRecord",
        };
        let mut record =
            PsObject::with_type_names([type_name, "System.Management.Automation.InformationalRecord", "System.Object"]);
        record.to_string = Some(self.message.clone());
        record
            .with_property("InformationalRecord_Message", self.message.as_str())
            .with_property("InformationalRecord_SerializeInvocationInfo", false)
            .into()
    }

    /// Reads the record of stream `stream`.
    pub fn from_value(stream: MessageType, value: &PsValue) -> Result<Self, BodyError> {
        let p = Props::of(value, stream)?;
        let message = match p.opt_string("InformationalRecord_Message")? {
            Some(m) => m,
            None => value
                .as_object()
                .and_then(|o| o.to_string.clone())
                .ok_or_else(|| p.missing("InformationalRecord_Message"))?,
        };
        Ok(InformationalRecord { stream, message })
    }
}

/// INFORMATION_RECORD (MS-PSRP 2.2.2.26).
#[derive(Debug, Clone, PartialEq)]
pub struct InformationRecord {
    /// `MessageData`: any object (Write-Information's message is a string).
    pub message_data: PsValue,
    /// `Source`: the command that wrote it.
    pub source: String,
    /// `TimeGenerated`.
    pub time_generated: PsDateTime,
    /// `Tags`.
    pub tags: Vec<String>,
    /// `User`.
    pub user: String,
    /// `Computer`.
    pub computer: String,
    /// `ProcessId`.
    pub process_id: u32,
    /// `NativeThreadId`.
    pub native_thread_id: u32,
    /// `ManagedThreadId`.
    pub managed_thread_id: u32,
}

impl MessageBody for InformationRecord {
    const MESSAGE_TYPE: MessageType = MessageType::InformationRecord;

    fn to_value(&self) -> PsValue {
        let mut tags = PsObject::with_type_names([
            "System.Collections.Generic.List`1[[System.String, mscorlib, Version=4.0.0.0, Culture=neutral, \
             PublicKeyToken=b77a5c561934e089]]",
            "System.Object",
        ]);
        tags.container = Some(Container::List(self.tags.iter().map(|t| PsValue::String(t.clone())).collect()));
        PsObject::default()
            .with_property("MessageData", self.message_data.clone())
            .with_property("Source", self.source.as_str())
            .with_property("TimeGenerated", PsValue::DateTime(self.time_generated))
            .with_property("Tags", PsValue::from(tags))
            .with_property("User", self.user.as_str())
            .with_property("Computer", self.computer.as_str())
            .with_property("ProcessId", PsValue::U32(self.process_id))
            .with_property("NativeThreadId", PsValue::U32(self.native_thread_id))
            .with_property("ManagedThreadId", PsValue::U32(self.managed_thread_id))
            .into()
    }

    fn from_value(value: &PsValue) -> Result<Self, BodyError> {
        let p = Props::of(value, Self::MESSAGE_TYPE)?;
        let number =
            |name: &'static str| p.get(name).and_then(PsValue::as_i64).and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
        Ok(InformationRecord {
            message_data: p.value("MessageData")?.clone(),
            source: p.opt_string("Source")?.unwrap_or_default(),
            time_generated: match p.get("TimeGenerated") {
                Some(PsValue::DateTime(dt)) => *dt,
                _ => return Err(p.missing("TimeGenerated")),
            },
            tags: p
                .get("Tags")
                .and_then(PsValue::as_object)
                .and_then(PsObject::items)
                .map(|items| items.iter().filter_map(PsValue::as_str).map(str::to_owned).collect())
                .unwrap_or_default(),
            user: p.opt_string("User")?.unwrap_or_default(),
            computer: p.opt_string("Computer")?.unwrap_or_default(),
            process_id: number("ProcessId"),
            native_thread_id: number("NativeThreadId"),
            managed_thread_id: number("ManagedThreadId"),
        })
    }
}

/// PROGRESS_RECORD (MS-PSRP 2.2.2.25).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressRecord {
    /// `Activity`.
    pub activity: String,
    /// `ActivityId`.
    pub activity_id: i32,
    /// `StatusDescription`.
    pub status_description: String,
    /// `CurrentOperation`.
    pub current_operation: Option<String>,
    /// `ParentActivityId` (-1 for none).
    pub parent_activity_id: i32,
    /// `PercentComplete` (-1 for unknown).
    pub percent_complete: i32,
    /// `Type`: `false` Processing, `true` Completed.
    pub completed: bool,
    /// `SecondsRemaining` (-1 for unknown).
    pub seconds_remaining: i32,
}

impl MessageBody for ProgressRecord {
    const MESSAGE_TYPE: MessageType = MessageType::ProgressRecord;

    fn to_value(&self) -> PsValue {
        let (name, number) = if self.completed { ("Completed", 1) } else { ("Processing", 0) };
        PsObject::default()
            .with_property("Activity", self.activity.as_str())
            .with_property("ActivityId", self.activity_id)
            .with_property("StatusDescription", self.status_description.as_str())
            .with_property("CurrentOperation", self.current_operation.clone())
            .with_property("ParentActivityId", self.parent_activity_id)
            .with_property("PercentComplete", self.percent_complete)
            .with_property("Type", enum_value("System.Management.Automation.ProgressRecordType", name, number))
            .with_property("SecondsRemaining", self.seconds_remaining)
            .into()
    }

    fn from_value(value: &PsValue) -> Result<Self, BodyError> {
        let p = Props::of(value, Self::MESSAGE_TYPE)?;
        Ok(ProgressRecord {
            activity: p.string("Activity")?,
            activity_id: p.i32("ActivityId")?,
            status_description: p.opt_string("StatusDescription")?.unwrap_or_default(),
            current_operation: p.opt_string("CurrentOperation")?,
            parent_activity_id: p.get("ParentActivityId").and_then(PsValue::as_i32).unwrap_or(-1),
            percent_complete: p.get("PercentComplete").and_then(PsValue::as_i32).unwrap_or(-1),
            completed: p.get("Type").and_then(PsValue::as_i32) == Some(1),
            seconds_remaining: p.get("SecondsRemaining").and_then(PsValue::as_i32).unwrap_or(-1),
        })
    }
}
