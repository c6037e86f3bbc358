//! Dell's `wsl` WS-Management command line (Debian package `wsl`, installed by the test command) against the
//! embedded endpoint: `wsl identify` sends an Identify with an empty header over HTTPS, with Basic credentials,
//! and gets WinRM's IdentifyResponse (issue 21, item 3).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use pssession_server::engine::{BuiltinEngine, EngineConfig};
use pssession_server::plugin::Plugin;
use pssession_server::powershell::PowerShellPlugin;
use pssession_server::{Server, ServerCertificate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wsl_identify_gets_the_identify_response() {
    let (_, certificate, key) = ServerCertificate::generate(&["127.0.0.1".to_owned()]).expect("certificate");
    let plugin: Arc<dyn Plugin> =
        Arc::new(PowerShellPlugin::new(Arc::new(BuiltinEngine::new(EngineConfig::default()))));
    let server = Server::builder()
        .user("alice", "Secret1!")
        .plugin(pssession_server::DEFAULT_CONFIGURATION, plugin)
        .certificate_pem(certificate.as_bytes(), key.as_bytes())
        .expect("certificate")
        .https(0)
        .start()
        .await
        .expect("server starts");
    let endpoint = server.https_address().expect("https").to_string();
    // wsl writes its request, response and history files into the working directory and $HOME.
    let dir: PathBuf = std::env::temp_dir().join(format!("pssession-wsl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let output = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || {
            Command::new("wsl")
                .args(["identify", "check"])
                .current_dir(&dir)
                .env("HOME", &dir)
                .env("WSAUTOMATED", "1")
                .env("WSENDPOINT", &endpoint)
                .env("WSUSER", "alice")
                .env("WSPASS", "Secret1!")
                .output()
                .expect("wsl (Debian package wsl) is installed by the test command")
        }
    })
    .await
    .expect("wsl thread");
    let response = std::fs::read_to_string(dir.join("response.xml")).unwrap_or_default();
    assert!(output.status.success(), "wsl failed: {}\n{response}", String::from_utf8_lossy(&output.stderr));
    assert!(response.contains("<wsmid:IdentifyResponse"), "{response}");
    assert!(
        response
            .contains("<wsmid:ProtocolVersion>http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd</wsmid:ProtocolVersion>"),
        "{response}"
    );
    assert!(response.contains("secprofile/https/basic"), "{response}");
    std::fs::remove_dir_all(&dir).ok();
    server.shutdown().await;
}
