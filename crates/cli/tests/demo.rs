//! `pssession demo` — the README's main job — plays Example 3 of the Connect-PSSession help end to end against
//! the embedded endpoint, over real sockets with NTLM and message encryption, and prints each step like the help.

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn demo_plays_example_3_end_to_end() {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_pssession")).arg("demo").output().expect("run pssession demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "demo failed: {}\n{stdout}\n{stderr}", output.status);
    assert!(started.elapsed() < Duration::from_secs(60), "the demo must finish in seconds");

    // The steps, in order, as the help page shows them.
    let steps: Vec<&str> = stdout.lines().filter(|l| l.starts_with("PS> ")).collect();
    assert_eq!(
        steps,
        [
            "PS> $s = New-PSSession -ComputerName localhost -Name ITTask -ConfigurationName ITTasks",
            r"PS> Invoke-Command -Session $s {Start-Job -FilePath \\Server30\Scripts\Backup-SQLDatabase.ps1}",
            "PS> Disconnect-PSSession -Session $s -OutputBufferingMode Drop -IdleTimeoutSec 60*60*15",
            "PS> Get-PSSession -ComputerName localhost -Name ITTask",
            "PS> $s = Connect-PSSession -ComputerName localhost -Name ITTask",
            "PS> Invoke-Command -Session $s {Get-Job}",
            "PS> Invoke-Command -Session $s -ScriptBlock {$BackupSpecs = Receive-Job -JobName Job1}",
            r"PS> Invoke-Command -Session $s -ScriptBlock {\\Server30\Scripts\New-SQLDatabase.ps1 -InitData $BackupSpecs.Initialization}",
            "PS> Disconnect-PSSession -Session $s -OutputBufferingMode Drop -IdleTimeoutSec 60*60*15",
        ]
    );
    // The session's state through the scenario: disconnected, found from a fresh client, connected, disconnected.
    let states: Vec<String> = stdout
        .lines()
        .filter(|l| l.contains(" ITTask ") && !l.starts_with("PS> "))
        .map(|l| l.split_whitespace().skip(3).filter(|w| *w != "RemoteMachine").take(3).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        states,
        [
            "Disconnected ITTasks None",
            "Disconnected ITTasks None",
            "Opened ITTasks Available",
            "Disconnected ITTasks None"
        ]
    );
    // The job ran while nobody was connected, and its results fed the follow-up script.
    let jobs: Vec<&str> = stdout.lines().filter(|l| l.contains(" Job1 ")).collect();
    assert!(jobs[0].contains(" Running "), "{jobs:?}");
    assert!(jobs[1].contains(" Completed "), "{jobs:?}");
    assert!(stdout.contains("\nCreated databases from BackupSet-5\n"), "{stdout}");
    assert!(stdout.contains("Id Name   ComputerName State        ConfigurationName Availability"), "{stdout}");
    // Get-PSSession's table adds ComputerType, as PowerShell's does.
    assert!(
        stdout.contains("Id Name   ComputerName ComputerType  State        ConfigurationName Availability"),
        "{stdout}"
    );
}
