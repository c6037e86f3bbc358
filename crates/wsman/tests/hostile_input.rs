//! Hostile input against the WS-Man layer: encrypted bodies declaring 4 GiB, envelopes nested a million deep or
//! a million elements wide, and (feature `transport`) servers answering with a 4 GiB `Content-Length` or an
//! endless chunked body. Each ends in its typed error, and the heap stays within a bound derived from the limit
//! that stopped it (`multipart::Limits`, `envelope::Limits`, `TransportOptions::max_response_bytes`).
//!
//! Peak heap is measured with `dhat` in testing mode (the workspace forbids `unsafe`, so the test cannot write
//! its own counting allocator). Inputs are built before measuring starts; the tests run one at a time, as the
//! allocator's counters are global
//! (each holds `serial()` from its first line, while it builds its input too).

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use pssession_wsman::envelope::{self, Limits as EnvelopeLimits};
use pssession_wsman::error::EnvelopeError;
use pssession_wsman::multipart::{self, Limits, MessageSealer, MultipartError, SealError, Sealed};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

static SERIAL: Mutex<()> = Mutex::new(());

/// Held for a whole test, input building included: the counters see every thread's allocations.
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Heap and time measured from `start` on; the profiler stops when this is dropped.
struct Measuring {
    profiler: Option<dhat::Profiler>,
    started: Instant,
}

impl Measuring {
    fn start() -> Self {
        let profiler = dhat::Profiler::builder().testing().build();
        Measuring { profiler: Some(profiler), started: Instant::now() }
    }

    /// The heap's peak above what was live at `start`, and the time since.
    fn stop(mut self) -> (usize, Duration) {
        let elapsed = self.started.elapsed();
        let peak = dhat::HeapStats::get().max_bytes;
        self.profiler.take();
        eprintln!("peak heap {peak} bytes in {elapsed:?}");
        (peak, elapsed)
    }
}

/// "Promptly", generously: an unoptimised build with every allocation recorded by the profiler.
const PROMPT: Duration = Duration::from_secs(10);

/// A sealer that must never be reached: the framing is refused before any part is unwrapped.
struct Unreachable;

impl MessageSealer for Unreachable {
    fn wrap(&mut self, _: &[u8]) -> Result<Sealed, SealError> {
        Err(SealError::new("wrap must not be called"))
    }

    fn unwrap(&mut self, _: &[u8], _: &[u8]) -> Result<Vec<u8>, SealError> {
        Err(SealError::new("unwrap must not be called"))
    }
}

const SPNEGO: &str =
    "multipart/encrypted;protocol=\"application/HTTP-SPNEGO-session-encrypted\";boundary=\"Encrypted Boundary\"";

/// One encrypted part: `declared` is the `Length=` of the plaintext, `header_len` the 4-byte seal-header length.
fn part(declared: u64, header_len: u32) -> Vec<u8> {
    let mut out = format!(
        "--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n\
         \tOriginalContent: type=application/soap+xml;charset=UTF-8;Length={declared}\r\n\
         --Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n"
    )
    .into_bytes();
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(&[0x55; 16]);
    out.extend_from_slice(b"ciphertext");
    out
}

fn body(parts: impl IntoIterator<Item = Vec<u8>>) -> Vec<u8> {
    let mut out: Vec<u8> = parts.into_iter().flatten().collect();
    out.extend_from_slice(b"--Encrypted Boundary--\r\n");
    out
}

#[test]
fn an_encrypted_part_declaring_4_gib_is_refused_before_unwrapping() {
    let _serial = serial();
    let body = body([part(4 << 30, 16)]);
    let measuring = Measuring::start();
    let result = multipart::decrypt(&mut Unreachable, SPNEGO, &body, &Limits::default());
    let (peak, elapsed) = measuring.stop();
    assert_eq!(result, Err(MultipartError::TooLarge));
    assert!(peak < 4 << 10, "peak {peak} bytes");
    assert!(elapsed < PROMPT);
}

#[test]
fn a_seal_header_length_of_4_gib_is_malformed_not_an_allocation() {
    let _serial = serial();
    let body = body([part(10, u32::MAX)]);
    let measuring = Measuring::start();
    let result = multipart::decrypt(&mut Unreachable, SPNEGO, &body, &Limits::default());
    let (peak, _) = measuring.stop();
    assert!(matches!(result, Err(MultipartError::Malformed { expected: "seal header", .. })), "{result:?}");
    assert!(peak < 4 << 10, "peak {peak} bytes");
}

#[test]
fn parts_beyond_the_part_limit_are_refused_with_the_part_table_bounded() {
    let _serial = serial();
    let limits = Limits::default();
    let body = body((0..limits.max_parts + 1000).map(|_| part(10, 16)));
    let measuring = Measuring::start();
    let result = multipart::parse_parts(&body, &limits);
    let (peak, _) = measuring.stop();
    assert_eq!(result, Err(MultipartError::TooManyParts));
    // The table of borrowed parts (a few words each, grown by doubling) up to the limit; the body is not copied.
    let bound = limits.max_parts * 2 * std::mem::size_of::<multipart::EncryptedPart<'_>>();
    assert!(peak < bound, "peak {peak} bytes, bound {bound}");
}

const SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";

