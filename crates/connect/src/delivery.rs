//! Exactly-once output delivery for one session: the numbering of its Receives, the guard against duplicated
//! fragments, and the Drop-mode loss the server reports.
//!
//! WinRM's Receive is not idempotent: the server removes what it hands out, so a response lost in flight (a cut
//! connection) is lost output. This client numbers its Receives per target (the pool, each command) with the
//! `wsmv:SequenceId` header, starting at 1, and sends no `wsmv:OperationID` (with it, a Windows server would treat
//! the request as an MS-WSMV robust-connection operation; without it, Windows ignores the number). A server that
//! honours the numbering (`pssession serve`) echoes it in the ReceiveResponse, keeps the response until the
//! next number acknowledges it, and answers a repeated number with the same response. So a Receive whose
//! response was lost is simply sent again with the same number.
//!
//! As a second guard, every received fragment's (ObjectId, FragmentId) is remembered in a bounded window, and a
//! fragment seen before is discarded: ObjectIds of one shell's output never repeat, so a repeat can only be a
//! duplicate delivery.
//!
//! Finally, the fragments of an object that is not complete at the end of a response are held back here until its
//! last fragment arrives, so the PSRP layer only ever holds whole objects between Receives. A Reconnect
//! resynchronises the PSRP stream (discarding a partly reassembled object, as PowerShell's
//! `PrepareForStreamConnect` does); holding partial objects here means that discards nothing.

use std::collections::{HashMap, HashSet, VecDeque};

use bytes::{Bytes, BytesMut};
use pssession_psrp::{FRAGMENT_HEADER_LEN, FragmentHeader};
use pssession_wsman::header::{Header, option};
use uuid::Uuid;

/// How many recent fragments the duplicate guard remembers. A duplicate can only come from a repeated response,
/// which holds at most one envelope (512 000 bytes by default, so under 25 000 fragments of at least 21 bytes).
pub const DUPLICATE_WINDOW: usize = 1 << 16;

/// Objects the server discarded for one target while the session was disconnected in `Drop` buffering mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLoss {
    /// The command (pipeline); `None` for the RunspacePool's own stream.
    pub pipeline_id: Option<Uuid>,
    /// Whole output objects (PSRP messages) discarded, as the server counted them.
    pub objects: u64,
}

/// The delivery state of one session.
#[derive(Debug, Default)]
pub(crate) struct Delivery {
    /// The SequenceId of the next Receive, per target.
    next: HashMap<Option<Uuid>, u64>,
    /// The server echoed a SequenceId: it retains responses, so a lost one can be asked for again.
    server_retains: bool,
    seen: HashSet<(u64, u64)>,
    order: VecDeque<(u64, u64)>,
    duplicates: u64,
    dropped: HashMap<Option<Uuid>, u64>,
    /// Per target: fragments of an object whose last fragment has not arrived yet.
    partial: HashMap<Option<Uuid>, BytesMut>,
}

impl Delivery {
    /// The SequenceId to send on the next Receive for `target` (repeated until a response arrives).
    pub(crate) fn sequence(&self, target: Option<Uuid>) -> u64 {
        self.next.get(&target).copied().unwrap_or(1)
    }

    /// Whether the server is known to retain Receive responses.
    pub(crate) fn server_retains(&self) -> bool {
        self.server_retains
    }

    /// A ReceiveResponse for `target` arrived with `header`: the next Receive acknowledges it.
    pub(crate) fn received(&mut self, target: Option<Uuid>, header: &Header) {
        let sent = self.sequence(target);
        if header.sequence_id == Some(sent) {
            self.server_retains = true;
        }
        self.next.insert(target, sent.saturating_add(1));
        let dropped = header.option(option::OUTPUT_DROPPED).and_then(|o| o.value.trim().parse::<u64>().ok());
        if let Some(dropped) = dropped {
            // Cumulative on the server: keep the largest count seen.
            let entry = self.dropped.entry(target).or_default();
            *entry = (*entry).max(dropped);
        }
    }

    /// The value of the Disconnect option `PSSESSION_RECEIVE_ACK`: per target, the last response received
    /// (`pool=N`, `<CommandId>=N`); `None` when nothing was received yet, or when the server is not known to
    /// retain responses (an extension is only sent to a server that showed it implements it).
    pub(crate) fn acknowledgements(&self) -> Option<String> {
        if !self.server_retains {
            return None;
        }
        let mut entries: Vec<String> = self
            .next
            .iter()
            .filter(|(_, next)| **next > 1)
            .map(|(target, next)| {
                let name = target.map_or_else(|| "pool".to_owned(), |id| id.hyphenated().to_string().to_uppercase());
                format!("{name}={}", next - 1)
            })
            .collect();
        entries.sort();
        (!entries.is_empty()).then(|| entries.join(" "))
    }

