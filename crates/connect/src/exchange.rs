//! The transport seam: how the library hands an envelope to WS-Man and gets the answer back.
//!
//! [`WsmanExchange`] is implemented by [`HttpExchange`], which runs the HTTP(S) transport of `pssession-wsman` on
//! a thread of its own (the transport's authenticator is `Send` but not `Sync`, so its request future cannot move
//! between threads; behind the channel every session future is `Send` and can be spawned on any runtime). Tests
//! and the trace replayer implement the trait to serve recorded or scripted responses.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

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

/// [`HttpTransport`] on a dedicated thread with a single-threaded runtime, reached through a channel. One request
/// is in flight at a time, in order, on the transport's keep-alive connection. The thread ends when the
/// `HttpExchange` is dropped.
#[derive(Debug)]
pub struct HttpExchange {
    requests: mpsc::Sender<Request>,
    endpoint: Arc<Mutex<String>>,
}

impl HttpExchange {
    /// Moves `transport` to its own thread.
    pub fn new(mut transport: HttpTransport) -> Result<Self, TransportError> {
        let endpoint = Arc::new(Mutex::new(transport.endpoint().to_string()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TransportError::Http(format!("cannot start the transport runtime: {e}")))?;
        let (requests, mut incoming) = mpsc::channel::<Request>(1);
        let shared = Arc::clone(&endpoint);
        std::thread::Builder::new()
            .name("pssession-http".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    while let Some((envelope, reply)) = incoming.recv().await {
                        let answer = transport.send(envelope).await;
                        // A followed redirect changes the endpoint that `wsa:To` names.
                        if let Ok(mut current) = shared.lock() {
                            *current = transport.endpoint().to_string();
                        }
                        let _ = reply.send(answer);
                    }
                });
            })
            .map_err(|e| TransportError::Http(format!("cannot start the transport thread: {e}")))?;
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
