//! `pssession receive` — Receive-PSSession: connects to sessions and prints the output of their commands,
//! including everything produced while nobody was connected; then leaves them disconnected.
//!
//! Ctrl-C (or SIGTERM) stops receiving: the session is disconnected again with its command still running and the
//! rest of its output kept on the server, and the command says how to resume ([`crate::interrupt`]).

use std::process::ExitCode;

use clap::Args;

use crate::common::{
    ConnectionArgs, ObjectFormat, OutputPrinter, SessionSelector, locate, record_failure, remember_left, store,
    with_table_pauses,
};
use crate::interrupt::Interrupts;
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
    #[arg(long, value_enum, default_value_t = ObjectFormat::Text)]
    pub output: ObjectFormat,
}

/// Runs `receive`.
pub async fn run(args: ReceiveArgs) -> Result<ExitCode, String> {
    let mut interrupts = Interrupts::install()?;
    let located = interrupts.finish(locate(&args.connection, &args.selector)).await?;
    if located.is_empty() {
        return Err("no session matches".to_owned());
    }
    let store = store()?;
    let mut failed = false;
    let progress = Progress::stderr("Receiving", located.len());
    for found in located {
        if interrupts.caught().is_some() {
            break;
        }
        let printer = std::cell::RefCell::new(OutputPrinter::new(args.output));
        let result = async {
            let mut session = interrupts.finish(found.client.connect(&found.info)).await?;
            // Objects are printed as they arrive (the progress line is erased before the first): however much
            // output a session holds, only what one Receive carries is in memory.
            let mut first = true;
            let received = interrupts
                .stop_on_first(with_table_pauses(
                    &printer,
                    session.receive_each(|output| {
                        if std::mem::take(&mut first) {
                            progress.clear();
                        }
                        printer.borrow_mut().print(&output);
                    }),
                ))
                .await;
            let interrupted = received.is_none();
            received.transpose()?;
            let losses = session.output_losses();
            interrupts.finish(session.disconnect(None, OutputBufferingMode::None)).await?;
            Ok::<_, pssession_connect::Error>((losses, session.info(), interrupted))
        }
        .await;
        printer.borrow_mut().finish();
        progress.clear();
        failed |= printer.borrow().failed();
        match result {
            Ok((losses, info, interrupted)) => {
                for loss in losses {
                    // Output discarded under -OutputBufferingMode Drop is never silent.
                    let whose = loss.pipeline_id.map_or_else(|| "the session".to_owned(), |id| format!("command {id}"));
                    eprintln!(
                        "WARNING: the server discarded {} output object(s) of {whose} in session {} while it was \
                         disconnected with OutputBufferingMode Drop and its output buffer was full.",
                        loss.objects, info.name
                    );
                }
                remember_left(&store, info, &found.client, interrupted)?;
            }
            Err(e) => {
                failed = true;
                eprintln!("pssession: {e}");
                record_failure(&store, found.info.instance_id, &e)?;
            }
        }
        progress.advance(&found.info.name);
    }
    Ok(interrupts.exit_code(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }))
}
