//! `pssession connect` (alias `cnsn`) — Connect-PSSession: connects to disconnected sessions, found on computers
//! (`--computer-name`, `--connection-uri`) or in the store (`--name`, `--id`, `--instance-id`).
//!
//! Busy sessions (connected to another client) are refused with PowerShell's message; the CLI disconnects again
//! when it exits, so the table shows the state reached and the store keeps the session disconnected.

use std::process::ExitCode;

use clap::Args;

use crate::OutputBufferingMode;
use crate::cli::common::{
    ConnectionArgs, OutputFormat, Row, SessionSelector, endpoint_of, locate, print_rows, remember, store, user_of,
};

/// Arguments of `connect`.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Connection parameters.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Which sessions.
    #[command(flatten)]
    pub selector: SessionSelector,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Runs `connect`.
pub async fn run(args: ConnectArgs) -> Result<ExitCode, String> {
    let located = locate(&args.connection, &args.selector).await?;
    if located.is_empty() {
        return Err("no session matches".to_owned());
    }
    let store = store()?;
    let mut rows = Vec::new();
    let mut failed = false;
    for found in located {
        match found.client.connect(&found.info).await {
            Ok(mut session) => {
                let mut info = session.info();
                let records =
                    remember(&store, &[info.clone()], &endpoint_of(&found.client), user_of(&found.client).as_deref())?;
                rows.extend(records.iter().map(Row::from_record));
                if let Err(e) = session.disconnect(None, OutputBufferingMode::None).await {
                    eprintln!("pssession: {}: disconnecting again: {e}", info.name);
                }
                info = session.info();
                remember(&store, &[info], &endpoint_of(&found.client), user_of(&found.client).as_deref())?;
            }
            Err(e) => {
                failed = true;
                eprintln!("pssession: {e}");
            }
        }
    }
    print_rows(&rows, args.output);
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
