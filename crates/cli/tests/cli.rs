//! The `pssession` binary end to end over HTTP (Basic auth, unencrypted, against the simulated endpoint): New →
//! Invoke -InDisconnectedSession → Get-PSSession from another machine (another session store) → Receive-PSSession
//! → Remove; another user sees nothing; a password is never accepted as an argument.

// The simulated WinRM server of the library's tests (crates/connect/tests/common), shared rather than copied.
#[path = "../../connect/tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::SimulatedServer;

struct Cli {
    uri: String,
    _runtime: tokio::runtime::Runtime,
}

fn start() -> Cli {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let addr = runtime.block_on(common::http::serve(SimulatedServer::new()));
    Cli { uri: format!("http://{addr}/wsman"), _runtime: runtime }
}

fn run(state: &Path, args: &[&str], password: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pssession"))
        .args(args)
        .env("XDG_STATE_HOME", state)
        .env_remove("PSSESSION_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pssession");
    if let Some(password) = password {
        child.stdin.as_mut().expect("stdin").write_all(format!("{password}\n").as_bytes()).expect("write password");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("pssession output")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn auth<'a>(uri: &'a str, user: &'a str) -> Vec<&'a str> {
    vec![
        "--connection-uri",
        uri,
        "--credential",
        user,
        "--authentication",
        "Basic",
        "--no-encryption",
        "--password-stdin",
    ]
}

#[test]
fn new_invoke_disconnected_get_receive_remove_from_two_machines() {
    let cli = start();
    let office = tempdir("office");
    let home = tempdir("home");

    let mut args = vec!["new", "--name", "ITTask"];
    args.extend(auth(&cli.uri, "alice"));
    let out = run(&office, &args, Some("secret"));
    assert!(out.status.success(), "new: {}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.contains("Id Name   ComputerName State        ConfigurationName    Availability"), "{table}");
    assert!(table.contains("ITTask"), "{table}");
    assert!(table.contains("Disconnected"), "{table}");

    let mut args = vec![
        "invoke",
        "--name",
        "ITTask",
        "--script-block",
        "Write-Output 'first'; Write-Output 'second'; Write-Output 'third'",
        "--in-disconnected-session",
        "--output-buffering-mode",
        "Drop",
    ];
    args.extend(["--credential", "alice", "--authentication", "Basic", "--no-encryption", "--password-stdin"]);
    let out = run(&office, &args, Some("secret"));
    assert!(out.status.success(), "invoke: {}", text(&out.stderr));

    // Another machine: its own store; finds the session by querying the computer.
    let mut args = vec!["get", "--output", "json"];
    args.extend(auth(&cli.uri, "alice"));
    let out = run(&home, &args, Some("secret"));
    assert!(out.status.success(), "get: {}", text(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(rows[0]["Name"], "ITTask");
    assert_eq!(rows[0]["State"], "Disconnected");
    assert_eq!(rows[0]["Availability"], "None");
    assert_eq!(rows[0]["ConfigurationName"], "Microsoft.PowerShell");
    assert_eq!(rows[0]["Id"], 1);
    assert_eq!(rows[0]["ComputerType"], "RemoteMachine");

    let mut args = vec!["receive", "--name", "ITTask"];
    args.extend(auth(&cli.uri, "alice"));
    let out = run(&home, &args, Some("secret"));
    assert!(out.status.success(), "receive: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "first\nsecond\nthird\n");

    // Another user sees nothing.
    let mut args = vec!["get", "--output", "json"];
    args.extend(auth(&cli.uri, "mallory"));
    let out = run(&tempdir("mallory"), &args, Some("secret"));
    assert!(out.status.success(), "get as mallory: {}", text(&out.stderr));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json"), serde_json::json!([]));

    // Wrong password: the server refuses, the CLI fails.
    let mut args = vec!["get"];
    args.extend(auth(&cli.uri, "alice"));
    let out = run(&home, &args, Some("wrong"));
    assert!(!out.status.success());

    // Remove by local Id from the second machine's store.
    let out = run(
        &home,
        &[
            "remove",
            "--id",
            "1",
            "--credential",
            "alice",
            "--authentication",
            "Basic",
            "--no-encryption",
            "--password-stdin",
        ],
        Some("secret"),
    );
    assert!(out.status.success(), "remove: {}", text(&out.stderr));
    let mut args = vec!["get", "--output", "json"];
    args.extend(auth(&cli.uri, "alice"));
    let out = run(&home, &args, Some("secret"));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json"), serde_json::json!([]));
    let out = run(&home, &["get", "--output", "json"], None);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json"),
        serde_json::json!([]),
        "the local store forgot it"
    );
}

#[test]
fn passwords_are_never_arguments_and_connect_has_its_alias() {
    let state = tempdir("args");
    let out = run(&state, &["get", "--password", "secret"], None);
    assert_eq!(out.status.code(), Some(2), "clap refuses --password");
    let out = run(&state, &["cnsn", "--help"], None);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("--computer-name"));
    let out = run(&state, &["connect"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--name, --id or --instance-id"), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(state);
}

#[test]
fn an_unknown_certificate_thumbprint_is_a_clear_error_before_any_connection() {
    let state = tempdir("thumbprint");
    let certificates = state.join("certificates");
    std::fs::create_dir_all(&certificates).expect("certificate dir");
    let thumbprint = "AA BB CC DD EE FF 00 11 22 33 44 55 66 77 88 99 AA BB CC DD";
    let args = [
        "get",
        "--connection-uri",
        "https://127.0.0.1:1/wsman",
        "--certificate-thumbprint",
        thumbprint,
        "--certificate-directory",
        certificates.to_str().expect("utf-8 path"),
    ];
    let out = run(&state, &args, None);
    assert_ne!(out.status.code(), Some(0));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--certificate-thumbprint"), "{stderr}");
    assert!(!stderr.contains("connection refused") && !stderr.contains("Connection refused"), "{stderr}");
    let out = run(&state, &["get", "--authentication", "Kerberos5", "--connection-uri", "https://x/wsman"], None);
    assert!(text(&out.stderr).contains("CredSSP"), "the error lists what is supported: {}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(state);
}

fn tempdir(label: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("pssession-cli-{label}-{}-{}", std::process::id(), uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
