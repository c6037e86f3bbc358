//! Output buffers: what a plugin writes for the pool or a pipeline, waiting for the client's Receive.
//!
//! Every shell has one buffer for the pool and one per command. A plugin writes whole PSRP fragments through an
//! [`OutputSink`]; a Receive takes as many buffered fragments as fit one response envelope. While the shell is
//! disconnected, a full buffer either blocks the writer ([`BufferMode::Block`], Windows' default) or discards its
//! oldest whole objects ([`BufferMode::Drop`]). While connected, a full buffer always blocks: the client is reading.
//!
//! Exactly-once delivery (a pssession extension, see the crate README): a Receive that carries `wsmv:SequenceId`
//! (and no `wsmv:OperationID`, which would make it a real MS-WSMV robust-connection request) is *sequenced*. The
//! buffer keeps the last response it handed out until the client's next sequenced Receive acknowledges it by asking
//! for the following number; a Receive that asks for the same number again (its response was lost in flight) gets
//! the very same fragments again. Receives without a SequenceId (pypsrp, PowerShell) work as before: nothing is
//! retained.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use pssession_psrp::{FRAGMENT_HEADER_LEN, FragmentHeader};
use pssession_wsman::shell::BufferMode;
use tokio::sync::Notify;
use tokio::time::Instant;
use uuid::Uuid;

/// Locks a mutex, recovering the data when another thread panicked while holding it (the state stays valid: every
/// critical section below leaves it consistent before doing anything that can panic).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Connection state of a shell as its buffers see it.
#[derive(Debug)]
pub(crate) struct BufferPolicy {
    state: Mutex<(bool, BufferMode)>,
}

impl BufferPolicy {
    pub(crate) fn new(mode: BufferMode) -> Arc<Self> {
        Arc::new(BufferPolicy { state: Mutex::new((false, mode)) })
    }

    /// Records whether the shell is disconnected and its buffering mode.
    pub(crate) fn set(&self, disconnected: bool, mode: BufferMode) {
        *lock(&self.state) = (disconnected, mode);
    }

    pub(crate) fn disconnected(&self) -> bool {
        lock(&self.state).0
    }

    fn drops(&self) -> bool {
        matches!(*lock(&self.state), (true, BufferMode::Drop))
    }
}

/// The last response of a sequenced Receive, kept until the client acknowledges it.
#[derive(Debug, Clone)]
struct Retained {
    sequence: u64,
    fragments: Vec<Bytes>,
    done: Option<i64>,
}

#[derive(Debug, Default)]
struct Inner {
    queue: VecDeque<Bytes>,
    bytes: usize,
    /// Exit code once the plugin finished the command.
    done: Option<i64>,
    /// Whether a Receive already reported `CommandState/Done`.
    done_reported: bool,
    /// The shell or command is gone: writes are discarded, Receives fail.
    closed: bool,
    /// Fragments discarded in Drop mode.
    dropped: u64,
    /// Whole objects (PSRP messages) discarded in Drop mode.
    dropped_objects: u64,
    /// An object whose first fragments were discarded while its writer was still writing it: its remaining
    /// fragments are discarded too, so the client never sees half an object.
    orphan: Option<u64>,
    /// SequenceId of the last sequenced response handed out (0: none yet).
    last_sequence: u64,
    /// The client session (`wsmv:SessionId`) whose Receives the sequence numbers count.
    sequence_session: Option<String>,
    /// The last sequenced response, until acknowledged.
    retained: Option<Retained>,
}

/// One target's buffered output (the pool's or one command's).
#[derive(Debug)]
pub(crate) struct OutputBuffer {
    target: Option<Uuid>,
    capacity: usize,
    policy: Arc<BufferPolicy>,
    inner: Mutex<Inner>,
    data_ready: Notify,
    space: Notify,
}

/// What a Receive took from a buffer.
#[derive(Debug, Default)]
pub(crate) struct Taken {
    /// Whole fragments, in order.
    pub fragments: Vec<Bytes>,
    /// `Some(exit code)` when this response must carry `CommandState/Done`.
    pub done: Option<i64>,
    /// Whole objects discarded in Drop mode so far (cumulative, so that a replayed response says the same).
    pub dropped_objects: u64,
}

