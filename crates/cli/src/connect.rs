//! `pssession connect` (alias `cnsn`) — Connect-PSSession: connects to disconnected sessions, found on computers
//! (`--computer-name`, `--connection-uri`) or in the store (`--session`, `--name`, `--id`, `--instance-id`).
//!
//! Sessions are connected in parallel, at most `--throttle-limit` at once, each failure reported on its own.
//! Busy sessions (connected to another client) are refused with PowerShell's message; the CLI disconnects again
//! when it exits, so the table shows the state reached and the store keeps the session disconnected.

use std::process::ExitCode;

use clap::Args;

use crate::common::{
    ConnectionArgs, Located, OutputFormat, Row, SessionSelector, ShouldProcess, ShouldProcessArgs, endpoint_of, locate,
    print_rows, record_failure, remember, session_target, store, user_of,
};
use crate::interrupt::Interrupts;
use crate::progress::Progress;
use pssession_connect::OutputBufferingMode;
use pssession_connect::SessionInfo;
use pssession_connect::fanout::fan_out;

/// Arguments of `connect`.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Connection parameters.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Which sessions.
    #[command(flatten)]
    pub selector: SessionSelector,
    /// `--what-if`, `--confirm`.
    #[command(flatten)]
    pub should_process: ShouldProcessArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// What connecting one session gave: the session as connected, then as left (disconnected again).
struct Connected {
    connected: SessionInfo,
    left: SessionInfo,
    warning: Option<String>,
}

/// Runs `connect`.
pub async fn run(args: ConnectArgs) -> Result<ExitCode, String> {
    let located = locate(&args.connection, &args.selector).await?;
    if located.is_empty() {
        return Err("no session matches".to_owned());
    }
    let mut should_process = ShouldProcess::new(args.should_process);
    let chosen: Vec<(usize, Located)> = located
        .into_iter()
        .enumerate()
        .filter(|(_, found)| should_process.should_process("Connect-PSSession", &session_target(&found.info)))
        .collect();
    let chosen: Vec<(usize, std::rc::Rc<Located>)> =
        chosen.into_iter().map(|(i, found)| (i, std::rc::Rc::new(found))).collect();
    let progress = std::rc::Rc::new(Progress::stderr("Connecting", chosen.len()));
    // Each connect disconnects again by itself: Ctrl-C lets those under way finish, so none is left connected.
    let mut interrupts = Interrupts::install()?;
    let results = interrupts
        .finish(fan_out(
            chosen,
            args.connection.throttle_limit,
            |(_, found)| {
                let progress = std::rc::Rc::clone(&progress);
                async move {
                    let result = async {
                        let mut session = found.client.connect(&found.info).await?;
                        let connected = session.info();
                        let warning = session
                            .disconnect(None, OutputBufferingMode::None)
                            .await
                            .err()
                            .map(|e| format!("{}: disconnecting again: {e}", connected.name));
                        Ok::<_, pssession_connect::Error>(Connected { connected, left: session.info(), warning })
                    }
                    .await;
                    progress.advance(&found.info.name);
                    result
                }
            },
            |_| pssession_connect::Error::MalformedResponse("the connect task failed".to_owned()),
        ))
        .await;
    drop(progress);
    let store = store()?;
    let mut rows = Vec::new();
    let mut failed = false;
    for ((_, found), result) in results {
        match result {
            Ok(done) => {
                let (endpoint, user) = (endpoint_of(&found.client), user_of(&found.client));
                let records = remember(&store, &[done.connected], &endpoint, user.as_deref())?;
                rows.extend(records.iter().map(Row::from_record));
                if let Some(warning) = done.warning {
                    eprintln!("pssession: {warning}");
                }
                remember(&store, &[done.left], &endpoint, user.as_deref())?;
            }
            Err(e) => {
                failed = true;
                eprintln!("pssession: {e}");
                if let Some(id) = e.fully_qualified_error_id() {
                    eprintln!(
                        "    + FullyQualifiedErrorId : {id},Microsoft.PowerShell.Commands.ConnectPSSessionCommand"
                    );
                }
                // Gone between discovery and connection (idle timeout, restart): Broken in the store too.
                record_failure(&store, found.info.instance_id, &e)?;
            }
        }
    }
    print_rows(&rows, args.output);
    Ok(interrupts.exit_code(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }))
}
