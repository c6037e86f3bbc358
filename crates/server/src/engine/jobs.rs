//! Background jobs (`Start-Job` …): pipelines that outlive the pipeline that started them, inside a runspace.
//!
//! Like PowerShell, a job runs in a fresh scope (it does not see the runspace's variables) and its id consumes two
//! numbers (the parent job and its one child job), so successive jobs are `Job1`, `Job3`, `Job5` …. A job's
//! unreceived output is kept in a buffer of at most `EngineConfig::job_output_limit` items; when it is full the
//! job pauses until `Receive-Job` drains it (nothing is lost).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use super::StopSignal;
use super::emit::Emit;
use super::value::Value;

/// `System.Management.Automation.JobState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobState {
    Running,
    Completed,
    Failed,
    Stopped,
}

impl JobState {
    pub fn name(self) -> &'static str {
        match self {
            JobState::Running => "Running",
            JobState::Completed => "Completed",
            JobState::Failed => "Failed",
            JobState::Stopped => "Stopped",
        }
    }

    pub fn number(self) -> i32 {
        match self {
            JobState::Running => 1,
            JobState::Completed => 2,
            JobState::Failed => 3,
            JobState::Stopped => 4,
        }
    }

    pub fn is_finished(self) -> bool {
        self != JobState::Running
    }

    pub fn parse(text: &str) -> Option<JobState> {
        [JobState::Running, JobState::Completed, JobState::Failed, JobState::Stopped]
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(text))
    }
}

struct JobInner {
    state: JobState,
    items: VecDeque<Emit>,
    begin_ticks: i64,
    end_ticks: Option<i64>,
}

/// One background job.
pub(crate) struct Job {
    pub id: u32,
    pub name: String,
    pub command: String,
    pub location: String,
    limit: usize,
    inner: Mutex<JobInner>,
    changed: watch::Sender<u64>,
    pub stop: StopSignal,
}

impl Job {
    fn lock(&self) -> MutexGuard<'_, JobInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn notify(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    pub fn state(&self) -> JobState {
        self.lock().state
    }

    /// Appends an item, waiting while the buffer is full.
    pub async fn push(&self, emit: Emit) {
        let mut rx = self.changed.subscribe();
        loop {
            {
                let mut inner = self.lock();
                if inner.items.len() < self.limit {
                    inner.items.push_back(emit);
                    drop(inner);
                    self.notify();
                    return;
                }
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Records the final state (and the terminating error of a failed job, past the buffer limit).
    pub fn finish(&self, state: JobState, end_ticks: i64, reason: Option<Emit>) {
        {
            let mut inner = self.lock();
            if let Some(reason) = reason {
                inner.items.push_back(reason);
            }
            inner.state = state;
            inner.end_ticks = Some(end_ticks);
        }
        self.notify();
    }

    /// Takes (or, with `keep`, copies) everything buffered so far.
    pub fn take(&self, keep: bool) -> Vec<Emit> {
        let items: Vec<Emit> = {
            let mut inner = self.lock();
            if keep { inner.items.iter().cloned().collect() } else { inner.items.drain(..).collect() }
        };
        if !keep && !items.is_empty() {
            self.notify();
        }
        items
    }

    /// Waits until the job changes (new output or a new state) after `rx` was last marked seen.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The job as PowerShell shows it (a `PSRemotingJob` with its usual properties).
    pub fn to_value(&self) -> Value {
        let inner = self.lock();
        let has_more = !inner.items.is_empty() || inner.state == JobState::Running;
        Value::object(
            &["System.Management.Automation.PSRemotingJob", "System.Management.Automation.Job", "System.Object"],
            vec![
                (
                    "State",
                    Value::enumeration(
                        "System.Management.Automation.JobState",
                        inner.state.name(),
                        inner.state.number(),
                    ),
                ),
                ("HasMoreData", Value::Bool(has_more)),
                ("StatusMessage", Value::string("")),
                ("Location", Value::string(self.location.as_str())),
                ("Command", Value::string(self.command.as_str())),
                ("JobStateInfo", Value::string(inner.state.name())),
                ("Finished", Value::Bool(inner.state.is_finished())),
                ("Id", Value::Int(self.id as i32)),
                ("Name", Value::string(self.name.as_str())),
                ("PSBeginTime", Value::DateTime(inner.begin_ticks)),
                ("PSEndTime", inner.end_ticks.map_or(Value::Null, Value::DateTime)),
                ("PSJobTypeName", Value::string("BackgroundJob")),
            ],
        )
    }
}

/// The jobs of one runspace.
#[derive(Default)]
pub(crate) struct JobTable {
    inner: Mutex<JobTableInner>,
}

#[derive(Default)]
struct JobTableInner {
    jobs: Vec<Arc<Job>>,
    last_id: u32,
}

impl JobTable {
    fn lock(&self) -> MutexGuard<'_, JobTableInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Creates a running job; `name` defaults to `Job<Id>`.
    pub fn create(
        &self,
        name: Option<String>,
        command: String,
        location: String,
        limit: usize,
        begin_ticks: i64,
    ) -> Arc<Job> {
        let mut table = self.lock();
        let id = table.last_id + 1;
        // The parent job takes `id`, its child job `id + 1`.
        table.last_id = table.last_id.saturating_add(2);
        let job = Arc::new(Job {
            id,
            name: name.unwrap_or_else(|| format!("Job{id}")),
            command,
            location,
            limit: limit.max(1),
            inner: Mutex::new(JobInner {
                state: JobState::Running,
                items: VecDeque::new(),
                begin_ticks,
                end_ticks: None,
            }),
            changed: watch::channel(0).0,
            stop: StopSignal::new(),
        });
        table.jobs.push(job.clone());
        job
    }

    pub fn all(&self) -> Vec<Arc<Job>> {
        self.lock().jobs.clone()
    }

    pub fn by_id(&self, id: i64) -> Option<Arc<Job>> {
        self.lock().jobs.iter().find(|j| i64::from(j.id) == id).cloned()
    }

    pub fn remove(&self, id: u32) {
        self.lock().jobs.retain(|j| j.id != id);
    }

    /// Stops every running job (the runspace is closing).
    pub fn stop_all(&self) {
        for job in self.all() {
            job.stop.stop();
        }
    }
}
