//! Shared helpers of the engine tests.
#![allow(dead_code)]

use std::sync::Arc;

use pssession_server::engine::{
    BuiltinEngine, Engine, EngineConfig, FixedClock, PipelineEvent, PipelineInput, PipelineSpec, PipelineState,
    Runspace, Value, clock::ticks_from_unix_seconds,
};

/// 2026-11-22T15:43:20Z.
pub const NOW_UNIX: i64 = 1_795_362_200;

pub fn config() -> EngineConfig {
    EngineConfig {
        clock: Arc::new(FixedClock(ticks_from_unix_seconds(NOW_UNIX))),
        computer_name: "testhost".into(),
        user_name: "tester".into(),
        process_id: 4242,
        ..EngineConfig::default()
    }
}

pub fn runspace() -> Arc<dyn Runspace> {
    BuiltinEngine::new(config()).open_runspace()
}

/// Runs a spec to the end, collecting every event (the last one is the state).
pub async fn run_spec(rs: &Arc<dyn Runspace>, spec: PipelineSpec) -> (Vec<PipelineEvent>, PipelineState) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let handle = rs.start_pipeline(spec, PipelineInput::None, tx);
    let mut events = Vec::new();
    while let Some(event) = rx.recv().await {
        events.push(event);
    }
    let state = handle.wait().await;
    match events.last() {
        Some(PipelineEvent::State(s)) => assert_eq!(s, &state, "last event is the final state"),
        other => panic!("last event is not the state: {other:?}"),
    }
    events.pop();
    (events, state)
}

pub async fn run(rs: &Arc<dyn Runspace>, script: &str) -> (Vec<PipelineEvent>, PipelineState) {
    run_spec(rs, PipelineSpec::script(script)).await
}

/// Output objects as strings.
pub fn texts(events: &[PipelineEvent]) -> Vec<String> {
    outputs(events).iter().map(Value::to_ps_string).collect()
}

pub fn outputs(events: &[PipelineEvent]) -> Vec<Value> {
    events
        .iter()
        .filter_map(|e| match e {
            PipelineEvent::Output(v) => Some(v.clone()),
            _ => None,
        })
        .collect()
}

pub fn errors(events: &[PipelineEvent]) -> Vec<pssession_server::engine::ErrorRecord> {
    events
        .iter()
        .filter_map(|e| match e {
            PipelineEvent::Error(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

/// Runs a script in a fresh runspace; expects Completed; returns the output as strings.
pub async fn eval(script: &str) -> Vec<String> {
    let rs = runspace();
    let (events, state) = run(&rs, script).await;
    assert_eq!(state, PipelineState::Completed, "script {script:?} events {events:?}");
    texts(&events)
}
