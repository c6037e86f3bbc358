//! The command engine that runs inside the endpoint's sessions.
//!
//! A real Windows endpoint runs PowerShell; this endpoint runs a small, documented, deterministic engine behind
//! the [`Engine`] trait, so another engine can be plugged in later. The endpoint maps CREATE_PIPELINE into a
//! [`PipelineSpec`], starts it on a [`Runspace`] (one per RunspacePool) and turns the [`PipelineEvent`]s it
//! receives into PSRP messages.
//!
//! # Execution model
//!
//! * [`Runspace::start_pipeline`] spawns the pipeline as a tokio task (call it inside a runtime) and returns a
//!   [`PipelineHandle`]. The pipeline runs whether or not a client is connected.
//! * Events go into a **bounded** `tokio::sync::mpsc` channel the endpoint gives. When nobody drains it (the
//!   endpoint's disconnected buffer is full in Block mode) the pipeline pauses on its next write: nothing is
//!   lost. The last event is always [`PipelineEvent::State`]. If the receiver is dropped, the pipeline stops.
//! * Input arrives on a channel ([`PipelineInput::Stream`]); dropping its sender is END_OF_PIPELINE_INPUT.
//! * [`PipelineHandle::stop`] (the `ctrl_c` signal) ends the pipeline at its next await point with
//!   [`PipelineState::Stopped`] carrying PowerShell's `PipelineStoppedException` record. Loops yield on every
//!   iteration, so even `while ($true) {}` can be stopped.
//! * Waiting (`Start-Sleep`, `Get-TestData -RatePerSecond`) uses tokio time, so tests drive it with
//!   `tokio::time::pause()`; wall-clock reads go through the injected [`Clock`]. Nothing reads randomness.
//!
//! # Language and commands
//!
//! The script subset is described in [`parser`]. Built-in commands: `Write-Output`, `Write-Error`,
//! `Write-Warning`, `Write-Verbose`, `Write-Debug`, `Write-Information`, `Write-Host`, `Write-Progress`,
//! `Start-Sleep`, `Get-Date`, `Get-Process`, `Start-Job`, `Get-Job`, `Receive-Job`, `Wait-Job`, `Remove-Job`,
//! `Stop-Job`, `Get-Command`, `ForEach-Object`, `Where-Object`, `Select-Object`, `Out-Null`, `Out-String`,
//! `Out-Default` (passes objects through; formatting is the client's job) and the engine's own `Get-TestData`. The crate
//! README lists parameters and deviations from PowerShell.
//!
//! Streams follow PowerShell's preferences: verbose and debug records are written only with `-Verbose`/`-Debug`
//! or when `$VerbosePreference`/`$DebugPreference` is `Continue` (`-Debug` means `Continue`, as in PowerShell 7,
//! never `Inquire`); warnings and progress unless their preference is `SilentlyContinue`/`Ignore`; information
//! records always (unless `Ignore`), since the preference only decides display. `-ErrorAction Stop` (or
//! `$ErrorActionPreference = 'Stop'`) turns an error into a terminating one.
//!
//! Errors: in a script, a statement-terminating error (unknown command, parameter binding) is written to the
//! error stream and the script continues, as PowerShell does; `throw` fails the pipeline. For a command pipeline
//! (`AddCommand`), an unknown command or a binding error fails it. A script that does not parse fails the
//! pipeline with a `ParseException` record.
//!
//! The engine never touches the server's file system or environment: `Start-Job -FilePath` and script paths run
//! scripts from [`EngineConfig::scripts`], a virtual script store, and `$env:X` is `$null`.

pub mod clock;
pub mod event;
pub mod parser;
pub mod spec;
pub mod value;
pub mod version;

mod builtins;
mod emit;
mod interp;
mod jobs;
mod process;
mod records;
mod runtime;

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

pub use clock::{Clock, FixedClock, SystemClock, TokioClock};
pub use event::{
    ErrorCategory, ErrorRecord, InformationRecord, InformationalRecord, InvocationInfo, PipelineEvent, PipelineState,
    ProgressRecord, ProgressRecordType,
};
pub use spec::{CommandSpec, MergeSettings, ParameterSpec, PipelineSpec};
pub use value::{EnumValue, Object, ScriptBlockValue, Value};

