//! Kerberos end to end: the `pssession` library and CLI against the embedded endpoint with a keytab, over plain
//! HTTP with WinRM message encryption, against a real MIT KDC brought up on loopback for each test
//! (`pssession_testkit::kdc`; needs `krb5-kdc`, `krb5-admin-server`, `krb5-user` — `cargo xtask setup` — and fails
//! loudly without them).
//!
//! Covered: the `Kerberos` scheme (`application/HTTP-Kerberos-session-encrypted`) and Negotiate with Kerberos inside
//! (`application/HTTP-SPNEGO-session-encrypted`), with a password and with the ticket cache after `kinit`;
//! Negotiate falling back to NTLM for a user the KDC does not know; principals the users file does not list; the
//! SPN override.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use pssession_auth::kerberos::{Keytab, Krb5Config};
use pssession_auth::{AcceptStep, Credentials, KerberosAcceptor, NegotiateServer, ServerAuth, UserDatabase};
use pssession_connect::authentication::{AuthenticationMechanism, AuthenticationOptions, WinrmAuthenticator};
use pssession_connect::{Client, ConnectionTarget, PipelineEvent, PipelineSpec, SessionFilter, SessionOptions};
use pssession_server::engine::{BuiltinEngine, EngineConfig};
use pssession_server::listener::RunningServer;
use pssession_server::plugin::Plugin;
use pssession_server::powershell::PowerShellPlugin;
use pssession_server::{DEFAULT_CONFIGURATION, Server};
use pssession_testkit::kdc::{PASSWORD, REALM, Realm};
use pssession_wsman::transport::{ConnectionInfo, EndpointUri, HttpAuthenticator};

/// `bob` exists only in the endpoint's users (NTLM); `carol` only in the KDC.
const BOB_PASSWORD: &str = "B0b-local!";
const CAROL_PASSWORD: &str = "C4rol-kdc!";

struct Setup {
    realm: Realm,
    server: RunningServer,
}

async fn setup() -> Setup {
    let realm = Realm::start();
    realm.kadmin(&format!("addprinc -pw {CAROL_PASSWORD} carol"));
    let engine = Arc::new(BuiltinEngine::new(EngineConfig::default()));
    let plugin: Arc<dyn Plugin> = Arc::new(PowerShellPlugin::new(engine));
    let server = Server::builder()
        .user("alice", "ntlm-password-of-alice")
        .user("bob", BOB_PASSWORD)
        .plugin(DEFAULT_CONFIGURATION, plugin)
        .keytab_file(&realm.keytab_path().display().to_string())
        .expect("keytab")
        .http(0)
        .start()
        .await
        .expect("server");
    Setup { realm, server }
}

impl Setup {
    fn port(&self) -> u16 {
        self.server.http_address().expect("HTTP listener").port()
    }

    fn config(&self) -> Krb5Config {
        Krb5Config::parse(&self.realm.krb5_conf())
    }

    fn password(&self, mechanism: AuthenticationMechanism, user: &str, password: &str) -> AuthenticationOptions {
        AuthenticationOptions::new(mechanism, Credentials::new(user, password)).with_kerberos_config(self.config())
    }

    fn implicit(&self, mechanism: AuthenticationMechanism) -> AuthenticationOptions {
        AuthenticationOptions::implicit(mechanism)
            .with_kerberos_config(self.config())
            .with_credential_cache(self.realm.ccache())
    }

    fn client(&self, auth: AuthenticationOptions) -> Client {
        let target = ConnectionTarget::computer_name("localhost", Some(self.port()), false, None).expect("target");
        Client::new(target, SessionOptions::default(), auth).expect("client")
    }
}

/// Creates a session, runs `Write-Output hi`, reads the shell's owner back and removes the session.
async fn write_output_hi(client: &Client, name: &str) -> Result<String, String> {
    let mut session = client.new_session(name).await.map_err(|e| e.to_string())?;
    let outputs = session.invoke(&PipelineSpec::script("Write-Output hi")).await.map_err(|e| e.to_string())?;
    let mut values = Vec::new();
    for output in &outputs {
        match &output.event {
            PipelineEvent::Output(clixml) => values.push(clixml.value().map_err(|e| e.to_string())?.to_string()),
            PipelineEvent::Error(record) => return Err(record.to_string()),
            _ => {}
        }
    }
    assert_eq!(values, ["hi"]);
    let filter = SessionFilter { names: vec![name.to_owned()], ..SessionFilter::default() };
    let found = client.get_sessions(&filter).await.map_err(|e| e.to_string())?;
    assert_eq!(found.len(), 1, "the session is listed for its owner");
    let owner = found[0].shell.owner.clone().unwrap_or_default();
    session.remove().await.map_err(|e| e.to_string())?;
    Ok(owner)
}

