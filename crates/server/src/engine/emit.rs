//! What a pipeline stage hands on to its event target: an output object or a record.

use super::event::PipelineEvent;
use super::value::Value;

/// What reaches an event target: an output object (still a run-time value) or a record.
#[derive(Debug, Clone)]
pub(crate) enum Emit {
    Output(Value),
    Record(Box<PipelineEvent>),
}

impl Emit {
    pub fn record(event: PipelineEvent) -> Emit {
        Emit::Record(Box::new(event))
    }
}
