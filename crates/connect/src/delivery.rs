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
//! As a second guard, with such a server every received fragment's (ObjectId, FragmentId) is remembered in a
//! bounded window, and a fragment seen before is discarded: ObjectIds of one shell's output never repeat, so a
//! repeat can only be a duplicate delivery. (A server that does not retain never repeats a response, so nothing is
//! checked then.) Because such a server's stream has no gaps, a Reconnect keeps the PSRP layer's partly
//! reassembled object (`ClientRunspacePool::reconnect_started_resuming`) instead of discarding it.

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

    /// `data` (one `rsp:Stream` payload of whole fragments) without the fragments already received. Untouched
    /// (not even parsed) when the server does not retain responses, or when nothing repeats; bytes that do not
    /// parse as fragments are passed on for the PSRP layer to report.
    pub(crate) fn accept(&mut self, data: Bytes) -> Bytes {
        if !self.server_retains {
            return data;
        }
        // Built only from the first duplicate on.
        let mut kept: Option<BytesMut> = None;
        let mut at = 0usize;
        while at < data.len() {
            let Ok(header) = FragmentHeader::parse(&data[at..]) else { break };
            let end = at.saturating_add(FRAGMENT_HEADER_LEN).saturating_add(header.blob_len as usize);
            if end > data.len() {
                break;
            }
            if self.remember((header.object_id, header.fragment_id)) {
                if let Some(kept) = &mut kept {
                    kept.extend_from_slice(&data[at..end]);
                }
            } else {
                self.duplicates += 1;
                kept.get_or_insert_with(|| BytesMut::from(&data[..at]));
            }
            at = end;
        }
        match kept {
            None => data,
            Some(mut kept) => {
                kept.extend_from_slice(&data[at..]);
                kept.freeze()
            }
        }
    }

    /// Records a fragment; false if it was seen before.
    fn remember(&mut self, key: (u64, u64)) -> bool {
        if !self.seen.insert(key) {
            return false;
        }
        self.order.push_back(key);
        if self.order.len() > DUPLICATE_WINDOW
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        true
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

    /// A delivery state that has seen a server echo its numbering.
    fn retaining() -> Delivery {
        let mut delivery = Delivery::default();
        let header = Header { sequence_id: Some(1), ..Header::default() };
        delivery.received(None, &header);
        assert!(delivery.server_retains());
        delivery
    }

    #[test]
    fn repeated_fragments_are_discarded_once_seen() {
        let mut delivery = retaining();
        let a = fragment(4, 0, true, false, b"first half");
        let b = fragment(4, 1, false, true, b"second half");
        let c = fragment(5, 0, true, true, b"whole");
        let first = Bytes::from([a.clone(), b.clone()].concat());
        assert_eq!(delivery.accept(first.clone()), first, "new fragments pass untouched");
        // A repeated response that also carries a new fragment: only the new one survives.
        let repeat = Bytes::from([a, b, c.clone()].concat());
        assert_eq!(delivery.accept(repeat), Bytes::from(c.clone()));
        assert_eq!(delivery.duplicates(), 2);
        assert_eq!(delivery.accept(Bytes::from(c)), Bytes::new());
        assert_eq!(delivery.duplicates(), 3);
    }

    #[test]
    fn a_server_that_does_not_retain_is_not_checked() {
        let mut delivery = Delivery::default();
        let whole = Bytes::from(fragment(5, 0, true, true, b"whole"));
        assert_eq!(delivery.accept(whole.clone()), whole);
        assert_eq!(delivery.accept(whole.clone()), whole, "a server that never repeats is not second-guessed");
        assert_eq!(delivery.duplicates(), 0);
    }

    #[test]
    fn malformed_data_is_left_to_the_psrp_layer() {
        let mut delivery = retaining();
        let data = Bytes::from_static(b"not a fragment");
        assert_eq!(delivery.accept(data.clone()), data);
        // A duplicate before malformed bytes: the duplicate goes, the rest is passed on as it came.
        let whole = fragment(6, 0, true, true, b"whole");
        delivery.accept(Bytes::from(whole.clone()));
        let mixed = Bytes::from([whole, b"junk".to_vec()].concat());
        assert_eq!(delivery.accept(mixed), Bytes::from_static(b"junk"));
    }

    #[test]
    fn the_window_forgets_the_oldest_fragments() {
        let mut delivery = retaining();
        for id in 1..=(DUPLICATE_WINDOW as u64 + 1) {
            delivery.accept(Bytes::from(fragment(id, 0, true, true, b"x")));
        }
        // Object 1 left the window; object 2 is still in it.
        assert_eq!(delivery.accept(Bytes::from(fragment(1, 0, true, true, b"x"))).len(), 22);
        assert!(delivery.accept(Bytes::from(fragment(3, 0, true, true, b"x"))).is_empty());
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
