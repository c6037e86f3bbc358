//! The built-ins without per-input state: the Write-* family, Start-Sleep, Get-Date, Get-Process, Get-Command,
//! Invoke-Expression, the test data source.

use std::sync::Arc;
use std::time::Duration;

use super::super::event::{
    ErrorCategory, ErrorRecord, InformationRecord, InformationalRecord, PipelineEvent, ProgressRecord,
    ProgressRecordType,
};
use super::super::jobs::JobState;
use super::super::runtime::{BoxFut, Ctx, Flow, Invocation, OutputSink, Processor};
use super::super::value::{self, MAX_STRING_LEN, ScriptBlockValue, Value};
use super::job_commands::{select_jobs, start_job};
use super::*;

pub(super) struct Simple {
    pub(super) builtin: Builtin,
    pub(super) bound: Bound,
}

impl Processor for Simple {
    fn process<'a>(
        &'a mut self,
        ctx: &'a Ctx,
        inv: &'a Invocation,
        input: Option<Value>,
        out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async move { run_simple(self.builtin, &self.bound, ctx, inv, input, out).await })
    }
}

pub(super) async fn run_simple(
    builtin: Builtin,
    bound: &Bound,
    ctx: &Ctx,
    inv: &Invocation,
    input: Option<Value>,
    out: &mut dyn OutputSink,
) -> Result<(), Flow> {
    let message = |name: &str| input.clone().or_else(|| bound.get(name).cloned());
    match builtin {
        Builtin::WriteOutput => match input {
            Some(v) => out.write(v).await,
            None => match bound.get("InputObject") {
                Some(v) if bound.switch("NoEnumerate") => out.write(v.clone()).await,
                Some(v) => {
                    for item in v.clone().enumerate() {
                        out.write(item).await?;
                    }
                    Ok(())
                }
                None => Ok(()),
            },
        },
        Builtin::OutNull => Ok(()),
        Builtin::OutDefault => match input {
            Some(v) => out.write(v).await,
            None => Ok(()),
        },
        Builtin::WriteError => {
            let Some(message) = message("Message") else { return Ok(()) };
            let record = write_error_record(bound, inv, message.to_ps_string())?;
            inv.write_record(ctx, out, PipelineEvent::Error(record)).await
        }
        Builtin::WriteWarning | Builtin::WriteVerbose | Builtin::WriteDebug => {
            let text = message("Message").map(|m| m.to_ps_string()).unwrap_or_default();
            let record = InformationalRecord { message: text, command: inv.name.clone() };
            let event = match builtin {
                Builtin::WriteWarning => PipelineEvent::Warning(record),
                Builtin::WriteVerbose => PipelineEvent::Verbose(record),
                _ => PipelineEvent::Debug(record),
            };
            inv.write_record(ctx, out, event).await
        }
        Builtin::WriteInformation => {
            let data = message("MessageData").unwrap_or(Value::Null);
            let tags = bound.strings("Tags").unwrap_or_default();
            let record = information_record(ctx, "Write-Information", data.clone(), tags);
            inv.write_record(ctx, out, PipelineEvent::Information(record)).await
        }
        Builtin::WriteHost => {
            let separator = bound.string("Separator").unwrap_or_else(|| " ".into());
            let objects = input.or_else(|| bound.get("Object").cloned()).unwrap_or(Value::Null);
            let text = objects.enumerate().iter().map(Value::to_ps_string).collect::<Vec<_>>().join(&separator);
            let mut properties =
                vec![("Message", Value::string(text)), ("NoNewLine", Value::Bool(bound.switch("NoNewline")))];
            for (param, property) in [("ForegroundColor", "ForegroundColor"), ("BackgroundColor", "BackgroundColor")] {
                if let Some(color) = bound.string(param) {
                    properties.push((property, Value::string(color)));
                }
            }
            let data =
                Value::object(&["System.Management.Automation.HostInformationMessage", "System.Object"], properties);
            let record = information_record(ctx, "Write-Host", data.clone(), vec!["PSHOST".into()]);
            inv.write_record(ctx, out, PipelineEvent::Information(record)).await
        }
        Builtin::WriteProgress => {
            let int = |name: &str, default: i64| bound.int(name).map(|v| v.unwrap_or(default));
            let clamp = |v: i64| v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
            let record = ProgressRecord {
                activity: bound.string("Activity").unwrap_or_default(),
                activity_id: clamp(int("Id", 0).map_err(|f| cmdlet_error(inv, f))?),
                status_description: bound.string("Status").unwrap_or_else(|| "Processing".into()),
                current_operation: bound.string("CurrentOperation"),
                parent_activity_id: clamp(int("ParentId", -1).map_err(|f| cmdlet_error(inv, f))?),
                percent_complete: clamp(int("PercentComplete", -1).map_err(|f| cmdlet_error(inv, f))?),
                seconds_remaining: clamp(int("SecondsRemaining", -1).map_err(|f| cmdlet_error(inv, f))?),
                record_type: if bound.switch("Completed") {
                    ProgressRecordType::Completed
                } else {
                    ProgressRecordType::Processing
                },
            };
            inv.write_record(ctx, out, PipelineEvent::Progress(record)).await
        }
        Builtin::StartSleep => {
            let seconds = bound.float("Seconds").map_err(|f| cmdlet_error(inv, f))?.unwrap_or(0.0);
            let millis = bound.int("Milliseconds").map_err(|f| cmdlet_error(inv, f))?.unwrap_or(0);
            let total_ms = seconds * 1000.0 + millis as f64;
            if !total_ms.is_finite() || !(0.0..=f64::from(i32::MAX)).contains(&total_ms) {
                return Err(Flow::statement(inv.error(
                    format!("Cannot validate argument on parameter 'Seconds'. The argument {total_ms} ms is not within 0 to 2147483647 ms."),
                    "System.Management.Automation.ParameterBindingValidationException",
                    "ParameterArgumentValidationError",
                    ErrorCategory::InvalidData,
                    None,
                )));
            }
            tokio::time::sleep(Duration::from_micros((total_ms * 1000.0) as u64)).await;
            Ok(())
        }
        Builtin::GetDate => out.write(Value::DateTime(ctx.rs.config.clock.now_ticks())).await,
        Builtin::GetProcess => {
            let names = bound.strings("Name");
            let ids: Option<Vec<i64>> =
                bound.get("Id").map(|v| v.clone().enumerate().iter().filter_map(Value::to_i64).collect());
            let processes = tokio::task::spawn_blocking(super::super::process::list)
                .await
                .unwrap_or_else(|_| Err("task failed".into()));
            let processes = match processes {
                Ok(list) => list,
                Err(reason) => {
                    let record = inv.error(
                        format!("Cannot read the process list: {reason}."),
                        "System.InvalidOperationException",
                        "CouldNotEnumerateProcesses",
                        ErrorCategory::ReadError,
                        None,
                    );
                    return inv.write_record(ctx, out, PipelineEvent::Error(record)).await;
                }
            };
            if let Some(ids) = ids {
                for id in ids {
                    match processes.iter().find(|p| i64::from(p.id) == id) {
                        Some(p) => out.write(p.to_value()).await?,
                        None => {
                            let record = inv.error(
                                format!("Cannot find a process with the process identifier {id}."),
                                "Microsoft.PowerShell.Commands.ProcessCommandException",
                                "NoProcessFoundForGivenId",
                                ErrorCategory::ObjectNotFound,
                                Some(Value::Long(id)),
                            );
                            inv.write_record(ctx, out, PipelineEvent::Error(record)).await?;
                        }
                    }
                }
                return Ok(());
            }
            match names {
                None => {
                    for p in &processes {
                        out.write(p.to_value()).await?;
                    }
                }
                Some(names) => {
                    for name in names {
                        let found: Vec<_> =
                            processes.iter().filter(|p| value::wildcard_match(&name, &p.name)).collect();
                        if found.is_empty() && !name.contains(['*', '?', '[']) {
                            let record = inv.error(
                                format!("Cannot find a process with the name \"{name}\". Verify the process name and call the cmdlet again."),
                                "Microsoft.PowerShell.Commands.ProcessCommandException",
                                "NoProcessFoundForGivenName",
                                ErrorCategory::ObjectNotFound,
                                Some(Value::string(name.as_str())),
                            );
                            inv.write_record(ctx, out, PipelineEvent::Error(record)).await?;
                        }
                        for p in found {
                            out.write(p.to_value()).await?;
                        }
                    }
                }
            }
            Ok(())
        }
        Builtin::StartJob => start_job(bound, ctx, inv, out).await,
        Builtin::GetJob => {
            let jobs = select_jobs(bound, ctx, inv, out, "Get-Job").await?;
            let state = bound.string("State");
            for job in jobs {
                if state.as_deref().is_none_or(|s| JobState::parse(s) == Some(job.state())) {
                    out.write(job.to_value()).await?;
                }
            }
            Ok(())
        }
        Builtin::GetCommand => {
            let patterns = bound.strings("Name");
            for builtin in Builtin::all() {
                if patterns.as_ref().is_none_or(|ps| ps.iter().any(|p| value::wildcard_match(p, builtin.name()))) {
                    out.write(command_info(*builtin)).await?;
                }
            }
            for pattern in patterns.unwrap_or_default() {
                if !pattern.contains(['*', '?', '[']) && Builtin::lookup(&pattern).is_none() {
                    let mut record = ErrorRecord::command_not_found(&pattern, inv.info.clone());
                    record.fully_qualified_error_id =
                        "CommandNotFoundException,Microsoft.PowerShell.Commands.GetCommandCommand".into();
                    record.activity = "Get-Command".into();
                    inv.write_record(ctx, out, PipelineEvent::Error(record)).await?;
                }
            }
            Ok(())
        }
        Builtin::GetTestData => get_test_data(bound, inv, out).await,
        Builtin::InvokeExpression => invoke_expression(bound, ctx, inv, input, out).await,
        Builtin::ForEachObject
        | Builtin::OutString
        | Builtin::WhereObject
        | Builtin::SelectObject
        | Builtin::ReceiveJob
        | Builtin::WaitJob
        | Builtin::RemoveJob
        | Builtin::StopJob => Ok(()),
    }
}

