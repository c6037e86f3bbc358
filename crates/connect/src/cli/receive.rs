//! `pssession receive` — Receive-PSSession: connects to sessions and prints the output of their commands,
//! including everything produced while nobody was connected; then leaves them disconnected.

use std::process::ExitCode;

use clap::Args;

use crate::OutputBufferingMode;
use crate::cli::common::{
    ConnectionArgs, OutputFormat, SessionSelector, endpoint_of, locate, print_outputs, remember, store, user_of,
};
use crate::cli::progress::Progress;

/// Arguments of `receive`.
#[derive(Debug, Clone, Args)]
pub struct ReceiveArgs {
    /// Connection parameters.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Which sessions.
    #[command(flatten)]
    pub selector: SessionSelector,
    /// Output format of the objects.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Runs `receive`.
pub async fn run(args: ReceiveArgs) -> Result<ExitCode, String> {
    let located = locate(&args.connection, &args.selector).await?;
    if located.is_empty() {
        return Err("no session matches".to_owned());
    }
    let store = store()?;
    let mut failed = false;
    let progress = Progress::stderr("Receiving", located.len());
    for found in located {
        let result = async {
            let mut session = found.client.connect(&found.info).await?;
            let outputs = session.receive().await?;
            session.disconnect(None, OutputBufferingMode::None).await?;
            Ok::<_, crate::Error>((outputs, session.info()))
        }
        .await;
        // The objects go to the terminal too: the line is erased before them and drawn again after.
        progress.clear();
        match result {
            Ok((outputs, info)) => {
                failed |= print_outputs(&outputs, args.output);
                remember(&store, &[info], &endpoint_of(&found.client), user_of(&found.client).as_deref())?;
            }
            Err(e) => {
                failed = true;
                eprintln!("pssession: {e}");
            }
        }
        progress.advance(&found.info.name);
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
