//! Runs a script on the built-in engine and prints its events.
//!
//! `cargo run -p pssession-server --example engine_script -- '1..3 | ForEach-Object { "item $_" }'`

use pssession_server::engine::{BuiltinEngine, Engine, EngineConfig, PipelineEvent, PipelineInput, PipelineSpec};

#[tokio::main]
async fn main() {
    let script = std::env::args().nth(1).unwrap_or_else(|| "Get-TestData -Count 3 | % Sequence; Get-Date".into());
    let engine = BuiltinEngine::new(EngineConfig::default());
    let runspace = engine.open_runspace();
    // A bounded channel: when it is full, the pipeline waits (Block mode).
    let (events, mut rx) = tokio::sync::mpsc::channel(64);
    let handle = runspace.start_pipeline(PipelineSpec::script(script), PipelineInput::None, events);
    while let Some(event) = rx.recv().await {
        match event {
            PipelineEvent::Output(value) => println!("{}", value.to_ps_string()),
            PipelineEvent::Error(record) => {
                eprintln!("error: {} ({})", record.message, record.fully_qualified_error_id)
            }
            PipelineEvent::State(state) => println!("-- {state:?}"),
            other => println!("{other:?}"),
        }
    }
    handle.wait().await;
}
