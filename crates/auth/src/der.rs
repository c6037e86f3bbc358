//! A minimal DER reader and writer: single-byte tags, definite lengths, no recursion.
//! Enough for SPNEGO tokens and the signature algorithm of an X.509 certificate.

use crate::error::{AuthError, malformed};

/// Reads consecutive TLVs from a buffer.
pub(crate) struct DerReader<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> DerReader<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { rest: buf, what }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next TLV's tag byte without consuming it.
    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Reads one TLV, returning its tag byte and content.
    pub(crate) fn read(&mut self) -> Result<(u8, &'a [u8]), AuthError> {
        let what = self.what;
        let (&tag, rest) = self.rest.split_first().ok_or(malformed(what, "truncated DER tag"))?;
        if tag & 0x1f == 0x1f {
            return Err(malformed(what, "multi-byte DER tags are not supported"));
        }
        let (&first, mut rest) = rest.split_first().ok_or(malformed(what, "truncated DER length"))?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 {
                return Err(malformed(what, "unsupported DER length form"));
            }
            let (bytes, after) = rest.split_at_checked(n).ok_or(malformed(what, "truncated DER length"))?;
            rest = after;
            bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        let (content, after) = rest.split_at_checked(len).ok_or(malformed(what, "DER length exceeds the data"))?;
        self.rest = after;
        Ok((tag, content))
    }

    /// Reads one TLV and checks its tag.
    pub(crate) fn expect(&mut self, tag: u8) -> Result<&'a [u8], AuthError> {
        let (got, content) = self.read()?;
        if got != tag {
            return Err(malformed(self.what, "unexpected DER tag"));
        }
        Ok(content)
    }
}

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const OID: u8 = 0x06;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const ENUMERATED: u8 = 0x0a;
pub(crate) const BIT_STRING: u8 = 0x03;

/// Context-specific constructed tag `[n]`.
pub(crate) const fn context(n: u8) -> u8 {
    0xa0 | n
}

/// Appends one TLV to `out`.
pub(crate) fn write_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
}

/// One TLV as a new buffer.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    write_tlv(&mut out, tag, content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let data = vec![7u8; len];
            let enc = tlv(OCTET_STRING, &data);
            let mut r = DerReader::new(&enc, "test");
            assert_eq!(r.expect(OCTET_STRING).unwrap(), &data[..]);
            assert!(r.is_empty());
        }
    }

    #[test]
    fn truncated_and_oversized_lengths_are_errors() {
        for bad in [&[0x30][..], &[0x30, 0x85, 1, 1, 1, 1, 1], &[0x30, 0x82, 0x01], &[0x30, 0x05, 1], &[0x1f, 0]] {
            assert!(DerReader::new(bad, "test").read().is_err(), "{bad:?}");
        }
    }
}
