//! The built-in commands and their parameter binding.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::event::{
    ErrorCategory, ErrorRecord, InformationRecord, InformationalRecord, PipelineEvent, ProgressRecord,
    ProgressRecordType,
};
use super::jobs::{Job, JobState};
use super::runtime::{
    ActionPreference, BoxFut, Collector, Ctx, Emit, EventTarget, Flow, Frame, Invocation, OutputSink, Processor,
    RunspaceState, TargetSink,
};
use super::value::{self, MAX_STRING_LEN, ScriptBlockValue, Value};

/// A parameter or argument before binding.
#[derive(Debug, Clone)]
pub(crate) enum RawArg {
    /// `-Name` (value `None`) or `-Name:value` / a named parameter from CREATE_PIPELINE.
    Named { name: String, value: Option<Value> },
    /// A positional argument.
    Positional(Value),
}

/// Common parameters that change a command's stream preferences.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CommonParams {
    pub verbose: Option<bool>,
    pub debug: Option<bool>,
    pub error_action: Option<ActionPreference>,
    pub warning_action: Option<ActionPreference>,
    pub information_action: Option<ActionPreference>,
}

/// A binding failure (becomes a `ParameterBindingException`-shaped record).
#[derive(Debug)]
pub(crate) struct BindFailure {
    message: String,
    error_id: &'static str,
    category: ErrorCategory,
    exception: &'static str,
    target: Option<Value>,
}

impl BindFailure {
    fn new(error_id: &'static str, message: String) -> BindFailure {
        BindFailure {
            message,
            error_id,
            category: ErrorCategory::InvalidArgument,
            exception: "System.Management.Automation.ParameterBindingException",
            target: None,
        }
    }

    pub fn into_record(self, inv: &Invocation) -> ErrorRecord {
        inv.error(self.message, self.exception, self.error_id, self.category, self.target)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Switch,
    Value,
}

/// One parameter of a built-in command.
#[derive(Debug)]
struct ParamDef {
    name: &'static str,
    aliases: &'static [&'static str],
    kind: Kind,
    position: Option<u8>,
    /// Takes all remaining positional arguments (`ValueFromRemainingArguments`).
    remaining: bool,
}

const fn value(name: &'static str) -> ParamDef {
    ParamDef { name, aliases: &[], kind: Kind::Value, position: None, remaining: false }
}

const fn switch(name: &'static str) -> ParamDef {
    ParamDef { name, aliases: &[], kind: Kind::Switch, position: None, remaining: false }
}

const fn at(mut def: ParamDef, position: u8) -> ParamDef {
    def.position = Some(position);
    def
}

const fn rest(mut def: ParamDef, position: u8) -> ParamDef {
    def.position = Some(position);
    def.remaining = true;
    def
}

const fn alias(mut def: ParamDef, aliases: &'static [&'static str]) -> ParamDef {
    def.aliases = aliases;
    def
}

const COMMON: &[ParamDef] = &[
    alias(switch("Verbose"), &["vb"]),
    alias(switch("Debug"), &["db"]),
    alias(value("ErrorAction"), &["ea"]),
    alias(value("WarningAction"), &["wa"]),
    alias(value("InformationAction"), &["infa"]),
];

macro_rules! builtins {
    ($($variant:ident => $name:literal, $module:literal, [$($alias:literal),*], $params:expr;)*) => {
        /// The built-in commands.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Builtin { $($variant),* }

        const ALL: &[Builtin] = &[$(Builtin::$variant),*];

        impl Builtin {
            pub fn name(self) -> &'static str {
                match self { $(Builtin::$variant => $name),* }
            }
            pub fn module(self) -> &'static str {
                match self { $(Builtin::$variant => $module),* }
            }
            pub fn aliases(self) -> &'static [&'static str] {
                match self { $(Builtin::$variant => &[$($alias),*]),* }
            }
            fn params(self) -> &'static [ParamDef] {
                match self { $(Builtin::$variant => { const PARAMS: &[ParamDef] = $params; PARAMS }),* }
            }
        }
    };
}