/// A command engine: opens runspaces.
pub trait Engine: Send + Sync {
    /// Opens a runspace (the endpoint opens one per RunspacePool).
    fn open_runspace(&self) -> Arc<dyn Runspace>;

    /// `$PSVersionTable`, for APPLICATION_PRIVATE_DATA (a hashtable; its CLIXML type names are
    /// [`version::PS_VERSION_TABLE_TYPE_NAMES`]).
    fn ps_version_table(&self) -> Value;
}

/// A runspace: variables and jobs shared by the pipelines run in it.
pub trait Runspace: Send + Sync {
    /// Starts a pipeline. Must be called inside a tokio runtime.
    fn start_pipeline(
        &self,
        spec: PipelineSpec,
        input: PipelineInput,
        events: mpsc::Sender<PipelineEvent>,
    ) -> PipelineHandle;

    /// Closes the runspace: stops its background jobs. Running pipelines are stopped through their handles.
    fn close(&self);
}

/// The input of a pipeline.
#[derive(Debug)]
pub enum PipelineInput {
    /// No input (CREATE_PIPELINE without `IsNested`-style input; the first command runs once without input).
    None,
    /// Objects streamed by the client; the stream ends when the sender is dropped (END_OF_PIPELINE_INPUT).
    /// Used only when [`PipelineSpec::expects_input`] is set.
    Stream(mpsc::Receiver<Value>),
}

/// A stop request shared between the endpoint and a running pipeline (or job).
#[derive(Debug, Clone)]
pub struct StopSignal(Arc<watch::Sender<bool>>);

impl Default for StopSignal {
    fn default() -> StopSignal {
        StopSignal::new()
    }
}

impl StopSignal {
    /// A signal not yet raised.
    pub fn new() -> StopSignal {
        StopSignal(Arc::new(watch::channel(false).0))
    }

    /// Raises the signal.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }

    /// Whether the signal was raised.
    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits until the signal is raised.
    pub async fn stopped(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}

/// A running pipeline.
#[derive(Debug)]
pub struct PipelineHandle {
    stop: StopSignal,
    task: tokio::task::JoinHandle<PipelineState>,
}

impl PipelineHandle {
    /// Spawns `run` (given the pipeline's stop signal) as the pipeline's task. Engines use this to build handles.
    pub fn spawn<F, Fut>(run: F) -> PipelineHandle
    where
        F: FnOnce(StopSignal) -> Fut,
        Fut: Future<Output = PipelineState> + Send + 'static,
    {
        let stop = StopSignal::new();
        let task = tokio::spawn(run(stop.clone()));
        PipelineHandle { stop, task }
    }

    /// Requests a stop (the `ctrl_c` signal).
    pub fn stop(&self) {
        self.stop.stop();
    }

    /// The stop signal, to stop the pipeline from elsewhere.
    pub fn stop_signal(&self) -> StopSignal {
        self.stop.clone()
    }

    /// Whether the pipeline has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits for the end and returns the final state (also sent as the last event).
    pub async fn wait(self) -> PipelineState {
        match self.task.await {
            Ok(state) => state,
            Err(_) => PipelineState::Stopped(stopped_record()),
        }
    }
}

/// PowerShell's record for a stopped pipeline.
pub fn stopped_record() -> ErrorRecord {
    ErrorRecord::new(
        "The pipeline has been stopped.",
        "System.Management.Automation.PipelineStoppedException",
        "PipelineStopped",
        ErrorCategory::OperationStopped,
    )
}

/// Settings of the built-in engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The source of `Get-Date` and record timestamps.
    pub clock: Arc<dyn Clock>,
    /// `InformationRecord.Computer` and the jobs' `Location`.
    pub computer_name: String,
    /// `InformationRecord.User`.
    pub user_name: String,
    /// `$PID` and `InformationRecord.ProcessId`.
    pub process_id: u32,
    /// Most unreceived items a job buffers before it pauses (until `Receive-Job` drains it).
    pub job_output_limit: usize,
    /// The virtual script store: (path, script text). `Start-Job -FilePath <path>` and invoking `<path>` as a
    /// command run the text; paths compare case-insensitively. Defaults to [`EngineConfig::example_scripts`].
    pub scripts: Vec<(String, String)>,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            clock: Arc::new(SystemClock),
            computer_name: "localhost".into(),
            user_name: String::new(),
            process_id: std::process::id(),
            job_output_limit: 10_000,
            scripts: EngineConfig::example_scripts(),
        }
    }
}

