//! The reconnect flow end to end, against an embedded endpoint started in this process (no Windows needed): one
//! client starts a command in a session and disconnects; a second client, sharing nothing with the first, finds
//! the session, connects, and collects what the command produced meanwhile.
//!
//! `cargo run -p pssession-connect --example reconnect`

use std::sync::Arc;
use std::time::Duration;

use pssession_auth::Credentials;
use pssession_auth::kerberos::Krb5Config;
use pssession_connect::authentication::{AuthenticationMechanism, AuthenticationOptions};
use pssession_connect::psrp::client::PipelineEvent;
use pssession_connect::{Client, ConnectionTarget, OutputBufferingMode, PipelineSpec, SessionFilter, SessionOptions};
use pssession_server::Server;
use pssession_server::engine::{BuiltinEngine, EngineConfig};
use pssession_server::plugin::Plugin;
use pssession_server::powershell::PowerShellPlugin;

const USER: &str = "admin";
const PASSWORD: &str = "example-only-password";

fn client(port: u16) -> Result<Client, pssession_connect::Error> {
    let target = ConnectionTarget::computer_name("localhost", Some(port), false, None)?;
    // NTLM over HTTP with WinRM message encryption; an empty Kerberos configuration skips asking a KDC first.
    let auth = AuthenticationOptions::new(AuthenticationMechanism::Negotiate, Credentials::new(USER, PASSWORD))
        .with_kerberos_config(Krb5Config::default());
    Client::new(target, SessionOptions::default(), auth)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let plugin: Arc<dyn Plugin> =
        Arc::new(PowerShellPlugin::new(Arc::new(BuiltinEngine::new(EngineConfig::default()))));
    let server = Server::builder()
        .user(USER, PASSWORD)
        .plugin(pssession_server::DEFAULT_CONFIGURATION, plugin)
        .http(0)
        .start()
        .await?;
    let port = server.http_address().ok_or("no HTTP listener")?.port();

    // Client 1: New-PSSession, Invoke-Command -InDisconnectedSession style.
    let office = client(port)?;
    let mut session = office.new_session("ITTask").await?;
    let script = PipelineSpec::script("1..5 | ForEach-Object { \"event $_\" }");
    session.invoke_disconnected(&script, Some(Duration::from_secs(3600)), OutputBufferingMode::Block).await?;
    println!("client 1: started the command in session ITTask and disconnected");
    drop(session);
    drop(office);

    // Client 2: Get-PSSession -ComputerName, Connect-PSSession, Receive-PSSession, Remove-PSSession.
    let home = client(port)?;
    let filter = SessionFilter { names: vec!["ITTask".into()], ..SessionFilter::default() };
    let found = home.get_sessions(&filter).await?;
    let info = found.first().ok_or("the session is not listed")?;
    println!("client 2: found {} ({:?} / {:?})", info.name, info.state, info.availability);
    let mut attached = home.connect(info).await?;
    for output in attached.receive().await? {
        if let PipelineEvent::Output(value) = output.event {
            println!("client 2: {}", value.to_display_string());
        }
    }
    attached.remove().await?;
    server.shutdown().await;
    Ok(())
}
