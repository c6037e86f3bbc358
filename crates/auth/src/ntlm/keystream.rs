//! The RC4 sealing stream of one NTLM direction, with its keystream optionally generated ahead.
//!
//! Sealing a large WinRM message costs one RC4 pass and one HMAC-MD5 pass, and the two sides of a Receive take
//! turns: the endpoint seals while the client waits, the client unseals while the endpoint waits. RC4's keystream
//! does not depend on the data, so after a large message each side generates the next message's keystream on a
//! helper thread while it waits for the peer; the next message then costs an XOR instead of RC4 on the path the
//! peer waits on (measured in `benches/load-results.md`: the sealed 100 MB receive).
//!
//! The keystream is key material: it is wiped when consumed or dropped, and only ever as long as the last large
//! message (one keystream buffer per direction, only after a message of at least [`AHEAD_MIN`] bytes).

use std::thread::JoinHandle;

pub(crate) use rc4::Rc4;
use rc4::{KeyInit, StreamCipher};
use zeroize::Zeroizing;

use super::crypto::Key16;

/// Messages at least this long make the stream generate as much keystream ahead for the next one. Smaller
/// messages (requests, short responses) are cheaper to seal than a thread is to start.
pub(crate) const AHEAD_MIN: usize = 64 * 1024;

/// Keystream being generated on a helper thread: the cipher and the buffer moved there, given back filled.
type Generation = JoinHandle<(Box<Rc4>, Zeroizing<Vec<u8>>)>;

/// Where the cipher is.
enum Cipher {
    /// Here, positioned after all keystream handed out or buffered.
    Here(Box<Rc4>),
    /// On a helper thread, with the buffer. If the helper is lost, the stream restarts at the first byte not yet
    /// handed out.
    Ahead(Generation),
}

/// An RC4 keystream that continues across messages.
pub(crate) struct Rc4Stream {
    key: Key16,
    cipher: Cipher,
    /// Keystream generated ahead and not yet used (`buffer[used..]`); empty while the helper has it. The buffer is
    /// reused from message to message (no fresh pages, no wipe per message) and wiped when the stream is dropped.
    buffer: Zeroizing<Vec<u8>>,
    used: usize,
    /// Keystream bytes handed out: where the stream restarts if a helper and what it held are lost.
    handed_out: u64,
}

impl Rc4Stream {
    pub(crate) fn new(key: &[u8; 16]) -> Self {
        Self {
            key: Zeroizing::new(*key),
            cipher: Cipher::Here(Box::new(rc4_for(key))),
            buffer: Zeroizing::new(Vec::new()),
            used: 0,
            handed_out: 0,
        }
    }

    /// XORs the next `data.len()` keystream bytes into `data`.
    pub(crate) fn apply(&mut self, mut data: &mut [u8]) {
        loop {
            let buffered = &self.buffer[self.used..];
            let n = buffered.len().min(data.len());
            xor_into(&mut data[..n], &buffered[..n]);
            self.used += n;
            self.handed_out += n as u64;
            data = &mut data[n..];
            if data.is_empty() {
                return;
            }
            match &mut self.cipher {
                Cipher::Here(cipher) => {
                    cipher.apply_keystream(data);
                    self.handed_out += data.len() as u64;
                    return;
                }
                // The buffer is used up: the generated keystream comes next.
                Cipher::Ahead(_) => self.collect(),
            }
        }
    }

    /// Starts generating `len` more bytes of keystream on a helper thread, unless some is already being
    /// generated or at least `len` bytes are buffered. Used after a large message, while the peer prepares the
    /// next one.
    pub(crate) fn generate_ahead(&mut self, len: usize) {
        let rest = self.buffer.len() - self.used;
        if rest >= len || matches!(self.cipher, Cipher::Ahead(_)) {
            return;
        }
        let mut buffer = std::mem::take(&mut self.buffer);
        // The unused rest comes first; the helper appends after it.
        buffer.copy_within(self.used.., 0);
        buffer.truncate(rest);
        self.used = 0;
        let Cipher::Here(mut cipher) = std::mem::replace(&mut self.cipher, Cipher::Here(Box::new(rc4_for(&self.key))))
        else {
            return;
        };
        let spawned = std::thread::Builder::new().name("pssession-rc4".to_owned()).spawn(move || {
            buffer.resize(rest + len, 0);
            cipher.apply_keystream(&mut buffer[rest..]);
            (cipher, buffer)
        });
        match spawned {
            Ok(generation) => self.cipher = Cipher::Ahead(generation),
            // No thread (the process is at its limit): the cipher and the rest went with the refused closure.
            Err(_) => self.restart_at(self.handed_out),
        }
    }

    /// Takes the helper's buffer and the cipher back.
    fn collect(&mut self) {
        let Cipher::Ahead(generation) = std::mem::replace(&mut self.cipher, Cipher::Here(Box::new(rc4_for(&self.key))))
        else {
            return;
        };
        match generation.join() {
            Ok((cipher, buffer)) => {
                self.buffer = buffer;
                self.used = 0;
                self.cipher = Cipher::Here(cipher);
            }
            // The helper cannot panic (it only runs RC4), but if it did its keystream is lost: regenerate.
            Err(_) => self.restart_at(self.handed_out),
        }
    }

    /// Continues at keystream position `position` with nothing buffered.
    fn restart_at(&mut self, position: u64) {
        self.cipher = Cipher::Here(Box::new(rc4_at(&self.key, position)));
        self.buffer = Zeroizing::new(Vec::new());
        self.used = 0;
    }

