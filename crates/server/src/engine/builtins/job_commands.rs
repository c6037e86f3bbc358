//! The job cmdlets: Start-Job, Get-Job, Receive-Job, Wait-Job, Remove-Job, Stop-Job.

use std::sync::Arc;
use std::time::Duration;

use super::super::event::{ErrorCategory, ErrorRecord, PipelineEvent};
use super::super::jobs::{Job, JobState};
use super::super::runtime::{
    BoxFut, Ctx, Emit, EventTarget, Flow, Frame, Invocation, OutputSink, Processor, RunspaceState, TargetSink,
};
use super::super::value::{self, ScriptBlockValue, Value};
use super::*;

pub(super) async fn start_job(
    bound: &Bound,
    ctx: &Ctx,
    inv: &Invocation,
    out: &mut dyn OutputSink,
) -> Result<(), Flow> {
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
            let block = ScriptBlockValue::parse(text).map_err(|e| Flow::statement(ErrorRecord::parse_error(&e)))?;
            (Arc::new(block), path)
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

pub(super) fn spawn_job(
    config: Arc<super::super::EngineConfig>,
    invoker: super::super::runtime::BlockInvoker,
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
pub(super) async fn select_jobs(
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
pub(super) struct JobCommand {
    pub(super) builtin: Builtin,
    pub(super) bound: Bound,
    pub(super) jobs: Vec<Arc<Job>>,
    pub(super) got_input: bool,
}

/// The job a value designates: a job object (by its `Id`), a job id, or a job name.
pub(super) fn job_of(ctx: &Ctx, value: &Value) -> Option<Arc<Job>> {
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

pub(super) async fn stop_and_wait(job: &Job) {
    let mut rx = job.subscribe();
    job.stop.stop();
    while !job.state().is_finished() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

pub(super) async fn receive(ctx: &Ctx, bound: &Bound, job: &Arc<Job>, out: &mut dyn OutputSink) -> Result<(), Flow> {
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
