//! `pssession invoke` — Invoke-Command: runs a script block
//!
//! * on computers in a temporary session (`--computer-name …`), printing the output;
//! * on computers in a new disconnected session (`--in-disconnected-session [--session-name N]`), returning at
//!   once — collect the output later with `receive`;
//! * in existing sessions (`--name`, `--id`, `--instance-id`), connecting and disconnecting around it.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::common::{
    ConnectionArgs, OutputFormat, Row, SessionSelector, buffering_mode, endpoint_of, locate, print_outputs, print_rows,
    remember, store, user_of,
};
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
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Runs `invoke`.
pub async fn run(args: InvokeArgs) -> Result<ExitCode, String> {
    let spec = PipelineSpec::script(args.script_block.clone());
    let mode = buffering_mode(args.output_buffering_mode.as_deref())?;
    let idle = args.idle_timeout_sec.map(Duration::from_secs);
    let store = store()?;
    let mut failed = false;
    if !args.selector.is_empty() {
        for found in locate(&args.connection, &args.selector).await? {
            let result = async {
                let mut session = found.client.connect(&found.info).await?;
                let outputs = if args.in_disconnected_session {
                    session.invoke_disconnected(&spec, idle, mode).await?;
                    Vec::new()
                } else {
                    let outputs = session.invoke(&spec).await?;
                    session.disconnect(idle, mode).await?;
                    outputs
                };
                Ok::<_, pssession_connect::Error>((outputs, session.info()))
            }
            .await;
            match result {
                Ok((outputs, info)) => {
                    failed |= print_outputs(&outputs, args.output);
                    remember(&store, &[info], &endpoint_of(&found.client), user_of(&found.client).as_deref())?;
                }
                Err(e) => {
                    failed = true;
                    eprintln!("pssession: {}: {e}", found.info.name);
                }
            }
        }
        return Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS });
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
        let computer = target.computer_name_str().to_owned();
        let client = args.connection.client(target, auth.clone())?;
        let next_id = store.list().map_err(|e| e.to_string())?.iter().map(|r| r.id).max().unwrap_or(0) + 1;
        let name = args.session_name.clone().unwrap_or_else(|| format!("Runspace{next_id}"));
        let result = async {
            let mut session = client.new_session(&name).await?;
            if args.in_disconnected_session {
                session.invoke_disconnected(&spec, idle, mode).await?;
                Ok::<_, pssession_connect::Error>((Vec::new(), Some(session.info())))
            } else {
                let outputs = session.invoke(&spec).await;
                let removed = session.remove().await;
                let outputs = outputs?;
                removed?;
                Ok((outputs, None))
            }
        }
        .await;
        match result {
            Ok((outputs, info)) => {
                failed |= print_outputs(&outputs, args.output);
                if let Some(info) = info {
                    let records = remember(&store, &[info], &endpoint_of(&client), user_of(&client).as_deref())?;
                    rows.extend(records.iter().map(Row::from_record));
                }
            }
            Err(e) => {
                failed = true;
                eprintln!("pssession: {computer}: {e}");
            }
        }
    }
    if args.in_disconnected_session {
        print_rows(&rows, args.output);
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
