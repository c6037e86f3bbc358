//! The `pssession` command line.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// PowerShell remoting's Disconnect-PSSession / Connect-PSSession for every OS.
#[derive(Debug, Parser)]
#[command(name = "pssession", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Play Example 3 of the Connect-PSSession help against an embedded WinRM endpoint.
    ///
    /// Starts the embedded endpoint on an ephemeral loopback port, creates the session `ITTask`, starts a
    /// long-running job, disconnects with `-OutputBufferingMode Drop -IdleTimeoutSec 54000`, finds the session
    /// from a fresh client identity, connects to it by name, collects the job's output and disconnects again.
    Demo,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo => {
            eprintln!(
                "pssession demo: not available yet. The embedded WinRM endpoint and the reconnect client it \
                 plays against are still being built; this build contains the PSRP framing core only."
            );
            ExitCode::from(2)
        }
    }
}
