//! Streaming reassembly of PSRP objects from fragments (MS-PSRP 2.2.4, 3.1.5.1.2).
//!
//! A [`Defragmenter`] is fed byte chunks exactly as the transport delivers them — one decoded `rsp:Stream`, a piece
//! of one, or several concatenated — and hands out whole objects (the bytes of one PSRP message each):
//!
//! * a fragment header or blob may be split across any number of chunks, and one chunk may hold many fragments;
//! * fragments of different objects may interleave; FragmentId order is enforced *within* an object only, because
//!   Windows delivers objects out of ObjectId order after a Connect;
//! * an object carried by a single fragment that lies inside one chunk is handed out as a zero-copy slice of that
//!   chunk; larger objects are copied once, into a buffer of their exact size;
//! * after a Connect or Reconnect the first bytes may be the tail of an object whose start was sent to an earlier
//!   client: [`Defragmenter::resynchronise`] discards such trailing fragments until the next start fragment, as
//!   PowerShell's `PrepareForStreamConnect` does.
//!
//! Every violation of the framing rules is a [`DefragmentError`]. The stream cannot be trusted after one, so the
//! error is sticky: later calls return it again until [`Defragmenter::resynchronise`] or
//! [`Defragmenter::reset`] starts over.

use std::collections::VecDeque;
use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

use crate::fragment::{FRAGMENT_HEADER_LEN, FragmentError, FragmentHeader};

/// Limits that bound the memory a peer can make the [`Defragmenter`] hold.
///
/// The memory held for incomplete objects never exceeds `max_pending_bytes` (plus at most one chunk of unparsed
/// input the caller handed over).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DefragmenterLimits {
    /// Largest reassembled object, in bytes. PowerShell's client default (`MaximumReceivedObjectSize`) is 200 MiB.
    pub max_object_size: usize,
    /// Most objects that may be partially received at once.
    pub max_pending_objects: usize,
    /// Most bytes held across all partially received objects.
    pub max_pending_bytes: usize,
}

impl DefragmenterLimits {
    /// PowerShell's `MaximumReceivedObjectSize` default: 200 MiB.
    pub const DEFAULT_MAX_OBJECT_SIZE: usize = 200 << 20;
    /// Default for [`DefragmenterLimits::max_pending_objects`]. PowerShell itself keeps one per stream.
    pub const DEFAULT_MAX_PENDING_OBJECTS: usize = 64;

    /// Limits with the given maximum object size, which also bounds the total pending bytes.
    pub const fn with_max_object_size(max_object_size: usize) -> Self {
        DefragmenterLimits {
            max_object_size,
            max_pending_objects: Self::DEFAULT_MAX_PENDING_OBJECTS,
            max_pending_bytes: max_object_size,
        }
    }

    /// Replaces the maximum number of partially received objects.
    pub const fn max_pending_objects(mut self, max: usize) -> Self {
        self.max_pending_objects = max;
        self
    }

    /// Replaces the maximum number of bytes held across partially received objects.
    pub const fn max_pending_bytes(mut self, max: usize) -> Self {
        self.max_pending_bytes = max;
        self
    }
}

impl Default for DefragmenterLimits {
    fn default() -> Self {
        Self::with_max_object_size(Self::DEFAULT_MAX_OBJECT_SIZE)
    }
}

/// One reassembled object: the complete bytes of a PSRP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReassembledObject {
    /// The ObjectId its fragments carried.
    pub object_id: u64,
    /// The message bytes (decode with [`crate::Message::decode`]).
    pub data: Bytes,
}

