//! `pssession remove` — Remove-PSSession: deletes sessions on the server and forgets them locally.

use std::process::ExitCode;

use clap::Args;

use crate::common::{ConnectionArgs, SessionSelector, ShouldProcess, ShouldProcessArgs, locate, session_target, store};
use crate::progress::Progress;

/// Arguments of `remove`.
#[derive(Debug, Clone, Args)]
pub struct RemoveArgs {
    /// Connection parameters.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Which sessions.
    #[command(flatten)]
    pub selector: SessionSelector,
    /// `--what-if`, `--confirm`.
    #[command(flatten)]
    pub should_process: ShouldProcessArgs,
}

/// Runs `remove`.
pub async fn run(args: RemoveArgs) -> Result<ExitCode, String> {
    let located = locate(&args.connection, &args.selector).await?;
    if located.is_empty() {
        return Err("no session matches".to_owned());
    }
    let mut should_process = ShouldProcess::new(args.should_process);
    let located: Vec<_> = located
        .into_iter()
        .filter(|f| should_process.should_process("Remove-PSSession", &session_target(&f.info)))
        .collect();
    let store = store()?;
    let mut failed = false;
    let progress = Progress::stderr("Removing", located.len());
    for found in located {
        let result = found.client.remove(found.info.instance_id).await;
        progress.advance(&found.info.name);
        if result.is_err() {
            progress.clear();
        }
        match result {
            Ok(()) => {
                let instance_id = found.info.instance_id;
                store
                    .update(|s| {
                        let ids: Vec<u32> =
                            s.all().iter().filter(|r| r.instance_id == instance_id).map(|r| r.id).collect();
                        for id in ids {
                            s.remove(id);
                        }
                    })
                    .map_err(|e| e.to_string())?;
            }
            Err(e) => {
                failed = true;
                eprintln!("pssession: {}: {e}", found.info.name);
            }
        }
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
