//! Background jobs, including the Connect-PSSession help's Example 3 scenario.

mod engine_support;

use std::time::Duration;

use engine_support::{errors, outputs, run, runspace, texts};
use pssession_server::engine::{BuiltinEngine, Engine, EngineConfig, PipelineEvent, PipelineState, Value};

fn job_field(value: &Value, name: &str) -> String {
    value.member(name).to_ps_string()
}

#[tokio::test(start_paused = true)]
async fn connect_pssession_example_3() {
    let rs = runspace();
    // Invoke-Command -Session $s {Start-Job -FilePath \\Server30\Scripts\Backup-SQLDatabase.ps1}
    let (events, state) = run(&rs, r"Start-Job -FilePath \\Server30\Scripts\Backup-SQLDatabase.ps1").await;
    assert_eq!(state, PipelineState::Completed);
    let jobs = outputs(&events);
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    let Value::Object(object) = job else { panic!("{job:?}") };
    assert_eq!(object.type_names[0], "System.Management.Automation.PSRemotingJob");
    assert_eq!(
        ["Id", "Name", "PSJobTypeName", "State", "HasMoreData", "Location", "Command"].map(|p| job_field(job, p)),
        ["1", "Job1", "BackgroundJob", "Running", "True", "testhost", r"\\Server30\Scripts\Backup-SQLDatabase.ps1"]
    );

    // The client disconnects; the job goes on without anyone connected.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let (events, _) = run(&rs, "Get-Job").await;
    assert_eq!(job_field(&outputs(&events)[0], "State"), "Running");

    tokio::time::sleep(Duration::from_secs(31)).await;
    // Invoke-Command -Session $s {Get-Job}
    let (events, _) = run(&rs, "Get-Job").await;
    let job = &outputs(&events)[0];
    assert_eq!([job_field(job, "State"), job_field(job, "HasMoreData")], ["Completed", "True"]);

    // Invoke-Command -Session $s {$BackupSpecs = Receive-Job -JobName Job2}
    let (events, state) = run(&rs, "$BackupSpecs = Receive-Job -JobName Job1").await;
    assert_eq!(state, PipelineState::Completed);
    assert!(outputs(&events).is_empty(), "assignment writes nothing");
    let progress = events.iter().filter(|e| matches!(e, PipelineEvent::Progress(_))).count();
    assert_eq!(progress, 21, "the job's progress records are delivered by Receive-Job");

    let (events, _) = run(&rs, "$BackupSpecs.Count; $BackupSpecs[0]; $BackupSpecs[19]").await;
    assert_eq!(texts(&events), ["21", "Backed up database 1 of 20", "Backed up database 20 of 20"]);

    // Invoke-Command -Session $s {\\Server30\Scripts\New-SQLDatabase.ps1 -InitData $BackupSpecs.Initialization}
    let (events, state) =
        run(&rs, r"\\Server30\Scripts\New-SQLDatabase.ps1 -InitData $BackupSpecs.Initialization").await;
    assert_eq!(state, PipelineState::Completed, "{events:?}");
    assert_eq!(texts(&events), ["Created databases from BackupSet-20"]);

    // The output was consumed.
    let (events, _) = run(&rs, "Receive-Job -Name Job1; (Get-Job -Id 1).HasMoreData").await;
    assert_eq!(texts(&events), ["False"]);
}

#[tokio::test(start_paused = true)]
async fn script_block_jobs_outlive_their_pipeline() {
    let rs = runspace();
    let (events, _) = run(
        &rs,
        "Start-Job -ScriptBlock { foreach ($i in 1..5) { \"tick $i\"; Start-Sleep -Seconds 1 } } -Name Ticker | % Command",
    )
    .await;
    assert_eq!(texts(&events), ["foreach ($i in 1..5) { \"tick $i\"; Start-Sleep -Seconds 1 }"]);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (events, _) = run(&rs, "Receive-Job -Name Ticker -Keep").await;
    assert_eq!(texts(&events), ["tick 1", "tick 2", "tick 3"]);
    let (events, _) = run(&rs, "Receive-Job -Name Ticker").await;
    assert_eq!(texts(&events), ["tick 1", "tick 2", "tick 3"]);
    // -Wait streams the rest until the job ends.
    let (events, _) = run(&rs, "Get-Job -Name Ticker | Receive-Job -Wait; (Get-Job Ticker).State").await;
    assert_eq!(texts(&events), ["tick 4", "tick 5", "Completed"]);

    // Ids advance by two (each job has one child job), like PowerShell.
    let (events, _) = run(&rs, "(Start-Job { 1 }).Id; (Start-Job { 2 } -Name Two).Name").await;
    assert_eq!(texts(&events), ["3", "Two"]);
    let (events, _) = run(&rs, "Wait-Job -Name Two | % State; Receive-Job -Id 3, 5").await;
    assert_eq!(texts(&events), ["Completed", "1", "2"]);
}

