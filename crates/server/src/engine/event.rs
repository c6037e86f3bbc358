//! What a running pipeline reports: output objects, stream records and its final state.
//!
//! These are neutral types; the endpoint turns them into PIPELINE_OUTPUT, ERROR_RECORD, WARNING_RECORD,
//! VERBOSE_RECORD, DEBUG_RECORD, INFORMATION_RECORD, PROGRESS_RECORD and PIPELINE_STATE messages.

use super::value::Value;

/// One event of a running pipeline, in the order the pipeline produced them.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PipelineEvent {
    /// An object on the output stream.
    Output(Value),
    /// A (non-terminating) error record on the error stream.
    Error(ErrorRecord),
    /// A warning message.
    Warning(InformationalRecord),
    /// A verbose message (only when verbose output is enabled; see the engine documentation).
    Verbose(InformationalRecord),
    /// A debug message (only when debug output is enabled).
    Debug(InformationalRecord),
    /// An information record (`Write-Information`, `Write-Host`).
    Information(InformationRecord),
    /// A progress record.
    Progress(ProgressRecord),
    /// The final state; always the last event of a pipeline.
    State(PipelineState),
}

/// How a pipeline ended (PSInvocationState Completed 4, Stopped 3, Failed 5).
#[derive(Debug, Clone, PartialEq)]
pub enum PipelineState {
    /// It ran to the end (possibly after writing non-terminating errors).
    Completed,
    /// It was stopped; the record is PowerShell's `PipelineStoppedException` record.
    Stopped(ErrorRecord),
    /// A terminating error ended it.
    Failed(ErrorRecord),
}

impl PipelineState {
    /// The PSInvocationState number sent in PIPELINE_STATE.
    pub fn invocation_state(&self) -> i32 {
        match self {
            PipelineState::Completed => 4,
            PipelineState::Stopped(_) => 3,
            PipelineState::Failed(_) => 5,
        }
    }

    /// The error record that goes into PIPELINE_STATE's `ExceptionAsErrorRecord`, if any.
    pub fn error_record(&self) -> Option<&ErrorRecord> {
        match self {
            PipelineState::Completed => None,
            PipelineState::Stopped(record) | PipelineState::Failed(record) => Some(record),
        }
    }
}

/// `System.Management.Automation.ErrorCategory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum ErrorCategory {
    NotSpecified = 0,
    OpenError = 1,
    CloseError = 2,
    DeviceError = 3,
    DeadlockDetected = 4,
    InvalidArgument = 5,
    InvalidData = 6,
    InvalidOperation = 7,
    InvalidResult = 8,
    InvalidType = 9,
    MetadataError = 10,
    NotImplemented = 11,
    NotInstalled = 12,
    ObjectNotFound = 13,
    OperationStopped = 14,
    OperationTimeout = 15,
    SyntaxError = 16,
    ParserError = 17,
    PermissionDenied = 18,
    ResourceBusy = 19,
    ResourceExists = 20,
    ResourceUnavailable = 21,
    ReadError = 22,
    WriteError = 23,
    FromStdErr = 24,
    SecurityError = 25,
    ProtocolError = 26,
    ConnectionError = 27,
    AuthenticationError = 28,
    LimitsExceeded = 29,
    QuotaExceeded = 30,
    NotEnabled = 31,
}

impl ErrorCategory {
    /// The enum's numeric value (`ErrorCategory_Category`).
    pub fn number(self) -> i32 {
        self as i32
    }

    /// The enum's name, as `ToString()` gives it.
    pub fn name(self) -> &'static str {
        use ErrorCategory::*;
        match self {
            NotSpecified => "NotSpecified",
            OpenError => "OpenError",
            CloseError => "CloseError",
            DeviceError => "DeviceError",
            DeadlockDetected => "DeadlockDetected",
            InvalidArgument => "InvalidArgument",
            InvalidData => "InvalidData",
            InvalidOperation => "InvalidOperation",
            InvalidResult => "InvalidResult",
            InvalidType => "InvalidType",
            MetadataError => "MetadataError",
            NotImplemented => "NotImplemented",
            NotInstalled => "NotInstalled",
            ObjectNotFound => "ObjectNotFound",
            OperationStopped => "OperationStopped",
            OperationTimeout => "OperationTimeout",
            SyntaxError => "SyntaxError",
            ParserError => "ParserError",
            PermissionDenied => "PermissionDenied",
            ResourceBusy => "ResourceBusy",
            ResourceExists => "ResourceExists",
            ResourceUnavailable => "ResourceUnavailable",
            ReadError => "ReadError",
            WriteError => "WriteError",
            FromStdErr => "FromStdErr",
            SecurityError => "SecurityError",
            ProtocolError => "ProtocolError",
            ConnectionError => "ConnectionError",
            AuthenticationError => "AuthenticationError",
            LimitsExceeded => "LimitsExceeded",
            QuotaExceeded => "QuotaExceeded",
            NotEnabled => "NotEnabled",
        }
    }

    /// Parses a category name (case-insensitive), as `Write-Error -Category` accepts it.
    pub fn from_name(name: &str) -> Option<ErrorCategory> {
        (0..=31).filter_map(ErrorCategory::from_number).find(|c| c.name().eq_ignore_ascii_case(name))
    }

    /// The category with this number.
    pub fn from_number(number: i32) -> Option<ErrorCategory> {
        use ErrorCategory::*;
        const ALL: [ErrorCategory; 32] = [
            NotSpecified,
            OpenError,
            CloseError,
            DeviceError,
            DeadlockDetected,
            InvalidArgument,
            InvalidData,
            InvalidOperation,
            InvalidResult,
            InvalidType,
            MetadataError,
            NotImplemented,
            NotInstalled,
            ObjectNotFound,
            OperationStopped,
            OperationTimeout,
            SyntaxError,
            ParserError,
            PermissionDenied,
            ResourceBusy,
            ResourceExists,
            ResourceUnavailable,
            ReadError,
            WriteError,
            FromStdErr,
            SecurityError,
            ProtocolError,
            ConnectionError,
            AuthenticationError,
            LimitsExceeded,
            QuotaExceeded,
            NotEnabled,
        ];
        usize::try_from(number).ok().and_then(|i| ALL.get(i).copied())
    }
}