/// A violation of the fragment framing rules or of a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DefragmentError {
    /// A fragment header broke a rule on its own (zero ObjectId, Start flag on a later fragment).
    Fragment(FragmentError),
    /// A fragment other than the first arrived for an object whose start was never seen.
    UnknownObject {
        /// The fragment's object.
        object_id: u64,
        /// The fragment's position.
        fragment_id: u64,
    },
    /// A start fragment arrived for an object that is still being reassembled.
    DuplicateObjectId {
        /// The repeated ObjectId.
        object_id: u64,
    },
    /// A fragment arrived out of order within its object.
    FragmentIdGap {
        /// The object.
        object_id: u64,
        /// The FragmentId that should have come next.
        expected: u64,
        /// The FragmentId that came.
        actual: u64,
    },
    /// The object grew beyond [`DefragmenterLimits::max_object_size`].
    ObjectTooLarge {
        /// The object.
        object_id: u64,
        /// Its size including the fragment that broke the limit.
        size: u64,
        /// The limit.
        limit: usize,
    },
    /// More objects than [`DefragmenterLimits::max_pending_objects`] were partially received at once.
    TooManyPendingObjects {
        /// The limit.
        limit: usize,
    },
    /// Partially received objects would hold more than [`DefragmenterLimits::max_pending_bytes`].
    PendingBytesExceeded {
        /// The limit.
        limit: usize,
    },
    /// [`Defragmenter::finish`] found an incomplete fragment or object at the end of the stream.
    Truncated {
        /// Bytes of unparsed input left over (part of a header or blob).
        buffered: usize,
        /// Objects whose end fragment never arrived.
        incomplete_objects: usize,
    },
}

impl fmt::Display for DefragmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DefragmentError::Fragment(e) => e.fmt(f),
            DefragmentError::UnknownObject { object_id, fragment_id } => {
                write!(f, "fragment {fragment_id} of object {object_id} arrived without the object's start fragment")
            }
            DefragmentError::DuplicateObjectId { object_id } => {
                write!(f, "object {object_id} started again while it was still being reassembled")
            }
            DefragmentError::FragmentIdGap { object_id, expected, actual } => {
                write!(f, "object {object_id}: expected fragment {expected}, received fragment {actual}")
            }
            DefragmentError::ObjectTooLarge { object_id, size, limit } => {
                write!(f, "object {object_id} reached {size} bytes, more than the maximum object size of {limit}")
            }
            DefragmentError::TooManyPendingObjects { limit } => {
                write!(f, "more than {limit} objects are being reassembled at once")
            }
            DefragmentError::PendingBytesExceeded { limit } => {
                write!(f, "partially received objects would hold more than {limit} bytes")
            }
            DefragmentError::Truncated { buffered, incomplete_objects } => write!(
                f,
                "stream ended inside a fragment ({buffered} bytes buffered) or with {incomplete_objects} incomplete objects"
            ),
        }
    }
}

impl std::error::Error for DefragmentError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DefragmentError::Fragment(e) => Some(e),
            _ => None,
        }
    }
}

impl From<FragmentError> for DefragmentError {
    fn from(e: FragmentError) -> Self {
        DefragmentError::Fragment(e)
    }
}

/// Wasted bytes a pending object may pin before its pieces are compacted (see [`PendingObject::waste`]).
const COMPACTION_SLACK: usize = 64 << 10;

/// An object whose start fragment has arrived but whose end fragment has not.
#[derive(Debug)]
struct PendingObject {
    object_id: u64,
    next_fragment_id: u64,
    /// Blob pieces in order; each is a slice of an input chunk.
    segments: Vec<Bytes>,
    len: usize,
    /// Bytes of earlier input chunks that `segments` keep allocated without using them: a small piece of a large
    /// chunk pins the whole chunk. When the waste exceeds the object's own size (plus slack) the pieces are copied
    /// out, so memory stays proportional to `max_pending_bytes` whatever the chunking, while an object that fills
    /// its chunks (the normal case) is never copied twice.
    waste: usize,
    /// The chunk the latest piece came from, and how many of its bytes this object took.
    current_chunk: Option<(ChunkOrigin, usize)>,
}

impl PendingObject {
    fn append(&mut self, piece: Bytes, chunk: ChunkOrigin) {
        match &mut self.current_chunk {
            Some((current, taken)) if current.seq == chunk.seq => *taken += piece.len(),
            previous => {
                if let Some((origin, taken)) = previous.take() {
                    self.waste += origin.len - taken;
                }
                if self.waste > self.len + COMPACTION_SLACK {
                    let compacted = concat(std::mem::take(&mut self.segments));
                    self.segments.push(compacted);
                    self.waste = 0;
                }
                self.current_chunk = Some((chunk, piece.len()));
            }
        }
        self.len += piece.len();
        self.segments.push(piece);
    }