/// `Invoke-Expression [-Command] <string>` (pypsrp's `execute_ps`, evil-winrm's commands): the text runs as a script
/// block in a child frame of the caller; a text that does not parse is PowerShell's ParseException record. With
/// pipeline input, each input string is a command (`'Get-Date' | iex`).
pub(super) async fn invoke_expression(
    bound: &Bound,
    ctx: &Ctx,
    inv: &Invocation,
    input: Option<Value>,
    out: &mut dyn OutputSink,
) -> Result<(), Flow> {
    let Some(command) = input.or_else(|| bound.get("Command").cloned()) else {
        return Err(cmdlet_error(
            inv,
            BindFailure::new(
                "MissingMandatoryParameter",
                "Cannot process command because of one or more missing mandatory parameters: Command.".into(),
            ),
        ));
    };
    let block =
        ScriptBlockValue::parse(&command.to_ps_string()).map_err(|e| Flow::statement(ErrorRecord::parse_error(&e)))?;
    ctx.invoke_block(&inv.frame, &block, Vec::new(), out).await
}

pub(super) fn write_error_record(bound: &Bound, inv: &Invocation, message: String) -> Result<ErrorRecord, Flow> {
    let category = match bound.get("Category") {
        None => ErrorCategory::NotSpecified,
        Some(v) => ErrorCategory::from_name(&v.to_ps_string())
            .or_else(|| v.to_i64().and_then(|n| i32::try_from(n).ok()).and_then(ErrorCategory::from_number))
            .ok_or_else(|| {
                cmdlet_error(inv, conversion_failure("Category", v, "System.Management.Automation.ErrorCategory"))
            })?,
    };
    let error_id =
        bound.string("ErrorId").unwrap_or_else(|| "Microsoft.PowerShell.Commands.WriteErrorException".into());
    let mut record = ErrorRecord::new(message, "Microsoft.PowerShell.Commands.WriteErrorException", error_id, category);
    record.activity = bound.string("CategoryActivity").unwrap_or_else(|| "Write-Error".into());
    if let Some(reason) = bound.string("CategoryReason") {
        record.reason = reason;
    }
    if let Some(target) = bound.get("TargetObject") {
        record.target_name = target.to_ps_string();
        record.target_type = target.short_type_name();
        record.target_object = Some(target.clone());
    }
    if let Some(name) = bound.string("CategoryTargetName") {
        record.target_name = name;
    }
    if let Some(kind) = bound.string("CategoryTargetType") {
        record.target_type = kind;
    }
    record.invocation = Some(inv.info.clone());
    Ok(record)
}

