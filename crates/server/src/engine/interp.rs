//! The evaluator: statements, pipelines of commands, expressions.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::PipelineInput;
use super::builtins::{self, Builtin, RawArg};
use super::event::{ErrorCategory, ErrorRecord, InvocationInfo};
use super::parser::{
    self, BinaryOp, CommandCall, CommandElement, CommandName, Expr, Extent, Literal, Pipeline, PipelineElement, Script,
    StatementKind, StringPart, UnaryOp,
};
use super::runtime::{
    ActionPreference, BoxFut, Collector, Ctx, Flow, Frame, Invocation, OutputSink, Preferences, Processor,
};
use super::spec::{CommandSpec, MergeSettings, PipelineSpec};
use super::value::{self, MAX_COLLECTION_LEN, OpError, ScriptBlockValue, Value};

/// The deepest nesting of script block invocations (`& { & { … } }`, recursion through variables); deeper
/// calls fail with PowerShell's `CallDepthOverflow`. Keeps the polling stack well inside a 2 MiB worker stack.
pub const MAX_CALL_DEPTH: usize = 50;

static NEXT_STAGE_ID: AtomicU64 = AtomicU64::new(1);

fn next_stage_id() -> u64 {
    NEXT_STAGE_ID.fetch_add(1, Ordering::Relaxed)
}

/// One stage of a pipeline.
pub(crate) struct Stage {
    pub processor: Box<dyn Processor>,
    pub inv: Invocation,
}

/// Pushes a value through the remaining stages, then into the final sink.
struct StageSink<'s> {
    ctx: &'s Ctx,
    rest: &'s mut [Stage],
    out: &'s mut dyn OutputSink,
}

impl OutputSink for StageSink<'_> {
    fn write<'a>(&'a mut self, value: Value) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async move {
            match self.rest.split_first_mut() {
                None => self.out.write(value).await,
                Some((stage, tail)) => {
                    let mut next = StageSink { ctx: self.ctx, rest: tail, out: &mut *self.out };
                    stage.processor.process(self.ctx, &stage.inv, Some(value), &mut next).await
                }
            }
        })
    }
}

/// Input of the first stage of a pipeline.
pub(crate) enum ChainInput<'i> {
    /// No input: the first command's `process` runs once with `None`.
    Nothing,
    /// These values.
    Values(Vec<Value>),
    /// Streamed from the client.
    Stream(&'i mut tokio::sync::mpsc::Receiver<Value>),
}

/// Runs stages: begin all, feed the input, end all; handles `Flow::StopUpstream` for its own stages.
pub(crate) async fn run_chain(
    ctx: &Ctx,
    stages: &mut [Stage],
    input: ChainInput<'_>,
    out: &mut dyn OutputSink,
) -> Result<(), Flow> {
    let ids: Vec<u64> = stages.iter().map(|s| s.inv.stage_id).collect();
    let mut result = feed(ctx, stages, input, out).await;
    let mut last_stop = None;
    loop {
        match result {
            Err(Flow::StopUpstream(id)) => match ids.iter().position(|x| *x == id) {
                Some(k) if last_stop.is_none_or(|prev| k > prev) => {
                    last_stop = Some(k);
                    result = end_from(ctx, stages, k, out).await;
                }
                Some(_) => return Ok(()),
                None => return Err(Flow::StopUpstream(id)),
            },
            other => return other,
        }
    }
}