    /// Upper bound of the input bytes this object keeps allocated.
    fn retained(&self) -> usize {
        self.len + self.waste + self.current_chunk.map_or(0, |(origin, taken)| origin.len - taken)
    }
}

/// An input chunk not yet fully parsed.
#[derive(Debug)]
struct InputChunk {
    bytes: Bytes,
    origin: ChunkOrigin,
}

/// Identity and original size of an input chunk.
#[derive(Debug, Clone, Copy)]
struct ChunkOrigin {
    seq: u64,
    len: usize,
}

/// Where the blob bytes being read belong.
#[derive(Debug, Clone, Copy)]
enum BlobTarget {
    /// A fragment that is both start and end: the whole object.
    Whole { object_id: u64 },
    /// The pending object at this index of `pending`.
    Pending(usize),
    /// Discarded (resynchronising).
    Discard,
}

#[derive(Debug, Clone, Copy)]
struct BlobInProgress {
    target: BlobTarget,
    end: bool,
    remaining: usize,
}

/// Streaming defragmenter. See the [module documentation](self).
#[derive(Debug, Default)]
pub struct Defragmenter {
    limits: DefragmenterLimits,
    input: VecDeque<InputChunk>,
    input_len: usize,
    next_chunk_seq: u64,
    blob: Option<BlobInProgress>,
    /// Pieces of a single-fragment object whose blob spans chunks.
    whole_segments: Vec<Bytes>,
    pending: Vec<PendingObject>,
    pending_bytes: usize,
    resynchronising: bool,
    failed: Option<DefragmentError>,
}

impl Defragmenter {
    /// A defragmenter with the default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// A defragmenter with the given limits.
    pub fn with_limits(limits: DefragmenterLimits) -> Self {
        Defragmenter { limits, ..Self::default() }
    }

    /// The limits in force.
    pub fn limits(&self) -> DefragmenterLimits {
        self.limits
    }

