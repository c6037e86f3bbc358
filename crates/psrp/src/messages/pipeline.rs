//! Pipeline bodies: CREATE_PIPELINE and PIPELINE_STATE (MS-PSRP 2.2.2.10, 2.2.2.21).

use std::sync::Arc;

use crate::clixml::{Container, PsObject, PsValue};
use crate::message::MessageType;
use crate::messages::pool::{ApartmentState, HostInfo};
use crate::messages::records::ErrorRecord;
use crate::messages::{BodyError, MessageBody, Props, body_object, enum_value};

/// `PipelineResultTypes` (MS-PSRP 2.2.3.31), the stream-merge flags of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PipelineResultTypes(pub i32);

impl PipelineResultTypes {
    /// No merging.
    pub const NONE: Self = PipelineResultTypes(0);
    /// The output stream.
    pub const OUTPUT: Self = PipelineResultTypes(1);
    /// The error stream.
    pub const ERROR: Self = PipelineResultTypes(2);

    fn to_value(self) -> PsValue {
        let name = match self.0 {
            0 => "None",
            1 => "Output",
            2 => "Error",
            3 => "Warning",
            4 => "Verbose",
            5 => "Debug",
            6 => "Information",
            7 => "All",
            _ => "Null",
        };
        enum_value("System.Management.Automation.Runspaces.PipelineResultTypes", name, self.0)
    }
}

/// `RemoteStreamOptions` (MS-PSRP 2.2.3.30).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteStreamOptions(pub i32);

impl RemoteStreamOptions {
    /// `AddInvocationInfo` (15): what PowerShell and pypsrp send.
    pub const ADD_INVOCATION_INFO: Self = RemoteStreamOptions(15);
}

/// One parameter of a command: named (`-Name value`), a switch (named, `$null` value) or positional.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandParameter {
    /// `N`: the parameter name, `None` for a positional argument.
    pub name: Option<String>,
    /// `V`: the value.
    pub value: PsValue,
}

/// One command of a pipeline (MS-PSRP 2.2.3.12).
#[derive(Debug, Clone, PartialEq)]
pub struct PowerShellCommand {
    /// `Cmd`: the command name, or the script text when `is_script`.
    pub cmd: String,
    /// `IsScript`: AddScript rather than AddCommand.
    pub is_script: bool,
    /// `UseLocalScope`.
    pub use_local_scope: Option<bool>,
    /// `Args`.
    pub args: Vec<CommandParameter>,
    /// `MergeMyResult` and `MergeToResult`.
    pub merge_my_result: PipelineResultTypes,
    /// `MergeToResult`.
    pub merge_to_result: PipelineResultTypes,
    /// `MergePreviousResults`.
    pub merge_previous_results: PipelineResultTypes,
    /// `MergeError`, `MergeWarning`, `MergeVerbose`, `MergeDebug`, `MergeInformation` (protocol 2.2+), in order.
    pub merge_streams: [PipelineResultTypes; 5],
}

impl PowerShellCommand {
    /// `AddCommand(name)`.
    pub fn command(name: &str) -> Self {
        PowerShellCommand {
            cmd: name.to_owned(),
            is_script: false,
            use_local_scope: None,
            args: Vec::new(),
            merge_my_result: PipelineResultTypes::NONE,
            merge_to_result: PipelineResultTypes::NONE,
            merge_previous_results: PipelineResultTypes::NONE,
            merge_streams: [PipelineResultTypes::NONE; 5],
        }
    }

    /// `AddScript(text)`.
    pub fn script(text: &str) -> Self {
        PowerShellCommand { is_script: true, ..PowerShellCommand::command(text) }
    }

    /// Adds `-name value` (or a positional argument when `name` is `None`).
    pub fn with_arg(mut self, name: Option<&str>, value: PsValue) -> Self {
        self.args.push(CommandParameter { name: name.map(str::to_owned), value });
        self
    }
}

/// `PowerShell` (MS-PSRP 2.2.3.11): the commands of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerShellPipeline {
    /// `Cmds`.
    pub commands: Vec<PowerShellCommand>,
    /// `IsNested`.
    pub is_nested: bool,
    /// `History`: the history string, if any.
    pub history: Option<String>,
    /// `RedirectShellErrorOutputPipe`.
    pub redirect_shell_error_output_pipe: bool,
    /// `ExtraCmds`: further statements (PowerShell's `AddStatement`), each a command list.
    pub extra_commands: Vec<Vec<PowerShellCommand>>,
}