async fn feed(ctx: &Ctx, stages: &mut [Stage], input: ChainInput<'_>, out: &mut dyn OutputSink) -> Result<(), Flow> {
    for i in 0..stages.len() {
        let (head, tail) = stages.split_at_mut(i + 1);
        let Some(stage) = head.last_mut() else { continue };
        let mut sink = StageSink { ctx, rest: tail, out: &mut *out };
        stage.processor.begin(ctx, &stage.inv, &mut sink).await?;
    }
    {
        let mut sink = StageSink { ctx, rest: stages, out: &mut *out };
        match input {
            ChainInput::Nothing => {
                if let Some((first, tail)) = sink.rest.split_first_mut() {
                    let mut next = StageSink { ctx, rest: tail, out: &mut *sink.out };
                    first.processor.process(ctx, &first.inv, None, &mut next).await?;
                }
            }
            ChainInput::Values(values) => {
                for value in values {
                    sink.write(value).await?;
                }
            }
            ChainInput::Stream(rx) => {
                while let Some(value) = rx.recv().await {
                    sink.write(value).await?;
                }
            }
        }
    }
    end_from(ctx, stages, 0, out).await
}

async fn end_from(ctx: &Ctx, stages: &mut [Stage], from: usize, out: &mut dyn OutputSink) -> Result<(), Flow> {
    for i in from..stages.len() {
        let (head, tail) = stages.split_at_mut(i + 1);
        let Some(stage) = head.last_mut() else { continue };
        let mut sink = StageSink { ctx, rest: tail, out: &mut *out };
        stage.processor.end(ctx, &stage.inv, &mut sink).await?;
    }
    Ok(())
}

// ----- the top level: a PipelineSpec -----

/// Runs what CREATE_PIPELINE asked for.
pub(crate) async fn run_spec(ctx: &Ctx, spec: PipelineSpec, input: PipelineInput) -> Result<(), Flow> {
    let mut input = match input {
        PipelineInput::Stream(rx) if spec.expects_input => Some(rx),
        _ => None,
    };
    let mut out = super::runtime::TargetSink { ctx };
    for (index, commands) in spec.statements.into_iter().enumerate() {
        let stream = if index == 0 { input.as_mut() } else { None };
        let root = Frame::root(Arc::from(""));
        let length = commands.len();
        let mut stages = Vec::with_capacity(length);
        for (position, command) in commands.into_iter().enumerate() {
            let stage = spec_stage(ctx, &root, command, position + 1, length).await.map_err(statement_fails)?;
            stages.push(stage);
        }
        let chain_input = match stream {
            Some(rx) => ChainInput::Stream(rx),
            None => ChainInput::Nothing,
        };
        run_chain(ctx, &mut stages, chain_input, &mut out).await.map_err(statement_fails)?;
    }
    Ok(())
}

/// At the top level of a command pipeline, a statement-terminating error fails the pipeline.
fn statement_fails(flow: Flow) -> Flow {
    match flow {
        Flow::Statement(record) => Flow::Terminate(record),
        other => other,
    }
}

async fn spec_stage(
    ctx: &Ctx,
    root: &Arc<Frame>,
    command: CommandSpec,
    position: usize,
    length: usize,
) -> Result<Stage, Flow> {
    let args: Vec<RawArg> = command
        .parameters
        .iter()
        .map(|p| {
            let value = p.value.clone();
            match &p.name {
                Some(name) => RawArg::Named { name: name.trim_start_matches('-').to_string(), value: Some(value) },
                None => RawArg::Positional(value),
            }
        })
        .collect();
    let info = InvocationInfo {
        my_command: if command.is_script { String::new() } else { command.command.clone() },
        invocation_name: if command.is_script { String::new() } else { command.command.clone() },
        pipeline_position: position as i32,
        pipeline_length: length as i32,
        ..InvocationInfo::default()
    };
    if command.is_script {
        let block =
            ScriptBlockValue::parse(&command.command).map_err(|e| Flow::terminate(ErrorRecord::parse_error(&e)))?;
        let block = Arc::new(block);
        let inv = make_invocation(ctx, root, String::new(), info, command.merge, Default::default());
        return Ok(Stage { processor: Box::new(ScriptProcessor::new(block, args)), inv });
    }
    resolve_stage(ctx, root, &command.command, args, info, command.merge).await
}

