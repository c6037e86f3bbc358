//! Hostile requests against the endpoint's listener: a `Content-Length` of 4 GiB and an endless chunked body end in
//! `413`, the first from the headers alone, the second once the body passes the request limit (twice
//! `MaxEnvelopeSizekb` plus 64 KiB); an NTLM-sealed body whose part declares 4 GiB of plaintext ends in `400`
//! before anything is unwrapped. The heap stays within a bound derived from the limit.
//!
//! Peak heap is measured with `dhat` in testing mode (the workspace forbids `unsafe`, so the test cannot write
//! its own counting allocator); the server runs in this process, so its allocations are the ones measured. The
//! tests run one at a time, as the allocator's counters are global.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use pssession_auth::winrm_sealing::Sealer;
use pssession_auth::{ClientAuth, Credentials, negotiate_client};
use pssession_server::{RunningServer, Server, ServiceConfig};
use pssession_wsman::multipart::{self, EncryptionProtocol};
use pssession_wsman::transport::{
    AuthStepError, ConnectionInfo, EndpointUri, HttpAuthenticator, HttpTransport, MessageEncryption, TransportError,
    TransportOptions,
};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

static SERIAL: Mutex<()> = Mutex::new(());

/// Heap and time measured from `start` on; the profiler stops when this is dropped.
struct Measuring {
    _serial: MutexGuard<'static, ()>,
    profiler: Option<dhat::Profiler>,
    started: Instant,
}

