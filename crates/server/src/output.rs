//! Output buffers: what a plugin writes for the pool or a pipeline, waiting for the client's Receive.
//!
//! Every shell has one buffer for the pool and one per command. A plugin writes whole PSRP fragments through an
//! [`OutputSink`]; a Receive takes as many buffered fragments as fit one response envelope. While the shell is
//! disconnected, a full buffer either blocks the writer ([`BufferMode::Block`], Windows' default) or discards its
//! oldest fragments ([`BufferMode::Drop`]). While connected, a full buffer always blocks: the client is reading.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

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

#[derive(Debug, Default)]
struct Inner {
    queue: VecDeque<Vec<u8>>,
    bytes: usize,
    /// Exit code once the plugin finished the command.
    done: Option<i64>,
    /// Whether a Receive already reported `CommandState/Done`.
    done_reported: bool,
    /// The shell or command is gone: writes are discarded, Receives fail.
    closed: bool,
    /// Fragments discarded in Drop mode.
    dropped: u64,
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
    pub fragments: Vec<Vec<u8>>,
    /// `Some(exit code)` when this response must carry `CommandState/Done`.
    pub done: Option<i64>,
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
        loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut inner = lock(&self.inner);
                if inner.closed || inner.done.is_some() {
                    return;
                }
                let fits = inner.queue.is_empty() || inner.bytes + data.len() <= self.capacity;
                if !fits && self.policy.drops() {
                    while !inner.queue.is_empty() && inner.bytes + data.len() > self.capacity {
                        if let Some(old) = inner.queue.pop_front() {
                            inner.bytes -= old.len();
                            inner.dropped += 1;
                        }
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
    pub(crate) async fn receive(
        &self,
        deadline: Instant,
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
    /// room — except while the shell is disconnected in [`BufferMode::Drop`], where the oldest buffered fragments
    /// are discarded instead. Returns at once (discarding `data`) once the shell or command is gone or finished.
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
}