pub(super) fn information_record(ctx: &Ctx, source: &str, data: Value, tags: Vec<String>) -> InformationRecord {
    let config = &ctx.rs.config;
    InformationRecord {
        message_data: data,
        source: source.to_string(),
        time_generated_ticks: config.clock.now_ticks(),
        tags,
        user: config.user_name.clone(),
        computer: config.computer_name.clone(),
        process_id: config.process_id,
        native_thread_id: 0,
        managed_thread_id: 0,
    }
}

pub(super) fn command_info(builtin: Builtin) -> Value {
    Value::object(
        &["System.Management.Automation.CmdletInfo", "System.Management.Automation.CommandInfo", "System.Object"],
        vec![
            ("Name", Value::string(builtin.name())),
            ("CommandType", Value::enumeration("System.Management.Automation.CommandTypes", "Cmdlet", 8)),
            ("Definition", Value::string(builtin.definition())),
            ("Version", Value::Version(Arc::from("1.0.0.0"))),
            ("Source", Value::string(builtin.module())),
            ("ModuleName", Value::string(builtin.module())),
            ("Verb", Value::string(builtin.name().split('-').next().unwrap_or_default())),
            ("Noun", Value::string(builtin.name().split_once('-').map_or("", |(_, n)| n))),
        ],
    )
}