    /// Hands over the next chunk of received bytes. Nothing is parsed until [`Defragmenter::next_object`].
    pub fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() {
            self.input_len += chunk.len();
            let origin = ChunkOrigin { seq: self.next_chunk_seq, len: chunk.len() };
            self.next_chunk_seq += 1;
            self.input.push_back(InputChunk { bytes: chunk, origin });
        }
    }

    /// Copies a borrowed chunk in; prefer [`Defragmenter::push`] with the received `Bytes`.
    pub fn push_slice(&mut self, chunk: &[u8]) {
        self.push(Bytes::copy_from_slice(chunk));
    }

    /// The next complete object, `Ok(None)` when more input is needed.
    pub fn next_object(&mut self) -> Result<Option<ReassembledObject>, DefragmentError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.advance() {
            Ok(object) => Ok(object),
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Feeds one chunk and collects every object it completes.
    pub fn feed(&mut self, chunk: Bytes) -> Result<Vec<ReassembledObject>, DefragmentError> {
        self.push(chunk);
        let mut out = Vec::new();
        while let Some(object) = self.next_object()? {
            out.push(object);
        }
        Ok(out)
    }

    /// Checks that the stream ended on an object boundary: no buffered partial fragment, no incomplete object.
    ///
    /// Call it where the transport guarantees completeness (for example after the last payload of a
    /// `creationXml`), never between two Receive responses, which may legitimately split an object.
    pub fn finish(&mut self) -> Result<(), DefragmentError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.input_len > 0 || self.blob.is_some() || !self.pending.is_empty() {
            let e = DefragmentError::Truncated { buffered: self.input_len, incomplete_objects: self.pending.len() };
            self.failed = Some(e.clone());
            return Err(e);
        }
        Ok(())
    }

    /// Objects currently partially received.
    pub fn pending_objects(&self) -> usize {
        self.pending.len()
    }

    /// Upper bound of the input bytes kept allocated by partially received objects: their own bytes plus the
    /// unused rest of the chunks their pieces were cut from. Per object it stays below twice its size plus 64 KiB
    /// plus one input chunk, whatever the chunking.
    pub fn retained_bytes(&self) -> usize {
        self.pending.iter().map(PendingObject::retained).sum()
    }

    /// Bytes handed over but not yet parsed.
    pub fn buffered_len(&self) -> usize {
        self.input_len
    }

    /// Whether trailing fragments are currently being discarded (see [`Defragmenter::resynchronise`]).
    pub fn is_resynchronising(&self) -> bool {
        self.resynchronising
    }

    /// Forgets everything buffered and partially reassembled, and clears a sticky error.
    pub fn reset(&mut self) {
        let limits = self.limits;
        *self = Defragmenter::with_limits(limits);
    }

    /// Starts over for a stream that resumes after a Connect or Reconnect: forgets partial state, then discards
    /// fragments of objects whose start it has not seen until the next start fragment arrives.
    pub fn resynchronise(&mut self) {
        self.reset();
        self.resynchronising = true;
    }

    fn advance(&mut self) -> Result<Option<ReassembledObject>, DefragmentError> {
        loop {
            let blob = match self.blob {
                Some(blob) => blob,
                None => match self.read_header()? {
                    Some(blob) => blob,
                    None => return Ok(None),
                },
            };
            if let Some(object) = self.read_blob(blob)? {
                return Ok(Some(object));
            }
            if self.blob.is_some() {
                // The blob continues in input not yet received.
                return Ok(None);
            }
        }
    }

    /// Parses the next header if enough input is buffered and decides where its blob goes.
    fn read_header(&mut self) -> Result<Option<BlobInProgress>, DefragmentError> {
        if self.input_len < FRAGMENT_HEADER_LEN {
            return Ok(None);
        }
        let header = match self.input.front() {
            Some(front) if front.bytes.len() >= FRAGMENT_HEADER_LEN => FragmentHeader::parse(&front.bytes)?,
            _ => {
                let mut raw = [0u8; FRAGMENT_HEADER_LEN];
                self.copy_front(&mut raw);
                FragmentHeader::parse(&raw)?
            }
        };
        self.consume(FRAGMENT_HEADER_LEN);
        header.validate()?;
        let blob_len = header.blob_len as usize;

        let target = if header.start {
            self.resynchronising = false;
            if self.pending.iter().any(|p| p.object_id == header.object_id) {
                return Err(DefragmentError::DuplicateObjectId { object_id: header.object_id });
            }
            self.check_object_size(header.object_id, 0, blob_len)?;
            if header.end {
                BlobTarget::Whole { object_id: header.object_id }
            } else {
                if self.pending.len() >= self.limits.max_pending_objects {
                    return Err(DefragmentError::TooManyPendingObjects { limit: self.limits.max_pending_objects });
                }
                self.reserve_pending(blob_len)?;
                self.pending.push(PendingObject {
                    object_id: header.object_id,
                    next_fragment_id: 1,
                    segments: Vec::new(),
                    len: 0,
                    waste: 0,
                    current_chunk: None,
                });
                BlobTarget::Pending(self.pending.len() - 1)
            }
        } else {
            match self.pending.iter().position(|p| p.object_id == header.object_id) {
                Some(index) => {
                    let object = &self.pending[index];
                    if object.next_fragment_id != header.fragment_id {
                        return Err(DefragmentError::FragmentIdGap {
                            object_id: header.object_id,
                            expected: object.next_fragment_id,
                            actual: header.fragment_id,
                        });
                    }
                    self.check_object_size(header.object_id, object.len, blob_len)?;
                    self.reserve_pending(blob_len)?;
                    self.pending[index].next_fragment_id += 1;
                    BlobTarget::Pending(index)
                }
                None if self.resynchronising => BlobTarget::Discard,
                None => {
                    return Err(DefragmentError::UnknownObject {
                        object_id: header.object_id,
                        fragment_id: header.fragment_id,
                    });
                }
            }
        };
        let blob = BlobInProgress { target, end: header.end, remaining: blob_len };
        self.blob = Some(blob);
        Ok(Some(blob))
    }

    fn check_object_size(&self, object_id: u64, current: usize, blob_len: usize) -> Result<(), DefragmentError> {
        let size = current as u64 + blob_len as u64;
        if size > self.limits.max_object_size as u64 {
            return Err(DefragmentError::ObjectTooLarge { object_id, size, limit: self.limits.max_object_size });
        }
        Ok(())
    }

    fn reserve_pending(&mut self, blob_len: usize) -> Result<(), DefragmentError> {
        match self.pending_bytes.checked_add(blob_len) {
            Some(total) if total <= self.limits.max_pending_bytes => {
                self.pending_bytes = total;
                Ok(())
            }
            _ => Err(DefragmentError::PendingBytesExceeded { limit: self.limits.max_pending_bytes }),
        }
    }

    /// Moves blob bytes from the input to their target; returns an object when one completes.
    fn read_blob(&mut self, mut blob: BlobInProgress) -> Result<Option<ReassembledObject>, DefragmentError> {
        // Fast path, the common case: a whole object in one fragment inside the front chunk becomes a slice of it.
        if let BlobTarget::Whole { object_id } = blob.target
            && self.whole_segments.is_empty()
            && let Some(front) = self.input.front_mut()
            && front.bytes.len() >= blob.remaining
        {
            let data = front.bytes.split_to(blob.remaining);
            if front.bytes.is_empty() {
                self.input.pop_front();
            }
            self.input_len -= blob.remaining;
            self.blob = None;
            return Ok(Some(ReassembledObject { object_id, data }));
        }
        while blob.remaining > 0 {
            let Some(front) = self.input.front_mut() else {
                self.blob = Some(blob);
                return Ok(None);
            };
            let take = blob.remaining.min(front.bytes.len());
            let piece = front.bytes.split_to(take);
            let origin = front.origin;
            if front.bytes.is_empty() {
                self.input.pop_front();
            }
            self.input_len -= take;
            blob.remaining -= take;
            match blob.target {
                BlobTarget::Whole { .. } => self.whole_segments.push(piece),
                BlobTarget::Pending(index) => self.pending[index].append(piece, origin),
                BlobTarget::Discard => {}
            }
        }
        self.blob = None;
        if !blob.end {
            return Ok(None);
        }
        Ok(match blob.target {
            BlobTarget::Whole { object_id } => {
                Some(ReassembledObject { object_id, data: concat(std::mem::take(&mut self.whole_segments)) })
            }
            BlobTarget::Pending(index) => {
                let object = self.pending.swap_remove(index);
                self.pending_bytes -= object.len;
                Some(ReassembledObject { object_id: object.object_id, data: concat(object.segments) })
            }
            BlobTarget::Discard => None,
        })
    }

    /// Copies the first `out.len()` buffered bytes without consuming them.
    fn copy_front(&self, out: &mut [u8]) {
        let mut filled = 0;
        for chunk in &self.input {
            let take = (out.len() - filled).min(chunk.bytes.len());
            out[filled..filled + take].copy_from_slice(&chunk.bytes[..take]);
            filled += take;
            if filled == out.len() {
                break;
            }
        }
    }

    fn consume(&mut self, mut n: usize) {
        self.input_len -= n;
        while n > 0 {
            let Some(front) = self.input.front_mut() else { return };
            if front.bytes.len() > n {
                front.bytes.advance(n);
                return;
            }
            n -= front.bytes.len();
            self.input.pop_front();
        }
    }
}

/// Joins blob pieces: zero-copy for one piece, one exact-size copy otherwise.
fn concat(mut segments: Vec<Bytes>) -> Bytes {
    match segments.len() {
        0 => Bytes::new(),
        1 => segments.pop().unwrap_or_default(),
        _ => {
            let len = segments.iter().map(Bytes::len).sum();
            let mut out = BytesMut::with_capacity(len);
            for segment in &segments {
                out.extend_from_slice(segment);
            }
            out.freeze()
        }
    }
}
