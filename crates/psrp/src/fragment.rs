//! The PSRP fragment: a 21-byte header and a blob that is a slice of one message (MS-PSRP 2.2.4).
//!
//! ```text
//! off 0   u64 BE  ObjectId     > 0, identifies the message being carried
//! off 8   u64 BE  FragmentId   0, 1, 2, ... within the object
//! off 16  u8      flags        bit 0 = Start (FragmentId 0), bit 1 = End; reserved bits ignored
//! off 17  u32 BE  BlobLength
//! off 21  ...     Blob
//! ```

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};
use nom::Parser;
use nom::number::complete::{be_u8, be_u32, be_u64};

/// Length of the fixed fragment header.
pub const FRAGMENT_HEADER_LEN: usize = 21;

const FLAG_START: u8 = 0x01;
const FLAG_END: u8 = 0x02;

/// The decoded 21-byte header of a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragmentHeader {
    /// The object (message) this fragment belongs to.
    pub object_id: u64,
    /// Position of this fragment within its object, from 0.
    pub fragment_id: u64,
    /// Start flag: this is the object's first fragment.
    pub start: bool,
    /// End flag: this is the object's last fragment.
    pub end: bool,
    /// Length of the blob that follows the header.
    pub blob_len: u32,
}

impl FragmentHeader {
    /// Parses a header from the first 21 bytes of `bytes`.
    ///
    /// Only the layout is checked here; the rules that relate fields to each other (a zero ObjectId, a Start flag
    /// on a FragmentId other than 0) are checked by [`FragmentHeader::validate`] so that a dissector can still show
    /// a malformed header.
    pub fn parse(bytes: &[u8]) -> Result<Self, FragmentError> {
        let (_, (object_id, fragment_id, flags, blob_len)) =
            (be_u64, be_u64, be_u8, be_u32).parse(bytes).map_err(|_: nom::Err<nom::error::Error<&[u8]>>| {
                FragmentError::TruncatedHeader { available: bytes.len() }
            })?;
        Ok(FragmentHeader {
            object_id,
            fragment_id,
            start: flags & FLAG_START != 0,
            end: flags & FLAG_END != 0,
            blob_len,
        })
    }

    /// Checks the rules of MS-PSRP 2.2.4 that a single header can break on its own.
    pub fn validate(&self) -> Result<(), FragmentError> {
        if self.object_id == 0 {
            return Err(FragmentError::ZeroObjectId);
        }
        if self.start != (self.fragment_id == 0) {
            return Err(FragmentError::StartFlagMismatch { object_id: self.object_id, fragment_id: self.fragment_id });
        }
        Ok(())
    }

    /// The flags byte.
    pub const fn flags(&self) -> u8 {
        (if self.start { FLAG_START } else { 0 }) | (if self.end { FLAG_END } else { 0 })
    }

    /// Writes the 21 header bytes.
    pub fn encode_into(&self, out: &mut impl BufMut) {
        out.put_u64(self.object_id);
        out.put_u64(self.fragment_id);
        out.put_u8(self.flags());
        out.put_u32(self.blob_len);
    }

    /// The 21 header bytes.
    pub fn to_bytes(&self) -> [u8; FRAGMENT_HEADER_LEN] {
        let mut out = [0u8; FRAGMENT_HEADER_LEN];
        self.encode_into(&mut &mut out[..]);
        out
    }
}

/// One fragment: header fields plus its blob, a zero-copy slice of the bytes it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// The object (message) this fragment belongs to.
    pub object_id: u64,
    /// Position of this fragment within its object, from 0.
    pub fragment_id: u64,
    /// Start flag.
    pub start: bool,
    /// End flag.
    pub end: bool,
    /// The slice of the message this fragment carries.
    pub blob: Bytes,
}

impl Fragment {
    /// The header describing this fragment.
    ///
    /// Blobs longer than `u32::MAX` cannot be framed; [`Fragment::encode_into`] refuses them.
    pub fn header(&self) -> FragmentHeader {
        FragmentHeader {
            object_id: self.object_id,
            fragment_id: self.fragment_id,
            start: self.start,
            end: self.end,
            blob_len: u32::try_from(self.blob.len()).unwrap_or(u32::MAX),
        }
    }

    /// Encoded length: header plus blob.
    pub fn encoded_len(&self) -> usize {
        FRAGMENT_HEADER_LEN + self.blob.len()
    }

    /// Appends the encoded fragment to `out`.
    pub fn encode_into(&self, out: &mut BytesMut) -> Result<(), FragmentError> {
        if u32::try_from(self.blob.len()).is_err() {
            return Err(FragmentError::BlobTooLong { len: self.blob.len() });
        }
        out.reserve(self.encoded_len());
        self.header().encode_into(out);
        out.put_slice(&self.blob);
        Ok(())
    }

