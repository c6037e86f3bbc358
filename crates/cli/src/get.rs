//! `pssession get` — Get-PSSession: sessions on computers (`--computer-name`/`--connection-uri`), or the sessions
//! in this user's store.

use std::process::ExitCode;

use clap::Args;

use crate::common::{
    ConnectionArgs, OutputFormat, Row, SessionSelector, endpoint_of, locate, print_rows, remember, store, user_of,
};

/// Arguments of `get`.
#[derive(Debug, Clone, Args)]
pub struct GetArgs {
    /// Connection parameters.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Which sessions.
    #[command(flatten)]
    pub selector: SessionSelector,
    /// Only sessions in this state (`-State`: Opened, Disconnected, Broken, Closed).
    #[arg(long)]
    pub state: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Runs `get`.
pub async fn run(args: GetArgs) -> Result<ExitCode, String> {
    let rows: Vec<Row> = if args.connection.has_target() {
        let located = locate(&args.connection, &args.selector).await?;
        let store = store()?;
        let mut rows = Vec::new();
        for found in &located {
            let records = remember(
                &store,
                std::slice::from_ref(&found.info),
                &endpoint_of(&found.client),
                user_of(&found.client).as_deref(),
            )?;
            rows.extend(records.iter().map(|r| Row::from_record(r).with_computer_type()));
        }
        rows
    } else {
        store()?
            .list()
            .map_err(|e| e.to_string())?
            .iter()
            .filter(|r| args.selector.selects(r))
            .map(|r| Row::from_record(r).with_computer_type())
            .collect()
    };
    let rows: Vec<Row> = match &args.state {
        Some(state) => rows.into_iter().filter(|r| r.state.eq_ignore_ascii_case(state)).collect(),
        None => rows,
    };
    print_rows(&rows, args.output);
    Ok(ExitCode::SUCCESS)
}
