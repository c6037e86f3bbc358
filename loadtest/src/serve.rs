//! `pssession-load serve`: N embedded endpoints (the PowerShell plugin on the built-in engine) in this process,
//! each with an HTTP listener on an ephemeral loopback port; NTLM with message encryption (HTTP bodies are sealed,
//! unencrypted ones refused), one user from `PSSESSION_LOAD_USER` / `PSSESSION_LOAD_PASSWORD`. The first endpoint
//! also listens for HTTPS, with a self-signed certificate generated for the run (bodies are then not sealed).
//!
//! Prints `{"uris": [...], "https_uri": …}` once every listener accepts connections, then answers each `stats` line on stdin with
//! `{"shells": n, "vmrss_kib": …, "vmhwm_kib": …}` and stops when stdin closes.

use std::io::{BufRead, Write};
use std::sync::Arc;

use pssession_server::engine::{BuiltinEngine, EngineConfig};
use pssession_server::plugin::Plugin;
use pssession_server::powershell::PowerShellPlugin;
use pssession_server::{Server, ServerCertificate, ServiceConfig};
use serde_json::json;

use crate::args::{Args, credentials};
use crate::proc_status;

pub fn command(argv: &[String]) -> Result<(), String> {
    let args = Args::parse(argv)?;
    let endpoints: usize = args.number("endpoints", 1)?;
    let buffer_mib: usize = args.number("output-buffer-mib", 1)?;
    let (user, password) = credentials()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    let mut config = ServiceConfig::default();
    config.output_buffer_bytes = buffer_mib << 20;
    // The fan-out holds 1,000 sessions of one user; the per-user quota is not what is measured.
    config.max_shells_per_user = 100_000;
    let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    let (_, certificate, key) = ServerCertificate::generate(&names).map_err(|e| e.to_string())?;
    let servers = runtime.block_on(async {
        let mut servers = Vec::with_capacity(endpoints);
        for i in 0..endpoints {
            let engine = Arc::new(BuiltinEngine::new(EngineConfig::default()));
            let plugin: Arc<dyn Plugin> = Arc::new(PowerShellPlugin::new(engine));
            let mut builder = Server::builder()
                .config(config.clone())
                .user(&user, &password)
                .plugin(pssession_server::DEFAULT_CONFIGURATION, plugin)
                .http(0);
            if i == 0 {
                builder = builder
                    .certificate_pem(certificate.as_bytes(), key.as_bytes())
                    .map_err(|e| e.to_string())?
                    .https(0);
            }
            servers.push(builder.start().await.map_err(|e| e.to_string())?);
        }
        Ok::<_, String>(servers)
    })?;
    let uris: Vec<String> = servers.iter().filter_map(|s| s.http_url()).collect();
    let mut stdout = std::io::stdout().lock();
    let https_uri = servers.first().and_then(|s| s.https_url());
    writeln!(stdout, "{}", json!({ "uris": uris, "https_uri": https_uri })).map_err(|e| e.to_string())?;
    stdout.flush().map_err(|e| e.to_string())?;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| e.to_string())?;
        if line.trim() == "stats" {
            let shells: usize = servers.iter().map(|s| s.service().shell_count()).sum();
            let answer = json!({
                "shells": shells,
                "vmrss_kib": proc_status::own_rss_kib()?,
                "vmhwm_kib": proc_status::own_peak_kib()?,
            });
            writeln!(stdout, "{answer}").map_err(|e| e.to_string())?;
            stdout.flush().map_err(|e| e.to_string())?;
        }
    }
    runtime.block_on(async {
        for server in servers {
            server.shutdown().await;
        }
    });
    Ok(())
}