/// The numbering of a sequenced Receive: its `wsmv:SequenceId` and the client session (`wsmv:SessionId`) it
/// came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReceiveSequence {
    pub id: u64,
    pub session: Option<String>,
}

/// Why a Receive returned without data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoData {
    /// OperationTimeout expired.
    TimedOut,
    /// The shell was disconnected while the Receive waited.
    Disconnected,
    /// The shell or command was deleted.
    Closed,
    /// A sequenced Receive asked for a number that is neither the retained response nor the next one.
    OutOfSequence {
        /// What the client asked for.
        requested: u64,
        /// The number the buffer expects next.
        expected: u64,
    },
}

/// The object a fragment belongs to and whether it starts or ends it; `None` for bytes that are not exactly one
/// valid fragment (then they count as one whole object).
fn fragment_bounds(fragment: &[u8]) -> Option<(u64, bool, bool)> {
    let header = FragmentHeader::parse(fragment).ok().filter(|h| h.validate().is_ok())?;
    let whole = FRAGMENT_HEADER_LEN.checked_add(header.blob_len as usize) == Some(fragment.len());
    whole.then_some((header.object_id, header.start, header.end))
}

fn same_session(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.trim().eq_ignore_ascii_case(b.trim()),
        (None, None) => true,
        _ => false,
    }
}

impl Inner {
    /// Discards the oldest whole object that has not begun to be delivered; returns whether one was found.
    fn drop_oldest_object(&mut self) -> bool {
        // A continuation at the front belongs to an object whose start a Receive already took: keep it.
        let Some(start) = self.queue.iter().position(|f| fragment_bounds(f).is_none_or(|(_, start, _)| start)) else {
            return false;
        };
        let object = fragment_bounds(&self.queue[start]).map(|(id, _, _)| id);
        let mut ended = false;
        while start < self.queue.len() {
            let bounds = fragment_bounds(&self.queue[start]);
            if object.is_some() && bounds.map(|(id, _, _)| id) != object {
                // Another object's fragment: this object's remaining fragments are still being written.
                break;
            }
            let Some(removed) = self.queue.remove(start) else { break };
            self.bytes -= removed.len();
            self.dropped += 1;
            if bounds.is_none_or(|(_, _, end)| end) {
                ended = true;
                break;
            }
        }
        if !ended {
            self.orphan = object;
        }
        self.dropped_objects += 1;
        true
    }

    /// Applies a sequenced Receive's number: `Ok(Some(replay))` when it asks again for the retained response,
    /// `Ok(None)` when it may take new output (acknowledging the retained response, if any).
    fn sequence(&mut self, sequence: &ReceiveSequence) -> Result<Option<Taken>, NoData> {
        let same = same_session(self.sequence_session.as_deref(), sequence.session.as_deref());
        let in_order = match &self.retained {
            Some(r) => r.sequence == sequence.id || r.sequence.checked_add(1) == Some(sequence.id),
            None => self.last_sequence.checked_add(1) == Some(sequence.id),
        };
        if !in_order {
            if same {
                return Err(NoData::OutOfSequence {
                    requested: sequence.id,
                    expected: self.last_sequence.saturating_add(1),
                });
            }
            // A new client session (Connect) numbers its Receives from its own start. What the previous session
            // was handed but never acknowledged is handed to the new one, under the new numbering.
            match &mut self.retained {
                Some(retained) => {
                    retained.sequence = sequence.id;
                    self.last_sequence = sequence.id;
                }
                None => self.last_sequence = sequence.id.saturating_sub(1),
            }
        }
        self.sequence_session = sequence.session.clone();
        match &self.retained {
            Some(r) if r.sequence == sequence.id => {
                return Ok(Some(Taken {
                    fragments: r.fragments.clone(),
                    done: r.done,
                    dropped_objects: self.dropped_objects,
                }));
            }
            // The next number: the client has the retained response.
            Some(_) => self.retained = None,
            None => {}
        }
        Ok(None)
    }
}