    /// Drops the numbering of a target that is gone (a released command).
    pub(crate) fn forget(&mut self, target: Option<Uuid>) {
        self.next.remove(&target);
    }

    /// Fragments discarded as duplicates so far.
    pub(crate) fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// The Drop-mode losses reported so far, per target.
    pub(crate) fn losses(&self) -> Vec<OutputLoss> {
        let mut losses: Vec<OutputLoss> = self
            .dropped
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(target, objects)| OutputLoss { pipeline_id: *target, objects: *objects })
            .collect();
        losses.sort_by_key(|l| l.pipeline_id);
        losses
    }

    /// Objects discarded for `target`.
    pub(crate) fn lost(&self, target: Option<Uuid>) -> u64 {
        self.dropped.get(&target).copied().unwrap_or(0)
    }

    /// `data` (one `rsp:Stream` payload of whole fragments for `target`) without the fragments already received,
    /// and with the fragments of an object that is not complete yet held back (they come out, in order, with the
    /// object's last fragment). Bytes that do not parse as fragments are passed on untouched, after what was
    /// held: the PSRP layer reports them. At most `max_partial` bytes are held; beyond that the fragments are passed
    /// on and the PSRP layer's object size limit applies.
    pub(crate) fn accept(&mut self, target: Option<Uuid>, data: Bytes, max_partial: usize) -> Bytes {
        let mut spans = Vec::new();
        let mut at = 0usize;
        while at < data.len() {
            let Ok(header) = FragmentHeader::parse(&data[at..]) else { return self.release(target, data) };
            let end = at.saturating_add(FRAGMENT_HEADER_LEN).saturating_add(header.blob_len as usize);
            if end > data.len() {
                return self.release(target, data);
            }
            spans.push((at, end, (header.object_id, header.fragment_id), header.end));
            at = end;
        }
        let total = spans.len();
        let mut kept = Vec::with_capacity(total);
        for (start, end, key, last) in spans {
            if self.seen.contains(&key) {
                self.duplicates += 1;
                continue;
            }
            self.remember(key);
            kept.push((start, end, last));
        }
        // Everything up to the last fragment that ends an object goes on; the rest waits for its end.
        let complete = kept.iter().rposition(|(_, _, last)| *last).map_or(0, |i| i + 1);
        let held = self.partial.remove(&target).unwrap_or_default();
        if held.is_empty() && complete == total && kept.len() == total {
            // The common case: nothing held, nothing removed, nothing to hold.
            return data;
        }
        let mut out = held;
        for (start, end, _) in &kept[..complete] {
            out.extend_from_slice(&data[*start..*end]);
        }
        let mut rest = BytesMut::new();
        for (start, end, _) in &kept[complete..] {
            rest.extend_from_slice(&data[*start..*end]);
        }
        if complete == 0 {
            // No object ended here: what was held and what came are all one unfinished object.
            out.extend_from_slice(&rest);
            if out.len() <= max_partial {
                self.partial.insert(target, out);
                return Bytes::new();
            }
            return out.freeze();
        }
        if !rest.is_empty() {
            if rest.len() <= max_partial {
                self.partial.insert(target, rest);
            } else {
                out.extend_from_slice(&rest);
            }
        }
        out.freeze()
    }

    /// What is held for `target`, followed by `data`.
    fn release(&mut self, target: Option<Uuid>, data: Bytes) -> Bytes {
        match self.partial.remove(&target) {
            Some(mut held) => {
                held.extend_from_slice(&data);
                held.freeze()
            }
            None => data,
        }
    }

    fn remember(&mut self, key: (u64, u64)) {
        if self.order.len() >= DUPLICATE_WINDOW
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        self.seen.insert(key);
        self.order.push_back(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pssession_psrp::Fragment;

    fn fragment(object_id: u64, fragment_id: u64, start: bool, end: bool, blob: &[u8]) -> Vec<u8> {
        let mut out = BytesMut::new();
        Fragment { object_id, fragment_id, start, end, blob: Bytes::copy_from_slice(blob) }
            .encode_into(&mut out)
            .expect("encodes");
        out.to_vec()
    }

    #[test]
    fn repeated_fragments_are_discarded_once_seen() {
        let mut delivery = Delivery::default();
        let a = fragment(4, 0, true, false, b"first half");
        let b = fragment(4, 1, false, true, b"second half");
        let c = fragment(5, 0, true, true, b"whole");
        let first = Bytes::from([a.clone(), b.clone()].concat());
        assert_eq!(delivery.accept(None, first.clone(), 1 << 20), first, "new fragments pass untouched");
        // A repeated response that also carries a new fragment: only the new one survives.
        let repeat = Bytes::from([a, b, c.clone()].concat());
        assert_eq!(delivery.accept(None, repeat, 1 << 20), Bytes::from(c.clone()));
        assert_eq!(delivery.duplicates(), 2);
        assert_eq!(delivery.accept(None, Bytes::from(c), 1 << 20), Bytes::new());
        assert_eq!(delivery.duplicates(), 3);
    }

    #[test]
    fn an_unfinished_object_is_held_until_its_last_fragment() {
        let mut delivery = Delivery::default();
        let target = Some(Uuid::from_u128(9));
        let whole = fragment(3, 0, true, true, b"whole");
        let head = fragment(4, 0, true, false, b"head");
        let middle = fragment(4, 1, false, false, b"middle");
        let tail = fragment(4, 2, false, true, b"tail");
        let first = Bytes::from([whole.clone(), head.clone()].concat());
        assert_eq!(delivery.accept(target, first, 1 << 20), Bytes::from(whole));
        assert!(delivery.accept(target, Bytes::from(middle.clone()), 1 << 20).is_empty(), "still unfinished");
        // Another target's stream is independent.
        let other = fragment(9, 0, true, true, b"pool");
        assert_eq!(delivery.accept(None, Bytes::from(other.clone()), 1 << 20), Bytes::from(other));
        let last = delivery.accept(target, Bytes::from(tail.clone()), 1 << 20);
        assert_eq!(last, Bytes::from([head, middle, tail].concat()));
        // Over the limit, an unfinished object is passed on (the PSRP layer's object size limit applies).
        let big = fragment(10, 0, true, false, &[b'x'; 64]);
        assert_eq!(delivery.accept(target, Bytes::from(big.clone()), 16), Bytes::from(big));
    }

    #[test]
    fn malformed_data_is_left_to_the_psrp_layer() {
        let mut delivery = Delivery::default();
        let data = Bytes::from_static(b"not a fragment");
        assert_eq!(delivery.accept(None, data.clone(), 1 << 20), data);
    }

    #[test]
    fn the_window_forgets_the_oldest_fragments() {
        let mut delivery = Delivery::default();
        for id in 1..=(DUPLICATE_WINDOW as u64 + 1) {
            delivery.accept(None, Bytes::from(fragment(id, 0, true, true, b"x")), 1 << 20);
        }
        // Object 1 left the window; object 2 is still in it.
        assert_eq!(delivery.accept(None, Bytes::from(fragment(1, 0, true, true, b"x")), 1 << 20).len(), 22);
        assert!(delivery.accept(None, Bytes::from(fragment(3, 0, true, true, b"x")), 1 << 20).is_empty());
    }

    #[test]
    fn sequence_numbers_advance_per_target_and_detect_a_retaining_server() {
        let mut delivery = Delivery::default();
        let pipeline = Some(Uuid::from_u128(7));
        assert_eq!((delivery.sequence(None), delivery.sequence(pipeline)), (1, 1));
        let mut header = Header::default();
        delivery.received(pipeline, &header);
        assert!(!delivery.server_retains(), "no echo: a server that ignores the numbering");
        header.sequence_id = Some(2);
        header.options.push(pssession_wsman::header::WsmanOption {
            name: option::OUTPUT_DROPPED.to_owned(),
            value: "12".to_owned(),
            must_comply: false,
        });
        delivery.received(pipeline, &header);
        assert!(delivery.server_retains());
        assert_eq!((delivery.sequence(None), delivery.sequence(pipeline)), (1, 3));
        assert_eq!(delivery.losses(), vec![OutputLoss { pipeline_id: pipeline, objects: 12 }]);
        assert_eq!(delivery.acknowledgements().as_deref(), Some("00000000-0000-0000-0000-000000000007=2"));
        let mut unaware = Delivery::default();
        unaware.received(None, &Header::default());
        assert_eq!(unaware.acknowledgements(), None, "nothing is acknowledged to a server that does not retain");
        assert_eq!(delivery.lost(pipeline), 12);
    }
}
