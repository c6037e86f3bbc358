//! The machinery pipelines run on: control flow, output sinks, event targets, frames and preferences.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;

use super::EngineConfig;
pub(crate) use super::emit::Emit;
use super::event::{ErrorRecord, InvocationInfo, PipelineEvent};
use super::jobs::{Job, JobTable};
use super::spec::MergeSettings;
use super::value::{MAX_COLLECTION_LEN, ScriptBlockValue, Value};

/// A boxed, sendable future (the engine's recursion goes through these).
pub(crate) type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why evaluation stopped early.
#[derive(Debug)]
pub(crate) enum Flow {
    /// A statement-terminating error: a script writes it to the error stream and goes on with the next statement.
    Statement(Box<ErrorRecord>),
    /// A script-terminating error (`throw`, `-ErrorAction Stop`): the pipeline fails with it.
    Terminate(Box<ErrorRecord>),
    /// `Select-Object -First` has what it needs: the commands before stage `id` stop.
    StopUpstream(u64),
    /// The receiver of the pipeline's events is gone.
    Closed,
}

impl Flow {
    pub fn statement(record: ErrorRecord) -> Flow {
        Flow::Statement(Box::new(record))
    }

    pub fn terminate(record: ErrorRecord) -> Flow {
        Flow::Terminate(Box::new(record))
    }
}

/// Where a pipeline's events go.
#[derive(Clone)]
pub(crate) enum EventTarget {
    /// The endpoint's bounded channel (backpressure: `send` waits while it is full).
    Channel(mpsc::Sender<PipelineEvent>),
    /// A background job's buffer.
    Job(Arc<Job>),
}

impl EventTarget {
    pub(crate) async fn send(&self, emit: Emit) -> Result<(), Flow> {
        match self {
            EventTarget::Channel(tx) => {
                let event = match emit {
                    Emit::Output(value) => PipelineEvent::Output(value.clone()),
                    Emit::Record(event) => *event,
                };
                tx.send(event).await.map_err(|_| Flow::Closed)
            }
            EventTarget::Job(job) => {
                job.push(emit).await;
                Ok(())
            }
        }
    }
}

/// Something that accepts output objects.
pub(crate) trait OutputSink: Send {
    fn write<'a>(&'a mut self, value: Value) -> BoxFut<'a, Result<(), Flow>>;
}

/// Writes output straight to the event target.
pub(crate) struct TargetSink<'c> {
    pub ctx: &'c Ctx,
}

impl OutputSink for TargetSink<'_> {
    fn write<'a>(&'a mut self, value: Value) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async move { self.ctx.target.send(Emit::Output(value)).await })
    }
}

/// Collects output (for `$x = …`, `( … )`, conditions), up to [`MAX_COLLECTION_LEN`] values.
#[derive(Default)]
pub(crate) struct Collector {
    pub values: Vec<Value>,
}

impl Collector {
    /// `$null` for nothing, the value for one, an array for several (PowerShell's assignment rule).
    pub fn into_value(mut self) -> Value {
        match self.values.len() {
            0 => Value::Null,
            1 => self.values.pop().unwrap_or(Value::Null),
            _ => Value::array(self.values),
        }
    }
}

impl OutputSink for Collector {
    fn write<'a>(&'a mut self, value: Value) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async move {
            if self.values.len() >= MAX_COLLECTION_LEN {
                return Err(Flow::terminate(ErrorRecord::new(
                    format!(
                        "The output collected into one value exceeds the engine's limit of {MAX_COLLECTION_LEN} objects."
                    ),
                    "System.Management.Automation.RuntimeException",
                    "CollectionTooLarge",
                    super::event::ErrorCategory::LimitsExceeded,
                )));
            }
            self.values.push(value);
            Ok(())
        })
    }
}

/// A runspace's mutable state: variables and jobs.
pub(crate) struct RunspaceState {
    pub config: Arc<EngineConfig>,
    variables: Mutex<HashMap<String, Value>>,
    pub jobs: Arc<JobTable>,
    /// How script blocks run: the interpreter's, handed in so that built-ins need not know the interpreter.
    pub invoker: BlockInvoker,
}