impl OutputBuffer {
    pub(crate) fn new(target: Option<Uuid>, capacity: usize, policy: Arc<BufferPolicy>) -> Arc<Self> {
        Arc::new(OutputBuffer {
            target,
            capacity,
            policy,
            inner: Mutex::new(Inner::default()),
            data_ready: Notify::new(),
            space: Notify::new(),
        })
    }

    /// The client acknowledged the sequenced responses up to `sequence` (its Disconnect says what it processed):
    /// the retained response is freed if it is one of them, so a client that connects next is not handed it again.
    pub(crate) fn acknowledge(&self, sequence: u64) {
        let mut inner = lock(&self.inner);
        if inner.retained.as_ref().is_some_and(|r| r.sequence <= sequence) {
            inner.retained = None;
        }
    }

    /// Wakes every waiter so it re-examines the shell's state (disconnect, close, mode change).
    pub(crate) fn wake(&self) {
        self.data_ready.notify_waiters();
        self.space.notify_waiters();
    }

    /// Discards everything and refuses further output.
    pub(crate) fn close(&self) {
        {
            let mut inner = lock(&self.inner);
            inner.closed = true;
            inner.queue.clear();
            inner.bytes = 0;
        }
        self.wake();
    }

    pub(crate) fn is_done(&self) -> bool {
        lock(&self.inner).done.is_some()
    }

    pub(crate) fn buffered_bytes(&self) -> usize {
        lock(&self.inner).bytes
    }

    async fn write(&self, data: Vec<u8>) {
        let data = Bytes::from(data);
        loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut inner = lock(&self.inner);
                if inner.closed || inner.done.is_some() {
                    return;
                }
                if let Some(orphan) = inner.orphan
                    && let Some((object, _, end)) = fragment_bounds(&data)
                    && object == orphan
                {
                    // The rest of an object whose beginning was discarded.
                    inner.dropped += 1;
                    if end {
                        inner.orphan = None;
                    }
                    return;
                }
                let fits = inner.queue.is_empty() || inner.bytes + data.len() <= self.capacity;
                if !fits && self.policy.drops() {
                    while !inner.queue.is_empty() && inner.bytes + data.len() > self.capacity {
                        if !inner.drop_oldest_object() {
                            break;
                        }
                    }
                    if let Some(orphan) = inner.orphan
                        && fragment_bounds(&data).is_some_and(|(object, _, _)| object == orphan)
                    {
                        // The object being written was the oldest one: it is gone, this piece with it.
                        inner.dropped += 1;
                        if fragment_bounds(&data).is_some_and(|(_, _, end)| end) {
                            inner.orphan = None;
                        }
                        return;
                    }
                }
                if inner.queue.is_empty() || inner.bytes + data.len() <= self.capacity {
                    inner.bytes += data.len();
                    inner.queue.push_back(data);
                    drop(inner);
                    self.data_ready.notify_waiters();
                    return;
                }
            }
            notified.await;
        }
    }

    fn finish(&self, exit_code: i64) {
        if self.target.is_none() {
            // The pool has no CommandState.
            return;
        }
        {
            let mut inner = lock(&self.inner);
            if inner.done.is_none() {
                inner.done = Some(exit_code);
            }
        }
        self.data_ready.notify_waiters();
    }

    /// Waits until there is output (or a Done to report), the deadline passes, the shell disconnects or the
    /// buffer closes; then takes fragments while `fits(count, bytes_of_next)` allows (always at least one).
    ///
    /// With `sequence` (a sequenced Receive), a repeated number answers the retained response at once, the next
    /// number acknowledges (frees) it, and what is taken is retained in turn.
    pub(crate) async fn receive(
        &self,
        deadline: Instant,
        sequence: Option<&ReceiveSequence>,
        mut fits: impl FnMut(usize) -> bool,
    ) -> Result<Taken, NoData> {
        loop {
            let notified = self.data_ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut inner = lock(&self.inner);
                if inner.closed {
                    return Err(NoData::Closed);
                }
                match sequence {
                    Some(sequence) => {
                        if let Some(replay) = inner.sequence(sequence)? {
                            return Ok(replay);
                        }
                    }
                    // The client acknowledges nothing: keep nothing for it.
                    None => inner.retained = None,
                }
                let done_pending = inner.done.is_some() && !inner.done_reported;
                if !inner.queue.is_empty() || done_pending || (inner.done_reported && inner.queue.is_empty()) {
                    let mut taken = Taken::default();
                    while let Some(front) = inner.queue.front() {
                        if !taken.fragments.is_empty() && !fits(front.len()) {
                            break;
                        }
                        if taken.fragments.is_empty() {
                            // The first fragment is always sent; account for it.
                            fits(front.len());
                        }
                        let Some(fragment) = inner.queue.pop_front() else { break };
                        inner.bytes -= fragment.len();
                        taken.fragments.push(fragment);
                    }
                    if inner.queue.is_empty()
                        && let Some(code) = inner.done
                    {
                        inner.done_reported = true;
                        taken.done = Some(code);
                    }
                    taken.dropped_objects = inner.dropped_objects;
                    if let Some(sequence) = sequence {
                        // Taken and retained under one lock: a response lost after this point is never lost output.
                        inner.last_sequence = sequence.id;
                        inner.retained = Some(Retained {
                            sequence: sequence.id,
                            fragments: taken.fragments.clone(),
                            done: taken.done,
                        });
                    }
                    drop(inner);
                    self.space.notify_waiters();
                    return Ok(taken);
                }
            }
            if self.policy.disconnected() {
                return Err(NoData::Disconnected);
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(deadline) => return Err(NoData::TimedOut),
            }
        }
    }
}

