//! `pssession invoke` — Invoke-Command: runs a script block
//!
//! * on computers in a temporary session (`--computer-name …`), printing the output;
//! * on computers in a new disconnected session (`--in-disconnected-session [--session-name N]`), returning at
//!   once — collect the output later with `receive`;
//! * in existing sessions (`--name`, `--id`, `--instance-id`), connecting and disconnecting around it.
//!
//! Output is printed object by object as it arrives. Ctrl-C (or SIGTERM) while waiting for it disconnects the
//! session with the command still running — a temporary session is then kept, disconnected, instead of removed —
//! and says how to collect the rest with `pssession receive` ([`crate::interrupt`]).

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::common::{
    ConnectionArgs, ObjectFormat, OutputPrinter, Row, SessionSelector, buffering_mode, locate, print_rows,
    record_failure, remember_left, store, with_table_pauses,
};
use crate::interrupt::Interrupts;
use pssession_connect::PipelineSpec;

/// Arguments of `invoke`.
#[derive(Debug, Clone, Args)]
pub struct InvokeArgs {
    /// Connection parameters.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Existing sessions to run in.
    #[command(flatten)]
    pub selector: SessionSelector,
    /// The script to run (`-ScriptBlock`, alias `-Command`).
    #[arg(long = "script-block", visible_alias = "command")]
    pub script_block: String,
    /// Start the command in a new session and disconnect at once (`-InDisconnectedSession`).
    #[arg(long = "in-disconnected-session")]
    pub in_disconnected_session: bool,
    /// Name of the new session (`-SessionName`).
    #[arg(long = "session-name")]
    pub session_name: Option<String>,
    /// Idle timeout of a disconnected session, in seconds (≥ 60).
    #[arg(long = "idle-timeout-sec")]
    pub idle_timeout_sec: Option<u64>,
    /// Output buffering while disconnected (Block, Drop).
    #[arg(long = "output-buffering-mode")]
    pub output_buffering_mode: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ObjectFormat::Text)]
    pub output: ObjectFormat,
}

/// Runs `invoke`.
pub async fn run(args: InvokeArgs) -> Result<ExitCode, String> {
    let spec = PipelineSpec::script(args.script_block.clone());
    let mode = buffering_mode(args.output_buffering_mode.as_deref())?;
    let idle = args.idle_timeout_sec.map(Duration::from_secs);
    let store = store()?;
    let mut interrupts = Interrupts::install()?;
    let mut failed = false;
    if !args.selector.is_empty() {
        let located = interrupts.finish(locate(&args.connection, &args.selector)).await?;
        for found in located {
            if interrupts.caught().is_some() {
                break;
            }
            let printer = std::cell::RefCell::new(OutputPrinter::new(args.output));
            let result = async {
                let mut session = interrupts.finish(found.client.connect(&found.info)).await?;
                let mut interrupted = false;
                if args.in_disconnected_session {
                    interrupts.finish(session.invoke_disconnected(&spec, idle, mode)).await?;
                } else {
                    let pipeline = interrupts.finish(session.start(&spec)).await?;
                    let received = interrupts
                        .stop_on_first(with_table_pauses(
                            &printer,
                            session.receive_pipeline(pipeline, |o| printer.borrow_mut().print(&o)),
                        ))
                        .await;
                    interrupted = received.is_none();
                    received.transpose()?;
                    interrupts.finish(session.disconnect(idle, mode)).await?;
                }
                Ok::<_, pssession_connect::Error>((session.info(), interrupted))
            }
            .await;
            printer.borrow_mut().finish();
            failed |= printer.borrow().failed();
            match result {
                Ok((info, interrupted)) => {
                    remember_left(&store, info, &found.client, interrupted)?;
                }
                Err(e) => {
                    failed = true;
                    eprintln!("pssession: {}: {e}", found.info.name);
                    record_failure(&store, found.info.instance_id, &e)?;
                }
            }
        }
        return Ok(interrupts.exit_code(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }));
    }
    let targets = args.connection.targets()?;
    if targets.is_empty() {
        return Err(
            "give --computer-name/--connection-uri, or existing sessions with --name/--id/--instance-id".to_owned()
        );
    }
    let auth = args.connection.authentication(None)?;
    let mut rows = Vec::new();
    for target in targets {
        if interrupts.caught().is_some() {
            break;
        }
        let computer = target.computer_name_str().to_owned();
        let client = args.connection.client(target, auth.clone())?;
        let next_id = store.list().map_err(|e| e.to_string())?.iter().map(|r| r.id).max().unwrap_or(0) + 1;
        let name = args.session_name.clone().unwrap_or_else(|| format!("Runspace{next_id}"));
        let printer = std::cell::RefCell::new(OutputPrinter::new(args.output));
        let result = async {
            let mut session = interrupts.finish(client.new_session(&name)).await?;
            if args.in_disconnected_session {
                interrupts.finish(session.invoke_disconnected(&spec, idle, mode)).await?;
                return Ok::<_, pssession_connect::Error>((Some(session.info()), false));
            }
            let pipeline = match interrupts.finish(session.start(&spec)).await {
                Ok(pipeline) => pipeline,
                Err(e) => {
                    let _ = interrupts.finish(session.remove()).await;
                    return Err(e);
                }
            };
            match interrupts
                .stop_on_first(with_table_pauses(
                    &printer,
                    session.receive_pipeline(pipeline, |o| printer.borrow_mut().print(&o)),
                ))
                .await
            {
                // Interrupted: the temporary session is kept, disconnected, with its command running.
                None => {
                    interrupts.finish(session.disconnect(idle, mode)).await?;
                    Ok((Some(session.info()), true))
                }
                Some(outcome) => {
                    let removed = interrupts.finish(session.remove()).await;
                    outcome?;
                    removed?;
                    Ok((None, false))
                }
            }
        }
        .await;
        printer.borrow_mut().finish();
        failed |= printer.borrow().failed();
        match result {
            Ok((info, interrupted)) => {
                if let Some(info) = info {
                    let records = remember_left(&store, info, &client, interrupted)?;
                    if !interrupted {
                        rows.extend(records.iter().map(Row::from_record));
                    }
                }
            }
            Err(e) => {
                failed = true;
                eprintln!("pssession: {computer}: {e}");
            }
        }
    }
    if args.in_disconnected_session {
        print_rows(&rows, args.output.rows());
    }
    Ok(interrupts.exit_code(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }))
}
