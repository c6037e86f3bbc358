//! [`ClientPipeline`]: the client's view of one PowerShell pipeline (a WS-Man command) and [`PipelineSpec`], what
//! CREATE_PIPELINE asks the server to run.

use uuid::Uuid;

use crate::client::error::ClientError;
use crate::client::state::PsInvocationState;

/// One command of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    /// A script block's text, or a command name.
    pub command: String,
    /// Whether [`CommandSpec::command`] is a script (`IsScript`).
    pub is_script: bool,
    /// Parameters: `(Some(name), value)` for a named parameter, `(None, value)` for a positional argument. Values
    /// are sent as strings.
    pub parameters: Vec<(Option<String>, String)>,
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
    pub fn parameter(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.parameters.push((Some(name.into()), value.into()));
        self
    }

    /// Adds a positional argument.
    pub fn argument(mut self, value: impl Into<String>) -> Self {
        self.parameters.push((None, value.into()));
        self
    }
}

/// What CREATE_PIPELINE asks the server to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineSpec {
    /// The commands, piped into each other.
    pub commands: Vec<CommandSpec>,
    /// No input will be sent (`NoInput`); the server closes the pipeline's input at once.
    pub no_input: bool,
    /// Add the pipeline to the remote history (`AddToHistory`).
    pub add_to_history: bool,
}

impl PipelineSpec {
    /// A pipeline running one script, without input.
    pub fn script(text: impl Into<String>) -> Self {
        PipelineSpec { commands: vec![CommandSpec::script(text)], no_input: true, add_to_history: false }
    }

    /// A pipeline of the given commands, without input.
    pub fn commands(commands: Vec<CommandSpec>) -> Self {
        PipelineSpec { commands, no_input: true, add_to_history: false }
    }

    /// The text PowerShell puts into `rsp:Command` (≤ 255 characters, `" "` when empty).
    pub fn command_line(&self) -> String {
        let text = self.commands.iter().map(|c| c.command.as_str()).collect::<Vec<_>>().join(" | ");
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
