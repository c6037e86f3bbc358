//! The simulated endpoint served over HTTP with Basic authentication (the user comes from the Authorization
//! header), for tests of the CLI and the real HTTP transport.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::SimulatedServer;

fn basic_user(request: &Request<Incoming>) -> Option<String> {
    let value = request.headers().get("authorization")?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64_simd::STANDARD.decode_to_vec(encoded.trim().as_bytes()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    (password == "secret").then(|| user.to_owned())
}

/// Serves `server` on an ephemeral loopback port; returns the address. Requests without valid Basic credentials
/// (any user, password `secret`) get 401.
pub async fn serve(server: Arc<Mutex<SimulatedServer>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let server = Arc::clone(&server);
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let server = Arc::clone(&server);
                    async move {
                        let user = basic_user(&request);
                        let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        let response = match user {
                            None => Response::builder()
                                .status(401)
                                .header("WWW-Authenticate", "Basic realm=\"WSMAN\"")
                                .body(Full::new(Bytes::new())),
                            Some(user) => {
                                let (status, text) = SimulatedServer::connection(&server, &user).handle(&body);
                                Response::builder()
                                    .status(status)
                                    .header("Content-Type", "application/soap+xml;charset=UTF-8")
                                    .body(Full::new(Bytes::from(text)))
                            }
                        };
                        Ok::<_, Infallible>(response.expect("response"))
                    }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(tcp), service).await;
            });
        }
    });
    addr
}
