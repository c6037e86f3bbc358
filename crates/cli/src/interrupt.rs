//! Ctrl-C and SIGTERM for the subcommands that hold sessions, as a PowerShell user expects of a disconnectable
//! session: the first signal stops waiting, disconnects the session cleanly (its command keeps running on the
//! server, its buffered output stays there) and says how to resume; a second signal exits at once.
//!
//! Exit statuses: [`INTERRUPTED`] (3) after a clean disconnect; 128 + the signal's number (130 for SIGINT, 143 for
//! SIGTERM), as for a process the signal killed, when a second signal cut the disconnect short. What was printed
//! before either is on stdout: output is written object by object and stdout is flushed before exiting.

use std::future::Future;
use std::io::Write;
use std::process::ExitCode;

use tokio::signal::unix::{Signal, SignalKind, signal};

/// The exit status after the first signal, once the sessions were disconnected and can be resumed.
pub const INTERRUPTED: u8 = 3;

/// Which signal arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caught {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl Caught {
    fn number(self) -> i32 {
        match self {
            Caught::Interrupt => 2,
            Caught::Terminate => 15,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Caught::Interrupt => "Ctrl-C",
            Caught::Terminate => "SIGTERM",
        }
    }
}

/// The process's SIGINT and SIGTERM, caught from [`Interrupts::install`] on (the default action, dying at once,
/// no longer applies).
pub struct Interrupts {
    interrupt: Signal,
    terminate: Signal,
    first: Option<Caught>,
}

impl Interrupts {
    /// Catches SIGINT and SIGTERM.
    pub fn install() -> Result<Self, String> {
        let catch = |kind| signal(kind).map_err(|e| format!("cannot catch signals: {e}"));
        Ok(Interrupts {
            interrupt: catch(SignalKind::interrupt())?,
            terminate: catch(SignalKind::terminate())?,
            first: None,
        })
    }

    /// The first signal, once one arrived.
    pub fn caught(&self) -> Option<Caught> {
        self.first
    }

    /// The exit status for a run that was interrupted and cleaned up, or `normal` when no signal arrived.
    pub fn exit_code(&self, normal: ExitCode) -> ExitCode {
        if self.first.is_some() { ExitCode::from(INTERRUPTED) } else { normal }
    }

    async fn next(&mut self) -> Caught {
        tokio::select! {
            _ = self.interrupt.recv() => Caught::Interrupt,
            _ = self.terminate.recv() => Caught::Terminate,
        }
    }

    /// Runs `work` until it finishes (`Some`) or, for the first signal, until that signal (`None`: `work` is
    /// dropped, which the library's session futures allow). After the first signal, `work` runs to its end and a
    /// second signal exits the process at once.
    pub async fn stop_on_first<T>(&mut self, work: impl Future<Output = T>) -> Option<T> {
        if self.first.is_some() {
            return Some(self.finish(work).await);
        }
        tokio::select! {
            out = work => Some(out),
            caught = self.next() => {
                self.first = Some(caught);
                eprintln!(
                    "pssession: {}: stopping; disconnecting the session so that its command keeps running on the \
                     server. Press Ctrl-C again to exit at once.",
                    caught.name()
                );
                None
            }
        }
    }

    /// Runs `work` to its end whatever the first signal (the work leaves sessions disconnected by itself, such as a
    /// Disconnect or a Connect-then-Disconnect); a second signal exits the process at once.
    pub async fn finish<T>(&mut self, work: impl Future<Output = T>) -> T {
        tokio::pin!(work);
        loop {
            tokio::select! {
                out = &mut work => return out,
                caught = self.next() => {
                    if self.first.is_some() {
                        exit_now(caught);
                    }
                    self.first = Some(caught);
                    eprintln!(
                        "pssession: {}: finishing what is under way, leaving the sessions disconnected. Press \
                         Ctrl-C again to exit at once.",
                        caught.name()
                    );
                }
            }
        }
    }
}

/// Exits at once for a second signal: flushes stdout, says what was left behind, and exits with 128 + the signal.
fn exit_now(caught: Caught) -> ! {
    let _ = std::io::stdout().flush();
    eprintln!(
        "pssession: {} again: exiting without waiting. A session that was being disconnected may stay connected \
         until the server notices that this client is gone; `pssession get` shows it.",
        caught.name()
    );
    std::process::exit(128 + caught.number())
}

/// Tells the user how to collect the rest of an interrupted session's output (stderr).
pub fn print_resume_hint(name: &str, instance_id: uuid::Uuid) {
    let _ = std::io::stdout().flush();
    let reference = if name.is_empty() {
        format!("--instance-id {}", instance_id.hyphenated())
    } else {
        format!("--session {name}")
    };
    eprintln!(
        "pssession: session {} is disconnected; its command goes on on the server. Resume with: pssession receive \
         {reference}",
        if name.is_empty() { instance_id.hyphenated().to_string() } else { name.to_owned() }
    );
}