pub(super) async fn get_test_data(bound: &Bound, inv: &Invocation, out: &mut dyn OutputSink) -> Result<(), Flow> {
    let count = bound.int("Count").map_err(|f| cmdlet_error(inv, f))?.unwrap_or(10);
    let size = bound.int("Size").map_err(|f| cmdlet_error(inv, f))?.unwrap_or(0);
    let rate = bound.float("RatePerSecond").map_err(|f| cmdlet_error(inv, f))?.unwrap_or(0.0);
    let invalid = |what: String| {
        Flow::statement(inv.error(
            what,
            "System.ArgumentOutOfRangeException",
            "InvalidTestDataArgument",
            ErrorCategory::InvalidArgument,
            None,
        ))
    };
    if count < 0 {
        return Err(invalid(format!("Count must be 0 or more, not {count}.")));
    }
    let size = usize::try_from(size)
        .ok()
        .filter(|s| *s <= MAX_STRING_LEN)
        .ok_or_else(|| invalid(format!("Size must be between 0 and {MAX_STRING_LEN} bytes, not {size}.")))?;
    if !rate.is_finite() || rate < 0.0 {
        return Err(invalid(format!("RatePerSecond must be 0 (unlimited) or more, not {rate}.")));
    }
    let start = tokio::time::Instant::now();
    for sequence in 1..=count {
        if rate > 0.0 {
            let due = Duration::from_secs_f64((sequence - 1) as f64 / rate);
            tokio::time::sleep_until(start + due).await;
        } else if sequence % 256 == 0 {
            tokio::task::yield_now().await;
        }
        out.write(test_object(sequence, size)).await?;
    }
    Ok(())
}

/// The object `Get-TestData` emits: its sequence number and a payload of `size` ASCII characters.
pub(crate) fn test_object(sequence: i64, size: usize) -> Value {
    let letter = char::from(b'a' + (sequence.rem_euclid(26)) as u8);
    Value::object(
        &["PSSession.TestData", "System.Management.Automation.PSCustomObject", "System.Object"],
        vec![("Sequence", Value::Long(sequence)), ("Payload", Value::string(letter.to_string().repeat(size)))],
    )
}