builtins! {
    WriteOutput => "Write-Output", "Microsoft.PowerShell.Utility", ["echo", "write"], &[rest(value("InputObject"), 0), switch("NoEnumerate")];
    WriteError => "Write-Error", "Microsoft.PowerShell.Utility", [], &[
        alias(at(value("Message"), 0), &["Msg"]), value("Category"), value("ErrorId"), value("TargetObject"),
        value("RecommendedAction"), alias(value("CategoryActivity"), &["Activity"]), alias(value("CategoryReason"), &["Reason"]),
        alias(value("CategoryTargetName"), &["TargetName"]), alias(value("CategoryTargetType"), &["TargetType"])];
    WriteWarning => "Write-Warning", "Microsoft.PowerShell.Utility", [], &[alias(at(value("Message"), 0), &["Msg"])];
    WriteVerbose => "Write-Verbose", "Microsoft.PowerShell.Utility", [], &[alias(at(value("Message"), 0), &["Msg"])];
    WriteDebug => "Write-Debug", "Microsoft.PowerShell.Utility", [], &[alias(at(value("Message"), 0), &["Msg"])];
    WriteInformation => "Write-Information", "Microsoft.PowerShell.Utility", [], &[alias(at(value("MessageData"), 0), &["Msg", "Message"]), at(value("Tags"), 1)];
    WriteHost => "Write-Host", "Microsoft.PowerShell.Utility", [], &[
        alias(rest(value("Object"), 0), &["Msg", "Message"]), switch("NoNewline"), value("Separator"),
        value("ForegroundColor"), value("BackgroundColor")];
    WriteProgress => "Write-Progress", "Microsoft.PowerShell.Utility", [], &[
        at(value("Activity"), 0), at(value("Status"), 1), at(value("Id"), 2), value("PercentComplete"),
        value("SecondsRemaining"), value("CurrentOperation"), value("ParentId"), switch("Completed"), value("SourceId")];
    StartSleep => "Start-Sleep", "Microsoft.PowerShell.Utility", ["sleep"], &[alias(at(value("Seconds"), 0), &["s"]), alias(value("Milliseconds"), &["ms"])];
    GetDate => "Get-Date", "Microsoft.PowerShell.Utility", [], &[];
    GetProcess => "Get-Process", "Microsoft.PowerShell.Management", ["gps", "ps"], &[alias(at(value("Name"), 0), &["ProcessName"]), alias(value("Id"), &["PID"])];
    StartJob => "Start-Job", "Microsoft.PowerShell.Core", ["sajb"], &[
        alias(at(value("ScriptBlock"), 0), &["Command"]), value("FilePath"), value("Name"), alias(value("ArgumentList"), &["Args"])];
    GetJob => "Get-Job", "Microsoft.PowerShell.Core", ["gjb"], &[value("Id"), at(value("Name"), 0), value("State")];
    ReceiveJob => "Receive-Job", "Microsoft.PowerShell.Core", ["rcjb"], &[
        at(value("Job"), 0), value("Id"), alias(value("Name"), &["JobName"]), switch("Keep"), switch("Wait"), switch("AutoRemoveJob")];
    WaitJob => "Wait-Job", "Microsoft.PowerShell.Core", ["wjb"], &[
        at(value("Job"), 0), value("Id"), value("Name"), value("Timeout"), switch("Any")];
    RemoveJob => "Remove-Job", "Microsoft.PowerShell.Core", ["rjb"], &[at(value("Job"), 0), value("Id"), value("Name"), switch("Force")];
    StopJob => "Stop-Job", "Microsoft.PowerShell.Core", ["spjb"], &[at(value("Job"), 0), value("Id"), value("Name"), switch("PassThru")];
    GetCommand => "Get-Command", "Microsoft.PowerShell.Core", ["gcm"], &[rest(value("Name"), 0)];
    InvokeExpression => "Invoke-Expression", "Microsoft.PowerShell.Utility", ["iex"], &[at(value("Command"), 0)];
    ForEachObject => "ForEach-Object", "Microsoft.PowerShell.Core", ["%", "foreach"], &[
        rest(value("Process"), 0), value("Begin"), value("End"), value("MemberName")];
    WhereObject => "Where-Object", "Microsoft.PowerShell.Core", ["?", "where"], &[
        alias(at(value("FilterScript"), 0), &["Property"]), at(value("Value"), 1), switch("EQ"), switch("NE"), switch("GT"),
        switch("GE"), switch("LT"), switch("LE"), switch("Like"), switch("NotLike")];
    SelectObject => "Select-Object", "Microsoft.PowerShell.Utility", ["select"], &[
        at(value("Property"), 0), value("First"), value("Last"), value("Skip"), value("ExpandProperty")];
    OutNull => "Out-Null", "Microsoft.PowerShell.Core", [], &[];
    OutString => "Out-String", "Microsoft.PowerShell.Utility", [], &[switch("Stream"), value("Width"), at(value("InputObject"), 0)];
    OutDefault => "Out-Default", "Microsoft.PowerShell.Core", ["Out-Host"], &[];
    GetTestData => "Get-TestData", "PSSession", [], &[at(value("Count"), 0), value("Size"), value("RatePerSecond")];
}

/// Whether a command is the engine's own (not a PowerShell cmdlet).
pub(crate) fn is_own_command(name: &str) -> bool {
    Builtin::lookup(name).is_some_and(|b| b.module() == "PSSession")
}

/// `Microsoft.PowerShell.Commands.WriteOutputCommand` for `Write-Output`.
pub(crate) fn command_class_name(name: &str) -> String {
    let compact: String = name.chars().filter(|c| *c != '-').collect();
    let namespace =
        if super::builtins::is_own_command(name) { "PSSession.Commands" } else { "Microsoft.PowerShell.Commands" };
    format!("{namespace}.{compact}Command")
}

impl Builtin {
    /// Finds a built-in by name or alias (case-insensitive).
    pub fn lookup(name: &str) -> Option<Builtin> {
        ALL.iter()
            .copied()
            .find(|b| b.name().eq_ignore_ascii_case(name) || b.aliases().iter().any(|a| a.eq_ignore_ascii_case(name)))
    }

    /// All built-ins, in declaration order.
    pub fn all() -> &'static [Builtin] {
        ALL
    }

    /// A syntax line for `Get-Command`'s `Definition`.
    pub fn definition(self) -> String {
        let mut text = self.name().to_string();
        for p in self.params() {
            let piece = match (p.kind, p.position) {
                (Kind::Switch, _) => format!(" [-{}]", p.name),
                (Kind::Value, Some(_)) => format!(" [[-{}] <Object>]", p.name),
                (Kind::Value, None) => format!(" [-{} <Object>]", p.name),
            };
            text.push_str(&piece);
        }
        text.push_str(" [<CommonParameters>]");
        text
    }
}