/// CREATE_PIPELINE (MS-PSRP 2.2.2.10).
#[derive(Debug, Clone, PartialEq)]
pub struct CreatePipeline {
    /// `NoInput`: the client sends no PIPELINE_INPUT.
    pub no_input: bool,
    /// `ApartmentState`.
    pub apartment_state: ApartmentState,
    /// `RemoteStreamOptions`.
    pub remote_stream_options: RemoteStreamOptions,
    /// `AddToHistory`.
    pub add_to_history: bool,
    /// `HostInfo`.
    pub host_info: HostInfo,
    /// `PowerShell`.
    pub pipeline: PowerShellPipeline,
    /// `IsNested`.
    pub is_nested: bool,
}

impl CreatePipeline {
    /// A pipeline of these commands with PowerShell's defaults (no input, no history, no host).
    pub fn new(commands: Vec<PowerShellCommand>) -> Self {
        CreatePipeline {
            no_input: true,
            apartment_state: ApartmentState::Unknown,
            remote_stream_options: RemoteStreamOptions::ADD_INVOCATION_INFO,
            add_to_history: false,
            host_info: HostInfo::default(),
            pipeline: PowerShellPipeline {
                commands,
                is_nested: false,
                history: None,
                redirect_shell_error_output_pipe: false,
                extra_commands: Vec::new(),
            },
            is_nested: false,
        }
    }
}

const LIST_OF_PSOBJECT: &str = "System.Collections.Generic.List`1[[System.Management.Automation.PSObject, \
                                System.Management.Automation, Version=1.0.0.0, Culture=neutral, \
                                PublicKeyToken=31bf3856ad364e35]]";

fn list(items: Vec<PsValue>, names: &Arc<[String]>) -> PsValue {
    PsObject { type_names: Some(names.clone()), container: Some(Container::List(items)), ..PsObject::default() }.into()
}

fn command_value(command: &PowerShellCommand, list_names: &Arc<[String]>) -> PsValue {
    let args = command
        .args
        .iter()
        .map(|a| body_object([("N", a.name.clone().map_or(PsValue::Null, PsValue::String)), ("V", a.value.clone())]))
        .collect();
    let [error, warning, verbose, debug, information] = command.merge_streams;
    body_object([
        ("Cmd", PsValue::String(command.cmd.clone())),
        ("IsScript", PsValue::Bool(command.is_script)),
        ("UseLocalScope", command.use_local_scope.map_or(PsValue::Null, PsValue::Bool)),
        ("MergeMyResult", command.merge_my_result.to_value()),
        ("MergeToResult", command.merge_to_result.to_value()),
        ("MergePreviousResults", command.merge_previous_results.to_value()),
        ("Args", list(args, list_names)),
        ("MergeError", error.to_value()),
        ("MergeWarning", warning.to_value()),
        ("MergeVerbose", verbose.to_value()),
        ("MergeDebug", debug.to_value()),
        ("MergeInformation", information.to_value()),
    ])
}

fn commands_from(value: &PsValue, message: MessageType) -> Result<Vec<PowerShellCommand>, BodyError> {
    let missing = |property| BodyError::Property { message, property };
    let items = value.as_object().and_then(PsObject::items).ok_or(missing("Cmds"))?;
    items
        .iter()
        .map(|item| {
            let p = Props::of(item, message)?;
            let merge = |name: &'static str| PipelineResultTypes(p.get(name).and_then(PsValue::as_i32).unwrap_or(0));
            let args = match p.get("Args") {
                None | Some(PsValue::Null) => Vec::new(),
                Some(args) => args
                    .as_object()
                    .and_then(PsObject::items)
                    .ok_or(missing("Args"))?
                    .iter()
                    .map(|arg| {
                        let a = Props::of(arg, message)?;
                        Ok(CommandParameter {
                            name: a.opt_string("N")?,
                            value: a.get("V").cloned().unwrap_or(PsValue::Null),
                        })
                    })
                    .collect::<Result<_, BodyError>>()?,
            };
            Ok(PowerShellCommand {
                cmd: p.string("Cmd")?,
                is_script: p.bool("IsScript")?,
                use_local_scope: p.get("UseLocalScope").and_then(PsValue::as_bool),
                args,
                merge_my_result: merge("MergeMyResult"),
                merge_to_result: merge("MergeToResult"),
                merge_previous_results: merge("MergePreviousResults"),
                merge_streams: [
                    merge("MergeError"),
                    merge("MergeWarning"),
                    merge("MergeVerbose"),
                    merge("MergeDebug"),
                    merge("MergeInformation"),
                ],
            })
        })
        .collect()
}

impl MessageBody for CreatePipeline {
    const MESSAGE_TYPE: MessageType = MessageType::CreatePipeline;

