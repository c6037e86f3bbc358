//! `pssession disconnect` — Disconnect-PSSession: sets a session's idle timeout and output buffering mode while
//! disconnecting it. (Sessions made by this CLI are already disconnected between commands; this connects and
//! disconnects again with the new settings.)

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::common::{
    ConnectionArgs, OutputFormat, Row, SessionSelector, ShouldProcess, ShouldProcessArgs, buffering_mode, endpoint_of,
    locate, print_rows, remember, session_target, store, user_of,
};
use crate::progress::Progress;

/// Arguments of `disconnect`.
#[derive(Debug, Clone, Args)]
pub struct DisconnectArgs {
    /// Connection parameters.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Which sessions.
    #[command(flatten)]
    pub selector: SessionSelector,
    /// `--what-if`, `--confirm`.
    #[command(flatten)]
    pub should_process: ShouldProcessArgs,
    /// Idle timeout in seconds (`-IdleTimeoutSec`): at least 60, at most the server's MaxIdleTimeout.
    #[arg(long = "idle-timeout-sec")]
    pub idle_timeout_sec: Option<u64>,
    /// Output buffering while disconnected (`-OutputBufferingMode`: Block, Drop).
    #[arg(long = "output-buffering-mode")]
    pub output_buffering_mode: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Runs `disconnect`.
pub async fn run(args: DisconnectArgs) -> Result<ExitCode, String> {
    let mode = buffering_mode(args.output_buffering_mode.as_deref())?;
    let idle = args.idle_timeout_sec.map(Duration::from_secs);
    if let Some(idle) = idle
        && idle < pssession_connect::options::MIN_IDLE_TIMEOUT
    {
        return Err(pssession_connect::Error::InvalidIdleTimeout { requested: idle, maximum: None }.to_string());
    }
    let located = locate(&args.connection, &args.selector).await?;
    let mut should_process = ShouldProcess::new(args.should_process);
    let located: Vec<_> = located
        .into_iter()
        .filter(|f| should_process.should_process("Disconnect-PSSession", &session_target(&f.info)))
        .collect();
    let store = store()?;
    let mut rows = Vec::new();
    let mut failed = false;
    let progress = Progress::stderr("Disconnecting", located.len());
    for found in located {
        let result = async {
            let mut session = found.client.connect(&found.info).await?;
            session.disconnect(idle, mode).await?;
            Ok::<_, pssession_connect::Error>(session.info())
        }
        .await;
        progress.advance(&found.info.name);
        if result.is_err() {
            progress.clear();
        }
        match result {
            Ok(info) => {
                let records =
                    remember(&store, &[info], &endpoint_of(&found.client), user_of(&found.client).as_deref())?;
                rows.extend(records.iter().map(Row::from_record));
            }
            Err(e) => {
                failed = true;
                eprintln!("pssession: {}: {e}", found.info.name);
            }
        }
    }
    drop(progress);
    print_rows(&rows, args.output);
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