/// The handle a plugin writes a target's output into: whole PSRP fragments for the pool (`target() == None`) or
/// for one command. Cheap to clone; every clone writes into the same buffer.
#[derive(Clone)]
pub struct OutputSink {
    buffer: Arc<OutputBuffer>,
}

impl fmt::Debug for OutputSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutputSink")
            .field("target", &self.buffer.target)
            .field("buffered_bytes", &self.buffer.buffered_bytes())
            .finish()
    }
}

impl OutputSink {
    pub(crate) fn new(buffer: Arc<OutputBuffer>) -> Self {
        OutputSink { buffer }
    }

    /// The command this sink belongs to; `None` for the runspace pool.
    pub fn target(&self) -> Option<Uuid> {
        self.buffer.target
    }

    /// Queues one whole PSRP fragment (a Receive never splits it; keep it within
    /// [`crate::plugin::ShellInfo::max_fragment_size`]). When the buffer is full this waits for a Receive to make
    /// room — except while the shell is disconnected in [`BufferMode::Drop`], where the oldest buffered whole
    /// objects are discarded instead. Returns at once (discarding `data`) once the shell or command is gone or finished.
    pub async fn write(&self, data: Vec<u8>) {
        self.buffer.write(data).await;
    }

    /// Marks the command finished with `exit_code`: the Receive that hands out the last buffered fragment reports
    /// `CommandState/Done` with this exit code. Later writes are discarded. Ignored for the pool's sink.
    pub fn finish(&self, exit_code: i64) {
        self.buffer.finish(exit_code);
    }

    /// Whether [`OutputSink::finish`] was called.
    pub fn is_finished(&self) -> bool {
        self.buffer.is_done()
    }

    /// Whether the shell was deleted or the command terminated: output is no longer wanted.
    pub fn is_closed(&self) -> bool {
        lock(&self.buffer.inner).closed
    }

    /// Fragments discarded so far because the shell was disconnected in [`BufferMode::Drop`] with a full buffer.
    pub fn dropped_fragments(&self) -> u64 {
        lock(&self.buffer.inner).dropped
    }

