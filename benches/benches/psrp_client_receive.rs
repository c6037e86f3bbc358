//! The client RunspacePool turning received stream bytes into typed pipeline events: 1000 PIPELINE_OUTPUT
//! messages (`<S>…</S>`, 64 characters each) delivered as the fragments of one Receive, then the final state.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pssession_psrp::client::{ClientEvent, ClientRunspacePool, PipelineSpec, RunspacePoolConfig};
use pssession_psrp::{Destination, Fragmenter, Message, MessageType};
use uuid::Uuid;

const POOL: Uuid = Uuid::from_u128(0xB663_1D8E_65A0_49F2_9053_A1B1_56C9_5777);
const PIPELINE: Uuid = Uuid::from_u128(0xDB4E_8DCF_51CC_423F_A7DF_5D0E_A0D6_FA08);
const OBJECTS: usize = 1000;

fn server_stream(fragmenter: &mut Fragmenter, message_type: MessageType, pid: Uuid, body: String) -> Bytes {
    fragmenter.enqueue(&Message::new(Destination::Client, message_type, POOL, pid, Bytes::from(body)));
    fragmenter.next_payload(1 << 20).expect("payload").data
}

fn opened_pool(fragmenter: &mut Fragmenter) -> ClientRunspacePool {
    let mut pool = ClientRunspacePool::new(POOL, RunspacePoolConfig::default()).expect("pool");
    pool.creation_payload().expect("creation");
    let opened = server_stream(
        fragmenter,
        MessageType::RunspacePoolState,
        Uuid::nil(),
        "<Obj RefId=\"0\"><MS><I32 N=\"RunspaceState\">2</I32></MS></Obj>".to_owned(),
    );
    pool.receive(opened).expect("opened");
    pool.create_pipeline(PIPELINE, &PipelineSpec::script("1..1000")).expect("pipeline");
    pool
}

fn receive(c: &mut Criterion) {
    let mut fragmenter = Fragmenter::new(32 << 10).expect("fragmenter");
    let _ = opened_pool(&mut fragmenter);
    // One rsp:Stream per message, as Windows sends them.
    let streams: Vec<Bytes> = (0..OBJECTS)
        .map(|i| server_stream(&mut fragmenter, MessageType::PipelineOutput, PIPELINE, format!("<S>{i:0>64}</S>")))
        .collect();
    let total: usize = streams.iter().map(Bytes::len).sum();
    let mut group = c.benchmark_group("psrp_client_receive");
    group.throughput(Throughput::Elements(OBJECTS as u64));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("pipeline_output_1000", |b| {
        b.iter_batched(
            || {
                let mut f = Fragmenter::new(32 << 10).expect("fragmenter");
                (opened_pool(&mut f), streams.clone())
            },
            |(mut pool, streams)| {
                let mut outputs = 0usize;
                for stream in streams {
                    for event in pool.receive(stream).expect("receive") {
                        if matches!(event, ClientEvent::Pipeline { .. }) {
                            outputs += 1;
                        }
                    }
                }
                assert_eq!(outputs, OBJECTS);
                black_box(outputs)
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
    black_box(total);
}

criterion_group!(benches, receive);
criterion_main!(benches);