/// Runs a script block with `locals` in a child frame of `parent` (the interpreter's `invoke_block`).
pub(crate) type BlockInvoker = for<'a> fn(
    &'a Ctx,
    &'a Arc<Frame>,
    &'a ScriptBlockValue,
    Vec<(String, Value)>,
    &'a mut dyn OutputSink,
) -> BoxFut<'a, Result<(), Flow>>;

impl RunspaceState {
    pub fn new(config: Arc<EngineConfig>, invoker: BlockInvoker) -> RunspaceState {
        RunspaceState { config, variables: Mutex::new(HashMap::new()), jobs: Arc::new(JobTable::default()), invoker }
    }

    fn vars(&self) -> std::sync::MutexGuard<'_, HashMap<String, Value>> {
        self.variables.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn get(&self, name: &str) -> Option<Value> {
        self.vars().get(&name.to_ascii_lowercase()).cloned()
    }

    pub fn set(&self, name: &str, value: Value) {
        self.vars().insert(name.to_ascii_lowercase(), value);
    }
}

/// One pipeline execution: the runspace it runs in and where its events go.
pub(crate) struct Ctx {
    pub rs: Arc<RunspaceState>,
    pub target: EventTarget,
}

impl Ctx {
    /// Runs `block` with `locals` in a child frame of `parent`, its output into `out`.
    pub fn invoke_block<'a>(
        &'a self,
        parent: &'a Arc<Frame>,
        block: &'a ScriptBlockValue,
        locals: Vec<(String, Value)>,
        out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>> {
        (self.rs.invoker)(self, parent, block, locals, out)
    }
}

/// A command ready to run in a pipeline.
pub(crate) trait Processor: Send {
    /// Before any input.
    fn begin<'a>(
        &'a mut self,
        _ctx: &'a Ctx,
        _inv: &'a Invocation,
        _out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async { Ok(()) })
    }

    /// Once per input object; once with `None` when the command is first in a pipeline without input.
    fn process<'a>(
        &'a mut self,
        ctx: &'a Ctx,
        inv: &'a Invocation,
        input: Option<Value>,
        out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>>;

    /// After the last input.
    fn end<'a>(
        &'a mut self,
        _ctx: &'a Ctx,
        _inv: &'a Invocation,
        _out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async { Ok(()) })
    }
}

/// Per-invocation local variables (`$_`, `$input`, `$args`, script parameters) over the runspace's variables.
#[derive(Debug, Default)]
pub(crate) struct Frame {
    pub locals: Vec<(String, Value)>,
    pub parent: Option<Arc<Frame>>,
    /// The script text extents in this frame refer to.
    pub source: Arc<str>,
    /// How many script blocks deep this frame is.
    pub depth: usize,
}

impl Frame {
    pub fn root(source: Arc<str>) -> Arc<Frame> {
        Arc::new(Frame { locals: Vec::new(), parent: None, source, depth: 0 })
    }

    pub fn child(parent: &Arc<Frame>, source: Arc<str>, locals: Vec<(String, Value)>) -> Arc<Frame> {
        Arc::new(Frame { locals, parent: Some(parent.clone()), source, depth: parent.depth + 1 })
    }

    pub fn local(&self, name: &str) -> Option<Value> {
        let mut frame = Some(self);
        while let Some(f) = frame {
            if let Some((_, v)) = f.locals.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
                return Some(v.clone());
            }
            frame = f.parent.as_deref();
        }
        None
    }
}

/// `System.Management.Automation.ActionPreference`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ActionPreference {
    SilentlyContinue,
    Stop,
    Continue,
    Inquire,
    Ignore,
}

impl ActionPreference {
    pub fn parse(value: &Value) -> Option<ActionPreference> {
        if let Some(n) = value.to_i64()
            && !matches!(value, Value::String(_))
        {
            return match n {
                0 => Some(ActionPreference::SilentlyContinue),
                1 => Some(ActionPreference::Stop),
                2 => Some(ActionPreference::Continue),
                3 => Some(ActionPreference::Inquire),
                4 => Some(ActionPreference::Ignore),
                _ => None,
            };
        }
        match value.to_ps_string().to_ascii_lowercase().as_str() {
            "silentlycontinue" => Some(ActionPreference::SilentlyContinue),
            "stop" => Some(ActionPreference::Stop),
            "continue" => Some(ActionPreference::Continue),
            "inquire" => Some(ActionPreference::Inquire),
            "ignore" => Some(ActionPreference::Ignore),
            _ => None,
        }
    }

