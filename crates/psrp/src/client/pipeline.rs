//! [`ClientPipeline`]: the client's view of one PowerShell pipeline (a WS-Man command) and [`PipelineSpec`], what
//! CREATE_PIPELINE asks the server to run.

use uuid::Uuid;

use crate::clixml::PsValue;
use crate::session_key::SecretText;

use crate::client::error::ClientError;
use crate::client::state::PsInvocationState;

/// The value of a parameter or positional argument.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ArgumentValue {
    /// A value serialized as it is: a string, a number, [`PsValue::Null`] for a switch parameter, any object.
    Value(PsValue),
    /// A `System.Security.SecureString`: encrypted with the pool's session key when CREATE_PIPELINE is built, so
    /// the pool must have completed the key exchange first ([`crate::client::ClientRunspacePool::start_key_exchange`]).
    SecureString(SecretText),
}

/// One command of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandSpec {
    /// A script block's text, or a command name.
    pub command: String,
    /// Whether [`CommandSpec::command`] is a script (`IsScript`).
    pub is_script: bool,
    /// Parameters: `(Some(name), value)` for a named parameter, `(None, value)` for a positional argument.
    pub parameters: Vec<(Option<String>, ArgumentValue)>,
}

impl CommandSpec {
    /// A script.
    pub fn script(text: impl Into<String>) -> Self {
        CommandSpec { command: text.into(), is_script: true, parameters: Vec::new() }
    }

    /// A command by name.
    pub fn command(name: impl Into<String>) -> Self {
        CommandSpec { command: name.into(), is_script: false, parameters: Vec::new() }
    }

    /// Adds a named parameter with a string value.
    pub fn parameter(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.parameter_value(name, PsValue::String(value.into()))
    }

    /// Adds a named parameter with any value (`-Value 123`, an object).
    pub fn parameter_value(mut self, name: impl Into<String>, value: PsValue) -> Self {
        self.parameters.push((Some(name.into()), ArgumentValue::Value(value)));
        self
    }

    /// Adds a switch parameter (`-Force`): a named parameter without a value, sent as `Nil` like PowerShell does.
    pub fn switch(self, name: impl Into<String>) -> Self {
        self.parameter_value(name, PsValue::Null)
    }

    /// Adds a named SecureString parameter (`-Password`), sent encrypted with the session key.
    pub fn secure_parameter(mut self, name: impl Into<String>, value: SecretText) -> Self {
        self.parameters.push((Some(name.into()), ArgumentValue::SecureString(value)));
        self
    }

    /// Adds a positional string argument.
    pub fn argument(self, value: impl Into<String>) -> Self {
        self.argument_value(PsValue::String(value.into()))
    }

    /// Adds a positional argument of any value.
    pub fn argument_value(mut self, value: PsValue) -> Self {
        self.parameters.push((None, ArgumentValue::Value(value)));
        self
    }

    fn has_secure_strings(&self) -> bool {
        self.parameters.iter().any(|(_, v)| matches!(v, ArgumentValue::SecureString(_)))
    }
}

/// What CREATE_PIPELINE asks the server to run.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineSpec {
    /// The commands of the first statement, piped into each other.
    pub commands: Vec<CommandSpec>,
    /// Further statements (PowerShell's `AddStatement()`: `a; b; c`), each a list of piped commands; their output
    /// follows the first statement's.
    pub statements: Vec<Vec<CommandSpec>>,
    /// No input will be sent (`NoInput`); the server closes the pipeline's input at once.
    pub no_input: bool,
    /// Add the pipeline to the remote history (`AddToHistory`).
    pub add_to_history: bool,
}

impl PipelineSpec {
    /// A pipeline running one script, without input.
    pub fn script(text: impl Into<String>) -> Self {
        PipelineSpec::commands(vec![CommandSpec::script(text)])
    }

    /// A pipeline of the given commands, without input.
    pub fn commands(commands: Vec<CommandSpec>) -> Self {
        PipelineSpec { commands, statements: Vec::new(), no_input: true, add_to_history: false }
    }

    /// Appends a statement: `commands` run after everything before it.
    pub fn add_statement(mut self, commands: Vec<CommandSpec>) -> Self {
        self.statements.push(commands);
        self
    }

    /// Whether a parameter is a SecureString, which needs the session key.
    pub fn has_secure_strings(&self) -> bool {
        self.commands.iter().chain(self.statements.iter().flatten()).any(CommandSpec::has_secure_strings)
    }

    /// The text PowerShell puts into `rsp:Command` (≤ 255 characters, `" "` when empty): the commands of the first
    /// statement joined by `" | "`, further statements after `"; "`.
    pub fn command_line(&self) -> String {
        let statement =
            |commands: &[CommandSpec]| commands.iter().map(|c| c.command.as_str()).collect::<Vec<_>>().join(" | ");
        let text = std::iter::once(statement(&self.commands))
            .chain(self.statements.iter().map(|s| statement(s)))
            .collect::<Vec<_>>()
            .join("; ");
        let text: String = text.chars().take(255).collect();
        if text.trim().is_empty() { " ".to_owned() } else { text }
    }
}

/// The client's view of one pipeline of a [`crate::client::ClientRunspacePool`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPipeline {
    id: Uuid,
    pub(crate) state: PsInvocationState,
    pub(crate) input_closed: bool,
}

impl ClientPipeline {
    pub(crate) fn new(id: Uuid, state: PsInvocationState, input_closed: bool) -> Self {
        ClientPipeline { id, state, input_closed }
    }

    /// The pipeline's InstanceId (the WS-Man CommandId).
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Its state.
    pub fn state(&self) -> PsInvocationState {
        self.state
    }

    /// Whether its input is closed.
    pub fn is_input_closed(&self) -> bool {
        self.input_closed
    }

    pub(crate) fn require_input(&self, operation: &'static str) -> Result<(), ClientError> {
        if self.input_closed || self.state != PsInvocationState::Running {
            return Err(ClientError::InvalidPipelineState { pipeline_id: self.id, operation, state: self.state });
        }
        Ok(())
    }
}
