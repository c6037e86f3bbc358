//! SecureStrings end to end against the embedded endpoint: the client runs the session-key exchange before its
//! first SecureString parameter, the PowerShell plugin answers PUBLIC_KEY with ENCRYPTED_SESSION_KEY and decrypts
//! the argument, so the command sees the text; a new client session (Connect from another client) exchanges again.

mod e2e_support;

use e2e_support::{ALICE, Endpoints, Setup, client, output_texts};
use pssession_connect::psrp::client::CommandSpec;
use pssession_connect::psrp::session_key::SecretText;
use pssession_connect::{OutputBufferingMode, PipelineSpec, SessionFilter};

/// `Write-Output -InputObject <SecureString>; 'done'`: the engine has no SecureString type, so the plugin hands it
/// the decrypted text, which comes back as a string (PowerShell would echo the SecureString). The second statement
/// checks that statements run once each, in order.
fn echo_secret(secret: &str) -> PipelineSpec {
    PipelineSpec::commands(vec![
        CommandSpec::command("Write-Output").secure_parameter("InputObject", SecretText::from(secret)),
    ])
    .add_statement(vec![CommandSpec::script("'done'")])
}

#[test]
fn a_secure_string_parameter_reaches_the_script_through_the_key_exchange() {
    let endpoints = Endpoints::start(Setup::default());
    let uri = endpoints.http_uri(0);
    endpoints.runtime.block_on(async {
        let office = client(&uri, ALICE);
        let mut session = office.new_session("Secret").await.expect("new session");
        assert!(session.runspace_pool().session_key().is_none(), "no exchange before a SecureString is needed");
        let out = session.invoke(&echo_secret("pa55 w0rd ünï 𐐷")).await.expect("invoke");
        assert_eq!(output_texts(&out), ["pa55 w0rd ünï 𐐷", "done"], "{out:#?}");
        let key = session.runspace_pool().session_key().cloned().expect("session key");
        // The key is kept for the client session: no second exchange.
        let out = session.invoke(&echo_secret("second")).await.expect("invoke again");
        assert_eq!(output_texts(&out), ["second", "done"]);
        assert_eq!(session.runspace_pool().session_key(), Some(&key));
        session.disconnect(None, OutputBufferingMode::None).await.expect("disconnect");

        // Another client connects: a new client session exchanges keys again, and gets the shell's key.
        let home = client(&uri, ALICE);
        let found = home.get_sessions(&SessionFilter::default()).await.expect("get sessions");
        let mut connected = home.connect(&found[0]).await.expect("connect");
        assert!(connected.runspace_pool().session_key().is_none());
        let out = connected.invoke(&echo_secret("from home")).await.expect("invoke from home");
        assert_eq!(output_texts(&out), ["from home", "done"]);
        assert_eq!(connected.runspace_pool().session_key(), Some(&key), "the shell keeps one session key");
        connected.remove().await.expect("remove");
    });
}