async fn resolve_stage(
    ctx: &Ctx,
    frame: &Arc<Frame>,
    name: &str,
    args: Vec<RawArg>,
    mut info: InvocationInfo,
    merge: MergeSettings,
) -> Result<Stage, Flow> {
    if let Some(builtin) = Builtin::lookup(name) {
        info.my_command = builtin.name().to_string();
        let probe = make_invocation(ctx, frame, builtin.name().to_string(), info.clone(), merge, Default::default());
        let (processor, common) =
            builtins::prepare(builtin, args).map_err(|f| Flow::statement(f.into_record(&probe)))?;
        let inv = make_invocation(ctx, frame, builtin.name().to_string(), info, merge, common);
        return Ok(Stage { processor, inv });
    }
    if let Some(text) = ctx.rs.config.stored_script(name) {
        let block = Arc::new(ScriptBlockValue::parse(text).map_err(|e| Flow::statement(ErrorRecord::parse_error(&e)))?);
        info.my_command = name.to_string();
        let inv = make_invocation(ctx, frame, name.to_string(), info, merge, Default::default());
        return Ok(Stage { processor: Box::new(ScriptProcessor::new(block, args)), inv });
    }
    Err(Flow::statement(ErrorRecord::command_not_found(name, info)))
}

fn make_invocation(
    ctx: &Ctx,
    frame: &Arc<Frame>,
    name: String,
    info: InvocationInfo,
    merge: MergeSettings,
    common: builtins::CommonParams,
) -> Invocation {
    let mut prefs = Preferences::from_variables(ctx, frame);
    if let Some(on) = common.verbose {
        prefs.verbose = if on { ActionPreference::Continue } else { ActionPreference::SilentlyContinue };
    }
    if let Some(on) = common.debug {
        prefs.debug = if on { ActionPreference::Continue } else { ActionPreference::SilentlyContinue };
    }
    if let Some(p) = common.error_action {
        prefs.error = p;
    }
    if let Some(p) = common.warning_action {
        prefs.warning = p;
    }
    if let Some(p) = common.information_action {
        prefs.information = p;
    }
    let class = builtins::command_class_name(&name);
    Invocation { name, class, info, merge, prefs, frame: frame.clone(), stage_id: next_stage_id() }
}

/// `RuntimeException` for a failing operator.
fn runtime_error(frame: &Frame, extent: Extent, error: OpError) -> Flow {
    let mut record = ErrorRecord::new(
        error.message,
        "System.Management.Automation.RuntimeException",
        error.error_id,
        ErrorCategory::InvalidOperation,
    );
    if error.error_id == "RuntimeException" {
        record.category = ErrorCategory::NotSpecified;
    }
    record.invocation = Some(script_position(frame, extent, ""));
    Flow::statement(record)
}

/// InvocationInfo for a place in the frame's script.
pub(crate) fn script_position(frame: &Frame, extent: Extent, command: &str) -> InvocationInfo {
    if frame.source.is_empty() {
        return InvocationInfo {
            my_command: command.to_string(),
            invocation_name: command.to_string(),
            ..Default::default()
        };
    }
    let (line, column, line_text) = parser::position_of(&frame.source, extent.start);
    let width =
        frame.source.get(extent.start..extent.end).map_or(1, |t| t.lines().next().unwrap_or("").chars().count());
    InvocationInfo {
        my_command: command.to_string(),
        script_line_number: line as i32,
        offset_in_line: column as i32,
        line: line_text.clone(),
        position_message: parser::position_message(line, column, &line_text, width),
        invocation_name: command.to_string(),
        pipeline_position: 0,
        pipeline_length: 0,
    }
}

// ----- scripts and statements -----