    /// Whole objects (PSRP messages) discarded so far in [`BufferMode::Drop`]; a Drop-mode buffer discards whole
    /// objects only, so the client never receives part of one.
    pub fn dropped_objects(&self) -> u64 {
        lock(&self.buffer.inner).dropped_objects
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One PSRP fragment of `total` bytes (header included).
    fn fragment(object_id: u64, fragment_id: u64, start: bool, end: bool, total: usize) -> Vec<u8> {
        let header =
            FragmentHeader { object_id, fragment_id, start, end, blob_len: (total - FRAGMENT_HEADER_LEN) as u32 };
        let mut out = header.to_bytes().to_vec();
        out.resize(total, b'x');
        out
    }

    fn queued(buffer: &OutputBuffer) -> Vec<(u64, u64)> {
        let inner = lock(&buffer.inner);
        inner
            .queue
            .iter()
            .map(|f| FragmentHeader::parse(f).map(|h| (h.object_id, h.fragment_id)).expect("fragment"))
            .collect()
    }

    #[tokio::test]
    async fn drop_mode_discards_whole_objects_only() {
        let policy = BufferPolicy::new(BufferMode::Drop);
        policy.set(true, BufferMode::Drop);
        let buffer = OutputBuffer::new(Some(Uuid::nil()), 200, policy);
        let sink = OutputSink::new(Arc::clone(&buffer));
        sink.write(fragment(1, 0, true, true, 60)).await;
        sink.write(fragment(2, 0, true, false, 60)).await;
        sink.write(fragment(2, 1, false, false, 60)).await;
        // 240 bytes: object 1, the oldest, goes.
        sink.write(fragment(2, 2, false, true, 60)).await;
        assert_eq!(queued(&buffer), vec![(2, 0), (2, 1), (2, 2)]);
        // Object 2 goes whole, never a part of it.
        sink.write(fragment(3, 0, true, true, 60)).await;
        assert_eq!(queued(&buffer), vec![(3, 0)]);
        assert_eq!((sink.dropped_objects(), sink.dropped_fragments()), (2, 4));
        // An object still being written is the oldest: it goes, and so do its pieces that come after.
        sink.write(fragment(4, 0, true, false, 60)).await;
        // 220 bytes: object 3 goes.
        sink.write(fragment(4, 1, false, false, 100)).await;
        assert_eq!(queued(&buffer), vec![(4, 0), (4, 1)]);
        sink.write(fragment(4, 2, false, false, 100)).await;
        assert_eq!(queued(&buffer), Vec::<(u64, u64)>::new());
        sink.write(fragment(4, 3, false, true, 10 + FRAGMENT_HEADER_LEN)).await;
        sink.write(fragment(5, 0, true, true, 60)).await;
        assert_eq!(queued(&buffer), vec![(5, 0)]);
        assert_eq!((sink.dropped_objects(), sink.dropped_fragments()), (4, 9));
    }

    #[tokio::test]
    async fn drop_mode_keeps_the_rest_of_an_object_whose_start_was_received() {
        let policy = BufferPolicy::new(BufferMode::Drop);
        let buffer = OutputBuffer::new(Some(Uuid::nil()), 130, Arc::clone(&policy));
        let sink = OutputSink::new(Arc::clone(&buffer));
        sink.write(fragment(1, 0, true, false, 60)).await;
        sink.write(fragment(1, 1, false, true, 60)).await;
        // A Receive takes the first fragment only; then the shell is disconnected in Drop mode.
        let mut room = 1;
        let far = Instant::now() + std::time::Duration::from_secs(1);
        let taken = buffer
            .receive(far, None, |_| {
                room -= 1;
                room >= 0
            })
            .await
            .expect("output");
        assert_eq!(taken.fragments.len(), 1);
        policy.set(true, BufferMode::Drop);
        sink.write(fragment(2, 0, true, true, 60)).await;
        sink.write(fragment(3, 0, true, true, 60)).await;
        // Object 2 made room for object 3; the tail of object 1, begun on the client, stays.
        assert_eq!(queued(&buffer), vec![(1, 1), (3, 0)]);
        assert_eq!(sink.dropped_objects(), 1);
    }
}
