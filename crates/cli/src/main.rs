//! The `pssession` command line.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};

/// PowerShell remoting's Disconnect-PSSession / Connect-PSSession for every OS.
#[derive(Debug, Parser)]
#[command(name = "pssession", version, about)]
struct Cli {
    /// Log what the transport does to stderr: `-v` the HTTP round trips and connections (debug), `-vv` everything
    /// (trace). Header values, tokens and passwords are never logged.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Connect-PSSession: reconnect to disconnected sessions.
    #[command(visible_alias = "cnsn")]
    Connect(pssession_cli::connect::ConnectArgs),
    /// Disconnect-PSSession: disconnect sessions, setting their idle timeout and output buffering.
    Disconnect(pssession_cli::disconnect::DisconnectArgs),
    /// Get-PSSession: sessions on computers, or in this user's session store.
    Get(pssession_cli::get::GetArgs),
    /// New-PSSession: create sessions (left disconnected, ready to connect).
    New(pssession_cli::new::NewArgs),
    /// Invoke-Command: run a script block, optionally in a disconnected session.
    Invoke(pssession_cli::invoke::InvokeArgs),
    /// Receive-PSSession: collect the output of sessions' commands.
    Receive(pssession_cli::receive::ReceiveArgs),
    /// Remove-PSSession: delete sessions.
    Remove(pssession_cli::remove::RemoveArgs),
    /// Run the embedded WinRM endpoint until SIGINT/SIGTERM.
    Serve(pssession_cli::serve::ServeArgs),
    /// Tools for recorded WinRM traffic: `trace decode FILE` prints every WS-Man exchange and PSRP message.
    Trace(pssession_cli::trace::TraceArgs),
    /// Play Example 3 of the Connect-PSSession help against an embedded WinRM endpoint.
    ///
    /// Starts the embedded endpoint on an ephemeral loopback port, creates the session `ITTask`, starts a
    /// long-running job, disconnects with `-OutputBufferingMode Drop -IdleTimeoutSec 54000`, finds the session
    /// from a fresh client identity, connects to it by name, collects the job's output and disconnects again.
    Demo,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    pssession_cli::init_tracing(cli.verbose);
    match cli.command {
        Command::Connect(args) => pssession_cli::run(pssession_cli::connect::run(args)),
        Command::Disconnect(args) => pssession_cli::run(pssession_cli::disconnect::run(args)),
        Command::Get(args) => pssession_cli::run(pssession_cli::get::run(args)),
        Command::New(args) => pssession_cli::run(pssession_cli::new::run(args)),
        Command::Invoke(args) => pssession_cli::run(pssession_cli::invoke::run(args)),
        Command::Receive(args) => pssession_cli::run(pssession_cli::receive::run(args)),
        Command::Remove(args) => pssession_cli::run(pssession_cli::remove::run(args)),
        Command::Serve(args) => pssession_cli::run(pssession_cli::serve::run(args)),
        Command::Trace(args) => pssession_cli::trace::run(args),
        Command::Demo => pssession_cli::run(pssession_cli::demo::run()),
    }
}