/// Bound parameters.
#[derive(Debug, Default)]
pub(crate) struct Bound {
    values: Vec<(&'static str, Value)>,
}

impl Bound {
    fn get(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    fn switch(&self, name: &str) -> bool {
        self.get(name).is_some_and(Value::is_truthy)
    }

    fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(Value::to_ps_string)
    }

    fn int(&self, name: &str) -> Result<Option<i64>, BindFailure> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.to_i64().map(Some).ok_or_else(|| conversion_failure(name, v, "System.Int32")),
        }
    }

    fn float(&self, name: &str) -> Result<Option<f64>, BindFailure> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.to_f64().map(Some).ok_or_else(|| conversion_failure(name, v, "System.Double")),
        }
    }

    fn strings(&self, name: &str) -> Option<Vec<String>> {
        self.get(name).map(|v| v.clone().enumerate().iter().map(Value::to_ps_string).collect())
    }

    fn block(&self, name: &str) -> Result<Option<Arc<ScriptBlockValue>>, BindFailure> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::ScriptBlock(b)) => Ok(Some(b.clone())),
            Some(v) => Err(conversion_failure(name, v, "System.Management.Automation.ScriptBlock")),
        }
    }
}

fn conversion_failure(name: &str, value: &Value, type_name: &str) -> BindFailure {
    let mut failure = BindFailure::new(
        "CannotConvertArgumentNoMessage",
        format!(
            "Cannot bind parameter '{name}'. Cannot convert value \"{}\" to type \"{type_name}\".",
            value.to_ps_string()
        ),
    );
    failure.target = Some(value.clone());
    failure
}

fn find_param(name: &str, defs: &'static [ParamDef]) -> Result<&'static ParamDef, BindFailure> {
    let all = defs.iter().chain(COMMON.iter());
    let exact: Vec<&ParamDef> = all
        .clone()
        .filter(|d| d.name.eq_ignore_ascii_case(name) || d.aliases.iter().any(|a| a.eq_ignore_ascii_case(name)))
        .collect();
    if let Some(def) = exact.first() {
        return Ok(def);
    }
    let lower = name.to_ascii_lowercase();
    let prefixed: Vec<&ParamDef> = all.filter(|d| d.name.to_ascii_lowercase().starts_with(&lower)).collect();
    match prefixed.as_slice() {
        [one] if !name.is_empty() => Ok(one),
        [] | [_] => Err(BindFailure::new(
            "NamedParameterNotFound",
            format!("A parameter cannot be found that matches parameter name '{name}'."),
        )),
        many => Err(BindFailure::new(
            "AmbiguousParameter",
            format!(
                "Parameter cannot be processed because the parameter name '{name}' is ambiguous. Possible matches include: {}.",
                many.iter().map(|d| format!("-{}", d.name)).collect::<Vec<_>>().join(" ")
            ),
        )),
    }
}

fn bind(builtin: Builtin, args: Vec<RawArg>) -> Result<(Bound, CommonParams), BindFailure> {
    let defs = builtin.params();
    let mut bound = Bound::default();
    let mut common = CommonParams::default();
    let mut positional = Vec::new();
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        let (name, given) = match arg {
            RawArg::Positional(v) => {
                positional.push(v);
                continue;
            }
            RawArg::Named { name, value } => (name, value),
        };
        let def = find_param(&name, defs)?;
        let value = match def.kind {
            // A switch sent without a value is on: PowerShell's `AddParameter("Stream")` (and pypsrp's
            // `add_parameter("Stream")`) travels as a parameter whose value is `<Nil/>`.
            Kind::Switch => Value::Bool(given.as_ref().is_none_or(|v| matches!(v, Value::Null) || v.is_truthy())),
            Kind::Value => match given {
                Some(v) => v,
                None => match args.peek() {
                    Some(RawArg::Positional(_)) => match args.next() {
                        Some(RawArg::Positional(v)) => v,
                        _ => Value::Null,
                    },
                    _ => {
                        return Err(BindFailure::new(
                            "MissingArgument",
                            format!(
                                "Missing an argument for parameter '{}'. Specify a parameter of type 'System.Object' and try again.",
                                def.name
                            ),
                        ));
                    }
                },
            },
        };
        if COMMON.iter().any(|c| std::ptr::eq(c, def)) {
            let preference = |v: &Value| {
                ActionPreference::parse(v)
                    .ok_or_else(|| conversion_failure(def.name, v, "System.Management.Automation.ActionPreference"))
            };
            match def.name {
                "Verbose" => common.verbose = Some(value.is_truthy()),
                "Debug" => common.debug = Some(value.is_truthy()),
                "ErrorAction" => common.error_action = Some(preference(&value)?),
                "WarningAction" => common.warning_action = Some(preference(&value)?),
                _ => common.information_action = Some(preference(&value)?),
            }
            continue;
        }
        if bound.get(def.name).is_some() {
            return Err(BindFailure::new(
                "ParameterAlreadyBound",
                format!("Cannot bind parameter because parameter '{}' is specified more than once.", def.name),
            ));
        }
        bound.values.push((def.name, value));
    }
    let mut slots: Vec<&ParamDef> = defs.iter().filter(|d| d.position.is_some()).collect();
    slots.sort_by_key(|d| d.position);
    let mut positional = positional.into_iter();
    let mut slots = slots.into_iter().filter(|d| bound.get(d.name).is_none()).collect::<Vec<_>>().into_iter();
    while let Some(value) = positional.next() {
        let Some(def) = slots.next() else {
            let mut failure = BindFailure::new(
                "PositionalParameterNotFound",
                format!("A positional parameter cannot be found that accepts argument '{}'.", value.to_ps_string()),
            );
            failure.target = Some(value);
            return Err(failure);
        };
        if def.remaining {
            let mut all = vec![value];
            all.extend(positional.by_ref());
            let value = if all.len() == 1 { all.pop().unwrap_or(Value::Null) } else { Value::array(all) };
            bound.values.push((def.name, value));
        } else {
            bound.values.push((def.name, value));
        }
    }
    Ok((bound, common))
}

