//! The server's command engine: parsing a script, and streaming objects from a pipeline to the endpoint's channel.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pssession_server::engine::parser::parse_script;
use pssession_server::engine::{BuiltinEngine, Engine, EngineConfig, PipelineEvent, PipelineInput, PipelineSpec};

const SCRIPT: &str = r#"
$total = 20
foreach ($step in 1..$total) {
    Write-Progress -Activity 'Backup-SQLDatabase' -Status "Database $step of $total" -PercentComplete ($step * 100 / $total)
    "Backed up database $step of $total"
    Start-Sleep -Seconds 3
}
Get-Job | Where-Object { $_.State -eq 'Completed' } | Receive-Job -Keep | Select-Object -First 5
@{ Initialization = "BackupSet-$total"; Databases = $total }
"#;

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine_parse");
    group.throughput(Throughput::Bytes(SCRIPT.len() as u64));
    group.bench_function("example_script", |b| b.iter(|| parse_script(black_box(SCRIPT))));
    group.finish();
}

fn stream(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let runspace = BuiltinEngine::new(EngineConfig::default()).open_runspace();
    const COUNT: u64 = 10_000;
    let mut group = c.benchmark_group("engine_stream");
    group.throughput(Throughput::Elements(COUNT));
    group.bench_function("get_test_data_10000x100B", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let (tx, mut rx) = tokio::sync::mpsc::channel(256);
                let handle = runspace.start_pipeline(
                    PipelineSpec::script(format!("Get-TestData -Count {COUNT} -Size 100")),
                    PipelineInput::None,
                    tx,
                );
                let mut outputs = 0u64;
                while let Some(event) = rx.recv().await {
                    if let PipelineEvent::Output(value) = event {
                        black_box(value);
                        outputs += 1;
                    }
                }
                assert_eq!(outputs, COUNT);
                handle.wait().await
            })
        })
    });
    group.finish();
}

criterion_group!(benches, parse, stream);
criterion_main!(benches);