/// Runs statements; a statement-terminating error is written to the error stream and the next statement runs.
pub(crate) fn exec_script<'a>(
    ctx: &'a Ctx,
    frame: &'a Arc<Frame>,
    script: &'a Script,
    out: &'a mut dyn OutputSink,
) -> BoxFut<'a, Result<(), Flow>> {
    Box::pin(async move {
        for statement in &script.statements {
            match exec_statement(ctx, frame, &statement.kind, statement.extent, out).await {
                Ok(()) => {}
                Err(Flow::Statement(record)) => {
                    let prefs = Preferences::from_variables(ctx, frame);
                    match prefs.error {
                        ActionPreference::Stop => return Err(Flow::Terminate(record)),
                        p if !p.writes() => {}
                        _ => {
                            ctx.target
                                .send(super::runtime::Emit::record(super::event::PipelineEvent::Error(*record)))
                                .await?
                        }
                    }
                }
                Err(other) => return Err(other),
            }
        }
        Ok(())
    })
}

async fn exec_statement(
    ctx: &Ctx,
    frame: &Arc<Frame>,
    kind: &StatementKind,
    extent: Extent,
    out: &mut dyn OutputSink,
) -> Result<(), Flow> {
    match kind {
        StatementKind::Pipeline(pipeline) => run_pipeline(ctx, frame, pipeline, out).await,
        StatementKind::Assignment { variable, value } => {
            let value = collect_pipeline(ctx, frame, value).await?;
            assign(ctx, frame, variable, value, extent)
        }
        StatementKind::If { clauses, else_body } => {
            for (condition, body) in clauses {
                if collect_pipeline(ctx, frame, condition).await?.is_truthy() {
                    return exec_script(ctx, frame, body, out).await;
                }
            }
            match else_body {
                Some(body) => exec_script(ctx, frame, body, out).await,
                None => Ok(()),
            }
        }
        StatementKind::While { condition, body } => {
            while collect_pipeline(ctx, frame, condition).await?.is_truthy() {
                exec_script(ctx, frame, body, out).await?;
                // Loops yield so that a stop request (and other tasks) get a turn even without awaits in the body.
                tokio::task::yield_now().await;
            }
            Ok(())
        }
        StatementKind::Foreach { variable, collection, body } => {
            let items = collect_pipeline(ctx, frame, collection).await?.enumerate();
            for item in items {
                assign(ctx, frame, variable, item, extent)?;
                exec_script(ctx, frame, body, out).await?;
                tokio::task::yield_now().await;
            }
            Ok(())
        }
        StatementKind::Throw(value) => {
            let value = match value {
                Some(p) => Some(collect_pipeline(ctx, frame, p).await?),
                None => None,
            };
            let message = value.as_ref().map_or_else(|| "ScriptHalted".to_string(), Value::to_ps_string);
            let mut record = ErrorRecord::new(
                message.clone(),
                "System.Management.Automation.RuntimeException",
                message,
                ErrorCategory::OperationStopped,
            );
            if let Some(v) = value {
                record.target_object = Some(v.clone());
            }
            record.invocation = Some(script_position(frame, extent, ""));
            Err(Flow::terminate(record))
        }
    }
}

fn assign(ctx: &Ctx, frame: &Frame, variable: &str, value: Value, extent: Extent) -> Result<(), Flow> {
    let name = strip_scope(variable);
    let lower = name.to_ascii_lowercase();
    if matches!(lower.as_str(), "true" | "false" | "null" | "psversiontable" | "pid" | "_" | "psitem" | "?" | "$" | "^")
        || lower.starts_with("env:")
    {
        let mut record = ErrorRecord::new(
            format!("Cannot overwrite variable {name} because it is read-only or constant."),
            "System.Management.Automation.SessionStateUnauthorizedAccessException",
            "VariableNotWritable",
            ErrorCategory::WriteError,
        );
        record.target_name = name.to_string();
        record.target_type = "String".to_string();
        record.invocation = Some(script_position(frame, extent, ""));
        return Err(Flow::statement(record));
    }
    ctx.rs.set(name, value);
    Ok(())
}

fn strip_scope(name: &str) -> &str {
    for scope in ["global:", "script:", "local:", "private:"] {
        if name.len() > scope.len() && name[..scope.len()].eq_ignore_ascii_case(scope) {
            return &name[scope.len()..];
        }
    }
    name
}