/// Binds arguments and builds the command's processor.
pub(crate) fn prepare(builtin: Builtin, args: Vec<RawArg>) -> Result<(Box<dyn Processor>, CommonParams), BindFailure> {
    let (bound, common) = bind(builtin, args)?;
    let processor: Box<dyn Processor> = match builtin {
        Builtin::ForEachObject => Box::new(ForEach::new(&bound)?),
        Builtin::WhereObject => match bound.get("FilterScript") {
            Some(Value::ScriptBlock(block)) => Box::new(Where { filter: WhereFilter::Script(block.clone()) }),
            Some(property) => {
                let operators = ["EQ", "NE", "GT", "GE", "LT", "LE", "Like", "NotLike"];
                let chosen: Vec<&str> = operators.into_iter().filter(|op| bound.switch(op)).collect();
                let operator = match chosen.as_slice() {
                    [] => None,
                    [one] => Some(*one),
                    _ => {
                        return Err(BindFailure::new(
                            "AmbiguousParameterSet",
                            "Parameter set cannot be resolved: give one comparison operator.".into(),
                        ));
                    }
                };
                let value = bound.get("Value").cloned().unwrap_or(Value::Bool(true));
                Box::new(Where { filter: WhereFilter::Compare { property: property.to_ps_string(), operator, value } })
            }
            None => {
                return Err(BindFailure::new(
                    "MissingMandatoryParameter",
                    "Cannot process command because of one or more missing mandatory parameters: FilterScript.".into(),
                ));
            }
        },
        Builtin::SelectObject => Box::new(Select::new(&bound)?),
        Builtin::OutString => Box::new(OutString { stream: bound.switch("Stream"), text: String::new(), bound }),
        Builtin::ReceiveJob | Builtin::WaitJob | Builtin::RemoveJob | Builtin::StopJob => {
            Box::new(JobCommand { builtin, bound, jobs: Vec::new(), got_input: false })
        }
        _ => {
            validate(builtin, &bound)?;
            Box::new(Simple { builtin, bound })
        }
    };
    Ok((processor, common))
}

