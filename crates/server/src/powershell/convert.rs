//! Conversions between the engine's values and records and their CLIXML forms (PSRP message bodies).

use std::sync::Arc;

use pssession_psrp::clixml::{Container, DateTimeKind, PsDateTime, PsObject, PsProperty, PsValue, PsVersion};
use pssession_psrp::messages;
use pssession_psrp::session_key::SessionKey;

use crate::engine::{self, Value};

/// An engine value as CLIXML, typed the way PowerShell serializes the .NET object it stands for.
pub fn to_ps_value(value: &Value) -> PsValue {
    match value {
        Value::Null => PsValue::Null,
        Value::Bool(b) => PsValue::Bool(*b),
        Value::Int(i) => PsValue::I32(*i),
        Value::Long(l) => PsValue::I64(*l),
        Value::Double(d) => PsValue::Double(*d),
        Value::String(s) => PsValue::String(s.to_string()),
        Value::DateTime(ticks) => PsValue::DateTime(PsDateTime { ticks: *ticks, kind: DateTimeKind::Utc }),
        Value::Version(text) => {
            PsVersion::parse(text).map_or_else(|_| PsValue::String(text.to_string()), PsValue::Version)
        }
        Value::Array(items) => PsObject {
            type_names: Some(Arc::from(
                ["System.Object[]", "System.Array", "System.Object"].map(String::from).as_slice(),
            )),
            container: Some(Container::List(items.iter().map(to_ps_value).collect())),
            ..PsObject::default()
        }
        .into(),
        Value::Hashtable(entries) => PsObject {
            type_names: Some(Arc::from(["System.Collections.Hashtable", "System.Object"].map(String::from).as_slice())),
            container: Some(Container::Dictionary(
                entries.iter().map(|(k, v)| (to_ps_value(k), to_ps_value(v))).collect(),
            )),
            ..PsObject::default()
        }
        .into(),
        Value::Object(object) => PsObject {
            type_names: Some(object.type_names.iter().cloned().collect()),
            to_string: object.to_string.clone(),
            extended: object
                .properties
                .iter()
                .map(|(name, value)| PsProperty { name: name.as_str().into(), value: to_ps_value(value) })
                .collect(),
            ..PsObject::default()
        }
        .into(),
        Value::Enum(e) => PsObject {
            type_names: Some(e.type_names.iter().cloned().collect()),
            to_string: Some(e.name.clone()),
            base: Some(PsValue::I32(e.value)),
            ..PsObject::default()
        }
        .into(),
        Value::ScriptBlock(block) => PsValue::ScriptBlock(block.ast.text.clone()),
    }
}

/// A CLIXML value (pipeline input, a command argument) as an engine value. Types the engine has no model for
/// become their closest equivalent: other integers widen to Int64, text-like values become strings, objects keep
/// their type names and properties.
pub fn from_ps_value(value: &PsValue) -> Value {
    match value {
        PsValue::Null => Value::Null,
        PsValue::Bool(b) => Value::Bool(*b),
        PsValue::I32(i) => Value::Int(*i),
        PsValue::U8(_) | PsValue::I8(_) | PsValue::U16(_) | PsValue::I16(_) => {
            Value::Int(value.as_i32().unwrap_or_default())
        }
        PsValue::U32(_) | PsValue::I64(_) => Value::Long(value.as_i64().unwrap_or_default()),
        PsValue::U64(u) => i64::try_from(*u).map_or(Value::Double(*u as f64), Value::Long),
        PsValue::Single(f) => Value::Double(f64::from(*f)),
        PsValue::Double(d) => Value::Double(*d),
        PsValue::DateTime(dt) => Value::DateTime(dt.utc_ticks()),
        PsValue::Version(v) => Value::Version(v.to_string().into()),
        PsValue::ScriptBlock(text) => match engine::ScriptBlockValue::parse(text) {
            Ok(block) => Value::ScriptBlock(Arc::new(block)),
            Err(_) => Value::string(text.as_str()),
        },
        PsValue::Object(object) => match &object.container {
            Some(Container::Dictionary(entries)) => {
                Value::Hashtable(Arc::new(entries.iter().map(|(k, v)| (from_ps_value(k), from_ps_value(v))).collect()))
            }
            Some(container) => Value::array(container.items().unwrap_or(&[]).iter().map(from_ps_value).collect()),
            None if object.is_enum() => Value::Enum(Arc::new(engine::EnumValue {
                type_names: object.type_names().to_vec(),
                name: object.to_string.clone().unwrap_or_default(),
                value: object.base.as_ref().and_then(PsValue::as_i32).unwrap_or_default(),
            })),
            None if object.properties().next().is_none() && object.base.is_some() => {
                from_ps_value(object.base.as_ref().unwrap_or(&PsValue::Null))
            }
            None => Value::Object(Arc::new(engine::Object {
                type_names: object.type_names().to_vec(),
                properties: object.properties().map(|p| (p.name.to_string(), from_ps_value(&p.value))).collect(),
                to_string: object.to_string.clone(),
            })),
        },
        other => Value::string(other.to_string()),
    }
}