/// Where an error happened: the `InvocationInfo` fields PowerShell serializes with an error record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InvocationInfo {
    /// The command that was running (`MyCommand`), e.g. `Write-Error`; empty for parse errors.
    pub my_command: String,
    /// 1-based line of the statement in the script (`ScriptLineNumber`); 0 when not from a script.
    pub script_line_number: i32,
    /// 1-based column (`OffsetInLine`); 0 when not from a script.
    pub offset_in_line: i32,
    /// The text of that line (`Line`).
    pub line: String,
    /// `At line:L char:C` with the line and a `~` marker (`PositionMessage`).
    pub position_message: String,
    /// The name the command was invoked with (`InvocationName`).
    pub invocation_name: String,
    /// Position of the command in its pipeline, 1-based (`PipelinePosition`).
    pub pipeline_position: i32,
    /// Number of commands in that pipeline (`PipelineLength`).
    pub pipeline_length: i32,
}

/// A neutral error record: the fields PowerShell's `ErrorRecord` serializes.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorRecord {
    /// The exception message (`Exception.Message`, also `ErrorDetails`-less `ToString()`).
    pub message: String,
    /// The .NET type of the exception, e.g. `System.Management.Automation.CommandNotFoundException`.
    pub exception_type: String,
    /// `FullyQualifiedErrorId`, e.g. `CommandNotFoundException` or
    /// `Microsoft.PowerShell.Commands.WriteErrorException`.
    pub fully_qualified_error_id: String,
    /// `ErrorCategory_Category`.
    pub category: ErrorCategory,
    /// `ErrorCategory_Activity` (the command name for most cmdlet errors).
    pub activity: String,
    /// `ErrorCategory_Reason` (the exception's short type name).
    pub reason: String,
    /// `ErrorCategory_TargetName`.
    pub target_name: String,
    /// `ErrorCategory_TargetType`.
    pub target_type: String,
    /// `TargetObject`.
    pub target_object: Option<Value>,
    /// Where it happened.
    pub invocation: Option<InvocationInfo>,
    /// `SerializeExtendedInfo`-style script stack trace (`ScriptStackTrace`), when known.
    pub script_stack_trace: Option<String>,
}

impl ErrorRecord {
    /// A record with the given message, exception type, error id and category; the other fields empty and
    /// `reason` derived from the exception type's short name.
    pub fn new(
        message: impl Into<String>,
        exception_type: impl Into<String>,
        fully_qualified_error_id: impl Into<String>,
        category: ErrorCategory,
    ) -> ErrorRecord {
        let exception_type = exception_type.into();
        let reason = exception_type.rsplit('.').next().unwrap_or_default().to_string();
        ErrorRecord {
            message: message.into(),
            exception_type,
            fully_qualified_error_id: fully_qualified_error_id.into(),
            category,
            activity: String::new(),
            reason,
            target_name: String::new(),
            target_type: String::new(),
            target_object: None,
            invocation: None,
            script_stack_trace: None,
        }
    }

    /// PowerShell's `CategoryInfo.GetMessage()`: `Category: (TargetName:TargetType) [Activity], Reason`.
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
}

/// A warning, verbose or debug record (`InformationalRecord`: a message plus where it came from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InformationalRecord {
    /// The message.
    pub message: String,
    /// The command that wrote it (`InvocationInfo.MyCommand`), e.g. `Write-Warning`.
    pub command: String,
}

/// An information record (`System.Management.Automation.InformationRecord`).
#[derive(Debug, Clone, PartialEq)]
pub struct InformationRecord {
    /// `MessageData`: the object written (for `Write-Host`, a `HostInformationMessage`-shaped object).
    pub message_data: Value,
    /// `Source`: the command that wrote it, e.g. `Write-Information` or `Write-Host`.
    pub source: String,
    /// `TimeGenerated` as 100-ns ticks since 0001-01-01 UTC (.NET `DateTime.Ticks`).
    pub time_generated_ticks: i64,
    /// `Tags` (`Write-Host` adds `PSHOST`).
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

/// `System.Management.Automation.ProgressRecordType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressRecordType {
    /// The operation is going on (0).
    Processing,
    /// The operation finished (`Write-Progress -Completed`) (1).
    Completed,
}

/// A progress record (`System.Management.Automation.ProgressRecord`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressRecord {
    /// `Activity`.
    pub activity: String,
    /// `ActivityId` (`-Id`, default 0).
    pub activity_id: i32,
    /// `StatusDescription` (`-Status`, default `Processing`).
    pub status_description: String,
    /// `CurrentOperation`, if given.
    pub current_operation: Option<String>,
    /// `ParentActivityId` (`-ParentId`, default -1).
    pub parent_activity_id: i32,
    /// `PercentComplete` (default -1).
    pub percent_complete: i32,
    /// `SecondsRemaining` (default -1).
    pub seconds_remaining: i32,
    /// `RecordType`.
    pub record_type: ProgressRecordType,
}