/// Up-front checks of parameter types, so errors surface before the pipeline runs.
fn validate(builtin: Builtin, bound: &Bound) -> Result<(), BindFailure> {
    match builtin {
        Builtin::StartSleep => {
            bound.float("Seconds")?;
            bound.int("Milliseconds")?;
        }
        Builtin::WriteProgress => {
            for name in ["Id", "PercentComplete", "SecondsRemaining", "ParentId", "SourceId"] {
                bound.int(name)?;
            }
        }
        Builtin::GetTestData => {
            bound.int("Count")?;
            bound.int("Size")?;
            bound.float("RatePerSecond")?;
        }
        Builtin::StartJob => {
            bound.block("ScriptBlock")?;
        }
        Builtin::GetProcess => {
            if let Some(ids) = bound.get("Id") {
                for id in ids.clone().enumerate() {
                    if id.to_i64().is_none() {
                        return Err(conversion_failure("Id", &id, "System.Int32"));
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn cmdlet_error(inv: &Invocation, failure: BindFailure) -> Flow {
    Flow::statement(failure.into_record(inv))
}

// ----- commands without per-input state -----

struct Simple {
    builtin: Builtin,
    bound: Bound,
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

async fn run_simple(
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
            let processes =
                tokio::task::spawn_blocking(super::process::list).await.unwrap_or_else(|_| Err("task failed".into()));
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
async fn invoke_expression(
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
    let text = command.to_ps_string();
    let source: Arc<str> = Arc::from(text.as_str());
    let script = super::parser::parse_script(&source).map_err(|e| Flow::statement(ErrorRecord::parse_error(&e)))?;
    let block = ScriptBlockValue { ast: super::parser::ScriptBlockAst { text, body: script }, source };
    ctx.invoke_block(&inv.frame, &block, Vec::new(), out).await
}

fn write_error_record(bound: &Bound, inv: &Invocation, message: String) -> Result<ErrorRecord, Flow> {
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

fn information_record(ctx: &Ctx, source: &str, data: Value, tags: Vec<String>) -> InformationRecord {
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

fn command_info(builtin: Builtin) -> Value {
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

async fn get_test_data(bound: &Bound, inv: &Invocation, out: &mut dyn OutputSink) -> Result<(), Flow> {
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

// ----- jobs -----

async fn start_job(bound: &Bound, ctx: &Ctx, inv: &Invocation, out: &mut dyn OutputSink) -> Result<(), Flow> {
    let block = bound.block("ScriptBlock").map_err(|f| cmdlet_error(inv, f))?;
    let path = bound.string("FilePath");
    let (block, command) = match (block, path) {
        (Some(block), None) => {
            let command = block.ast.text.trim().to_string();
            (block, command)
        }
        (None, Some(path)) => {
            let Some(text) = ctx.rs.config.stored_script(&path) else {
                return Err(Flow::statement(inv.error(
                    format!("Cannot find path '{path}' because it does not exist."),
                    "System.Management.Automation.ItemNotFoundException",
                    "PathNotFound",
                    ErrorCategory::ObjectNotFound,
                    Some(Value::string(path.as_str())),
                )));
            };
            let source: Arc<str> = Arc::from(text);
            let script =
                super::parser::parse_script(&source).map_err(|e| Flow::statement(ErrorRecord::parse_error(&e)))?;
            let block = Arc::new(ScriptBlockValue {
                ast: super::parser::ScriptBlockAst { text: text.to_string(), body: script },
                source,
            });
            (block, path)
        }
        _ => {
            return Err(Flow::statement(inv.error(
                "Parameter set cannot be resolved using the specified named parameters. Give either -ScriptBlock or -FilePath.",
                "System.Management.Automation.ParameterBindingException",
                "AmbiguousParameterSet",
                ErrorCategory::InvalidArgument,
                None,
            )));
        }
    };
    let args = bound.get("ArgumentList").cloned().map(Value::enumerate).unwrap_or_default();
    let config = ctx.rs.config.clone();
    let job = ctx.rs.jobs.create(
        bound.string("Name"),
        command,
        config.computer_name.clone(),
        config.job_output_limit,
        config.clock.now_ticks(),
    );
    spawn_job(config, ctx.rs.invoker, job.clone(), block, args);
    out.write(job.to_value()).await
}

fn spawn_job(
    config: Arc<super::EngineConfig>,
    invoker: super::runtime::BlockInvoker,
    job: Arc<Job>,
    block: Arc<ScriptBlockValue>,
    args: Vec<Value>,
) {
    tokio::spawn(async move {
        let job_ctx =
            Ctx { rs: Arc::new(RunspaceState::new(config.clone(), invoker)), target: EventTarget::Job(job.clone()) };
        let root = Frame::root(block.source.clone());
        let run = async {
            let mut sink = TargetSink { ctx: &job_ctx };
            job_ctx.invoke_block(&root, &block, vec![("args".into(), Value::array(args))], &mut sink).await
        };
        let result = tokio::select! {
            result = run => Some(result),
            () = job.stop.stopped() => None,
        };
        let now = config.clock.now_ticks();
        match result {
            Some(Ok(())) | Some(Err(Flow::StopUpstream(_))) => job.finish(JobState::Completed, now, None),
            Some(Err(Flow::Terminate(record) | Flow::Statement(record))) => {
                job.finish(JobState::Failed, now, Some(Emit::record(PipelineEvent::Error(*record))))
            }
            Some(Err(Flow::Closed)) | None => job.finish(JobState::Stopped, now, None),
        }
    });
}

/// Jobs named by -Id/-Name (all jobs when neither), with PowerShell's not-found errors.
async fn select_jobs(
    bound: &Bound,
    ctx: &Ctx,
    inv: &Invocation,
    out: &mut dyn OutputSink,
    command: &str,
) -> Result<Vec<Arc<Job>>, Flow> {
    let table = &ctx.rs.jobs;
    let class = command_class_name(command);
    let mut selected: Vec<Arc<Job>> = Vec::new();
    let mut push = |job: Arc<Job>| {
        if !selected.iter().any(|j| j.id == job.id) {
            selected.push(job);
        }
    };
    let ids = bound.get("Id").map(|v| v.clone().enumerate());
    let names = bound.strings("Name");
    if ids.is_none() && names.is_none() {
        return Ok(table.all());
    }
    for id in ids.unwrap_or_default() {
        match id.to_i64().and_then(|id| table.by_id(id)) {
            Some(job) => push(job),
            None => {
                let mut record = inv.error(
                    format!(
                        "The command cannot find a job with the job ID {}. Verify the value of the Id parameter and then try the command again.",
                        id.to_ps_string()
                    ),
                    "System.ArgumentException",
                    "JobWithSpecifiedIdNotFound",
                    ErrorCategory::ObjectNotFound,
                    Some(id),
                );
                record.fully_qualified_error_id = format!("JobWithSpecifiedIdNotFound,{class}");
                inv.write_record(ctx, out, PipelineEvent::Error(record)).await?;
            }
        }
    }
    for name in names.unwrap_or_default() {
        let mut found: Vec<_> = table.all().into_iter().filter(|j| value::wildcard_match(&name, &j.name)).collect();
        // Without parameter sets, a number given positionally to -Name is taken as an id (`Get-Job 1`).
        if found.is_empty()
            && let Ok(id) = name.parse::<i64>()
        {
            found.extend(table.by_id(id));
        }
        if found.is_empty() && !name.contains(['*', '?', '[']) {
            let mut record = inv.error(
                format!(
                    "The command cannot find the job because the job name {name} was not found. Verify the value of the Name parameter, and then try the command again."
                ),
                "System.ArgumentException",
                "JobWithSpecifiedNameNotFound",
                ErrorCategory::ObjectNotFound,
                Some(Value::string(name.as_str())),
            );
            record.fully_qualified_error_id = format!("JobWithSpecifiedNameNotFound,{class}");
            inv.write_record(ctx, out, PipelineEvent::Error(record)).await?;
        }
        for job in found {
            push(job);
        }
    }
    Ok(selected)
}

/// Receive-Job, Wait-Job, Remove-Job, Stop-Job: collect target jobs (from parameters or job objects piped in),
/// act on them.
struct JobCommand {
    builtin: Builtin,
    bound: Bound,
    jobs: Vec<Arc<Job>>,
    got_input: bool,
}

/// The job a value designates: a job object (by its `Id`), a job id, or a job name.
fn job_of(ctx: &Ctx, value: &Value) -> Option<Arc<Job>> {
    let id = match value {
        Value::Object(_) => value.member("Id").to_i64()?,
        Value::Array(items) if items.len() == 1 => return job_of(ctx, &items[0]),
        Value::String(name) if name.parse::<i64>().is_err() => {
            return ctx.rs.jobs.all().into_iter().find(|j| j.name.eq_ignore_ascii_case(name));
        }
        other => other.to_i64()?,
    };
    ctx.rs.jobs.by_id(id)
}

impl Processor for JobCommand {
    fn process<'a>(
        &'a mut self,
        ctx: &'a Ctx,
        inv: &'a Invocation,
        input: Option<Value>,
        out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async move {
            let mut targets = Vec::new();
            match input {
                Some(value) => {
                    self.got_input = true;
                    for item in value.enumerate() {
                        match job_of(ctx, &item) {
                            Some(job) => targets.push(job),
                            None => {
                                let record = inv.error(
                                    format!(
                                        "The input object \"{}\" is not a job of this session.",
                                        item.to_ps_string()
                                    ),
                                    "System.ArgumentException",
                                    "InputObjectNotAJob",
                                    ErrorCategory::InvalidArgument,
                                    Some(item),
                                );
                                inv.write_record(ctx, out, PipelineEvent::Error(record)).await?;
                            }
                        }
                    }
                }
                None => {
                    if let Some(jobs) = self.bound.get("Job").cloned() {
                        for item in jobs.enumerate() {
                            if let Some(job) = job_of(ctx, &item) {
                                targets.push(job);
                            }
                        }
                    } else if self.bound.get("Id").is_some() || self.bound.get("Name").is_some() {
                        targets = select_jobs(&self.bound, ctx, inv, out, inv.name.as_str()).await?;
                    } else if self.builtin != Builtin::WaitJob {
                        return Err(Flow::statement(inv.error(
                            "Cannot process command because of one or more missing mandatory parameters: Job, Id or Name.",
                            "System.Management.Automation.ParameterBindingException",
                            "MissingMandatoryParameter",
                            ErrorCategory::InvalidArgument,
                            None,
                        )));
                    }
                }
            }
            match self.builtin {
                Builtin::WaitJob => {
                    self.jobs.extend(targets);
                    Ok(())
                }
                Builtin::ReceiveJob => {
                    for job in targets {
                        receive(ctx, &self.bound, &job, out).await?;
                    }
                    Ok(())
                }
                Builtin::RemoveJob => {
                    for job in targets {
                        if !job.state().is_finished() {
                            if !self.bound.switch("Force") {
                                let record = inv.error(
                                    format!(
                                        "The command cannot remove the job with the job ID {} because the job is not finished. To remove the job, first stop the job, or use the Force parameter.",
                                        job.id
                                    ),
                                    "System.InvalidOperationException",
                                    "JobObjectNotFinishedCannotBeRemoved",
                                    ErrorCategory::InvalidOperation,
                                    Some(job.to_value()),
                                );
                                inv.write_record(ctx, out, PipelineEvent::Error(record)).await?;
                                continue;
                            }
                            stop_and_wait(&job).await;
                        }
                        ctx.rs.jobs.remove(job.id);
                    }
                    Ok(())
                }
                _ => {
                    for job in targets {
                        stop_and_wait(&job).await;
                        if self.bound.switch("PassThru") {
                            out.write(job.to_value()).await?;
                        }
                    }
                    Ok(())
                }
            }
        })
    }

    fn end<'a>(
        &'a mut self,
        _ctx: &'a Ctx,
        inv: &'a Invocation,
        out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async move {
            if self.builtin != Builtin::WaitJob {
                return Ok(());
            }
            if self.jobs.is_empty()
                && !self.got_input
                && self.bound.get("Job").is_none()
                && self.bound.get("Id").is_none()
                && self.bound.get("Name").is_none()
            {
                return Err(Flow::statement(inv.error(
                    "Cannot process command because of one or more missing mandatory parameters: Job, Id or Name.",
                    "System.Management.Automation.ParameterBindingException",
                    "MissingMandatoryParameter",
                    ErrorCategory::InvalidArgument,
                    None,
                )));
            }
            let timeout = self.bound.int("Timeout").map_err(|f| cmdlet_error(inv, f))?.unwrap_or(-1);
            let any = self.bound.switch("Any");
            let jobs = std::mem::take(&mut self.jobs);
            let wait = async {
                loop {
                    let receivers: Vec<_> = jobs.iter().map(|j| j.subscribe()).collect();
                    let finished = jobs.iter().filter(|j| j.state().is_finished()).count();
                    if finished == jobs.len() || (any && finished > 0) {
                        return;
                    }
                    let mut waits: tokio::task::JoinSet<()> = tokio::task::JoinSet::new();
                    for mut rx in receivers {
                        waits.spawn(async move {
                            let _ = rx.changed().await;
                        });
                    }
                    let _ = waits.join_next().await;
                }
            };
            if timeout >= 0 {
                let _ = tokio::time::timeout(Duration::from_secs(timeout.unsigned_abs()), wait).await;
            } else {
                wait.await;
            }
            for job in jobs {
                if job.state().is_finished() {
                    out.write(job.to_value()).await?;
                }
            }
            Ok(())
        })
    }
}

async fn stop_and_wait(job: &Job) {
    let mut rx = job.subscribe();
    job.stop.stop();
    while !job.state().is_finished() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

async fn receive(ctx: &Ctx, bound: &Bound, job: &Arc<Job>, out: &mut dyn OutputSink) -> Result<(), Flow> {
    let keep = bound.switch("Keep");
    let wait = bound.switch("Wait");
    loop {
        let mut rx = job.subscribe();
        let finished = job.state().is_finished();
        for item in job.take(keep) {
            match item {
                Emit::Output(value) => out.write(value).await?,
                Emit::Record(event) => ctx.target.send(Emit::Record(event)).await?,
            }
        }
        if !wait || finished {
            break;
        }
        if keep {
            // With -Keep the buffer is not drained: wait for the end, then deliver everything once.
            while !job.state().is_finished() {
                if rx.changed().await.is_err() {
                    break;
                }
            }
            for item in job.take(true) {
                match item {
                    Emit::Output(value) => out.write(value).await?,
                    Emit::Record(event) => ctx.target.send(Emit::Record(event)).await?,
                }
            }
            break;
        }
        let _ = rx.changed().await;
    }
    if wait && bound.switch("AutoRemoveJob") && job.state().is_finished() {
        ctx.rs.jobs.remove(job.id);
    }
    Ok(())
}

// ----- ForEach-Object, Where-Object, Select-Object -----

struct ForEach {
    begin: Option<Arc<ScriptBlockValue>>,
    process: Vec<Arc<ScriptBlockValue>>,
    end: Option<Arc<ScriptBlockValue>>,
    member: Option<String>,
}

impl ForEach {
    fn new(bound: &Bound) -> Result<ForEach, BindFailure> {
        let mut begin = bound.block("Begin")?;
        let mut end = bound.block("End")?;
        let mut member = bound.string("MemberName");
        let mut process = Vec::new();
        if let Some(value) = bound.get("Process") {
            let items = value.clone().enumerate();
            if member.is_none() && items.len() == 1 && matches!(items[0], Value::String(_)) {
                member = Some(items[0].to_ps_string());
            } else {
                for item in items {
                    match item {
                        Value::ScriptBlock(b) => process.push(b),
                        other => {
                            return Err(conversion_failure(
                                "Process",
                                &other,
                                "System.Management.Automation.ScriptBlock",
                            ));
                        }
                    }
                }
            }
        }
        // Positional blocks: `{begin} {process}` or `{begin} {process} {end}` when -Begin/-End are not named.
        if begin.is_none() && end.is_none() && process.len() >= 2 {
            begin = Some(process.remove(0));
            if process.len() >= 2 {
                end = process.pop();
            }
        }
        if process.is_empty() && member.is_none() && begin.is_none() && end.is_none() {
            return Err(BindFailure::new(
                "MissingMandatoryParameter",
                "Cannot process command because of one or more missing mandatory parameters: Process.".into(),
            ));
        }
        Ok(ForEach { begin, process, end, member })
    }
}

impl Processor for ForEach {
    fn begin<'a>(
        &'a mut self,
        ctx: &'a Ctx,
        inv: &'a Invocation,
        out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async move {
            match &self.begin {
                Some(block) => ctx.invoke_block(&inv.frame, block, Vec::new(), out).await,
                None => Ok(()),
            }
        })
    }

    fn process<'a>(
        &'a mut self,
        ctx: &'a Ctx,
        inv: &'a Invocation,
        input: Option<Value>,
        out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async move {
            let item = input.unwrap_or(Value::Null);
            if let Some(member) = &self.member {
                let value = item.member(member);
                for v in value.enumerate() {
                    if !v.is_null() {
                        out.write(v).await?;
                    }
                }
                return Ok(());
            }
            for block in &self.process {
                ctx.invoke_block(&inv.frame, block, vec![("_".into(), item.clone())], out).await?;
            }
            Ok(())
        })
    }

    fn end<'a>(
        &'a mut self,
        ctx: &'a Ctx,
        inv: &'a Invocation,
        out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async move {
            match &self.end {
                Some(block) => ctx.invoke_block(&inv.frame, block, Vec::new(), out).await,
                None => Ok(()),
            }
        })
    }
}

/// `Where-Object { script }` or the simplified `Where-Object Property -Operator Value`.
struct Where {
    filter: WhereFilter,
}

enum WhereFilter {
    Script(Arc<ScriptBlockValue>),
    Compare { property: String, operator: Option<&'static str>, value: Value },
}

impl Processor for Where {
    fn process<'a>(
        &'a mut self,
        ctx: &'a Ctx,
        inv: &'a Invocation,
        input: Option<Value>,
        out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async move {
            let Some(item) = input else { return Ok(()) };
            let keep = match &self.filter {
                WhereFilter::Script(block) => {
                    let mut collector = Collector::default();
                    ctx.invoke_block(&inv.frame, block, vec![("_".into(), item.clone())], &mut collector).await?;
                    collector.into_value().is_truthy()
                }
                WhereFilter::Compare { property, operator, value } => {
                    let actual = item.member(property);
                    let ord = value::compare(&actual, value);
                    match operator {
                        None => actual.is_truthy(),
                        Some("EQ") => ord == Some(std::cmp::Ordering::Equal),
                        Some("NE") => ord != Some(std::cmp::Ordering::Equal),
                        Some("GT") => ord == Some(std::cmp::Ordering::Greater),
                        Some("GE") => matches!(ord, Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)),
                        Some("LT") => ord == Some(std::cmp::Ordering::Less),
                        Some("LE") => matches!(ord, Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)),
                        Some("Like") => value::wildcard_match(&value.to_ps_string(), &actual.to_ps_string()),
                        Some(_) => !value::wildcard_match(&value.to_ps_string(), &actual.to_ps_string()),
                    }
                }
            };
            if keep {
                out.write(item).await?;
            }
            Ok(())
        })
    }
}