impl EngineConfig {
    /// The scripts of `Connect-PSSession` help, Example 3: `\\Server30\Scripts\Backup-SQLDatabase.ps1` (a long
    /// job: 20 steps of 3 seconds, each writing progress and a line of output, then an object whose
    /// `Initialization` property holds the backup specification) and `\\Server30\Scripts\New-SQLDatabase.ps1`
    /// (reads `-InitData` and reports the databases it would create).
    pub fn example_scripts() -> Vec<(String, String)> {
        vec![
            (
                r"\\Server30\Scripts\Backup-SQLDatabase.ps1".into(),
                concat!(
                    "$total = 20\n",
                    "foreach ($step in 1..$total) {\n",
                    "    Write-Progress -Activity 'Backup-SQLDatabase' -Status \"Database $step of $total\" -PercentComplete ($step * 100 / $total)\n",
                    "    \"Backed up database $step of $total\"\n",
                    "    Start-Sleep -Seconds 3\n",
                    "}\n",
                    "Write-Progress -Activity 'Backup-SQLDatabase' -Completed\n",
                    "@{ Initialization = \"BackupSet-$total\"; Databases = $total }\n",
                )
                .into(),
            ),
            (
                r"\\Server30\Scripts\New-SQLDatabase.ps1".into(),
                concat!(
                    "if (-not $InitData) { throw 'New-SQLDatabase: -InitData is required.' }\n",
                    "\"Created databases from $InitData\"\n",
                )
                .into(),
            ),
        ]
    }

    /// The text of a stored script.
    pub fn stored_script(&self, path: &str) -> Option<&str> {
        self.scripts.iter().find(|(p, _)| p.eq_ignore_ascii_case(path)).map(|(_, text)| text.as_str())
    }
}

/// The built-in engine.
#[derive(Debug, Clone, Default)]
pub struct BuiltinEngine {
    config: Arc<EngineConfig>,
}

impl BuiltinEngine {
    /// An engine with this configuration.
    pub fn new(config: EngineConfig) -> BuiltinEngine {
        BuiltinEngine { config: Arc::new(config) }
    }
}

impl Engine for BuiltinEngine {
    fn open_runspace(&self) -> Arc<dyn Runspace> {
        Arc::new(BuiltinRunspace {
            state: Arc::new(runtime::RunspaceState::new(self.config.clone(), interp::invoke_block_boxed)),
        })
    }

    fn ps_version_table(&self) -> Value {
        version::ps_version_table_value()
    }
}

/// A runspace of the built-in engine.
struct BuiltinRunspace {
    state: Arc<runtime::RunspaceState>,
}

impl Runspace for BuiltinRunspace {
    fn start_pipeline(
        &self,
        spec: PipelineSpec,
        input: PipelineInput,
        events: mpsc::Sender<PipelineEvent>,
    ) -> PipelineHandle {
        let state = self.state.clone();
        PipelineHandle::spawn(move |stop| async move {
            let ctx = runtime::Ctx { rs: state, target: runtime::EventTarget::Channel(events.clone()) };
            let result = tokio::select! {
                result = interp::run_spec(&ctx, spec, input) => Some(result),
                () = stop.stopped() => None,
            };
            let final_state = match result {
                Some(Ok(())) | Some(Err(runtime::Flow::StopUpstream(_))) => PipelineState::Completed,
                Some(Err(runtime::Flow::Terminate(record) | runtime::Flow::Statement(record))) => {
                    PipelineState::Failed(*record)
                }
                Some(Err(runtime::Flow::Closed)) | None => PipelineState::Stopped(stopped_record()),
            };
            let _ = events.send(PipelineEvent::State(final_state.clone())).await;
            final_state
        })
    }

    fn close(&self) {
        self.state.jobs.stop_all();
    }
}
