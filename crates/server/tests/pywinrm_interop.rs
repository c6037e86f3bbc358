//! The real pywinrm client (PyPI, installed by the test command) against the embedded endpoint with the
//! PowerShell plugin: what its users see where the endpoint differs from Windows.

mod server_support;

use std::path::Path;

use pssession_server::RunningServer;
use serde_json::{Value, json};

const ALICE: (&str, &str) = ("alice", "Secret123!");

async fn start() -> RunningServer {
    server_support::powershell_endpoint(ALICE).await
}

/// Runs one pywinrm scenario in a blocking thread (the server keeps serving on the runtime meanwhile).
async fn pywinrm(server: &RunningServer, auth: &str, scenario: &str) -> Value {
    let request = json!({
        "host": "127.0.0.1",
        "port": server.http_address().expect("listener").port(),
        "ssl": false,
        "auth": auth,
        "user": ALICE.0,
        "password": ALICE.1,
        "scenario": scenario,
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/pywinrm_client.py");
    tokio::task::spawn_blocking(move || pssession_testkit::run_python_json(&script, &request))
        .await
        .expect("pywinrm thread")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_cmd_and_run_ps_are_told_the_cmd_shell_is_not_provided() {
    // NTLM with message encryption over HTTP: the fault arrives sealed, and pywinrm shows its reason.
    let server = start().await;
    let result = pywinrm(&server, "ntlm", "cmd").await;
    for call in ["run_cmd", "run_ps"] {
        let r = &result[call];
        assert_eq!(r["fault"], json!(true), "{call}: {result}");
        // ERROR_WSMAN_ACTION_NOT_SUPPORTED
        assert_eq!(r["wsman_code"], json!(0x8033_8013u32), "{call}: {result}");
        let reason = r["reason"].as_str().expect("reason text");
        assert!(reason.contains("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"), "{reason}");
        assert!(reason.contains("cmd shell (WinRS) is not provided by this endpoint"), "{reason}");
    }
    assert_eq!(server.service().shell_count(), 0);
    server.shutdown().await;
}