struct Select {
    properties: Option<Vec<String>>,
    expand: Option<String>,
    first: Option<u64>,
    last: Option<usize>,
    skip: u64,
    seen: u64,
    emitted: u64,
    tail: VecDeque<Value>,
}

impl Select {
    fn new(bound: &Bound) -> Result<Select, BindFailure> {
        let count = |name: &str| -> Result<Option<u64>, BindFailure> {
            match bound.int(name)? {
                None => Ok(None),
                Some(n) => {
                    u64::try_from(n).map(Some).map_err(|_| conversion_failure(name, &Value::Long(n), "System.UInt32"))
                }
            }
        };
        Ok(Select {
            properties: bound.strings("Property"),
            expand: bound.string("ExpandProperty"),
            first: count("First")?,
            last: count("Last")?.map(|n| usize::try_from(n).unwrap_or(usize::MAX).min(value::MAX_COLLECTION_LEN)),
            skip: count("Skip")?.unwrap_or(0),
            seen: 0,
            emitted: 0,
            tail: VecDeque::new(),
        })
    }

    fn project(&self, item: Value) -> Vec<Value> {
        if let Some(name) = &self.expand {
            return item.member(name).enumerate();
        }
        match &self.properties {
            Some(names) if !names.iter().any(|n| n == "*") => {
                let properties = names.iter().map(|n| (n.as_str(), item.member(n))).collect();
                vec![Value::object(&["System.Management.Automation.PSCustomObject", "System.Object"], properties)]
            }
            _ => vec![item],
        }
    }
}

