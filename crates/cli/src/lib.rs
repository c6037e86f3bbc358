//! The `pssession` command line (the internals of the `pssession` binary; embedders use `pssession-connect`): one
//! module per subcommand, named after the cmdlets, with PowerShell's parameter
//! names in kebab case.
//!
//! A CLI process cannot keep a connection open after it exits, so every subcommand that connects to a session
//! leaves it **disconnected** again when it is done (keeping its idle timeout and buffering mode), ready for the
//! next `pssession connect|receive|invoke --name …` — from this or any other machine.

#![forbid(unsafe_code)]

pub mod common;
pub mod connect;
pub mod demo;
pub mod disconnect;
pub mod get;
pub mod interrupt;
pub mod invoke;
pub mod new;
pub mod progress;
pub mod receive;
pub mod recorded;
pub mod remove;
pub mod serve;
pub mod store;
pub mod trace;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::filter::LevelFilter;

/// Whether `-v` turned tracing on (the progress line then stays off, so as not to garble the log lines).
static TRACING: AtomicBool = AtomicBool::new(false);

/// The most detailed level logged for `-v` repeated `count` times: nothing without `-v`, debug (the transport's
/// HTTP round trips and connections, the endpoint's refusals) with `-v`, trace (everything) with `-vv` or more.
pub fn verbosity_level(count: u8) -> LevelFilter {
    match count {
        0 => LevelFilter::OFF,
        1 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// Installs the stderr log for `-v`/`-vv` (see [`verbosity_level`]); does nothing without `-v`. The events come
/// from the `tracing` calls of the transport and the embedded endpoint, which never log header values, tokens or
/// passwords.
pub fn init_tracing(verbose: u8) {
    let level = verbosity_level(verbose);
    if level == LevelFilter::OFF {
        return;
    }
    let installed = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(true)
        .try_init()
        .is_ok();
    TRACING.store(installed, Ordering::Relaxed);
}

/// Whether [`init_tracing`] installed the stderr log.
pub fn tracing_enabled() -> bool {
    TRACING.load(Ordering::Relaxed)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_v_logs_more() {
        assert_eq!(verbosity_level(0), LevelFilter::OFF);
        assert_eq!(verbosity_level(1), LevelFilter::DEBUG);
        assert_eq!(verbosity_level(2), LevelFilter::TRACE);
        assert_eq!(verbosity_level(5), LevelFilter::TRACE);
    }
}
