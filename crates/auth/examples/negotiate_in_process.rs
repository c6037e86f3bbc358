//! A Negotiate (SPNEGO/NTLM) handshake between our client and our server, driven through the HTTP header API
//! exactly as the WS-Man transport and the test server use it, followed by one sealed round trip.
//!
//! Run: `cargo run -p pssession-auth --example negotiate_in_process`

use std::sync::Arc;

use pssession_auth::{
    AcceptStep, ClientAuth, Credentials, NegotiateServer, ServerAuth, UserDatabase, negotiate_client,
};

fn main() -> Result<(), pssession_auth::AuthError> {
    let mut users = UserDatabase::new();
    users.add(Some("EXAMPLE"), "alice", "Passw0rd!");
    let mut server = NegotiateServer::new(Arc::new(users));
    let mut client =
        negotiate_client(Credentials::new("EXAMPLE\\alice", "Passw0rd!"), Some("HTTP/winrm.example.test".into()), None);

    // First request: Authorization header; the server answers 401 + WWW-Authenticate until done.
    let mut authorization = client.step(None)?.unwrap_or_default();
    loop {
        println!("> Authorization: {}…", &authorization[..authorization.len().min(40)]);
        match server.step(&authorization)? {
            AcceptStep::Continue(www) => {
                println!("< 401 WWW-Authenticate: {}…", &www[..www.len().min(40)]);
                authorization = client.step(Some(&www))?.unwrap_or_default();
            }
            AcceptStep::Complete(www) => {
                println!("< 200 (WWW-Authenticate: {})", www.as_deref().map_or("none", |w| &w[..w.len().min(40)]));
                if !client.is_complete() {
                    client.step(www.as_deref())?;
                }
                break;
            }
        }
    }
    println!("authenticated: {:?}", server.client_identity());

    let sealed = client.wrap(b"<s:Envelope>...</s:Envelope>")?;
    println!("sealed: {}-byte signature + {} bytes", sealed.header.len(), sealed.data.len());
    let plain = server.unwrap(&sealed.header, &sealed.data)?;
    println!("server unsealed: {}", String::from_utf8_lossy(&plain));
    Ok(())
}