    /// A cipher positioned at the next byte this stream hands out, leaving the stream as it is: for checking a
    /// message without consuming keystream. Costs RC4 over every byte handed out so far.
    pub(crate) fn probe(&self) -> Rc4 {
        rc4_at(&self.key, self.handed_out)
    }

    /// Restarts the keystream (SPNEGO resets it after the mechListMIC).
    pub(crate) fn reset(&mut self) {
        *self = Rc4Stream::new(&self.key);
    }
}

/// `data ^= keystream`, element-wise (a loop the compiler vectorizes).
fn xor_into(data: &mut [u8], keystream: &[u8]) {
    data.iter_mut().zip(keystream).for_each(|(d, k)| *d ^= k);
}

fn rc4_for(key: &[u8; 16]) -> Rc4 {
    // The rc4 crate accepts keys of 5..=32 bytes; ours are always 16 bytes, so this cannot fail.
    Rc4::new_from_slice(key).expect("RC4 accepts 16-byte keys")
}

/// A cipher positioned `position` bytes into its keystream.
fn rc4_at(key: &[u8; 16], position: u64) -> Rc4 {
    let mut cipher = rc4_for(key);
    let mut skip = Zeroizing::new([0u8; 4096]);
    let mut left = position;
    while left > 0 {
        let n = left.min(skip.len() as u64) as usize;
        cipher.apply_keystream(&mut skip[..n]);
        left -= n as u64;
    }
    cipher
}

/// One-shot RC4 (KEY_EXCH's EncryptedRandomSessionKey).
pub(crate) fn rc4_once(key: &[u8; 16], data: &[u8; 16]) -> Key16 {
    let mut out = Zeroizing::new(*data);
    rc4_for(key).apply_keystream(&mut *out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keystream of `len` bytes from a fresh cipher.
    fn reference(key: &[u8; 16], len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        rc4_for(key).apply_keystream(&mut out);
        out
    }

    /// Whatever the mix of message sizes and generate-ahead calls, the bytes handed out are the plain keystream
    /// in order.
    #[test]
    fn generated_ahead_keystream_continues_the_stream() {
        let key = [7u8; 16];
        let sizes = [10usize, 70_000, 3, 70_000, 200_000, 1, 64 * 1024, 5, 150_000, 90_000];
        let total: usize = sizes.iter().sum::<usize>() + 8 * sizes.len();
        let expected = reference(&key, total);
        for ahead in [0usize, 1, 1000, 64 * 1024, 100_000, 300_000] {
            let mut stream = Rc4Stream::new(&key);
            let mut got = Vec::new();
            for (i, &size) in sizes.iter().enumerate() {
                let mut message = vec![0u8; size];
                stream.apply(&mut message);
                got.extend_from_slice(&message);
                let mut checksum = [0u8; 8];
                stream.apply(&mut checksum);
                got.extend_from_slice(&checksum);
                if ahead > 0 && i % 3 != 2 {
                    stream.generate_ahead(ahead);
                }
            }
            assert_eq!(got, expected, "ahead = {ahead}");
        }
    }

    #[test]
    fn reset_discards_generated_keystream() {
        let key = [9u8; 16];
        let mut stream = Rc4Stream::new(&key);
        let mut first = vec![0u8; 100];
        stream.apply(&mut first);
        stream.generate_ahead(100_000);
        stream.reset();
        let mut again = vec![0u8; 100];
        stream.apply(&mut again);
        assert_eq!(first, again);
    }

    /// The recovery path (a refused or lost helper) continues the stream where it was.
    #[test]
    fn restarting_keeps_the_position() {
        let key = [5u8; 16];
        let expected = reference(&key, 300_000);
        let mut stream = Rc4Stream::new(&key);
        let mut first = vec![0u8; 100_000];
        stream.apply(&mut first);
        stream.generate_ahead(150_000);
        let mut second = vec![0u8; 50_000];
        stream.apply(&mut second);
        // As if the helper of the next generation were lost: restart at the first byte not handed out.
        stream.generate_ahead(150_000);
        assert!(matches!(stream.cipher, Cipher::Ahead(_)), "no helper started");
        assert_eq!(stream.handed_out, 150_000);
        stream.restart_at(stream.handed_out);
        let mut third = vec![0u8; 150_000];
        stream.apply(&mut third);
        assert_eq!([first, second, third].concat(), expected[..300_000]);
    }

    /// A probe yields the keystream the stream hands out next, whatever was generated ahead, and the stream is
    /// unchanged by it.
    #[test]
    fn a_probe_is_at_the_next_byte_and_leaves_the_stream() {
        let key = [4u8; 16];
        let expected = reference(&key, 250_000);
        let mut stream = Rc4Stream::new(&key);
        let mut first = vec![0u8; 70_000];
        stream.apply(&mut first);
        stream.generate_ahead(100_000);
        let mut probed = vec![0u8; 1_000];
        stream.probe().apply_keystream(&mut probed);
        assert_eq!(probed, expected[70_000..71_000]);
        let mut next = vec![0u8; 180_000];
        stream.apply(&mut next);
        assert_eq!([first, next].concat(), expected[..250_000]);
    }

    #[test]
    fn a_rebuilt_cipher_is_at_its_position() {
        let key = [3u8; 16];
        let expected = reference(&key, 10_000);
        let mut cipher = rc4_at(&key, 5_000 + 123);
        let mut rest = vec![0u8; 10_000 - 5_123];
        cipher.apply_keystream(&mut rest);
        assert_eq!(rest, expected[5_123..]);
    }
}
