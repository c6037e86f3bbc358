//! `pssession-load`: the load driver behind `cargo xtask bench --load`.
//!
//! Every measurement runs against the embedded WinRM endpoint in a process of its own (`serve`), on loopback,
//! over HTTP with NTLM and message encryption, user and password generated per run. The clients are processes of
//! their own too, so that what is measured of a client's memory is the client's alone:
//!
//! ```text
//! pssession-load run [--quick] [--out FILE] [--python PYTHON]   everything below, a markdown table at the end
//! pssession-load serve --endpoints N [--output-buffer-mib M]    N endpoints on ephemeral ports; one JSON line
//! pssession-load client SCENARIO --uri URI …                     one pssession scenario, timings as JSON
//! pssession-load fanout-setup --uris U1,U2,… --per-endpoint K    K disconnected sessions on each endpoint
//! pssession-load fanout --uris U1,U2,… --throttle T --expect N   Get-PSSession + Connect-PSSession of them all
//! pssession-load idle-cost --uris U1,U2,… --count N             memory of N idle clients, then N connections
//! ```
//!
//! The user name and password reach the children in `PSSESSION_LOAD_USER` / `PSSESSION_LOAD_PASSWORD`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

mod args;
mod fanout;
mod proc_status;
mod report;
mod run;
mod scenarios;
mod serve;
mod stats;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = argv.split_first() else {
        eprintln!("usage: pssession-load <run | serve | client | fanout-setup | fanout | idle-cost> …");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "run" => run::command(rest),
        "serve" => serve::command(rest),
        "client" => scenarios::command(rest),
        "fanout-setup" => fanout::setup_command(rest),
        "fanout" => fanout::command(rest),
        "idle-cost" => fanout::idle_cost_command(rest),
        other => Err(format!("unknown command {other:?}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pssession-load {command}: {e}");
            ExitCode::FAILURE
        }
    }
}
