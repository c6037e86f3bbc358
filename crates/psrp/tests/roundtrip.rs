//! Property: any sequence of messages, fragmented at any fragment size ≥ 22 and payload budget, delivered in any
//! chunking, comes out of the defragmenter as the same messages in the same order.

use bytes::Bytes;
use proptest::prelude::*;
use pssession_psrp::{Defragmenter, Destination, Fragmenter, Message, MessageType};
use uuid::Uuid;

fn message_strategy() -> impl Strategy<Value = Message> {
    (
        prop::sample::select(MessageType::ALL),
        any::<bool>(),
        any::<u128>(),
        prop::option::of(any::<u128>()),
        prop::collection::vec(any::<u8>(), 0..3000),
    )
        .prop_map(|(ty, to_server, rpid, pid, body)| {
            Message::new(
                if to_server { Destination::Server } else { Destination::Client },
                ty,
                Uuid::from_u128(rpid),
                pid.map_or(Uuid::nil(), Uuid::from_u128),
                Bytes::from(body),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fragment_chunk_defragment_is_identity(
        messages in prop::collection::vec(message_strategy(), 1..20),
        fragment_size in 22usize..5000,
        budget in 22usize..20000,
        chunk_sizes in prop::collection::vec(1usize..7000, 1..50),
    ) {
        let mut fragmenter = Fragmenter::new(fragment_size).unwrap();
        let ids: Vec<u64> = messages.iter().map(|m| fragmenter.enqueue(m)).collect();
        let stream: Vec<u8> = fragmenter
            .drain_payloads(budget)
            .into_iter()
            .inspect(|p| assert!(p.data.len() <= budget))
            .flat_map(|p| p.data.to_vec())
            .collect();
        let stream = Bytes::from(stream);

        let mut defragmenter = Defragmenter::new();
        let mut out = Vec::new();
        let mut offset = 0;
        let mut sizes = chunk_sizes.iter().cycle();
        while offset < stream.len() {
            let end = (offset + sizes.next().copied().unwrap_or(1)).min(stream.len());
            out.extend(defragmenter.feed(stream.slice(offset..end)).unwrap());
            offset = end;
        }
        defragmenter.finish().unwrap();

        prop_assert_eq!(out.iter().map(|o| o.object_id).collect::<Vec<_>>(), ids);
        let decoded: Vec<Message> = out.into_iter().map(|o| Message::decode(o.data).unwrap()).collect();
        prop_assert_eq!(decoded, messages);
    }

    #[test]
    fn arbitrary_bytes_never_panic(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..20)) {
        let mut defragmenter = Defragmenter::new();
        for chunk in chunks {
            match defragmenter.feed(Bytes::from(chunk)) {
                Ok(objects) => for object in objects { let _ = Message::decode(object.data); },
                Err(_) => break,
            }
        }
        let _ = defragmenter.finish();
    }
}