/// Runs a pipeline and collects its output as one value.
pub(crate) async fn collect_pipeline(ctx: &Ctx, frame: &Arc<Frame>, pipeline: &Pipeline) -> Result<Value, Flow> {
    let mut collector = Collector::default();
    run_pipeline(ctx, frame, pipeline, &mut collector).await?;
    Ok(collector.into_value())
}

/// Runs a script block with extra locals, writing to `out`.
/// [`invoke_block`] as the runspace's [`super::runtime::BlockInvoker`], through which built-ins run blocks.
pub(crate) fn invoke_block_boxed<'a>(
    ctx: &'a Ctx,
    parent: &'a Arc<Frame>,
    block: &'a ScriptBlockValue,
    locals: Vec<(String, Value)>,
    out: &'a mut dyn OutputSink,
) -> BoxFut<'a, Result<(), Flow>> {
    Box::pin(invoke_block(ctx, parent, block, locals, out))
}

pub(crate) async fn invoke_block(
    ctx: &Ctx,
    parent: &Arc<Frame>,
    block: &ScriptBlockValue,
    locals: Vec<(String, Value)>,
    out: &mut dyn OutputSink,
) -> Result<(), Flow> {
    if parent.depth >= MAX_CALL_DEPTH {
        return Err(Flow::terminate(ErrorRecord::new(
            "The script failed due to call depth overflow.",
            "System.Management.Automation.ScriptCallDepthException",
            "CallDepthOverflow",
            ErrorCategory::InvalidOperation,
        )));
    }
    let frame = Frame::child(parent, block.source.clone(), locals);
    exec_script(ctx, &frame, &block.ast.body, out).await
}

fn run_pipeline<'a>(
    ctx: &'a Ctx,
    frame: &'a Arc<Frame>,
    pipeline: &'a Pipeline,
    out: &'a mut dyn OutputSink,
) -> BoxFut<'a, Result<(), Flow>> {
    Box::pin(async move {
        let mut input = ChainInput::Nothing;
        let mut stages = Vec::new();
        let length = pipeline.elements.len();
        for (index, element) in pipeline.elements.iter().enumerate() {
            match element {
                PipelineElement::Expression(expr) => {
                    let value = eval(ctx, frame, expr).await?;
                    input = ChainInput::Values(value.enumerate());
                }
                PipelineElement::Command(call) => {
                    stages.push(command_stage(ctx, frame, call, index + 1, length).await?);
                }
            }
        }
        if stages.is_empty() {
            if let ChainInput::Values(values) = input {
                for value in values {
                    out.write(value).await?;
                }
            }
            return Ok(());
        }
        run_chain(ctx, &mut stages, input, out).await
    })
}

async fn command_stage(
    ctx: &Ctx,
    frame: &Arc<Frame>,
    call: &CommandCall,
    position: usize,
    length: usize,
) -> Result<Stage, Flow> {
    let mut args = Vec::with_capacity(call.elements.len());
    for element in &call.elements {
        match element {
            CommandElement::Parameter { name, argument, .. } => {
                let value = match argument {
                    Some(expr) => Some(eval(ctx, frame, expr).await?),
                    None => None,
                };
                args.push(RawArg::Named { name: name.clone(), value });
            }
            CommandElement::Argument(expr) => args.push(RawArg::Positional(eval(ctx, frame, expr).await?)),
        }
    }
    let mut info = script_position(frame, call.extent, "");
    info.pipeline_position = position as i32;
    info.pipeline_length = length as i32;
    match &call.name {
        CommandName::Name(name) => {
            info.invocation_name = name.clone();
            let name_extent = Extent { start: call.extent.start, end: call.extent.start + name.len() };
            let name_info = script_position(frame, name_extent, "");
            info.position_message = name_info.position_message;
            resolve_stage(ctx, frame, name, args, info, MergeSettings::default()).await
        }
        CommandName::Invoke(expr) => match eval(ctx, frame, expr).await? {
            Value::ScriptBlock(block) => {
                info.invocation_name = "&".to_string();
                let inv =
                    make_invocation(ctx, frame, String::new(), info, MergeSettings::default(), Default::default());
                Ok(Stage { processor: Box::new(ScriptProcessor::new(block, args)), inv })
            }
            other => {
                let name = other.to_ps_string();
                info.invocation_name = name.clone();
                resolve_stage(ctx, frame, &name, args, info, MergeSettings::default()).await
            }
        },
    }
}