    /// Decodes one fragment from the start of `bytes`, returning it and the bytes that follow it.
    ///
    /// The blob is a slice of `bytes`. The header is validated (see [`FragmentHeader::validate`]).
    pub fn decode(bytes: &Bytes) -> Result<(Fragment, Bytes), FragmentError> {
        let header = FragmentHeader::parse(bytes)?;
        header.validate()?;
        let end = FRAGMENT_HEADER_LEN.checked_add(header.blob_len as usize).filter(|&end| end <= bytes.len()).ok_or(
            FragmentError::BlobOverrun {
                object_id: header.object_id,
                declared: header.blob_len,
                available: bytes.len() - FRAGMENT_HEADER_LEN,
            },
        )?;
        let fragment = Fragment {
            object_id: header.object_id,
            fragment_id: header.fragment_id,
            start: header.start,
            end: header.end,
            blob: bytes.slice(FRAGMENT_HEADER_LEN..end),
        };
        Ok((fragment, bytes.slice(end..)))
    }

    /// Decodes every fragment of a complete payload (for example one decoded `rsp:Stream`).
    pub fn decode_all(payload: &Bytes) -> Result<Vec<Fragment>, FragmentError> {
        let mut rest = payload.clone();
        let mut out = Vec::new();
        while !rest.is_empty() {
            let (fragment, tail) = Fragment::decode(&rest)?;
            out.push(fragment);
            rest = tail;
        }
        Ok(out)
    }
}

/// Why bytes could not be read as a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FragmentError {
    /// Fewer than 21 bytes where a header was expected.
    TruncatedHeader {
        /// Bytes available.
        available: usize,
    },
    /// The header declares more blob bytes than the input holds.
    BlobOverrun {
        /// The fragment's object.
        object_id: u64,
        /// BlobLength from the header.
        declared: u32,
        /// Bytes that followed the header.
        available: usize,
    },
    /// ObjectId 0 is reserved.
    ZeroObjectId,
    /// The Start flag must be set exactly on FragmentId 0.
    StartFlagMismatch {
        /// The fragment's object.
        object_id: u64,
        /// The fragment's position.
        fragment_id: u64,
    },
    /// A blob of more than `u32::MAX` bytes cannot be framed.
    BlobTooLong {
        /// The blob's length.
        len: usize,
    },
}

impl fmt::Display for FragmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FragmentError::TruncatedHeader { available } => {
                write!(f, "fragment header needs {FRAGMENT_HEADER_LEN} bytes, only {available} available")
            }
            FragmentError::BlobOverrun { object_id, declared, available } => write!(
                f,
                "fragment of object {object_id} declares a {declared}-byte blob but only {available} bytes follow"
            ),
            FragmentError::ZeroObjectId => f.write_str("fragment has ObjectId 0, which is reserved"),
            FragmentError::StartFlagMismatch { object_id, fragment_id } => write!(
                f,
                "fragment {fragment_id} of object {object_id}: the Start flag must be set exactly on FragmentId 0"
            ),
            FragmentError::BlobTooLong { len } => write!(f, "a {len}-byte blob does not fit a fragment"),
        }
    }
}

impl std::error::Error for FragmentError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_matches_spec_example() {
        // MS-PSRP 4.2 and every Windows trace: ObjectId 1, FragmentId 0, S|E, 0xc7 bytes.
        let raw = [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0xc7];
        let header = FragmentHeader::parse(&raw).unwrap();
        assert_eq!(header, FragmentHeader { object_id: 1, fragment_id: 0, start: true, end: true, blob_len: 0xc7 });
        assert_eq!(header.to_bytes(), raw);
    }

    #[test]
    fn reserved_flag_bits_are_ignored() {
        let raw = [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xF3, 0, 0, 0, 0];
        let header = FragmentHeader::parse(&raw).unwrap();
        assert!(header.start && header.end);
    }

    #[test]
    fn malformed_fragments_are_typed_errors() {
        let truncated = Bytes::from_static(&[0; 20]);
        assert_eq!(Fragment::decode(&truncated), Err(FragmentError::TruncatedHeader { available: 20 }));

        let zero = Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0]);
        assert_eq!(Fragment::decode(&zero), Err(FragmentError::ZeroObjectId));

        let late_start = Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0]);
        assert_eq!(
            Fragment::decode(&late_start),
            Err(FragmentError::StartFlagMismatch { object_id: 1, fragment_id: 1 })
        );

        let mut huge = vec![0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff];
        huge.extend_from_slice(b"abc");
        assert_eq!(
            Fragment::decode(&Bytes::from(huge)),
            Err(FragmentError::BlobOverrun { object_id: 1, declared: u32::MAX, available: 3 })
        );
    }

    #[test]
    fn encode_decode_round_trip_is_zero_copy() {
        let fragment =
            Fragment { object_id: 7, fragment_id: 2, start: false, end: true, blob: Bytes::from_static(b"xyz") };
        let mut out = BytesMut::new();
        fragment.encode_into(&mut out).unwrap();
        out.extend_from_slice(b"tail");
        let wire = out.freeze();
        let (decoded, rest) = Fragment::decode(&wire).unwrap();
        assert_eq!(decoded, fragment);
        assert_eq!(&rest[..], b"tail");
        assert_eq!(decoded.blob.as_ptr(), wire[FRAGMENT_HEADER_LEN..].as_ptr());
    }
}