/// An engine error record as the PSRP ErrorRecord.
pub fn error_record(record: &engine::ErrorRecord) -> messages::ErrorRecord {
    let mut out = messages::ErrorRecord::new(
        &record.message,
        &record.exception_type,
        &record.fully_qualified_error_id,
        messages::ErrorCategory(record.category.number()),
    );
    out.activity = record.activity.clone();
    out.reason = record.reason.clone();
    out.target_name = record.target_name.clone();
    out.target_type = record.target_type.clone();
    out.target_object = record.target_object.as_ref().map_or(PsValue::Null, to_ps_value);
    out.script_stack_trace = record.script_stack_trace.clone();
    out
}

/// An engine information record as the PSRP InformationRecord.
pub fn information_record(record: &engine::InformationRecord) -> messages::InformationRecord {
    messages::InformationRecord {
        message_data: to_ps_value(&record.message_data),
        source: record.source.clone(),
        time_generated: PsDateTime { ticks: record.time_generated_ticks, kind: DateTimeKind::Utc },
        tags: record.tags.clone(),
        user: record.user.clone(),
        computer: record.computer.clone(),
        process_id: record.process_id,
        native_thread_id: record.native_thread_id,
        managed_thread_id: record.managed_thread_id,
    }
}

/// An engine progress record as the PSRP ProgressRecord.
pub fn progress_record(record: &engine::ProgressRecord) -> messages::ProgressRecord {
    messages::ProgressRecord {
        activity: record.activity.clone(),
        activity_id: record.activity_id,
        status_description: record.status_description.clone(),
        current_operation: record.current_operation.clone(),
        parent_activity_id: record.parent_activity_id,
        percent_complete: record.percent_complete,
        completed: record.record_type == engine::ProgressRecordType::Completed,
        seconds_remaining: record.seconds_remaining,
    }
}

/// Replaces every SecureString argument (a parameter value itself, not one nested in an object) of `create` by its text, decrypted with the shell's session key; the
/// engine has no SecureString type. Without a key (no PUBLIC_KEY came first) or with a ciphertext that does not
/// decrypt, the pipeline is refused.
pub fn reveal_secure_strings(create: &mut messages::CreatePipeline, key: Option<&SessionKey>) -> Result<(), String> {
    let pipeline = &mut create.pipeline;
    for command in pipeline.commands.iter_mut().chain(pipeline.extra_commands.iter_mut().flatten()) {
        for arg in &mut command.args {
            if let PsValue::SecureString(ciphertext) = &arg.value {
                let key = key.ok_or("a SecureString argument arrived before the session key exchange")?;
                let text = key.decrypt(ciphertext).map_err(|e| format!("SecureString argument: {e}"))?;
                arg.value = PsValue::String(text.expose().to_owned());
            }
        }
    }
    Ok(())
}

/// A CREATE_PIPELINE as the engine's pipeline specification.
pub fn pipeline_spec(create: &messages::CreatePipeline) -> engine::PipelineSpec {
    let statement = |commands: &[messages::PowerShellCommand]| -> Vec<engine::CommandSpec> {
        commands
            .iter()
            .map(|command| {
                let mut spec = if command.is_script {
                    engine::CommandSpec::script(command.cmd.as_str())
                } else {
                    engine::CommandSpec::new(command.cmd.as_str())
                };
                spec.use_local_scope = command.use_local_scope.unwrap_or(false);
                for arg in &command.args {
                    spec.parameters
                        .push(engine::ParameterSpec { name: arg.name.clone(), value: from_ps_value(&arg.value) });
                }
                // MergeMyResult Error → Output (2>&1) and the per-stream merges of protocol 2.2+.
                let [error, warning, verbose, debug, information] = command.merge_streams;
                spec.merge = engine::MergeSettings {
                    error: command.merge_my_result.0 == 2 || error.0 != 0,
                    warning: warning.0 != 0,
                    verbose: verbose.0 != 0,
                    debug: debug.0 != 0,
                    information: information.0 != 0,
                };
                spec
            })
            .collect()
    };
    // PowerShell's layout: with several statements `ExtraCmds` lists all of them, the first (also in `Cmds`)
    // included; `Cmds` alone is the only statement.
    let statements = if create.pipeline.extra_commands.is_empty() {
        vec![statement(&create.pipeline.commands)]
    } else {
        create.pipeline.extra_commands.iter().map(|s| statement(s)).collect()
    };
    engine::PipelineSpec { statements, expects_input: !create.no_input }
}
