//! The client RunspacePool fed arbitrary server data: raw stream bytes, and well-framed messages of every server
//! type with fuzzed bodies. It must answer with events or typed errors, never panic or grow without bound.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pssession_psrp::client::{ClientRunspacePool, PipelineSpec, RunspacePoolConfig};
use pssession_psrp::{Destination, Fragmenter, Message, MessageType};
use uuid::Uuid;

const POOL: Uuid = Uuid::from_u128(0x1111_2222_3333_4444_5555_6666_7777_8888);
const PIPELINE: Uuid = Uuid::from_u128(1);

fn framed(message_type: MessageType, pid: Uuid, body: &[u8], object_id: u64) -> Bytes {
    let message = Message::new(Destination::Client, message_type, POOL, pid, Bytes::copy_from_slice(body));
    let Ok(mut fragmenter) = Fragmenter::new(1 << 16) else { return Bytes::new() };
    fragmenter.set_next_object_id(object_id);
    fragmenter.enqueue(&message);
    fragmenter.next_payload(1 << 20).map(|p| p.data).unwrap_or_default()
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut pool) = ClientRunspacePool::new(POOL, RunspacePoolConfig::default()) else { return };
    if pool.creation_payload().is_err() {
        return;
    }
    let opened =
        framed(MessageType::RunspacePoolState, Uuid::nil(), b"<Obj><MS><I32 N=\"RunspaceState\">2</I32></MS></Obj>", 1);
    if pool.receive(opened).is_err() || pool.create_pipeline(PIPELINE, &PipelineSpec::script("x")).is_err() {
        return;
    }
    let Some((&selector, rest)) = data.split_first() else { return };
    if selector & 1 == 0 {
        for chunk in rest.chunks(64) {
            let _ = pool.receive(Bytes::copy_from_slice(chunk));
        }
    } else {
        let types = MessageType::ALL;
        let message_type = types[usize::from(selector >> 1) % types.len()];
        let pid = if selector & 0x80 != 0 { PIPELINE } else { Uuid::nil() };
        let _ = pool.receive(framed(message_type, pid, rest, 2));
    }
});
