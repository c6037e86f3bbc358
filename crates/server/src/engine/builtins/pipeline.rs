//! The pipeline cmdlets: ForEach-Object, Where-Object, Select-Object, Out-String.

use std::collections::VecDeque;
use std::sync::Arc;

use super::super::event::ErrorCategory;
use super::super::runtime::{BoxFut, Collector, Ctx, Flow, Invocation, OutputSink, Processor};
use super::super::value::{self, MAX_STRING_LEN, ScriptBlockValue, Value};
use super::*;

pub(super) struct ForEach {
    pub(super) begin: Option<Arc<ScriptBlockValue>>,
    pub(super) process: Vec<Arc<ScriptBlockValue>>,
    pub(super) end: Option<Arc<ScriptBlockValue>>,
    pub(super) member: Option<String>,
}

impl ForEach {
    pub(super) fn new(bound: &Bound) -> Result<ForEach, BindFailure> {
        let mut begin = bound.block("Begin")?;
        let mut end = bound.block("End")?;
        let mut member = bound.string("MemberName");
        let mut process = Vec::new();
        if let Some(value) = bound.get("Process") {
            let items = value.clone().enumerate();
            // `% Name` (a lone positional string) is -MemberName, in PowerShell's own parameter set; a string given
            // by name to -Process is not a script block, and PowerShell refuses it — as it refuses a script block
            // that a remoting client sent (it arrives deserialized as text) rather than run nothing.
            if member.is_none()
                && items.len() == 1
                && matches!(items[0], Value::String(_))
                && !bound.is_named("Process")
            {
                member = Some(items[0].to_ps_string());
            } else {
                for item in items {
                    match item {
                        Value::ScriptBlock(b) => process.push(b),
                        other => {
                            return Err(conversion_failure(
                                "Process",
                                &other,
                                "System.Management.Automation.ScriptBlock",
                            ));
                        }
                    }
                }
            }
        }
        // Positional blocks: `{begin} {process}` or `{begin} {process} {end}` when -Begin/-End are not named.
        if begin.is_none() && end.is_none() && process.len() >= 2 {
            begin = Some(process.remove(0));
            if process.len() >= 2 {
                end = process.pop();
            }
        }
        if process.is_empty() && member.is_none() && begin.is_none() && end.is_none() {
            return Err(BindFailure::new(
                "MissingMandatoryParameter",
                "Cannot process command because of one or more missing mandatory parameters: Process.".into(),
            ));
        }
        Ok(ForEach { begin, process, end, member })
    }
}

impl Processor for ForEach {
    fn begin<'a>(
        &'a mut self,
        ctx: &'a Ctx,
        inv: &'a Invocation,
        out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async move {
            match &self.begin {
                Some(block) => ctx.invoke_block(&inv.frame, block, Vec::new(), out).await,
                None => Ok(()),
            }
        })
    }

    fn process<'a>(
        &'a mut self,
        ctx: &'a Ctx,
        inv: &'a Invocation,
        input: Option<Value>,
        out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async move {
            let item = input.unwrap_or(Value::Null);
            if let Some(member) = &self.member {
                let value = item.member(member);
                for v in value.enumerate() {
                    if !v.is_null() {
                        out.write(v).await?;
                    }
                }
                return Ok(());
            }
            for block in &self.process {
                ctx.invoke_block(&inv.frame, block, vec![("_".into(), item.clone())], out).await?;
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
            match &self.end {
                Some(block) => ctx.invoke_block(&inv.frame, block, Vec::new(), out).await,
                None => Ok(()),
            }
        })
    }
}

/// `Where-Object { script }` or the simplified `Where-Object Property -Operator Value`.
pub(super) struct Where {
    pub(super) filter: WhereFilter,
}

pub(super) enum WhereFilter {
    Script(Arc<ScriptBlockValue>),
    Compare { property: String, operator: Option<&'static str>, value: Value },
}

impl Processor for Where {
    fn process<'a>(
        &'a mut self,
        ctx: &'a Ctx,
        inv: &'a Invocation,
        input: Option<Value>,
        out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async move {
            let Some(item) = input else { return Ok(()) };
            let keep = match &self.filter {
                WhereFilter::Script(block) => {
                    let mut collector = Collector::default();
                    ctx.invoke_block(&inv.frame, block, vec![("_".into(), item.clone())], &mut collector).await?;
                    collector.into_value().is_truthy()
                }
                WhereFilter::Compare { property, operator, value } => {
                    let actual = item.member(property);
                    let ord = value::compare(&actual, value);
                    match operator {
                        None => actual.is_truthy(),
                        Some("EQ") => ord == Some(std::cmp::Ordering::Equal),
                        Some("NE") => ord != Some(std::cmp::Ordering::Equal),
                        Some("GT") => ord == Some(std::cmp::Ordering::Greater),
                        Some("GE") => matches!(ord, Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)),
                        Some("LT") => ord == Some(std::cmp::Ordering::Less),
                        Some("LE") => matches!(ord, Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)),
                        Some("Like") => value::wildcard_match(&value.to_ps_string(), &actual.to_ps_string()),
                        Some(_) => !value::wildcard_match(&value.to_ps_string(), &actual.to_ps_string()),
                    }
                }
            };
            if keep {
                out.write(item).await?;
            }
            Ok(())
        })
    }
}