fn kerberos_owner() -> String {
    format!("{REALM}\\alice")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kerberos_scheme_with_a_password_seals_with_http_kerberos_session_encrypted() {
    let s = setup().await;
    let client = s.client(s.password(AuthenticationMechanism::Kerberos, &format!("alice@{REALM}"), PASSWORD));
    let owner = write_output_hi(&client, "krb").await.unwrap();
    assert!(owner.eq_ignore_ascii_case(&kerberos_owner()), "owner {owner}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negotiate_with_a_password_uses_kerberos_first() {
    let s = setup().await;
    for mechanism in [AuthenticationMechanism::Negotiate, AuthenticationMechanism::Default] {
        let client = s.client(s.password(mechanism, &format!("{REALM}\\alice"), PASSWORD));
        let owner = write_output_hi(&client, "spnego").await.unwrap();
        assert!(owner.eq_ignore_ascii_case(&kerberos_owner()), "{mechanism}: owner {owner}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_credentials_use_the_ticket_cache_after_kinit() {
    let s = setup().await;
    // No ticket yet: a clear error that says what to do, and no NTLM attempt (there is no password).
    let client = s.client(s.implicit(AuthenticationMechanism::NegotiateWithImplicitCredential));
    let error = write_output_hi(&client, "early").await.unwrap_err();
    assert!(error.contains("kinit") || error.contains("ccache") || error.contains("cannot read"), "{error}");

    s.realm.kinit();
    for mechanism in [
        AuthenticationMechanism::NegotiateWithImplicitCredential,
        AuthenticationMechanism::Negotiate,
        AuthenticationMechanism::Default,
        AuthenticationMechanism::Kerberos,
    ] {
        let client = s.client(s.implicit(mechanism));
        let owner = write_output_hi(&client, "cached").await.unwrap_or_else(|e| panic!("{mechanism}: {e}"));
        assert!(owner.eq_ignore_ascii_case(&kerberos_owner()), "{mechanism}: owner {owner}");
    }
    // NegotiateWithImplicitCredential refuses explicit credentials rather than ignoring them.
    let client = s.client(s.password(AuthenticationMechanism::NegotiateWithImplicitCredential, "alice", PASSWORD));
    let error = write_output_hi(&client, "explicit").await.unwrap_err();
    assert!(error.contains("ticket cache"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negotiate_falls_back_to_ntlm_when_the_kdc_gives_no_ticket() {
    let s = setup().await;
    // bob is unknown to the KDC: Kerberos fails at the AS exchange and SPNEGO goes on with NTLM.
    let client = s.client(s.password(AuthenticationMechanism::Negotiate, "bob", BOB_PASSWORD));
    let owner = write_output_hi(&client, "ntlm").await.unwrap();
    assert!(owner.to_ascii_lowercase().ends_with("bob") && !owner.contains(REALM), "owner {owner}");
    // The Kerberos scheme has no fallback.
    let client = s.client(s.password(AuthenticationMechanism::Kerberos, "bob", BOB_PASSWORD));
    assert!(write_output_hi(&client, "no-fallback").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn principals_the_users_file_does_not_list_are_refused() {
    let s = setup().await;
    for mechanism in [AuthenticationMechanism::Kerberos, AuthenticationMechanism::Negotiate] {
        let client = s.client(s.password(mechanism, &format!("carol@{REALM}"), CAROL_PASSWORD));
        let error = write_output_hi(&client, "carol").await.unwrap_err();
        assert!(error.contains("rejected") || error.contains("denied"), "{mechanism}: {error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_principal_name_can_be_overridden() {
    let s = setup().await;
    let auth =
        s.password(AuthenticationMechanism::Kerberos, "alice", PASSWORD).with_service_principal_name("WSMAN/localhost");
    let owner = write_output_hi(&s.client(auth), "wsman-spn").await.unwrap();
    assert!(owner.eq_ignore_ascii_case(&kerberos_owner()), "owner {owner}");
    let auth = s
        .password(AuthenticationMechanism::Kerberos, "alice", PASSWORD)
        .with_service_principal_name("HTTP/nowhere.localhost");
    let error = write_output_hi(&s.client(auth), "bad-spn").await.unwrap_err();
    assert!(error.contains("S_PRINCIPAL_UNKNOWN"), "{error}");
}

/// Header level: which multipart protocol each scheme seals with, checked against the server's acceptor.
#[test]
fn kerberos_scheme_seals_with_the_kerberos_protocol_and_negotiate_with_spnego() {
    let realm = Realm::start();
    let config = Krb5Config::parse(&realm.krb5_conf());
    let keytab = Arc::new(Keytab::read(&realm.keytab_path().display().to_string()).unwrap());
    let mut users = UserDatabase::new();
    users.add(None, "alice", "unused");
    let users = Arc::new(users);
    let connection = ConnectionInfo {
        endpoint: EndpointUri::from_connection_uri("http://localhost:5985/wsman").unwrap(),
        peer_certificate: None,
    };
    for (mechanism, scheme, protocol) in [
        (AuthenticationMechanism::Kerberos, "Kerberos", "application/HTTP-Kerberos-session-encrypted"),
        (AuthenticationMechanism::Negotiate, "Negotiate", "application/HTTP-SPNEGO-session-encrypted"),
    ] {
        let options = AuthenticationOptions::new(mechanism, Credentials::new("alice", PASSWORD))
            .with_kerberos_config(config.clone());
        let mut client = WinrmAuthenticator::new(options);
        let mut server = NegotiateServer::new(users.clone()).with_kerberos(KerberosAcceptor::new(keytab.clone()));
        assert!(server.offer().iter().any(|o| o == "Kerberos"));
        let first = client.start(&connection).unwrap().expect("a first token");
        assert!(first.starts_with(&format!("{scheme} ")), "{first}");
        match server.step(&first).unwrap() {
            AcceptStep::Complete(Some(last)) => {
                assert!(last.starts_with(&format!("{scheme} ")));
                client.challenge(200, &[last]).unwrap();
            }
            other => panic!("Kerberos completes in one round trip, got {other:?}"),
        }
        assert!(client.is_established());
        let id = server.client_identity().unwrap();
        assert_eq!((id.domain.as_str(), id.user.as_str()), (REALM, "alice"));
        let (content_type, body) = client.encryption().unwrap().encrypt(b"<s:Envelope/>").unwrap();
        assert!(content_type.contains(protocol), "{mechanism}: {content_type}");
        assert!(!body.windows(13).any(|w| w == b"<s:Envelope/>"), "the body is encrypted");
    }
}

fn run_cli(s: &Setup, args: &[&str], stdin: Option<&str>) -> Output {
    let state = s.realm.dir().join("cli-state");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pssession"));
    s.realm.env(&mut cmd);
    let mut child = cmd
        .args(args)
        .env("XDG_STATE_HOME", &state)
        .env_remove("PSSESSION_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pssession");
    if let Some(text) = stdin {
        child.stdin.as_mut().expect("stdin").write_all(text.as_bytes()).expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("pssession output")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_invokes_with_kerberos_from_the_ticket_cache_and_with_a_password() {
    let s = setup().await;
    let port = s.port().to_string();
    let base = ["invoke", "--computer-name", "localhost", "--port", port.as_str(), "--script-block", "Write-Output hi"];
    let text = |o: &Output| format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));

    // No ticket and no --credential: the ticket cache is used, so the error says to kinit (and no prompt).
    let out = run_cli(&s, &[&base[..], &["--authentication", "Kerberos"]].concat(), None);
    assert!(!out.status.success() && text(&out).contains("kinit"), "{}", text(&out));

    s.realm.kinit();
    for mechanism in ["Kerberos", "NegotiateWithImplicitCredential", "Default"] {
        let out = run_cli(&s, &[&base[..], &["--authentication", mechanism]].concat(), None);
        assert!(out.status.success(), "{mechanism}: {}", text(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hi", "{mechanism}");
    }
    let with_spn = [&base[..], &["--authentication", "Kerberos", "--service-principal-name", "WSMAN/localhost"]];
    let out = run_cli(&s, &with_spn.concat(), None);
    assert!(out.status.success(), "{}", text(&out));

    // With --credential the password is read from stdin and Negotiate gets the tickets itself.
    let alice = ["--credential", "alice@WINRM.TEST", "--password-stdin", "--authentication", "Negotiate"];
    let out = run_cli(&s, &[&base[..], &alice[..]].concat(), Some(&format!("{PASSWORD}\n")));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hi");

    let out = run_cli(
        &s,
        &[&base[..], &["--authentication", "NegotiateWithImplicitCredential", "--credential", "alice"]].concat(),
        None,
    );
    assert!(!out.status.success() && text(&out).contains("do not give --credential"), "{}", text(&out));
}

/// pypsrp `auth="kerberos"` (pyspnego over python-gssapi and MIT libkrb5) against the embedded endpoint's keytab,
/// with message encryption. Needs `gssapi` in the test venv (`requirements-test.txt`; it builds against
/// `libkrb5-dev`): without it the script fails on its first import and so does this test.
fn pypsrp_kerberos(s: &Setup, username: &str, password: Option<&str>, service: &str) -> serde_json::Value {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/pypsrp_kerberos.py");
    let request = serde_json::json!({
        "host": "localhost", "port": s.port(), "username": username, "password": password, "service": service,
    });
    let mut cmd = Command::new(pssession_testkit::python());
    s.realm.env(&mut cmd);
    let mut child = cmd
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python");
    child.stdin.take().expect("stdin").write_all(request.to_string().as_bytes()).expect("request");
    let out = child.wait_with_output().expect("python output");
    assert!(
        out.status.success(),
        "pypsrp kerberos failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from the script")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypsrp_with_kerberos_runs_a_command_against_the_keytab_endpoint() {
    let s = setup().await;
    let alice = format!("alice@{REALM}");
    for service in ["WSMAN", "HTTP"] {
        let answer = tokio::task::block_in_place(|| pypsrp_kerberos(&s, &alice, Some(PASSWORD), service));
        assert_eq!(answer["output"], serde_json::json!(["hi"]), "{service}: {answer}");
    }
    s.realm.kinit();
    let answer = tokio::task::block_in_place(|| pypsrp_kerberos(&s, &alice, None, "HTTP"));
    assert_eq!(answer["output"], serde_json::json!(["hi"]), "ticket cache: {answer}");
}
