//! The real pypsrp client (PyPI, installed by the test command) against the embedded endpoint with the PowerShell
//! plugin: every output stream, input, stop, disconnect and reconnect from a new client, per-user isolation and
//! the Busy fault; over HTTP with NTLM and message encryption, and over HTTPS with Basic and with Negotiate.
//!
//! Where the peer must wait for the server (a pipeline that ran to its end while nobody was connected), the test
//! opens a gate for it — a loopback socket the script reads one byte from — on the event, never after a time.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pssession_server::certificate::ServerCertificate;
use pssession_server::engine::{
    BuiltinEngine, Engine, EngineConfig, PipelineEvent, PipelineHandle, PipelineInput, PipelineSpec, Runspace,
};
use pssession_server::plugin::Plugin;
use pssession_server::powershell::PowerShellPlugin;
use pssession_server::{RunningServer, Server};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

const ALICE: (&str, &str) = ("alice", "Secret123!");
const BOB: (&str, &str) = ("bob", "Hunter2!!");

/// The built-in engine, counting the pipelines that have run to their end (their last event is handed to the
/// endpoint) in `finished`.
struct CountingEngine {
    inner: BuiltinEngine,
    finished: Arc<watch::Sender<usize>>,
}

struct CountingRunspace {
    inner: Arc<dyn Runspace>,
    finished: Arc<watch::Sender<usize>>,
}

impl Engine for CountingEngine {
    fn open_runspace(&self) -> Arc<dyn Runspace> {
        Arc::new(CountingRunspace { inner: self.inner.open_runspace(), finished: Arc::clone(&self.finished) })
    }

    fn ps_version_table(&self) -> pssession_server::engine::Value {
        self.inner.ps_version_table()
    }
}

impl Runspace for CountingRunspace {
    fn start_pipeline(
        &self,
        spec: PipelineSpec,
        input: PipelineInput,
        events: mpsc::Sender<PipelineEvent>,
    ) -> PipelineHandle {
        let (observed, mut from_pipeline) = mpsc::channel(1);
        let finished = Arc::clone(&self.finished);
        tokio::spawn(async move {
            while let Some(event) = from_pipeline.recv().await {
                let last = matches!(event, PipelineEvent::State(_));
                if events.send(event).await.is_err() {
                    return;
                }
                if last {
                    finished.send_modify(|n| *n += 1);
                    return;
                }
            }
        });
        self.inner.start_pipeline(spec, input, observed)
    }

    fn close(&self) {
        self.inner.close()
    }
}

