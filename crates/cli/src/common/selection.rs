//! Which sessions a command works on: the selector, ShouldProcess (`-WhatIf`/`-Confirm`), and finding them on
//! the computers or through the local store.

use super::*;

/// Which sessions: `-Session`, `-Name`, `-Id`, `-InstanceId`.
#[derive(Debug, Clone, Args, Default)]
pub struct SessionSelector {
    /// Sessions of this user's store (`-Session`), each named by its local Id, its name or its InstanceId, as
    /// listed by `pssession get`.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub session: Vec<String>,
    /// Session names (`-Name`; wildcards `*` and `?`).
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub name: Vec<String>,
    /// Local session Ids (`-Id`), from this user's session store.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub id: Vec<u32>,
    /// Session InstanceIds (`-InstanceId`).
    #[arg(long = "instance-id", value_delimiter = ',', num_args = 1..)]
    pub instance_id: Vec<Uuid>,
}

impl SessionSelector {
    /// Whether nothing was selected.
    pub fn is_empty(&self) -> bool {
        self.session.is_empty() && self.name.is_empty() && self.id.is_empty() && self.instance_id.is_empty()
    }

    /// The server-side filter.
    pub fn filter(&self) -> SessionFilter {
        SessionFilter { names: self.name.clone(), instance_ids: self.instance_id.clone(), ..SessionFilter::default() }
    }

    /// Whether a stored session is selected.
    pub fn selects(&self, record: &SessionRecord) -> bool {
        (self.session.is_empty() || self.session.iter().any(|s| refers_to(s, record)))
            && (self.name.is_empty() || self.name.iter().any(|n| pssession_connect::wildcard_match(n, &record.name)))
            && (self.id.is_empty() || self.id.contains(&record.id))
            && (self.instance_id.is_empty() || self.instance_id.contains(&record.instance_id))
    }
}

/// Whether `reference` (a `--session` value: local Id, name or InstanceId) names `record`.
fn refers_to(reference: &str, record: &SessionRecord) -> bool {
    let reference = reference.trim();
    reference.parse::<u32>().is_ok_and(|id| id == record.id)
        || Uuid::parse_str(reference).is_ok_and(|id| id == record.instance_id)
        || reference.eq_ignore_ascii_case(&record.name)
}

/// `-WhatIf` and `-Confirm`.
#[derive(Debug, Clone, Copy, Args, Default)]
pub struct ShouldProcessArgs {
    /// Show what would be done, and do nothing (`-WhatIf`, alias `-wi`).
    #[arg(long = "what-if", visible_alias = "wi")]
    pub what_if: bool,
    /// Ask before each session (`-Confirm`, alias `-cf`); the answer is read from standard input: `y` Yes (the
    /// default on an empty line), `a` Yes to All, `n` No, `l` No to All. No answer (end of input) means No.
    #[arg(long, visible_alias = "cf")]
    pub confirm: bool,
}

/// PowerShell's `ShouldProcess`: `-WhatIf` prints what would happen, `-Confirm` asks.
#[derive(Debug)]
pub struct ShouldProcess {
    args: ShouldProcessArgs,
    yes_to_all: bool,
    no_to_all: bool,
}

impl ShouldProcess {
    /// For these arguments.
    pub fn new(args: ShouldProcessArgs) -> Self {
        ShouldProcess { args, yes_to_all: false, no_to_all: false }
    }

    /// Whether `operation` on `target` should be done; prints the What-if line or asks.
    pub fn should_process(&mut self, operation: &str, target: &str) -> bool {
        if self.args.what_if {
            println!("What if: Performing the operation \"{operation}\" on target \"{target}\".");
            return false;
        }
        if !self.args.confirm || self.yes_to_all {
            return true;
        }
        if self.no_to_all {
            return false;
        }
        eprint!(
            "\nConfirm\nAre you sure you want to perform this action?\nPerforming the operation \"{operation}\" on \
             target \"{target}\".\n[Y] Yes  [A] Yes to All  [N] No  [L] No to All (default is \"Y\"): "
        );
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => {
                eprintln!();
                self.no_to_all = true;
                false
            }
            Ok(_) => match line.trim().to_ascii_lowercase().as_str() {
                "" | "y" | "yes" => true,
                "a" => {
                    self.yes_to_all = true;
                    true
                }
                "l" => {
                    self.no_to_all = true;
                    false
                }
                _ => false,
            },
        }
    }
}

/// The ShouldProcess target text of a session.
pub fn session_target(info: &SessionInfo) -> String {
    format!("Name: {}, ComputerName: {}", info.name, info.computer_name)
}

