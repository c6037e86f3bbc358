//! Internal test support shared by every crate's test suite.
//!
//! The shared fixtures (`../shared/fixtures` beside the repository, recorded Windows traffic and computed vectors)
//! are read in place through [`fixtures_dir`]; set `PSSESSION_FIXTURES` to point elsewhere. A missing fixtures
//! directory is a test failure with a message saying where it looked, never a silent skip.
#![forbid(unsafe_code)]

pub mod fault_proxy;
pub mod kdc;

use std::path::{Path, PathBuf};

use base64::Engine;
use quick_xml::events::Event;
use serde::Deserialize;

/// Environment variable that overrides the fixtures location.
pub const FIXTURES_ENV: &str = "PSSESSION_FIXTURES";

/// The shared fixtures directory. Panics (failing the test) with a clear message when it does not exist.
pub fn fixtures_dir() -> PathBuf {
    let dir = match std::env::var_os(FIXTURES_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"),
    };
    assert!(
        dir.is_dir(),
        "shared fixtures not found at {} — check out ../shared beside the repository or set {FIXTURES_ENV}",
        dir.display()
    );
    dir
}

/// A path inside the fixtures directory, which must exist.
pub fn fixture(relative: &str) -> PathBuf {
    let path = fixtures_dir().join(relative);
    assert!(path.exists(), "fixture {} is missing", path.display());
    path
}

/// Reads a fixture file.
pub fn read_fixture(relative: &str) -> Vec<u8> {
    let path = fixture(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// One request/response pair of a recorded trace.
#[derive(Debug, Clone, Deserialize)]
pub struct Exchange {
    /// The request envelope as sent by the client.
    pub request: String,
    /// The response envelope as sent by the server.
    pub response: String,
}

/// A recorded trace in the pypsrp YAML format: a `messages` list of exchanges.
#[derive(Debug, Clone, Deserialize)]
pub struct Trace {
    /// The exchanges in order.
    pub messages: Vec<Exchange>,
}

/// Every recorded Windows trace (`pypsrp-windows-traces/*.yml`, except the template), sorted by name.
pub fn windows_traces() -> Vec<(String, Trace)> {
    let dir = fixture("pypsrp-windows-traces");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('_')))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no traces in {}", dir.display());
    names
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let trace: Trace =
                serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{} is not a trace: {e}", path.display()));
            (path.file_stem().expect("file name").to_string_lossy().into_owned(), trace)
        })
        .collect()
}

/// A recorded trace by name (without `.yml`).
pub fn windows_trace(name: &str) -> Trace {
    windows_traces().into_iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no trace named {name}")).1
}

/// A base64 PSRP payload found in an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopePayload {
    /// Local name of the element that carried it: `creationXml`, `connectXml`, `connectResponseXml`, `Command`'s `Arguments`, `Send`'s
    /// `Stream`, or `ReceiveResponse`'s `Stream`.
    pub element: String,
    /// `Name` attribute of a stream element (`stdin`, `pr`, `stdout`), if any.
    pub stream: Option<String>,
    /// `CommandId` attribute of a stream element, if any.
    pub command_id: Option<String>,
    /// The decoded bytes.
    pub bytes: Vec<u8>,
}

/// Extracts every base64 PSRP payload of an envelope, in document order.
///
/// This is a deliberately small scanner for test suites; the real envelope codec lives in `pssession-wsman`.
pub fn envelope_payloads(envelope: &str) -> Vec<EnvelopePayload> {
    const CARRIERS: [&str; 5] = ["creationXml", "connectXml", "connectResponseXml", "Arguments", "Stream"];
    let mut reader = quick_xml::Reader::from_str(envelope);
    let mut out = Vec::new();
    let mut current: Option<EnvelopePayload> = None;
    loop {
        match reader.read_event().expect("well-formed envelope") {
            Event::Start(start) => {
                let name = start.local_name().as_ref().to_owned();
                if CARRIERS.contains(&name.as_str()) {
                    let attr = |key: &str| {
                        start
                            .attributes()
                            .flatten()
                            .find(|a| a.key.local_name().as_ref() == key)
                            .map(|a| a.value.to_string())
                    };
                    current = Some(EnvelopePayload {
                        element: name,
                        stream: attr("Name"),
                        command_id: attr("CommandId"),
                        bytes: Vec::new(),
                    });
                }
            }
            Event::Text(text) => {
                if let Some(payload) = current.as_mut() {
                    let text = text.as_ref().trim();
                    payload.bytes = base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .unwrap_or_else(|e| panic!("bad base64 in {}: {e}", payload.element));
                }
            }
            Event::End(_) => {
                if let Some(payload) = current.take() {
                    out.push(payload);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// Text of the first element with the given local name (for example `ResourceURI` or `Action`), trimmed.
pub fn element_text(envelope: &str, local_name: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(envelope);
    let mut inside = false;
    loop {
        match reader.read_event().ok()? {
            Event::Start(start) => inside = start.local_name().as_ref() == local_name,
            Event::Text(text) if inside => return Some(text.as_ref().trim().to_owned()),
            Event::End(_) if inside => return Some(String::new()),
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// Whether an exchange speaks PSRP: its request targets a PowerShell configuration
/// (`http://schemas.microsoft.com/powershell/...`) rather than WinRS `cmd`.
pub fn is_psrp_exchange(exchange: &Exchange) -> bool {
    element_text(&exchange.request, "ResourceURI")
        .is_some_and(|uri| uri.starts_with("http://schemas.microsoft.com/powershell/"))
}

/// Environment variable naming the Python interpreter of the test peers (psrpcore, pypsrp, pyspnego).
pub const PYTHON_ENV: &str = "PSSESSION_PYTHON";

/// The Python interpreter with the pinned test peers: `$PSSESSION_PYTHON`, else the workspace's `.venv`, which
/// `cargo xtask ci` creates. Panics with instructions when neither exists.
pub fn python() -> PathBuf {
    let python = match std::env::var_os(PYTHON_ENV) {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"),
    };
    assert!(
        python.exists(),
        "Python test peers not installed at {} — run `cargo xtask ci` (or `cargo xtask setup`) or set {PYTHON_ENV}",
        python.display()
    );
    python
}

/// Runs a Python peer script with one JSON request on stdin and parses its JSON answer from stdout.
/// Panics (failing the test) with the script's stderr when it fails.
pub fn run_python_json(script: &Path, request: &serde_json::Value) -> serde_json::Value {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
    let input = serde_json::to_vec(request).expect("serializable request");
    child.stdin.take().expect("stdin").write_all(&input).expect("write request");
    let output = child.wait_with_output().expect("python peer finished");
    assert!(
        output.status.success(),
        "{} failed ({}):\n{}",
        script.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{} answered no JSON: {e}", script.display()))
}

/// One 8 KiB HTTP/1.1 chunk (`2000\r\n`, 8,192 × `A`, `\r\n`): sent over and over, a chunked body that never ends,
/// for the tests of body limits on both sides of the transport.
pub static ENDLESS_BODY_CHUNK: [u8; 8192 + 8] = {
    let mut chunk = [b'A'; 8192 + 8];
    let size = *b"2000\r\n";
    let mut i = 0;
    while i < size.len() {
        chunk[i] = size[i];
        i += 1;
    }
    chunk[8192 + 6] = b'\r';
    chunk[8192 + 7] = b'\n';
    chunk
};
