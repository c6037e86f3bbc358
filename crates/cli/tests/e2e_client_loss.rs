//! A killed client (`kill -9`: no Disconnect, no clean-up) against the endpoint's client-loss detection: once the
//! client has sent nothing for the client keep-alive timeout, the session is `Disconnected / None` with its
//! command still running, and `pssession receive` collects what is left — nothing lost in Block mode; in Drop
//! mode the losses are reported. Synchronisation is by the lines the CLI prints and the endpoint's shell events,
//! never by time.

mod e2e_support;

use std::io::{BufReader, Read};
use std::time::Duration;

use e2e_support::{ALICE, Endpoints, Machine, Setup, read_until, signal, ticks};
use pssession_server::{DisconnectCause, ServiceConfig, ShellChange};
use serde_json::json;

/// The timeout under test, short so the test is quick; a live client polls far more often than this.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(3);

fn endpoints(output_buffer_bytes: usize) -> Endpoints {
    let mut config = ServiceConfig::default();
    config.client_keepalive_timeout = Some(CLIENT_TIMEOUT);
    config.output_buffer_bytes = output_buffer_bytes;
    Endpoints::start(Setup { config, ..Setup::default() })
}

/// Runs `invoke --session NAME SCRIPT`, kills it with SIGKILL once it printed `tick 3`, and waits for the
/// endpoint to give the client up. Returns the ticks the killed process printed.
fn invoke_then_kill(endpoints: &Endpoints, office: &Machine, name: &str, script: &str) -> Vec<u32> {
    let mut events = endpoints.servers[0].service().shell_events();
    let mut child = office.spawn(&["invoke", "--session", name, "--script-block", script]);
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut printed = read_until(&mut stdout, |l| l == "tick 3").join("\n");
    printed.push('\n');
    signal(&child, "KILL");
    child.wait().expect("wait");
    stdout.read_to_string(&mut printed).expect("the rest of stdout");

    // The endpoint's own verdict, not a guess at how long it takes.
    endpoints.runtime.block_on(async {
        let lost = async {
            loop {
                let event = events.recv().await.expect("shell events");
                if event.name.as_deref() == Some(name)
                    && matches!(
                        event.change,
                        ShellChange::Disconnected { cause: DisconnectCause::ClientLost { .. }, .. }
                    )
                {
                    return;
                }
            }
        };
        // A hang guard only: the endpoint gives the client up CLIENT_TIMEOUT after its last request.
        tokio::time::timeout(Duration::from_secs(120), lost).await.expect("the endpoint gave the killed client up");
    });
    ticks(&printed)
}

fn listed_state(machine: &Machine, uri: &str, name: &str) -> (serde_json::Value, serde_json::Value) {
    let rows = machine.run(&["get", "--connection-uri", uri, "--output", "json"]).json();
    let row = rows.as_array().expect("rows").iter().find(|r| r["Name"] == name).expect("listed").clone();
    (row["State"].clone(), row["Availability"].clone())
}

#[test]
fn a_killed_client_is_given_up_and_receive_collects_everything_in_block_mode() {
    let endpoints = endpoints(1 << 20);
    let uri = endpoints.http_uri(0);
    let office = Machine::new("client-loss-block", ALICE);
    office.run(&["new", "--name", "Ticks", "--connection-uri", &uri]).ok();
    let script = "1..40 | ForEach-Object { \"tick $_\"; Start-Sleep -Milliseconds 50 }";
    let first = invoke_then_kill(&endpoints, &office, "Ticks", script);
    assert!(first.len() >= 3 && first.len() < 40, "{first:?}");

    let home = Machine::new("client-loss-home", ALICE);
    assert_eq!(listed_state(&home, &uri, "Ticks"), (json!("Disconnected"), json!("None")));
    let second = ticks(office.run(&["receive", "--session", "Ticks"]).ok());

    // Nothing lost: the killed process printed 1..=k, receive prints j..=40 with j <= k + 1. The objects of the
    // last response the killed client had taken may come again (it died before acknowledging them: an
    // acknowledgement travels with the next request), so j may be below k + 1 — never above it.
    let expected_first: Vec<u32> = (1..=first.len() as u32).collect();
    assert_eq!(first, expected_first, "the killed client printed a prefix, in order");
    let resumed_at = *second.first().expect("receive printed the rest");
    eprintln!("block mode: the killed client printed 1..={}, receive {resumed_at}..=40", first.len());
    assert!(resumed_at <= first.len() as u32 + 1, "a gap: first {first:?}, then {second:?}");
    assert_eq!(second, (resumed_at..=40).collect::<Vec<_>>(), "then the rest, in order, each once");
}

#[test]
fn a_killed_client_in_drop_mode_leaves_the_newest_output_and_receive_reports_the_losses() {
    // A 4 KiB buffer: the command goes on writing after the client is gone and Drop mode discards the oldest.
    let endpoints = endpoints(4096);
    let uri = endpoints.http_uri(0);
    let office = Machine::new("client-loss-drop", ALICE);
    office.run(&["new", "--name", "Lossy", "--connection-uri", &uri, "--output-buffering-mode", "Drop"]).ok();
    // Slow at first (the kill lands while it runs), then a burst far beyond the buffer.
    let script = "1..300 | ForEach-Object { \"tick $_\"; if ($_ -lt 10) { Start-Sleep -Milliseconds 100 } }";
    let first = invoke_then_kill(&endpoints, &office, "Lossy", script);
    assert!(!first.is_empty());

    let run = office.run(&["receive", "--session", "Lossy"]);
    let second = ticks(&run.stdout);
    assert_eq!(second.last(), Some(&300), "the newest output is kept: {second:?}");
    let warning = run.stderr.lines().find(|l| l.contains("discarded")).unwrap_or_else(|| {
        panic!("the losses are reported on stderr: {}", run.stderr);
    });
    let lost: usize = warning
        .split_whitespace()
        .skip_while(|w| *w != "discarded")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a count in {warning:?}"));
    eprintln!("drop mode: {} printed, {lost} lost, {} received", first.len(), second.len());
    assert!(lost > 0, "{warning}");
    assert!(
        first.len() + lost + second.len() >= 300,
        "{} printed, {lost} lost, {} received",
        first.len(),
        second.len()
    );
}

#[test]
fn a_live_client_waiting_on_a_quiet_command_is_not_given_up() {
    let endpoints = endpoints(1 << 20);
    let uri = endpoints.http_uri(0);
    let mut events = endpoints.servers[0].service().shell_events();
    let office = Machine::new("client-loss-quiet", ALICE);
    // Silent for longer than the client timeout: the client's waiting Receive is what keeps it.
    let quiet = format!("Start-Sleep -Seconds {}; 'still here'", CLIENT_TIMEOUT.as_secs() + 2);
    let run = office.run(&["invoke", "--connection-uri", &uri, "--script-block", &quiet]);
    assert_eq!(run.ok().trim(), "still here");
    let mut changes = Vec::new();
    while let Ok(event) = events.try_recv() {
        changes.push(event.change);
    }
    assert!(changes.contains(&ShellChange::Created), "{changes:?}");
    assert!(
        !changes
            .iter()
            .any(|c| matches!(c, ShellChange::Disconnected { cause: DisconnectCause::ClientLost { .. }, .. })),
        "a live client was given up: {changes:?}"
    );
}
