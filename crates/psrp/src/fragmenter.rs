//! Cutting outgoing messages into fragments and packing them into transport payloads (MS-PSRP 2.2.4).
//!
//! The [`Fragmenter`] owns the sender's ObjectId counter (one per direction and client session) and a queue of
//! messages waiting to be sent. The transport asks for the next payload with the number of bytes its envelope can
//! still carry ([`Fragmenter::next_payload`]), or for single fragments when it wants one per stream element
//! ([`Fragmenter::next_fragment`], which is how a Windows server fills `rsp:Stream` elements).
//!
//! Two sizes govern the output:
//! * the maximum fragment size (header included) — PowerShell's server uses 32 KiB, its client derives the size from
//!   the negotiated MaxEnvelopeSize;
//! * the budget of a payload — what one Create/Command/Send/ReceiveResponse can carry once base64 and the envelope
//!   are accounted for.
//!
//! A payload only ever holds messages for one target (the RunspacePool or one pipeline), because a WS-Man Send
//! addresses one command; [`Payload::pipeline_id`] tells the transport which.

use std::collections::VecDeque;
use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};
use uuid::Uuid;

use crate::fragment::{FRAGMENT_HEADER_LEN, FragmentHeader};
use crate::message::Message;

/// The smallest useful fragment: a header and one byte of blob.
pub const MIN_FRAGMENT_SIZE: usize = FRAGMENT_HEADER_LEN + 1;

/// A message waiting to be (completely) sent.
#[derive(Debug)]
struct QueuedMessage {
    object_id: u64,
    next_fragment_id: u64,
    pipeline_id: Uuid,
    /// Bytes not yet put into a fragment.
    remaining: Bytes,
}

/// One transport payload: concatenated fragments for a single target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The pipeline these fragments belong to; [`Uuid::nil`] for RunspacePool messages.
    pub pipeline_id: Uuid,
    /// The fragments, ready to be base64-encoded into an envelope.
    pub data: Bytes,
}

/// Configuration errors of a [`Fragmenter`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FragmenterError {
    /// A fragment must hold its 21-byte header and at least one byte.
    FragmentSizeTooSmall {
        /// The size asked for.
        size: usize,
    },
    /// Fragments carry at most `u32::MAX` blob bytes.
    FragmentSizeTooLarge {
        /// The size asked for.
        size: usize,
    },
}

impl fmt::Display for FragmenterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FragmenterError::FragmentSizeTooSmall { size } => {
                write!(f, "fragment size {size} is smaller than the minimum of {MIN_FRAGMENT_SIZE} bytes")
            }
            FragmenterError::FragmentSizeTooLarge { size } => {
                write!(f, "fragment size {size} exceeds what a fragment header can describe")
            }
        }
    }
}

impl std::error::Error for FragmenterError {}

/// Sender side of PSRP framing. See the [module documentation](self).
#[derive(Debug)]
pub struct Fragmenter {
    max_fragment_size: usize,
    next_object_id: u64,
    queue: VecDeque<QueuedMessage>,
    queued_bytes: usize,
}

impl Fragmenter {
    /// A fragmenter producing fragments of at most `max_fragment_size` bytes, header included.
    /// ObjectIds start at 1.
    pub fn new(max_fragment_size: usize) -> Result<Self, FragmenterError> {
        let mut fragmenter = Fragmenter {
            max_fragment_size: MIN_FRAGMENT_SIZE,
            next_object_id: 1,
            queue: VecDeque::new(),
            queued_bytes: 0,
        };
        fragmenter.set_max_fragment_size(max_fragment_size)?;
        Ok(fragmenter)
    }

    /// Changes the maximum fragment size, for example after the envelope size was renegotiated. Applies to
    /// fragments cut from now on, including the rest of a partially sent message.
    pub fn set_max_fragment_size(&mut self, size: usize) -> Result<(), FragmenterError> {
        if size < MIN_FRAGMENT_SIZE {
            return Err(FragmenterError::FragmentSizeTooSmall { size });
        }
        if size - FRAGMENT_HEADER_LEN > u32::MAX as usize {
            return Err(FragmenterError::FragmentSizeTooLarge { size });
        }
        self.max_fragment_size = size;
        Ok(())
    }

    /// The maximum fragment size, header included.
    pub fn max_fragment_size(&self) -> usize {
        self.max_fragment_size
    }

    /// The ObjectId the next queued message will get.
    pub fn next_object_id(&self) -> u64 {
        self.next_object_id
    }

    /// Continues numbering from `object_id` (for example after a Connect from a new client session, which restarts
    /// at 1, or to continue a counter kept elsewhere). ObjectId 0 is reserved, so 0 is taken as 1.
    pub fn set_next_object_id(&mut self, object_id: u64) {
        self.next_object_id = object_id.max(1);
    }

    /// Queues a message; returns the ObjectId it will be sent with.
    pub fn enqueue(&mut self, message: &Message) -> u64 {
        self.enqueue_encoded(message.pid, message.encode())
    }

    /// Queues an already encoded message (40-byte header and body) addressed to `pipeline_id`
    /// ([`Uuid::nil`] for the RunspacePool); returns its ObjectId.
    pub fn enqueue_encoded(&mut self, pipeline_id: Uuid, message: Bytes) -> u64 {
        let object_id = self.next_object_id;
        self.next_object_id = self.next_object_id.wrapping_add(1).max(1);
        self.queued_bytes += message.len();
        self.queue.push_back(QueuedMessage { object_id, next_fragment_id: 0, pipeline_id, remaining: message });
        object_id
    }

