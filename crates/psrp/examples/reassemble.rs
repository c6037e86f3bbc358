//! Fragment two messages into envelope-sized payloads, deliver them in awkward chunks, and reassemble them.
//!
//! ```sh
//! cargo run -p pssession-psrp --example reassemble
//! ```

use bytes::Bytes;
use pssession_psrp::{Defragmenter, Destination, Fragmenter, Message, MessageType};
use uuid::Uuid;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = Uuid::parse_str("B6631D8E-65A0-49F2-9053-A1B156C95777")?;
    let capability = Message::new(
        Destination::Server,
        MessageType::SessionCapability,
        pool,
        Uuid::nil(),
        Bytes::from_static(b"<Obj RefId=\"0\"><MS><Version N=\"protocolversion\">2.3</Version></MS></Obj>"),
    );
    let big_input = Message::new(
        Destination::Server,
        MessageType::PipelineInput,
        pool,
        Uuid::from_u128(0x0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0),
        Bytes::from(format!("<S>{}</S>", "x".repeat(100_000))),
    );

    // Sender: 32 KiB fragments, packed into payloads of at most 48 KiB (what one envelope can carry).
    let mut fragmenter = Fragmenter::new(32 << 10)?;
    fragmenter.enqueue(&capability);
    fragmenter.enqueue(&big_input);
    let payloads = fragmenter.drain_payloads(48 << 10);
    println!("{} payloads: {:?}", payloads.len(), payloads.iter().map(|p| p.data.len()).collect::<Vec<_>>());

    // Receiver: the transport hands over whatever it has; chunk boundaries do not matter.
    let stream: Bytes = payloads.iter().flat_map(|p| p.data.to_vec()).collect::<Vec<_>>().into();
    let mut defragmenter = Defragmenter::new();
    for chunk in stream.chunks(7_777) {
        for object in defragmenter.feed(Bytes::copy_from_slice(chunk))? {
            let message = Message::decode(object.data)?;
            println!("object {} → {} ({} body bytes)", object.object_id, message.message_type, message.body().len());
        }
    }
    defragmenter.finish()?;
    Ok(())
}
