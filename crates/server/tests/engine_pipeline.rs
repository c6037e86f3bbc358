//! Pipeline mechanics: input streaming, stop, backpressure, tokio time.

mod engine_support;

use std::sync::Arc;
use std::time::Duration;

use engine_support::{outputs, run, runspace, texts};
use pssession_server::engine::{
    CommandSpec, ErrorCategory, PipelineEvent, PipelineInput, PipelineSpec, PipelineState, ScriptBlockValue, Value,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

fn sequence(event: &PipelineEvent) -> i64 {
    match event {
        PipelineEvent::Output(v) => v.member("Sequence").to_i64().expect("sequence"),
        other => panic!("not output: {other:?}"),
    }
}

#[tokio::test]
async fn input_streams_through_the_pipeline() {
    let rs = runspace();
    let block = Value::ScriptBlock(Arc::new(ScriptBlockValue::parse("$_ * 10").expect("parses")));
    let spec = PipelineSpec {
        statements: vec![vec![CommandSpec::new("ForEach-Object").with_parameter("Process", block)]],
        expects_input: true,
    };
    let (tx, mut rx) = mpsc::channel(4);
    let (in_tx, in_rx) = mpsc::channel(4);
    let handle = rs.start_pipeline(spec, PipelineInput::Stream(in_rx), tx);
    for i in 1..=3 {
        in_tx.send(Value::Int(i)).await.expect("input open");
        // Each input object comes out before the next goes in: the pipeline streams.
        let event = rx.recv().await.expect("event");
        assert_eq!(event, PipelineEvent::Output(Value::Int(i * 10)));
    }
    assert!(!handle.is_finished());
    drop(in_tx); // END_OF_PIPELINE_INPUT
    assert_eq!(rx.recv().await, Some(PipelineEvent::State(PipelineState::Completed)));
    assert_eq!(handle.wait().await, PipelineState::Completed);
}

#[tokio::test]
async fn script_input_is_collected_into_dollar_input() {
    let rs = runspace();
    let spec =
        PipelineSpec { statements: vec![vec![CommandSpec::script("$input | % { $_ + 1 }")]], expects_input: true };
    let (tx, mut rx) = mpsc::channel(8);
    let (in_tx, in_rx) = mpsc::channel(8);
    let handle = rs.start_pipeline(spec, PipelineInput::Stream(in_rx), tx);
    for i in [1, 2] {
        in_tx.send(Value::Int(i)).await.expect("open");
    }
    drop(in_tx);
    let mut got = Vec::new();
    while let Some(e) = rx.recv().await {
        got.push(e);
    }
    assert_eq!(handle.wait().await, PipelineState::Completed);
    assert_eq!(texts(&got), ["2", "3"]);
}

#[tokio::test(start_paused = true)]
async fn stop_ends_a_waiting_pipeline_with_the_stopped_record() {
    stop_after(&["Start-Sleep -Seconds 1000", "Get-TestData -Count 1000000 -RatePerSecond 1"], Duration::from_secs(3))
        .await;
}

#[tokio::test]
async fn stop_ends_a_busy_loop() {
    // A loop without awaits still yields every iteration, so the stop request gets through (real time here:
    // paused time never advances while a task is always runnable).
    stop_after(&["while ($true) { }", "foreach ($i in 1..1000000) { $x = $i }"], Duration::from_millis(20)).await;
}

async fn stop_after(scripts: &[&str], after: Duration) {
    let rs = runspace();
    for &script in scripts {
        let (tx, mut rx) = mpsc::channel(1024);
        let handle = rs.start_pipeline(PipelineSpec::script(script), PipelineInput::None, tx);
        tokio::time::sleep(after).await;
        assert!(!handle.is_finished(), "{script}");
        handle.stop();
        let state = handle.wait().await;
        let PipelineState::Stopped(record) = &state else { panic!("{script}: {state:?}") };
        assert_eq!(record.message, "The pipeline has been stopped.");
        assert_eq!(record.fully_qualified_error_id, "PipelineStopped");
        assert_eq!(record.exception_type, "System.Management.Automation.PipelineStoppedException");
        assert_eq!(record.category, ErrorCategory::OperationStopped);
        assert_eq!(state.invocation_state(), 3);
        let mut last = None;
        while let Some(e) = rx.recv().await {
            last = Some(e);
        }
        assert_eq!(last, Some(PipelineEvent::State(state)));
    }
}

#[tokio::test(start_paused = true)]
async fn a_full_sink_pauses_the_producer_and_nothing_is_lost() {
    let rs = runspace();
    let (tx, mut rx) = mpsc::channel(3);
    let handle = rs.start_pipeline(PipelineSpec::script("Get-TestData -Count 50 -Size 10"), PipelineInput::None, tx);
    // Nobody reads (a disconnected client in Block mode): the pipeline fills the channel and waits.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!handle.is_finished());
    assert_eq!(rx.len(), 3);
    let mut seen = Vec::new();
    while let Some(event) = rx.recv().await {
        match event {
            PipelineEvent::State(state) => assert_eq!(state, PipelineState::Completed),
            event => seen.push(sequence(&event)),
        }
    }
    assert_eq!(seen, (1..=50).collect::<Vec<_>>(), "exactly once, in order");
    assert_eq!(handle.wait().await, PipelineState::Completed);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_receiver_stops_the_pipeline() {
    let rs = runspace();
    let (tx, rx) = mpsc::channel(1);
    let handle = rs.start_pipeline(PipelineSpec::script("Get-TestData -Count 100000"), PipelineInput::None, tx);
    tokio::time::sleep(Duration::from_millis(10)).await;
    drop(rx);
    assert!(matches!(handle.wait().await, PipelineState::Stopped(_)));
}

#[tokio::test(start_paused = true)]
async fn start_sleep_uses_tokio_time() {
    let rs = runspace();
    let start = Instant::now();
    let (_, state) = run(&rs, "Start-Sleep -Seconds 5; Start-Sleep -Milliseconds 250; sleep 1.5").await;
    assert_eq!(state, PipelineState::Completed);
    assert_eq!(start.elapsed(), Duration::from_millis(6750));
}

#[tokio::test(start_paused = true)]
async fn rate_limited_test_data_arrives_on_schedule() {
    let rs = runspace();
    let (tx, mut rx) = mpsc::channel(16);
    let start = Instant::now();
    let handle = rs.start_pipeline(
        PipelineSpec::script("Get-TestData -Count 5 -RatePerSecond 2 -Size 3"),
        PipelineInput::None,
        tx,
    );
    let mut arrivals = Vec::new();
    while let Some(event) = rx.recv().await {
        if let PipelineEvent::Output(v) = &event {
            assert_eq!(v.member("Payload").to_ps_string().len(), 3);
            arrivals.push((sequence(&event), start.elapsed().as_millis()));
        }
    }
    assert_eq!(handle.wait().await, PipelineState::Completed);
    assert_eq!(arrivals, [(1, 0), (2, 500), (3, 1000), (4, 1500), (5, 2000)]);
}

#[tokio::test(start_paused = true)]
async fn select_first_stops_an_endless_producer() {
    let rs = runspace();
    let start = Instant::now();
    let (events, state) =
        run(&rs, "Get-TestData -Count 1000000000 -RatePerSecond 10 | Select-Object -First 3 | % Sequence; 'next'")
            .await;
    assert_eq!(state, PipelineState::Completed);
    assert_eq!(texts(&events), ["1", "2", "3", "next"]);
    assert_eq!(start.elapsed(), Duration::from_millis(200));
}

#[tokio::test]
async fn statements_of_a_spec_share_the_runspace() {
    let rs = runspace();
    let spec = PipelineSpec {
        statements: vec![vec![CommandSpec::script("$shared = 'yes'")], vec![CommandSpec::script("$shared")]],
        expects_input: false,
    };
    let (events, _) = engine_support::run_spec(&rs, spec).await;
    assert_eq!(outputs(&events), [Value::string("yes")]);
}

#[tokio::test(start_paused = true)]
async fn tokio_clock_follows_paused_time() {
    use pssession_server::engine::{BuiltinEngine, Engine, EngineConfig, TokioClock, clock::ticks_from_unix_seconds};
    let config = EngineConfig {
        clock: Arc::new(TokioClock::new(ticks_from_unix_seconds(engine_support::NOW_UNIX))),
        ..engine_support::config()
    };
    let rs = BuiltinEngine::new(config).open_runspace();
    let (events, _) = run(&rs, "Get-Date; Start-Sleep -Seconds 90; Get-Date").await;
    assert_eq!(texts(&events), ["11/22/2026 15:43:20", "11/22/2026 15:44:50"]);
}