#[test]
fn a_million_nested_elements_stop_at_the_depth_limit() {
    let _serial = serial();
    let limits = EnvelopeLimits::default();
    let mut xml = format!("<s:Envelope xmlns:s=\"{SOAP}\"><s:Body>").into_bytes();
    xml.extend_from_slice(&b"<a>".repeat(1_000_000));
    let measuring = Measuring::start();
    let result = envelope::parse_request(&xml, &limits);
    let (peak, elapsed) = measuring.stop();
    assert!(matches!(result, Err(EnvelopeError::TooDeep)), "{result:?}");
    // One open element per level up to the limit of 64.
    assert!(peak < limits.max_depth * 1024, "peak {peak} bytes");
    assert!(elapsed < PROMPT);
}

#[test]
fn a_million_sibling_elements_stop_at_the_element_limit() {
    let _serial = serial();
    let limits = EnvelopeLimits::default();
    let mut xml = format!("<s:Envelope xmlns:s=\"{SOAP}\"><s:Body>").into_bytes();
    xml.extend_from_slice(&b"<a/>".repeat(1_000_000));
    xml.extend_from_slice(b"</s:Body></s:Envelope>");
    let measuring = Measuring::start();
    let result = envelope::parse_request(&xml, &limits);
    let (peak, elapsed) = measuring.stop();
    assert!(matches!(result, Err(EnvelopeError::TooManyElements)), "{result:?}");
    // The tree holds at most `max_elements` elements of a few hundred bytes each.
    assert!(peak < limits.max_elements * 256, "peak {peak} bytes for {} elements", limits.max_elements);
    assert!(elapsed < PROMPT);
}

#[test]
fn an_envelope_over_the_size_limit_is_refused_before_parsing() {
    let _serial = serial();
    let limits = EnvelopeLimits { max_envelope: 64 << 10, ..EnvelopeLimits::default() };
    let mut xml = format!("<s:Envelope xmlns:s=\"{SOAP}\"><s:Body>").into_bytes();
    xml.resize(1 << 20, b' ');
    let measuring = Measuring::start();
    let result = envelope::parse_request(&xml, &limits);
    let (peak, _) = measuring.stop();
    assert_eq!(result.err(), Some(EnvelopeError::TooLarge { size: 1 << 20, limit: 64 << 10 }));
    assert!(peak < 4 << 10, "peak {peak} bytes");
}

#[cfg(feature = "transport")]
mod support;

#[cfg(feature = "transport")]
mod transport {
    //! A hostile server on a raw socket: the client must not wait for, or buffer, what the server declares.

    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener};
    use std::time::Duration;

    use bytes::Bytes;
    use pssession_wsman::transport::{EndpointUri, HttpTransport, TransportError, TransportOptions};

    use super::support::Anonymous;
    use super::{Measuring, PROMPT};

    /// A server on its own thread that reads one request and answers with `head`, then writes `chunk` until the
    /// client hangs up (or, when `chunk` is empty, holds the connection open until the client hangs up).
    fn hostile_server(head: &'static [u8], chunk: &'static [u8]) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let Ok((mut tcp, _)) = listener.accept() else { return };
            let mut request = [0u8; 4096];
            let _ = tcp.read(&mut request);
            if tcp.write_all(head).is_err() {
                return;
            }
            if chunk.is_empty() {
                let _ = tcp.read(&mut request);
                return;
            }
            while tcp.write_all(chunk).is_ok() {}
        });
        addr
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    fn transport(addr: SocketAddr, max_response_bytes: usize) -> HttpTransport {
        let mut options = TransportOptions::default();
        options.connect_timeout = Duration::from_secs(5);
        // Far beyond PROMPT: a client that waited for the declared body would fail the timing assertion.
        options.request_timeout = Duration::from_secs(60);
        options.max_response_bytes = max_response_bytes;
        let uri = EndpointUri::from_connection_uri(&format!("http://{addr}/wsman")).unwrap();
        HttpTransport::new(uri, options, Box::new(Anonymous)).unwrap()
    }

    #[test]
    fn a_response_declaring_4_gib_is_refused_from_its_headers() {
        let _serial = super::serial();
        let addr = hostile_server(b"HTTP/1.1 200 OK\r\nContent-Length: 4294967296\r\n\r\n<s:Envelope>", b"");
        let mut transport = transport(addr, TransportOptions::default().max_response_bytes);
        let measuring = Measuring::start();
        let result = runtime().block_on(transport.send(Bytes::from_static(b"<s:Envelope/>")));
        let (peak, elapsed) = measuring.stop();
        assert!(matches!(result, Err(TransportError::ResponseTooLarge { limit }) if limit == 16 << 20), "{result:?}");
        assert!(elapsed < PROMPT, "waited {elapsed:?} for a body it should refuse");
        // Connection setup and the response head; nothing of the declared body, nor of the 16 MiB limit.
        assert!(peak < 256 << 10, "peak {peak} bytes");
    }

    #[test]
    fn an_endless_chunked_response_stops_at_the_response_limit() {
        let _serial = super::serial();
        const LIMIT: usize = 1 << 20;
        let addr = hostile_server(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            &pssession_testkit::ENDLESS_BODY_CHUNK,
        );
        let mut transport = transport(addr, LIMIT);
        let measuring = Measuring::start();
        let result = runtime().block_on(transport.send(Bytes::from_static(b"<s:Envelope/>")));
        let (peak, elapsed) = measuring.stop();
        assert!(matches!(result, Err(TransportError::ResponseTooLarge { limit: LIMIT })), "{result:?}");
        assert!(elapsed < PROMPT);
        // The collected chunks up to the limit, plus hyper's read buffer and connection state.
        assert!(peak < 2 * LIMIT, "peak {peak} bytes for a limit of {LIMIT}");
    }
}
