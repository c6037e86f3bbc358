//! Parameters shared by the subcommands and the helpers that turn them into a [`Client`], find sessions and print
//! them: [`connection`] (where and how to authenticate), [`selection`] (which sessions), [`rows`] (session
//! tables), [`printer`] (objects as they arrive); the session store's bookkeeping is here.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use pssession_auth::Credentials;
use serde::Serialize;
use uuid::Uuid;

use crate::progress::Progress;
use crate::store::{SessionRecord, SessionStore};
use pssession_auth::client_cert::{CertificateCredential, default_certificate_directory};
use pssession_connect::authentication::{AuthenticationMechanism, AuthenticationOptions};
use pssession_connect::fanout::fan_out;
use pssession_connect::options::{ConnectionTarget, OutputBufferingMode, SessionOptions};
use pssession_connect::{Availability, SessionState};
use pssession_connect::{Client, Error, PipelineEvent, PipelineOutput};
use pssession_connect::{ConnectionNotice, ConnectionObserver};
use pssession_connect::{SessionFilter, SessionInfo};
use pssession_format::{FormatOptions, Formatter, Shape, write_json_line};
use pssession_psrp::clixml::Deserializer;
use pssession_wsman::transport::ClientCertificate;

pub mod connection;
pub mod printer;
pub mod rows;
pub mod selection;

pub use connection::*;
pub use printer::*;
pub use rows::*;
pub use selection::*;

/// The store, with errors as text.
pub fn store() -> Result<SessionStore, String> {
    SessionStore::default_location().map_err(|e| e.to_string())
}

/// Records sessions in the store and returns them with their local Ids.
pub fn remember(
    store: &SessionStore,
    sessions: &[SessionInfo],
    endpoint: &str,
    user: Option<&str>,
) -> Result<Vec<SessionRecord>, String> {
    store
        .update(|s| {
            sessions
                .iter()
                .map(|info| {
                    let record = SessionRecord {
                        id: 0,
                        name: info.name.clone(),
                        instance_id: info.instance_id,
                        computer_name: info.computer_name.clone(),
                        connection_uri: endpoint.to_owned(),
                        configuration_name: info.configuration_name.clone(),
                        user: user.map(str::to_owned),
                        state: info.state,
                        availability: info.availability,
                    };
                    let id = s.upsert(record.clone());
                    SessionRecord { id, ..record }
                })
                .collect()
        })
        .map_err(|e| e.to_string())
}

/// Records a session a subcommand leaves behind; for one it left because of Ctrl-C (`interrupted`), also says on
/// stderr how to resume it.
pub fn remember_left(
    store: &SessionStore,
    info: SessionInfo,
    client: &Client,
    interrupted: bool,
) -> Result<Vec<SessionRecord>, String> {
    let (name, instance_id) = (info.name.clone(), info.instance_id);
    let records = remember(store, &[info], &endpoint_of(client), user_of(client).as_deref())?;
    if interrupted {
        crate::interrupt::print_resume_hint(&name, instance_id);
    }
    Ok(records)
}

/// Records in the store what a failed operation says about session `instance_id`: gone from the server (Broken), or
/// cut off by the network for longer than the client retried (Disconnected: the server keeps it, and disconnects
/// it on its side when it sees the client gone, so a later `pssession receive` resumes it).
pub fn record_failure(store: &SessionStore, instance_id: Uuid, error: &Error) -> Result<(), String> {
    match error {
        Error::SessionNotFound { instance_id } => {
            store.update(|s| s.mark_broken(*instance_id)).map_err(|e| e.to_string())?;
        }
        Error::ConnectionInterrupted { .. } => {
            store.update(|s| s.mark_disconnected(instance_id)).map_err(|e| e.to_string())?;
        }
        _ => {}
    }
    Ok(())
}

/// The owner a session is recorded with.
pub fn user_of(client: &Client) -> Option<String> {
    client.user().map(str::to_owned)
}

