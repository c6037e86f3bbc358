//! The transport seam: how the library hands an envelope to WS-Man and gets the answer back.
//!
//! [`WsmanExchange`] is implemented by [`HttpExchange`], which runs the HTTP(S) transport of `pssession-wsman` on
//! one of a few transport threads shared by every session of the process (the transport's authenticator is `Send`
//! but not `Sync`, so its request future cannot move between threads; behind the channel every session future is
//! `Send` and can be spawned on any runtime). Tests and the trace replayer implement the trait to serve recorded or
//! scripted responses.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
pub use pssession_wsman::transport::{HttpTransport, Response, TransportError};
use tokio::sync::{mpsc, oneshot};

/// A boxed future of one exchange.
pub type ExchangeFuture<'a> = Pin<Box<dyn Future<Output = Result<Response, TransportError>> + Send + 'a>>;

/// Posts one SOAP envelope and returns the HTTP status and body (200 success, 500 fault).
pub trait WsmanExchange: Send {
    /// Sends `envelope` and waits for the answer.
    fn exchange(&mut self, envelope: Bytes) -> ExchangeFuture<'_>;

    /// The endpoint address, written into `wsa:To`.
    fn endpoint(&self) -> String;
}

type Request = (Bytes, oneshot::Sender<Result<Response, TransportError>>);

/// [`HttpTransport`] on a shared transport thread, reached through a channel. One request is in flight at a time,
/// in order, on the transport's keep-alive connection; dropping an exchange's future abandons its request and that
/// connection at once. The transport (and its connection) is dropped when the
/// `HttpExchange` is.
#[derive(Debug)]
pub struct HttpExchange {
    requests: mpsc::Sender<Request>,
    endpoint: Arc<Mutex<String>>,
}

/// A transport handed to a transport thread, with the channel its requests arrive on.
struct Job {
    transport: HttpTransport,
    incoming: mpsc::Receiver<Request>,
    endpoint: Arc<Mutex<String>>,
}

impl Job {
    async fn serve(mut self) {
        while let Some((envelope, mut reply)) = self.incoming.recv().await {
            let answer = tokio::select! {
                answer = self.transport.send(envelope) => answer,
                // The caller dropped its future (a timeout, Ctrl-C): the request in flight is abandoned with its
                // connection, so that the caller's next request (a Disconnect, say) is not queued behind a Receive
                // the server may hold for a whole OperationTimeout. The next request opens and authenticates a
                // new connection.
                () = reply.closed() => {
                    self.transport.disconnect();
                    continue;
                }
            };
            // A followed redirect changes the endpoint that `wsa:To` names.
            if let Ok(mut current) = self.endpoint.lock() {
                *current = self.transport.endpoint().to_string();
            }
            let _ = reply.send(answer);
        }
    }
}

/// The transport threads: each runs a single-threaded runtime whose `LocalSet` serves the transports given to it,
/// so a thousand sessions cost a thousand small tasks rather than a thousand threads and runtimes (a thread per
/// session measured about 95 KiB resident per idle session). Sessions are spread over the threads in turn.
struct TransportThreads {
    jobs: Vec<mpsc::UnboundedSender<Job>>,
    next: AtomicUsize,
}

/// How many transport threads a process runs: the HTTP work is light (the session futures do the PSRP work on
/// the caller's runtime), but a Kerberos ticket request to the KDC blocks its thread while it lasts, so there is
/// never just one.
fn transport_thread_count() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8)
}

impl TransportThreads {
    fn start() -> Result<TransportThreads, String> {
        let mut jobs = Vec::new();
        for index in 0..transport_thread_count() {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the transport runtime: {e}"))?;
            let (sender, mut receiver) = mpsc::unbounded_channel::<Job>();
            std::thread::Builder::new()
                .name(format!("pssession-http-{index}"))
                .spawn(move || {
                    let local = tokio::task::LocalSet::new();
                    local.block_on(&runtime, async move {
                        while let Some(job) = receiver.recv().await {
                            tokio::task::spawn_local(job.serve());
                        }
                    });
                })
                .map_err(|e| format!("cannot start a transport thread: {e}"))?;
            jobs.push(sender);
        }
        Ok(TransportThreads { jobs, next: AtomicUsize::new(0) })
    }

    fn get() -> Result<&'static TransportThreads, TransportError> {
        static THREADS: OnceLock<Result<TransportThreads, String>> = OnceLock::new();
        THREADS.get_or_init(TransportThreads::start).as_ref().map_err(|e| TransportError::Http(e.clone()))
    }

    fn run(&self, job: Job) -> Result<(), TransportError> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.jobs.len();
        self.jobs[index].send(job).map_err(|_| stopped())
    }
}

impl HttpExchange {
    /// Hands `transport` to a transport thread.
    pub fn new(transport: HttpTransport) -> Result<Self, TransportError> {
        let endpoint = Arc::new(Mutex::new(transport.endpoint().to_string()));
        let (requests, incoming) = mpsc::channel::<Request>(1);
        TransportThreads::get()?.run(Job { transport, incoming, endpoint: Arc::clone(&endpoint) })?;
        Ok(HttpExchange { requests, endpoint })
    }
}

fn stopped() -> TransportError {
    TransportError::Http("the transport thread stopped".to_owned())
}

impl WsmanExchange for HttpExchange {
    fn exchange(&mut self, envelope: Bytes) -> ExchangeFuture<'_> {
        let requests = self.requests.clone();
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            requests.send((envelope, reply)).await.map_err(|_| stopped())?;
            answer.await.map_err(|_| stopped())?
        })
    }

    fn endpoint(&self) -> String {
        self.endpoint.lock().map(|e| e.clone()).unwrap_or_default()
    }
}