/// A session located either on the server or in the store, with the client that reaches it.
pub struct Located {
    /// The client.
    pub client: Client,
    /// The session as listed.
    pub info: SessionInfo,
}

/// Finds the selected sessions: on the named computers (Get-PSSession -ComputerName), or in the store (then each
/// session's own endpoint is queried for its current state).
pub async fn locate(connection: &ConnectionArgs, selector: &SessionSelector) -> Result<Vec<Located>, String> {
    if connection.has_target() {
        if !selector.id.is_empty() || !selector.session.is_empty() {
            return Err("--id and --session refer to the local session store; use --name or --instance-id with \
                        --computer-name or --connection-uri"
                .to_owned());
        }
        let auth = connection.authentication(None)?;
        let mut found = Vec::new();
        let mut filter = selector.filter();
        // -ConfigurationName: only the sessions of that configuration (with or without the URI prefix).
        filter.configuration_names.extend(connection.configuration_name.iter().cloned());
        let clients: Vec<Client> =
            connection.targets()?.into_iter().map(|t| connection.client(t, auth.clone())).collect::<Result<_, _>>()?;
        let progress = Rc::new(Progress::stderr("Querying", clients.len()));
        let results = fan_out(
            clients,
            connection.throttle_limit,
            |client| {
                let filter = filter.clone();
                let progress = Rc::clone(&progress);
                async move {
                    let listing = client.list_sessions(&filter).await;
                    progress.advance(client.target().computer_name_str());
                    Ok::<_, Error>((client, listing?))
                }
            },
            |_| Error::MalformedResponse("the query task failed".to_owned()),
        )
        .await;
        drop(progress);
        let mut errors = Vec::new();
        for (client, result) in results {
            match result {
                Ok((client, listing)) => {
                    for skipped in &listing.skipped {
                        let name = if skipped.name.is_empty() {
                            skipped.instance_id.to_string()
                        } else {
                            skipped.name.clone()
                        };
                        eprintln!(
                            "WARNING: session {name} on {} is left out: its commands could not be listed ({})",
                            client.target().computer_name_str(),
                            skipped.reason
                        );
                    }
                    let sessions = listing.sessions;
                    // One client identity (one connection, one WS-Man SessionId) per session, as PowerShell
                    // gives each PSSession its own, so that sessions can be worked on in parallel; and at the
                    // session's own configuration (its ResourceURI), which the query may not have named.
                    for info in sessions {
                        let target = client.target().clone().with_configuration_name(&info.configuration_name);
                        found.push(Located { client: connection.client(target, auth.clone())?, info });
                    }
                }
                Err(e) => errors.push(format!("{}: {e}", client.target().computer_name_str())),
            }
        }
        for e in &errors {
            eprintln!("pssession: {e}");
        }
        if found.is_empty() && !errors.is_empty() {
            return Err("no computer could be queried".to_owned());
        }
        return Ok(found);
    }
    if selector.is_empty() {
        return Err("name the sessions with --name, --id or --instance-id, or give --computer-name".to_owned());
    }
    let records: Vec<SessionRecord> =
        store()?.list().map_err(|e| e.to_string())?.into_iter().filter(|r| selector.selects(r)).collect();
    if records.is_empty() {
        return Err("no session in the local store matches".to_owned());
    }
    let mut located = Vec::new();
    let progress = Progress::stderr("Querying", records.len());
    for record in records {
        let target = ConnectionTarget::connection_uri(&record.connection_uri)
            .map_err(|e| e.to_string())?
            .with_configuration_name(&record.configuration_name)
            .with_display_computer_name(&record.computer_name);
        let auth = connection.authentication(record.user.as_deref())?;
        let client = connection.client(target, auth)?;
        let filter = SessionFilter { instance_ids: vec![record.instance_id], ..SessionFilter::default() };
        let result = client.get_sessions(&filter).await;
        progress.advance(&record.name);
        if !matches!(&result, Ok(sessions) if !sessions.is_empty()) {
            progress.clear();
        }
        match result {
            Ok(mut sessions) if !sessions.is_empty() => {
                located.push(Located { client, info: sessions.remove(0) });
            }
            Ok(_) => {
                eprintln!(
                    "pssession: session {} ({}) no longer exists on {}",
                    record.id, record.name, record.computer_name
                );
                let _ = store()?.update(|s| s.set_state(record.id, SessionState::Broken, Availability::None));
            }
            Err(e) => eprintln!("pssession: {}: {e}", record.computer_name),
        }
    }
    Ok(located)
}