    /// Whether a record under this preference is written at all.
    pub fn writes(self) -> bool {
        !matches!(self, ActionPreference::SilentlyContinue | ActionPreference::Ignore)
    }
}

/// The stream preferences in force for one command.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Preferences {
    pub error: ActionPreference,
    pub warning: ActionPreference,
    pub verbose: ActionPreference,
    pub debug: ActionPreference,
    pub information: ActionPreference,
    pub progress: ActionPreference,
}

impl Preferences {
    /// From the preference variables (`$ErrorActionPreference` …) with PowerShell's defaults.
    pub fn from_variables(ctx: &Ctx, frame: &Frame) -> Preferences {
        let read = |name: &str, default: ActionPreference| {
            frame.local(name).or_else(|| ctx.rs.get(name)).and_then(|v| ActionPreference::parse(&v)).unwrap_or(default)
        };
        Preferences {
            error: read("ErrorActionPreference", ActionPreference::Continue),
            warning: read("WarningPreference", ActionPreference::Continue),
            verbose: read("VerbosePreference", ActionPreference::SilentlyContinue),
            debug: read("DebugPreference", ActionPreference::SilentlyContinue),
            information: read("InformationPreference", ActionPreference::SilentlyContinue),
            progress: read("ProgressPreference", ActionPreference::Continue),
        }
    }
}

/// Everything a command needs to know about its own invocation.
pub(crate) struct Invocation {
    /// The command's canonical name (`Write-Error`).
    pub name: String,
    /// Its .NET class, as error records name it (`Microsoft.PowerShell.Commands.WriteErrorCommand`).
    pub class: String,
    /// Where it was invoked (for error records).
    pub info: InvocationInfo,
    pub merge: MergeSettings,
    pub prefs: Preferences,
    pub frame: Arc<Frame>,
    /// Unique id of this pipeline stage (for `Flow::StopUpstream`).
    pub stage_id: u64,
}

impl Invocation {
    /// Writes a record, to the command's output when its stream is merged, else to the event target; applies
    /// the stream's preference. An error under `Stop` becomes a terminating error.
    pub async fn write_record(&self, ctx: &Ctx, out: &mut dyn OutputSink, event: PipelineEvent) -> Result<(), Flow> {
        let (preference, merged) = match &event {
            PipelineEvent::Error(_) => (self.prefs.error, self.merge.error),
            PipelineEvent::Warning(_) => (self.prefs.warning, self.merge.warning),
            PipelineEvent::Verbose(_) => (self.prefs.verbose, self.merge.verbose),
            PipelineEvent::Debug(_) => (self.prefs.debug, self.merge.debug),
            PipelineEvent::Information(_) => match self.prefs.information {
                // Information records are kept unless ignored; the preference only decides display.
                ActionPreference::Ignore => (ActionPreference::Ignore, false),
                _ => (ActionPreference::Continue, self.merge.information),
            },
            PipelineEvent::Progress(_) => (self.prefs.progress, false),
            PipelineEvent::Output(_) | PipelineEvent::State(_) => (ActionPreference::Continue, false),
        };
        if let (ActionPreference::Stop, PipelineEvent::Error(record)) = (preference, &event) {
            return Err(Flow::terminate(record.clone()));
        }
        if !preference.writes() {
            return Ok(());
        }
        if merged {
            out.write(super::records::record_to_value(&event)).await
        } else {
            ctx.target.send(Emit::record(event)).await
        }
    }

    /// An error record attributed to this command.
    pub fn error(
        &self,
        message: impl Into<String>,
        exception_type: &str,
        error_id: &str,
        category: super::event::ErrorCategory,
        target: Option<Value>,
    ) -> ErrorRecord {
        let class = &self.class;
        let mut record = ErrorRecord::new(message, exception_type, format!("{error_id},{class}"), category);
        record.activity = self.name.clone();
        if let Some(target) = target {
            record.target_name = target.to_ps_string();
            record.target_type = target.short_type_name();
            record.target_object = Some(target.clone());
        }
        record.invocation = Some(self.info.clone());
        record
    }
}