impl Processor for Select {
    fn process<'a>(
        &'a mut self,
        _ctx: &'a Ctx,
        inv: &'a Invocation,
        input: Option<Value>,
        out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async move {
            let Some(item) = input else { return Ok(()) };
            if self.first == Some(0) && self.last.is_none() {
                return Err(Flow::StopUpstream(inv.stage_id));
            }
            self.seen += 1;
            if self.seen <= self.skip {
                return Ok(());
            }
            if let Some(n) = self.last
                && self.first.is_none()
            {
                self.tail.push_back(item);
                if self.tail.len() > n {
                    self.tail.pop_front();
                }
                return Ok(());
            }
            for value in self.project(item) {
                out.write(value).await?;
            }
            self.emitted += 1;
            if self.first.is_some_and(|n| self.emitted >= n) {
                return Err(Flow::StopUpstream(inv.stage_id));
            }
            Ok(())
        })
    }

    fn end<'a>(
        &'a mut self,
        _ctx: &'a Ctx,
        _inv: &'a Invocation,
        out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async move {
            while let Some(item) = self.tail.pop_front() {
                for value in self.project(item) {
                    out.write(value).await?;
                }
            }
            Ok(())
        })
    }
}

/// `Out-String`: objects as text (their string form; the engine has no formatting views). Without `-Stream` all
/// input becomes one string, one line per object with a final newline, as PowerShell does.
struct OutString {
    stream: bool,
    text: String,
    bound: Bound,
}

impl Processor for OutString {
    fn process<'a>(
        &'a mut self,
        _ctx: &'a Ctx,
        inv: &'a Invocation,
        input: Option<Value>,
        out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async move {
            let items = match input {
                Some(v) => vec![v],
                None => self.bound.get("InputObject").cloned().map(Value::enumerate).unwrap_or_default(),
            };
            for item in items {
                let line = item.to_ps_string();
                if self.stream {
                    out.write(Value::string(line)).await?;
                } else {
                    if self.text.len() + line.len() + 1 > MAX_STRING_LEN {
                        return Err(Flow::statement(inv.error(
                            format!("Out-String output exceeds the engine's limit of {MAX_STRING_LEN} bytes."),
                            "System.InvalidOperationException",
                            "OutputTooLarge",
                            ErrorCategory::LimitsExceeded,
                            None,
                        )));
                    }
                    self.text.push_str(&line);
                    self.text.push('\n');
                }
            }
            Ok(())
        })
    }

    fn end<'a>(
        &'a mut self,
        _ctx: &'a Ctx,
        _inv: &'a Invocation,
        out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async move {
            if self.stream || self.text.is_empty() {
                return Ok(());
            }
            out.write(Value::string(std::mem::take(&mut self.text))).await
        })
    }
}