/// Runs a script (or script block) as a pipeline stage: input is collected into `$input`, named arguments become
/// local variables, positional ones `$args`; the body runs once at the end.
pub(crate) struct ScriptProcessor {
    block: Arc<ScriptBlockValue>,
    args: Vec<RawArg>,
    input: Vec<Value>,
}

impl ScriptProcessor {
    pub fn new(block: Arc<ScriptBlockValue>, args: Vec<RawArg>) -> ScriptProcessor {
        ScriptProcessor { block, args, input: Vec::new() }
    }
}

impl Processor for ScriptProcessor {
    fn process<'a>(
        &'a mut self,
        _ctx: &'a Ctx,
        _inv: &'a Invocation,
        input: Option<Value>,
        _out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async move {
            if let Some(value) = input {
                if self.input.len() >= MAX_COLLECTION_LEN {
                    return Err(Flow::terminate(ErrorRecord::new(
                        format!("A script's input exceeds the engine's limit of {MAX_COLLECTION_LEN} objects."),
                        "System.Management.Automation.RuntimeException",
                        "InputTooLarge",
                        ErrorCategory::LimitsExceeded,
                    )));
                }
                self.input.push(value);
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
            let mut locals = Vec::new();
            let mut positional = Vec::new();
            let mut args = std::mem::take(&mut self.args).into_iter().peekable();
            while let Some(arg) = args.next() {
                match arg {
                    RawArg::Named { name, value: Some(value) } => locals.push((name, value)),
                    RawArg::Named { name, value: None } => {
                        // `-Name value` binds the next positional value; a trailing `-Name` is a switch.
                        let value = match args.peek() {
                            Some(RawArg::Positional(_)) => match args.next() {
                                Some(RawArg::Positional(v)) => v,
                                _ => Value::Bool(true),
                            },
                            _ => Value::Bool(true),
                        };
                        locals.push((name, value));
                    }
                    RawArg::Positional(value) => positional.push(value),
                }
            }
            locals.push(("args".to_string(), Value::array(positional)));
            locals.push(("input".to_string(), Value::array(std::mem::take(&mut self.input))));
            invoke_block(ctx, &inv.frame, &self.block, locals, out).await
        })
    }
}

// ----- expressions -----

