//! `pssession receive` — Receive-PSSession: connects to sessions and prints the output of their commands,
//! including everything produced while nobody was connected; then leaves them disconnected.

use std::process::ExitCode;

use clap::Args;

use crate::common::{
    ConnectionArgs, OutputFormat, OutputPrinter, SessionSelector, endpoint_of, locate, remember, store, user_of,
};
use crate::progress::Progress;
use pssession_connect::OutputBufferingMode;

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
        let mut printer = OutputPrinter::new(args.output);
        let result = async {
            let mut session = found.client.connect(&found.info).await?;
            // Objects are printed as they arrive (the progress line is erased before the first): however much
            // output a session holds, only what one Receive carries is in memory.
            let mut first = true;
            session
                .receive_each(|output| {
                    if std::mem::take(&mut first) {
                        progress.clear();
                    }
                    printer.print(&output);
                })
                .await?;
            let losses = session.output_losses();
            session.disconnect(None, OutputBufferingMode::None).await?;
            Ok::<_, pssession_connect::Error>((losses, session.info()))
        }
        .await;
        progress.clear();
        failed |= printer.failed();
        match result {
            Ok((losses, info)) => {
                for loss in losses {
                    // Output discarded under -OutputBufferingMode Drop is never silent.
                    let whose = loss.pipeline_id.map_or_else(|| "the session".to_owned(), |id| format!("command {id}"));
                    eprintln!(
                        "WARNING: the server discarded {} output object(s) of {whose} in session {} while it was \
                         disconnected with OutputBufferingMode Drop and its output buffer was full.",
                        loss.objects, info.name
                    );
                }
                remember(&store, &[info], &endpoint_of(&found.client), user_of(&found.client).as_deref())?;
            }
            Err(e) => {
                failed = true;
                eprintln!("pssession: {e}");
                if let pssession_connect::Error::SessionNotFound { instance_id } = e {
                    // Gone between discovery and connection (idle timeout, restart): Broken in the store too.
                    store.update(|s| s.mark_broken(instance_id)).map_err(|e| e.to_string())?;
                }
            }
        }
        progress.advance(&found.info.name);
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