    /// Whether anything is waiting to be sent.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Message bytes (headers of fragments not counted) waiting to be sent.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    /// The target of the next payload, if anything is queued.
    pub fn next_target(&self) -> Option<Uuid> {
        self.queue.front().map(|m| m.pipeline_id)
    }

    /// Packs fragments into a payload of at most `budget` bytes.
    ///
    /// Fragments of consecutive queued messages for the same target are packed until the budget is used up; a
    /// message that does not fit is split and continues in the next payload. Returns `None` when nothing is queued
    /// or the budget cannot hold a header and one byte.
    pub fn next_payload(&mut self, budget: usize) -> Option<Payload> {
        let pipeline_id = self.queue.front()?.pipeline_id;
        let mut out = BytesMut::with_capacity(budget.min(self.queued_bytes + FRAGMENT_HEADER_LEN * self.queue.len()));
        let mut left = budget;
        while let Some(message) = self.queue.front() {
            if message.pipeline_id != pipeline_id || left < MIN_FRAGMENT_SIZE {
                break;
            }
            let size = self.max_fragment_size.min(left);
            left -= self.cut_fragment(size, &mut out);
        }
        if out.is_empty() { None } else { Some(Payload { pipeline_id, data: out.freeze() }) }
    }

    /// Every payload needed to send what is queued, each at most `budget` bytes.
    pub fn drain_payloads(&mut self, budget: usize) -> Vec<Payload> {
        std::iter::from_fn(|| self.next_payload(budget)).collect()
    }

    /// Cuts one fragment of at most the maximum fragment size, for transports that carry one fragment per
    /// stream element. Returns the target and the encoded fragment.
    pub fn next_fragment(&mut self) -> Option<Payload> {
        let pipeline_id = self.queue.front()?.pipeline_id;
        let mut out = BytesMut::new();
        self.cut_fragment(self.max_fragment_size, &mut out);
        Some(Payload { pipeline_id, data: out.freeze() })
    }

    /// Writes the next fragment of the front message, at most `size` bytes (≥ [`MIN_FRAGMENT_SIZE`]) in total;
    /// returns the bytes written.
    fn cut_fragment(&mut self, size: usize, out: &mut BytesMut) -> usize {
        let Some(message) = self.queue.front_mut() else { return 0 };
        let blob_len = message.remaining.len().min(size - FRAGMENT_HEADER_LEN);
        let end = blob_len == message.remaining.len();
        let header = FragmentHeader {
            object_id: message.object_id,
            fragment_id: message.next_fragment_id,
            start: message.next_fragment_id == 0,
            end,
            // `set_max_fragment_size` keeps blob lengths within u32.
            blob_len: blob_len as u32,
        };
        out.reserve(FRAGMENT_HEADER_LEN + blob_len);
        out.put_slice(&header.to_bytes());
        out.put_slice(&message.remaining[..blob_len]);
        message.next_fragment_id += 1;
        self.queued_bytes -= blob_len;
        if end {
            self.queue.pop_front();
        } else {
            bytes::Buf::advance(&mut message.remaining, blob_len);
        }
        FRAGMENT_HEADER_LEN + blob_len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fragment::Fragment;

    fn encoded(len: usize) -> Bytes {
        Bytes::from((0..len).map(|i| i as u8).collect::<Vec<_>>())
    }

    #[test]
    fn computed_vector_100_bytes_at_fragment_size_64() {
        // COMPUTED_fragmentation_100B_msg_fragsize64: ObjectId 7, blobs 43/43/14, flags 01/00/02.
        let mut fragmenter = Fragmenter::new(64).unwrap();
        fragmenter.set_next_object_id(7);
        fragmenter.enqueue_encoded(Uuid::nil(), encoded(100));
        let payloads = fragmenter.drain_payloads(64);
        let fragments: Vec<_> = payloads.iter().map(|p| Fragment::decode_all(&p.data).unwrap()).collect();
        let summary: Vec<_> =
            fragments.iter().flatten().map(|f| (f.object_id, f.fragment_id, f.start, f.end, f.blob.len())).collect();
        assert_eq!(summary, vec![(7, 0, true, false, 43), (7, 1, false, false, 43), (7, 2, false, true, 14)]);
    }

    #[test]
    fn payloads_pack_several_messages_of_one_target() {
        let mut fragmenter = Fragmenter::new(32 << 10).unwrap();
        for _ in 0..3 {
            fragmenter.enqueue_encoded(Uuid::nil(), encoded(50));
        }
        let payload = fragmenter.next_payload(1000).unwrap();
        assert_eq!(payload.data.len(), 3 * (21 + 50));
        assert!(fragmenter.is_empty());
    }

    #[test]
    fn payloads_never_mix_targets() {
        let pipeline = Uuid::from_u128(0x1234);
        let mut fragmenter = Fragmenter::new(32 << 10).unwrap();
        fragmenter.enqueue_encoded(Uuid::nil(), encoded(50));
        fragmenter.enqueue_encoded(pipeline, encoded(50));
        let first = fragmenter.next_payload(1000).unwrap();
        let second = fragmenter.next_payload(1000).unwrap();
        assert_eq!((first.pipeline_id, first.data.len()), (Uuid::nil(), 71));
        assert_eq!((second.pipeline_id, second.data.len()), (pipeline, 71));
    }

    #[test]
    fn budget_below_a_useful_fragment_yields_nothing() {
        let mut fragmenter = Fragmenter::new(100).unwrap();
        fragmenter.enqueue_encoded(Uuid::nil(), encoded(50));
        assert_eq!(fragmenter.next_payload(21), None);
        assert_eq!(fragmenter.next_payload(22).unwrap().data.len(), 22);
        assert_eq!(Fragmenter::new(21).unwrap_err(), FragmenterError::FragmentSizeTooSmall { size: 21 });
    }
}
