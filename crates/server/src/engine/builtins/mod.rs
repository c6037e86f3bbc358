//! The built-in commands: their declarations and parameter binding here; the commands themselves by kind in
//! [`simple`], [`job_commands`] and [`pipeline`].

mod job_commands;
mod pipeline;
mod simple;

use job_commands::JobCommand;
use pipeline::{ForEach, OutString, Select, Where, WhereFilter};
use simple::Simple;

use std::sync::Arc;

use super::event::{ErrorCategory, ErrorRecord};
use super::runtime::{ActionPreference, Flow, Invocation, Processor};
use super::value::{ScriptBlockValue, Value};

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
    /// The parameters given by name (`-Process {…}`), as opposed to by position.
    named: Vec<&'static str>,
}

impl Bound {
    /// Whether `name` was given by name rather than by position.
    fn is_named(&self, name: &str) -> bool {
        self.named.contains(&name)
    }

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
        bound.named.push(def.name);
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
