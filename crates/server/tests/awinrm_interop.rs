//! The real awinrm client (PyPI, installed by the test command) against the embedded endpoint: asyauth's NTLM
//! (no MIC in its AUTHENTICATE) is accepted and seals the exchange, and the cmd shell its `run_cmd` asks for is
//! refused with a fault naming why.

mod server_support;

use std::path::Path;

use pssession_server::RunningServer;
use serde_json::{Value, json};

const ALICE: (&str, &str) = ("alice", "Secret123!");

async fn start() -> RunningServer {
    server_support::powershell_endpoint(ALICE).await
}

async fn awinrm(server: &RunningServer, password: &str) -> Value {
    let request = json!({
        "host": "127.0.0.1",
        "port": server.http_address().expect("listener").port(),
        "user": ALICE.0,
        "password": password,
        "wrong_password": password != ALICE.1,
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/awinrm_client.py");
    tokio::task::spawn_blocking(move || pssession_testkit::run_python_json(&script, &request))
        .await
        .expect("awinrm thread")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asyauth_ntlm_without_a_mic_logs_on_and_run_cmd_is_told_the_cmd_shell_is_not_provided() {
    let server = start().await;
    let result = awinrm(&server, ALICE.1).await;
    assert_eq!(result["fault"], json!(true), "{result}");
    let message = result["message"].as_str().expect("message");
    // The fault came back through the sealed channel: authentication (without a MIC) succeeded.
    assert!(message.contains("the cmd shell (WinRS) is not provided by this endpoint"), "{message}");
    assert!(message.contains("2150858771"), "ERROR_WSMAN_ACTION_NOT_SUPPORTED: {message}");
    assert_eq!(server.service().shell_count(), 0);

    // The same client with a wrong password is refused at logon: it never gets as far as the shell.
    let result = awinrm(&server, "wrong").await;
    assert_eq!(result["fault"], json!(false), "{result}");
    assert!(result["refused"].is_string(), "{result}");
    server.shutdown().await;
}