    fn to_value(&self) -> PsValue {
        let list_names: Arc<[String]> = [LIST_OF_PSOBJECT.to_owned(), "System.Object".to_owned()].into();
        let commands = self.pipeline.commands.iter().map(|c| command_value(c, &list_names)).collect();
        let extra = if self.pipeline.extra_commands.is_empty() {
            PsValue::Null
        } else {
            list(
                self.pipeline
                    .extra_commands
                    .iter()
                    .map(|statement| {
                        body_object([(
                            "Cmds",
                            list(statement.iter().map(|c| command_value(c, &list_names)).collect(), &list_names),
                        )])
                    })
                    .collect(),
                &list_names,
            )
        };
        let power_shell = body_object([
            ("IsNested", PsValue::Bool(self.pipeline.is_nested)),
            ("ExtraCmds", extra),
            ("Cmds", list(commands, &list_names)),
            ("History", self.pipeline.history.clone().map_or(PsValue::Null, PsValue::String)),
            ("RedirectShellErrorOutputPipe", PsValue::Bool(self.pipeline.redirect_shell_error_output_pipe)),
        ]);
        body_object([
            ("NoInput", PsValue::Bool(self.no_input)),
            ("ApartmentState", self.apartment_state.to_value()),
            (
                "RemoteStreamOptions",
                enum_value(
                    "System.Management.Automation.Runspaces.RemoteStreamOptions",
                    if self.remote_stream_options.0 == 15 { "AddInvocationInfo" } else { "None" },
                    self.remote_stream_options.0,
                ),
            ),
            ("AddToHistory", PsValue::Bool(self.add_to_history)),
            ("HostInfo", self.host_info.to_value()),
            ("PowerShell", power_shell),
            ("IsNested", PsValue::Bool(self.is_nested)),
        ])
    }

    fn from_value(value: &PsValue) -> Result<Self, BodyError> {
        let p = Props::of(value, Self::MESSAGE_TYPE)?;
        let ps = Props::of(p.value("PowerShell")?, Self::MESSAGE_TYPE)?;
        let extra_commands = match ps.get("ExtraCmds") {
            None | Some(PsValue::Null) => Vec::new(),
            Some(extra) => extra
                .as_object()
                .and_then(PsObject::items)
                .ok_or_else(|| ps.missing("ExtraCmds"))?
                .iter()
                .map(|statement| {
                    commands_from(Props::of(statement, Self::MESSAGE_TYPE)?.value("Cmds")?, Self::MESSAGE_TYPE)
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(CreatePipeline {
            no_input: p.bool("NoInput")?,
            apartment_state: p
                .get("ApartmentState")
                .map_or(Some(ApartmentState::Unknown), ApartmentState::from_value)
                .ok_or_else(|| p.missing("ApartmentState"))?,
            remote_stream_options: RemoteStreamOptions(
                p.get("RemoteStreamOptions").and_then(PsValue::as_i32).unwrap_or(0),
            ),
            add_to_history: p.get("AddToHistory").and_then(PsValue::as_bool).unwrap_or(false),
            host_info: p.get("HostInfo").map(HostInfo::from_value).unwrap_or_default(),
            pipeline: PowerShellPipeline {
                commands: commands_from(ps.value("Cmds")?, Self::MESSAGE_TYPE)?,
                is_nested: ps.get("IsNested").and_then(PsValue::as_bool).unwrap_or(false),
                history: ps.opt_string("History")?,
                redirect_shell_error_output_pipe: ps
                    .get("RedirectShellErrorOutputPipe")
                    .and_then(PsValue::as_bool)
                    .unwrap_or(false),
                extra_commands,
            },
            is_nested: p.get("IsNested").and_then(PsValue::as_bool).unwrap_or(false),
        })
    }
}

/// PIPELINE_STATE (MS-PSRP 2.2.2.21).
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineStateMessage {
    /// `PipelineState`: 0 NotStarted, 1 Running, 2 Stopping, 3 Stopped, 4 Completed, 5 Failed, 6 Disconnected.
    pub state: i32,
    /// `ExceptionAsErrorRecord`, with Failed (and Stopped).
    pub error: Option<ErrorRecord>,
}

impl MessageBody for PipelineStateMessage {
    const MESSAGE_TYPE: MessageType = MessageType::PipelineState;

    fn to_value(&self) -> PsValue {
        let mut properties = vec![("PipelineState", PsValue::I32(self.state))];
        if let Some(error) = &self.error {
            properties.push(("ExceptionAsErrorRecord", error.to_value()));
        }
        body_object(properties)
    }

    fn from_value(value: &PsValue) -> Result<Self, BodyError> {
        let p = Props::of(value, Self::MESSAGE_TYPE)?;
        Ok(PipelineStateMessage {
            state: p.i32("PipelineState")?,
            error: match p.get("ExceptionAsErrorRecord") {
                None | Some(PsValue::Null) => None,
                Some(v) => Some(ErrorRecord::from_value(v)?),
            },
        })
    }
}