impl Measuring {
    fn start(serial: MutexGuard<'static, ()>) -> Self {
        let profiler = dhat::Profiler::builder().testing().build();
        Measuring { _serial: serial, profiler: Some(profiler), started: Instant::now() }
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

/// The server's own runtime: its workers serve while the test thread plays the client on a blocking socket.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

async fn start() -> (RunningServer, usize) {
    let config = ServiceConfig::default();
    // The listener's request limit (crates/server/src/listener.rs): room for an encrypted envelope of the
    // largest size the service accepts.
    let max_body = config.max_envelope_size() * 2 + 64 * 1024;
    let server = Server::builder().config(config).user("alice", "Secret1!").http(0).start().await.unwrap();
    (server, max_body)
}

/// Sends `head`, then `chunk` over and over until the server answers or hangs up (when `chunk` is empty, sends
/// nothing more and waits); returns the status line and how many body bytes were sent.
fn hostile_client(address: SocketAddr, head: &'static [u8], chunk: &'static [u8]) -> (String, usize) {
    let mut tcp = TcpStream::connect(address).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    tcp.write_all(head).unwrap();
    let mut sent = 0;
    if !chunk.is_empty() {
        let mut writer = tcp.try_clone().unwrap();
        let writing = std::thread::spawn(move || {
            while writer.write_all(chunk).is_ok() {
                sent += chunk.len();
            }
            sent
        });
        let status = status_line(&mut tcp);
        let _ = tcp.shutdown(std::net::Shutdown::Both);
        sent = writing.join().unwrap();
        return (status, sent);
    }
    (status_line(&mut tcp), sent)
}

fn status_line(tcp: &mut TcpStream) -> String {
    let mut buf = [0u8; 1024];
    let n = tcp.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_owned()
}

#[test]
fn a_request_declaring_4_gib_is_refused_from_its_headers() {
    let serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let runtime = runtime();
    let (server, _) = runtime.block_on(start());
    let address = server.http_address().unwrap();
    let measuring = Measuring::start(serial);
    let (status, _) = hostile_client(
        address,
        b"POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Type: application/soap+xml;charset=UTF-8\r\n\
          Content-Length: 4294967296\r\n\r\n<s:Envelope",
        b"",
    );
    let (peak, elapsed) = measuring.stop();
    assert!(status.contains(" 413"), "{status:?}");
    assert!(elapsed < PROMPT, "waited {elapsed:?} for a body it should refuse");
    // One connection's state and the request head.
    assert!(peak < 256 << 10, "peak {peak} bytes");
    runtime.block_on(server.shutdown());
}

#[test]
fn an_endless_chunked_request_stops_at_the_request_limit() {
    let serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let runtime = runtime();
    let (server, max_body) = runtime.block_on(start());
    let address = server.http_address().unwrap();
    let measuring = Measuring::start(serial);
    let (status, sent) = hostile_client(
        address,
        b"POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Type: application/soap+xml;charset=UTF-8\r\n\
          Transfer-Encoding: chunked\r\n\r\n",
        &pssession_testkit::ENDLESS_BODY_CHUNK,
    );
    let (peak, elapsed) = measuring.stop();
    assert!(status.contains(" 413"), "{status:?}");
    assert!(sent >= max_body, "refused after {sent} bytes, before the {max_body}-byte limit");
    assert!(elapsed < PROMPT);
    // The collected body up to the limit, then its copy into one buffer; nothing proportional to what was sent.
    assert!(peak < 3 * max_body, "peak {peak} bytes for a limit of {max_body} ({sent} bytes sent)");
    runtime.block_on(server.shutdown());
}

/// NTLM (through Negotiate) with message encryption; once `declare_4_gib` is set, the sealed body's part header
/// claims 4 GiB of plaintext while the part itself stays the honest sealed envelope.
struct Ntlm {
    context: Option<Box<dyn ClientAuth>>,
    declare_4_gib: Arc<AtomicBool>,
}

fn step_error(e: impl std::fmt::Display) -> AuthStepError {
    AuthStepError::new(e.to_string())
}

impl HttpAuthenticator for Ntlm {
    fn scheme(&self) -> &str {
        "Negotiate"
    }

    fn start(&mut self, _: &ConnectionInfo) -> Result<Option<String>, AuthStepError> {
        let mut context = negotiate_client(Credentials::new("alice", "Secret1!"), None, None);
        let first = context.step(None).map_err(step_error)?;
        self.context = Some(Box::new(context));
        Ok(first)
    }

    fn challenge(&mut self, status: u16, www_authenticate: &[String]) -> Result<Option<String>, AuthStepError> {
        let Some(context) = self.context.as_mut() else { return Ok(None) };
        let Some(value) = www_authenticate.iter().find(|v| v.to_ascii_lowercase().starts_with("negotiate ")) else {
            return Ok(None);
        };
        let next = context.step(Some(value)).map_err(step_error)?;
        Ok(if status == 401 { next } else { None })
    }

    fn authorization(&mut self) -> Result<Option<String>, AuthStepError> {
        Ok(None)
    }

    fn is_established(&self) -> bool {
        self.context.as_ref().is_some_and(|c| c.is_complete())
    }

    fn encryption(&mut self) -> Option<&mut dyn MessageEncryption> {
        Some(self)
    }
}

impl MessageEncryption for Ntlm {
    fn encrypt(&mut self, envelope: &[u8]) -> Result<(String, Bytes), AuthStepError> {
        let context = self.context.as_mut().ok_or_else(|| AuthStepError::new("no context"))?;
        let sealed = multipart::encrypt(&mut Sealer(context.as_mut()), EncryptionProtocol::Spnego, envelope)
            .map_err(step_error)?;
        let mut body = sealed.body;
        if self.declare_4_gib.load(Ordering::SeqCst) {
            let declared = format!("Length={}\r\n", envelope.len());
            let at = body.windows(declared.len()).position(|w| w == declared.as_bytes()).expect("Length= in the body");
            body.splice(at..at + declared.len(), b"Length=4294967296\r\n".iter().copied());
        }
        Ok((sealed.content_type, Bytes::from(body)))
    }

    fn decrypt(&mut self, content_type: &str, body: Bytes) -> Result<Bytes, AuthStepError> {
        let context = self.context.as_mut().ok_or_else(|| AuthStepError::new("no context"))?;
        multipart::decrypt(&mut Sealer(context.as_mut()), content_type, &body, &multipart::Limits::default())
            .map(Bytes::from)
            .map_err(step_error)
    }
}

#[test]
fn a_sealed_body_declaring_4_gib_of_plaintext_is_refused_before_unwrapping() {
    let serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let runtime = runtime();
    let (server, _) = runtime.block_on(start());
    let declare_4_gib = Arc::new(AtomicBool::new(false));
    let authenticator = Ntlm { context: None, declare_4_gib: declare_4_gib.clone() };
    let uri = EndpointUri::from_connection_uri(&server.http_url().unwrap()).unwrap();
    let mut options = TransportOptions::default();
    options.request_timeout = Duration::from_secs(30);
    let mut transport = HttpTransport::new(uri, options, Box::new(authenticator)).unwrap();
    let envelope = Bytes::from_static(b"<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"/>");

    // Honest first: authenticated, sealed, decrypted, and answered with a fault about the (empty) envelope.
    let honest = runtime.block_on(transport.send(envelope.clone())).unwrap();
    assert_eq!(honest.status, 500, "{:?}", honest.body);

    declare_4_gib.store(true, Ordering::SeqCst);
    let measuring = Measuring::start(serial);
    let result = runtime.block_on(transport.send(envelope));
    let (peak, elapsed) = measuring.stop();
    assert!(matches!(result, Err(TransportError::UnexpectedStatus { status: 400, .. })), "{result:?}");
    assert!(elapsed < PROMPT);
    // The request, its parse and the reply; nothing of the declared plaintext.
    assert!(peak < 256 << 10, "peak {peak} bytes");
    runtime.block_on(server.shutdown());
}
