//! Records as objects: what a merged stream (`2>&1` …) puts into the output stream.

use std::sync::Arc;

use super::event::{ErrorCategory, ErrorRecord, InformationRecord, InformationalRecord, InvocationInfo, PipelineEvent};
use super::parser::ParseError;
use super::value::{Object, Value};

impl ErrorRecord {
    /// PowerShell's record for an unknown command.
    pub(crate) fn command_not_found(name: &str, info: InvocationInfo) -> ErrorRecord {
        let mut record = ErrorRecord::new(
            format!(
                "The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable program. \
                 Check the spelling of the name, or if a path was included, verify that the path is correct and try again."
            ),
            "System.Management.Automation.CommandNotFoundException",
            "CommandNotFoundException",
            ErrorCategory::ObjectNotFound,
        );
        record.target_name = name.to_string();
        record.target_type = "String".to_string();
        record.target_object = Some(Value::string(name).clone());
        record.invocation = Some(InvocationInfo { my_command: String::new(), ..info });
        record
    }

    /// PowerShell's record for a script that does not parse (its message, like `ParseException.Message`, starts
    /// with the position).
    pub(crate) fn parse_error(error: &ParseError) -> ErrorRecord {
        let mut record = ErrorRecord::new(
            format!("{}\n{}", error.position_message(), error.message),
            "System.Management.Automation.ParseException",
            error.error_id,
            ErrorCategory::ParserError,
        );
        record.reason = "ParseException".to_string();
        record.invocation = Some(InvocationInfo {
            script_line_number: error.line as i32,
            offset_in_line: error.column as i32,
            line: error.line_text.clone(),
            position_message: error.position_message(),
            ..InvocationInfo::default()
        });
        record
    }

    /// The record as an `ErrorRecord` object with the properties PowerShell serializes for it (the
    /// `ErrorCategory_*` and `InvocationInfo` fields flattened, `SerializeExtendedInfo`).
    pub fn to_value(&self) -> Value {
        let mut properties = vec![
            ("Exception".to_string(), exception_value(&self.exception_type, &self.message)),
            ("TargetObject".to_string(), self.target_object.clone().unwrap_or(Value::Null)),
            ("FullyQualifiedErrorId".to_string(), Value::string(self.fully_qualified_error_id.as_str())),
            ("InvocationInfo".to_string(), self.invocation.as_ref().map_or(Value::Null, invocation_value)),
            ("ErrorCategory_Category".to_string(), Value::Int(self.category.number())),
            ("ErrorCategory_Activity".to_string(), Value::string(self.activity.as_str())),
            ("ErrorCategory_Reason".to_string(), Value::string(self.reason.as_str())),
            ("ErrorCategory_TargetName".to_string(), Value::string(self.target_name.as_str())),
            ("ErrorCategory_TargetType".to_string(), Value::string(self.target_type.as_str())),
            ("ErrorCategory_Message".to_string(), Value::string(self.category_message())),
            ("SerializeExtendedInfo".to_string(), Value::Bool(self.invocation.is_some())),
        ];
        if let Some(trace) = &self.script_stack_trace {
            properties.push(("ErrorDetails_ScriptStackTrace".to_string(), Value::string(trace.as_str())));
        }
        Value::Object(Arc::new(Object {
            type_names: vec!["System.Management.Automation.ErrorRecord".into(), "System.Object".into()],
            properties,
            to_string: Some(self.message.clone()),
        }))
    }
}

fn exception_value(exception_type: &str, message: &str) -> Value {
    let mut type_names = vec![exception_type.to_string()];
    for base in ["System.SystemException", "System.Exception", "System.Object"] {
        if !type_names.iter().any(|t| t == base) {
            type_names.push(base.to_string());
        }
    }
    Value::Object(Arc::new(Object {
        type_names,
        properties: vec![("Message".into(), Value::string(message))],
        to_string: Some(format!("{exception_type}: {message}")),
    }))
}

fn invocation_value(info: &InvocationInfo) -> Value {
    Value::Object(Arc::new(Object {
        type_names: vec!["System.Management.Automation.InvocationInfo".into(), "System.Object".into()],
        properties: vec![
            ("MyCommand".into(), Value::string(info.my_command.as_str())),
            ("ScriptLineNumber".into(), Value::Int(info.script_line_number)),
            ("OffsetInLine".into(), Value::Int(info.offset_in_line)),
            ("Line".into(), Value::string(info.line.as_str())),
            ("PositionMessage".into(), Value::string(info.position_message.as_str())),
            ("InvocationName".into(), Value::string(info.invocation_name.as_str())),
            ("PipelineLength".into(), Value::Int(info.pipeline_length)),
            ("PipelinePosition".into(), Value::Int(info.pipeline_position)),
        ],
        to_string: None,
    }))
}

fn informational_value(kind: &str, record: &InformationalRecord) -> Value {
    Value::Object(Arc::new(Object {
        type_names: vec![
            format!("System.Management.Automation.{kind}Record"),
            "System.Management.Automation.InformationalRecord".into(),
            "System.Object".into(),
        ],
        properties: vec![
            ("Message".into(), Value::string(record.message.as_str())),
            ("InvocationInfo".into(), Value::Null),
        ],
        to_string: Some(record.message.clone()),
    }))
}

impl InformationRecord {
    /// The record as an `InformationRecord` object.
    pub fn to_value(&self) -> Value {
        Value::Object(Arc::new(Object {
            type_names: vec!["System.Management.Automation.InformationRecord".into(), "System.Object".into()],
            properties: vec![
                ("MessageData".into(), self.message_data.clone()),
                ("Source".into(), Value::string(self.source.as_str())),
                ("TimeGenerated".into(), Value::DateTime(self.time_generated_ticks)),
                ("Tags".into(), Value::array(self.tags.iter().map(|t| Value::string(t.as_str())).collect())),
                ("User".into(), Value::string(self.user.as_str())),
                ("Computer".into(), Value::string(self.computer.as_str())),
                ("ProcessId".into(), Value::Long(i64::from(self.process_id))),
                ("NativeThreadId".into(), Value::Long(i64::from(self.native_thread_id))),
                ("ManagedThreadId".into(), Value::Long(i64::from(self.managed_thread_id))),
            ],
            to_string: Some(self.message_data.to_ps_string()),
        }))
    }
}

/// A record event as the object a merged stream writes to output.
pub(crate) fn record_to_value(event: &PipelineEvent) -> Value {
    match event {
        PipelineEvent::Output(value) => value.clone(),
        PipelineEvent::Error(record) => record.to_value(),
        PipelineEvent::Warning(record) => informational_value("Warning", record),
        PipelineEvent::Verbose(record) => informational_value("Verbose", record),
        PipelineEvent::Debug(record) => informational_value("Debug", record),
        PipelineEvent::Information(record) => record.to_value(),
        PipelineEvent::Progress(_) | PipelineEvent::State(_) => Value::Null,
    }
}
