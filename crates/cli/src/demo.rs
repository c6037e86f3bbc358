//! `pssession demo`: Example 3 of the Connect-PSSession help, played end to end against the embedded endpoint.
//!
//! The endpoint starts on an ephemeral loopback port (HTTP, NTLM via Negotiate, message encryption) with a
//! one-time account, and serves the `ITTasks` configuration with the built-in command engine. One client
//! creates the session `ITTask`, starts a backup job in it and disconnects; a second client, with no shared
//! state (as on another computer), finds the session, connects to it, collects the job's results, runs the
//! follow-up script with them and disconnects again. Every step prints the PowerShell command it stands for and
//! the table PowerShell would show.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pssession_auth::Credentials;
use pssession_auth::kerberos::Krb5Config;
use pssession_psrp::client::PipelineSpec;
use pssession_psrp::clixml::{Deserializer, PsValue};
use pssession_server::Server;
use pssession_server::engine::{BuiltinEngine, EngineConfig};
use pssession_server::plugin::Plugin;
use pssession_server::powershell::PowerShellPlugin;

use uuid::Uuid;

use crate::common::{Row, render_columns, render_table};
use pssession_connect::authentication::{AuthenticationMechanism, AuthenticationOptions};
use pssession_connect::options::{ConnectionTarget, OutputBufferingMode, SessionOptions};
use pssession_connect::{Client, Error};
use pssession_connect::{PipelineOutput, Session, SessionFilter};
use pssession_psrp::client::PipelineEvent;

/// The account the demo endpoint accepts; its password is random for each run.
const DEMO_USER: &str = "ITAdmin";
/// The configuration Example 3 connects to.
const CONFIGURATION: &str = "ITTasks";
/// `-IdleTimeoutSec 60*60*15`.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60 * 60 * 15);
/// How long the demo waits for the backup job before giving up.
const JOB_DEADLINE: Duration = Duration::from_secs(60);

/// The scripts of Example 3 in the engine's virtual script store, with the backup shortened from a minute to
/// about two seconds so the demo is quick (five databases, 300 ms each).
fn demo_scripts() -> Vec<(String, String)> {
    let mut scripts = EngineConfig::example_scripts();
    for (path, text) in &mut scripts {
        if path.ends_with("Backup-SQLDatabase.ps1") {
            *text = text
                .replace("$total = 20", "$total = 5")
                .replace("Start-Sleep -Seconds 3", "Start-Sleep -Milliseconds 300");
        }
    }
    scripts
}

fn step(command: &str) {
    println!("PS> {command}");
}

/// Output objects of a pipeline, deserialized; error records and failures become an error.
fn objects(outputs: &[PipelineOutput]) -> Result<Vec<PsValue>, String> {
    let mut values = Vec::new();
    let mut de = Deserializer::default();
    for output in outputs {
        match &output.event {
            PipelineEvent::Output(clixml) => values.push(clixml.value_with(&mut de).map_err(|e| e.to_string())?),
            PipelineEvent::Error(record) => return Err(record.to_string()),
            PipelineEvent::State { error: Some(error), .. } => return Err(error.to_string()),
            _ => {}
        }
    }
    Ok(values)
}

/// The job table of Example 3: `Id Name State HasMoreData Location Command`.
fn job_table(jobs: &[PsValue]) -> String {
    let text = |job: &PsValue, name: &str| job.property(name).map(ToString::to_string).unwrap_or_default();
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|job| {
            let mut command = text(job, "Command");
            // PowerShell's table view cuts long cells to the column and marks the cut.
            if command.chars().count() > 30 {
                command = command.chars().take(27).collect::<String>() + "...";
            }
            vec![
                text(job, "Id"),
                text(job, "Name"),
                text(job, "State"),
                text(job, "HasMoreData"),
                text(job, "Location"),
                command,
            ]
        })
        .collect();
    render_columns(&["Id", "Name", "State", "HasMoreData", "Location", "Command"], &[], &rows)
}

fn session_table(id: u32, session: &Session) -> String {
    let info = session.info();
    render_table(&[Row {
        id,
        name: info.name,
        instance_id: info.instance_id,
        computer_name: info.computer_name,
        computer_type: None,
        state: format!("{:?}", info.state),
        configuration_name: info.configuration_name,
        availability: format!("{:?}", info.availability),
    }])
}

