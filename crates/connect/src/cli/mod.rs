//! The `pssession` command line: one module per subcommand, named after the cmdlets, with PowerShell's parameter
//! names in kebab case.
//!
//! A CLI process cannot keep a connection open after it exits, so every subcommand that connects to a session
//! leaves it **disconnected** again when it is done (keeping its idle timeout and buffering mode), ready for the
//! next `pssession connect|receive|invoke --name …` — from this or any other machine.

pub mod common;
pub mod connect;
pub mod demo;
pub mod disconnect;
pub mod get;
pub mod invoke;
pub mod new;
pub mod receive;
pub mod remove;
pub mod serve;
pub mod trace;

use std::process::ExitCode;

/// Runs a subcommand's future on a single-threaded runtime (a CLI process needs no more) and turns its result
/// into the exit code, printing errors to stderr.
pub fn run(future: impl std::future::Future<Output = Result<ExitCode, String>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pssession: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(future) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("pssession: {message}");
            ExitCode::from(1)
        }
    }
}
