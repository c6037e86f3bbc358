//! The engine's neutral description of what to run: what a CREATE_PIPELINE message carries, minus the wire.

use super::value::Value;

/// One pipeline to run: statements run one after the other (PowerShell's `AddStatement`), each a list of commands
/// joined by pipes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PipelineSpec {
    /// The statements; each is a non-empty list of commands.
    pub statements: Vec<Vec<CommandSpec>>,
    /// Whether the client will stream input (`PIPELINE_INPUT` … `END_OF_PIPELINE_INPUT`); when `false` the first
    /// command gets no input at all.
    pub expects_input: bool,
}

impl PipelineSpec {
    /// A pipeline made of one script (PowerShell's `AddScript(text)`), taking no input.
    pub fn script(text: impl Into<String>) -> PipelineSpec {
        PipelineSpec { statements: vec![vec![CommandSpec::script(text)]], expects_input: false }
    }

    /// A pipeline made of one command (PowerShell's `AddCommand(name)`), taking no input.
    pub fn command(command: CommandSpec) -> PipelineSpec {
        PipelineSpec { statements: vec![vec![command]], expects_input: false }
    }
}

/// One command of a pipeline (MS-PSRP 2.2.3.12 `Command`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CommandSpec {
    /// The command name, or the script text when `is_script` is set (`Cmd`).
    pub command: String,
    /// Whether `command` is script text (`IsScript`).
    pub is_script: bool,
    /// Whether the command runs in a local scope (`UseLocalScope`). The built-in engine has one scope per
    /// runspace plus per-invocation locals; it records the flag and otherwise ignores it.
    pub use_local_scope: bool,
    /// Parameters and arguments in order (`Args`).
    pub parameters: Vec<ParameterSpec>,
    /// Which streams of this command are merged into its output.
    pub merge: MergeSettings,
}

impl CommandSpec {
    /// A command by name.
    pub fn new(name: impl Into<String>) -> CommandSpec {
        CommandSpec { command: name.into(), ..CommandSpec::default() }
    }

    /// Script text.
    pub fn script(text: impl Into<String>) -> CommandSpec {
        CommandSpec { command: text.into(), is_script: true, ..CommandSpec::default() }
    }

    /// Adds a named parameter with a value (`-Name value`); a switch is a named parameter with `Value::Bool(true)`
    /// (PowerShell sends switches that way too).
    pub fn with_parameter(mut self, name: impl Into<String>, value: Value) -> CommandSpec {
        self.parameters.push(ParameterSpec { name: Some(name.into()), value });
        self
    }

    /// Adds a positional argument.
    pub fn with_argument(mut self, value: Value) -> CommandSpec {
        self.parameters.push(ParameterSpec { name: None, value });
        self
    }
}

/// One entry of a command's `Args` list.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterSpec {
    /// The parameter name (`N`); `None` for a positional argument.
    pub name: Option<String>,
    /// The value (`V`).
    pub value: Value,
}

/// Stream merging of one command: which of its streams go into its output stream instead of their own.
///
/// This is the union of the protocol's `MergeMyResult`/`MergeToResult` (error → output) and the per-stream
/// `MergeError`/`MergeWarning`/`MergeVerbose`/`MergeDebug`/`MergeInformation` fields of protocol 2.2+. A merged
/// record travels down the pipeline as an object (an `ErrorRecord`, `WarningRecord`, … `Value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MergeSettings {
    /// Error records go to output (`2>&1`).
    pub error: bool,
    /// Warning records go to output (`3>&1`).
    pub warning: bool,
    /// Verbose records go to output (`4>&1`).
    pub verbose: bool,
    /// Debug records go to output (`5>&1`).
    pub debug: bool,
    /// Information records go to output (`6>&1`).
    pub information: bool,
}
