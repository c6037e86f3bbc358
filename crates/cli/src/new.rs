//! `pssession new` — New-PSSession: creates a session on each computer and leaves it disconnected (a CLI process
//! cannot hold it open), ready for `connect`, `invoke` and `receive`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::common::{
    ConnectionArgs, OutputFormat, Row, buffering_mode, endpoint_of, print_rows, remember, store, user_of,
};
use crate::interrupt::Interrupts;

/// Arguments of `new`.
#[derive(Debug, Clone, Args)]
pub struct NewArgs {
    /// Connection parameters.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// The session's name (`-Name`); `Runspace<Id>` by default.
    #[arg(long)]
    pub name: Option<String>,
    /// How long the server keeps the disconnected session, in seconds (`-IdleTimeoutSec`, ≥ 60).
    #[arg(long = "idle-timeout-sec")]
    pub idle_timeout_sec: Option<u64>,
    /// Output buffering while disconnected (`-OutputBufferingMode`: Block, Drop).
    #[arg(long = "output-buffering-mode")]
    pub output_buffering_mode: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Runs `new`.
pub async fn run(args: NewArgs) -> Result<ExitCode, String> {
    let targets = args.connection.targets()?;
    if targets.is_empty() {
        return Err("give --computer-name or --connection-uri".to_owned());
    }
    let mode = buffering_mode(args.output_buffering_mode.as_deref())?;
    let idle = args.idle_timeout_sec.map(Duration::from_secs);
    let auth = args.connection.authentication(None)?;
    let store = store()?;
    let mut rows = Vec::new();
    let mut failed = false;
    // Ctrl-C finishes the session being made (created, then disconnected) and makes no more.
    let mut interrupts = Interrupts::install()?;
    for target in targets {
        if interrupts.caught().is_some() {
            break;
        }
        let computer = target.computer_name_str().to_owned();
        let client = args.connection.client(target, auth.clone())?;
        let next_id = store.list().map_err(|e| e.to_string())?.iter().map(|r| r.id).max().unwrap_or(0) + 1;
        let name = args.name.clone().unwrap_or_else(|| format!("Runspace{next_id}"));
        let result = interrupts
            .finish(async {
                let mut session = client.new_session(&name).await?;
                session.disconnect(idle, mode).await?;
                Ok::<_, pssession_connect::Error>(session.info())
            })
            .await;
        match result {
            Ok(info) => {
                let records = remember(&store, &[info], &endpoint_of(&client), user_of(&client).as_deref())?;
                rows.extend(records.iter().map(Row::from_record));
            }
            Err(e) => {
                failed = true;
                eprintln!("pssession: {computer}: {e}");
            }
        }
    }
    print_rows(&rows, args.output);
    Ok(interrupts.exit_code(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }))
}
