//! Where the identifiers a client generates come from.
//!
//! Every GUID the library puts on the wire — RunspacePool ids (= ShellIds), pipeline ids (= CommandIds), WS-Man
//! MessageIDs, the client SessionId — is drawn from an [`IdSource`]. Production code uses [`RandomIds`]; tests and
//! trace replay pin them with [`FixedIds`].

use std::collections::VecDeque;
use std::fmt;
use std::sync::Mutex;

use uuid::Uuid;

/// What an identifier is for, so a pinned source can hand out the right one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdPurpose {
    /// A RunspacePool InstanceId, also the ShellId.
    RunspacePool,
    /// A PowerShell (pipeline) InstanceId, also the CommandId.
    Pipeline,
    /// A WS-Man `wsa:MessageID`.
    MessageId,
    /// The client's `wsmv:SessionId`.
    SessionId,
}

/// A source of identifiers.
pub trait IdSource: Send + Sync + fmt::Debug {
    /// The next identifier for `purpose`.
    fn next_id(&self, purpose: IdPurpose) -> Uuid;
}

/// Random (version 4) identifiers.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

impl IdSource for RandomIds {
    fn next_id(&self, _purpose: IdPurpose) -> Uuid {
        Uuid::new_v4()
    }
}

/// Pinned identifiers for tests and trace replay.
///
/// Each purpose has a queue of ids handed out in order; when a queue is empty, ids are derived deterministically
/// from the purpose and a counter (`00000000-0000-4000-8000-PPCCCCCCCCCC`), so a test never gets a random value.
#[derive(Debug, Default)]
pub struct FixedIds {
    inner: Mutex<FixedInner>,
}

#[derive(Debug, Default)]
struct FixedInner {
    queued: Vec<(IdPurpose, VecDeque<Uuid>)>,
    counter: u64,
}

impl FixedIds {
    /// A source with no queued ids (all derived from the counter).
    pub fn new() -> Self {
        FixedIds::default()
    }

    /// Queues `ids` to be returned, in order, for `purpose`.
    pub fn with(self, purpose: IdPurpose, ids: impl IntoIterator<Item = Uuid>) -> Self {
        {
            let mut inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match inner.queued.iter_mut().find(|(p, _)| *p == purpose) {
                Some((_, queue)) => queue.extend(ids),
                None => inner.queued.push((purpose, ids.into_iter().collect())),
            }
        }
        self
    }
}

fn purpose_tag(purpose: IdPurpose) -> u64 {
    match purpose {
        IdPurpose::RunspacePool => 1,
        IdPurpose::Pipeline => 2,
        IdPurpose::MessageId => 3,
        IdPurpose::SessionId => 4,
    }
}

impl IdSource for FixedIds {
    fn next_id(&self, purpose: IdPurpose) -> Uuid {
        let mut inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(id) = inner.queued.iter_mut().find(|(p, _)| *p == purpose).and_then(|(_, q)| q.pop_front()) {
            return id;
        }
        inner.counter += 1;
        let low = (purpose_tag(purpose) << 40) | (inner.counter & 0xFF_FFFF_FFFF);
        Uuid::from_u128((0x4000u128 << 64) | (0x8000u128 << 48) | u128::from(low))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_ids_are_queued_then_derived() {
        let pinned = Uuid::from_u128(0xB2E1_C91B_A3AA_41B4_B346_405E_6A90_005B);
        let ids = FixedIds::new().with(IdPurpose::RunspacePool, [pinned]);
        assert_eq!(ids.next_id(IdPurpose::RunspacePool), pinned);
        let a = ids.next_id(IdPurpose::RunspacePool);
        let b = ids.next_id(IdPurpose::MessageId);
        assert_ne!(a, pinned);
        assert_ne!(a, b);
        assert_eq!(a.to_string(), "00000000-0000-4000-8000-010000000001");
        assert_eq!(b.to_string(), "00000000-0000-4000-8000-030000000002");
    }

    #[test]
    fn random_ids_differ() {
        assert_ne!(RandomIds.next_id(IdPurpose::Pipeline), RandomIds.next_id(IdPurpose::Pipeline));
    }
}