/// A server whose engine counts finished pipelines, and that count.
async fn start(https: bool) -> (RunningServer, watch::Receiver<usize>) {
    let finished = Arc::new(watch::channel(0).0);
    let engine = CountingEngine { inner: BuiltinEngine::new(EngineConfig::default()), finished: Arc::clone(&finished) };
    let plugin: Arc<dyn Plugin> = Arc::new(PowerShellPlugin::new(Arc::new(engine)));
    let mut builder = Server::builder()
        .user(ALICE.0, ALICE.1)
        .user(BOB.0, BOB.1)
        .plugin(pssession_server::DEFAULT_CONFIGURATION, plugin);
    builder = if https {
        let (_, certificate, key) = ServerCertificate::generate(&["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("self-signed certificate");
        builder.certificate_pem(certificate.as_bytes(), key.as_bytes()).expect("certificate").https(0)
    } else {
        builder.http(0)
    };
    (builder.start().await.expect("server starts"), finished.subscribe())
}

/// A gate for the Python peer: the port it connects to, and a task that answers it one byte once `count` pipelines
/// have finished.
async fn gate_after_pipelines(
    mut finished: watch::Receiver<usize>,
    count: usize,
) -> (u16, tokio::task::JoinHandle<()>) {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let task = tokio::spawn(async move {
        let open = async {
            let (mut peer, _) = listener.accept().await.expect("the peer connects to the gate");
            finished.wait_for(|n| *n >= count).await.expect("the server is running");
            peer.write_all(b"1").await.expect("open the gate");
        };
        tokio::time::timeout(Duration::from_secs(60), open).await.expect("the pipelines finish");
    });
    (port, task)
}

/// Runs one pypsrp scenario in a blocking thread (the server keeps serving on the runtime meanwhile).
async fn pypsrp(server: &RunningServer, https: bool, auth: &str, scenario: &str) -> Value {
    pypsrp_with(server, https, auth, scenario, json!({})).await
}

/// [`pypsrp`] with `extra` fields in the request.
async fn pypsrp_with(server: &RunningServer, https: bool, auth: &str, scenario: &str, extra: Value) -> Value {
    let address = if https { server.https_address() } else { server.http_address() }.expect("listener");
    let mut request = json!({
        "host": "127.0.0.1",
        "port": address.port(),
        "ssl": https,
        "auth": auth,
        "users": { ALICE.0: ALICE.1, BOB.0: BOB.1 },
        "scenario": scenario,
    });
    if let (Some(request), Some(extra)) = (request.as_object_mut(), extra.as_object()) {
        request.extend(extra.clone());
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/pypsrp_client.py");
    tokio::task::spawn_blocking(move || pssession_testkit::run_python_json(&script, &request))
        .await
        .expect("pypsrp thread")
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().expect("array").iter().map(|v| v.as_str().expect("string").to_owned()).collect()
}

fn check_streams(result: &Value) {
    assert_eq!(strings(&result["output"]), ["1", "2", "3", "done"]);
    let streams = &result["streams"];
    assert_eq!(strings(&streams["error"]), ["bad"]);
    assert_eq!(strings(&streams["warning"]), ["careful"]);
    assert_eq!(strings(&streams["verbose"]), ["chatty"]);
    assert_eq!(strings(&streams["debug"]), ["details"]);
    assert_eq!(strings(&streams["information"]), ["fyi"]);
    assert_eq!(strings(&streams["progress"]), ["Working"]);
    assert_eq!(strings(&result["input"]), ["10", "20", "30"]);
    assert_eq!(result["unknown"]["had_errors"], json!(true));
    assert!(strings(&result["unknown"]["error"])[0].starts_with("The term 'Get-Nothing' is not recognized"));
    // PSInvocationState.STOPPED
    assert_eq!(result["stopped"], json!("3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ntlm_with_message_encryption_over_http() {
    let (server, _) = start(false).await;
    check_streams(&pypsrp(&server, false, "ntlm", "streams").await);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_and_negotiate_over_https() {
    let (server, _) = start(true).await;
    check_streams(&pypsrp(&server, true, "basic", "streams").await);
    check_streams(&pypsrp(&server, true, "negotiate", "streams").await);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_then_connect_from_a_new_client_receives_what_ran_meanwhile() {
    let (server, finished) = start(false).await;
    // The peer waits, disconnected, until its pipeline has run to its end.
    let (gate_port, gate) = gate_after_pipelines(finished, 1).await;
    let result = pypsrp_with(&server, false, "ntlm", "disconnect", json!({ "gate_port": gate_port })).await;
    gate.await.expect("gate");
    assert_eq!(result["bob_sees"], json!([]), "another user must not see alice's pools");
    assert_eq!(result["found"], json!(1));
    // RunspacePoolState.OPENED: the pool left Disconnected on the first Receive after the Connect.
    assert_eq!(result["state_after_connect"], json!("2"));
    assert_eq!(result["pipelines"], json!(1));
    assert_eq!(strings(&result["output"]), ["item 1", "item 2", "item 3", "item 4", "item 5"]);
    assert_eq!(strings(&result["after_reconnect"]), ["still here"]);
    // The pool was Opened, so pypsrp really disconnected it (RunspacePoolState.DISCONNECTED) and the server saw
    // the shell Disconnected before the same client's Reconnect.
    assert_eq!(result["state_after_disconnect"], json!("9"));
    assert_eq!(result["server_state_after_disconnect"], json!("Disconnected"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_connected_elsewhere_is_busy() {
    let (server, _) = start(false).await;
    let result = pypsrp(&server, false, "ntlm", "busy").await;
    assert_eq!(result["found"], json!(1));
    assert_eq!(result["connect"], json!("fault"));
    // ERROR_WINRS_SHELL_CONNECTED_TO_DIFFERENT_CLIENT
    assert_eq!(result["code"], json!(0x803381CDu32));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypsrp_exchanges_the_session_key_and_its_secure_string_arrives_decrypted() {
    // pypsrp parses our ENCRYPTED_SESSION_KEY (CAPI SIMPLEBLOB) with its own RSA key and encrypts the SecureString;
    // the plugin decrypts it for the engine, which echoes the text. Both statements run once, in order.
    let (server, _) = start(false).await;
    let result = pypsrp(&server, false, "ntlm", "secure_string").await;
    assert_eq!(result["had_errors"], json!(false), "{result}");
    assert_eq!(strings(&result["output"]), ["pa55 w0rd \u{fc}\u{10437}", "done"]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_session_goes_on_after_its_connection_closes() {
    // NTLM with message encryption: after the connection closes, pypsrp seals the next body with its existing
    // context on a new connection; the endpoint finds that context again (issue 21, item 1).
    let (server, _) = start(false).await;
    let result = pypsrp(&server, false, "ntlm", "reconnect").await;
    assert_eq!(strings(&result["before"]), ["before"]);
    assert_eq!(strings(&result["after"]), ["after"]);
    assert_eq!(server.service().shell_count(), 0, "the pool was closed through the new connection");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypsrp_client_execute_ps_runs_through_invoke_expression() {
    // pypsrp's Client.execute_ps sends Invoke-Expression -Command <script> | Out-String -Stream (issue 21).
    let (server, _) = start(false).await;
    let result = pypsrp(&server, false, "ntlm", "execute_ps").await;
    assert_eq!(result["had_errors"], json!(false), "{result}");
    assert_eq!(result["output"], json!("answer 42\nsecond"), "{result}");
    server.shutdown().await;
}