/// Evaluates an expression.
pub(crate) fn eval<'a>(ctx: &'a Ctx, frame: &'a Arc<Frame>, expr: &'a Expr) -> BoxFut<'a, Result<Value, Flow>> {
    Box::pin(async move {
        match expr {
            Expr::Literal(literal) => Ok(literal_value(literal)),
            Expr::Expandable(parts) => {
                let mut text = String::new();
                for part in parts {
                    match part {
                        StringPart::Text(t) => text.push_str(t),
                        StringPart::Variable(name) => text.push_str(&variable(ctx, frame, name).to_ps_string()),
                        StringPart::SubExpression(script) => {
                            let mut collector = Collector::default();
                            exec_script(ctx, frame, script, &mut collector).await?;
                            text.push_str(&collector.into_value().to_ps_string());
                        }
                    }
                    if text.len() > value::MAX_STRING_LEN {
                        return Err(runtime_error(
                            frame,
                            Extent::default(),
                            OpError { error_id: "ResultTooLarge", message: "The expanded string is too long.".into() },
                        ));
                    }
                }
                Ok(Value::string(text))
            }
            Expr::Variable(name) => Ok(variable(ctx, frame, name)),
            Expr::Member(target, name) => Ok(eval(ctx, frame, target).await?.member(name)),
            Expr::Index(target, index) => {
                let target = eval(ctx, frame, target).await?;
                let index = eval(ctx, frame, index).await?;
                Ok(match index {
                    Value::Array(indices) => Value::array(indices.iter().map(|i| target.index(i)).collect()),
                    index => target.index(&index),
                })
            }
            Expr::Array(items) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    values.push(eval(ctx, frame, item).await?);
                }
                Ok(Value::array(values))
            }
            Expr::Binary(op, left, right) => binary(ctx, frame, *op, left, right).await,
            Expr::Unary(op, operand) => {
                let value = eval(ctx, frame, operand).await?;
                match op {
                    UnaryOp::Not => Ok(Value::Bool(!value.is_truthy())),
                    UnaryOp::Negate => value::arithmetic(&Value::Int(0), &value, '-')
                        .map_err(|e| runtime_error(frame, Extent::default(), e)),
                }
            }
            Expr::Paren(pipeline) => collect_pipeline(ctx, frame, pipeline).await,
            Expr::SubExpression(script) => {
                let mut collector = Collector::default();
                exec_script(ctx, frame, script, &mut collector).await?;
                Ok(collector.into_value())
            }
            Expr::ArrayExpression(script) => {
                let mut collector = Collector::default();
                exec_script(ctx, frame, script, &mut collector).await?;
                Ok(Value::array(collector.values))
            }
            Expr::Hashtable(entries) | Expr::CustomObject(entries) => {
                let mut table: Vec<(Value, Value)> = Vec::with_capacity(entries.len());
                for (key, value) in entries {
                    let key = eval(ctx, frame, key).await?;
                    let value = collect_pipeline(ctx, frame, value).await?;
                    if table.iter().any(|(k, _)| value::compare_eq(k, &key)) {
                        return Err(runtime_error(
                            frame,
                            Extent::default(),
                            OpError {
                                error_id: "DuplicateKeyInHashLiteral",
                                message: format!(
                                    "Duplicate keys '{}' are not allowed in hash literals.",
                                    key.to_ps_string()
                                ),
                            },
                        ));
                    }
                    table.push((key, value));
                }
                if matches!(expr, Expr::CustomObject(_)) {
                    return Ok(Value::custom_object(
                        table.into_iter().map(|(key, value)| (key.to_ps_string(), value)).collect(),
                    ));
                }
                Ok(Value::Hashtable(Arc::new(table)))
            }
            Expr::ScriptBlock(ast) => {
                Ok(Value::ScriptBlock(Arc::new(ScriptBlockValue { ast: ast.clone(), source: frame.source.clone() })))
            }
        }
    })
}

fn literal_value(literal: &Literal) -> Value {
    match literal {
        Literal::Int(i) => Value::Int(*i),
        Literal::Long(i) => Value::Long(*i),
        Literal::Double(d) => Value::Double(*d),
        Literal::String(s) => Value::string(s.as_str()),
    }
}

/// Reads a variable: automatic variables first, then locals, then the runspace's variables; `$null` if unset.
pub(crate) fn variable(ctx: &Ctx, frame: &Frame, name: &str) -> Value {
    let name = strip_scope(name);
    match name.to_ascii_lowercase().as_str() {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        "null" => return Value::Null,
        "?" => return Value::Bool(true),
        "psitem" => return frame.local("_").unwrap_or(Value::Null),
        "psversiontable" => return super::version::ps_version_table_value(),
        "pid" => return Value::Int(ctx.rs.config.process_id as i32),
        lower if lower.starts_with("env:") => return Value::Null,
        _ => {}
    }
    frame.local(name).or_else(|| ctx.rs.get(name)).unwrap_or(Value::Null)
}