#[tokio::test(start_paused = true)]
async fn wait_stop_remove_and_failures() {
    let rs = runspace();
    run(&rs, "Start-Job { Start-Sleep 100; 'late' } -Name Slow").await;
    let (events, _) = run(&rs, "Wait-Job -Name Slow -Timeout 5 | % State; (Get-Job Slow).State").await;
    assert_eq!(texts(&events), ["Running"]);

    let (events, _) = run(&rs, "Remove-Job -Name Slow").await;
    assert_eq!(
        errors(&events)[0].fully_qualified_error_id,
        "JobObjectNotFinishedCannotBeRemoved,Microsoft.PowerShell.Commands.RemoveJobCommand"
    );
    let (events, _) = run(&rs, "Stop-Job -Name Slow -PassThru | % State; Remove-Job Slow; Get-Job").await;
    assert_eq!(texts(&events), ["Stopped"]);

    let (events, _) = run(&rs, "Get-Job -Name Nope; Get-Job -Id 77").await;
    let ids: Vec<_> = errors(&events).into_iter().map(|e| e.fully_qualified_error_id).collect();
    assert_eq!(
        ids,
        [
            "JobWithSpecifiedNameNotFound,Microsoft.PowerShell.Commands.GetJobCommand",
            "JobWithSpecifiedIdNotFound,Microsoft.PowerShell.Commands.GetJobCommand"
        ]
    );

    let (events, _) =
        run(&rs, "$j = Start-Job { 'x'; Write-Warning careful; throw 'bad' }; Wait-Job -Job $j | % State").await;
    assert_eq!(texts(&events), ["Failed"]);
    let (events, _) = run(&rs, "Get-Job -State Failed | Receive-Job").await;
    assert_eq!(texts(&events), ["x"]);
    assert!(events.iter().any(|e| matches!(e, PipelineEvent::Warning(w) if w.message == "careful")));
    assert_eq!(errors(&events)[0].message, "bad");

    let (events, _) = run(&rs, r"Start-Job -FilePath C:\missing.ps1").await;
    assert_eq!(
        errors(&events)[0].fully_qualified_error_id,
        "PathNotFound,Microsoft.PowerShell.Commands.StartJobCommand"
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_job_buffer_pauses_the_job_without_loss() {
    let rs = BuiltinEngine::new(EngineConfig { job_output_limit: 5, ..engine_support::config() }).open_runspace();
    run(&rs, "Start-Job { Get-TestData -Count 23 } -Name Data").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (events, _) = run(&rs, "(Get-Job Data).State; Receive-Job Data | % Sequence").await;
    assert_eq!(texts(&events), ["Running", "1", "2", "3", "4", "5"]);
    let (events, _) = run(&rs, "Receive-Job Data -Wait | % Sequence").await;
    let expected: Vec<String> = (6..=23).map(|i| i.to_string()).collect();
    assert_eq!(texts(&events), expected);
}

#[tokio::test(start_paused = true)]
async fn closing_the_runspace_stops_jobs() {
    let rs = runspace();
    run(&rs, "Start-Job { while ($true) { Start-Sleep 1 } } -Name Forever").await;
    rs.close();
    tokio::time::sleep(Duration::from_millis(10)).await;
    let (events, _) = run(&rs, "(Get-Job Forever).State").await;
    assert_eq!(texts(&events), ["Stopped"]);
}