/// The endpoint text a session is recorded with.
pub fn endpoint_of(client: &Client) -> String {
    client.target().endpoint().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_records_render_like_windows_powershell() {
        use pssession_psrp::messages::{ErrorCategory, ErrorRecord, MessageBody};
        let mut record = ErrorRecord::new(
            "The term 'foo' is not recognized as the name of a cmdlet.",
            "System.Management.Automation.CommandNotFoundException",
            "CommandNotFoundException",
            ErrorCategory::OBJECT_NOT_FOUND,
        );
        record.target_name = "foo".into();
        record.target_type = "String".into();
        let clixml =
            pssession_psrp::client::Clixml::new(bytes::Bytes::from(record.encode()[3..].to_vec())).expect("utf-8");
        assert_eq!(
            render_error_record(&clixml),
            "The term 'foo' is not recognized as the name of a cmdlet.\n    \
             + CategoryInfo          : ObjectNotFound: (foo:String) [], CommandNotFoundException\n    \
             + FullyQualifiedErrorId : CommandNotFoundException"
        );
        let plain = pssession_psrp::client::Clixml::new(bytes::Bytes::from_static(b"<S>just text</S>")).expect("utf-8");
        assert_eq!(render_error_record(&plain), "just text");
    }

    #[test]
    fn session_option_flags_reach_the_session_options() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            connection: ConnectionArgs,
        }
        let defaults = Cli::parse_from(["pssession"]).connection.session_options().expect("options");
        assert_eq!(defaults.maximum_connection_redirection_count, 5);
        assert_eq!(defaults.maximum_received_object_size, 200 << 20);
        assert_eq!(defaults.maximum_received_data_size_per_command, None);
        let environment = pssession_connect::options::Cultures::from_environment();
        assert_eq!((defaults.culture, defaults.ui_culture), (environment.culture, environment.ui_culture));
        let cli = Cli::parse_from([
            "pssession",
            "--maximum-redirection",
            "2",
            "--culture",
            "de-DE",
            "--ui-culture",
            "fr-FR",
            "--maximum-received-object-size-mb",
            "10",
            "--maximum-received-data-size-per-command-mb",
            "50",
        ]);
        let options = cli.connection.session_options().expect("options");
        assert_eq!(options.maximum_connection_redirection_count, 2);
        assert_eq!((options.culture.as_str(), options.ui_culture.as_str()), ("de-DE", "fr-FR"));
        assert_eq!(options.maximum_received_object_size, 10 << 20);
        assert_eq!(options.maximum_received_data_size_per_command, Some(50 << 20));
    }

    #[test]
    fn table_looks_like_get_pssession() {
        let rows = [Row {
            id: 1,
            name: "ITTask".to_owned(),
            instance_id: Uuid::nil(),
            computer_name: "Server01".to_owned(),
            computer_type: None,
            state: "Disconnected".to_owned(),
            configuration_name: "Microsoft.PowerShell".to_owned(),
            availability: "None".to_owned(),
        }];
        assert_eq!(
            render_table(&rows),
            "\nId Name   ComputerName State        ConfigurationName    Availability\n\
             -- ----   ------------ -----        -----------------    ------------\n\
             \x201 ITTask Server01     Disconnected Microsoft.PowerShell         None\n\n"
        );
        let rows = rows.map(Row::with_computer_type);
        assert_eq!(
            render_table(&rows),
            "\nId Name   ComputerName ComputerType  State        ConfigurationName    Availability\n\
             -- ----   ------------ ------------  -----        -----------------    ------------\n\
             \x201 ITTask Server01     RemoteMachine Disconnected Microsoft.PowerShell         None\n\n"
        );
        let json = serde_json::to_value(&rows[0]).expect("json");
        assert_eq!(json["ComputerType"], "RemoteMachine");
        let json = serde_json::to_value(Row { computer_type: None, ..rows[0].clone() }).expect("json");
        assert!(json.get("ComputerType").is_none(), "only get has the column: {json}");
    }

    #[test]
    fn selector_matches_stored_sessions() {
        let record = SessionRecord {
            id: 3,
            name: "ITTask".to_owned(),
            instance_id: Uuid::from_u128(9),
            computer_name: "s".to_owned(),
            connection_uri: "http://s:5985/wsman".to_owned(),
            configuration_name: "Microsoft.PowerShell".to_owned(),
            user: None,
            state: SessionState::Disconnected,
            availability: Availability::None,
        };
        let by_name = SessionSelector { name: vec!["it*".to_owned()], ..SessionSelector::default() };
        assert!(by_name.selects(&record));
        let by_id = SessionSelector { id: vec![4], ..SessionSelector::default() };
        assert!(!by_id.selects(&record));
        assert!(SessionSelector::default().is_empty());
        assert_eq!(buffering_mode(Some("drop")), Ok(OutputBufferingMode::Drop));
        assert!(buffering_mode(Some("x")).is_err());
    }
}