async fn binary(ctx: &Ctx, frame: &Arc<Frame>, op: BinaryOp, left: &Expr, right: &Expr) -> Result<Value, Flow> {
    let lhs = eval(ctx, frame, left).await?;
    match op {
        BinaryOp::And => {
            if !lhs.is_truthy() {
                return Ok(Value::Bool(false));
            }
            return Ok(Value::Bool(eval(ctx, frame, right).await?.is_truthy()));
        }
        BinaryOp::Or => {
            if lhs.is_truthy() {
                return Ok(Value::Bool(true));
            }
            return Ok(Value::Bool(eval(ctx, frame, right).await?.is_truthy()));
        }
        _ => {}
    }
    let rhs = eval(ctx, frame, right).await?;
    let err = |e: OpError| runtime_error(frame, Extent::default(), e);
    match op {
        BinaryOp::Add => value::add(&lhs, &rhs).map_err(err),
        BinaryOp::Subtract => value::arithmetic(&lhs, &rhs, '-').map_err(err),
        BinaryOp::Multiply => value::arithmetic(&lhs, &rhs, '*').map_err(err),
        BinaryOp::Divide => value::arithmetic(&lhs, &rhs, '/').map_err(err),
        BinaryOp::Remainder => value::arithmetic(&lhs, &rhs, '%').map_err(err),
        BinaryOp::Range => range(&lhs, &rhs).map_err(err),
        BinaryOp::Eq
        | BinaryOp::Ne
        | BinaryOp::Gt
        | BinaryOp::Ge
        | BinaryOp::Lt
        | BinaryOp::Le
        | BinaryOp::Like
        | BinaryOp::NotLike => {
            let test = |item: &Value| comparison(op, item, &rhs);
            match &lhs {
                // With a collection on the left, comparison operators filter it.
                Value::Array(items) => Ok(Value::array(items.iter().filter(|i| test(i)).cloned().collect())),
                scalar => Ok(Value::Bool(test(scalar))),
            }
        }
        BinaryOp::And | BinaryOp::Or => Ok(Value::Null),
    }
}

fn comparison(op: BinaryOp, a: &Value, b: &Value) -> bool {
    use std::cmp::Ordering::*;
    match op {
        BinaryOp::Like => value::wildcard_match(&b.to_ps_string(), &a.to_ps_string()),
        BinaryOp::NotLike => !value::wildcard_match(&b.to_ps_string(), &a.to_ps_string()),
        _ => {
            let ord = value::compare(a, b);
            match op {
                BinaryOp::Eq => ord == Some(Equal),
                BinaryOp::Ne => ord != Some(Equal),
                BinaryOp::Gt => ord == Some(Greater),
                BinaryOp::Ge => matches!(ord, Some(Greater | Equal)),
                BinaryOp::Lt => ord == Some(Less),
                BinaryOp::Le => matches!(ord, Some(Less | Equal)),
                _ => false,
            }
        }
    }
}

fn range(lhs: &Value, rhs: &Value) -> Result<Value, OpError> {
    let bad = |v: &Value| OpError {
        error_id: "InvalidCastFromStringToInteger",
        message: format!("Cannot convert value \"{}\" to type \"System.Int32\".", v.to_ps_string()),
    };
    let start = lhs.to_i64().ok_or_else(|| bad(lhs))?;
    let end = rhs.to_i64().ok_or_else(|| bad(rhs))?;
    let (start, end) = match (i32::try_from(start), i32::try_from(end)) {
        (Ok(s), Ok(e)) => (s, e),
        _ => {
            return Err(OpError {
                error_id: "RangeTooLarge",
                message: "The range operator works on Int32 values.".into(),
            });
        }
    };
    let len = (i64::from(end) - i64::from(start)).unsigned_abs() + 1;
    if len > MAX_COLLECTION_LEN as u64 {
        return Err(OpError {
            error_id: "RangeTooLarge",
            message: format!("The range {start}..{end} has more than {MAX_COLLECTION_LEN} elements."),
        });
    }
    let values: Vec<Value> = if start <= end {
        (start..=end).map(Value::Int).collect()
    } else {
        (end..=start).rev().map(Value::Int).collect()
    };
    Ok(Value::array(values))
}