/// Runs the demo.
pub async fn run() -> Result<ExitCode, String> {
    let password = Uuid::new_v4().simple().to_string();
    let engine = BuiltinEngine::new(EngineConfig {
        computer_name: "localhost".into(),
        scripts: demo_scripts(),
        ..EngineConfig::default()
    });
    let plugin: Arc<dyn Plugin> = Arc::new(PowerShellPlugin::new(Arc::new(engine)));
    let server = Server::builder()
        .user(DEMO_USER, &password)
        .plugin(CONFIGURATION, plugin.clone())
        .plugin(pssession_server::DEFAULT_CONFIGURATION, plugin)
        .http(0)
        .start()
        .await
        .map_err(|e| format!("cannot start the embedded endpoint: {e}"))?;
    let port = server.http_address().map(|a| a.port()).ok_or("the embedded endpoint has no HTTP listener")?;
    println!(
        "# Embedded WinRM endpoint on http://localhost:{port}/wsman (NTLM with message encryption), user \
         {DEMO_USER}, configuration {CONFIGURATION}.\n"
    );
    let result = play(port, &password).await;
    server.shutdown().await;
    result.map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

fn client(port: u16, password: &str) -> Result<Client, Error> {
    let target =
        ConnectionTarget::computer_name("localhost", Some(port), false, None)?.with_configuration_name(CONFIGURATION);
    // The embedded endpoint has no keytab: an empty Kerberos configuration makes Negotiate go straight to NTLM
    // instead of asking the machine's default realm for a ticket.
    let auth = AuthenticationOptions::new(AuthenticationMechanism::Negotiate, Credentials::new(DEMO_USER, password))
        .with_kerberos_config(Krb5Config::default());
    Client::new(target, SessionOptions::default(), auth)
}

async fn play(port: u16, password: &str) -> Result<(), Box<dyn std::error::Error>> {
    // The admin's computer.
    let admin = client(port, password)?;
    step("$s = New-PSSession -ComputerName localhost -Name ITTask -ConfigurationName ITTasks");
    let mut s = admin.new_session("ITTask").await?;
    step(r"Invoke-Command -Session $s {Start-Job -FilePath \\Server30\Scripts\Backup-SQLDatabase.ps1}");
    let started = objects(
        &s.invoke(&PipelineSpec::script(r"Start-Job -FilePath \\Server30\Scripts\Backup-SQLDatabase.ps1")).await?,
    )?;
    print!("{}", job_table(&started));
    let job_name = started
        .first()
        .and_then(|job| job.property("Name"))
        .map(ToString::to_string)
        .ok_or("Start-Job returned no job")?;
    step("Disconnect-PSSession -Session $s -OutputBufferingMode Drop -IdleTimeoutSec 60*60*15");
    s.disconnect(Some(IDLE_TIMEOUT), OutputBufferingMode::Drop).await?;
    print!("{}", session_table(1, &s));
    drop(s);
    drop(admin);

    // Later, another computer: a new client that shares nothing with the first.
    println!("# Later, on another computer (a new client with no local state):\n");
    let other = client(port, password)?;
    step("Get-PSSession -ComputerName localhost -Name ITTask");
    let filter = SessionFilter { names: vec!["ITTask".into()], ..SessionFilter::default() };
    let found = other.get_sessions(&filter).await?;
    let info = found.first().ok_or("Get-PSSession found no session named ITTask")?;
    print!(
        "{}",
        render_table(&[Row {
            id: 1,
            name: info.name.clone(),
            instance_id: info.instance_id,
            computer_name: info.computer_name.clone(),
            computer_type: None,
            state: format!("{:?}", info.state),
            configuration_name: info.configuration_name.clone(),
            availability: format!("{:?}", info.availability),
        }
        // Get-PSSession -ComputerName shows where each session lives.
        .with_computer_type()])
    );
    step("$s = Connect-PSSession -ComputerName localhost -Name ITTask");
    let mut s = other.connect(info).await?;
    print!("{}", session_table(1, &s));

    step("Invoke-Command -Session $s {Get-Job}");
    // The job kept running while nobody was connected; wait for it to finish, as the admin in the example did.
    let deadline = Instant::now() + JOB_DEADLINE;
    let jobs = loop {
        let jobs = objects(&s.invoke(&PipelineSpec::script("Get-Job")).await?)?;
        let done = jobs.iter().all(|job| job.property("State").is_some_and(|state| state.to_string() != "Running"));
        if done || Instant::now() > deadline {
            break jobs;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    print!("{}", job_table(&jobs));

    let receive = format!("$BackupSpecs = Receive-Job -JobName {job_name}");
    step(&format!("Invoke-Command -Session $s -ScriptBlock {{{receive}}}"));
    objects(&s.invoke(&PipelineSpec::script(receive.as_str())).await?)?;
    let create = r"\\Server30\Scripts\New-SQLDatabase.ps1 -InitData $BackupSpecs.Initialization";
    step(&format!("Invoke-Command -Session $s -ScriptBlock {{{create}}}"));
    for value in objects(&s.invoke(&PipelineSpec::script(create)).await?)? {
        println!("{value}");
    }
    println!();
    step("Disconnect-PSSession -Session $s -OutputBufferingMode Drop -IdleTimeoutSec 60*60*15");
    s.disconnect(Some(IDLE_TIMEOUT), OutputBufferingMode::Drop).await?;
    print!("{}", session_table(1, &s));
    Ok(())
}