pub(super) struct Select {
    pub(super) properties: Option<Vec<String>>,
    pub(super) expand: Option<String>,
    pub(super) first: Option<u64>,
    pub(super) last: Option<usize>,
    pub(super) skip: u64,
    pub(super) seen: u64,
    pub(super) emitted: u64,
    pub(super) tail: VecDeque<Value>,
}

impl Select {
    pub(super) fn new(bound: &Bound) -> Result<Select, BindFailure> {
        let count = |name: &str| -> Result<Option<u64>, BindFailure> {
            match bound.int(name)? {
                None => Ok(None),
                Some(n) => {
                    u64::try_from(n).map(Some).map_err(|_| conversion_failure(name, &Value::Long(n), "System.UInt32"))
                }
            }
        };
        Ok(Select {
            properties: bound.strings("Property"),
            expand: bound.string("ExpandProperty"),
            first: count("First")?,
            last: count("Last")?.map(|n| usize::try_from(n).unwrap_or(usize::MAX).min(value::MAX_COLLECTION_LEN)),
            skip: count("Skip")?.unwrap_or(0),
            seen: 0,
            emitted: 0,
            tail: VecDeque::new(),
        })
    }

    fn project(&self, item: Value) -> Vec<Value> {
        if let Some(name) = &self.expand {
            return item.member(name).enumerate();
        }
        match &self.properties {
            Some(names) if !names.iter().any(|n| n == "*") => {
                let properties = names.iter().map(|n| (n.as_str(), item.member(n))).collect();
                vec![Value::object(&["System.Management.Automation.PSCustomObject", "System.Object"], properties)]
            }
            _ => vec![item],
        }
    }
}

impl Processor for Select {
    fn process<'a>(
        &'a mut self,
        _ctx: &'a Ctx,
        inv: &'a Invocation,
        input: Option<Value>,
        out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async move {
            let Some(item) = input else { return Ok(()) };
            if self.first == Some(0) && self.last.is_none() {
                return Err(Flow::StopUpstream(inv.stage_id));
            }
            self.seen += 1;
            if self.seen <= self.skip {
                return Ok(());
            }
            if let Some(n) = self.last
                && self.first.is_none()
            {
                self.tail.push_back(item);
                if self.tail.len() > n {
                    self.tail.pop_front();
                }
                return Ok(());
            }
            for value in self.project(item) {
                out.write(value).await?;
            }
            self.emitted += 1;
            if self.first.is_some_and(|n| self.emitted >= n) {
                return Err(Flow::StopUpstream(inv.stage_id));
            }
            Ok(())
        })
    }

    fn end<'a>(
        &'a mut self,
        _ctx: &'a Ctx,
        _inv: &'a Invocation,
        out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async move {
            while let Some(item) = self.tail.pop_front() {
                for value in self.project(item) {
                    out.write(value).await?;
                }
            }
            Ok(())
        })
    }
}

/// `Out-String`: objects as text (their string form; the engine has no formatting views). Without `-Stream` all
/// input becomes one string, one line per object with a final newline, as PowerShell does.
pub(super) struct OutString {
    pub(super) stream: bool,
    pub(super) text: String,
    pub(super) bound: Bound,
}

impl Processor for OutString {
    fn process<'a>(
        &'a mut self,
        _ctx: &'a Ctx,
        inv: &'a Invocation,
        input: Option<Value>,
        out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async move {
            let items = match input {
                Some(v) => vec![v],
                None => self.bound.get("InputObject").cloned().map(Value::enumerate).unwrap_or_default(),
            };
            for item in items {
                let line = item.to_ps_string();
                if self.stream {
                    out.write(Value::string(line)).await?;
                } else {
                    if self.text.len() + line.len() + 1 > MAX_STRING_LEN {
                        return Err(Flow::statement(inv.error(
                            format!("Out-String output exceeds the engine's limit of {MAX_STRING_LEN} bytes."),
                            "System.InvalidOperationException",
                            "OutputTooLarge",
                            ErrorCategory::LimitsExceeded,
                            None,
                        )));
                    }
                    self.text.push_str(&line);
                    self.text.push('\n');
                }
            }
            Ok(())
        })
    }

    fn end<'a>(
        &'a mut self,
        _ctx: &'a Ctx,
        _inv: &'a Invocation,
        out: &'a mut dyn OutputSink,
    ) -> BoxFut<'a, Result<(), Flow>> {
        Box::pin(async move {
            if self.stream || self.text.is_empty() {
                return Ok(());
            }
            out.write(Value::string(std::mem::take(&mut self.text))).await
        })
    }
}
