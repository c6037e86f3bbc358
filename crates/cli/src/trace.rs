//! `pssession trace` — tools for recorded WinRM traffic.
//!
//! `pssession trace decode FILE` prints every exchange of a trace (pypsrp's YAML format, or a directory of
//! `*.request.xml`/`*.response.xml` envelope files) down to the PSRP messages and their deserialized bodies.
//! Anything that cannot be decoded is reported on stderr with its location, and the exit status is 1.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};

use crate::recorded::{Trace, decode, to_json, to_text};

/// Arguments of `trace`.
#[derive(Debug, Clone, Args)]
pub struct TraceArgs {
    /// What to do with the trace.
    #[command(subcommand)]
    pub command: TraceCommand,
}

/// The `trace` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum TraceCommand {
    /// Decode a trace: WS-Man operations, targets, faults, and every PSRP message with its body.
    Decode(DecodeArgs),
}

/// How `trace decode` prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum TraceOutput {
    /// One line per exchange, PSRP messages indented.
    #[default]
    Text,
    /// One JSON document: a list of exchanges with `request` and `response` objects.
    Json,
}

/// Arguments of `trace decode`.
#[derive(Debug, Clone, Args)]
pub struct DecodeArgs {
    /// A YAML trace (`messages: [{request, response}]`) or a directory of envelope files.
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TraceOutput::Text)]
    pub output: TraceOutput,
    /// Text output: print each message's deserialized body too.
    #[arg(long)]
    pub full: bool,
}

/// Runs `trace`.
pub fn run(args: TraceArgs) -> ExitCode {
    match args.command {
        TraceCommand::Decode(args) => run_decode(&args),
    }
}

fn run_decode(args: &DecodeArgs) -> ExitCode {
    let trace = match Trace::load(&args.file) {
        Ok(trace) => trace,
        Err(e) => {
            eprintln!("pssession: {e}");
            return ExitCode::from(1);
        }
    };
    let decoded = decode(&trace);
    match args.output {
        TraceOutput::Text => print!("{}", to_text(&decoded, args.full)),
        TraceOutput::Json => match serde_json::to_string_pretty(&to_json(&decoded)) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("pssession: {e}");
                return ExitCode::from(1);
            }
        },
    }
    for problem in &decoded.problems {
        eprintln!("pssession: cannot decode {problem}");
    }
    if decoded.problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) }
}
